package server

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"regexp"
	"runtime"
	"sync"
	"syscall"
	"testing"

	"github.com/gowsgi/gowsgi/config"
	"github.com/gowsgi/gowsgi/internal/accesslog"
	"github.com/gowsgi/gowsgi/internal/httpwire"
	"github.com/gowsgi/gowsgi/internal/logging"
	"github.com/gowsgi/gowsgi/internal/metrics"
)

// lockedLines collects access lines.
type lockedLines struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedLines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedLines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// observedConn is a connection of a server that counts into rec and logs
// to out, over a pipe whose other end is read and thrown away.
func observedConn(t testing.TB, rec *metrics.Recorder, out io.Writer, format string) *conn {
	t.Helper()
	s := testServer(t, config.Defaults())
	var access *accesslog.Logger
	if out != nil {
		access = accesslog.New(accesslog.MustCompile(format), false, out, 0)
	}
	s.Observe(rec, access)
	c := testConn(s, "192.0.2.10")
	client, server := net.Pipe()
	go io.Copy(io.Discard, client)
	t.Cleanup(func() { client.Close(); server.Close() })
	c.nc = server
	c.br = bufio.NewReaderSize(server, readBufferSize)
	c.ex.init(c)
	c.initObs()
	return c
}

var responseHead = []byte("200 OK\r\nContent-Type: text/plain\r\nX-Trace: t-1\r\n")

// serveOne walks a request through the hooks as conn.run does: the
// application answers "200 OK" with body, logging pyErrors errors.
func serveOne(t testing.TB, c *conn, slot int, body []byte, pyErrors int) {
	c.obsStart()
	ex := &c.ex
	ex.begin(&c.req)
	c.obsRun()
	c.obsAcquired(slot, ex)
	ex.mu.Lock()
	ex.startResponse(responseHead, nil, false)
	ex.appendBody(body)
	ex.mu.Unlock()
	c.obsReleased(slot, ex, pyErrors)
	c.obs.wrote += int64(len(ex.out))
	c.obsRunEnd(ex)
	ex.spare, ex.out = ex.out, nil // as flush does
}

func TestObserveCountsAndLogsARequest(t *testing.T) {
	rec := metrics.NewRecorder(2)
	var out lockedLines
	c := observedConn(t, rec, &out, accesslog.DefaultFormat+" %{X-Trace}o")
	environFor(t, c, "GET /p?q=1 HTTP/1.1\r\nHost: h\r\nUser-Agent: ua/1\r\nReferer: http://r/\r\nX-Forwarded-For: 203.0.113.9\r\n\r\n")
	serveOne(t, c, 1, []byte("hello"), 1)

	line := regexp.MustCompile(`^192\.0\.2\.10 - - \[[^]]+\] "GET /p\?q=1 HTTP/1\.1" 200 5 "http://r/" "ua/1" \d\.\d{6} t-1\n$`)
	if !line.MatchString(out.String()) {
		t.Fatalf("access line %q", out.String())
	}
	s := (&metrics.Worker{Rec: rec}).Snapshot()
	if s.Counts.Requests["GET"]["2xx"] != 1 || s.Counts.PythonErrors != 1 || s.Counts.BytesOut == 0 || s.Slots[1].Requests != 1 || s.InFlight != 0 || s.Busy != 0 {
		t.Fatalf("snapshot %+v", s)
	}

	// A request refused before it has an environ is logged with what is known.
	out.b.Reset()
	c.obsStart()
	c.writeSimple(400, "bad request")
	if !regexp.MustCompile(`^192\.0\.2\.10 - - \[[^]]+\] "- - -" 400 12 "-" "-" \d\.\d{6} -\n$`).MatchString(out.String()) {
		t.Fatalf("refused request's line %q", out.String())
	}
	if s := (&metrics.Worker{Rec: rec}).Snapshot(); s.Counts.Requests["other"]["4xx"] != 1 {
		t.Fatalf("refused request not counted: %v", s.Counts.Requests)
	}
}

// TestObserveTrustedProxyAddress: the log shows the client a trusted
// proxy names, as the application's REMOTE_ADDR does.
func TestObserveTrustedProxyAddress(t *testing.T) {
	var out lockedLines
	c := observedConn(t, nil, &out, `%(addr) %{X-Request-Id}i %{Content-Type}i`)
	c.remoteIP = "127.0.0.1"
	c.trusted = true
	environFor(t, c, "POST /f HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 203.0.113.9\r\nX-Request-Id: abc\r\nContent-Type: text/csv\r\nContent-Length: 0\r\n\r\n")
	serveOne(t, c, 0, nil, 0)
	if got := out.String(); got != "203.0.113.9 abc text/csv\n" {
		t.Fatalf("got %q", got)
	}
}

func TestObserveClientGoneIs499(t *testing.T) {
	rec := metrics.NewRecorder(1)
	var out lockedLines
	c := observedConn(t, rec, &out, `%(status) %(bytes)`)
	environFor(t, c, "GET / HTTP/1.1\r\nHost: h\r\n\r\n")
	c.obsStart()
	c.ex.begin(&c.req)
	c.obsRun()
	c.obsRunEnd(&c.ex) // the body never came: no response at all
	if out.String() != "499 0\n" {
		t.Fatalf("got %q", out.String())
	}
}

func TestObserveOffCostsNothing(t *testing.T) {
	c := observedConn(t, nil, nil, "")
	environFor(t, c, "GET / HTTP/1.1\r\nHost: h\r\n\r\n")
	body := []byte("x")
	if c.obs.in.r != nil {
		t.Fatal("reads are counted with nothing observing")
	}
	if n := testing.AllocsPerRun(100, func() { serveOne(t, c, 0, body, 0) }); n != 0 {
		t.Fatalf("%v allocations per request", n)
	}
}

func TestObserveAllocatesNothingPerRequest(t *testing.T) {
	sink := logging.NewSink(io.Discard)
	defer sink.Close()
	c := observedConn(t, metrics.NewRecorder(1), sink, accesslog.DefaultFormat)
	environFor(t, c, "GET /items?page=2 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: Mozilla/5.0\r\nReferer: https://example.com/\r\n\r\n")
	body := []byte("x")
	serveOne(t, c, 0, body, 0) // the buffers grow once
	if n := testing.AllocsPerRun(200, func() { serveOne(t, c, 0, body, 0) }); n != 0 {
		t.Fatalf("%v allocations per request with metrics and the access log", n)
	}
}

// BenchmarkObserveHooks is what the hooks add to one request: nothing
// observed, metrics only (--stats with --disable-logging), the access log
// only (the default), and both.
func BenchmarkObserveHooks(b *testing.B) {
	for _, bc := range []struct {
		name    string
		metrics bool
		access  bool
	}{{"off", false, false}, {"metrics", true, false}, {"accesslog", false, true}, {"both", true, true}} {
		b.Run(bc.name, func(b *testing.B) {
			var rec *metrics.Recorder
			if bc.metrics {
				rec = metrics.NewRecorder(1)
			}
			var out io.Writer
			if bc.access {
				sink := logging.NewSink(io.Discard)
				defer sink.Close()
				out = sink
			}
			c := observedConn(b, rec, out, accesslog.DefaultFormat)
			raw := "GET /items?page=2 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64)\r\nReferer: https://example.com/\r\nAccept: */*\r\n\r\n"
			if httpwire.Parse([]byte(raw), &c.srv.limits, &c.req) != nil || c.buildEnviron() != nil {
				b.Fatal("the request does not parse")
			}
			body := []byte("Hello, World!")
			b.ReportAllocs()
			// The machine is shared: the CPU time of this thread says more
			// than the wall clock.
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			cpu0 := threadCPU()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				serveOne(b, c, 0, body, 0)
			}
			b.StopTimer()
			b.ReportMetric(float64(threadCPU()-cpu0)/float64(b.N), "cpu-ns/op")
		})
	}
}

// threadCPU is the CPU time the calling thread has used, in nanoseconds.
func threadCPU() int64 {
	var ru syscall.Rusage
	syscall.Getrusage(1, &ru) // RUSAGE_THREAD
	return ru.Utime.Nano() + ru.Stime.Nano()
}
