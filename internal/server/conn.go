package server

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/gowsgi/gowsgi/internal/httpwire"
	"github.com/gowsgi/gowsgi/pyembed"
)

const (
	// readBufferSize serves almost every request head; larger heads (up to
	// Options.MaxHeadBytes) switch the connection to a larger reader.
	readBufferSize = 8192
	// drainLimit is how much of an unread request body is read and thrown
	// away to keep a connection alive; past it the connection is closed.
	drainLimit = 256 << 10
	// firstRequestGrace is how long a new connection waits for its first
	// request once Shutdown has begun (a rolling reload accepts until the
	// last moment): that request is usually already on its way.
	firstRequestGrace = time.Second
)

// conn is one client connection. Requests on it are served one after the
// other (pipelined requests wait in the read buffer), so one exchange is
// reused for all of them.
type conn struct {
	srv *Server
	nc  net.Conn
	raw syscall.RawConn // for writes that must not block (writeNow); nil if the connection has no descriptor
	br  *bufio.Reader   // owned by the connection goroutine, except that the Python thread reads a streamed body through it while the goroutine only waits

	remoteIP, remotePort, localIP, localPort string // fixed for the connection (after any PROXY header)
	trusted                                  bool   // the peer is in --forwarded-allow-ips (proxy.go)
	https                                    bool   // a trusted proxy says the client used https (this request)

	req     httpwire.Request // the current request head; its slices alias br's buffer until Discard
	env     pyembed.Environ
	scratch []byte
	body    []byte // in-memory request body, reused
	chunked *httpwire.ChunkedReader
	ex      exchange
	obs     connObs // the current request for the access log and metrics (observe.go)

	slotWait chan *pyembed.Slot // where a slot comes when the request must wait for one (admission.go)

	mu   sync.Mutex // guards idle against Shutdown
	idle bool       // waiting for the first byte of a request
}

func newConn(s *Server, nc net.Conn) *conn {
	c := &conn{srv: s, nc: nc, br: bufio.NewReaderSize(nc, readBufferSize), slotWait: make(chan *pyembed.Slot, 1)}
	c.remoteIP, c.remotePort = splitAddr(nc.RemoteAddr())
	c.localIP, c.localPort = splitAddr(nc.LocalAddr())
	if _, ok := nc.LocalAddr().(*net.UnixAddr); ok {
		// A unix socket has neither: like gunicorn, localhost and the
		// HTTP port stand in when the request does not name its host.
		c.localIP, c.localPort = "localhost", "80"
	}
	c.trusted = s.trusts(nc.RemoteAddr())
	if sc, ok := nc.(syscall.Conn); ok {
		c.raw, _ = sc.SyscallConn()
	}
	c.ex.init(c)
	c.initObs()
	return c
}

func splitAddr(a net.Addr) (string, string) {
	switch ta := a.(type) {
	case *net.TCPAddr:
		return ta.IP.String(), strconv.Itoa(ta.Port)
	case *net.UnixAddr, nil:
		return "", "" // a unix socket peer has no address (listen.go)
	}
	host, port, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String(), ""
	}
	return host, port
}

func (c *conn) serve() {
	defer c.srv.untrack(c)
	defer c.nc.Close()
	if c.srv.opts.ProxyProtocol && c.trusted && !c.readProxyHeader() {
		return // proxyproto.go
	}
	long := c.srv.countLong() // inherit.go: how workers share connections
	defer long.done()
	for first := true; ; first = false {
		if !c.waitForRequest(first) {
			return
		}
		c.obsStart()
		if err := c.readHead(); err != nil {
			c.reject(err)
			return
		}
		if first && !c.req.KeepAlive {
			long.done() // one request and it closes: it does not weigh on the worker
		}
		if !c.handle() {
			return
		}
	}
}

// waitForRequest waits, at most the keep-alive timeout, for the first byte
// of the next request. Once Shutdown has begun, a kept-alive connection
// closes, but the first request of a new connection still gets
// firstRequestGrace to arrive: its client sent it expecting an answer.
func (c *conn) waitForRequest(first bool) bool {
	if c.br.Buffered() > 0 {
		return first || !c.srv.draining.Load()
	}
	wait := c.srv.opts.KeepAliveTimeout
	c.mu.Lock()
	if c.srv.draining.Load() {
		if !first {
			c.mu.Unlock()
			return false
		}
		wait = firstRequestGrace
	} else {
		c.idle = true
	}
	c.mu.Unlock()
	c.nc.SetReadDeadline(time.Now().Add(wait))
	_, err := c.br.Peek(1)
	c.mu.Lock()
	c.idle = false
	c.mu.Unlock()
	if err != nil && first && wait != firstRequestGrace && c.srv.draining.Load() && isTimeout(err) {
		c.nc.SetReadDeadline(time.Now().Add(firstRequestGrace)) // woken by Shutdown
		_, err = c.br.Peek(1)
	}
	return err == nil
}

// closeIfIdle wakes a connection waiting between requests so it closes (Shutdown).
func (c *conn) closeIfIdle() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.idle {
		c.nc.SetReadDeadline(time.Now())
	}
}

// readHead reads until a whole request head is buffered and parses it.
func (c *conn) readHead() error {
	c.nc.SetReadDeadline(time.Now().Add(c.srv.opts.HeaderTimeout))
	searched := 0
	for {
		n := c.br.Buffered()
		buf, _ := c.br.Peek(n)
		if end := httpwire.HeadEnd(buf, max(0, searched-3)); end >= 0 {
			return httpwire.Parse(buf[:end], &c.srv.limits, &c.req)
		}
		// Not complete: still refuse at once what can never become valid.
		if err := httpwire.Parse(buf, &c.srv.limits, &c.req); err != httpwire.ErrIncomplete && err != nil {
			return err
		}
		searched = n
		if n >= c.br.Size() {
			if c.br.Size() > c.srv.limits.MaxHeadBytes {
				return &httpwire.Error{Status: 431, Reason: "request header fields too large"}
			}
			c.growReader()
			continue
		}
		if _, err := c.br.Peek(n + 1); err != nil {
			return readError(err)
		}
	}
}

// growReader moves the connection to a reader big enough for the largest allowed head.
func (c *conn) growReader() {
	pending, _ := c.br.Peek(c.br.Buffered())
	rest := bytes.Clone(pending)
	c.br = bufio.NewReaderSize(io.MultiReader(bytes.NewReader(rest), c.source()), c.srv.limits.MaxHeadBytes+1)
	if c.chunked != nil {
		c.chunked.Reset(c.br)
	}
}

// errClientGone marks a read that ended because the client closed or reset the connection.
var errClientGone = errors.New("client closed the connection")

func readError(err error) error {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return &httpwire.Error{Status: 408, Reason: "request timeout"}
	}
	var he *httpwire.Error
	if errors.As(err, &he) {
		return he
	}
	return errClientGone
}

// reject answers a request that never reaches the application and closes the connection.
func (c *conn) reject(err error) {
	var he *httpwire.Error
	if !errors.As(err, &he) {
		return // the client is gone; nothing to say
	}
	c.srv.log.Debug("request rejected", "remote", c.remoteIP, "status", he.Status, "reason", he.Reason)
	c.writeSimple(he.Status, he.Reason)
	// A refused request usually has unread bytes behind it; closing over
	// them would reset the connection and could destroy the response
	// (RFC 9112 §9.6), so close half-way first (uwsgi.go).
	c.lingerClose()
}

// writeSimple sends a short plain-text response and marks the connection for closing.
func (c *conn) writeSimple(status int, reason string) {
	b := c.scratch[:0]
	b = append(b, "HTTP/1.1 "...)
	b = strconv.AppendInt(b, int64(status), 10)
	b = append(b, ' ')
	b = append(b, statusText(status)...)
	b = append(b, "\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\nDate: "...)
	b = append(b, httpDate()...)
	b = append(b, "\r\nContent-Length: "...)
	b = strconv.AppendInt(b, int64(len(reason)+1), 10)
	b = append(b, "\r\n\r\n"...)
	b = append(b, reason...)
	b = append(b, '\n')
	c.scratch = b
	c.nc.SetWriteDeadline(time.Now().Add(c.srv.opts.WriteTimeout))
	n, _ := c.nc.Write(b)
	c.obsSimple(status, len(reason)+1, n)
}

// handle serves one parsed request and reports whether the connection may be reused.
func (c *conn) handle() bool {
	req := &c.req
	if c.srv.static != nil {
		if served, keep := c.serveStatic(); served {
			return keep // static.go: answered without a Python thread
		}
	}
	if err := c.buildEnviron(); err != nil {
		c.reject(err)
		return false
	}
	ex := &c.ex
	ex.begin(req)
	ex.https = c.https
	c.br.Discard(req.HeadLen) // req's slices are invalid from here on
	return c.run(ex)
}

// run receives the request body, runs the application and sends the
// response (HTTP and uwsgi alike); c.env, c.req's framing fields and ex
// are ready. It reports whether the connection may be reused.
func (c *conn) run(ex *exchange) bool {
	c.obsRun()
	defer c.obsRunEnd(ex)
	if err := c.prepareBody(ex); err != nil {
		ex.releaseBody()
		c.reject(err)
		return false
	}
	ex.env = c.env.Bytes()
	sl := c.srv.acquireSlot(c.slotWait)
	if sl == nil {
		ex.releaseBody()
		c.srv.log.Warn("request refused: all python threads are busy and the queue is full", "queue", c.srv.opts.Queue, "remote", c.remoteIP)
		c.writeSimple(503, "service unavailable: server busy, try again")
		return false
	}
	// Python runs right here, on this goroutine's OS thread: no hand-over.
	c.srv.beginRun(sl, ex) // inflight.go
	c.obsAcquired(sl.Index(), ex)
	pyErrors, err := sl.Run(ex, ex.env, ex.body, ex.streaming, ex.https)
	c.srv.endRun(sl)
	c.obsReleased(sl.Index(), ex, pyErrors)
	c.srv.releaseSlot(sl)
	if err != nil {
		c.srv.log.Error("cannot run the request", "request", string(ex.desc), "err", err)
		c.writeSimple(500, "internal server error")
		ex.releaseBody()
		return false
	}
	keep := c.flush(ex)
	if !c.finishBody(ex) {
		keep = false
	}
	if cap(c.body) > 4<<20 {
		c.body = nil // do not keep a huge upload's buffer for the rest of the connection
	}
	return keep && !c.srv.draining.Load()
}

// flush writes what is left of the response once the application is done
// and reports whether the connection may be reused. A streamed response
// has a writer goroutine that finishes the job.
func (c *conn) flush(ex *exchange) bool {
	if ex.writer {
		<-ex.writerDone
	} else {
		// The application is done, but a forced harakiri (AbortRequest)
		// may still mark the exchange: read and write its state locked.
		ex.mu.Lock()
		out, gone := ex.out, ex.gone
		ex.mu.Unlock()
		if len(out) > 0 && !gone {
			c.nc.SetWriteDeadline(time.Now().Add(c.srv.opts.WriteTimeout))
			n, err := c.nc.Write(out)
			c.obs.wrote += int64(n)
			if err != nil {
				ex.mu.Lock()
				ex.gone = true
				ex.mu.Unlock()
			}
		}
	}
	if ex.bodyFile != nil {
		c.sendBodyFile(ex) // filewrapper.go
	}
	ex.mu.Lock()
	defer ex.mu.Unlock()
	if cap(ex.out) <= 1<<20 {
		ex.spare = ex.out
	}
	ex.out = nil
	return !ex.abort && !ex.gone && ex.keepAlive
}

// writeLoop writes a streamed response while the application produces it,
// so a slow client never holds a Python thread (until highWater bytes are
// pending). It ends after the final write.
func (c *conn) writeLoop(ex *exchange) {
	defer close(ex.writerDone)
	var spare []byte
	for {
		<-ex.wake
		ex.mu.Lock()
		buf := ex.out
		ex.out = spare[:0]
		final, gone := ex.final, ex.gone
		ex.mu.Unlock()
		if len(buf) > 0 && !gone {
			c.nc.SetWriteDeadline(time.Now().Add(c.srv.opts.WriteTimeout))
			n, err := c.nc.Write(buf)
			c.obs.wrote += int64(n) // the connection goroutine reads it after writerDone
			if err != nil {
				ex.mu.Lock()
				ex.gone = true
				ex.mu.Unlock()
			}
		}
		spare = buf
		select {
		case ex.drained <- struct{}{}:
		default:
		}
		if final {
			ex.mu.Lock()
			ex.out = spare[:0]
			ex.mu.Unlock()
			return
		}
	}
}

// finishBody releases the request body and makes sure nothing of it is
// left to be read as the next request. It reports whether the connection
// can be reused.
func (c *conn) finishBody(ex *exchange) bool {
	defer ex.releaseBody()
	sb := ex.sock
	if sb == nil || sb.done {
		return true
	}
	if ex.continuePending || sb.tooLarge {
		return false // the client may or may not send the body now: do not guess
	}
	n, err := io.CopyN(io.Discard, sb, drainLimit)
	return err == io.EOF || (err == nil && n < drainLimit && sb.done)
}
