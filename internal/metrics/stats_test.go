package metrics

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gowsgi/gowsgi/internal/metrics/promcheck"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// fakeMaster is a WorkerSource whose workers are Workers of this process,
// each serving its control socket, with made-up pids.
type fakeMaster struct {
	mu       sync.Mutex
	dir      string
	workers  []WorkerInfo
	stops    map[int]func() // by pid
	restarts map[string]uint64
	draining bool
}

func newFakeMaster(t *testing.T) *fakeMaster {
	// A short directory: unix socket paths are limited to 107 bytes.
	dir, err := os.MkdirTemp("", "gwm")
	if err != nil {
		t.Fatal(err)
	}
	m := &fakeMaster{dir: dir, stops: map[int]func(){}, restarts: map[string]uint64{"crash": 0}}
	t.Cleanup(func() {
		m.mu.Lock()
		for _, stop := range m.stops {
			stop()
		}
		m.mu.Unlock()
		os.RemoveAll(dir)
	})
	return m
}

// start runs a worker process stand-in for index with pid and returns its recorder.
func (m *fakeMaster) start(t *testing.T, index, pid, gen int) *Recorder {
	t.Helper()
	rec := NewRecorder(2)
	w := &Worker{Rec: rec, Index: index, PID: pid, StartedAt: time.Now(), Version: "test", Python: "3.11.2", App: "app:application",
		Ready: func() bool { return true }, GC: func() ([]uint64, error) { return []uint64{uint64(pid), 2, 1}, nil }}
	path := filepath.Join(m.dir, fmt.Sprintf("w%d.sock", pid))
	stop, err := ServeControl(path, w, quiet)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("control socket mode: %v %v", st.Mode(), err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.stops[pid] = stop
	m.workers = append(m.workers, WorkerInfo{Index: index, PID: pid, Generation: gen, StartedAt: time.Now(), Ready: true, ControlSocket: path})
	return rec
}

// exit ends the worker with pid, as a process that exits.
func (m *fakeMaster) exit(pid int, cause string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.stops[pid]()
	delete(m.stops, pid)
	for i, w := range m.workers {
		if w.PID == pid {
			m.workers = append(m.workers[:i], m.workers[i+1:]...)
			break
		}
	}
	m.restarts[cause]++
}

func (m *fakeMaster) Workers() []WorkerInfo {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]WorkerInfo(nil), m.workers...)
}

func (m *fakeMaster) Restarts() map[string]uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[string]uint64{}
	for k, v := range m.restarts {
		out[k] = v
	}
	return out
}

func (m *fakeMaster) Draining() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.draining
}

func serveFake(t *testing.T, m *fakeMaster) string {
	t.Helper()
	stop, err := ServeStats("127.0.0.1:0", m, slog.New(slog.NewTextHandler(&addrGrabber{t: t}, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	return grabbed(t)
}

// addrGrabber catches the "listening" record to learn the port.
type addrGrabber struct{ t *testing.T }

var (
	grabMu   sync.Mutex
	grabAddr = map[*testing.T]string{}
)

func (g *addrGrabber) Write(p []byte) (int, error) {
	s := string(p)
	if i := strings.Index(s, "msg=listening addr="); i >= 0 {
		addr := strings.Fields(s[i+len("msg=listening addr="):])[0]
		grabMu.Lock()
		grabAddr[g.t] = addr
		grabMu.Unlock()
	}
	return len(p), nil
}

func grabbed(t *testing.T) string {
	grabMu.Lock()
	defer grabMu.Unlock()
	a := grabAddr[t]
	if a == "" {
		t.Fatal("the stats listener logged no address")
	}
	return a
}

func get(t *testing.T, url string) (*http.Response, []byte) {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

func getStats(t *testing.T, addr string) *Stats {
	t.Helper()
	resp, body := get(t, "http://"+addr+"/stats")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("/stats: %s %s", resp.Status, resp.Header.Get("Content-Type"))
	}
	var st Stats
	if err := json.Unmarshal(body, &st); err != nil {
		t.Fatalf("/stats: %v in %s", err, body)
	}
	return &st
}

func getMetrics(t *testing.T, addr string) map[string]*promcheck.Family {
	t.Helper()
	resp, body := get(t, "http://"+addr+"/metrics")
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != 200 || ct != PromContentType {
		t.Fatalf("/metrics: %s %q", resp.Status, ct)
	}
	fams, err := promcheck.Parse(string(body))
	if err != nil {
		t.Fatalf("/metrics does not parse: %v\n%s", err, body)
	}
	return fams
}

func value(t *testing.T, fams map[string]*promcheck.Family, name string, labels ...string) float64 {
	t.Helper()
	v, ok := promcheck.Value(fams, name, labels...)
	if !ok {
		t.Fatalf("no sample %s%v", name, labels)
	}
	return v
}

// TestStatsMergeWorkersAndKeepCountsOfExitedOnes drives two workers, ends
// one (as a crash) and starts its replacement: the merged counters never
// go down, per-worker series stay one per index.
func TestStatsMergeWorkersAndKeepCountsOfExitedOnes(t *testing.T) {
	t.Parallel()
	m := newFakeMaster(t)
	r0 := m.start(t, 0, 1000, 1)
	r1 := m.start(t, 1, 1001, 1)
	addr := serveFake(t, m)

	for i := 0; i < 5; i++ {
		r0.Done(0, []byte("GET"), 200, 10, 100, time.Millisecond, 0)
	}
	for i := 0; i < 3; i++ {
		r1.Done(1, []byte("POST"), 500, 20, 200, 20*time.Millisecond, 1)
	}
	r1.Acquired(0, []byte("GET /slow"), time.Now().Add(-2*time.Second))
	time.Sleep(reuseFor + 50*time.Millisecond)

	st := getStats(t, addr)
	if st.Requests != 8 || st.ByStatus["2xx"] != 5 || st.ByStatus["5xx"] != 3 || st.ByMethod["POST"] != 3 {
		t.Fatalf("merged counts: requests %d by status %v by method %v", st.Requests, st.ByStatus, st.ByMethod)
	}
	if st.BytesIn != 110 || st.BytesOut != 1100 || st.PythonErrors != 3 {
		t.Fatalf("bytes %d/%d errors %d", st.BytesIn, st.BytesOut, st.PythonErrors)
	}
	if len(st.Workers) != 2 || st.Workers[1].Status != "busy" || st.Workers[1].Slots[0].URI != "/slow" || st.Workers[1].Slots[0].AgeSeconds < 2 {
		t.Fatalf("workers: %+v", st.Workers)
	}
	if st.Busy != 1 || st.Threads != 4 || st.Idle != 3 || !st.Ready || st.Version != "test" {
		t.Fatalf("busy %d threads %d idle %d ready %v version %q", st.Busy, st.Threads, st.Idle, st.Ready, st.Version)
	}
	fams := getMetrics(t, addr)
	if v := value(t, fams, "gowsgi_requests_total", "method", "POST", "status", "5xx"); v != 3 {
		t.Fatalf("POST 5xx = %v", v)
	}
	if v := value(t, fams, "gowsgi_request_duration_seconds_count"); v != 8 {
		t.Fatalf("duration count %v", v)
	}
	if v := value(t, fams, "gowsgi_request_duration_seconds_bucket", "le", "0.001"); v != 5 {
		t.Fatalf("bucket le=0.001: %v", v)
	}
	if v := value(t, fams, "gowsgi_python_threads", "worker", "1", "state", "busy"); v != 1 {
		t.Fatalf("busy threads of worker 1: %v", v)
	}
	if v := value(t, fams, "gowsgi_python_gc_collections_total", "worker", "1", "generation", "0"); v != 1001 {
		t.Fatalf("gc of worker 1: %v", v)
	}
	if v := value(t, fams, "gowsgi_worker_resident_memory_bytes", "worker", "0"); v <= 0 {
		t.Fatalf("rss %v", v)
	}
	for _, cause := range RestartCauses {
		value(t, fams, "gowsgi_worker_restarts_total", "cause", cause)
	}

	// Worker 1 crashes; its replacement starts while... the old counts stay.
	m.exit(1001, "crash")
	r1b := m.start(t, 1, 1002, 2)
	r1b.Done(0, []byte("GET"), 404, 1, 1, time.Millisecond, 0)
	time.Sleep(reuseFor + 50*time.Millisecond)
	st = getStats(t, addr)
	if st.Requests != 9 || st.ByStatus["5xx"] != 3 || st.ByStatus["4xx"] != 1 || st.Restarts["crash"] != 1 {
		t.Fatalf("after the restart: requests %d by status %v restarts %v", st.Requests, st.ByStatus, st.Restarts)
	}
	fams = getMetrics(t, addr)
	if v := value(t, fams, "gowsgi_worker_restarts_total", "cause", "crash"); v != 1 {
		t.Fatalf("crash restarts %v", v)
	}
	if v := value(t, fams, "gowsgi_worker_requests_total", "worker", "1"); v != 1 {
		t.Fatalf("requests of the new worker 1: %v", v)
	}

	// During a replacement an index has two processes: one series each.
	r0b := m.start(t, 0, 1003, 2)
	r0b.Done(0, []byte("GET"), 200, 1, 1, time.Millisecond, 0)
	time.Sleep(reuseFor + 50*time.Millisecond)
	fams = getMetrics(t, addr) // parsing fails on duplicate series
	if v := value(t, fams, "gowsgi_worker_requests_total", "worker", "0"); v != 1 {
		t.Fatalf("worker 0 is not its newest process: %v requests", v)
	}
	if st := getStats(t, addr); len(st.Workers) != 3 || st.Requests != 10 {
		t.Fatalf("with a replacement under way: %d workers, %d requests", len(st.Workers), st.Requests)
	}
}

func TestUnreachableWorkerKeepsItsCounts(t *testing.T) {
	t.Parallel()
	m := newFakeMaster(t)
	r := m.start(t, 0, 2000, 1)
	addr := serveFake(t, m)
	r.Done(0, []byte("GET"), 200, 1, 1, time.Millisecond, 0)
	time.Sleep(reuseFor + 50*time.Millisecond)
	if st := getStats(t, addr); st.Requests != 1 {
		t.Fatalf("requests %d", st.Requests)
	}
	// The process is still listed but its socket is gone.
	m.mu.Lock()
	m.stops[2000]()
	m.stops[2000] = func() {}
	m.mu.Unlock()
	time.Sleep(reuseFor + 50*time.Millisecond)
	st := getStats(t, addr)
	if st.Requests != 1 || st.Workers[0].Status != "unreachable" || st.Workers[0].Error == "" {
		t.Fatalf("requests %d worker %+v", st.Requests, st.Workers[0])
	}
	fams := getMetrics(t, addr)
	if v := value(t, fams, "gowsgi_worker_up", "worker", "0"); v != 0 {
		t.Fatalf("worker_up %v", v)
	}
}

func TestHealthAndReadiness(t *testing.T) {
	t.Parallel()
	m := newFakeMaster(t)
	addr := serveFake(t, m)
	if resp, body := get(t, "http://"+addr+"/healthz"); resp.StatusCode != 200 || string(body) != "ok\n" {
		t.Fatalf("/healthz: %s %q", resp.Status, body)
	}
	if resp, body := get(t, "http://"+addr+"/readyz"); resp.StatusCode != 503 || !strings.Contains(string(body), "none of 0 workers") {
		t.Fatalf("/readyz without workers: %s %q", resp.Status, body)
	}
	m.start(t, 0, 3000, 1)
	if resp, _ := get(t, "http://"+addr+"/readyz"); resp.StatusCode != 200 {
		t.Fatalf("/readyz with a ready worker: %s", resp.Status)
	}
	m.mu.Lock()
	m.draining = true
	m.mu.Unlock()
	if resp, body := get(t, "http://"+addr+"/readyz"); resp.StatusCode != 503 || !strings.Contains(string(body), "draining") {
		t.Fatalf("/readyz while draining: %s %q", resp.Status, body)
	}
	if resp, _ := get(t, "http://"+addr+"/healthz"); resp.StatusCode != 200 {
		t.Fatalf("/healthz while draining: %s", resp.Status)
	}
	time.Sleep(reuseFor + 50*time.Millisecond)
	if v := value(t, getMetrics(t, addr), "gowsgi_ready"); v != 0 {
		t.Fatalf("gowsgi_ready while draining: %v", v)
	}
}

func TestPageAndHistory(t *testing.T) {
	t.Parallel()
	m := newFakeMaster(t)
	r := m.start(t, 0, 4000, 1)
	addr := serveFake(t, m)
	resp, body := get(t, "http://"+addr+"/")
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("/: %s %s", resp.Status, resp.Header.Get("Content-Type"))
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
		t.Fatalf("CSP %q", csp)
	}
	for _, external := range []string{"http://", "https://", "//cdn", "<link", "src="} {
		if strings.Contains(string(body), external) {
			t.Errorf("the page refers to something outside itself: %q", external)
		}
	}
	if resp, _ := get(t, "http://"+addr+"/nope"); resp.StatusCode != 404 {
		t.Fatalf("/nope: %s", resp.Status)
	}

	// Two seconds of samples with traffic in between.
	deadline := time.Now().Add(10 * time.Second)
	var points []Point
	for time.Now().Before(deadline) {
		r.Done(0, []byte("GET"), 200, 1, 1, 3*time.Millisecond, 0)
		_, body := get(t, "http://"+addr+"/stats/history?since=0")
		var h struct {
			Interval float64 `json:"interval_seconds"`
			Points   []Point `json:"points"`
		}
		if err := json.Unmarshal(body, &h); err != nil {
			t.Fatal(err)
		}
		points = h.Points
		if len(points) >= 2 && points[len(points)-1].RPS > 0 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	last := points[len(points)-1]
	if last.RPS <= 0 || last.P50 == nil || *last.P50 <= 0.0025 || *last.P50 > 0.005 || last.Status["2xx"] <= 0 {
		t.Fatalf("history %+v", points)
	}
	_, body = get(t, fmt.Sprintf("http://%s/stats/history?since=%d", addr, last.T))
	if !strings.Contains(string(body), `"points":[]`) {
		t.Fatalf("history since the last point: %s", body)
	}
	if resp, _ := get(t, "http://"+addr+"/stats/history?since=x"); resp.StatusCode != 400 {
		t.Fatalf("bad since: %s", resp.Status)
	}
	st := getStats(t, addr)
	if st.RPS == nil || *st.RPS <= 0 || st.P50 == nil {
		t.Fatalf("recent rate %v p50 %v", st.RPS, st.P50)
	}
}

func TestStatsNetwork(t *testing.T) {
	for in, want := range map[string]string{
		"9191":              "tcp 127.0.0.1:9191",
		":9191":             "tcp 127.0.0.1:9191",
		"0.0.0.0:9191":      "tcp 0.0.0.0:9191",
		"[::1]:9191":        "tcp [::1]:9191",
		"localhost:0":       "tcp localhost:0",
		"unix:/run/s.sock":  "unix /run/s.sock",
		"/tmp/stats.socket": "unix /tmp/stats.socket",
	} {
		n, a, err := StatsNetwork(in)
		if err != nil || n+" "+a != want {
			t.Errorf("%q: %q %q %v, want %q", in, n, a, err, want)
		}
	}
	for _, bad := range []string{"", "unix:", "host", "host:port", ":99999", "1.2.3.4"} {
		if _, _, err := StatsNetwork(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestStatsOnUnixSocket(t *testing.T) {
	t.Parallel()
	dir, err := os.MkdirTemp("", "gws")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "stats.sock")
	w := &Worker{Rec: NewRecorder(1)}
	stop, err := ServeLocal("unix:"+path, w, quiet)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ServeLocal(path, w, quiet); err == nil || !strings.Contains(err.Error(), "another process listens") {
		t.Fatalf("a second listener on the same socket: %v", err)
	}
	stop()
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("socket file left behind: %v", err)
	}
}
