package e2e

// Seeing inside (issue 8): the access log, --log-json, --logto with
// SIGUSR1, the application's stdout and stderr in the log, the stats
// listener's /metrics, /stats, /healthz and /readyz, and `gowsgi top`.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"github.com/prometheus/common/expfmt"
	"io"
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

	"github.com/gowsgi/gowsgi/internal/metrics/promcheck"
)

// obsTimeout bounds every wait for something the server reports
// asynchronously (log lines, merged stats); the machine may be loaded.
const obsTimeout = 15 * time.Second

// observed is a gowsgi for these tests: where it serves, where its stats
// listener is, and where its log is (its stderr, or a --logto file).
type observed struct {
	*server
	stats   string
	logFile string
}

var (
	statsListeningRe = regexp.MustCompile(`msg=listening addr=(\S+) proto=stats`)
	jsonListeningRe  = regexp.MustCompile(`"msg":"listening","addr":"([^"]+)","proto":"http"`)
	obsWorkerReadyRe = regexp.MustCompile(`msg="python ready" .* worker=(\d+) pid=(\d+)`)
)

// startObserved runs observe_app with args through the harness (text
// logs on stderr), and finds the stats listener when --stats is given.
func startObserved(t *testing.T, args ...string) *observed {
	t.Helper()
	s := launch(t, append([]string{"--module", "observe_app", "--graceful-timeout", "5s"}, args...)...)
	o := &observed{server: s}
	for _, a := range args {
		if a == "--stats" {
			m := statsListeningRe.FindStringSubmatch(s.log.String())
			if m == nil {
				t.Fatalf("no stats listener in the log:\n%s", s.log)
			}
			o.stats = m[1]
		}
	}
	return o
}

// launchObserved starts observe_app like the harness's launch, for what
// it cannot do: a ready line other than its own (JSON logs), a log in a
// file (--logto), or a test that stops the server itself (managed false:
// the cleanup only kills a server still running and checks for races).
func launchObserved(t *testing.T, ready *regexp.Regexp, logFile string, managed bool, args ...string) *observed {
	t.Helper()
	args = append([]string{"--chdir", appsDir, "--http", "127.0.0.1:0", "--module", "observe_app", "--graceful-timeout", "5s"}, args...)
	what := "gowsgi " + strings.Join(args, " ")
	s := spawn(t, command(context.Background(), args...), what)
	o := &observed{server: s, logFile: logFile}
	if managed {
		t.Cleanup(func() { s.stop(t) })
	} else {
		s.killAtEnd(t, o.text)
	}
	s.awaitReady(t, what, startTimeout, o.text, func(log string) bool {
		if m := ready.FindStringSubmatch(log); m != nil {
			s.addr = m[1]
			return true
		}
		return false
	})
	if m := statsListeningRe.FindStringSubmatch(o.text()); m != nil {
		o.stats = m[1]
	}
	return o
}

// text is everything logged so far: stderr, and the --logto file and its
// rotated predecessor.
func (o *observed) text() string {
	out := o.log.String()
	if o.logFile != "" {
		old, _ := os.ReadFile(o.logFile + ".1")
		cur, _ := os.ReadFile(o.logFile)
		out += string(old) + string(cur)
	}
	return out
}

// waitFor waits until the log matches re and returns the first match.
func (o *observed) waitFor(t *testing.T, re *regexp.Regexp) []string {
	t.Helper()
	deadline := time.Now().Add(obsTimeout)
	for {
		if m := re.FindStringSubmatch(o.text()); m != nil {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("the log never matched %s; log:\n%s", re, o.text())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// allReady waits until n workers have said they are ready: the master
// logs "listening" when the first one is.
func (o *observed) allReady(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(obsTimeout)
	for len(o.workerPIDs()) < n {
		if time.Now().After(deadline) {
			t.Fatalf("not %d workers ready; log:\n%s", n, o.text())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// workerPIDs maps worker index to pid, from the workers' "python ready" records.
func (o *observed) workerPIDs() map[string]string {
	out := map[string]string{}
	for _, m := range obsWorkerReadyRe.FindAllStringSubmatch(o.text(), -1) {
		out[m[1]] = m[2]
	}
	return out
}

// request sends raw on a new connection and returns the response.
func (o *observed) request(t *testing.T, raw, method string) *response {
	t.Helper()
	c := dialRaw(t, o.addr)
	defer c.close()
	c.send(raw)
	return c.mustResponse(method)
}

func (o *observed) statsGet(t *testing.T, path string) (int, string) {
	t.Helper()
	if o.stats == "" {
		t.Fatal("the server has no stats listener")
	}
	c := &http.Client{Timeout: ioTimeout}
	resp, err := c.Get("http://" + o.stats + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func (o *observed) statsJSON(t *testing.T) map[string]any {
	t.Helper()
	code, body := o.statsGet(t, "/stats")
	var v map[string]any
	if code != 200 || json.Unmarshal([]byte(body), &v) != nil {
		t.Fatalf("/stats: %d %q", code, body)
	}
	return v
}

// metricsWhen polls /metrics until ok accepts it (it is checked by the
// strict text-format parser and by Prometheus's expfmt every time) and returns it.
func (o *observed) metricsWhen(t *testing.T, what string, ok func(map[string]*promcheck.Family) bool) map[string]*promcheck.Family {
	t.Helper()
	deadline := time.Now().Add(obsTimeout)
	for {
		code, body := o.statsGet(t, "/metrics")
		if code != 200 {
			t.Fatalf("/metrics: %d %q", code, body)
		}
		fams, err := promcheck.Parse(body)
		if err != nil {
			t.Fatalf("/metrics is not valid Prometheus text: %v\n%s", err, body)
		}
		// Prometheus's own parser must accept it too, and see the same families.
		var official expfmt.TextParser
		parsed, err := official.TextToMetricFamilies(strings.NewReader(body))
		if err != nil {
			t.Fatalf("prometheus expfmt rejects /metrics: %v\n%s", err, body)
		}
		// expfmt drops families that have no samples yet; every family with
		// samples must be seen by both parsers, with the same type.
		for name, f := range fams {
			if len(f.Samples) == 0 {
				continue
			}
			mf, ok := parsed[name]
			if !ok {
				t.Fatalf("expfmt does not see metric family %s", name)
			}
			if !strings.EqualFold(mf.GetType().String(), f.Type) {
				t.Fatalf("metric family %s: expfmt type %s, promcheck %s", name, mf.GetType(), f.Type)
			}
		}
		for name := range parsed {
			if fams[name] == nil {
				t.Fatalf("promcheck does not see metric family %s that expfmt parsed", name)
			}
		}
		if ok(fams) {
			return fams
		}
		if time.Now().After(deadline) {
			t.Fatalf("/metrics never showed %s:\n%s", what, body)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func metric(fams map[string]*promcheck.Family, name string, labels ...string) float64 {
	v, _ := promcheck.Value(fams, name, labels...)
	return v
}

// clfRe is the default access line: the combined log format and the request time.
var clfRe = regexp.MustCompile(`(?m)^(\S+) - - \[(\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4})\] "([^"]*)" (\d{3}) (\d+) "([^"]*)" "([^"]*)" (\d+\.\d{6})$`)

func TestAccessLogDefaultFormat(t *testing.T) {
	t.Parallel()
	s := startObserved(t, "--threads", "2")
	r := s.request(t, "GET /x?y=1 HTTP/1.1\r\nHost: e2e.test\r\nUser-Agent: e2e-agent/1.0\r\nReferer: http://ref.test/page\r\nConnection: close\r\n\r\n", "GET")
	if r.status != 200 {
		t.Fatalf("GET /x: %v", r)
	}
	s.request(t, "HEAD /status/404 HTTP/1.1\r\nHost: e2e.test\r\nConnection: close\r\n\r\n", "HEAD")
	bad := s.request(t, "GET /x HTTP/1.1\r\nHost: e2e.test\r\nBad Header: x\r\n\r\n", "GET")
	if bad.status != 400 {
		t.Fatalf("malformed request: %v", bad)
	}

	find := func(request string) []string {
		t.Helper()
		deadline := time.Now().Add(obsTimeout)
		for {
			for _, m := range clfRe.FindAllStringSubmatch(s.log.String(), -1) {
				if m[3] == request {
					return m
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("no access line for %q; log:\n%s", request, s.log)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	m := find("GET /x?y=1 HTTP/1.1")
	if m[1] != "127.0.0.1" || m[4] != "200" || m[5] != "3" || m[6] != "http://ref.test/page" || m[7] != "e2e-agent/1.0" {
		t.Errorf("access line %q", m[0])
	}
	when, err := time.Parse("02/Jan/2006:15:04:05 -0700", m[2])
	if err != nil || time.Since(when) > time.Minute || time.Since(when) < -time.Minute {
		t.Errorf("time %q is not now (%v)", m[2], err)
	}
	if d, _ := strconv.ParseFloat(m[8], 64); d <= 0 || d > 10 {
		t.Errorf("request time %s", m[8])
	}
	m = find("HEAD /status/404 HTTP/1.1")
	if m[4] != "404" || m[5] != "0" || m[6] != "-" || m[7] != "-" {
		t.Errorf("HEAD access line %q: a HEAD sends no body", m[0])
	}
	m = find("- - -")
	if m[4] != "400" {
		t.Errorf("refused request's line %q", m[0])
	}
}

func TestAccessLogFormatAtoms(t *testing.T) {
	t.Parallel()
	s := startObserved(t, "--log-format", `ATOMS %(method) %(path) q=%(query) %(status) %(bytes) id=%{X-Request-Id}i trace=%{X-Trace}o w=%(worker) pid=%(pid) in=%(bytes_in) out=%(bytes_out) %(usecs)us`)
	raw := "GET /header?a=b HTTP/1.1\r\nHost: e2e.test\r\nX-Request-Id: req-7\r\nConnection: close\r\n\r\n"
	c := dialRaw(t, s.addr)
	c.send(raw)
	c.nc.SetReadDeadline(time.Now().Add(ioTimeout))
	wire, err := io.ReadAll(c.nc)
	if err != nil || !strings.Contains(string(wire), "X-Trace: trace-42") {
		t.Fatalf("response %q: %v", wire, err)
	}
	m := s.waitFor(t, regexp.MustCompile(`(?m)^ATOMS GET /header q=a=b 200 3 id=req-7 trace=trace-42 w=0 pid=(\d+) in=(\d+) out=(\d+) (\d+)us$`))
	if pid := s.workerPIDs()["0"]; m[1] != pid {
		t.Errorf("pid %s, want worker 0's %s", m[1], pid)
	}
	if m[2] != strconv.Itoa(len(raw)) || m[3] != strconv.Itoa(len(wire)) {
		t.Errorf("bytes in %s out %s, want %d and %d", m[2], m[3], len(raw), len(wire))
	}
}

func TestLogJSON(t *testing.T) {
	t.Parallel()
	s := launchObserved(t, jsonListeningRe, "", true, "--log-json")
	s.request(t, "GET /status/201?k=v HTTP/1.1\r\nHost: e2e.test\r\nUser-Agent: json-agent\r\nConnection: close\r\n\r\n", "GET")
	s.request(t, "GET /stderr?json HTTP/1.1\r\nHost: e2e.test\r\nConnection: close\r\n\r\n", "GET")
	s.waitFor(t, regexp.MustCompile(`"msg":"access".*"uri":"/status/201\?k=v"`))
	s.waitFor(t, regexp.MustCompile(`"msg":"fd2-write json"`))
	var access, captured map[string]any
	for _, line := range strings.Split(strings.TrimSpace(s.text()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Errorf("a log line that is not one JSON object: %q", line)
			continue
		}
		if rec["time"] == nil || rec["level"] == nil || rec["msg"] == nil {
			t.Errorf("record without time, level and msg: %q", line)
		}
		if rec["msg"] == "access" && rec["uri"] == "/status/201?k=v" {
			access = rec
		}
		if rec["msg"] == "fd2-write json" {
			captured = rec
		}
	}
	if access == nil || access["status"] != 201.0 || access["method"] != "GET" || access["uagent"] != "json-agent" || access["referer"] != nil || access["addr"] != "127.0.0.1" {
		t.Errorf("access record %v", access)
	}
	if d, ok := access["duration"].(float64); !ok || d <= 0 {
		t.Errorf("duration %v", access["duration"])
	}
	if captured == nil || captured["source"] != "stderr" || captured["worker"] == nil || captured["pid"] == nil {
		t.Errorf("captured stderr record %v", captured)
	}
}

func TestDisableLogging(t *testing.T) {
	t.Parallel()
	s := startObserved(t, "--disable-logging")
	s.request(t, "GET /quiet HTTP/1.1\r\nHost: e2e.test\r\nConnection: close\r\n\r\n", "GET")
	s.request(t, "GET /stderr?still-logged HTTP/1.1\r\nHost: e2e.test\r\nConnection: close\r\n\r\n", "GET")
	s.waitFor(t, regexp.MustCompile(`msg="print-to-stderr still-logged"`)) // the application's output still is
	time.Sleep(300 * time.Millisecond)                                     // past the access log's flush
	if strings.Contains(s.log.String(), "/quiet") {
		t.Errorf("an access line with --disable-logging:\n%s", s.log)
	}
}

// TestAppOutputIsLogged: whatever way the application writes, each line
// becomes a record marked with the worker (index and pid) that wrote it.
func TestAppOutputIsLogged(t *testing.T) {
	t.Parallel()
	s := startObserved(t, "--processes", "2", "--threads", "2")
	s.allReady(t, 2)
	for i := 0; i < 4; i++ {
		s.request(t, fmt.Sprintf("GET /stderr?tag-%d HTTP/1.1\r\nHost: e2e.test\r\nConnection: close\r\n\r\n", i), "GET")
	}
	pids := s.workerPIDs()
	if len(pids) != 2 {
		t.Fatalf("workers %v", pids)
	}
	for i := 0; i < 4; i++ {
		tag := fmt.Sprintf("tag-%d", i)
		for _, want := range []struct{ msg, attrs string }{
			{"print-to-stderr " + tag, "source=stderr"},
			{"WARNING:root:logging-warning " + tag, "source=stderr"},
			{"fd2-write " + tag, "source=stderr"},
			{"print-to-stdout " + tag, "source=stdout"},
			{"wsgi-errors " + tag, `thread=\d+`},
		} {
			m := s.waitFor(t, regexp.MustCompile(`level=\w+ msg="`+regexp.QuoteMeta(want.msg)+`" `+want.attrs+` worker=(\d+) pid=(\d+)\n`))
			if pids[m[1]] != m[2] {
				t.Errorf("%q marked worker %s pid %s; the workers are %v", want.msg, m[1], m[2], pids)
			}
		}
	}
}

// TestLogtoReopenOnSIGUSR1 is logrotate: rename the file, signal the
// master, and every process (the master and its workers) writes to a new
// file at the old path.
func TestLogtoReopenOnSIGUSR1(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "gowsgi.log")
	s := launchObserved(t, listeningRe, path, true, "--logto", path, "--processes", "2")
	s.allReady(t, 2)
	if strings.Contains(s.log.String(), "msg=listening") {
		t.Errorf("records on stderr despite --logto:\n%s", s.log)
	}
	s.request(t, "GET /before-rotation HTTP/1.1\r\nHost: e2e.test\r\nConnection: close\r\n\r\n", "GET")
	s.waitFor(t, regexp.MustCompile(`"GET /before-rotation HTTP/1.1" 200`))
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	s.cmd.Process.Signal(syscall.SIGUSR1)
	reopened := regexp.MustCompile(`msg="log file reopened" logto=\S+ worker=(\d)`)
	deadline := time.Now().Add(obsTimeout)
	for {
		cur, _ := os.ReadFile(path)
		if len(reopened.FindAllString(string(cur), -1)) == 2 && strings.Contains(string(cur), "msg=\"log file reopened\" logto="+path+" pid=") {
			break // the master and both workers
		}
		if time.Now().After(deadline) {
			t.Fatalf("not every process reopened; new file:\n%s", cur)
		}
		time.Sleep(20 * time.Millisecond)
	}
	for i := 0; i < 6; i++ { // both workers, most likely
		s.request(t, "GET /after-rotation HTTP/1.1\r\nHost: e2e.test\r\nConnection: close\r\n\r\n", "GET")
	}
	deadline = time.Now().Add(obsTimeout)
	for {
		cur, _ := os.ReadFile(path)
		if strings.Count(string(cur), `"GET /after-rotation HTTP/1.1" 200`) == 6 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("access lines after the rotation are missing from the new file:\n%s", cur)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if old, _ := os.ReadFile(path + ".1"); strings.Contains(string(old), "after-rotation") {
		t.Errorf("lines went to the rotated file:\n%s", old)
	}
}

// TestMetricsStatsAndHealth checks every number the issue names, merged
// over two workers, in /metrics (parsed strictly) and /stats.
func TestMetricsStatsAndHealth(t *testing.T) {
	t.Parallel()
	s := startObserved(t, "--processes", "2", "--threads", "2", "--stats", "127.0.0.1:0")
	s.allReady(t, 2)
	if code, body := s.statsGet(t, "/healthz"); code != 200 || body != "ok\n" {
		t.Fatalf("/healthz: %d %q", code, body)
	}
	if code, body := s.statsGet(t, "/readyz"); code != 200 || body != "ready\n" {
		t.Fatalf("/readyz: %d %q", code, body)
	}
	client := s.client(t)
	var sent int64
	do := func(method, path, body string) {
		req, _ := http.NewRequest(method, s.url(path), strings.NewReader(body))
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		sent++
	}
	for i := 0; i < 20; i++ {
		do("GET", "/x", "")
	}
	for i := 0; i < 5; i++ {
		do("GET", "/status/404", "")
	}
	for i := 0; i < 3; i++ {
		do("GET", "/fail", "")
	}
	do("POST", "/x", strings.Repeat("b", 5000))
	do("POST", "/x", "small")

	fams := s.metricsWhen(t, "30 requests", func(f map[string]*promcheck.Family) bool {
		return metric(f, "gowsgi_request_duration_seconds_count") >= float64(sent)
	})
	for _, c := range []struct {
		labels []string
		want   float64
	}{
		{[]string{"method", "GET", "status", "2xx"}, 20},
		{[]string{"method", "GET", "status", "4xx"}, 5},
		{[]string{"method", "GET", "status", "5xx"}, 3},
		{[]string{"method", "POST", "status", "2xx"}, 2},
	} {
		if got := metric(fams, "gowsgi_requests_total", c.labels...); got != c.want {
			t.Errorf("requests_total%v = %v, want %v", c.labels, got, c.want)
		}
	}
	if got := metric(fams, "gowsgi_request_duration_seconds_count"); got != 30 {
		t.Errorf("duration count %v, want 30", got)
	}
	if got := metric(fams, "gowsgi_bytes_received_total"); got < 5000 {
		t.Errorf("bytes received %v, want more than the 5000-byte body", got)
	}
	if got := metric(fams, "gowsgi_bytes_sent_total"); got < 30*50 {
		t.Errorf("bytes sent %v", got)
	}
	if got := metric(fams, "gowsgi_python_errors_total"); got < 3 {
		t.Errorf("python errors %v, want the 3 tracebacks", got)
	}
	for _, cause := range []string{"crash", "max-requests", "rss", "harakiri", "reload"} {
		if _, ok := promcheck.Value(fams, "gowsgi_worker_restarts_total", "cause", cause); !ok {
			t.Errorf("no restarts counter for %s", cause)
		}
	}
	if metric(fams, "gowsgi_ready") != 1 || metric(fams, "gowsgi_workers") != 2 {
		t.Errorf("ready %v workers %v", metric(fams, "gowsgi_ready"), metric(fams, "gowsgi_workers"))
	}
	for _, w := range []string{"0", "1"} {
		busy := metric(fams, "gowsgi_python_threads", "worker", w, "state", "busy")
		idle := metric(fams, "gowsgi_python_threads", "worker", w, "state", "idle")
		if busy+idle != 2 {
			t.Errorf("worker %s: %v busy + %v idle threads, want 2", w, busy, idle)
		}
		if rss := metric(fams, "gowsgi_worker_resident_memory_bytes", "worker", w); rss < 1<<20 {
			t.Errorf("worker %s resident memory %v", w, rss)
		}
		if _, ok := promcheck.Value(fams, "gowsgi_python_gc_collections_total", "worker", w, "generation", "2"); !ok {
			t.Errorf("worker %s: no gc collections", w)
		}
		if metric(fams, "gowsgi_worker_up", "worker", w) != 1 {
			t.Errorf("worker %s is not up", w)
		}
		// Idle, nothing queues for the GIL: the limit stays at --threads.
		if lim := metric(fams, "gowsgi_python_admission_limit", "worker", w); lim != 2 {
			t.Errorf("worker %s admission limit %v, want --threads 2", w, lim)
		}
	}
	for _, name := range []string{"gowsgi_requests_in_flight", "gowsgi_queue_depth"} {
		if _, ok := promcheck.Value(fams, name); !ok {
			t.Errorf("no %s", name)
		}
	}

	// A request running Python shows in /stats with its age.
	done := make(chan struct{})
	go func() {
		defer close(done)
		resp, err := http.Get(s.url("/sleep?ms=2500"))
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}()
	deadline := time.Now().Add(obsTimeout)
	for {
		st := s.statsJSON(t)
		if slot := busySlot(st, "/sleep?ms=2500"); slot != nil && slot["age_seconds"].(float64) > 0.3 {
			if slot["method"] != "GET" || st["in_flight"].(float64) < 1 || st["busy"].(float64) < 1 {
				t.Errorf("busy slot %v, in flight %v, busy %v", slot, st["in_flight"], st["busy"])
			}
			if len(st["workers"].([]any)) != 2 || st["threads"].(float64) != 4 || st["requests"].(float64) < 30 {
				t.Errorf("stats %v", st)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the running request never showed in /stats: %v", st)
		}
		time.Sleep(100 * time.Millisecond)
	}
	<-done
}

// busySlot finds the busy slot running uri in a /stats document.
func busySlot(st map[string]any, uri string) map[string]any {
	for _, w := range st["workers"].([]any) {
		slots, _ := w.(map[string]any)["slots"].([]any)
		for _, s := range slots {
			slot := s.(map[string]any)
			if slot["state"] == "busy" && slot["uri"] == uri {
				return slot
			}
		}
	}
	return nil
}

// TestReadyzWhileDraining: once SIGTERM arrives, /readyz says 503 (a load
// balancer stops sending) while a request still finishes.
func TestReadyzWhileDraining(t *testing.T) {
	t.Parallel()
	s := launchObserved(t, listeningRe, "", false, "--stats", "127.0.0.1:0", "--threads", "2")
	result := make(chan *response, 1)
	go func() {
		c := dialRaw(t, s.addr)
		c.send("GET /sleep?ms=3000 HTTP/1.1\r\nHost: e2e.test\r\nConnection: close\r\n\r\n")
		r, _ := c.readResponse("GET")
		result <- r
	}()
	deadline := time.Now().Add(obsTimeout)
	for busySlot(s.statsJSON(t), "/sleep?ms=3000") == nil {
		if time.Now().After(deadline) {
			t.Fatal("the slow request never started")
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	for {
		code, body := s.statsGet(t, "/readyz")
		if code == 503 && strings.Contains(body, "draining") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz while draining: %d %q", code, body)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if code, _ := s.statsGet(t, "/healthz"); code != 200 {
		t.Errorf("/healthz while draining: %d", code)
	}
	if r := <-result; r == nil || r.status != 200 {
		t.Errorf("the request in flight did not finish: %v", r)
	}
	select {
	case <-s.exited:
		if s.waitErr != nil {
			t.Errorf("exit: %v", s.waitErr)
		}
	case <-time.After(stopTimeout):
		t.Error("the server did not exit after draining")
	}
}

// TestCountsSurviveAWorkerCrash: the merged counters keep what a killed
// worker counted, and the restart is counted by cause.
func TestCountsSurviveAWorkerCrash(t *testing.T) {
	t.Parallel()
	s := startObserved(t, "--processes", "2", "--stats", "127.0.0.1:0")
	s.allReady(t, 2)
	client := s.client(t)
	for i := 0; i < 40; i++ {
		resp, err := client.Get(s.url("/x"))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	s.metricsWhen(t, "40 requests", func(f map[string]*promcheck.Family) bool {
		return metric(f, "gowsgi_requests_total", "method", "GET", "status", "2xx") == 40
	})
	time.Sleep(1200 * time.Millisecond) // a sampling interval: the master has read every worker since
	pid, _ := strconv.Atoi(s.workerPIDs()["1"])
	if pid == 0 {
		t.Fatal("no pid for worker 1")
	}
	syscall.Kill(pid, syscall.SIGKILL)
	fams := s.metricsWhen(t, "the crash and a new worker 1", func(f map[string]*promcheck.Family) bool {
		return metric(f, "gowsgi_worker_restarts_total", "cause", "crash") == 1 && metric(f, "gowsgi_worker_up", "worker", "1") == 1
	})
	if got := metric(fams, "gowsgi_requests_total", "method", "GET", "status", "2xx"); got != 40 {
		t.Errorf("after the crash requests_total = %v, want 40", got)
	}
	s.waitLog(t, "msg=\"worker ready\" worker=1")
}

func TestTopOnce(t *testing.T) {
	t.Parallel()
	dir, err := os.MkdirTemp("", "gwtop")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	sock := filepath.Join(dir, "stats.sock")
	s := startObserved(t, "--processes", "2", "--threads", "2", "--stats", "unix:"+sock)
	s.allReady(t, 2)
	go func() {
		resp, err := http.Get(s.url("/sleep?ms=8000"))
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}()
	deadline := time.Now().Add(obsTimeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), ioTimeout)
		out, err := exec.CommandContext(ctx, binPath, "top", "--stats", "unix:"+sock, "--once").CombinedOutput()
		cancel()
		if err != nil {
			t.Fatalf("gowsgi top: %v\n%s", err, out)
		}
		text := string(out)
		if strings.Contains(text, "/sleep?ms=8000") {
			for _, want := range []string{"gowsgi ", "observe_app:application", "READY", "req/s", "WID", "   0 ", "   1 ", "GET "} {
				if !strings.Contains(text, want) {
					t.Errorf("top lacks %q:\n%s", want, text)
				}
			}
			if strings.Contains(text, "\x1b[") {
				t.Errorf("escape sequences in output for a script:\n%s", text)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("top never showed the running request; its last frame (%d bytes):\n%s", len(out), text)
		}
		time.Sleep(100 * time.Millisecond)
	}
	out, err := exec.Command(binPath, "top", "--stats", filepath.Join(dir, "none.sock"), "--once").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "none.sock") {
		t.Errorf("top against nothing: %v %q", err, out)
	}
}

// TestTopInteractiveQuits runs top on a pipe (no terminal): it refreshes
// until SIGINT and exits cleanly.
func TestTopInteractiveQuits(t *testing.T) {
	t.Parallel()
	s := startObserved(t, "--stats", "127.0.0.1:0")
	cmd := exec.Command(binPath, "top", "--stats", s.stats, "--interval", "200ms")
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	frames := 0
	sc := bufio.NewScanner(stdout)
	var mu sync.Mutex
	go func() {
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "gowsgi ") {
				mu.Lock()
				frames++
				mu.Unlock()
			}
		}
	}()
	deadline := time.Now().Add(obsTimeout)
	for {
		mu.Lock()
		n := frames
		mu.Unlock()
		if n >= 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("top drew %d frames", n)
		}
		time.Sleep(50 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGINT)
	errc := make(chan error, 1)
	go func() { errc <- cmd.Wait() }()
	select {
	case err := <-errc:
		if err != nil {
			t.Errorf("top after SIGINT: %v", err)
		}
	case <-time.After(ioTimeout):
		cmd.Process.Kill()
		t.Error("top did not quit on SIGINT")
	}
}
