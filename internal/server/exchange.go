package server

import (
	"bytes"
	"io"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/gowsgi/gowsgi/internal/httpwire"
	"github.com/gowsgi/gowsgi/pyembed"
)

const (
	// Above highWater bytes of unsent output the Python thread waits (with
	// the GIL released) until the client has taken all but lowWater. So a
	// slow client holds a Python thread only for a response larger than
	// this, and memory per response stays bounded.
	highWater = 4 << 20
	lowWater  = 1 << 20
)

var continueLine = []byte("HTTP/1.1 100 Continue\r\n\r\n")

// exchange is one request as Python sees it (pyembed.Exchange): it frames
// what the application writes into HTTP/1.1. A response that is complete
// when the application returns (the common case) is written by the
// connection goroutine after Run; a streamed one by a writer goroutine.
type exchange struct {
	c *conn

	// Set by the connection goroutine before the request is queued and
	// read-only while the Python thread runs it.
	env          []byte
	body         []byte      // in-memory body, or nil
	streaming    bool        // the body comes through ReadBody
	stream       io.Reader   // what ReadBody reads: sock or file
	sock         *socketBody // set when the body is read from the connection
	file         *os.File    // spooled body, closed by releaseBody
	https        bool
	isHead       bool
	protoMinor   int
	reqKeepAlive bool
	desc         []byte // "METHOD target" for log lines

	// Used only while the application runs.
	continuePending bool // Expect: 100-continue not answered yet
	overflowLogged  bool
	harakiri        harakiriMark // the harakiri watchdog stopped this request (inflight.go)

	// A wsgi.file_wrapper body taken by SendFile (filewrapper.go): the
	// connection goroutine sends bodyLen bytes of bodyFile from bodyOff
	// after the head, once the application has returned.
	bodyFile         *os.File
	bodyOff, bodyLen int64

	// A streamed response is written by a writer goroutine while the
	// application runs; writer is set (by the Python side) when it starts.
	writer     bool
	writerDone chan struct{}
	wake       chan struct{} // application -> writer: output or final is ready
	drained    chan struct{} // writer -> application: output was written

	mu            sync.Mutex // guards everything below
	out           []byte     // framed bytes not yet taken by the connection goroutine
	spare         []byte     // a buffer to reuse for out
	started       bool       // the response head is in out
	final         bool
	abort         bool // close the connection after the response
	gone          bool // the client cannot be written to
	status        int
	contentLength int64 // declared or computed; -1 for none
	sent          int64 // body bytes accepted from the application
	chunked       bool
	noBody        bool
	keepAlive     bool
}

func (e *exchange) init(c *conn) {
	e.c = c
	e.wake = make(chan struct{}, 1)
	e.drained = make(chan struct{}, 1)
}

// begin resets the exchange for a new request (connection goroutine).
func (e *exchange) begin(req *httpwire.Request) {
	e.body, e.streaming, e.stream, e.sock, e.file = nil, false, nil, nil, nil
	e.https = false
	e.isHead = string(req.Method) == "HEAD"
	e.protoMinor = req.ProtoMinor
	e.reqKeepAlive = req.KeepAlive
	e.desc = append(append(append(e.desc[:0], req.Method...), ' '), req.Target...)
	e.continuePending = false
	e.overflowLogged = false
	e.writer = false
	select { // stale tokens from the last request must not count for this one
	case <-e.drained:
	default:
	}
	select {
	case <-e.wake:
	default:
	}
	e.mu.Lock()
	e.out = e.spare[:0]
	e.spare = nil
	e.started, e.final, e.abort, e.gone = false, false, false, false
	e.status, e.contentLength, e.sent = 0, -1, 0
	e.chunked, e.noBody, e.keepAlive = false, false, false
	e.mu.Unlock()
}

func (e *exchange) releaseBody() {
	if e.file != nil {
		e.file.Close()
		e.file = nil
	}
	e.body = nil
	e.stream = nil
}

func (e *exchange) signal() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// Write implements pyembed.Exchange. It runs on the Python thread with the GIL held: it only copies.
func (e *exchange) Write(head []byte, body [][]byte, flags int) int {
	e.mu.Lock()
	final := flags&pyembed.WriteFinal != 0
	if e.gone {
		// The final write must still be recorded and announced: the writer
		// goroutine of a streamed response waits for it to end.
		if final {
			e.final = true
			e.abort = true
		}
		writer := e.writer
		e.mu.Unlock()
		if final && writer {
			e.signal()
		}
		return pyembed.Gone
	}
	if head != nil {
		head, body = e.harakiri.response(head, body) // a harakiri'd request answers 504, not 500
		if e.sock != nil && e.sock.tooLarge && bytes.Equal(head, genericErrorHead) {
			// The application failed on a chunked body past --limit-post
			// that it was streaming (Expect: 100-continue): the client's
			// error, and the connection closes (finishBody).
			head, body = payloadTooLargeHead, payloadTooLargeBody
		}
		e.startResponse(head, body, final)
	}
	for _, b := range body {
		e.appendBody(b)
	}
	hold := false
	if final {
		e.final = true
		if flags&pyembed.WriteAbort != 0 {
			e.abort = true
		} else if e.contentLength >= 0 && !e.noBody && e.sent < e.contentLength {
			e.c.srv.log.Error("response shorter than its content-length; closing the connection", "request", string(e.desc), "content_length", e.contentLength, "sent", e.sent)
			e.abort = true
		} else if e.chunked {
			e.out = append(e.out, "0\r\n\r\n"...)
		}
	} else {
		// Nothing can follow a body complete by its Content-Length: wait
		// for the final write and send both at once.
		hold = e.contentLength >= 0 && e.sent >= e.contentLength
	}
	pending := len(e.out)
	e.mu.Unlock()
	if final {
		// Without a writer, the connection goroutine writes it all when Run returns.
		if e.writer {
			e.signal()
		}
		return pyembed.OK
	}
	if hold {
		return pyembed.OK
	}
	if !e.writer {
		// Ask C to release the GIL and call Wait, which writes what the
		// socket takes at once from this thread: with GOMAXPROCS=1 a writer
		// goroutine could not run until the application returns.
		return pyembed.Wait
	}
	e.signal()
	if pending > highWater {
		return pyembed.Wait
	}
	return pyembed.OK
}

func (e *exchange) startWriter() {
	e.writer = true
	e.writerDone = make(chan struct{})
	go e.c.writeLoop(e)
}

// Wait implements pyembed.Exchange (Python thread, GIL released).
func (e *exchange) Wait() int {
	if !e.writer {
		e.mu.Lock()
		if e.gone {
			e.mu.Unlock()
			return pyembed.Gone
		}
		n, err := e.c.writeNow(e.out)
		e.c.obs.wrote += int64(n) // observe.go; the connection's own goroutine, before any writer
		if err != nil {
			e.gone = true
			e.mu.Unlock()
			return pyembed.Gone
		}
		e.out = e.out[:copy(e.out, e.out[n:])]
		pending := len(e.out)
		e.mu.Unlock()
		if pending == 0 {
			return pyembed.OK
		}
		// The client is slower than the application: a writer goroutine
		// takes over, and the application waits only past highWater.
		e.startWriter()
		e.signal()
		if pending <= highWater {
			return pyembed.OK
		}
	}
	for {
		e.mu.Lock()
		gone, pending := e.gone, len(e.out)
		e.mu.Unlock()
		if gone {
			return pyembed.Gone
		}
		if pending <= lowWater {
			return pyembed.OK
		}
		e.signal()
		<-e.drained
	}
}

// ReadBody implements pyembed.Exchange (Python thread, GIL released).
func (e *exchange) ReadBody(p []byte) (int, error) {
	if e.stream == nil {
		return 0, io.EOF
	}
	if e.continuePending {
		e.continuePending = false
		// Only before the response has begun: a client that already has a
		// final response need not be asked for the body. Nothing else
		// writes to the connection until the response begins.
		e.mu.Lock()
		started := e.started
		e.mu.Unlock()
		if !started {
			c := e.c
			c.nc.SetWriteDeadline(time.Now().Add(c.srv.opts.WriteTimeout))
			if _, err := c.nc.Write(continueLine); err != nil {
				return 0, err
			}
		}
	}
	for {
		n, err := e.stream.Read(p)
		if n > 0 || err != nil {
			if err != nil && err != io.EOF {
				e.c.srv.log.Info("reading a request body failed", "request", string(e.desc), "remote", e.c.remoteIP, "err", err)
			}
			return n, err
		}
	}
}

// withoutField returns head (status line and CRLF-ended field lines)
// without the fields named name (lower case), in a new slice.
func withoutField(head []byte, name string) []byte {
	out := make([]byte, 0, len(head))
	for len(head) > 0 {
		i := bytes.IndexByte(head, '\n')
		if i < 0 {
			return append(out, head...)
		}
		line := head[:i+1]
		head = head[i+1:]
		if colon := bytes.IndexByte(line, ':'); colon >= 0 && bytes.EqualFold(line[:colon], []byte(name)) {
			continue
		}
		out = append(out, line...)
	}
	return out
}

// startResponse frames the head: the status line and headers from the
// application plus Date, the body framing and Connection (mu held).
func (e *exchange) startResponse(head []byte, body [][]byte, final bool) {
	e.c.obsResponseHead(head) // observe.go: response headers for the access log
	e.started = true
	e.status = int(head[0]-'0')*100 + int(head[1]-'0')*10 + int(head[2]-'0')
	e.noBody = e.isHead || e.status == 204 || e.status == 304
	appLength := int64(-1)
	hasDate := false
	lines := head
	if i := bytes.IndexByte(lines, '\n'); i >= 0 {
		lines = lines[i+1:]
	}
	for len(lines) > 0 {
		i := bytes.IndexByte(lines, '\n')
		if i < 0 {
			break
		}
		line := lines[:i-1]
		lines = lines[i+1:]
		colon := bytes.IndexByte(line, ':')
		if colon < 0 {
			continue
		}
		name := line[:colon]
		switch {
		case len(name) == len("content-length") && bytes.EqualFold(name, []byte("content-length")):
			// C checked it is 1 to 18 digits.
			appLength, _ = strconv.ParseInt(string(bytes.TrimSpace(line[colon+1:])), 10, 64)
		case len(name) == len("date") && bytes.EqualFold(name, []byte("date")):
			hasDate = true
		}
	}
	if e.status == 204 && appLength >= 0 {
		// RFC 9110 section 8.6: no Content-Length in a 204. Django's
		// CommonMiddleware adds "Content-Length: 0" to every response,
		// so it is dropped rather than refused.
		head = withoutField(head, "content-length")
	}
	o := e.out
	o = append(o, "HTTP/1.1 "...)
	o = append(o, head...)
	if !hasDate {
		o = append(o, "Date: "...)
		o = append(o, httpDate()...)
		o = append(o, "\r\n"...)
	}
	closeDelimited := false
	switch {
	case e.status == 204 || e.status == 304:
		// no body and no framing headers
	case appLength >= 0:
		e.contentLength = appLength
	case final:
		var total int64
		for _, b := range body {
			total += int64(len(b))
		}
		if !(e.isHead && total == 0) {
			o = append(o, "Content-Length: "...)
			o = strconv.AppendInt(o, total, 10)
			o = append(o, "\r\n"...)
			e.contentLength = total
		}
	case e.isHead:
		// a HEAD response has no body to frame
	case e.protoMinor >= 1:
		e.chunked = true
		o = append(o, "Transfer-Encoding: chunked\r\n"...)
	default:
		closeDelimited = true // HTTP/1.0 without a length: the end of the body is the end of the connection
	}
	bodyUnread := e.sock != nil && !e.sock.done && e.continuePending
	e.keepAlive = e.reqKeepAlive && !closeDelimited && !bodyUnread && !e.c.srv.draining.Load()
	if !e.keepAlive {
		o = append(o, "Connection: close\r\n"...)
	} else if e.protoMinor == 0 {
		o = append(o, "Connection: keep-alive\r\n"...)
	}
	o = append(o, "\r\n"...)
	e.out = o
}

// appendBody frames one piece of body (mu held).
func (e *exchange) appendBody(b []byte) {
	if len(b) == 0 {
		return
	}
	if e.noBody {
		e.sent += int64(len(b))
		return
	}
	if e.contentLength >= 0 {
		if left := e.contentLength - e.sent; int64(len(b)) > left {
			if !e.overflowLogged {
				e.overflowLogged = true
				e.c.srv.log.Error("application sent more than its content-length; the excess is dropped", "request", string(e.desc), "content_length", e.contentLength)
			}
			b = b[:left]
			if len(b) == 0 {
				return
			}
		}
	}
	if e.chunked {
		e.out = strconv.AppendInt(e.out, int64(len(b)), 16)
		e.out = append(e.out, "\r\n"...)
		e.out = append(e.out, b...)
		e.out = append(e.out, "\r\n"...)
	} else {
		e.out = append(e.out, b...)
	}
	e.sent += int64(len(b))
}
