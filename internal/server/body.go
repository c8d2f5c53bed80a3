package server

import (
	"errors"
	"io"
	"os"
	"slices"
	"time"

	"github.com/gowsgi/gowsgi/internal/httpwire"
	"github.com/gowsgi/gowsgi/pyembed"
)

// socketBody reads a request body straight from the connection: exactly
// Content-Length bytes, or a chunked body to its last chunk, refreshing
// the body timeout before every read.
type socketBody struct {
	c         *conn
	chunked   bool
	remaining int64 // Content-Length bodies only
	done      bool  // the whole body has been read
	// limit is --limit-post for a chunked body (0: none), whose length
	// is known only as it arrives; total counts it. Past the limit every
	// read fails with errBodyTooLarge and tooLarge is set.
	limit, total int64
	tooLarge     bool
}

func (b *socketBody) Read(p []byte) (int, error) {
	if b.done {
		return 0, io.EOF
	}
	if b.tooLarge {
		return 0, errBodyTooLarge
	}
	c := b.c
	c.nc.SetReadDeadline(time.Now().Add(c.srv.opts.BodyTimeout))
	if b.chunked {
		n, err := c.chunked.Read(p)
		if err == io.EOF {
			b.done = true
		}
		b.total += int64(n)
		if b.limit > 0 && b.total > b.limit {
			b.tooLarge = true
			return 0, errBodyTooLarge
		}
		return n, err
	}
	if b.remaining == 0 {
		b.done = true
		return 0, io.EOF
	}
	if int64(len(p)) > b.remaining {
		p = p[:b.remaining]
	}
	n, err := c.br.Read(p)
	b.remaining -= int64(n)
	if b.remaining == 0 {
		b.done = true
	}
	if err == io.EOF && !b.done {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

var errBodyTooLarge = &httpwire.Error{Status: 413, Reason: "request body too large"}

// prepareBody decides how the application gets the body: in memory, from
// a temporary file, or streamed from the client (only for Expect:
// 100-continue, where the client waits for the application to ask).
// Bodies are received before the request is queued, so a slow upload holds
// a goroutine, never a Python thread (uWSGI's post-buffering).
func (c *conn) prepareBody(ex *exchange) error {
	req := &c.req
	o := &c.srv.opts
	if !req.Chunked && req.ContentLength <= 0 {
		return nil
	}
	if o.LimitPost > 0 && req.ContentLength > o.LimitPost {
		return errBodyTooLarge
	}
	sb := &socketBody{c: c, chunked: req.Chunked, remaining: req.ContentLength}
	if req.Chunked {
		sb.limit = o.LimitPost
		if c.chunked == nil {
			c.chunked = httpwire.NewChunkedReader(c.br, &c.srv.limits)
		} else {
			c.chunked.Reset(c.br)
		}
	}
	if req.ExpectContinue && req.ProtoMinor == 1 {
		ex.sock = sb
		ex.stream = sb
		ex.streaming = true
		ex.continuePending = true
		return nil
	}
	if !req.Chunked && req.ContentLength <= o.PostBuffering {
		body, err := readGrowing(c.body[:0], sb, int(req.ContentLength))
		c.body = body
		if err != nil {
			return bodyError(err)
		}
		ex.body = body
		return nil
	}
	return c.spoolBody(ex, sb)
}

// firstBodyBuffer is the most memory a body gets before its bytes arrive.
const firstBodyBuffer = 64 << 10

// readGrowing appends n bytes from r to buf, growing buf as the bytes
// arrive (doubling from firstBodyBuffer): a client that declares a 1 MiB
// body and sends one byte makes the connection hold 64 KiB, not 1 MiB.
func readGrowing(buf []byte, r io.Reader, n int) ([]byte, error) {
	for len(buf) < n {
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, min(max(cap(buf), firstBodyBuffer), n-len(buf)))
		}
		m, err := r.Read(buf[len(buf):min(cap(buf), n)])
		buf = buf[:len(buf)+m]
		if err == io.EOF && len(buf) < n {
			err = io.ErrUnexpectedEOF
		}
		if err != nil && err != io.EOF {
			return buf, err
		}
	}
	return buf, nil
}

// spoolBody receives a chunked or large body, in memory up to
// PostBuffering and in an unlinked temporary file beyond.
func (c *conn) spoolBody(ex *exchange, sb *socketBody) error {
	o := &c.srv.opts
	buf := c.body[:0]
	var total int64
	var file *os.File
	chunk := make([]byte, 64<<10)
	for {
		n, err := sb.Read(chunk) // a chunked body past --limit-post fails here
		if n > 0 {
			total += int64(n)
			if file == nil && int64(len(buf)+n) <= o.PostBuffering {
				buf = append(buf, chunk[:n]...)
			} else {
				if file == nil {
					f, ferr := os.CreateTemp("", "gowsgi-body-*")
					if ferr != nil {
						c.srv.log.Error("cannot create a temporary file for a request body", "err", ferr)
						return &httpwire.Error{Status: 500, Reason: "cannot store the request body"}
					}
					os.Remove(f.Name()) // unlinked: the space is freed when it is closed, whatever happens
					file = f
					if _, werr := file.Write(buf); werr != nil {
						file.Close()
						return &httpwire.Error{Status: 500, Reason: "cannot store the request body"}
					}
				}
				if _, werr := file.Write(chunk[:n]); werr != nil {
					file.Close()
					c.srv.log.Error("cannot write a request body to its temporary file", "err", werr)
					return &httpwire.Error{Status: 500, Reason: "cannot store the request body"}
				}
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			if file != nil {
				file.Close()
			}
			return bodyError(err)
		}
	}
	c.body = buf
	if c.req.Chunked {
		// The length is known now; apps such as Django read CONTENT_LENGTH bytes.
		c.env.AddInt(pyembed.KeyContentLength, total)
	}
	if file == nil {
		ex.body = buf
		return nil
	}
	if _, err := file.Seek(0, io.SeekStart); err != nil {
		file.Close()
		return &httpwire.Error{Status: 500, Reason: "cannot store the request body"}
	}
	ex.file = file
	ex.stream = file
	ex.streaming = true
	return nil
}

func bodyError(err error) error {
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return errClientGone
	}
	return readError(err)
}
