package e2e

// The process lifecycle (internal/master): a master and its workers under
// real signals and real load. Each test runs its own server with
// lifecycle_app, which names in every response the worker process that
// served it, and sends the signals itself.

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
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
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// lcServer is a gowsgi master started by a lifecycle test, which stops it
// itself (the harness's server requires a SIGTERM at the end).
type lcServer struct {
	t *testing.T
	*server
}

// startLC runs gowsgi with lifecycle_app and args in dir (testapps when
// dir is ""), env added, and waits until it listens. At the end of the
// test a master still running is killed (its workers die with it).
func startLC(t *testing.T, dir string, env []string, args ...string) *lcServer {
	t.Helper()
	if dir == "" {
		dir = appsDir
	}
	args = append([]string{"--chdir", dir, "--http", "127.0.0.1:0", "--module", "lifecycle_app", "--graceful-timeout", "5s"}, args...)
	cmd := command(context.Background(), args...)
	cmd.Env = append(cmd.Env, env...)
	s := &lcServer{t: t, server: spawn(t, cmd, "gowsgi")}
	s.killAtEnd(t, s.log.String)
	s.awaitReady(t, "gowsgi", startTimeout, s.log.String, s.listening)
	return s
}

func (s *lcServer) signal(sig syscall.Signal) {
	s.t.Helper()
	if err := s.cmd.Process.Signal(sig); err != nil {
		s.t.Fatalf("signalling the master: %v", err)
	}
}

// wait waits up to d for the master to exit and returns its exit code.
func (s *lcServer) wait(d time.Duration) int {
	s.t.Helper()
	select {
	case <-s.exited:
	case <-time.After(d):
		s.t.Fatalf("the master did not exit within %v", d)
	}
	var ee *exec.ExitError
	if errors.As(s.waitErr, &ee) {
		return ee.ExitCode()
	}
	if s.waitErr != nil {
		s.t.Fatalf("waiting for the master: %v", s.waitErr)
	}
	return 0
}

// waitLog waits up to d for a log line matching re and returns its submatches.
func (s *lcServer) waitLog(re *regexp.Regexp, d time.Duration) []string {
	s.t.Helper()
	deadline := time.Now().Add(d)
	for {
		if m := re.FindStringSubmatch(s.log.String()); m != nil {
			return m
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("no log line matching %q within %v", re, d)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// countLog counts the log lines matching re.
func (s *lcServer) countLog(re *regexp.Regexp) int { return len(re.FindAllString(s.log.String(), -1)) }

// reply is what lifecycle_app answers.
type reply struct {
	PID     int    `json:"pid"`
	UID     int    `json:"uid"`
	GID     int    `json:"gid"`
	Version string `json:"version"`
	Tag     string `json:"tag"`
}

// fetch does one request; fresh uses a connection of its own (closed
// after), which no keep-alive logic of the client can retry.
func fetch(client *http.Client, url string) (reply, int, error) {
	var r reply
	resp, err := client.Get(url)
	if err != nil {
		return r, 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return r, resp.StatusCode, err
	}
	if resp.StatusCode != 200 {
		return r, resp.StatusCode, fmt.Errorf("status %d: %q", resp.StatusCode, body)
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return r, resp.StatusCode, fmt.Errorf("bad reply %q: %v", body, err)
	}
	return r, 200, nil
}

// keepAliveClient reuses connections, and retries an idempotent request
// whose reused connection the server had just closed, as every HTTP
// client does (RFC 9112 §9.3.1).
func keepAliveClient() *http.Client {
	return &http.Client{Timeout: ioTimeout, Transport: &http.Transport{MaxIdleConnsPerHost: 64, DisableCompression: true}}
}

// freshClient opens a connection per request, so nothing is retried: a
// connection the server accepted and dropped is a failed request.
func freshClient() *http.Client {
	return &http.Client{Timeout: ioTimeout, Transport: &http.Transport{DisableKeepAlives: true, DisableCompression: true}}
}

// load sends requests from workers goroutines until stop is closed.
type load struct {
	ok, failed atomic.Int64
	mu         sync.Mutex
	pids       map[int]bool
	versions   map[string]int
	errs       []string
	wg         sync.WaitGroup
}

func startLoad(url string, workers int, stop <-chan struct{}) *load {
	l := &load{pids: map[int]bool{}, versions: map[string]int{}}
	for i := 0; i < workers; i++ {
		client := keepAliveClient()
		if i%2 == 1 {
			client = freshClient()
		}
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				r, _, err := fetch(client, url)
				l.mu.Lock()
				if err != nil {
					l.failed.Add(1)
					if len(l.errs) < 10 {
						l.errs = append(l.errs, err.Error())
					}
				} else {
					l.ok.Add(1)
					l.pids[r.PID] = true
					l.versions[r.Version]++
				}
				l.mu.Unlock()
			}
		}()
	}
	return l
}

// waitRequests waits up to d until the load has done n requests.
func (l *load) waitRequests(t *testing.T, n int64, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for l.ok.Load()+l.failed.Load() < n {
		if time.Now().After(deadline) {
			t.Fatalf("the load did only %d of %d requests in %v", l.ok.Load()+l.failed.Load(), n, d)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (l *load) check(t *testing.T) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.failed.Load() != 0 {
		t.Errorf("%d of %d requests failed, want none; first errors: %q", l.failed.Load(), l.ok.Load()+l.failed.Load(), l.errs)
	}
}

var (
	workerReadyRe = regexp.MustCompile(`msg="worker ready" worker=(\d+) pid=(\d+) generation=(\d+)`)
	logTimeRe     = regexp.MustCompile(`^time=(\S+)`)
)

// readyWorkers returns the pids of the workers the log says became ready, by index.
func (s *lcServer) readyWorkers() map[int][]int {
	out := map[int][]int{}
	for _, m := range workerReadyRe.FindAllStringSubmatch(s.log.String(), -1) {
		idx, _ := strconv.Atoi(m[1])
		pid, _ := strconv.Atoi(m[2])
		out[idx] = append(out[idx], pid)
	}
	return out
}

// waitWorkers waits until n workers have been ready (initial start).
func (s *lcServer) waitWorkers(n int) map[int][]int {
	s.t.Helper()
	deadline := time.Now().Add(startTimeout)
	for {
		w := s.readyWorkers()
		if len(w) >= n {
			return w
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("only %d of %d workers became ready", len(w), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// logTime is the time of the first log line matching re.
func (s *lcServer) logTime(re *regexp.Regexp) time.Time {
	s.t.Helper()
	for _, line := range strings.Split(s.log.String(), "\n") {
		if re.MatchString(line) {
			if m := logTimeRe.FindStringSubmatch(line); m != nil {
				if ts, err := time.Parse(time.RFC3339Nano, m[1]); err == nil {
					return ts
				}
			}
		}
	}
	s.t.Fatalf("no timed log line matching %q", re)
	return time.Time{}
}

// kaConn is a raw keep-alive connection: a failure on it is reported,
// never retried, and belongs to the process that served it (lastPID).
type kaConn struct {
	nc      net.Conn
	br      *bufio.Reader
	addr    string
	lastPID int // 0 until a request succeeded
}

func dialKA(addr string) (*kaConn, error) {
	nc, err := net.DialTimeout("tcp", addr, ioTimeout)
	if err != nil {
		return nil, err
	}
	return &kaConn{nc: nc, br: bufio.NewReader(nc), addr: addr}, nil
}

func (c *kaConn) get(path string) (reply, error) {
	var r reply
	c.nc.SetDeadline(time.Now().Add(ioTimeout))
	req, _ := http.NewRequest("GET", "http://"+c.addr+path, nil)
	if err := req.Write(c.nc); err != nil {
		return r, err
	}
	resp, err := http.ReadResponse(c.br, req)
	if err != nil {
		return r, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err == nil {
		err = json.Unmarshal(body, &r)
	}
	if err == nil {
		c.lastPID = r.PID
	}
	return r, err
}

func (c *kaConn) close() { c.nc.Close() }

// TestLifecycleKillWorker kills a worker with SIGKILL under load: only the
// requests on its connections fail (one at most per connection, the one
// in flight), the other worker's clients see nothing, and a new worker
// takes its index within a second.
func TestLifecycleKillWorker(t *testing.T) {
	t.Parallel()
	s := startLC(t, "", nil, "--processes", "2", "--threads", "4")
	workers := s.waitWorkers(2)

	// Raw keep-alive connections, so that a failure is seen (no client
	// retries) and belongs to the process that served the connection.
	// They are opened until each worker has at least two.
	const conns = 8
	victim, survivor := workers[0][0], workers[1][0]
	type connStats struct {
		c         *kaConn
		failures  int
		failedPID []int // the connection's last pid before each failure (-1: could not connect)
		okAfter   int   // successes after the kill
	}
	stats := make([]connStats, conns)
	for attempt := 0; ; attempt++ {
		per := map[int]int{}
		for i := range stats {
			if stats[i].c == nil {
				c, err := dialKA(s.addr)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := c.get("/work"); err != nil {
					t.Fatal(err)
				}
				stats[i].c = c
			}
			per[stats[i].c.lastPID]++
		}
		if per[victim] >= 2 && per[survivor] >= 2 {
			break
		}
		if attempt == 50 {
			t.Fatalf("connections keep landing on one worker: %v", per)
		}
		for i := range stats { // redial the ones on the crowded worker
			if crowded := stats[i].c.lastPID; per[crowded] > conns/2 {
				stats[i].c.close()
				stats[i].c = nil
				per[crowded]--
			}
		}
	}
	var killed atomic.Bool
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := range stats {
		wg.Add(1)
		go func(cs *connStats) {
			defer wg.Done()
			defer func() {
				if cs.c != nil {
					cs.c.close()
				}
			}()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if cs.c == nil {
					c, err := dialKA(s.addr)
					if err != nil {
						cs.failures++
						cs.failedPID = append(cs.failedPID, -1)
						continue
					}
					cs.c = c
				}
				if _, err := cs.c.get("/work?ms=10"); err != nil {
					cs.failures++
					cs.failedPID = append(cs.failedPID, cs.c.lastPID)
					cs.c.close()
					cs.c = nil
					continue
				}
				if killed.Load() {
					cs.okAfter++
				}
			}
		}(&stats[i])
	}
	time.Sleep(200 * time.Millisecond) // under load
	if err := syscall.Kill(victim, syscall.SIGKILL); err != nil {
		t.Fatalf("killing worker 0 (pid %d): %v", victim, err)
	}
	killed.Store(true)
	// How soon it was started is measured below, by the master's clock.
	respawned := s.waitLog(regexp.MustCompile(`msg="worker started" worker=0 pid=(\d+) generation=2 cause=crash`), startTimeout)
	s.waitLog(regexp.MustCompile(`msg="worker ready" worker=0 pid=`+respawned[1]+` generation=2`), startTimeout)
	time.Sleep(300 * time.Millisecond) // load on the new worker too
	close(stop)
	wg.Wait()

	onVictim := 0
	for i, cs := range stats {
		for _, pid := range cs.failedPID {
			if pid != victim {
				t.Errorf("connection %d: a request failed on a connection served by pid %d, not the killed worker %d", i, pid, victim)
			}
		}
		if cs.failures > 1 {
			t.Errorf("connection %d: %d failures, want at most the one request in flight", i, cs.failures)
		}
		if cs.failures == 1 {
			onVictim++
		}
		if cs.okAfter == 0 {
			t.Errorf("connection %d: no request succeeded after the kill", i)
		}
	}
	// Every connection on the killed worker (two or more) lost exactly its
	// request in flight: the one sent, or about to be sent, at the kill.
	if onVictim < 2 {
		t.Errorf("only %d connections saw the kill; at least two were on the killed worker", onVictim)
	}
	t.Logf("%d of %d connections were on the killed worker and lost their request in flight", onVictim, conns)
	s.waitLog(regexp.MustCompile(`level=ERROR msg="worker died" worker=0 pid=`+strconv.Itoa(victim)+` generation=1 status="killed by signal 9 \(SIGKILL\)"`), 3*time.Second)
	deathAt := s.logTime(regexp.MustCompile(`msg="worker died" worker=0`))
	startAt := s.logTime(regexp.MustCompile(`msg="worker started" worker=0 pid=` + respawned[1]))
	if d := startAt.Sub(deathAt); d > time.Second {
		t.Errorf("the new worker started %v after the death, want within a second", d)
	}
	if s.countLog(regexp.MustCompile(`worker=1 pid=`+strconv.Itoa(survivor)+` generation=\d+ status=`)) != 0 {
		t.Errorf("the other worker (pid %d) exited too", survivor)
	}
	s.signal(syscall.SIGTERM)
	if code := s.wait(stopTimeout); code != 0 {
		t.Errorf("exit code %d after SIGTERM, want 0", code)
	}
}

// lifecycleApp copies lifecycle_app.py into dir with VERSION set to version.
func lifecycleApp(t *testing.T, dir, version string) {
	t.Helper()
	src, err := os.ReadFile(filepath.Join(appsDir, "lifecycle_app.py"))
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Replace(string(src), `VERSION = "v1"`, `VERSION = "`+version+`"`, 1)
	if !strings.Contains(text, version) {
		t.Fatalf("lifecycle_app.py has no VERSION line to rewrite")
	}
	// Written beside and renamed, as deployments do: no worker ever imports half a file.
	tmp := filepath.Join(dir, ".lifecycle_app.py.tmp")
	writeText(t, tmp, text)
	if err := os.Rename(tmp, filepath.Join(dir, "lifecycle_app.py")); err != nil {
		t.Fatal(err)
	}
	// A stale .pyc must not win over the new source within the same second.
	os.RemoveAll(filepath.Join(dir, "__pycache__"))
}

// TestLifecycleReloadUnderLoad reloads the workers twice under a steady
// load, by SIGHUP and by --touch-reload, with the application's code
// changed each time: no request fails, and the new code answers after.
func TestLifecycleReloadUnderLoad(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	lifecycleApp(t, dir, "v1")
	touch := filepath.Join(dir, "reload.touch")
	writeText(t, touch, "")
	s := startLC(t, dir, nil, "--processes", "2", "--threads", "4", "--touch-reload", touch)
	first := s.waitWorkers(2)

	stop := make(chan struct{})
	l := startLoad("http://"+s.addr+"/work?ms=1", 8, stop)
	l.waitRequests(t, 500, 10*time.Second)

	lifecycleApp(t, dir, "v2")
	s.signal(syscall.SIGHUP)
	reloaded := regexp.MustCompile(`msg="reload complete" reason="signal SIGHUP"`)
	s.waitLog(reloaded, 20*time.Second)
	mark := l.ok.Load() + l.failed.Load()
	l.waitRequests(t, mark+500, 10*time.Second)

	lifecycleApp(t, dir, "v3")
	time.Sleep(10 * time.Millisecond) // a new mtime, even on a coarse clock
	now := time.Now()
	if err := os.Chtimes(touch, now, now); err != nil {
		t.Fatal(err)
	}
	s.waitLog(regexp.MustCompile(`msg="reload complete" reason="touch-reload `), 20*time.Second)
	l.waitRequests(t, 3000, 20*time.Second)
	close(stop)
	l.wg.Wait()
	l.check(t)
	t.Logf("%d requests during two reloads, by version: %v", l.ok.Load(), l.versions)
	if l.versions["v1"] == 0 || l.versions["v2"] == 0 || l.versions["v3"] == 0 {
		t.Errorf("want answers from all three versions, got %v", l.versions)
	}

	// Only the new code answers now, from new processes.
	client := keepAliveClient()
	old := map[int]bool{first[0][0]: true, first[1][0]: true}
	for i := 0; i < 40; i++ {
		r, _, err := fetch(client, "http://"+s.addr+"/work")
		if err != nil {
			t.Fatalf("after the reloads: %v", err)
		}
		if r.Version != "v3" || old[r.PID] {
			t.Fatalf("after the reloads, pid %d answered version %q; want v3 from a new worker", r.PID, r.Version)
		}
	}
	if n := s.countLog(regexp.MustCompile(`msg="worker replaced"`)); n != 4 {
		t.Errorf("%d workers replaced, want 4 (2 workers, 2 reloads)", n)
	}
	s.signal(syscall.SIGTERM)
	if code := s.wait(stopTimeout); code != 0 {
		t.Errorf("exit code %d after SIGTERM, want 0", code)
	}
}

// waitFile waits up to d for path to exist.
func waitFile(t *testing.T, path string, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		if _, err := os.Stat(path); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not appear within %v", path, d)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestLifecycleGracefulStop sends SIGTERM while a slow request runs: it
// completes with its whole response, new connections are refused at once,
// and every process exits 0.
func TestLifecycleGracefulStop(t *testing.T) {
	t.Parallel()
	pidfile := filepath.Join(t.TempDir(), "gowsgi.pid")
	s := startLC(t, "", nil, "--processes", "2", "--threads", "2", "--pidfile", pidfile)
	s.waitWorkers(2)
	b, err := os.ReadFile(pidfile)
	if err != nil || strings.TrimSpace(string(b)) != strconv.Itoa(s.cmd.Process.Pid) {
		t.Errorf("pid file holds %q (%v), want the master's pid %d", b, err, s.cmd.Process.Pid)
	}
	mark := filepath.Join(t.TempDir(), "started")
	type result struct {
		r      reply
		status int
		err    error
	}
	done := make(chan result, 1)
	go func() {
		r, status, err := fetch(freshClient(), "http://"+s.addr+"/sleep?s=1.5&mark="+mark)
		done <- result{r, status, err}
	}()
	waitFile(t, mark, ioTimeout)
	s.signal(syscall.SIGTERM)
	s.waitLog(regexp.MustCompile(`msg="shutting down gracefully"`), 2*time.Second)
	// Once every process has closed its copy of the socket, connections are refused.
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", s.addr, time.Second)
		if err != nil {
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Errorf("new connections are still accepted 5 s after SIGTERM")
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	res := <-done
	if res.err != nil || res.status != 200 || res.r.PID == 0 {
		t.Errorf("the request in flight at SIGTERM: status %d, %v; want its full response", res.status, res.err)
	}
	if code := s.wait(stopTimeout); code != 0 {
		t.Errorf("exit code %d after SIGTERM, want 0", code)
	}
	if n := s.countLog(regexp.MustCompile(`msg="worker exited" worker=\d pid=\d+ generation=1 status="exit status 0"`)); n != 2 {
		t.Errorf("%d workers exited with status 0, want 2", n)
	}
	if _, err := os.Stat(pidfile); !os.IsNotExist(err) {
		t.Errorf("the pid file is still there after the exit (%v)", err)
	}
}

// TestLifecycleQuit: SIGQUIT stops everything at once, requests in flight included.
func TestLifecycleQuit(t *testing.T) {
	t.Parallel()
	s := startLC(t, "", nil, "--processes", "2")
	workers := s.waitWorkers(2)
	mark := filepath.Join(t.TempDir(), "started")
	done := make(chan error, 1)
	go func() {
		_, _, err := fetch(freshClient(), "http://"+s.addr+"/sleep?s=30&mark="+mark)
		done <- err
	}()
	waitFile(t, mark, ioTimeout)
	s.signal(syscall.SIGQUIT)
	if code := s.wait(5 * time.Second); code != 0 {
		t.Errorf("exit code %d after SIGQUIT, want 0", code)
	}
	select {
	case err := <-done:
		if err == nil {
			t.Errorf("the request in flight got a response; SIGQUIT must not wait for it")
		}
	case <-time.After(ioTimeout):
		t.Errorf("the request in flight was not cut off")
	}
	for _, pids := range workers {
		if err := syscall.Kill(pids[0], 0); err == nil {
			t.Errorf("worker pid %d is still alive", pids[0])
		}
	}
}

// TestLifecycleMasterKilled: workers do not outlive a master killed with SIGKILL.
func TestLifecycleMasterKilled(t *testing.T) {
	t.Parallel()
	s := startLC(t, "", nil, "--processes", "2")
	workers := s.waitWorkers(2)
	s.signal(syscall.SIGKILL)
	s.wait(stopTimeout)
	deadline := time.Now().Add(5 * time.Second)
	for _, pids := range workers {
		for syscall.Kill(pids[0], 0) == nil {
			if time.Now().After(deadline) {
				t.Fatalf("worker %d outlived its master", pids[0])
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// TestLifecycleMaxRequests recycles workers after their share of requests
// under load, without failing one.
func TestLifecycleMaxRequests(t *testing.T) {
	t.Parallel()
	s := startLC(t, "", nil, "--processes", "2", "--threads", "2", "--max-requests", "100", "--max-requests-jitter", "20")
	s.waitWorkers(2)
	stop := make(chan struct{})
	l := startLoad("http://"+s.addr+"/work", 6, stop)
	replaced := regexp.MustCompile(`msg="worker replaced" worker=\d pid=\d+ old_pid=\d+ cause=max-requests`)
	deadline := time.Now().Add(30 * time.Second)
	for s.countLog(replaced) < 4 {
		if time.Now().After(deadline) {
			t.Fatalf("only %d workers recycled in 30 s", s.countLog(replaced))
		}
		time.Sleep(10 * time.Millisecond)
	}
	close(stop)
	l.wg.Wait()
	l.check(t)
	t.Logf("%d requests, served by %d processes", l.ok.Load(), len(l.pids))
	if len(l.pids) < 4 {
		t.Errorf("%d processes served, want at least 4", len(l.pids))
	}
	if n := s.countLog(regexp.MustCompile(`msg="served its --max-requests; asking the master for a replacement" requests=1[0-2]\d worker=`)); n < 4 {
		t.Errorf("%d workers said they reached --max-requests 100 (+0..20), want at least 4", n)
	}
	s.signal(syscall.SIGTERM)
	if code := s.wait(stopTimeout); code != 0 {
		t.Errorf("exit code %d after SIGTERM, want 0", code)
	}
}

// TestLifecycleReloadOnRSS recycles a worker that grew past --reload-on-rss.
func TestLifecycleReloadOnRSS(t *testing.T) {
	t.Parallel()
	s := startLC(t, "", nil, "--processes", "1", "--reload-on-rss", "200")
	workers := s.waitWorkers(1)
	client := keepAliveClient()
	if _, _, err := fetch(client, "http://"+s.addr+"/grow?mb=250"); err != nil {
		t.Fatal(err)
	}
	s.waitLog(regexp.MustCompile(`msg="resident memory above --reload-on-rss; asking the master for a replacement" rss_mib=\d+ reload_on_rss=200 worker=0`), 3*time.Second)
	m := s.waitLog(regexp.MustCompile(`msg="worker replaced" worker=0 pid=(\d+) old_pid=`+strconv.Itoa(workers[0][0])+` cause=rss`), startTimeout)
	// The old worker drains and exits; from then on the new one answers.
	s.waitLog(regexp.MustCompile(`msg="worker exited" worker=0 pid=`+strconv.Itoa(workers[0][0])), stopTimeout)
	r, _, err := fetch(freshClient(), "http://"+s.addr+"/work")
	if err != nil || strconv.Itoa(r.PID) != m[1] {
		t.Errorf("after the recycling pid %d answered (%v), want the new worker %s", r.PID, err, m[1])
	}
}

// harakiriCheck sends fast requests on fresh connections until stop and
// counts the failures: a worker's harakiri must cost no other request.
func harakiriCheck(addr string, stop <-chan struct{}) *load {
	return startLoad("http://"+addr+"/work", 2, stop)
}

// TestLifecycleHarakiriSleep: a request blocked in C (time.sleep), where
// the exception cannot reach it, is stopped by force: its client gets 504,
// the log shows the request and its Python stack, the worker is replaced,
// and other requests are served throughout.
func TestLifecycleHarakiriSleep(t *testing.T) {
	t.Parallel()
	s := startLC(t, "", nil, "--processes", "2", "--threads", "2", "--harakiri", "1")
	workers := s.waitWorkers(2)
	stop := make(chan struct{})
	l := harakiriCheck(s.addr, stop)
	start := time.Now()
	_, status, _ := fetch(freshClient(), "http://"+s.addr+"/sleep?s=3600")
	took := time.Since(start)
	if status != 504 {
		t.Errorf("status %d for the stuck request, want 504", status)
	}
	if took < 2*time.Second || took > 8*time.Second {
		t.Errorf("the stuck request was answered after %v, want 1 s (harakiri) + 1 s (grace)", took)
	}
	m := s.waitLog(regexp.MustCompile(`level=ERROR msg="harakiri: request ran too long; raising HarakiriTimeout in its thread" slot=\d method=GET path="/sleep\?s=3600" elapsed=\S+ harakiri=1s worker=(\d) pid=(\d+)`), 3*time.Second)
	s.waitLog(regexp.MustCompile(`level=ERROR msg="harakiri: python stack of the stuck thread \(most recent call last\)"`), 3*time.Second)
	s.waitLog(regexp.MustCompile(`msg="  File \\".*lifecycle_app\.py\\", line \d+, in application" slot=\d`), 3*time.Second)
	s.waitLog(regexp.MustCompile(`msg="    time\.sleep\(float\(arg\(\\"s\\", \\"1\\"\)\)\)"`), 3*time.Second)
	s.waitLog(regexp.MustCompile(`msg="harakiri: request still running after the exception; stopping the worker" slot=\d method=GET path="/sleep\?s=3600" elapsed=\S+ answered_504=true worker=`+m[1]), 3*time.Second)
	// Its replacement may be ready (and the old worker told to drain) before the forced stop, or not.
	s.waitLog(regexp.MustCompile(`msg="worker exited" worker=`+m[1]+` pid=`+m[2]+` generation=1 status="exit status 3"`), 3*time.Second)
	s.waitLog(regexp.MustCompile(`msg="worker ready" worker=`+m[1]+` pid=\d+ generation=2`), startTimeout)
	close(stop)
	l.wg.Wait()
	l.check(t)
	idx, _ := strconv.Atoi(m[1])
	if m[2] != strconv.Itoa(workers[idx][0]) {
		t.Errorf("harakiri logged for pid %s, want worker %d's pid %d", m[2], idx, workers[idx][0])
	}
	s.signal(syscall.SIGTERM)
	if code := s.wait(stopTimeout); code != 0 {
		t.Errorf("exit code %d after SIGTERM, want 0", code)
	}
}

// TestLifecycleHarakiriBusy: a pure-Python loop is stopped by the
// exception: its client gets 504 at once, and the worker is replaced
// gracefully (its replacement ready before it drains).
func TestLifecycleHarakiriBusy(t *testing.T) {
	t.Parallel()
	s := startLC(t, "", nil, "--processes", "2", "--threads", "2", "--harakiri", "1")
	s.waitWorkers(2)
	stop := make(chan struct{})
	l := harakiriCheck(s.addr, stop)
	start := time.Now()
	_, status, _ := fetch(freshClient(), "http://"+s.addr+"/busy")
	took := time.Since(start)
	if status != 504 {
		t.Errorf("status %d for the busy request, want 504", status)
	}
	if took < time.Second || took > 5*time.Second {
		t.Errorf("the busy request was answered after %v, want about 1 s", took)
	}
	m := s.waitLog(regexp.MustCompile(`msg="harakiri: request ran too long; raising HarakiriTimeout in its thread" slot=\d method=GET path=/busy elapsed=\S+ harakiri=1s worker=(\d) pid=(\d+)`), 3*time.Second)
	s.waitLog(regexp.MustCompile(`msg="  File \\".*lifecycle_app\.py\\", line \d+, in _busy_forever" slot=\d`), 3*time.Second)
	s.waitLog(regexp.MustCompile(`msg="?_gowsgi\.HarakiriTimeout"? thread=\d worker=`+m[1]), 3*time.Second)
	s.waitLog(regexp.MustCompile(`msg="harakiri: the request ended after the exception; the worker is being replaced" slot=\d method=GET path=/busy`), 3*time.Second)
	s.waitLog(regexp.MustCompile(`msg="worker replaced" worker=`+m[1]+` pid=\d+ old_pid=`+m[2]+` cause=harakiri`), startTimeout)
	s.waitLog(regexp.MustCompile(`msg="worker exited" worker=`+m[1]+` pid=`+m[2]+` generation=1 status="exit status 0"`), stopTimeout)
	close(stop)
	l.wg.Wait()
	l.check(t)
	if s.countLog(regexp.MustCompile(`stopping the worker`)) != 0 {
		t.Errorf("the busy loop needed the forced stop; the exception should have ended it")
	}
	s.signal(syscall.SIGTERM)
	if code := s.wait(stopTimeout); code != 0 {
		t.Errorf("exit code %d after SIGTERM, want 0", code)
	}
}

// TestLifecycleCrashLoop: workers that die at import are restarted with
// a doubling back-off and a line for each failure, while the other worker
// serves; once the cause is gone, the index is back.
func TestLifecycleCrashLoop(t *testing.T) {
	t.Parallel()
	marker := filepath.Join(t.TempDir(), "crash")
	s := startLC(t, "", []string{"LIFECYCLE_CRASH_MARKER=" + marker}, "--processes", "2")
	workers := s.waitWorkers(2)
	writeText(t, marker, "")
	if err := syscall.Kill(workers[0][0], syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	backoffRe := regexp.MustCompile(`msg="starting the worker again after a back-off" worker=0 failures=(\d+) delay=(\S+)`)
	deadline := time.Now().Add(20 * time.Second)
	for s.countLog(backoffRe) < 4 {
		if time.Now().After(deadline) {
			t.Fatalf("only %d back-offs in 20 s", s.countLog(backoffRe))
		}
		// Worker 1 keeps serving meanwhile.
		if _, _, err := fetch(freshClient(), "http://"+s.addr+"/work"); err != nil {
			t.Fatalf("a request failed while worker 0 was crash-looping: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	var delays []time.Duration
	for _, m := range backoffRe.FindAllStringSubmatch(s.log.String(), -1) {
		d, err := time.ParseDuration(m[2])
		if err != nil {
			t.Fatalf("bad delay %q", m[2])
		}
		delays = append(delays, d)
	}
	for i := 1; i < len(delays); i++ {
		if delays[i] != 2*delays[i-1] {
			t.Errorf("back-off delays %v do not double", delays)
			break
		}
	}
	if n := s.countLog(regexp.MustCompile(`level=ERROR msg="worker failed to start" worker=0 pid=\d+ generation=\d+ status="exit status 1"`)); n < 3 {
		t.Errorf("%d failed starts logged with their exit status, want at least 3", n)
	}
	if !strings.Contains(s.log.String(), "RuntimeError: lifecycle_app refuses to start") {
		t.Errorf("the workers' import error is not in the log")
	}
	os.Remove(marker)
	s.waitLog(regexp.MustCompile(`msg="worker ready" worker=0 pid=\d+ generation=([3-9]|\d\d)`), 20*time.Second)
	s.signal(syscall.SIGTERM)
	if code := s.wait(stopTimeout); code != 0 {
		t.Errorf("exit code %d after SIGTERM, want 0", code)
	}
}

// TestLifecycleBrokenAppAtStart: when no worker can import the application
// at start-up, the master reports it and exits 1 instead of looping.
func TestLifecycleBrokenAppAtStart(t *testing.T) {
	t.Parallel()
	code, _, stderr := runToExit(t, true, "--module", "broken_import", "--processes", "2")
	if code != 1 {
		t.Errorf("exit code %d, want 1", code)
	}
	for _, want := range []string{
		"RuntimeError: broken_import refuses to be imported",
		`msg="worker failed to start" worker=`,
		`msg="stopping the master: a worker failed to start; see its log above"`,
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
}

// TestLifecyclePrivileges: --uid nobody runs the workers as nobody (the
// sockets were bound as root), the pid file names the master, and with
// --processes 1 the worker is a process of its own.
func TestLifecyclePrivileges(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("needs root to switch users")
	}
	// The master removes its pid file as nobody: the directory must let it
	// (t.TempDir's parent is private to root).
	run, err := os.MkdirTemp("", "gowsgi-e2e-run-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(run) })
	if err := os.Chmod(run, 0o777); err != nil {
		t.Fatal(err)
	}
	pidfile := filepath.Join(run, "gowsgi.pid")
	s := startLC(t, "", nil, "--processes", "1", "--uid", "nobody", "--pidfile", pidfile)
	r, _, err := fetch(keepAliveClient(), "http://"+s.addr+"/work")
	if err != nil {
		t.Fatal(err)
	}
	if r.UID != 65534 || r.GID != 65534 {
		t.Errorf("the worker runs as uid %d gid %d, want nobody (65534/65534)", r.UID, r.GID)
	}
	if r.PID == s.cmd.Process.Pid {
		t.Errorf("the master answered the request; with --processes 1 a worker must")
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err != nil || !regexp.MustCompile(`(?m)^Uid:\s+65534\s+65534\s+65534\s+65534$`).Match(status) {
		t.Errorf("the master did not drop root (%v)", err)
	}
	b, err := os.ReadFile(pidfile)
	if err != nil || strings.TrimSpace(string(b)) != strconv.Itoa(s.cmd.Process.Pid) {
		t.Errorf("pid file holds %q (%v), want %d", b, err, s.cmd.Process.Pid)
	}
	s.signal(syscall.SIGTERM)
	if code := s.wait(stopTimeout); code != 0 {
		t.Errorf("exit code %d after SIGTERM, want 0", code)
	}
	if _, err := os.Stat(pidfile); !os.IsNotExist(err) {
		t.Errorf("the pid file is still there after the exit (%v)", err)
	}
}

// TestLifecycleConfigFileChangesWaitForReload: a worker that comes back
// after a crash runs with its siblings' options even though the
// configuration file was edited meanwhile (or broken); SIGHUP takes the
// file as it is then, and a broken file abandons the reload.
func TestLifecycleConfigFileChangesWaitForReload(t *testing.T) {
	t.Parallel()
	conf := filepath.Join(t.TempDir(), "gowsgi.yaml")
	writeConf := func(text string) {
		tmp := conf + ".tmp"
		writeText(t, tmp, text)
		if err := os.Rename(tmp, conf); err != nil {
			t.Fatal(err)
		}
	}
	writeConf("processes: 2\nthreads: 2\nenv: [\"LIFECYCLE_TAG=one\"]\n")
	s := startLC(t, "", nil, "--config", conf)
	workers := s.waitWorkers(2)
	// tagsFrom asks until pid answered (fresh connections land on either
	// worker) and returns every tag seen.
	tagsFrom := func(pid int) map[string]bool {
		t.Helper()
		tags := map[string]bool{}
		deadline := time.Now().Add(10 * time.Second)
		for seen := false; !seen; {
			r, _, err := fetch(freshClient(), "http://"+s.addr+"/work")
			if err != nil {
				t.Fatal(err)
			}
			tags[r.Tag] = true
			seen = r.PID == pid
			if time.Now().After(deadline) {
				t.Fatalf("pid %d never answered", pid)
			}
		}
		return tags
	}
	if tags := tagsFrom(workers[1][0]); len(tags) != 1 || !tags["one"] {
		t.Fatalf("tags %v at start, want one", tags)
	}

	// Edited, then a worker dies: it comes back with tag one.
	writeConf("processes: 2\nthreads: 2\nenv: [\"LIFECYCLE_TAG=two\"]\n")
	respawned := func(victim int) int {
		t.Helper()
		before := len(s.readyWorkers()[0])
		if err := syscall.Kill(victim, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			if pids := s.readyWorkers()[0]; len(pids) > before {
				return pids[len(pids)-1]
			}
		}
		t.Fatalf("worker 0 did not come back after SIGKILL")
		return 0
	}
	pid := respawned(workers[0][0])
	if tags := tagsFrom(pid); len(tags) != 1 || !tags["one"] {
		t.Fatalf("tags %v after a respawn with the file edited, want only one", tags)
	}

	// SIGHUP takes the file: every worker answers two.
	s.signal(syscall.SIGHUP)
	s.waitLog(regexp.MustCompile(`msg="reload complete" reason="signal SIGHUP"`), 20*time.Second)
	if !strings.Contains(s.log.String(), `msg="configuration files changed: workers started from now on take the new options"`) {
		t.Error("the reload did not log that the configuration changed")
	}
	ready := s.readyWorkers()
	if tags := tagsFrom(ready[0][len(ready[0])-1]); len(tags) != 1 || !tags["two"] {
		t.Fatalf("tags %v after SIGHUP, want only two", tags)
	}
	if tags := tagsFrom(ready[1][len(ready[1])-1]); len(tags) != 1 || !tags["two"] {
		t.Fatalf("tags %v after SIGHUP, want only two", tags)
	}

	// A broken file: the reload is abandoned, and a crashed worker still comes back.
	writeConf("processes: 2\nthreads: 0\nenv: [\"LIFECYCLE_TAG=three\"]\n")
	s.signal(syscall.SIGHUP)
	s.waitLog(regexp.MustCompile(`msg="reload aborted: the new worker failed to start; the old workers keep serving"`), 20*time.Second)
	ready = s.readyWorkers()
	pid = respawned(ready[0][len(ready[0])-1])
	if tags := tagsFrom(pid); len(tags) != 1 || !tags["two"] {
		t.Fatalf("tags %v after a respawn with the file broken, want only two", tags)
	}
	s.signal(syscall.SIGTERM)
	if code := s.wait(stopTimeout); code != 0 {
		t.Errorf("exit code %d after SIGTERM, want 0", code)
	}
}
