package e2e

import (
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

var lastID atomic.Int64

// newID returns a request id for tracker.py, unique within the test process.
func newID() string { return fmt.Sprintf("r%d", lastID.Add(1)) }

// waitEvents polls /closed?id=X for up to 2 s until the tracker has
// recorded exactly want: close() may run after the client saw the end.
func (s *server) waitEvents(t *testing.T, id string, want ...string) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for {
		var got struct{ Events []string }
		s.getJSON(t, "/closed?id="+id, &got)
		if reflect.DeepEqual(got.Events, want) || got.Events == nil && len(want) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("tracker events for %s: got %q, want %q", id, got.Events, want)
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// get sends a GET for path on c, HTTP/1.1 unless the path says otherwise.
func get(path string) string {
	return "GET " + path + " HTTP/1.1\r\nHost: e2e.test\r\n\r\n"
}

// checkPong reads the stream_app's answer to get(path) on c, showing that
// the connection is still in step after the previous response.
func checkPong(t *testing.T, c *rawConn, path string) {
	t.Helper()
	r := c.mustResponse("GET")
	body := "pong " + path
	checkHead(t, r, "HTTP/1.1 200 OK", "Content-Type: text/plain", fmt.Sprintf("Content-Length: %d", len(body)))
	checkBody(t, r, body)
}

func TestStreaming(t *testing.T) {
	t.Parallel()
	for _, m := range bothModes {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			s := startServer(t, "stream_app", m, 1)

			s.step(t, "first chunk arrives before the last is produced", true, func(t *testing.T) {
				gate := filepath.Join(t.TempDir(), "gate")
				c := dialRaw(t, s.addr)
				c.send(get("/gated?gate=" + url.QueryEscape(gate)))
				r, err := c.readHead()
				if err != nil {
					t.Fatal(err)
				}
				checkHead(t, r, "HTTP/1.1 200 OK", "Content-Type: text/plain", "Transfer-Encoding: chunked")
				// The app produces its last chunk only once the gate is open
				// (or after 5 s): a server that buffers cannot pass.
				first, _, err := c.readChunk()
				if err != nil || string(first) != "first" {
					t.Fatalf("first chunk %q, %v", first, err)
				}
				if err := os.WriteFile(gate, nil, 0o644); err != nil {
					t.Fatal(err)
				}
				if err := c.readBody(r, "GET"); err != nil {
					t.Fatal(err)
				}
				if string(r.body) != "last" {
					t.Errorf("the rest of the body is %q, want %q: the first chunk was held back until the app finished", r.body, "last")
				}
			})

			s.step(t, "generator on HTTP/1.1 is chunked", true, func(t *testing.T) {
				c := dialRaw(t, s.addr)
				c.send(get("/gen"))
				r := c.mustResponse("GET")
				checkHead(t, r, "HTTP/1.1 200 OK", "Content-Type: text/plain", "Transfer-Encoding: chunked")
				checkBody(t, r, "one,two,three")
				// One chunk per non-empty piece; an empty piece must not end the body.
				if !reflect.DeepEqual(r.chunks, []int{4, 4, 5}) {
					t.Errorf("chunk sizes %v, want [4 4 5]", r.chunks)
				}
			})

			s.step(t, "generator on HTTP/1.0 is close-delimited", true, func(t *testing.T) {
				c := dialRaw(t, s.addr)
				// Even when keep-alive is asked for: without a length, only closing ends the body.
				c.send("GET /gen HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
				r := c.mustResponse("GET")
				checkHead(t, r, "HTTP/1.1 200 OK", "Content-Type: text/plain", "Connection: close")
				if r.framing != "close" {
					t.Errorf("framing %s, want close-delimited", r.framing)
				}
				checkBody(t, r, "one,two,three")
			})

			s.step(t, "HTTP/1.0 keep-alive with a length", true, func(t *testing.T) {
				c := dialRaw(t, s.addr)
				c.send("GET /ka HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
				r := c.mustResponse("GET")
				checkHead(t, r, "HTTP/1.1 200 OK", "Content-Type: text/plain", "Content-Length: 8", "Connection: keep-alive")
				checkBody(t, r, "pong /ka")
				c.send(get("/ka2"))
				checkPong(t, c, "/ka2")
			})

			s.step(t, "start_response called from the iterable", true, func(t *testing.T) {
				c := dialRaw(t, s.addr)
				c.send(get("/lazy"))
				r := c.mustResponse("GET")
				checkHead(t, r, "HTTP/1.1 200 OK", "Content-Type: text/plain", "X-Lazy: yes", "Transfer-Encoding: chunked")
				checkBody(t, r, "lazy")
			})

			s.step(t, "write()", true, func(t *testing.T) {
				c := dialRaw(t, s.addr)
				c.send(get("/write"))
				r := c.mustResponse("GET")
				checkHead(t, r, "HTTP/1.1 200 OK", "Content-Type: text/plain", "Transfer-Encoding: chunked")
				checkBody(t, r, "w1,w2")
				if !reflect.DeepEqual(r.chunks, []int{3, 2}) {
					t.Errorf("chunk sizes %v, want [3 2]", r.chunks)
				}
			})

			s.step(t, "write() then the iterable", true, func(t *testing.T) {
				c := dialRaw(t, s.addr)
				c.send(get("/write-mixed"))
				r := c.mustResponse("GET")
				checkHead(t, r, "HTTP/1.1 200 OK", "Content-Type: text/plain", "Transfer-Encoding: chunked")
				checkBody(t, r, "w1,i1,i2")
			})

			s.step(t, "12 MiB through a client that is slow to start reading", true, func(t *testing.T) {
				c := dialRaw(t, s.addr)
				c.send(get("/big?mib=12"))
				// Let the app get ahead of the socket so the server has to hold it back.
				time.Sleep(300 * time.Millisecond)
				r := c.mustResponse("GET")
				checkHead(t, r, "HTTP/1.1 200 OK", "Content-Type: text/plain", "Transfer-Encoding: chunked")
				if len(r.body) != 12<<20 {
					t.Fatalf("body is %d bytes, want %d", len(r.body), 12<<20)
				}
				for i := 0; i < len(r.body); i += 65536 {
					if want := byte((i / 65536) % 251); r.body[i] != want || r.body[i+65535] != want {
						t.Fatalf("chunk %d holds the wrong bytes: data out of order", i/65536)
					}
				}
				c.send(get("/after"))
				checkPong(t, c, "/after")
			})

			s.step(t, "one-chunk list", true, func(t *testing.T) {
				c := dialRaw(t, s.addr)
				c.send(get("/list1"))
				r := c.mustResponse("GET")
				if m.validated {
					// The validator wraps the list in an iterator: the length is unknown up front.
					checkHead(t, r, "HTTP/1.1 200 OK", "Content-Type: text/plain", "Transfer-Encoding: chunked")
				} else {
					checkHead(t, r, "HTTP/1.1 200 OK", "Content-Type: text/plain", "Content-Length: 11")
				}
				checkBody(t, r, "hello world")
			})
		})
	}
}

func TestExcInfo(t *testing.T) {
	t.Parallel()
	for _, m := range bothModes {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			s := startServer(t, "stream_app", m, 1)

			s.step(t, "before headers: the replacement is sent", true, func(t *testing.T) {
				c := dialRaw(t, s.addr)
				c.send(get("/exc-before"))
				r := c.mustResponse("GET")
				framing := "Content-Length: 16"
				if m.validated {
					framing = "Transfer-Encoding: chunked" // the validator wraps the list in an iterator
				}
				checkHead(t, r, "HTTP/1.1 503 Replaced", "Content-Type: text/plain", "X-Replaced: yes", framing)
				checkBody(t, r, "replacement body")
				c.send(get("/next"))
				checkPong(t, c, "/next")
			})

			s.step(t, "after headers: the connection is cut", false, func(t *testing.T) {
				c := dialRaw(t, s.addr)
				c.send(get("/exc-after"))
				r, err := c.readHead()
				if err != nil {
					t.Fatal(err)
				}
				checkHead(t, r, "HTTP/1.1 200 OK", "Content-Type: text/plain", "Transfer-Encoding: chunked")
				first, last, err := c.readChunk()
				if err != nil || last || string(first) != "first" {
					t.Fatalf("first chunk %q (last %v), %v", first, last, err)
				}
				// No last chunk and nothing else: the client must see the response as broken.
				c.expectClosed()
				s.waitLog(t, "RuntimeError: failed after the headers were sent")
			})

			s.step(t, "second start_response without exc_info", false, func(t *testing.T) {
				c := dialRaw(t, s.addr)
				c.send(get("/second-start-response"))
				check500(t, c.mustResponse("GET"))
				s.waitLog(t, "start_response was already called")
			})
		})
	}
}

func TestClose(t *testing.T) {
	t.Parallel()
	for _, m := range bothModes {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			s := startServer(t, "stream_app", m, 1)

			s.step(t, "after success", true, func(t *testing.T) {
				id := newID()
				c := dialRaw(t, s.addr)
				c.send(get("/tracked?mode=ok&id=" + id))
				r := c.mustResponse("GET")
				checkHead(t, r, "HTTP/1.1 200 OK", "Content-Type: text/plain", "Transfer-Encoding: chunked")
				checkBody(t, r, "a,b,c")
				s.waitEvents(t, id, "next", "next", "next", "close")
			})

			s.step(t, "exception on the first chunk", false, func(t *testing.T) {
				id := newID()
				c := dialRaw(t, s.addr)
				c.send(get("/tracked?mode=raise-first&id=" + id))
				check500(t, c.mustResponse("GET"))
				s.waitEvents(t, id, "next", "close")
				s.waitLog(t, "RuntimeError: iteration failed before any body")
			})

			s.step(t, "exception after a chunk", false, func(t *testing.T) {
				id := newID()
				c := dialRaw(t, s.addr)
				c.send(get("/tracked?mode=raise-later&id=" + id))
				r, err := c.readHead()
				if err != nil {
					t.Fatal(err)
				}
				checkHead(t, r, "HTTP/1.1 200 OK", "Content-Type: text/plain", "Transfer-Encoding: chunked")
				err = c.readBody(r, "GET")
				if !errors.Is(err, io.ErrUnexpectedEOF) || string(r.body) != "partial" {
					t.Errorf("want the body cut after %q, got %q, %v", "partial", r.body, err)
				}
				s.waitEvents(t, id, "next", "next", "close")
				s.waitLog(t, "RuntimeError: iteration failed after a chunk")
			})

			s.step(t, "wsgi.file_wrapper forwards close() to the file", true, func(t *testing.T) {
				id := newID()
				c := dialRaw(t, s.addr)
				c.send(get("/file-wrapper?id=" + id))
				r := c.mustResponse("GET")
				if r.status != 200 || len(r.body) != 256*78+3 || !strings.HasSuffix(string(r.body), "end") {
					t.Errorf("file_wrapper response: status %d, %d bytes", r.status, len(r.body))
				}
				s.waitEvents(t, id, "close")
			})

			if !m.validated { // the validator itself rejects a str chunk
				s.step(t, "str chunk", false, func(t *testing.T) {
					id := newID()
					c := dialRaw(t, s.addr)
					c.send(get("/tracked?mode=str&id=" + id))
					check500(t, c.mustResponse("GET"))
					s.waitEvents(t, id, "next", "close")
				})
			}

		})
	}
}

// TestCloseOnDisconnect: a client that goes away mid-stream makes the
// server stop iterating and close() the generator (GeneratorExit at its
// yield), and the server must still be able to stop gracefully afterwards.
// It has its own server so a failure to stop points at this scenario.
func TestCloseOnDisconnect(t *testing.T) {
	t.Parallel()
	for _, m := range bothModes {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			s := startServer(t, "stream_app", m, 1)
			s.step(t, "client disconnects mid-stream", true, func(t *testing.T) {
				baseline := s.openSockets(t)
				id := newID()
				c := dialRaw(t, s.addr)
				c.send(get("/disconnect?id=" + id))
				r, err := c.readHead()
				if err != nil {
					t.Fatal(err)
				}
				checkHead(t, r, "HTTP/1.1 200 OK", "Content-Type: text/plain", "Transfer-Encoding: chunked")
				if data, _, err := c.readChunk(); err != nil || len(data) != 1024 {
					t.Fatalf("first chunk: %d bytes, %v", len(data), err)
				}
				c.abort()
				// The generator must be closed (GeneratorExit at its yield), not run to its end.
				s.waitEvents(t, id, "GeneratorExit", "finally")
				// And the server must let go of the connection: a goroutine
				// still waiting on it would also hold up graceful shutdown.
				s.waitSockets(t, baseline)
			})
			// The server must be healthy: the next request is served.
			c := dialRaw(t, s.addr)
			c.send(get("/after"))
			checkPong(t, c, "/after")
		})
	}
}

// TestNoBodyResponses: HEAD, 204 and 304 responses carry no body bytes
// (a pipelined request behind them is answered in step), yet the
// application's iterable is still consumed and closed.
func TestNoBodyResponses(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, method, path string
		statusLine         string
		headers            []string
		tracked            bool
		plainOnly          bool
	}{
		{"HEAD with an iterable", "HEAD", "/no-body", "HTTP/1.1 200 OK", []string{"Content-Type: text/plain"}, true, false},
		{"HEAD 204", "HEAD", "/no-body?code=204", "HTTP/1.1 204 No Content", []string{"X-Code: 204"}, true, false},
		{"GET 204", "GET", "/no-body?code=204", "HTTP/1.1 204 No Content", []string{"X-Code: 204"}, true, false},
		// RFC 9110 §8.6: never a Content-Length in a 204, even the app's.
		{"GET 204 with the app's Content-Length", "GET", "/no-body?code=204&cl=0", "HTTP/1.1 204 No Content", []string{"X-Code: 204"}, true, false},
		{"GET 304", "GET", "/no-body?code=304", "HTTP/1.1 304 Not Modified", []string{"X-Code: 304"}, true, false},
		// A list has a known length, which HEAD reports as GET would.
		{"HEAD with a list", "HEAD", "/list1", "HTTP/1.1 200 OK", []string{"Content-Type: text/plain", "Content-Length: 11"}, false, true},
		{"HEAD with the app's Content-Length", "HEAD", "/x", "HTTP/1.1 200 OK", []string{"Content-Type: text/plain", "Content-Length: 7"}, false, false},
	}
	for _, m := range bothModes {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			s := startServer(t, "stream_app", m, 1)
			for _, tc := range cases {
				if tc.plainOnly && m.validated {
					continue // the validator turns the list into an iterator of unknown length
				}
				s.step(t, tc.name, true, func(t *testing.T) {
					id := newID()
					path := tc.path
					if tc.tracked {
						sep := "?"
						if strings.Contains(path, "?") {
							sep = "&"
						}
						path += sep + "id=" + id
					}
					c := dialRaw(t, s.addr)
					c.send(tc.method + " " + path + " HTTP/1.1\r\nHost: e2e.test\r\n\r\n" + get("/after"))
					r := c.mustResponse(tc.method)
					checkHead(t, r, tc.statusLine, tc.headers...)
					if r.status == 204 && r.values("Content-Length") != nil {
						t.Errorf("a 204 with Content-Length %q", r.values("Content-Length"))
					}
					checkPong(t, c, "/after")
					if tc.tracked {
						s.waitEvents(t, id, "next", "next", "close")
					}
				})
			}
		})
	}
}

func TestKeepAlive(t *testing.T) {
	t.Parallel()
	for _, m := range bothModes {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			s := startServer(t, "stream_app", m, 1)

			s.step(t, "sequential requests on one connection", true, func(t *testing.T) {
				c := dialRaw(t, s.addr)
				for i := 1; i <= 3; i++ {
					path := fmt.Sprintf("/seq/%d", i)
					c.send(get(path))
					checkPong(t, c, path)
				}
				c.send(get("/gen"))
				if r := c.mustResponse("GET"); string(r.body) != "one,two,three" {
					t.Errorf("chunked response on a reused connection: %v", r)
				}
				c.send(get("/seq/4"))
				checkPong(t, c, "/seq/4")
			})

			s.step(t, "pipelined requests are answered in order", true, func(t *testing.T) {
				c := dialRaw(t, s.addr)
				// The bodies are not read by the app; the server must skip them.
				c.send(get("/p/1") +
					"POST /p/2 HTTP/1.1\r\nHost: e2e.test\r\nContent-Length: 5\r\n\r\nhello" +
					"POST /p/3 HTTP/1.1\r\nHost: e2e.test\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n" +
					get("/p/4"))
				for i := 1; i <= 4; i++ {
					checkPong(t, c, fmt.Sprintf("/p/%d", i))
				}
			})

			s.step(t, "Connection: close is honoured", true, func(t *testing.T) {
				c := dialRaw(t, s.addr)
				c.send("GET /bye HTTP/1.1\r\nHost: e2e.test\r\nConnection: close\r\n\r\n")
				r := c.mustResponse("GET")
				checkHead(t, r, "HTTP/1.1 200 OK", "Content-Type: text/plain", "Content-Length: 9", "Connection: close")
				c.expectClosed()
			})
		})
	}
}

func TestAppExceptions(t *testing.T) {
	t.Parallel()
	for _, m := range bothModes {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			s := startServer(t, "stream_app", m, 1)

			s.step(t, "exception before start_response", false, func(t *testing.T) {
				mark := s.log.Len()
				c := dialRaw(t, s.addr)
				c.send(get("/raise"))
				r := c.mustResponse("GET")
				check500(t, r) // a short fixed body: nothing of the traceback reaches the client
				s.waitLog(t, "RuntimeError: application failed before start_response")
				if logged := s.log.From(mark); !strings.Contains(logged, "Traceback (most recent call last):") {
					t.Errorf("no traceback in the log:\n%s", logged)
				}
				// The server and the connection carry on.
				c.send(get("/again"))
				checkPong(t, c, "/again")
			})

			if !m.validated { // the validator itself rejects a str chunk
				s.step(t, "str chunk", false, func(t *testing.T) {
					c := dialRaw(t, s.addr)
					c.send(get("/tracked?mode=str&id=" + newID()))
					check500(t, c.mustResponse("GET"))
					s.waitLog(t, "must be bytes")
					c.send(get("/again"))
					checkPong(t, c, "/again")
				})
			}
		})
	}
}

func TestContentLengthMismatch(t *testing.T) {
	t.Parallel()
	for _, m := range bothModes {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			s := startServer(t, "stream_app", m, 1)

			s.step(t, "declared 10, sent 5", true, func(t *testing.T) {
				c := dialRaw(t, s.addr)
				c.send(get("/cl?declared=10&send=12345"))
				r, err := c.readHead()
				if err != nil {
					t.Fatal(err)
				}
				checkHead(t, r, "HTTP/1.1 200 OK", "Content-Type: text/plain", "Content-Length: 10")
				// The 5 bytes, then the connection closes: the client sees a short body.
				err = c.readBody(r, "GET")
				if string(r.body) != "12345" || !errors.Is(err, io.ErrUnexpectedEOF) {
					t.Errorf("got body %q, %v; want %q then the connection closed", r.body, err, "12345")
				}
				s.waitLog(t, "response shorter than its content-length")
			})

			s.step(t, "declared 5, sent 10", true, func(t *testing.T) {
				c := dialRaw(t, s.addr)
				c.send(get("/cl?declared=5&send=12345,67890") + get("/after"))
				r := c.mustResponse("GET")
				checkHead(t, r, "HTTP/1.1 200 OK", "Content-Type: text/plain", "Content-Length: 5")
				checkBody(t, r, "12345")
				// The excess is dropped, so the connection stays in step.
				checkPong(t, c, "/after")
				s.waitLog(t, "application sent more than its content-length")
			})
		})
	}
}

// TestBadResponseHeaders: a header that could split the response or break
// the framing gives a 500, never a second response on the wire.
func TestBadResponseHeaders(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, header, value string
		plainOnly           bool // the validator rejects control characters itself
	}{
		{"CRLF in a value", "X-A", "a\r\nX-Injected: yes", true},
		{"LF in a value", "X-A", "a\nX-Injected: yes", true},
		{"CR in a value", "X-A", "a\rX-Injected: yes", true},
		{"CRLF in a name", "X-Injected: yes\r\nX-A", "a", true},
		{"Connection", "Connection", "close", false},
		{"Transfer-Encoding", "Transfer-Encoding", "chunked", false},
		{"Keep-Alive", "Keep-Alive", "timeout=5", false},
		{"Upgrade", "Upgrade", "h2c", false},
		{"Content-Length twice", "Content-Length", "16", false},
	}
	for _, m := range bothModes {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			s := startServer(t, "stream_app", m, 1)
			for _, tc := range cases {
				if tc.plainOnly && m.validated {
					continue
				}
				s.step(t, tc.name, false, func(t *testing.T) {
					c := dialRaw(t, s.addr)
					target := "/bad-header?name=" + url.QueryEscape(tc.header) + "&value=" + url.QueryEscape(tc.value)
					if tc.header == "Content-Length" {
						target += "&times=2"
					}
					c.send(get(target) + get("/after"))
					r := c.mustResponse("GET")
					check500(t, r)
					if vs := r.values("X-Injected"); vs != nil {
						t.Errorf("injected header reached the wire: %q", vs)
					}
					checkPong(t, c, "/after")
					s.waitLog(t, "Traceback")
				})
			}
		})
	}
}
