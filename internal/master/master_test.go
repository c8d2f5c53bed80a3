package master

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
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

// logBuffer collects a master's log for the test to read while it runs.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// testMaster is a running master with fake workers on a loopback port.
type testMaster struct {
	t    *testing.T
	m    *Master
	addr string
	log  *logBuffer
	code chan int
}

// listenerFile opens a loopback listener and returns a duplicate of its
// socket for the master, as server.Listener.File does.
func listenerFile(t *testing.T) (string, *os.File) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	rc, err := ln.(*net.TCPListener).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var dup int
	var dupErr error
	rc.Control(func(fd uintptr) {
		r, _, errno := syscall.Syscall(syscall.SYS_FCNTL, fd, syscall.F_DUPFD_CLOEXEC, 0)
		dup = int(r)
		if errno != 0 {
			dupErr = errno
		}
	})
	if dupErr != nil {
		t.Fatal(dupErr)
	}
	return ln.Addr().String(), os.NewFile(uintptr(dup), "listener")
}

// startMaster runs a master with cfg (Listeners, Log and Stderr filled
// in) and fake workers with env added; it is stopped at the end.
func startMaster(t *testing.T, cfg Config, env ...string) *testMaster {
	t.Helper()
	addr, f := listenerFile(t)
	tm := &testMaster{t: t, addr: addr, log: &logBuffer{}, code: make(chan int, 1)}
	cfg.Listeners = []Listener{{Proto: "http", Addr: addr, File: f}}
	cfg.Log = slog.New(slog.NewTextHandler(tm.log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cfg.Stderr = tm.log
	cfg.Stdout = io.Discard
	cfg.Env = append(os.Environ(), env...)
	if cfg.GracefulTimeout == 0 {
		cfg.GracefulTimeout = 5 * time.Second
	}
	if cfg.BackoffBase == 0 {
		cfg.BackoffBase = 20 * time.Millisecond
	}
	tm.m = New(cfg)
	go func() { tm.code <- tm.m.Run() }()
	t.Cleanup(func() {
		select {
		case <-tm.m.done:
		default:
			tm.m.Stop(true)
			select {
			case <-tm.code:
			case <-time.After(10 * time.Second):
				t.Errorf("the master did not stop")
			}
		}
		if t.Failed() {
			t.Logf("master log:\n%s", tm.log)
		}
	})
	return tm
}

func (tm *testMaster) waitReady() {
	tm.t.Helper()
	select {
	case <-tm.m.Ready():
	case code := <-tm.code:
		tm.t.Fatalf("the master exited with %d before a worker was ready", code)
	case <-time.After(10 * time.Second):
		tm.t.Fatalf("no worker ready within 10 s")
	}
}

// waitFor polls cond for up to d.
func (tm *testMaster) waitFor(what string, d time.Duration, cond func() bool) {
	tm.t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			tm.t.Fatalf("%s: not within %v", what, d)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// readyWorkers waits until n workers are ready, one per index, and no
// other process runs; it returns their pids by index.
func (tm *testMaster) readyWorkers(n int) []int {
	tm.t.Helper()
	var pids []int
	tm.waitFor(strconv.Itoa(n)+" ready workers", 10*time.Second, func() bool {
		ws := tm.m.Workers()
		pids = pids[:0]
		for i, w := range ws {
			if !w.Ready || w.Index != i {
				return false
			}
			pids = append(pids, w.PID)
		}
		return len(ws) == n
	})
	return pids
}

func (tm *testMaster) stop(immediate bool) int {
	tm.t.Helper()
	tm.m.Stop(immediate)
	select {
	case code := <-tm.code:
		return code
	case <-time.After(10 * time.Second):
		tm.t.Fatalf("the master did not stop within 10 s")
		return -1
	}
}

// stopClean stops the master gracefully and requires it to exit with 0.
func (tm *testMaster) stopClean() {
	tm.t.Helper()
	if code := tm.stop(false); code != 0 {
		tm.t.Errorf("exit code %d, want 0", code)
	}
}

// wantFailure waits up to 10 s for the master to exit on its own, with 1.
func (tm *testMaster) wantFailure(stuck string) {
	tm.t.Helper()
	select {
	case code := <-tm.code:
		if code != 1 {
			tm.t.Errorf("exit code %d, want 1", code)
		}
	case <-time.After(10 * time.Second):
		tm.t.Fatal(stuck)
	}
}

// reloadFixed removes the marker that broke new workers, checks that the
// next reload completes, and stops the master cleanly.
func (tm *testMaster) reloadFixed(marker string) {
	tm.t.Helper()
	os.Remove(marker)
	tm.m.Reload("fixed")
	tm.waitLog(`msg="reload complete" reason=fixed`, 10*time.Second)
	tm.stopClean()
}

func (tm *testMaster) waitLog(re string, d time.Duration) []string {
	tm.t.Helper()
	r := regexp.MustCompile(re)
	var m []string
	tm.waitFor("log line "+re, d, func() bool {
		m = r.FindStringSubmatch(tm.log.String())
		return m != nil
	})
	return m
}

func get(client *http.Client, url string) (string, error) {
	resp, err := client.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

func alive(pid int) bool { return syscall.Kill(pid, 0) == nil }

func TestMasterStartServeStop(t *testing.T) {
	t.Parallel()
	tm := startMaster(t, Config{Processes: 2})
	tm.waitReady()
	pids := tm.readyWorkers(2)
	ws := tm.m.Workers()
	for i, w := range ws {
		if w.Generation != 1 || w.StartedAt.IsZero() || w.PID == os.Getpid() {
			t.Errorf("worker %d: %+v", i, w)
		}
		if filepath.Dir(w.ControlSocket) != tm.m.controlDir || !strings.HasSuffix(w.ControlSocket, ".sock") {
			t.Errorf("worker %d: control socket %q is not in the master's directory %q", i, w.ControlSocket, tm.m.controlDir)
		}
	}
	// The worker sees its control socket, and not the master's other variables.
	body, err := get(http.DefaultClient, "http://"+tm.addr+"/env?name="+EnvControlSocket)
	if err != nil || (body != ws[0].ControlSocket && body != ws[1].ControlSocket) {
		t.Errorf("%s in the worker is %q (%v), want one of the workers' sockets", EnvControlSocket, body, err)
	}
	seen := map[string]bool{}
	for i := 0; i < 40 && len(seen) < 2; i++ {
		c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
		body, err := get(c, "http://"+tm.addr+"/")
		if err != nil {
			t.Fatal(err)
		}
		seen[body] = true
	}
	for body := range seen {
		if body != strconv.Itoa(pids[0]) && body != strconv.Itoa(pids[1]) {
			t.Errorf("pid %s answered; the workers are %v", body, pids)
		}
	}
	if !strings.Contains(tm.log.String(), `msg=listening addr=`+tm.addr+` proto=http`) {
		t.Errorf("no listening line")
	}
	dir := tm.m.controlDir
	if tm.m.Draining() {
		t.Errorf("draining before the stop")
	}
	tm.stopClean()
	if !tm.m.Draining() {
		t.Errorf("not draining after the stop")
	}
	for _, pid := range pids {
		if alive(pid) {
			t.Errorf("worker %d is still alive", pid)
		}
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("the control directory %s is still there (%v)", dir, err)
	}
	if n := strings.Count(tm.log.String(), `status="exit status 0"`); n != 2 {
		t.Errorf("%d workers exited with status 0, want 2", n)
	}
	for cause, n := range tm.m.Restarts() {
		if n != 0 {
			t.Errorf("restarts[%s] = %d, want 0", cause, n)
		}
	}
}

func TestMasterRespawnsKilledWorker(t *testing.T) {
	t.Parallel()
	tm := startMaster(t, Config{Processes: 2, StableAfter: 50 * time.Millisecond})
	pids := tm.readyWorkers(2)
	time.Sleep(100 * time.Millisecond) // stable: the death is a crash, not a failed start
	killed := time.Now()
	syscall.Kill(pids[1], syscall.SIGKILL)
	var now []int
	tm.waitFor("a new worker 1", 5*time.Second, func() bool {
		now = tm.readyWorkers(2)
		return now[1] != pids[1]
	})
	if d := time.Since(killed); d > 3*time.Second {
		t.Errorf("the replacement was ready %v after the kill", d)
	}
	if now[0] != pids[0] {
		t.Errorf("worker 0 changed from %d to %d", pids[0], now[0])
	}
	if g := tm.m.Workers()[1].Generation; g != 2 {
		t.Errorf("worker 1 generation %d, want 2", g)
	}
	if r := tm.m.Restarts(); r[CauseCrash] != 1 {
		t.Errorf("restarts %v, want 1 crash", r)
	}
	tm.waitLog(`level=ERROR msg="worker died" worker=1 pid=`+strconv.Itoa(pids[1])+` generation=1 status="killed by signal 9 \(SIGKILL\)" uptime=`, time.Second)
	if strings.Contains(tm.log.String(), "back-off") {
		t.Errorf("a worker that ran fine was restarted after a back-off")
	}
	tm.stopClean()
}

// load runs GETs against addr until stop; half the clients use a fresh
// connection per request (nothing can retry), half keep-alive.
func load(addr string, clients int, stop <-chan struct{}) (ok, failed *atomic.Int64, wait func() []string) {
	ok, failed = &atomic.Int64{}, &atomic.Int64{}
	var mu sync.Mutex
	var errs []string
	var wg sync.WaitGroup
	for i := 0; i < clients; i++ {
		c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: i%2 == 0}}
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := get(c, "http://"+addr+"/slow?ms=1"); err != nil {
					failed.Add(1)
					mu.Lock()
					errs = append(errs, fmt.Sprintf("keep-alive %v: %v", i%2 != 0, err))
					mu.Unlock()
				} else {
					ok.Add(1)
				}
			}
		}(i)
	}
	return ok, failed, func() []string {
		wg.Wait()
		return errs
	}
}

func TestMasterRollingReload(t *testing.T) {
	t.Parallel()
	tm := startMaster(t, Config{Processes: 3})
	old := tm.readyWorkers(3)
	stop := make(chan struct{})
	ok, failed, wait := load(tm.addr, 6, stop)
	// Capacity never drops: three workers are ready at every moment.
	var minReady atomic.Int64
	minReady.Store(3)
	watchDone := make(chan struct{})
	go func() {
		defer close(watchDone)
		for {
			select {
			case <-stop:
				return
			default:
			}
			n := int64(0)
			for _, w := range tm.m.Workers() {
				if w.Ready {
					n++
				}
			}
			if n < minReady.Load() {
				minReady.Store(n)
			}
			time.Sleep(time.Millisecond)
		}
	}()
	tm.waitFor("load", 5*time.Second, func() bool { return ok.Load() > 200 })
	tm.m.Reload("test")
	tm.waitLog(`msg="reload complete" reason=test`, 20*time.Second)
	mark := ok.Load()
	tm.waitFor("load after the reload", 5*time.Second, func() bool { return ok.Load() > mark+200 })
	close(stop)
	errs := wait()
	<-watchDone
	if failed.Load() != 0 {
		t.Errorf("%d of %d requests failed during the reload: %q", failed.Load(), ok.Load()+failed.Load(), errs)
	}
	if minReady.Load() < 3 {
		t.Errorf("only %d workers were ready at one moment of the reload, want 3 throughout", minReady.Load())
	}
	now := tm.readyWorkers(3)
	for i := range now {
		if now[i] == old[i] {
			t.Errorf("worker %d was not replaced", i)
		}
		if alive(old[i]) {
			// It drains and exits; give it a moment.
			tm.waitFor("old worker exit", 5*time.Second, func() bool { return !alive(old[i]) })
		}
	}
	for _, w := range tm.m.Workers() {
		if w.Generation != 2 {
			t.Errorf("worker %d generation %d, want 2", w.Index, w.Generation)
		}
	}
	if r := tm.m.Restarts(); r[CauseReload] != 3 || r[CauseCrash] != 0 {
		t.Errorf("restarts %v, want 3 reloads", r)
	}
	// One at a time: each replacement was ready before the next started.
	lines := regexp.MustCompile(`msg="(worker started|worker replaced)" worker=(\d).* cause=reload`).FindAllStringSubmatch(tm.log.String(), -1)
	var order []string
	for _, l := range lines {
		order = append(order, l[1][7:]+l[2])
	}
	if got := strings.Join(order, " "); got != "started0 replaced0 started1 replaced1 started2 replaced2" {
		t.Errorf("reload order %q, want each worker replaced before the next starts", got)
	}
	t.Logf("%d requests during the reload", ok.Load())
}

func TestMasterRetire(t *testing.T) {
	t.Parallel()
	tm := startMaster(t, Config{Processes: 1})
	old := tm.readyWorkers(1)
	for _, msg := range []string{"retire+bogus", "hello"} {
		if _, err := get(http.DefaultClient, "http://"+tm.addr+"/send?msg="+msg); err != nil {
			t.Fatal(err)
		}
	}
	tm.waitLog(`msg="unknown retire cause from a worker" worker=0 pid=\d+ cause=bogus`, time.Second)
	tm.waitLog(`msg="unknown message from a worker" worker=0 pid=\d+ message=hello`, time.Second)
	stop := make(chan struct{})
	ok, failed, wait := load(tm.addr, 4, stop)
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	if _, err := get(c, "http://"+tm.addr+"/retire?cause="+CauseMaxRequests); err != nil {
		t.Fatal(err)
	}
	tm.waitLog(`msg="worker replaced" worker=0 pid=\d+ old_pid=`+strconv.Itoa(old[0])+` cause=max-requests`, 10*time.Second)
	tm.waitLog(`msg="worker exited" worker=0 pid=`+strconv.Itoa(old[0])+` generation=1 status="exit status 0"`, 5*time.Second)
	close(stop)
	if errs := wait(); failed.Load() != 0 {
		t.Errorf("%d of %d requests failed while the worker was replaced: %q", failed.Load(), ok.Load()+failed.Load(), errs)
	}
	if r := tm.m.Restarts(); r[CauseMaxRequests] != 1 {
		t.Errorf("restarts %v, want 1 max-requests", r)
	}
}

func TestMasterBackoff(t *testing.T) {
	t.Parallel()
	marker := filepath.Join(t.TempDir(), "fail")
	tm := startMaster(t, Config{Processes: 2, BackoffBase: 20 * time.Millisecond, BackoffMax: 80 * time.Millisecond},
		fakeMode+"=fail-if-marker", fakeMarker+"="+marker)
	pids := tm.readyWorkers(2)
	os.WriteFile(marker, nil, 0o644)
	syscall.Kill(pids[0], syscall.SIGKILL)
	re := regexp.MustCompile(`msg="starting the worker again after a back-off" worker=0 failures=(\d+) delay=(\S+)`)
	tm.waitFor("five back-offs", 10*time.Second, func() bool { return len(re.FindAllString(tm.log.String(), -1)) >= 5 })
	var delays []string
	for _, m := range re.FindAllStringSubmatch(tm.log.String(), -1)[:5] {
		delays = append(delays, m[2])
	}
	if got := strings.Join(delays, " "); got != "20ms 40ms 80ms 80ms 80ms" {
		t.Errorf("back-off delays %q, want doubling from 20ms up to 80ms", got)
	}
	tm.waitLog(`level=ERROR msg="worker failed to start" worker=0 pid=\d+ generation=\d+ status="exit status 1" uptime=\S+ failures=3`, time.Second)
	// Worker 1 serves throughout.
	if body, err := get(http.DefaultClient, "http://"+tm.addr+"/"); err != nil || body != strconv.Itoa(pids[1]) {
		t.Errorf("during the crash loop: %q, %v; want worker 1 (pid %d)", body, err, pids[1])
	}
	os.Remove(marker)
	now := tm.readyWorkers(2)
	if now[1] != pids[1] {
		t.Errorf("worker 1 changed")
	}
	if r := tm.m.Restarts(); r[CauseCrash] < 5 {
		t.Errorf("restarts %v, want at least 5 crashes", r)
	}
	tm.stopClean()
}

func TestMasterBootFailure(t *testing.T) {
	t.Parallel()
	start := time.Now()
	tm := startMaster(t, Config{Processes: 3}, fakeMode+"=fail")
	tm.wantFailure("the master did not give up")
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("giving up took %v", d)
	}
	for _, want := range []string{"fake worker: failing at start-up as asked", `msg="worker failed to start" worker=`, `msg="stopping the master: a worker failed to start; see its log above"`} {
		if !strings.Contains(tm.log.String(), want) {
			t.Errorf("log lacks %q", want)
		}
	}
	if strings.Contains(tm.log.String(), "msg=listening") {
		t.Errorf("listening logged though no worker started")
	}
	if len(tm.m.Workers()) != 0 {
		t.Errorf("workers left: %v", tm.m.Workers())
	}
}

func TestMasterReloadAborts(t *testing.T) {
	t.Parallel()
	marker := filepath.Join(t.TempDir(), "fail")
	tm := startMaster(t, Config{Processes: 2}, fakeMode+"=fail-if-marker", fakeMarker+"="+marker)
	old := tm.readyWorkers(2)
	os.WriteFile(marker, nil, 0o644)
	tm.m.Reload("broken code")
	tm.waitLog(`msg="reload aborted: the new worker failed to start; the old workers keep serving" worker=0 reason="broken code"`, 10*time.Second)
	now := tm.readyWorkers(2)
	if now[0] != old[0] || now[1] != old[1] {
		t.Errorf("workers changed from %v to %v", old, now)
	}
	if strings.Contains(tm.log.String(), "back-off") {
		t.Errorf("the failed reload is retried; the operator reloads again once the code is fixed")
	}
	tm.reloadFixed(marker)
}

func TestMasterKillsAWorkerThatHangsAtStart(t *testing.T) {
	t.Parallel()
	marker := filepath.Join(t.TempDir(), "hang")
	tm := startMaster(t, Config{Processes: 1, StartTimeout: 500 * time.Millisecond}, fakeMode+"=hang-if-marker", fakeMarker+"="+marker)
	old := tm.readyWorkers(1)
	os.WriteFile(marker, nil, 0o644)
	tm.m.Reload("hanging import")
	tm.waitLog(`msg="worker not ready in time; killing it" worker=0`, 10*time.Second)
	tm.waitLog(`msg="reload aborted: the new worker failed to start; the old workers keep serving" worker=0 reason="hanging import"`, 10*time.Second)
	if now := tm.readyWorkers(1); now[0] != old[0] {
		t.Errorf("worker changed from %v to %v", old, now)
	}
	tm.reloadFixed(marker)
}

func TestMasterGivesUpOnAFirstWorkerThatHangs(t *testing.T) {
	t.Parallel()
	marker := filepath.Join(t.TempDir(), "hang")
	os.WriteFile(marker, nil, 0o644)
	tm := startMaster(t, Config{Processes: 1, StartTimeout: 300 * time.Millisecond}, fakeMode+"=hang-if-marker", fakeMarker+"="+marker)
	tm.wantFailure("the master waited for a hanging worker")
	if !strings.Contains(tm.log.String(), `msg="worker not ready in time; killing it"`) {
		t.Errorf("log lacks the timeout:\n%s", tm.log.String())
	}
}

func TestMasterPidFileAndTouchReload(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	pidfile := filepath.Join(dir, "master.pid")
	touch := filepath.Join(dir, "touch")
	tm := startMaster(t, Config{Processes: 1, PidFile: pidfile, TouchReload: []string{touch}, TouchInterval: 20 * time.Millisecond})
	old := tm.readyWorkers(1)
	b, err := os.ReadFile(pidfile)
	if err != nil || string(b) != strconv.Itoa(os.Getpid())+"\n" {
		t.Errorf("pid file holds %q (%v), want %d", b, err, os.Getpid())
	}
	tm.waitLog(`msg="touch-reload file does not exist; creating it will reload" file=`, time.Second)
	os.WriteFile(touch, nil, 0o644)
	tm.waitLog(`msg="reload complete" reason="touch-reload `+regexp.QuoteMeta(touch)+`"`, 10*time.Second)
	if now := tm.readyWorkers(1); now[0] == old[0] {
		t.Errorf("the worker was not replaced")
	}
	tm.stopClean()
	if _, err := os.Stat(pidfile); !os.IsNotExist(err) {
		t.Errorf("the pid file is still there (%v)", err)
	}
}

// A worker that does not finish within the graceful timeout is killed.
func TestMasterGracefulTimeout(t *testing.T) {
	t.Parallel()
	tm := startMaster(t, Config{Processes: 1, GracefulTimeout: 100 * time.Millisecond, KillAfter: 100 * time.Millisecond})
	pids := tm.readyWorkers(1)
	go get(http.DefaultClient, "http://"+tm.addr+"/slow?ms=20000")
	time.Sleep(100 * time.Millisecond) // the request is in flight
	start := time.Now()
	tm.stopClean()
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("the stop took %v, want the graceful timeout and the kill delay", d)
	}
	if alive(pids[0]) {
		t.Errorf("the worker is alive")
	}
	tm.waitLog(`msg="workers still running after the graceful timeout; killing them" workers=1`, time.Second)
}

func TestMasterImmediateStop(t *testing.T) {
	t.Parallel()
	tm := startMaster(t, Config{Processes: 2})
	pids := tm.readyWorkers(2)
	go get(http.DefaultClient, "http://"+tm.addr+"/slow?ms=20000")
	time.Sleep(50 * time.Millisecond)
	start := time.Now()
	if code := tm.stop(true); code != 0 {
		t.Errorf("exit code %d", code)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("the immediate stop took %v", d)
	}
	for _, pid := range pids {
		if alive(pid) {
			t.Errorf("worker %d is alive", pid)
		}
	}
}

// startSettingsMaster starts 2 fake workers under a master whose settings
// are "v1" while the files they stand for say "v2"; settingsOf(pid) is
// what that worker was started with (fakeReportDir).
func startSettingsMaster(t *testing.T, env ...string) (tm *testMaster, files string, settingsOf func(pid int) string) {
	t.Helper()
	dir := t.TempDir()
	files = filepath.Join(dir, "files")
	os.WriteFile(files, []byte("v2"), 0o644)
	reports := filepath.Join(dir, "reports")
	os.Mkdir(reports, 0o755)
	env = append(env, fakeSettingsFile+"="+files, fakeReportDir+"="+reports)
	tm = startMaster(t, Config{Processes: 2, StableAfter: 50 * time.Millisecond, Settings: []byte("v1")}, env...)
	settingsOf = func(pid int) string {
		t.Helper()
		var b []byte
		tm.waitFor("the report of pid "+strconv.Itoa(pid), 5*time.Second, func() bool {
			var err error
			b, err = os.ReadFile(filepath.Join(reports, strconv.Itoa(pid)))
			return err == nil
		})
		return string(b)
	}
	return tm, files, settingsOf
}

// Workers read the master's settings, not the configuration files: a
// respawned worker gets its siblings' settings; a reload's first worker
// reads the files, and what it read goes to every worker started after.
func TestMasterHandsWorkersItsSettings(t *testing.T) {
	t.Parallel()
	tm, _, settingsOf := startSettingsMaster(t)
	pids := tm.readyWorkers(2)
	for _, pid := range pids {
		if s := settingsOf(pid); s != "v1" {
			t.Errorf("worker %d started with %q, want v1", pid, s)
		}
	}
	time.Sleep(100 * time.Millisecond) // stable: the death is a crash
	syscall.Kill(pids[0], syscall.SIGKILL)
	var now []int
	tm.waitFor("a new worker 0", 5*time.Second, func() bool {
		now = tm.readyWorkers(2)
		return now[0] != pids[0]
	})
	if s := settingsOf(now[0]); s != "v1" {
		t.Errorf("respawned worker got %q, want v1", s)
	}

	tm.m.Reload("test")
	tm.waitLog(`msg="reload complete"`, 10*time.Second)
	reloaded := tm.readyWorkers(2)
	if s := settingsOf(reloaded[0]); s != fakeReadFiles {
		t.Errorf("the reload's first worker got %q, want it to read the files", s)
	}
	if s := settingsOf(reloaded[1]); s != "v2" {
		t.Errorf("the reload's second worker got %q, want v2 (what the first read)", s)
	}
	tm.waitLog(`msg="configuration files changed: workers started from now on take the new options" worker=0`, time.Second)
	time.Sleep(100 * time.Millisecond)
	syscall.Kill(reloaded[0], syscall.SIGKILL)
	tm.waitFor("a new worker 0", 5*time.Second, func() bool {
		now = tm.readyWorkers(2)
		return now[0] != reloaded[0]
	})
	if s := settingsOf(now[0]); s != "v2" {
		t.Errorf("worker respawned after the reload got %q, want v2", s)
	}
	tm.stopClean()
}

// While a reload's first worker reads the files, a worker that dies
// elsewhere comes back with the old settings, and the reload replaces it
// too; a second SIGHUP meanwhile has the files read again.
func TestMasterReloadLeavesNoOldSettings(t *testing.T) {
	t.Parallel()
	tm, files, settingsOf := startSettingsMaster(t, fakeReaderDelay+"=600ms")
	pids := tm.readyWorkers(2)
	time.Sleep(100 * time.Millisecond) // stable: a death is a crash

	tm.m.Reload("first")
	tm.waitLog(`msg="worker started" worker=0 pid=\d+ generation=2 cause=reload`, 5*time.Second)
	syscall.Kill(pids[1], syscall.SIGKILL) // dies while worker 0 reads the files
	tm.waitLog(`msg="reload complete" reason=first`, 10*time.Second)
	now := tm.readyWorkers(2)
	if s := settingsOf(now[1]); s != "v2" {
		t.Errorf("after the reload, worker 1 runs %q, want v2", s)
	}

	tm.m.Reload("second")
	m := tm.waitLog(`msg="worker started" worker=0 pid=(\d+) generation=3 cause=reload`, 5*time.Second)
	reader, _ := strconv.Atoi(m[1])
	if s := settingsOf(reader); s != fakeReadFiles { // it has read v2
		t.Fatalf("the second reload's first worker got %q", s)
	}
	os.WriteFile(files, []byte("v3"), 0o644) // fixed while the first reader starts...
	tm.m.Reload("third")                     // ...and SIGHUP again
	tm.waitLog(`msg="reload complete" reason=third`, 15*time.Second)
	now = tm.readyWorkers(2)
	if s := settingsOf(now[1]); s != "v3" {
		t.Errorf("after a second reload during the first, worker 1 runs %q, want v3", s)
	}
	tm.stopClean()
}

// Settings too large for one environment variable are not passed: each
// worker reads the files, as before settings existed.
func TestMasterSettingsTooLargeForTheEnvironment(t *testing.T) {
	t.Parallel()
	reports := t.TempDir()
	tm := startMaster(t, Config{Processes: 1, Settings: bytes.Repeat([]byte("x"), maxSettings+1)}, fakeReportDir+"="+reports)
	pids := tm.readyWorkers(1)
	tm.waitLog(`level=WARN msg="configuration too large to hand to the workers in their environment; each worker reads the files itself" bytes=98305`, time.Second)
	b, err := os.ReadFile(filepath.Join(reports, strconv.Itoa(pids[0])))
	if err != nil || string(b) != fakeReadFiles {
		t.Errorf("worker started with %q (%v), want it to read the files", b, err)
	}
	tm.stopClean()
}
