package pyembed

import (
	"bytes"
	"io"
	"os"
	"strings"
	"sync"
	"testing"
)

// recorder is an Exchange that keeps what the bridge sends.
type recorder struct {
	head   []byte
	body   bytes.Buffer
	finals int
	flags  int
	in     io.Reader
}

func (r *recorder) Write(head []byte, body [][]byte, flags int) int {
	if head != nil {
		r.head = append([]byte(nil), head...)
	}
	for _, b := range body {
		r.body.Write(b)
	}
	if flags&WriteFinal != 0 {
		r.finals++
		r.flags = flags
	}
	return OK
}

func (r *recorder) Wait() int { return OK }

func (r *recorder) ReadBody(p []byte) (int, error) {
	if r.in == nil {
		return 0, io.EOF
	}
	return r.in.Read(p)
}

var (
	logMu    sync.Mutex
	logLines []string
)

func TestMain(m *testing.M) {
	LogFunc = func(slot, level int, msg string) {
		logMu.Lock()
		logLines = append(logLines, msg)
		logMu.Unlock()
	}
	wd, _ := os.Getwd()
	_, err := Start(Options{Program: "pyembed.test", Paths: []string{wd + "/testdata"}, Threads: 2}, App{Module: "bridgeapps", Callable: "hello"})
	if err != nil {
		panic(err)
	}
	os.Exit(m.Run())
}

// use switches the application; tests using it must not run in parallel.
func use(t testing.TB, callable string) {
	t.Helper()
	if err := loadApp(App{Module: "bridgeapps", Callable: callable}); err != nil {
		t.Fatal(err)
	}
}

func run(t testing.TB, env *Environ, body []byte, in io.Reader) *recorder {
	t.Helper()
	r := &recorder{in: in}
	if _, err := Slots()[0].Run(r, env.Bytes(), body, in != nil, false); err != nil {
		t.Fatal(err)
	}
	if r.finals != 1 {
		t.Fatalf("want exactly one final write, got %d", r.finals)
	}
	return r
}

func basicEnviron() *Environ {
	var e Environ
	e.AddString(KeyRequestMethod, "GET")
	e.AddString(KeyPathInfo, "/")
	e.AddString(KeyQueryString, "")
	return &e
}

func TestHelloHeadAndBody(t *testing.T) {
	use(t, "hello")
	r := run(t, basicEnviron(), nil, nil)
	if got := string(r.head); got != "200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n" {
		t.Fatalf("head %q", got)
	}
	if r.body.String() != "Hello, World!" {
		t.Fatalf("body %q", r.body.String())
	}
}

func TestEnvironKeysAndLatin1Values(t *testing.T) {
	use(t, "environ_types")
	e := basicEnviron()
	e.Add(KeyPathInfo, []byte("/caf\xc3\xa9")) // percent-decoded UTF-8 bytes reach Python as latin-1
	e.AddNamed([]byte("HTTP_X_CUSTOM"), []byte("v"))
	e.AddNamed([]byte("HTTP_USER_AGENT"), []byte("ua")) // an interned key
	r := run(t, e, nil, nil)
	out := r.body.String()
	for _, want := range []string{
		"PATH_INFO=str:/cafÃ©", "HTTP_X_CUSTOM=str:v", "HTTP_USER_AGENT=str:ua",
		"REQUEST_METHOD=str:GET", "SCRIPT_NAME=str:", "wsgi.url_scheme=str:http",
		"wsgi.version=tuple", "wsgi.input=Input", "wsgi.errors=Errors", "wsgi.multithread=bool",
		"wsgi.input_terminated=bool", "wsgi.file_wrapper=type",
	} {
		if !strings.Contains(out, want+"\n") && !strings.HasSuffix(out, want) {
			t.Errorf("environ lacks %q:\n%s", want, out)
		}
	}
}

func TestBodyFromMemoryAndStream(t *testing.T) {
	use(t, "echo_body")
	body := []byte("first line\nsecond\nthird")
	r := run(t, basicEnviron(), body, nil)
	if got := r.body.String(); got != "first line\n|second\nthird" {
		t.Fatalf("memory body: %q", got)
	}
	big := strings.Repeat("x", 200000) + "\n" + strings.Repeat("y", 70000)
	r = run(t, basicEnviron(), nil, strings.NewReader(big))
	want := strings.Repeat("x", 200000) + "\n|" + strings.Repeat("y", 70000)
	if got := r.body.String(); got != want {
		t.Fatalf("streamed body: %d bytes, want %d", len(got), len(want))
	}
}

func TestStreamingWriteAndGenerator(t *testing.T) {
	use(t, "stream")
	r := run(t, basicEnviron(), nil, nil)
	if r.body.String() != "abc" || !strings.HasPrefix(string(r.head), "200 OK\r\n") {
		t.Fatalf("head %q body %q", r.head, r.body.String())
	}
}

func TestAppErrorsGive500AndATraceback(t *testing.T) {
	for _, app := range []string{"raises", "str_chunk"} {
		use(t, app)
		logMu.Lock()
		logLines = nil
		logMu.Unlock()
		r := run(t, basicEnviron(), nil, nil)
		if !strings.HasPrefix(string(r.head), "500 ") {
			t.Errorf("%s: head %q", app, r.head)
		}
		logMu.Lock()
		logged := strings.Join(logLines, "\n")
		logMu.Unlock()
		if !strings.Contains(logged, "Traceback") && !strings.Contains(logged, "must be bytes") {
			t.Errorf("%s: log lacks the error: %q", app, logged)
		}
	}
}

func TestHeaderInjectionRefusedInStartResponse(t *testing.T) {
	use(t, "bad_header")
	r := run(t, basicEnviron(), nil, nil)
	if !strings.HasPrefix(string(r.head), "500 ") || !strings.Contains(r.body.String(), "refused: header value must not contain control characters") {
		t.Fatalf("head %q body %q", r.head, r.body.String())
	}
}

func TestWSGIErrorsLogsLineByLine(t *testing.T) {
	use(t, "errors_stream")
	logMu.Lock()
	logLines = nil
	logMu.Unlock()
	run(t, basicEnviron(), nil, nil)
	logMu.Lock()
	defer logMu.Unlock()
	if strings.Join(logLines, "|") != "line one|line two" {
		t.Fatalf("log lines %q", logLines)
	}
}

func TestEnvironEntriesRoundTrip(t *testing.T) {
	e := basicEnviron()
	e.AddNamed([]byte("HTTP_X_A"), []byte("1"))
	e.AddInt(KeyContentLength, 42)
	m := e.Entries()
	if m["HTTP_X_A"] != "1" || m["CONTENT_LENGTH"] != "42" || m["REQUEST_METHOD"] != "GET" {
		t.Fatalf("entries %v", m)
	}
}

func BenchmarkEnvironPack(b *testing.B) {
	var e Environ
	host, ua, accept := []byte("example.com"), []byte("Mozilla/5.0 (X11; Linux x86_64)"), []byte("text/html,*/*;q=0.8")
	b.ReportAllocs()
	for b.Loop() {
		e.Reset()
		e.AddString(KeyRequestMethod, "GET")
		e.AddString(KeyPathInfo, "/index")
		e.AddString(KeyQueryString, "a=1")
		e.AddString(KeyServerProtocol, "HTTP/1.1")
		e.AddString(KeyRemoteAddr, "127.0.0.1")
		e.AddNamed([]byte("HTTP_HOST"), host)
		e.AddNamed([]byte("HTTP_USER_AGENT"), ua)
		e.AddNamed([]byte("HTTP_ACCEPT"), accept)
		e.AddNamed([]byte("HTTP_X_REQUEST_ID"), host)
	}
}

// BenchmarkRunHello is the whole call path for hello-world: GIL, environ
// from the packed buffer, the app, the response to Go.
func BenchmarkRunHello(b *testing.B) {
	use(b, "hello")
	e := basicEnviron()
	e.AddNamed([]byte("HTTP_HOST"), []byte("example.com"))
	e.AddNamed([]byte("HTTP_USER_AGENT"), []byte("bench"))
	r := &recorder{}
	sl := Slots()[0]
	b.ReportAllocs()
	for b.Loop() {
		r.body.Reset()
		r.finals = 0
		sl.Run(r, e.Bytes(), nil, false, false)
	}
}
