package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gowsgi/gowsgi/internal/uwsgiproto"
)

// ------------------------------------------------------------ a launcher

// listeners are the addresses a server logged, by protocol, in order.
type listeners map[string][]string

// appServer is a server started by launchWith.
type appServer struct {
	*server
	ls      listeners
	stopped bool
}

// stopNow stops the server before the test ends (the cleanup then does nothing).
func (a *appServer) stopNow(t *testing.T) {
	t.Helper()
	a.stopped = true
	a.stop(t)
}

var listeningAnyRe = regexp.MustCompile(`level=INFO msg=listening addr=(\S+) proto=(\w+)`)

// launchTimeout bounds a start by launchWith. Importing Django with the
// race detector on a busy machine has been seen to take over 15 s; being
// slow to start is not what these tests are about.
const launchTimeout = 60 * time.Second

// launchWith starts gowsgi with exactly args (plus --chdir testapps first,
// which a later --chdir overrides) and extra environment variables, waits
// until it has logged one listening line per --http and --socket flag, and
// stops it at the end of the test. The harness's launch always adds an
// HTTP listener and cannot set the environment, which the Django project
// needs.
func launchWith(t *testing.T, env []string, args ...string) (*appServer, listeners) {
	t.Helper()
	want := 0
	for _, a := range args {
		if a == "--http" || a == "--socket" {
			want++
		}
	}
	args = append([]string{"--chdir", appsDir}, args...)
	cmd := exec.Command(binPath, args...)
	cmd.Env = append(os.Environ(), env...)
	what := "gowsgi " + strings.Join(args, " ")
	s := spawn(t, cmd, what)
	a := &appServer{server: s}
	t.Cleanup(func() {
		if !a.stopped {
			s.stop(t)
		}
	})
	s.awaitReady(t, what, launchTimeout, s.log.String, func(log string) bool {
		ms := listeningAnyRe.FindAllStringSubmatch(log, -1)
		if len(ms) < want {
			return false
		}
		a.ls = listeners{}
		for _, m := range ms {
			a.ls[m[2]] = append(a.ls[m[2]], m[1])
		}
		if h := a.ls["http"]; len(h) > 0 && !strings.HasPrefix(h[0], "unix:") {
			s.addr = h[0]
		}
		return true
	})
	return a, a.ls
}

// runFailing runs gowsgi with args, which must make it fail at start,
// and returns its exit code and output. It must exit within startTimeout
// (the harness's runToExit allows 5 s, which a loaded machine can exceed
// before the race-enabled binary has even started).
func runFailing(t *testing.T, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, binPath, append([]string{"--chdir", appsDir}, args...)...)
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("gowsgi %s did not exit within %v; output:\n%s", strings.Join(args, " "), startTimeout, out)
	}
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("running gowsgi: %v", err)
	}
	return cmd.ProcessState.ExitCode(), string(out)
}

// sockDir returns a fresh directory for unix sockets. t.TempDir can be
// too deep for the 107-byte socket path limit, so this one sits in /tmp.
func sockDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "gw-e2e-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// --------------------------------------------------------- a uwsgi client

// dialAddr connects to a listener as logged: HOST:PORT or unix:/path.
func dialAddr(t testing.TB, addr string) net.Conn {
	t.Helper()
	network := "tcp"
	if p, ok := strings.CutPrefix(addr, "unix:"); ok {
		network, addr = "unix", p
	}
	nc, err := net.DialTimeout(network, addr, ioTimeout)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { nc.Close() })
	return nc
}

// vars builds a vars list from key, value pairs.
func vars(kv ...string) []uwsgiproto.Var {
	vs := make([]uwsgiproto.Var, 0, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		vs = append(vs, uwsgiproto.Var{Key: []byte(kv[i]), Value: []byte(kv[i+1])})
	}
	return vs
}

// nginxVars are the variables nginx's stock uwsgi_params send for a
// request of uri (plus request headers it passes as HTTP_*); extra pairs
// replace variables of the same name or are added at the end.
func nginxVars(method, uri string, extra ...string) []uwsgiproto.Var {
	path, query, _ := strings.Cut(uri, "?")
	vs := vars(
		"QUERY_STRING", query,
		"REQUEST_METHOD", method,
		"CONTENT_TYPE", "",
		"CONTENT_LENGTH", "",
		"REQUEST_URI", uri,
		"PATH_INFO", path,
		"DOCUMENT_ROOT", "/usr/share/nginx/html",
		"SERVER_PROTOCOL", "HTTP/1.1",
		"REQUEST_SCHEME", "http",
		"REMOTE_ADDR", "203.0.113.7",
		"REMOTE_PORT", "50123",
		"SERVER_PORT", "80",
		"SERVER_NAME", "e2e.test",
		"HTTP_HOST", "e2e.test",
		"HTTP_USER_AGENT", "e2e/1",
	)
	for _, x := range vars(extra...) {
		replaced := false
		for j := range vs {
			if bytes.Equal(vs[j].Key, x.Key) {
				vs[j].Value, replaced = x.Value, true
			}
		}
		if !replaced {
			vs = append(vs, x)
		}
	}
	return vs
}

// uwsgiResult is what came back on one uwsgi connection.
type uwsgiResult struct {
	raw  []byte         // every byte until the server closed
	resp *http.Response // parsed from raw; nil if raw is not a response
	body []byte
}

// rawHeader returns the named header's values as they were on the wire
// (net/http moves Connection and Content-Length out of Header).
func (r *uwsgiResult) rawHeader(name string) []string {
	head, _, _ := bytes.Cut(r.raw, []byte("\r\n\r\n"))
	var vs []string
	for _, line := range strings.Split(string(head), "\r\n")[1:] {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.EqualFold(k, name) {
			vs = append(vs, strings.TrimSpace(v))
		}
	}
	return vs
}

// uwsgiDo sends one packet and body, then reads until the server closes
// the connection (one request per connection) and parses the response.
func uwsgiDo(t testing.TB, addr string, vs []uwsgiproto.Var, body []byte) *uwsgiResult {
	t.Helper()
	return uwsgiSend(t, addr, append(uwsgiproto.Encode(nil, vs), body...))
}

// uwsgiSend writes raw bytes to a uwsgi socket and reads everything back.
func uwsgiSend(t testing.TB, addr string, wire []byte) *uwsgiResult {
	t.Helper()
	nc := dialAddr(t, addr)
	nc.SetDeadline(time.Now().Add(ioTimeout))
	if _, err := nc.Write(wire); err != nil {
		t.Fatalf("writing the packet: %v", err)
	}
	return uwsgiRead(t, nc, "GET")
}

// uwsgiRead reads until the server closes and parses the response to a
// request with the given method.
func uwsgiRead(t testing.TB, nc net.Conn, method string) *uwsgiResult {
	t.Helper()
	nc.SetReadDeadline(time.Now().Add(ioTimeout))
	raw, err := io.ReadAll(nc)
	if err != nil && !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("reading the response: %v (got %q)", err, raw)
	}
	r := &uwsgiResult{raw: raw}
	if len(raw) == 0 {
		return r
	}
	resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(raw)), &http.Request{Method: method})
	if err != nil {
		t.Fatalf("not an HTTP response: %v\n%q", err, raw)
	}
	r.resp = resp
	r.body, err = io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading the response body: %v\n%q", err, raw)
	}
	return r
}

// checkUwsgiFraming checks what a front end reading a uwsgi response
// relies on: an HTTP/1.1 status line, Connection: close, never chunked,
// and, when the length is known, a Content-Length that matches.
func checkUwsgiFraming(t testing.TB, r *uwsgiResult, wantLength bool) {
	t.Helper()
	if r.resp == nil {
		t.Fatalf("no response")
	}
	if !bytes.HasPrefix(r.raw, []byte("HTTP/1.1 ")) {
		t.Errorf("status line %q, want HTTP/1.1", bytes.SplitN(r.raw, []byte("\r\n"), 2)[0])
	}
	if te := r.rawHeader("Transfer-Encoding"); len(te) > 0 {
		t.Errorf("Transfer-Encoding %q on a uwsgi response", te)
	}
	if got := r.rawHeader("Connection"); len(got) != 1 || got[0] != "close" {
		t.Errorf("Connection %q, want close", got)
	}
	cl := strings.Join(r.rawHeader("Content-Length"), ",")
	switch {
	case wantLength && cl != strconv.Itoa(len(r.body)):
		t.Errorf("Content-Length %q for a %d-byte body", cl, len(r.body))
	case !wantLength && cl != "":
		t.Errorf("Content-Length %q on a streamed response", cl)
	}
}

func decodeEnviron(t testing.TB, r *uwsgiResult) map[string]envValue {
	t.Helper()
	if r.resp == nil || r.resp.StatusCode != 200 {
		t.Fatalf("environ request failed: %q", r.raw)
	}
	env := map[string]envValue{}
	if err := json.Unmarshal(r.body, &env); err != nil {
		t.Fatalf("bad JSON from environ_app: %v\n%s", err, r.body)
	}
	return env
}

// randomBytes returns n deterministic bytes of every value.
func randomBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 7))
	b := make([]byte, n)
	for i := 0; i+8 <= n; i += 8 {
		v := r.Uint64()
		for j := 0; j < 8; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	for i := n &^ 7; i < n; i++ {
		b[i] = byte(r.Uint32())
	}
	return b
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// ----------------------------------------------------------------- tests

// TestUwsgiEnviron: the environ is the variables nginx sends, with the
// UWSGI_* ones and the HTTP_ forms of the CGI headers left out, and the
// scheme taken from HTTPS or REQUEST_SCHEME.
func TestUwsgiEnviron(t *testing.T) {
	t.Parallel()
	s, ls := launchWith(t, nil, "--module", "environ_app", "--callable", "validated", "--socket", "127.0.0.1:0")
	s.validated = true
	addr := ls["uwsgi"][0]

	t.Run("nginx get", func(t *testing.T) {
		env := decodeEnviron(t, uwsgiDo(t, addr, nginxVars("GET", "/caf%C3%A9/a%20b?x=%20y&z=1",
			"PATH_INFO", "/caf\xc3\xa9/a b", // nginx decodes $document_uri
			"HTTP_COOKIE", "a=1; b=2",
			"HTTP_X_CUSTOM", "v1, v2",
			"HTTP_PROXY", "http://evil.example:3128", // httpoxy
			"UWSGI_SCRIPT", "os:system",
			"UWSGI_CHDIR", "/",
			"UWSGI_FILE", "/tmp/never-loaded.py",
			"UWSGI_SCHEME", "https",
		), nil))
		checkEnviron(t, env, map[string]string{
			"REQUEST_METHOD":  "GET",
			"SCRIPT_NAME":     "",
			"PATH_INFO":       "/caf\u00c3\u00a9/a b",
			"QUERY_STRING":    "x=%20y&z=1",
			"REQUEST_URI":     "/caf%C3%A9/a%20b?x=%20y&z=1",
			"DOCUMENT_ROOT":   "/usr/share/nginx/html",
			"SERVER_PROTOCOL": "HTTP/1.1",
			"REQUEST_SCHEME":  "http",
			"REMOTE_ADDR":     "203.0.113.7",
			"REMOTE_PORT":     "50123",
			"SERVER_PORT":     "80",
			"SERVER_NAME":     "e2e.test",
			"HTTP_HOST":       "e2e.test",
			"HTTP_USER_AGENT": "e2e/1",
			"HTTP_COOKIE":     "a=1; b=2",
			"HTTP_X_CUSTOM":   "v1, v2",
		}, false)
	})

	// nginx 1.22 sends each header line as its own variable: repeated
	// lines are joined as the HTTP listener joins them.
	t.Run("repeated header lines", func(t *testing.T) {
		env := decodeEnviron(t, uwsgiDo(t, addr, append(nginxVars("GET", "/"), vars(
			"HTTP_COOKIE", "a=1",
			"HTTP_X_A", "1",
			"HTTP_COOKIE", "b=2",
			"HTTP_X_A", "2",
			"HTTP_X_A", "3",
		)...), nil))
		for k, want := range map[string]string{"HTTP_COOKIE": "a=1; b=2", "HTTP_X_A": "1, 2, 3"} {
			if got := env[k]; got.Value != want {
				t.Errorf("%s = %v, want %q", k, got.Value, want)
			}
		}
	})

	t.Run("nginx post", func(t *testing.T) {
		body := []byte("a=b&c=d")
		vs := nginxVars("POST", "/submit",
			"CONTENT_TYPE", "application/x-www-form-urlencoded",
			"CONTENT_LENGTH", "7",
			"HTTP_CONTENT_TYPE", "application/x-www-form-urlencoded", // nginx passes the headers too
			"HTTP_CONTENT_LENGTH", "7",
			"HTTP_TRANSFER_ENCODING", "chunked", // the client's framing, undone by nginx
		)
		env := decodeEnviron(t, uwsgiDo(t, addr, vs, body))
		checkEnviron(t, env, map[string]string{
			"REQUEST_METHOD":  "POST",
			"SCRIPT_NAME":     "",
			"PATH_INFO":       "/submit",
			"QUERY_STRING":    "",
			"REQUEST_URI":     "/submit",
			"CONTENT_TYPE":    "application/x-www-form-urlencoded",
			"CONTENT_LENGTH":  "7",
			"DOCUMENT_ROOT":   "/usr/share/nginx/html",
			"SERVER_PROTOCOL": "HTTP/1.1",
			"REQUEST_SCHEME":  "http",
			"REMOTE_ADDR":     "203.0.113.7",
			"REMOTE_PORT":     "50123",
			"SERVER_PORT":     "80",
			"SERVER_NAME":     "e2e.test",
			"HTTP_HOST":       "e2e.test",
			"HTTP_USER_AGENT": "e2e/1",
		}, false)
	})

	t.Run("minimal packet", func(t *testing.T) {
		// A front end that sends little (Apache's mod_proxy_uwsgi, a bare
		// uwsgi_pass without uwsgi_params) still gives a complete environ.
		env := decodeEnviron(t, uwsgiDo(t, addr, vars(
			"REQUEST_METHOD", "GET",
			"REQUEST_URI", "/x%2Fy%20z?q=1",
			"HTTP_HOST", "example.test:8080",
		), nil))
		checkEnviron(t, env, map[string]string{
			"REQUEST_METHOD":  "GET",
			"SCRIPT_NAME":     "",
			"PATH_INFO":       "/x/y z",
			"QUERY_STRING":    "q=1",
			"REQUEST_URI":     "/x%2Fy%20z?q=1",
			"SERVER_PROTOCOL": "HTTP/1.1",
			"SERVER_NAME":     "example.test",
			"SERVER_PORT":     "8080", // from the Host: this socket's port is not the site's
			"REMOTE_ADDR":     "127.0.0.1",
			"REMOTE_PORT":     env["REMOTE_PORT"].Value.(string),
			"HTTP_HOST":       "example.test:8080",
		}, false)
	})

	t.Run("script name", func(t *testing.T) {
		env := decodeEnviron(t, uwsgiDo(t, addr, nginxVars("GET", "/app/page",
			"SCRIPT_NAME", "/app", "PATH_INFO", "/page"), nil))
		if env["SCRIPT_NAME"].Value != "/app" || env["PATH_INFO"].Value != "/page" {
			t.Errorf("SCRIPT_NAME %v PATH_INFO %v, want them as sent", env["SCRIPT_NAME"].Value, env["PATH_INFO"].Value)
		}
	})

	for _, c := range []struct {
		name   string
		extra  []string
		scheme string
	}{
		{"https on", []string{"HTTPS", "on", "REQUEST_SCHEME", "https", "SERVER_PORT", "443"}, "https"},
		{"request scheme only", []string{"REQUEST_SCHEME", "https"}, "https"},
		{"https off", []string{"HTTPS", "off"}, "http"},
		{"uwsgi scheme ignored", []string{"UWSGI_SCHEME", "https"}, "http"},
	} {
		t.Run(c.name, func(t *testing.T) {
			env := decodeEnviron(t, uwsgiDo(t, addr, nginxVars("GET", "/", c.extra...), nil))
			if got := env["wsgi.url_scheme"].Value; got != c.scheme {
				t.Errorf("wsgi.url_scheme %v, want %s", got, c.scheme)
			}
			for k := range env {
				if strings.HasPrefix(k, "UWSGI_") {
					t.Errorf("environ has %s", k)
				}
			}
		})
	}
	if _, err := os.Stat("/tmp/never-loaded.py"); err == nil {
		t.Errorf("/tmp/never-loaded.py exists")
	}
}

// TestUwsgiFraming: the response is plain HTTP/1.1 on the same connection,
// with a Content-Length when the length is known and ended by closing the
// connection when it is not, and the connection closes after one request.
func TestUwsgiFraming(t *testing.T) {
	t.Parallel()
	// The bare callable: wsgiref.validate would hide that the result is a list of known length.
	_, ls := launchWith(t, nil, "--module", "stream_app", "--socket", "127.0.0.1:0")
	addr := ls["uwsgi"][0]

	t.Run("computed length", func(t *testing.T) {
		r := uwsgiDo(t, addr, nginxVars("GET", "/list1"), nil)
		checkUwsgiFraming(t, r, true)
		if string(r.body) != "hello world" || r.resp.StatusCode != 200 {
			t.Errorf("got %d %q", r.resp.StatusCode, r.body)
		}
		if r.resp.Header.Get("Date") == "" {
			t.Errorf("no Date header")
		}
	})
	t.Run("streamed", func(t *testing.T) {
		r := uwsgiDo(t, addr, nginxVars("GET", "/gen"), nil)
		checkUwsgiFraming(t, r, false)
		if string(r.body) != "one,two,three" {
			t.Errorf("body %q", r.body)
		}
	})
	t.Run("head", func(t *testing.T) {
		nc := dialAddr(t, addr)
		nc.Write(uwsgiproto.Encode(nil, nginxVars("HEAD", "/list1")))
		r := uwsgiRead(t, nc, "HEAD")
		if r.resp == nil || r.resp.StatusCode != 200 {
			t.Fatalf("got %q", r.raw)
		}
		if i := bytes.Index(r.raw, []byte("\r\n\r\n")); i < 0 || i+4 != len(r.raw) {
			t.Errorf("a HEAD response carries a body: %q", r.raw)
		}
	})
	t.Run("one request per connection", func(t *testing.T) {
		// A second packet on the same connection is never read: the
		// connection closes after the first response.
		wire := uwsgiproto.Encode(nil, nginxVars("GET", "/list1"))
		wire = uwsgiproto.Encode(wire, nginxVars("GET", "/gen"))
		r := uwsgiSend(t, addr, wire)
		checkUwsgiFraming(t, r, true)
		if string(r.body) != "hello world" || bytes.Count(r.raw, []byte("HTTP/1.1 ")) != 1 {
			t.Errorf("want exactly one response, got %q", r.raw)
		}
	})
}

// TestUwsgiBody: exactly CONTENT_LENGTH bytes are the body, whatever they
// contain, in memory or spooled to a file; a body cut short never reaches
// the application.
func TestUwsgiBody(t *testing.T) {
	t.Parallel()
	s, ls := launchWith(t, nil, "--module", "body_app", "--callable", "validated", "--socket", "127.0.0.1:0",
		"--post-buffering", "65536", "--limit-post", "8000000")
	s.validated = true
	addr := ls["uwsgi"][0]

	post := func(path string, body []byte, extra ...string) []uwsgiproto.Var {
		return nginxVars("POST", path, append([]string{"CONTENT_LENGTH", strconv.Itoa(len(body)), "CONTENT_TYPE", "application/octet-stream"}, extra...)...)
	}
	t.Run("a packet inside the body is data", func(t *testing.T) {
		smuggled := uwsgiproto.Encode(nil, nginxVars("GET", "/smuggled"))
		body := append([]byte("payload:"), smuggled...)
		wire := uwsgiproto.Encode(nil, post("/echo", body))
		wire = append(wire, body...)
		wire = uwsgiproto.Encode(wire, nginxVars("GET", "/after-the-body")) // never read
		r := uwsgiSend(t, addr, wire)
		checkUwsgiFraming(t, r, true)
		if !bytes.Equal(r.body, append([]byte("echo:"), body...)) {
			t.Errorf("echo %q, want the body with its embedded packet", r.body)
		}
		if n := bytes.Count(r.raw, []byte("HTTP/1.1 ")); n != 1 {
			t.Errorf("%d responses on one connection", n)
		}
	})
	for _, n := range []int{1, 65536, 3 << 20} {
		t.Run(fmt.Sprintf("%d bytes", n), func(t *testing.T) {
			body := randomBytes(n, uint64(n))
			r := uwsgiDo(t, addr, post("/read-n", body), body)
			checkUwsgiFraming(t, r, true)
			var rep bodyReport
			if err := json.Unmarshal(r.body, &rep); err != nil {
				t.Fatalf("bad reply %q: %v", r.body, err)
			}
			if rep.Len != n || rep.SHA256 != sha256Hex(body) || len(rep.Bad) > 0 {
				t.Errorf("app read %d bytes (sha %s, bad %q), want %d (%s)", rep.Len, rep.SHA256, rep.Bad, n, sha256Hex(body))
			}
		})
	}
	t.Run("body cut short", func(t *testing.T) {
		mark := s.log.Len()
		nc := dialAddr(t, addr)
		wire := uwsgiproto.Encode(nil, post("/echo", make([]byte, 1000)))
		nc.Write(append(wire, make([]byte, 10)...))
		nc.(interface{ CloseWrite() error }).CloseWrite()
		if r := uwsgiRead(t, nc, "GET"); len(r.raw) != 0 {
			t.Errorf("a request with a short body got an answer: %q", r.raw)
		}
		s.settleUwsgi(t, addr)
		if strings.Contains(s.log.From(mark), "Traceback") {
			t.Errorf("the application ran:\n%s", s.log.From(mark))
		}
	})
	t.Run("limit-post", func(t *testing.T) {
		body := make([]byte, 9_000_000)
		r := uwsgiDo(t, addr, post("/echo", body), nil)
		if r.resp == nil || r.resp.StatusCode != 413 {
			t.Errorf("want 413, got %q", r.raw)
		}
		s.waitLog(t, "body larger than --limit-post")
	})
}

// settleUwsgi waits for earlier requests to finish (one request thread) by
// sending one more through the uwsgi socket.
func (s *appServer) settleUwsgi(t *testing.T, addr string) {
	t.Helper()
	r := uwsgiDo(t, addr, nginxVars("GET", "/__settle"), nil)
	if r.resp == nil {
		t.Fatalf("settling request failed: %q", r.raw)
	}
}

// TestUwsgiRefusesBadPackets: a packet the server cannot trust is refused
// with a log line and the connection closed; the server goes on serving.
func TestUwsgiRefusesBadPackets(t *testing.T) {
	t.Parallel()
	s, ls := launchWith(t, nil, "--module", "hello", "--socket", "127.0.0.1:0", "--buffer-size", "1024",
		"--header-timeout", "2s")
	addr := ls["uwsgi"][0]
	good := uwsgiproto.Encode(nil, nginxVars("GET", "/"))

	le16 := func(n int) []byte { return []byte{byte(n), byte(n >> 8)} }
	block := func(b ...[]byte) []byte {
		body := bytes.Join(b, nil)
		return append([]byte{0, byte(len(body)), byte(len(body) >> 8), 0}, body...)
	}
	kv := func(k, v string) []byte {
		return bytes.Join([][]byte{le16(len(k)), []byte(k), le16(len(v)), []byte(v)}, nil)
	}
	for _, c := range []struct {
		name   string
		wire   []byte
		status int    // 0: closed without an answer
		log    string // expected in the log
	}{
		{"modifier1", append([]byte{5}, good[1:]...), 400, "modifier1 is 5"},
		{"modifier2", append(append([]byte{}, good[:3]...), append([]byte{1}, good[4:]...)...), 400, "modifier2 is 1"},
		{"key runs past the block", block(le16(50), []byte("KEY")), 400, "runs past the end"},
		{"zero-length key", block(kv("", "x")), 400, "zero-length key"},
		{"duplicate content length", block(kv("REQUEST_METHOD", "POST"), kv("CONTENT_LENGTH", "1"), kv("CONTENT_LENGTH", "1")), 400, "duplicate CONTENT_LENGTH"},
		{"signed content length", block(kv("REQUEST_METHOD", "POST"), kv("CONTENT_LENGTH", "+1")), 400, "not a plain decimal"},
		{"control byte in key", block(kv("BAD\nKEY", "x")), 400, "outside printable ascii"},
		{"no method", block(kv("PATH_INFO", "/")), 400, "without REQUEST_METHOD"},
		{"vars above buffer-size", uwsgiproto.Encode(nil, nginxVars("GET", "/", "HTTP_COOKIE", strings.Repeat("c", 2000))), 431, "vars block larger than --buffer-size"},
		{"http on a uwsgi socket", []byte("GET / HTTP/1.1\r\nHost: e2e.test\r\n\r\n"), 400, "the client speaks http"},
		{"head cut short", good[:len(good)-5], 0, "the connection closed inside it"},
	} {
		t.Run(c.name, func(t *testing.T) {
			mark := s.log.Len()
			nc := dialAddr(t, addr)
			nc.SetDeadline(time.Now().Add(ioTimeout))
			nc.Write(c.wire)
			if c.status == 0 {
				nc.(interface{ CloseWrite() error }).CloseWrite()
			}
			r := uwsgiRead(t, nc, "GET")
			switch {
			case c.status == 0 && len(r.raw) > 0:
				t.Errorf("want the connection closed without an answer, got %q", r.raw)
			case c.status != 0 && (r.resp == nil || r.resp.StatusCode != c.status):
				t.Errorf("want %d, got %q", c.status, r.raw)
			}
			deadline := time.Now().Add(2 * time.Second)
			for !strings.Contains(s.log.From(mark), c.log) {
				if time.Now().After(deadline) {
					t.Fatalf("log since the request lacks %q:\n%s", c.log, s.log.From(mark))
				}
				time.Sleep(10 * time.Millisecond)
			}
			// The server still serves.
			if r := uwsgiSend(t, addr, good); r.resp == nil || r.resp.StatusCode != 200 {
				t.Errorf("a good request after the bad one: %q", r.raw)
			}
		})
	}
	t.Run("silent client", func(t *testing.T) {
		nc := dialAddr(t, addr)
		start := time.Now()
		if r := uwsgiRead(t, nc, "GET"); len(r.raw) != 0 {
			t.Errorf("got %q", r.raw)
		}
		if d := time.Since(start); d < 1500*time.Millisecond || d > 10*time.Second {
			t.Errorf("closed after %v, want the 2s --header-timeout", d)
		}
		s.waitLog(t, "uwsgi connection closed: no packet in time")
	})
}

// TestUwsgiAllowIPs: only --uwsgi-allow-ips may use a TCP uwsgi socket.
func TestUwsgiAllowIPs(t *testing.T) {
	t.Parallel()
	s, ls := launchWith(t, nil, "--module", "hello", "--socket", "127.0.0.1:0", "--uwsgi-allow-ips", "127.0.0.2, 10.0.0.0/8")
	addr := ls["uwsgi"][0]
	packet := uwsgiproto.Encode(nil, nginxVars("GET", "/"))

	from := func(src string) []byte {
		d := net.Dialer{Timeout: ioTimeout, LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
		nc, err := d.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("dial from %s: %v", src, err)
		}
		defer nc.Close()
		nc.SetDeadline(time.Now().Add(ioTimeout))
		nc.Write(packet) // may fail once the server has closed: that is the point
		raw, _ := io.ReadAll(nc)
		return raw
	}
	if raw := from("127.0.0.1"); len(raw) != 0 {
		t.Errorf("127.0.0.1 is not allowed but got %q", raw)
	}
	s.waitLog(t, "uwsgi connection refused: address not in --uwsgi-allow-ips")
	if !strings.Contains(s.log.String(), "remote=127.0.0.1") {
		t.Errorf("the refusal does not name the address:\n%s", s.log)
	}
	if raw := from("127.0.0.2"); !bytes.HasPrefix(raw, []byte("HTTP/1.1 200 ")) {
		t.Errorf("127.0.0.2 is allowed but got %q", raw)
	}
}

// TestUnixSockets: --http and --socket on unix sockets, several listeners
// at once, --chmod-socket, removal on exit, stale files replaced, and
// files that are not stale sockets left alone.
func TestUnixSockets(t *testing.T) {
	t.Parallel()
	dir := sockDir(t)
	httpSock := filepath.Join(dir, "http.sock")
	uwsgiSock := filepath.Join(dir, "uwsgi.sock")

	// A stale socket file, as a killed server leaves it.
	stale, err := net.Listen("unix", uwsgiSock)
	if err != nil {
		t.Fatal(err)
	}
	stale.(*net.UnixListener).SetUnlinkOnClose(false)
	stale.Close()

	s, ls := launchWith(t, nil, "--module", "environ_app", "--chmod-socket", "660",
		"--http", "unix:"+httpSock, "--http", "127.0.0.1:0", "--socket", uwsgiSock, "--socket", "127.0.0.1:0")
	s.waitLog(t, "removed a stale socket file")
	if got := ls["http"]; len(got) != 2 || got[0] != "unix:"+httpSock {
		t.Errorf("http listeners %q", got)
	}
	if got := ls["uwsgi"]; len(got) != 2 || got[0] != "unix:"+uwsgiSock {
		t.Errorf("uwsgi listeners %q", got)
	}
	for _, p := range []string{httpSock, uwsgiSock} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Type() != os.ModeSocket || fi.Mode().Perm() != 0o660 {
			t.Errorf("%s: mode %v, want a socket with 0660", p, fi.Mode())
		}
	}

	t.Run("http over unix", func(t *testing.T) {
		nc := dialAddr(t, "unix:"+httpSock)
		nc.SetDeadline(time.Now().Add(ioTimeout))
		io.WriteString(nc, "GET /x HTTP/1.1\r\nHost: e2e.test:8080\r\nConnection: close\r\n\r\n")
		r := uwsgiRead(t, nc, "GET")
		env := decodeEnviron(t, r)
		checkEnviron(t, env, map[string]string{
			"REQUEST_METHOD":  "GET",
			"SCRIPT_NAME":     "",
			"PATH_INFO":       "/x",
			"QUERY_STRING":    "",
			"REQUEST_URI":     "/x",
			"SERVER_NAME":     "e2e.test",
			"SERVER_PORT":     "80", // a unix socket has no port
			"SERVER_PROTOCOL": "HTTP/1.1",
			"REMOTE_ADDR":     "", // nor does its peer have an address
			"HTTP_HOST":       "e2e.test:8080",
			"HTTP_CONNECTION": "close",
		}, false)
	})
	t.Run("uwsgi over unix", func(t *testing.T) {
		env := decodeEnviron(t, uwsgiDo(t, "unix:"+uwsgiSock, nginxVars("GET", "/y"), nil))
		if env["PATH_INFO"].Value != "/y" || env["REMOTE_ADDR"].Value != "203.0.113.7" {
			t.Errorf("PATH_INFO %v REMOTE_ADDR %v", env["PATH_INFO"].Value, env["REMOTE_ADDR"].Value)
		}
	})
	t.Run("every listener serves", func(t *testing.T) {
		for _, a := range ls["http"] {
			nc := dialAddr(t, a)
			nc.SetDeadline(time.Now().Add(ioTimeout))
			io.WriteString(nc, "GET /h HTTP/1.1\r\nHost: e2e.test\r\nConnection: close\r\n\r\n")
			if env := decodeEnviron(t, uwsgiRead(t, nc, "GET")); env["PATH_INFO"].Value != "/h" {
				t.Errorf("%s: PATH_INFO %v", a, env["PATH_INFO"].Value)
			}
		}
		for _, a := range ls["uwsgi"] {
			if env := decodeEnviron(t, uwsgiDo(t, a, nginxVars("GET", "/u"), nil)); env["PATH_INFO"].Value != "/u" {
				t.Errorf("%s: PATH_INFO %v", a, env["PATH_INFO"].Value)
			}
		}
	})

	t.Run("in use", func(t *testing.T) {
		// A second server on the same path must fail and leave the first one's file alone.
		code, stderr := runFailing(t, "--module", "hello", "--socket", uwsgiSock)
		if code == 0 || !strings.Contains(stderr, "another process listens on it") {
			t.Errorf("exit %d, stderr:\n%s", code, stderr)
		}
		if _, err := os.Stat(uwsgiSock); err != nil {
			t.Errorf("the running server's socket is gone: %v", err)
		}
	})
	t.Run("not a socket", func(t *testing.T) {
		regular := filepath.Join(dir, "regular")
		os.WriteFile(regular, []byte("keep me"), 0o644)
		code, stderr := runFailing(t, "--module", "hello", "--http", "unix:"+regular)
		if code == 0 || !strings.Contains(stderr, "is not a socket") {
			t.Errorf("exit %d, stderr:\n%s", code, stderr)
		}
		if b, err := os.ReadFile(regular); err != nil || string(b) != "keep me" {
			t.Errorf("the regular file was touched: %q %v", b, err)
		}
	})

	s.stopNow(t)
	for _, p := range []string{httpSock, uwsgiSock} {
		if _, err := os.Lstat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s still exists after exit (%v)", p, err)
		}
	}
}

// TestUnixSocketNoVacuum: with --vacuum=false the socket file stays, and
// the next start replaces it as stale.
func TestUnixSocketNoVacuum(t *testing.T) {
	t.Parallel()
	sock := filepath.Join(sockDir(t), "u.sock")
	s, _ := launchWith(t, nil, "--module", "hello", "--socket", sock, "--vacuum=false")
	s.stopNow(t)
	if fi, err := os.Lstat(sock); err != nil || fi.Mode().Type() != os.ModeSocket {
		t.Fatalf("with --vacuum=false the socket should stay: %v", err)
	}
	s2, ls := launchWith(t, nil, "--module", "hello", "--socket", sock)
	s2.waitLog(t, "removed a stale socket file")
	if r := uwsgiDo(t, ls["uwsgi"][0], nginxVars("GET", "/"), nil); r.resp == nil || r.resp.StatusCode != 200 {
		t.Errorf("got %q", r.raw)
	}
}

// TestUwsgiStaticMap: --static-map answers uwsgi requests too, as in
// uWSGI, with the conditional and range headers nginx passes as variables.
func TestUwsgiStaticMap(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	content := []byte("static file content\n")
	if err := os.WriteFile(filepath.Join(dir, "a.txt"), content, 0o644); err != nil {
		t.Fatal(err)
	}
	_, ls := launchWith(t, nil, "--module", "hello", "--socket", "127.0.0.1:0", "--static-map", "/static="+dir)
	addr := ls["uwsgi"][0]

	r := uwsgiDo(t, addr, nginxVars("GET", "/static/a.txt?v=1"), nil)
	checkUwsgiFraming(t, r, true)
	if r.resp.StatusCode != 200 || !bytes.Equal(r.body, content) {
		t.Fatalf("static file: %q", r.raw)
	}
	etag := r.resp.Header.Get("ETag")
	if etag == "" {
		t.Fatalf("no ETag: %q", r.raw)
	}
	if r := uwsgiDo(t, addr, nginxVars("GET", "/static/a.txt", "HTTP_IF_NONE_MATCH", etag), nil); r.resp == nil || r.resp.StatusCode != 304 {
		t.Errorf("If-None-Match: %q", r.raw)
	}
	if r := uwsgiDo(t, addr, nginxVars("GET", "/static/a.txt", "HTTP_RANGE", "bytes=0-5"), nil); r.resp == nil || r.resp.StatusCode != 206 || string(r.body) != "static" {
		t.Errorf("Range: %q", r.raw)
	}
	// A file that is not there goes to the application.
	if r := uwsgiDo(t, addr, nginxVars("GET", "/static/missing.txt"), nil); r.resp == nil || string(r.body) != "Hello, World!" {
		t.Errorf("missing file: %q", r.raw)
	}
}
