package server

import (
	"bytes"
	"io"
	"strings"
	"time"

	"github.com/gowsgi/gowsgi/internal/accesslog"
	"github.com/gowsgi/gowsgi/internal/metrics"
	"github.com/gowsgi/gowsgi/pyembed"
)

// What the server tells the access log and the metrics about each
// request. The hooks (obs* below) are called from the connection loop; each
// returns at once when neither is on. Per request they cost two clock
// reads, a few atomic additions and, with the access log, one line
// formatted into a buffer the connection reuses.

// observer is the server's access log and metrics recorder; either may be nil.
type observer struct {
	on      bool
	rec     *metrics.Recorder
	access  *accesslog.Logger
	format  *accesslog.Format
	hdrKeys []envKey // the environ key of each request header the access log shows
}

// envKey names an environ entry: an interned key, or a name for KeyNone.
type envKey struct {
	key  pyembed.Key
	name []byte
}

// Observe makes the server count requests in rec and log them to access;
// either may be nil. Call it before Serve.
func (s *Server) Observe(rec *metrics.Recorder, access *accesslog.Logger) {
	s.obs = observer{on: rec != nil || access != nil, rec: rec, access: access}
	if access == nil {
		return
	}
	s.obs.format = access.Format()
	for _, h := range s.obs.format.RequestHeaders() {
		var k envKey
		switch h {
		case "content-type":
			k.key = pyembed.KeyContentType
		case "content-length":
			k.key = pyembed.KeyContentLength
		default:
			k.name = []byte("HTTP_" + strings.ToUpper(strings.ReplaceAll(h, "-", "_")))
			k.key = pyembed.HeaderKey(k.name)
		}
		s.obs.hdrKeys = append(s.obs.hdrKeys, k)
	}
}

// QueueDepth is how many requests wait for a free Python thread.
func (s *Server) QueueDepth() int { return s.pool.queued() }

// AdmissionLimit is how many requests may run Python at once right now (admission.go).
func (s *Server) AdmissionLimit() int { return s.pool.currentLimit() }

// connObs is a connection's view of its current request for the hooks.
type connObs struct {
	in       countingReader // reads from the connection, counted
	started  bool           // start is the current request's
	start    time.Time      // its first byte arrived
	readMark int64          // in.n when the last request ended: what was read since is this one's
	inRun    bool           // between obsRun and obsRunEnd
	slot     int            // the slot it ran on, -1 if none
	pyErrors int            // Python errors it logged
	status   int            // a response written by writeSimple, 0 if none
	body     int64          // its body bytes
	wrote    int64          // bytes written for it
	fileLen  int64          // a wsgi.file_wrapper body, sent by sendfile
	entry    accesslog.Entry
	addr     []byte // the peer address, for requests refused before an environ exists
	desc     []byte // "METHOD target" of a request answered without an exchange (static files)
	proto    []byte // its protocol, "HTTP/1.x" (shared, read-only)
}

// countingReader counts the bytes read from the connection.
type countingReader struct {
	r io.Reader
	n int64
}

func (cr *countingReader) Read(p []byte) (int, error) {
	n, err := cr.r.Read(p)
	cr.n += int64(n)
	return n, err
}

// initObs makes the connection count what it reads (newConn).
func (c *conn) initObs() {
	if !c.srv.obs.on {
		return
	}
	c.obs.in.r = c.nc
	c.br.Reset(&c.obs.in)
}

// source is what the read buffer reads from.
func (c *conn) source() io.Reader {
	if c.obs.in.r != nil {
		return &c.obs.in
	}
	return c.nc
}

// obsStart marks the first byte of a request.
func (c *conn) obsStart() {
	if !c.srv.obs.on {
		return
	}
	o := &c.obs
	o.started = true
	o.start = time.Now()
	o.slot, o.pyErrors, o.status, o.body, o.wrote, o.fileLen = -1, 0, 0, 0, 0, 0
	o.desc = o.desc[:0]
	o.proto = nil
	if f := c.srv.obs.format; f != nil {
		o.entry.Reset(f)
	}
}

// obsRun marks a request going to the application (run): it is in
// flight until obsRunEnd, which run defers.
func (c *conn) obsRun() {
	if !c.srv.obs.on {
		return
	}
	if !c.obs.started {
		c.obsStart() // uwsgi: the packet is the request's start
	}
	c.obs.inRun = true
	if r := c.srv.obs.rec; r != nil {
		r.Begin()
	}
}

// obsAcquired marks the request taking the slot slot (before Run).
func (c *conn) obsAcquired(slot int, ex *exchange) {
	if !c.srv.obs.on {
		return
	}
	c.obs.slot = slot
	if r := c.srv.obs.rec; r != nil {
		r.Acquired(slot, ex.desc, c.obs.start)
	}
}

// obsReleased marks the request leaving its slot (after Run) having
// logged pyErrors Python errors.
func (c *conn) obsReleased(slot int, ex *exchange, pyErrors int) {
	if !c.srv.obs.on {
		return
	}
	c.obs.pyErrors = pyErrors
	if ex.bodyFile != nil {
		c.obs.fileLen = ex.bodyLen
	}
	if r := c.srv.obs.rec; r != nil {
		r.Released(slot)
	}
}

// obsSimple notes a response written by writeSimple (n bytes, body of
// them). Outside run it is the whole story of a refused request.
func (c *conn) obsSimple(status int, body, n int) {
	if !c.srv.obs.on {
		return
	}
	o := &c.obs
	if !o.started {
		c.obsStart()
	}
	o.status, o.body = status, int64(body)
	o.wrote += int64(n)
	if !o.inRun {
		c.obsFinish(nil)
	}
}

// obsRunEnd ends a request that went to run, however it ended.
func (c *conn) obsRunEnd(ex *exchange) {
	if !c.srv.obs.on {
		return
	}
	c.obsFinish(ex)
	if r := c.srv.obs.rec; r != nil {
		r.End()
	}
	c.obs.inRun = false
}

// statusClientGone is logged for a request whose client left before any
// response was sent (nginx's convention).
const statusClientGone = 499

// obsFinish counts and logs the current request; ex is nil for a request
// refused before it had an environ.
func (c *conn) obsFinish(ex *exchange) {
	o := &c.obs
	d := time.Since(o.start)
	status, body := o.status, o.body
	if status == 0 && ex != nil {
		ex.mu.Lock()
		status, body = ex.status, ex.sent
		if ex.noBody {
			body = 0
		}
		ex.mu.Unlock()
	}
	if status == 0 {
		status = statusClientGone
	}
	in, out := o.in.n-o.readMark, o.wrote+o.fileLen
	desc := o.desc
	if ex != nil {
		desc = ex.desc
	}
	method, target, _ := bytes.Cut(desc, []byte{' '})
	if r := c.srv.obs.rec; r != nil {
		r.Done(o.slot, method, status, in, out, d, o.pyErrors)
	}
	if l := c.srv.obs.access; l != nil {
		e := &o.entry
		e.Start, e.Duration, e.Status, e.Bytes, e.BytesIn, e.BytesOut = o.start, d, status, body, in, out
		e.Method, e.Target, e.Addr, e.Port, e.Proto = method, target, nil, nil, nil
		if ex != nil {
			c.fromEnviron(e)
		} else if o.proto != nil {
			e.Proto = o.proto
		}
		if len(e.Addr) == 0 {
			o.addr = append(o.addr[:0], c.remoteIP...)
			e.Addr = o.addr
		}
		l.Log(e)
	}
	o.started = false
	o.readMark = o.in.n
}

// fromEnviron fills the client, protocol and request headers of e from the
// environ the application got, so the log shows what it saw (a client
// address from a trusted proxy, the uwsgi protocol's variables).
func (c *conn) fromEnviron(e *accesslog.Entry) {
	keys := c.srv.obs.hdrKeys
	pyembed.WalkEnviron(c.env.Bytes(), func(k pyembed.Key, name, value []byte) {
		switch k {
		case pyembed.KeyRemoteAddr:
			e.Addr = value
		case pyembed.KeyRemotePort:
			e.Port = value
		case pyembed.KeyServerProtocol:
			e.Proto = value
		default:
			for i := range keys {
				if k == keys[i].key && (k != pyembed.KeyNone || bytes.Equal(name, keys[i].name)) {
					e.SetRequestHeader(i, value)
				}
			}
		}
	})
}

// obsResponseHead keeps the response headers the access log shows
// (startResponse, on the connection's goroutine).
func (c *conn) obsResponseHead(head []byte) {
	if f := c.srv.obs.format; f != nil && f.WantsResponseHeaders() {
		f.CaptureResponse(&c.obs.entry, head)
	}
}

// obsStatic counts and logs a request answered from the static map:
// desc is its "METHOD target", body the body bytes sent.
func (c *conn) obsStatic(desc, proto []byte, status int, body int64) {
	if !c.srv.obs.on {
		return
	}
	o := &c.obs
	if !o.started {
		c.obsStart()
	}
	o.desc = append(o.desc[:0], desc...)
	o.proto = proto
	o.status, o.body = status, body
	o.wrote += body
	c.obsFinish(nil)
}

// The protocols a static request is logged with; never written to.
var (
	protoHTTP10 = []byte("HTTP/1.0")
	protoHTTP11 = []byte("HTTP/1.1")
)
