package e2e

import (
	"bytes"
	"compress/gzip"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// wrapperFile writes n pattern bytes to a temporary file and returns its path and content.
func wrapperFile(t *testing.T, n int, seed byte) (string, []byte) {
	t.Helper()
	data := filePattern(n, seed)
	p := filepath.Join(t.TempDir(), "data.bin")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p, data
}

// fileURL is filewrapper_app's /file (or another route) for path, with a fresh tracker id.
func fileURL(route, path string, params ...string) (target, id string) {
	id = newID()
	q := url.Values{"id": {id}, "path": {path}}
	for i := 0; i+1 < len(params); i += 2 {
		q.Set(params[i], params[i+1])
	}
	return route + "?" + q.Encode(), id
}

// Python never reading the file proves the sendfile path; reading it
// proves iteration. Either way close() must have been called.
var (
	sentWithSendfile = []string{"close"}
	sentByIteration  = []string{"read", "close"}
)

func TestFileWrapper(t *testing.T) {
	t.Parallel()
	s := startServer(t, "filewrapper_app", plain, 1)
	path, data := wrapperFile(t, 3<<20+17, 3)

	s.step(t, "real file uses sendfile", true, func(t *testing.T) {
		target, id := fileURL("/file", path)
		r := staticFetch(t, s, "GET", target)
		requireStatus(t, r, 200)
		if r.framing != "length" || r.get(t, "Content-Length") != strconv.Itoa(len(data)) {
			t.Errorf("framing %s, Content-Length %q; want the file's length %d", r.framing, r.get(t, "Content-Length"), len(data))
		}
		if !bytes.Equal(r.body, data) {
			t.Errorf("body of %d bytes differs from the file", len(r.body))
		}
		s.waitEvents(t, id, sentWithSendfile...)
	})

	s.step(t, "from the application's position", true, func(t *testing.T) {
		target, id := fileURL("/file", path, "seek", "1000")
		r := staticFetch(t, s, "GET", target)
		if r.get(t, "Content-Length") != strconv.Itoa(len(data)-1000) || !bytes.Equal(r.body, data[1000:]) {
			t.Errorf("after seek(1000): Content-Length %q, %d bytes", r.get(t, "Content-Length"), len(r.body))
		}
		s.waitEvents(t, id, sentWithSendfile...)
		// A buffered read moves the descriptor past the application's
		// position: the body must still start where the application is.
		target, id = fileURL("/file", path, "skip", "100")
		r = staticFetch(t, s, "GET", target)
		if !bytes.Equal(r.body, data[100:]) {
			t.Errorf("after read(100): %d bytes, first %x; want the file from byte 100", len(r.body), r.body[:min(8, len(r.body))])
		}
		s.waitEvents(t, id, sentWithSendfile...)
		// Past the end: an empty body.
		target, _ = fileURL("/file", path, "seek", strconv.Itoa(len(data)+5))
		r = staticFetch(t, s, "GET", target)
		if r.status != 200 || r.get(t, "Content-Length") != "0" || len(r.body) != 0 {
			t.Errorf("position past the end: %v", r)
		}
	})

	s.step(t, "content-length shorter than the file", true, func(t *testing.T) {
		c := dialRaw(t, s.addr)
		target, id := fileURL("/file", path, "cl", "10", "seek", "5")
		c.send(staticRequest("GET", target))
		r := c.mustResponse("GET")
		if r.get(t, "Content-Length") != "10" || !bytes.Equal(r.body, data[5:15]) {
			t.Errorf("Content-Length 10 from 5: %q, body %x", r.get(t, "Content-Length"), r.body)
		}
		s.waitEvents(t, id, sentWithSendfile...)
		// Exactly ten bytes went out: the connection goes on.
		c.send(staticRequest("GET", "/ping"))
		requireApp(t, c.mustResponse("GET"), "/ping")
	})

	s.step(t, "content-length longer than the file", false, func(t *testing.T) {
		c := dialRaw(t, s.addr)
		target, id := fileURL("/file", path, "cl", strconv.Itoa(len(data)+100))
		c.send(staticRequest("GET", target))
		r, err := c.readResponse("GET")
		if err == nil || !bytes.Equal(r.body, data) {
			t.Errorf("declared length past the file: want the file's bytes then a cut connection, got %d bytes, err %v", len(r.body), err)
		}
		s.waitEvents(t, id, sentWithSendfile...)
		s.waitLog(t, "shorter than its content-length")
	})

	s.step(t, "HEAD", true, func(t *testing.T) {
		c := dialRaw(t, s.addr)
		target, id := fileURL("/file", path)
		c.send(staticRequest("HEAD", target))
		r := c.mustResponse("HEAD")
		if r.get(t, "Content-Length") != strconv.Itoa(len(data)) {
			t.Errorf("HEAD Content-Length %q, want %d", r.get(t, "Content-Length"), len(data))
		}
		s.waitEvents(t, id, sentWithSendfile...)
		c.send(staticRequest("GET", "/ping")) // nothing of the file followed the head
		requireApp(t, c.mustResponse("GET"), "/ping")
	})

	s.step(t, "a file behind an object outside io is sent with sendfile", true, func(t *testing.T) {
		target, id := fileURL("/proxy", path)
		if r := staticFetch(t, s, "GET", target); !bytes.Equal(r.body, data) {
			t.Errorf("file behind a proxy object: %d bytes, want %d", len(r.body), len(data))
		}
		s.waitEvents(t, id, sentWithSendfile...)
	})

	s.step(t, "304 sends no body and reads nothing", true, func(t *testing.T) {
		target, id := fileURL("/304", path)
		r := staticFetch(t, s, "GET", target)
		if r.status != 304 || len(r.values("Content-Length")) != 0 {
			t.Errorf("304 through file_wrapper: %v", r)
		}
		s.waitEvents(t, id, sentWithSendfile...)
	})

	s.step(t, "no real descriptor: iteration", true, func(t *testing.T) {
		target, id := fileURL("/bytes", "", "size", "100000")
		r := staticFetch(t, s, "GET", target)
		want := bytes.Repeat([]byte("0123456789"), 10000)
		if !bytes.Equal(r.body, want) || r.framing != "chunked" {
			t.Errorf("io.BytesIO without a length: framing %s, %d bytes", r.framing, len(r.body))
		}
		s.waitEvents(t, id, "close")
		target, id = fileURL("/bytes", "", "size", "100000", "cl", "25")
		r = staticFetch(t, s, "GET", target)
		if !bytes.Equal(r.body, want[:25]) || r.framing != "length" {
			t.Errorf("io.BytesIO with Content-Length 25: framing %s, body %q", r.framing, r.body)
		}
		s.waitEvents(t, id, "close")
		// A pipe has a descriptor but is not a regular file.
		target, id = fileURL("/pipe", "", "size", "1000")
		r = staticFetch(t, s, "GET", target)
		if !bytes.Equal(r.body, bytes.Repeat([]byte("abcdefghij"), 100)) {
			t.Errorf("pipe: %d bytes", len(r.body))
		}
		s.waitEvents(t, id, sentByIteration...)
		// A gzip file's descriptor holds the compressed bytes; read()
		// returns what it decompresses, and that is the body.
		gz := filepath.Join(t.TempDir(), "data.gz")
		var zb bytes.Buffer
		zw := gzip.NewWriter(&zb)
		zw.Write(data[:200000])
		zw.Close()
		if err := os.WriteFile(gz, zb.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		target, id = fileURL("/gzip", gz)
		r = staticFetch(t, s, "GET", target)
		if !bytes.Equal(r.body, data[:200000]) {
			t.Errorf("gzip.GzipFile: %d bytes, want the 200000 it decompresses to (the file has %d)", len(r.body), zb.Len())
		}
		s.waitEvents(t, id, sentByIteration...)
		// After write(), the response goes on the way it began.
		target, id = fileURL("/written", path)
		r = staticFetch(t, s, "GET", target)
		if !bytes.Equal(r.body, append([]byte("prefix:"), data...)) {
			t.Errorf("write() then file_wrapper: %d bytes", len(r.body))
		}
		s.waitEvents(t, id, sentByIteration...)
	})

	s.step(t, "text file is an error, not sent", false, func(t *testing.T) {
		target, _ := fileURL("/text", path)
		check500(t, staticFetch(t, s, "GET", target))
		s.waitLog(t, "yielded str")
	})

	s.step(t, "client disconnects mid-file", true, func(t *testing.T) {
		big, _ := wrapperFile(t, 64<<20, 9)
		base := s.openFDs(t)
		c := dialRaw(t, s.addr)
		target, id := fileURL("/file", big)
		c.send(staticRequest("GET", target))
		if r, err := c.readHead(); err != nil || r.status != 200 {
			t.Fatalf("head: %v %v", r, err)
		}
		buf := make([]byte, 256<<10)
		if _, err := c.br.Read(buf); err != nil {
			t.Fatal(err)
		}
		c.abort()
		s.waitEvents(t, id, sentWithSendfile...)
		s.waitFDs(t, base) // the duplicate descriptor is closed, the socket too
		// The log counts what went out, not the file's length.
		if n := s.accessLogBytes(t, "id="+id+"&"); n <= 0 || n >= 64<<20 {
			t.Errorf("access log: %d body bytes for a download cut after 256 KiB of 64 MiB", n)
		}
	})

	s.step(t, "a slow client holds no python thread", true, func(t *testing.T) {
		big, _ := wrapperFile(t, 64<<20, 11)
		base := s.openFDs(t)
		slow := dialRaw(t, s.addr)
		target, _ := fileURL("/file", big)
		slow.send(staticRequest("GET", target))
		if r, err := slow.readHead(); err != nil || r.status != 200 {
			t.Fatalf("head: %v %v", r, err)
		}
		// The client reads nothing more; the only Python thread is free.
		start := time.Now()
		requireApp(t, staticFetch(t, s, "GET", "/ping"), "/ping")
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("an application request took %v while a client stalled a file_wrapper response", d)
		}
		slow.abort()
		s.waitFDs(t, base)
	})
}

func TestFileWrapperValidated(t *testing.T) {
	t.Parallel()
	// wsgiref.validate wraps the result, so the server sees a plain
	// iterable: the file is read by Python, and the validator checks it all.
	s := startServer(t, "filewrapper_app", validated, 1)
	path, data := wrapperFile(t, 200000, 5)
	s.step(t, "file", true, func(t *testing.T) {
		target, id := fileURL("/file", path)
		r := staticFetch(t, s, "GET", target)
		if !bytes.Equal(r.body, data) {
			t.Errorf("validated file_wrapper: %d bytes", len(r.body))
		}
		s.waitEvents(t, id, sentByIteration...)
	})
}

func TestFileWrapperDjango(t *testing.T) {
	t.Parallel()
	s := startServer(t, "filewrapper_django", plain, 2)
	path, data := wrapperFile(t, 5<<20+3, 7)
	s.step(t, "FileResponse is sent with sendfile", true, func(t *testing.T) {
		target, id := fileURL("/download", path)
		r := staticFetch(t, s, "GET", target)
		requireStatus(t, r, 200)
		if r.get(t, "Content-Length") != strconv.Itoa(len(data)) || !bytes.Equal(r.body, data) {
			t.Errorf("FileResponse: Content-Length %q, %d bytes", r.get(t, "Content-Length"), len(r.body))
		}
		if cd := r.get(t, "Content-Disposition"); !strings.Contains(cd, "data.bin") {
			t.Errorf("Content-Disposition %q", cd)
		}
		s.waitEvents(t, id, sentWithSendfile...)
	})
	s.step(t, "FileResponse of open()", true, func(t *testing.T) {
		base := s.openFDs(t)
		for i := 0; i < 5; i++ {
			r := staticFetch(t, s, "GET", "/plain?path="+url.QueryEscape(path))
			if !bytes.Equal(r.body, data) {
				t.Fatalf("FileResponse(open()): %d bytes", len(r.body))
			}
		}
		s.waitFDs(t, base) // Django's file and the server's duplicate are both closed
	})
}
