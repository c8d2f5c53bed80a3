package e2e

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// makeBody returns n deterministic bytes cut into lines of random length,
// with some lines longer than the server's 64 KiB read buffer so readline
// has to join refills, and no newline at the very end.
func makeBody(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 42))
	b := make([]byte, 0, n)
	for len(b) < n {
		lineLen := r.IntN(200)
		switch r.IntN(50) {
		case 0:
			lineLen = 70_000 + r.IntN(60_000)
		case 1:
			lineLen = 0 // an empty line
		}
		for i := 0; i < lineLen && len(b) < n-1; i++ {
			b = append(b, byte(' '+r.IntN(95)))
		}
		b = append(b, '\n')
	}
	b = b[:n]
	b[n-1] = 'z'
	return b
}

// bodyReport is body_app.py's reply.
type bodyReport struct {
	Len              int      `json:"len"`
	SHA256           string   `json:"sha256"`
	Calls            int      `json:"calls"`
	Bad              []string `json:"bad"`
	ContentLength    *string  `json:"content_length"`
	TransferEncoding *string  `json:"transfer_encoding"`
}

// onlyReader hides bytes.Reader's type so net/http cannot learn the length and sends the body chunked.
type onlyReader struct{ io.Reader }

func TestRequestBody(t *testing.T) {
	t.Parallel()
	small := makeBody(5000, 1)
	medium := makeBody(300<<10, 2)
	spillChunked := makeBody(3<<20, 3)
	large := makeBody(10<<20, 4)

	type kind struct {
		name    string
		method  string
		body    []byte
		chunked bool // sent with Transfer-Encoding: chunked
		expect  bool // sent with Expect: 100-continue, so the server streams it from the socket
		big     bool // only some read styles, to keep the run short
	}
	kinds := []kind{
		{name: "no body", method: "GET"},
		{name: "empty POST", method: "POST", body: []byte{}},
		{name: "content-length", method: "POST", body: small},
		{name: "chunked", method: "POST", body: medium, chunked: true},
		{name: "chunked over post-buffering", method: "PUT", body: spillChunked, chunked: true, big: true},
		{name: "10 MiB to a temp file", method: "POST", body: large, big: true},
		{name: "100-continue streamed", method: "POST", body: medium, expect: true},
	}
	styles := []struct {
		path      string
		plainOnly bool // wsgiref.validate insists on read(size): read() is not allowed there
		big       bool
	}{
		{"/read", true, true},
		{"/read-cl", false, true},
		{"/read-n?n=7", false, false},
		{"/read-n?n=65536", false, true},
		{"/readline", false, true},
		{"/readline-n?n=100", false, true},
		{"/readlines?n=4096", false, true},
		{"/iter", false, true},
	}

	for _, m := range bothModes {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			s := startServer(t, "body_app", m, 1)
			client := s.client(t)
			for _, k := range kinds {
				for _, st := range styles {
					if st.plainOnly && m.validated || k.big && !st.big {
						continue
					}
					s.step(t, k.name+" "+st.path, true, func(t *testing.T) {
						var rd io.Reader = http.NoBody
						if k.body != nil {
							rd = bytes.NewReader(k.body)
						}
						req, err := http.NewRequest(k.method, s.url(st.path), rd)
						if err != nil {
							t.Fatal(err)
						}
						if k.chunked {
							req.Body = io.NopCloser(onlyReader{bytes.NewReader(k.body)})
							req.ContentLength = -1
						}
						if k.expect {
							req.Header.Set("Expect", "100-continue")
						}
						resp, err := client.Do(req)
						if err != nil {
							t.Fatal(err)
						}
						raw, err := io.ReadAll(resp.Body)
						resp.Body.Close()
						if err != nil || resp.StatusCode != 200 {
							t.Fatalf("status %d, err %v, body %q", resp.StatusCode, err, raw)
						}
						var got bodyReport
						if err := json.Unmarshal(raw, &got); err != nil {
							t.Fatalf("bad JSON %q: %v", raw, err)
						}
						sum := sha256.Sum256(k.body)
						if got.Len != len(k.body) || got.SHA256 != hex.EncodeToString(sum[:]) {
							t.Errorf("app read %d bytes (sha256 %s), sent %d (sha256 %x)", got.Len, got.SHA256, len(k.body), sum)
						}
						if len(got.Bad) > 0 {
							t.Errorf("wsgi.input misbehaved: %q", got.Bad)
						}
						// CONTENT_LENGTH is there exactly when the request has a body
						// length: sent, or known once the chunked body was received.
						wantCL := ""
						if k.body != nil {
							wantCL = strconv.Itoa(len(k.body))
						}
						if gotCL := deref(got.ContentLength); gotCL != wantCL {
							t.Errorf("CONTENT_LENGTH %q, want %q", gotCL, wantCL)
						}
						if got.TransferEncoding != nil {
							t.Errorf("HTTP_TRANSFER_ENCODING %q reached the app, but the server decoded the body", *got.TransferEncoding)
						}
					})
				}
			}
		})
	}
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// TestLimitPostChunked: --limit-post refuses a chunked body once it
// passes the limit, whether the server receives it first or the
// application streams it (Expect: 100-continue).
func TestLimitPostChunked(t *testing.T) {
	t.Parallel()
	s := startServer(t, "body_app", plain, 1, "--limit-post", "100000")
	chunks := func(n int) string {
		var b strings.Builder
		piece := strings.Repeat("x", 1000)
		for range n {
			b.WriteString("3e8\r\n" + piece + "\r\n")
		}
		return b.String() + "0\r\n\r\n"
	}
	for _, expect := range []bool{false, true} {
		head := "POST /read HTTP/1.1\r\nHost: e2e.test\r\nTransfer-Encoding: chunked\r\n"
		if expect {
			head += "Expect: 100-continue\r\n"
		}
		// Under the limit: read whole.
		c := dialRaw(t, s.addr)
		c.send(head + "\r\n" + chunks(50))
		r := c.mustResponse("POST")
		if r.status == 100 {
			r = c.mustResponse("POST")
		}
		if r.status != 200 || !strings.Contains(string(r.body), `"len": 50000`) {
			t.Errorf("expect %v, 50,000 bytes under a 100,000 limit: %v %s", expect, r, r.body)
		}
		c.close()
		// Over it: 413 and the connection closes, the app never has it all.
		c = dialRaw(t, s.addr)
		c.send(head + "\r\n" + chunks(150))
		r = c.mustResponse("POST")
		if r.status == 100 {
			r = c.mustResponse("POST")
		}
		if r.status != 413 {
			t.Errorf("expect %v, 150,000 bytes over a 100,000 limit: %v %s", expect, r, r.body)
		}
		c.expectClosed()
	}
}

// TestExpectContinue: the 100 Continue interim response is sent only when
// the application starts reading the body, and never to an application
// that answers without reading it (RFC 9110 §10.1.1).
func TestExpectContinue(t *testing.T) {
	t.Parallel()
	for _, m := range bothModes {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			s := startServer(t, "body_app", m, 1)
			body := makeBody(200<<10, 5)

			s.step(t, "sent once the app reads", true, func(t *testing.T) {
				gate := filepath.Join(t.TempDir(), "gate")
				c := dialRaw(t, s.addr)
				c.send(fmt.Sprintf("POST /gated-read?gate=%s HTTP/1.1\r\nHost: e2e.test\r\nContent-Length: %d\r\nExpect: 100-continue\r\n\r\n",
					url.QueryEscape(gate), len(body)))
				// The app is blocked before reading: no 100 Continue yet.
				c.expectSilence(300 * time.Millisecond)
				if err := os.WriteFile(gate, nil, 0o644); err != nil {
					t.Fatal(err)
				}
				r := c.mustResponse("POST")
				if r.statusLine != "HTTP/1.1 100 Continue" || len(r.headers) != 0 {
					t.Fatalf("want a bare 100 Continue once the app reads, got %v", r)
				}
				c.send(string(body))
				r = c.mustResponse("POST")
				want := fmt.Sprintf(`{"len": %d, "sha256": "%x"}`, len(body), sha256.Sum256(body))
				checkHead(t, r, "HTTP/1.1 200 OK", "Content-Type: application/json", "Content-Length: "+strconv.Itoa(len(want)))
				checkBody(t, r, want)
				// The body was read entirely, so the connection can serve another request.
				c.send("GET /read-n?n=10 HTTP/1.1\r\nHost: e2e.test\r\n\r\n")
				if r := c.mustResponse("GET"); r.status != 200 {
					t.Errorf("request after the 100-continue exchange: %v", r)
				}
			})

			s.step(t, "not sent when the app does not read", true, func(t *testing.T) {
				c := dialRaw(t, s.addr)
				c.send(fmt.Sprintf("POST /no-read HTTP/1.1\r\nHost: e2e.test\r\nContent-Length: %d\r\nExpect: 100-continue\r\n\r\n", len(body)))
				r := c.mustResponse("POST")
				// The server cannot know whether the client will send the body
				// anyway, so it must close the connection after the response.
				checkHead(t, r, "HTTP/1.1 200 OK", "Content-Type: text/plain", "Content-Length: 8", "Connection: close")
				checkBody(t, r, "not read")
				c.expectClosed()
			})
		})
	}
}
