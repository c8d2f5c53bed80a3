// Package e2e runs the gowsgi binary against the Python apps in testapps/
// over real sockets and checks what PEP 3333 and HTTP/1.1 require on the
// wire. The binary is built once, with the race detector, so data races in
// the server under real traffic fail the tests too.
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const (
	startTimeout = 15 * time.Second // the server must be listening by then
	stopTimeout  = 10 * time.Second // SIGTERM to exit
	ioTimeout    = 10 * time.Second // any one request/response exchange
)

var (
	binPath string // the race-enabled gowsgi built by TestMain
	appsDir string // testapps/, given to every server as --chdir
)

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	gomod := strings.TrimSpace(string(out))
	if err != nil || gomod == "" || gomod == os.DevNull {
		fmt.Fprintf(os.Stderr, "e2e: cannot find the module root (go env GOMOD: %q, %v)\n", gomod, err)
		return 1
	}
	root := filepath.Dir(gomod)
	appsDir = filepath.Join(root, "testapps")
	tmp, err := os.MkdirTemp("", "gowsgi-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(tmp)
	binPath = filepath.Join(tmp, "gowsgi")
	build := exec.Command("go", "build", "-race", "-o", binPath, "./cmd/gowsgi")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: building gowsgi failed: %v\n%s", err, out)
		return 1
	}
	return m.Run()
}

// syncBuffer collects a process's output; tests read it while the process writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *syncBuffer) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Len()
}

// From returns what was written after the first off bytes.
func (b *syncBuffer) From(off int) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf.Bytes()[off:])
}

// mode is one way of running an app: the bare callable, or the same one
// wrapped in wsgiref.validate (each app exports both), so the server is
// also checked against the reference validator.
type mode struct {
	name      string
	validated bool
}

var (
	plain     = mode{"application", false}
	validated = mode{"validated", true}
	bothModes = []mode{plain, validated}
)

// server is one running gowsgi process.
type server struct {
	addr      string
	log       *syncBuffer // stdout and stderr together
	validated bool
	threads   int

	cmd     *exec.Cmd
	exited  chan struct{} // closed when the process has exited
	waitErr error         // valid once exited is closed
}

// startServer runs gowsgi for module:callable (callable from m) on a free
// port with testapps as its directory, and stops it when the test ends.
func startServer(t *testing.T, module string, m mode, threads int, extra ...string) *server {
	t.Helper()
	callable := m.name
	// A short graceful timeout: a request the server never finishes then
	// shows as a failed exit with the server's own warning, well before
	// stop gives up.
	args := []string{"--module", module, "--callable", callable, "--threads", strconv.Itoa(threads), "--graceful-timeout", "5s"}
	s := launch(t, append(args, extra...)...)
	s.validated = m.validated
	s.threads = threads
	return s
}

// command prepares the binary to run with args. The race runtime sleeps
// 1 s at exit by default, for goroutines still running then to report;
// races met while serving are reported as they happen, so 100 ms is
// enough and saves most of a second per process.
func command(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, binPath, args...)
	cmd.Env = append(os.Environ(), "GORACE="+strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=100"))
	return cmd
}

// runExit runs the binary with exactly args in dir (the test's own
// directory when ""), env added, and requires it to exit within limit. It
// returns the exit status and the output, and fails on a data race.
func runExit(t *testing.T, limit time.Duration, dir string, env []string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cmd := command(ctx, args...)
	cmd.Dir = dir
	cmd.Env = append(cmd.Env, env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("gowsgi %s did not exit within %v; stderr:\n%s", strings.Join(args, " "), limit, errb.String())
	}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		code = ee.ExitCode()
	default:
		t.Fatalf("running gowsgi: %v", err)
	}
	if strings.Contains(errb.String(), "WARNING: DATA RACE") {
		t.Errorf("the race detector found a data race:\n%s", errb.String())
	}
	return code, out.String(), errb.String()
}

var listeningRe = regexp.MustCompile(`level=INFO msg=listening addr=(\S+) proto=http`)

// launch starts the binary with args plus --chdir and --http, waits for the
// listening line, and registers a cleanup that stops it and checks its log.
func launch(t *testing.T, args ...string) *server {
	t.Helper()
	args = append([]string{"--chdir", appsDir, "--http", "127.0.0.1:0"}, args...)
	return startCmd(t, command(context.Background(), args...), "gowsgi "+strings.Join(args, " "))
}

// startCmd starts cmd (a gowsgi command line), waits for its listening
// line and registers a cleanup that stops it and checks its log; what names
// it in failures.
func startCmd(t *testing.T, cmd *exec.Cmd, what string) *server {
	t.Helper()
	s := spawn(t, cmd, what)
	t.Cleanup(func() { s.stop(t) })
	s.awaitReady(t, what, startTimeout, s.log.String, s.listening)
	return s
}

// listening reports whether log has the HTTP listening line, and takes its address.
func (s *server) listening(log string) bool {
	if m := listeningRe.FindStringSubmatch(log); m != nil {
		s.addr = m[1]
		return true
	}
	return false
}

// spawn starts cmd with its stdout and stderr in the server's log and
// notes its exit; the caller registers the cleanup and waits for readiness.
func spawn(t *testing.T, cmd *exec.Cmd, what string) *server {
	t.Helper()
	s := &server{log: &syncBuffer{}, exited: make(chan struct{}), threads: 1, cmd: cmd}
	s.cmd.Stdout = s.log
	s.cmd.Stderr = s.log
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", what, err)
	}
	go func() {
		s.waitErr = s.cmd.Wait()
		close(s.exited)
	}()
	return s
}

// awaitReady polls log (every 10 ms, for up to timeout) until ready says
// the server is up; it fails the test if the process exits first.
func (s *server) awaitReady(t *testing.T, what string, timeout time.Duration, log func() string, ready func(log string) bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !ready(log()) {
		select {
		case <-s.exited:
			t.Fatalf("%s exited before listening (%v); log:\n%s", what, s.waitErr, log())
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s was not listening after %v; log:\n%s", what, timeout, log())
		}
	}
}

// killAtEnd registers a cleanup for a test that stops the server itself:
// a server still running is killed, and log is checked for data races.
func (s *server) killAtEnd(t *testing.T, log func() string) {
	t.Cleanup(func() {
		select {
		case <-s.exited:
		default:
			s.cmd.Process.Kill()
			<-s.exited
		}
		if strings.Contains(log(), "WARNING: DATA RACE") {
			t.Errorf("the race detector found a data race in the server")
		}
		if t.Failed() {
			t.Logf("server log:\n%s", log())
		}
	})
}

// stop sends SIGTERM and requires a clean exit (status 0) within stopTimeout,
// then checks the whole log for races and, for validated apps, validator errors.
func (s *server) stop(t *testing.T) {
	select {
	case <-s.exited:
		t.Errorf("gowsgi exited by itself during the test (%v)", s.waitErr)
	default:
		s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.exited:
			if s.waitErr != nil {
				t.Errorf("gowsgi did not exit cleanly on SIGTERM: %v", s.waitErr)
			}
		case <-time.After(stopTimeout):
			s.cmd.Process.Kill()
			<-s.exited
			t.Errorf("gowsgi did not exit within %v of SIGTERM; killed", stopTimeout)
		}
	}
	log := s.log.String()
	if strings.Contains(log, "WARNING: DATA RACE") {
		t.Errorf("the race detector found a data race in the server")
	}
	if s.validated && strings.Contains(log, "AssertionError") {
		t.Errorf("wsgiref.validate rejected something the server did")
	}
	if t.Failed() {
		t.Logf("server log:\n%s", log)
	}
}

// step runs one scenario as a subtest and then checks the log lines it
// caused: never a validator AssertionError, and no traceback unless the
// scenario makes the application fail on purpose (clean == false).
// Subtests of one server run one after the other so the lines can be told apart.
func (s *server) step(t *testing.T, name string, clean bool, fn func(t *testing.T)) {
	t.Helper()
	t.Run(name, func(t *testing.T) {
		mark := s.log.Len()
		fn(t)
		s.settle(t)
		logged := s.log.From(mark)
		if s.validated && strings.Contains(logged, "AssertionError") {
			t.Errorf("wsgiref.validate raised AssertionError; log since the scenario began:\n%s", logged)
		}
		if clean && strings.Contains(logged, "Traceback") {
			t.Errorf("unexpected traceback in the log:\n%s", logged)
		}
	})
}

// settle waits until every earlier request has completely finished in
// Python. With one request thread, requests run in order, so a request
// that completes proves that the ones before it (including the garbage
// collection of their iterables, where wsgiref.validate reports a missing
// close()) are done. With more threads it proves nothing and is skipped.
func (s *server) settle(t *testing.T) {
	t.Helper()
	if s.threads != 1 {
		return
	}
	c := dialRaw(t, s.addr)
	defer c.close()
	c.send("GET /__settle HTTP/1.1\r\nHost: e2e.test\r\nConnection: close\r\n\r\n")
	if _, err := c.readResponse("GET"); err != nil {
		t.Fatalf("settling request failed: %v", err)
	}
}

// waitLog waits up to 2 s for substr to appear in the log: log lines are
// written after the response that caused them may already have arrived.
func (s *server) waitLog(t *testing.T, substr string) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for !strings.Contains(s.log.String(), substr) {
		if time.Now().After(deadline) {
			t.Errorf("log does not contain %q", substr)
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// accessLogBytes waits for the access log line of the request whose
// target contains substr and returns its body bytes (the field after the
// status in the default format).
func (s *server) accessLogBytes(t *testing.T, substr string) int64 {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		for _, line := range strings.Split(s.log.String(), "\n") {
			_, rest, ok := strings.Cut(line, substr)
			if !ok {
				continue
			}
			if _, after, ok := strings.Cut(rest, "\" "); ok {
				if f := strings.Fields(after); len(f) >= 2 {
					if n, err := strconv.ParseInt(f[1], 10, 64); err == nil {
						return n
					}
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no access log line for %q", substr)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// openSockets counts the server process's open sockets (Linux /proc), to
// see whether it still holds connections its clients have left.
func (s *server) openSockets(t *testing.T) int {
	t.Helper()
	dir := fmt.Sprintf("/proc/%d/fd", s.cmd.Process.Pid)
	fds, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("counting the server's sockets: %v", err)
	}
	n := 0
	for _, fd := range fds {
		if target, err := os.Readlink(filepath.Join(dir, fd.Name())); err == nil && strings.HasPrefix(target, "socket:") {
			n++
		}
	}
	return n
}

// waitSockets waits up to 2 s for the server to be down to want open sockets.
func (s *server) waitSockets(t *testing.T, want int) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for {
		n := s.openSockets(t)
		if n == want {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("the server holds %d sockets, want %d: it keeps a connection its client has closed", n, want)
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ---------------------------------------------------------------- raw sockets

// rawConn is a client connection on which requests are written byte for
// byte and responses are parsed exactly as they arrive.
type rawConn struct {
	t  testing.TB
	nc *net.TCPConn
	br *bufio.Reader
}

func dialRaw(t testing.TB, addr string) *rawConn {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, ioTimeout)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	c := &rawConn{t: t, nc: nc.(*net.TCPConn), br: bufio.NewReader(nc)}
	t.Cleanup(c.close)
	return c
}

func (c *rawConn) close() { c.nc.Close() }

// localPort is the client's port, which the server reports as REMOTE_PORT.
func (c *rawConn) localPort() string {
	return strconv.Itoa(c.nc.LocalAddr().(*net.TCPAddr).Port)
}

func (c *rawConn) send(s string) {
	c.t.Helper()
	c.nc.SetWriteDeadline(time.Now().Add(ioTimeout))
	if _, err := io.WriteString(c.nc, s); err != nil {
		c.t.Fatalf("writing the request: %v", err)
	}
}

// abort closes the connection with a reset, as a client that goes away does.
func (c *rawConn) abort() {
	c.nc.SetLinger(0)
	c.nc.Close()
}

// header is one response header field as it was on the wire.
type header struct{ name, value string }

// response is a parsed response. Body holds what was received even when
// reading it failed (a cut connection).
type response struct {
	statusLine string
	status     int
	headers    []header
	framing    string // "length", "chunked", "close" (read to EOF) or "none"
	chunks     []int  // chunk sizes, in order, for chunked bodies
	body       []byte
}

func (r *response) String() string {
	var b strings.Builder
	b.WriteString(r.statusLine + "\n")
	for _, h := range r.headers {
		fmt.Fprintf(&b, "%s: %s\n", h.name, h.value)
	}
	fmt.Fprintf(&b, "[framing %s, body %q]", r.framing, r.body)
	return b.String()
}

// values returns every value of the named header (case-insensitive).
func (r *response) values(name string) []string {
	var vs []string
	for _, h := range r.headers {
		if strings.EqualFold(h.name, name) {
			vs = append(vs, h.value)
		}
	}
	return vs
}

// get returns the one value of the named header, or "" when absent.
func (r *response) get(t testing.TB, name string) string {
	t.Helper()
	vs := r.values(name)
	if len(vs) > 1 {
		t.Errorf("header %s appears %d times: %q", name, len(vs), vs)
	}
	if len(vs) == 0 {
		return ""
	}
	return vs[0]
}

// readLine reads one CRLF-terminated line; a bare LF is a protocol error.
func (c *rawConn) readLine() (string, error) {
	line, err := c.br.ReadString('\n')
	if err != nil {
		if err == io.EOF && line == "" {
			return "", io.EOF
		}
		return line, fmt.Errorf("incomplete line %q: %w", line, io.ErrUnexpectedEOF)
	}
	if !strings.HasSuffix(line, "\r\n") {
		return line, fmt.Errorf("line %q does not end in CRLF", line)
	}
	return line[:len(line)-2], nil
}

// readHead reads a status line and headers (deadline ioTimeout).
func (c *rawConn) readHead() (*response, error) {
	c.nc.SetReadDeadline(time.Now().Add(ioTimeout))
	line, err := c.readLine()
	if err != nil {
		return nil, fmt.Errorf("reading the status line: %w", err)
	}
	r := &response{statusLine: line}
	proto, rest, ok := strings.Cut(line, " ")
	if !ok || (proto != "HTTP/1.1" && proto != "HTTP/1.0") || len(rest) < 3 {
		return r, fmt.Errorf("malformed status line %q", line)
	}
	if r.status, err = strconv.Atoi(rest[:3]); err != nil || (len(rest) > 3 && rest[3] != ' ') {
		return r, fmt.Errorf("malformed status line %q", line)
	}
	for {
		line, err := c.readLine()
		if err != nil {
			return r, fmt.Errorf("reading headers: %w", err)
		}
		if line == "" {
			return r, nil
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok || name == "" || strings.ContainsAny(name, " \t") {
			return r, fmt.Errorf("malformed header line %q", line)
		}
		r.headers = append(r.headers, header{name, strings.Trim(value, " \t")})
	}
}

// readBody reads the body that follows r's head on the wire, as framed for
// a request with the given method.
func (c *rawConn) readBody(r *response, method string) error {
	c.nc.SetReadDeadline(time.Now().Add(ioTimeout))
	te, cl := r.values("Transfer-Encoding"), r.values("Content-Length")
	switch {
	case method == "HEAD" || r.status/100 == 1 || r.status == 204 || r.status == 304:
		r.framing = "none"
		return nil
	case len(te) > 0:
		r.framing = "chunked"
		if len(te) != 1 || te[0] != "chunked" || len(cl) > 0 {
			return fmt.Errorf("unexpected framing: Transfer-Encoding %q, Content-Length %q", te, cl)
		}
		for {
			data, last, err := c.readChunk()
			if err != nil {
				r.body = append(r.body, data...)
				return err
			}
			if last {
				return nil
			}
			r.chunks = append(r.chunks, len(data))
			r.body = append(r.body, data...)
		}
	case len(cl) > 0:
		r.framing = "length"
		n, err := strconv.ParseInt(cl[0], 10, 64)
		if len(cl) != 1 || err != nil || n < 0 {
			return fmt.Errorf("bad Content-Length %q", cl)
		}
		r.body = make([]byte, n)
		got, err := io.ReadFull(c.br, r.body)
		r.body = r.body[:got]
		return err
	default:
		r.framing = "close"
		var err error
		r.body, err = io.ReadAll(c.br)
		return err
	}
}

// readChunk reads one chunk of a chunked body; last is set for the
// zero-size last chunk, whose (empty) trailer section is consumed too.
func (c *rawConn) readChunk() (data []byte, last bool, err error) {
	c.nc.SetReadDeadline(time.Now().Add(ioTimeout))
	line, err := c.readLine()
	if err == io.EOF {
		err = io.ErrUnexpectedEOF // the body is not finished until its last chunk
	}
	if err != nil {
		return nil, false, fmt.Errorf("reading a chunk size: %w", err)
	}
	size, err := strconv.ParseInt(line, 16, 64)
	if err != nil || size < 0 {
		return nil, false, fmt.Errorf("bad chunk size line %q", line)
	}
	if size == 0 {
		for {
			line, err := c.readLine()
			if err != nil {
				return nil, false, fmt.Errorf("reading the trailer section: %w", err)
			}
			if line == "" {
				return nil, true, nil
			}
		}
	}
	data = make([]byte, size)
	n, err := io.ReadFull(c.br, data)
	if err != nil {
		return data[:n], false, fmt.Errorf("chunk of %d bytes cut after %d: %w", size, n, io.ErrUnexpectedEOF)
	}
	if crlf, err := c.readLine(); err != nil || crlf != "" {
		return data, false, fmt.Errorf("chunk not followed by CRLF (%q, %v)", crlf, err)
	}
	return data, false, nil
}

// readResponse reads one complete response to a request with the given method.
func (c *rawConn) readResponse(method string) (*response, error) {
	r, err := c.readHead()
	if err != nil {
		return r, err
	}
	return r, c.readBody(r, method)
}

// mustResponse is readResponse that fails the test on any error.
func (c *rawConn) mustResponse(method string) *response {
	c.t.Helper()
	r, err := c.readResponse(method)
	if err != nil {
		c.t.Fatalf("reading the response: %v (so far: %v)", err, r)
	}
	return r
}

// expectClosed requires the server to close the connection with no further byte.
func (c *rawConn) expectClosed() {
	c.t.Helper()
	c.nc.SetReadDeadline(time.Now().Add(ioTimeout))
	rest, err := io.ReadAll(c.br)
	if len(rest) > 0 {
		c.t.Errorf("unexpected bytes before the connection closed: %q", rest)
	}
	if err != nil && !errors.Is(err, syscall.ECONNRESET) {
		c.t.Errorf("waiting for the server to close the connection: %v", err)
	}
}

// expectSilence requires that nothing arrives for d.
func (c *rawConn) expectSilence(d time.Duration) {
	c.t.Helper()
	c.nc.SetReadDeadline(time.Now().Add(d))
	if _, err := c.br.Peek(1); err == nil {
		got, _ := c.br.Peek(c.br.Buffered())
		c.t.Errorf("expected nothing from the server for %v, got %q", d, got)
	} else if ne, ok := err.(net.Error); !ok || !ne.Timeout() {
		c.t.Errorf("expected nothing from the server for %v, got error %v", d, err)
	}
}

// ------------------------------------------------------------------ checks

// checkDate requires exactly one valid, current Date header (RFC 9110 §6.6.1).
func checkDate(t testing.TB, r *response) {
	t.Helper()
	vs := r.values("Date")
	if len(vs) != 1 {
		t.Errorf("want one Date header, got %q", vs)
		return
	}
	d, err := http.ParseTime(vs[0])
	if err != nil || vs[0] != d.UTC().Format(http.TimeFormat) {
		t.Errorf("Date %q is not an IMF-fixdate (%v)", vs[0], err)
		return
	}
	if off := time.Since(d); off > time.Minute || off < -time.Minute {
		t.Errorf("Date %q is %v away from now", vs[0], off)
	}
}

// checkHead compares the status line and the header fields, in order and
// exactly as on the wire, with want; a Date header is checked separately
// and left out of the comparison (its value changes).
func checkHead(t testing.TB, r *response, statusLine string, want ...string) {
	t.Helper()
	if r.statusLine != statusLine {
		t.Errorf("status line %q, want %q", r.statusLine, statusLine)
	}
	checkDate(t, r)
	var got []string
	for _, h := range r.headers {
		if h.name != "Date" {
			got = append(got, h.name+": "+h.value)
		}
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("headers (without Date):\n  got  %q\n  want %q", got, want)
	}
}

func checkBody(t testing.TB, r *response, want string) {
	t.Helper()
	if string(r.body) != want {
		t.Errorf("body %q, want %q", r.body, want)
	}
}

// check500 checks the response the server sends when the application fails before any byte of its response went out.
func check500(t testing.TB, r *response) {
	t.Helper()
	checkHead(t, r, "HTTP/1.1 500 Internal Server Error", "Content-Type: text/plain; charset=utf-8", "Content-Length: 22")
	checkBody(t, r, "Internal Server Error\n")
}

// ----------------------------------------------------------- net/http helpers

// client returns an HTTP client for s that waits up to 5 s for 100
// Continue; its idle connections are closed when the test ends.
func (s *server) client(t testing.TB) *http.Client {
	tr := &http.Transport{
		DisableCompression:    true,
		MaxIdleConnsPerHost:   32,
		ExpectContinueTimeout: 5 * time.Second,
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Timeout: 30 * time.Second, Transport: tr}
}

func (s *server) url(path string) string { return "http://" + s.addr + path }

// getJSON GETs path with a fresh connection and decodes a 200 JSON response into v.
func (s *server) getJSON(t testing.TB, path string, v any) {
	t.Helper()
	c := dialRaw(t, s.addr)
	defer c.close()
	c.send("GET " + path + " HTTP/1.1\r\nHost: e2e.test\r\nConnection: close\r\n\r\n")
	r := c.mustResponse("GET")
	if r.status != 200 {
		t.Fatalf("GET %s: %v", path, r)
	}
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("GET %s: bad JSON %q: %v", path, r.body, err)
	}
}
