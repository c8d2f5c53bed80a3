package server

import (
	"errors"
	"os"

	"github.com/gowsgi/gowsgi/internal/static"
	"github.com/gowsgi/gowsgi/pyembed"
)

// SendFile implements pyembed.FileSender. It runs on the Python thread
// with the GIL held, so it only frames the head and keeps the file: the
// connection goroutine sends it with sendfile after the application has
// returned and its slot is free (sendBodyFile).
func (e *exchange) SendFile(head []byte, f *os.File, off, size int64) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.gone {
		f.Close()
		return pyembed.Gone
	}
	if e.started || e.writer {
		f.Close()
		return pyembed.Declined
	}
	e.startResponse(head, nil, true)
	n := size
	if e.contentLength >= 0 && e.contentLength < n {
		n = e.contentLength // PEP 3333: never more than the declared length
	}
	if e.noBody || n <= 0 {
		f.Close()
		return pyembed.OK
	}
	// Counted as sent now, so that the final Write sees a length shorter
	// than a declared Content-Length and closes the connection after it.
	e.sent = n
	e.bodyFile, e.bodyOff, e.bodyLen = f, off, n
	return pyembed.OK
}

// sendBodyFile sends the file SendFile kept, after the head, and closes it
// (connection goroutine). A client that goes away, or a file that shrank
// below the length already declared, closes the connection.
func (c *conn) sendBodyFile(ex *exchange) {
	f := ex.bodyFile
	ex.bodyFile = nil
	defer f.Close()
	ex.mu.Lock()
	gone := ex.gone
	ex.mu.Unlock()
	var sent int64
	var err error
	if !gone {
		sent, err = static.SendFile(c.nc, f, ex.bodyOff, ex.bodyLen, c.srv.opts.WriteTimeout)
	}
	if sent < ex.bodyLen {
		// The log and the byte counters get what went out, not what
		// SendFile counted as sent when it took the file.
		c.obs.fileLen = sent
		ex.mu.Lock()
		ex.sent -= ex.bodyLen - sent
		ex.mu.Unlock()
	}
	if gone || err == nil {
		return
	}
	if errors.Is(err, static.ErrFileShrank) {
		c.srv.log.Error("wsgi.file_wrapper file is shorter than its content-length; closing the connection", "request", string(ex.desc), "length", ex.bodyLen, "sent", sent)
	} else {
		c.srv.log.Debug("sending a wsgi.file_wrapper file failed", "request", string(ex.desc), "sent", sent, "err", err)
	}
	ex.mu.Lock()
	ex.gone = true
	ex.mu.Unlock()
}
