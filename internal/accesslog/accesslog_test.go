package accesslog

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/gowsgi/gowsgi/internal/httpwire"
)

// lines collects what a Logger writes, checking one Write per line.
type lines struct{ got []string }

func (l *lines) Write(p []byte) (int, error) {
	if bytes.Count(p, []byte("\n")) != 1 || p[len(p)-1] != '\n' {
		panic("a write that is not exactly one line: " + string(p))
	}
	l.got = append(l.got, string(p))
	return len(p), nil
}

var start = time.Date(2026, 11, 22, 10, 0, 0, 123456789, time.UTC)

func entry(f *Format) *Entry {
	e := &Entry{}
	e.Reset(f)
	e.Start = start
	e.Duration = 412 * time.Microsecond
	e.Addr = []byte("127.0.0.1")
	e.Port = []byte("50123")
	e.Method = []byte("GET")
	e.Target = []byte("/x?y")
	e.Proto = []byte("HTTP/1.1")
	e.Status = 200
	e.Bytes = 13
	e.BytesIn = 78
	e.BytesOut = 120
	f.CaptureRequest(e, []httpwire.Header{
		{Name: []byte("Host"), Value: []byte("example.com")},
		{Name: []byte("User-Agent"), Value: []byte("curl/7.88")},
		{Name: []byte("X-Request-Id"), Value: []byte("abc")},
		{Name: []byte("x-request-id"), Value: []byte("second")},
	})
	f.CaptureResponse(e, []byte("200 OK\r\nContent-Type: text/plain\r\nX-Trace: t-1\r\n"))
	return e
}

func withUTC(t *testing.T) {
	old := time.Local
	time.Local = time.UTC
	clockCache.Store(nil)
	t.Cleanup(func() { time.Local = old; clockCache.Store(nil) })
}

func TestDefaultFormat(t *testing.T) {
	withUTC(t)
	f := MustCompile(DefaultFormat)
	var out lines
	New(f, false, &out, 0).Log(entry(f))
	want := `127.0.0.1 - - [22/Nov/2026:10:00:00 +0000] "GET /x?y HTTP/1.1" 200 13 "-" "curl/7.88" 0.000412` + "\n"
	if out.got[0] != want {
		t.Fatalf("got  %q\nwant %q", out.got[0], want)
	}
}

func TestEveryAtom(t *testing.T) {
	withUTC(t)
	f, err := Compile(`%(addr):%(port) %(ltime) %(iso) %(epoch) %(method) %(uri) %(path) %(query) %(proto) %(status) %(bytes) %(bytes_in) %(bytes_out) %(duration) %(msecs) %(usecs) %(referer) %(uagent) %(worker) %(pid) %{X-Request-Id}i %{Missing}i %{X-Trace}o %{content-type}o 100%%`)
	if err != nil {
		t.Fatal(err)
	}
	var out lines
	l := New(f, false, &out, 3)
	l.pid = 4242
	l.Log(entry(f))
	want := `127.0.0.1:50123 22/Nov/2026:10:00:00 +0000 2026-11-22T10:00:00.123Z 1795341600 GET /x?y /x y HTTP/1.1 200 13 78 120 0.000412 0 412 - curl/7.88 3 4242 abc - t-1 text/plain 100%` + "\n"
	if out.got[0] != want {
		t.Fatalf("got  %q\nwant %q", out.got[0], want)
	}
}

func TestJSON(t *testing.T) {
	withUTC(t)
	f := MustCompile(DefaultFormat + ` %{X-Request-Id}i %{X-Trace}o %(worker) %{Absent}i`)
	var out lines
	e := entry(f)
	e.Target = []byte("/caf\xe9?q=\"x\"\\")
	New(f, true, &out, 1).Log(e)
	var m map[string]any
	if err := json.Unmarshal([]byte(out.got[0]), &m); err != nil {
		t.Fatalf("not JSON: %v: %s", err, out.got[0])
	}
	want := map[string]any{
		"time": "2026-11-22T10:00:00.123Z", "level": "INFO", "msg": "access",
		"addr": "127.0.0.1", "ltime": "22/Nov/2026:10:00:00 +0000", "method": "GET",
		"uri": "/café?q=\"x\"\\", "proto": "HTTP/1.1", "status": 200.0, "bytes": 13.0,
		"referer": nil, "uagent": "curl/7.88", "duration": 0.000412,
		"req_x-request-id": "abc", "resp_x-trace": "t-1", "worker": 1.0, "req_absent": nil,
	}
	for k, v := range want {
		if got, ok := m[k]; !ok || got != v {
			t.Errorf("%s = %#v (present %v), want %#v", k, got, ok, v)
		}
	}
	if len(m) != len(want) {
		t.Errorf("keys %v, want those of %v", m, want)
	}
}

// TestTextEscapes: nothing a client sends can split a line or forge a
// quoted field.
func TestTextEscapes(t *testing.T) {
	f := MustCompile(`"%(uagent)" "%(uri)"`)
	var out lines
	e := &Entry{}
	e.Reset(f)
	e.Target = []byte("/a\"b")
	f.CaptureRequest(e, []httpwire.Header{{Name: []byte("User-Agent"), Value: []byte("x\" \"y\n\x01\\\xff")}})
	New(f, false, &out, 0).Log(e)
	want := `"x\x22 \x22y\x0a\x01\x5c\xff" "/a\x22b"` + "\n"
	if out.got[0] != want {
		t.Fatalf("got  %q\nwant %q", out.got[0], want)
	}
}

func TestSetRequestHeaderAndCut(t *testing.T) {
	f := MustCompile(`%{X-Long}i|%(referer)`)
	if got := f.RequestHeaders(); strings.Join(got, ",") != "x-long,referer" {
		t.Fatalf("request headers %v", got)
	}
	var out lines
	e := &Entry{}
	e.Reset(f)
	e.SetRequestHeader(0, bytes.Repeat([]byte("a"), 5000))
	e.SetRequestHeader(1, []byte("http://r/"))
	e.SetRequestHeader(7, []byte("out of range"))
	New(f, false, &out, 0).Log(e)
	if want := strings.Repeat("a", maxHeaderValue) + "|http://r/\n"; out.got[0] != want {
		t.Fatalf("got %q", out.got[0])
	}
	// A reused entry forgets the last request's values.
	e.Reset(f)
	New(f, false, &out, 0).Log(e)
	if out.got[1] != "-|-\n" {
		t.Fatalf("after Reset: %q", out.got[1])
	}
}

func TestCompileErrors(t *testing.T) {
	for _, bad := range []string{"%", "%(nope)", "%(addr", "%{X}", "%{X}x", "%{}i", "%{a b}i", "%d", "%{X"} {
		if _, err := Compile(bad); err == nil {
			t.Errorf("%q compiled", bad)
		}
	}
	if f, err := Compile("plain text, no atoms"); err != nil || f.WantsResponseHeaders() {
		t.Fatalf("plain text: %v", err)
	}
}

func TestAppendSeconds(t *testing.T) {
	for d, want := range map[time.Duration]string{0: "0.000000", 412 * time.Microsecond: "0.000412", 1500 * time.Nanosecond: "0.000002", 90*time.Second + time.Millisecond: "90.001000", -time.Second: "0.000000"} {
		if got := string(appendSeconds(nil, d)); got != want {
			t.Errorf("%v: %q, want %q", d, got, want)
		}
	}
}

// BenchmarkLogLine is the access log's cost per request: capturing the
// headers and formatting the default line into a reused buffer.
func BenchmarkLogLine(b *testing.B) {
	f := MustCompile(DefaultFormat)
	l := New(f, false, discard{}, 0)
	hs := []httpwire.Header{
		{Name: []byte("Host"), Value: []byte("example.com")},
		{Name: []byte("User-Agent"), Value: []byte("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36")},
		{Name: []byte("Accept"), Value: []byte("*/*")},
		{Name: []byte("Referer"), Value: []byte("https://example.com/page")},
	}
	e := &Entry{Addr: []byte("192.168.1.20"), Method: []byte("GET"), Target: []byte("/api/items?page=2"), Proto: []byte("HTTP/1.1"), Status: 200, Bytes: 1234, Duration: 812 * time.Microsecond}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		e.Reset(f)
		f.CaptureRequest(e, hs)
		e.Start = time.Now()
		l.Log(e)
	}
}

func BenchmarkLogLineJSON(b *testing.B) {
	f := MustCompile(DefaultFormat)
	l := New(f, true, discard{}, 0)
	e := &Entry{Addr: []byte("192.168.1.20"), Method: []byte("GET"), Target: []byte("/api/items?page=2"), Proto: []byte("HTTP/1.1"), Status: 200, Bytes: 1234, Duration: 812 * time.Microsecond}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		e.Reset(f)
		e.Start = time.Now()
		l.Log(e)
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
