package server

import (
	"io"

	"github.com/gowsgi/gowsgi/internal/httpwire"
	"github.com/gowsgi/gowsgi/internal/static"
)

// UseStatic makes the server answer what the static file map has before
// the application sees the request; nil means no static map.
func (s *Server) UseStatic(h *static.Handler) { s.static = h }

// serveStatic answers the current request from the static map when the
// map has it, on the connection goroutine and without taking a Python
// slot. It reports whether it answered and, if so, whether the
// connection may be reused; when it did not answer, c.req is untouched.
func (c *conn) serveStatic() (served, keep bool) {
	req := &c.req
	rep := c.srv.static.Serve(req)
	if rep == nil {
		return false, false
	}
	defer rep.Release()
	if c.srv.obs.on {
		c.ex.desc = append(append(append(c.ex.desc[:0], req.Method...), ' '), req.Target...)
	}
	keep = req.KeepAlive
	http10 := req.ProtoMinor == 0
	chunked, length := req.Chunked, req.ContentLength
	expect := req.ExpectContinue && req.ProtoMinor == 1
	c.br.Discard(req.HeadLen) // req's slices are invalid from here on
	if chunked || length > 0 {
		// nginx reads and drops the body of a request for a static file;
		// it is read first so that a client that sends all of its body
		// before reading is not stuck while a large file is sent. A client
		// waiting for 100 Continue gets the answer and a closed connection.
		if expect || !c.discardBody(chunked, length) {
			keep = false
		}
	}
	keep = keep && !c.srv.draining.Load()
	ok := rep.Write(c.nc, httpDate(), keep, http10, c.srv.opts.WriteTimeout)
	proto := protoHTTP11
	if http10 {
		proto = protoHTTP10
	}
	c.obsStatic(c.ex.desc, proto, rep.Status(), rep.BodySent())
	return true, ok && keep
}

// discardBody reads and drops a request body of at most drainLimit bytes;
// false if it is larger, malformed or the client stalls.
func (c *conn) discardBody(chunked bool, length int64) bool {
	sb := &socketBody{c: c, chunked: chunked, remaining: length}
	if chunked {
		if c.chunked == nil {
			c.chunked = httpwire.NewChunkedReader(c.br, &c.srv.limits)
		} else {
			c.chunked.Reset(c.br)
		}
	}
	_, err := io.CopyN(io.Discard, sb, drainLimit)
	return err == io.EOF || (err == nil && sb.done)
}
