package master

import (
	"bufio"
	"context"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestBackoff(t *testing.T) {
	base, max := 100*time.Millisecond, time.Second
	for failures, want := range []time.Duration{0, 100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond, 800 * time.Millisecond, time.Second, time.Second} {
		if got := backoff(failures, base, max); got != want {
			t.Errorf("backoff(%d) = %v, want %v", failures, got, want)
		}
	}
	if got := backoff(1000, base, max); got != max {
		t.Errorf("backoff(1000) = %v, want the maximum", got)
	}
}

func TestDescribeExit(t *testing.T) {
	for script, want := range map[string]string{
		"exit 0":      "exit status 0",
		"exit 3":      "exit status 3",
		"kill -9 $$":  "killed by signal 9 (SIGKILL)",
		"kill -15 $$": "killed by signal 15 (SIGTERM)",
	} {
		cmd := exec.Command("/bin/sh", "-c", script)
		cmd.Run()
		if got := describeExit(cmd.ProcessState); got != want {
			t.Errorf("%s: %q, want %q", script, got, want)
		}
	}
	if got := describeExit(nil); got != "unknown" {
		t.Errorf("nil: %q", got)
	}
}

func TestListenFDs(t *testing.T) {
	specs := []inheritedSpec{{3, "http", "127.0.0.1:8000"}, {4, "uwsgi", "unix:/run/app;x.sock"}, {5, "http", "[::1]:80"}}
	v := formatListenFDs(specs)
	got, err := parseListenFDs(v)
	if err != nil {
		t.Fatalf("%q: %v", v, err)
	}
	if len(got) != len(specs) {
		t.Fatalf("%q parsed to %v", v, got)
	}
	for i := range specs {
		if got[i] != specs[i] {
			t.Errorf("entry %d: %+v, want %+v", i, got[i], specs[i])
		}
	}
	for _, bad := range []string{"x:http:a", "2:http:a", "3::a", "3:http", "3:http:%zz"} {
		if _, err := parseListenFDs(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
	if got, err := parseListenFDs(""); err != nil || got != nil {
		t.Errorf("empty: %v, %v", got, err)
	}
}

func TestLinkMessages(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	l := &Link{pipe: w}
	l.Ready()
	l.Ready()
	if !l.Retire(CauseRSS) || l.Retire(CauseMaxRequests) {
		t.Errorf("Retire must send the first cause only")
	}
	if l.Retiring() != CauseRSS {
		t.Errorf("Retiring() = %q", l.Retiring())
	}
	w.Close()
	var lines []string
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if got := strings.Join(lines, "|"); got != "ready|retire rss" {
		t.Errorf("messages %q, want ready once and one retire", got)
	}
}

func TestAttachOutsideAWorker(t *testing.T) {
	if _, ok := os.LookupEnv(EnvWorker); ok {
		t.Skip("running as a worker")
	}
	l, err := Attach()
	if l != nil || err != nil {
		t.Errorf("Attach() = %v, %v; want nil, nil in a process the master did not start", l, err)
	}
}

func TestWorkerEnv(t *testing.T) {
	env := workerEnv([]string{"PATH=/bin", EnvWorker + "=3", EnvControlSocket + "=/x", "GOWSGI_THREADS=4", EnvListenFDs + "=3:http:a"})
	if got := strings.Join(env, " "); got != "PATH=/bin GOWSGI_THREADS=4" {
		t.Errorf("workerEnv kept %q; want the master's variables out and the options in", got)
	}
}

func TestParseStatm(t *testing.T) {
	got, err := parseStatm([]byte("12345 678 90 1 0 2 0\n"))
	if err != nil || got != 678*pageSize {
		t.Errorf("parseStatm = %d, %v; want %d", got, err, 678*pageSize)
	}
	for _, bad := range []string{"", "12", "1 x 3"} {
		if _, err := parseStatm([]byte(bad)); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
	rss, err := ResidentBytes()
	if err != nil || rss < 1<<20 {
		t.Errorf("ResidentBytes() = %d, %v", rss, err)
	}
}

func TestRequestLimit(t *testing.T) {
	if RequestLimit(0, 10) != 0 || RequestLimit(-1, 0) != 0 {
		t.Errorf("no --max-requests must mean no limit")
	}
	if RequestLimit(100, 0) != 100 {
		t.Errorf("no jitter must mean exactly the limit")
	}
	seen := map[uint64]bool{}
	for i := 0; i < 2000; i++ {
		n := RequestLimit(100, 3)
		if n < 100 || n > 103 {
			t.Fatalf("RequestLimit(100, 3) = %d, want 100..103", n)
		}
		seen[n] = true
	}
	if len(seen) != 4 {
		t.Errorf("RequestLimit(100, 3) took the values %v, want all of 100..103", seen)
	}
}

func TestWatchRSS(t *testing.T) {
	var mu sync.Mutex
	rss := uint64(10)
	read := func() (uint64, error) {
		mu.Lock()
		defer mu.Unlock()
		rss += 10
		return rss, nil
	}
	over := make(chan uint64, 2)
	done := make(chan struct{})
	go func() {
		WatchRSS(context.Background(), 35, time.Millisecond, read, func(n uint64) { over <- n })
		close(done)
	}()
	select {
	case n := <-over:
		if n != 40 {
			t.Errorf("over(%d), want 40, the first reading above 35", n)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("never over the limit")
	}
	<-done // it returns after calling over once
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	WatchRSS(ctx, 1, time.Hour, read, func(uint64) { t.Errorf("called after the context ended") })
}

func TestWatchTouch(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	os.WriteFile(a, []byte("1"), 0o644)
	changed := make(chan string, 10)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	log := slog.New(slog.NewTextHandler(&strings.Builder{}, nil))
	go watchTouch(ctx, []string{a, b}, 5*time.Millisecond, log, func(f string) { changed <- f })
	expect := func(want string) {
		t.Helper()
		select {
		case got := <-changed:
			if got != want {
				t.Errorf("changed %q, want %q", got, want)
			}
		case <-time.After(2 * time.Second):
			t.Fatalf("no change seen for %s", want)
		}
	}
	time.Sleep(20 * time.Millisecond)
	select {
	case f := <-changed:
		t.Fatalf("%s reported as changed before anything changed", f)
	default:
	}
	later := time.Now().Add(time.Minute)
	os.Chtimes(a, later, later)
	expect(a)
	os.WriteFile(b, nil, 0o644) // created
	expect(b)
	os.Truncate(a, 5) // one change: size (and mtime)
	expect(a)
	os.Remove(b)
	expect(b)
}

func TestLookupCredentials(t *testing.T) {
	c, err := lookupCredentials("nobody", "")
	if err != nil {
		t.Skipf("no user nobody here: %v", err)
	}
	if c.uid != 65534 || c.gid != 65534 || c.name != "nobody" || len(c.groups) == 0 || c.groups[0] != c.gid {
		t.Errorf("nobody: %+v", c)
	}
	c, err = lookupCredentials("65534", "0")
	if err != nil || c.uid != 65534 || c.gid != 0 {
		t.Errorf("numbers: %+v, %v", c, err)
	}
	if _, err := lookupCredentials("no-such-user-gowsgi", ""); err == nil {
		t.Errorf("an unknown user must be an error")
	}
	if _, err := lookupCredentials("nobody", "no-such-group-gowsgi"); err == nil {
		t.Errorf("an unknown group must be an error")
	}
	if _, err := lookupCredentials("4000001", ""); err == nil || !strings.Contains(err.Error(), "give --gid") {
		t.Errorf("a uid with no user entry and no --gid: %v", err)
	}
	if os.Geteuid() != 0 {
		if err := dropPrivileges(&credentials{uid: 65534, gid: 65534, name: "nobody"}); err == nil || !strings.Contains(err.Error(), "not root") {
			t.Errorf("dropping privileges without root: %v", err)
		}
	}
}

func TestPidFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "x.pid")
	if err := writePidFile(p, 1234); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(p); string(b) != "1234\n" {
		t.Errorf("pid file %q", b)
	}
	// Another master took the file over: leave it alone.
	removePidFile(p, 999)
	if _, err := os.Stat(p); err != nil {
		t.Errorf("a pid file naming another process was removed")
	}
	if err := removePidFile(p, 1234); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p); !os.IsNotExist(err) {
		t.Errorf("pid file not removed")
	}
	if err := removePidFile(p, 1234); err != nil {
		t.Errorf("removing a missing pid file: %v", err)
	}
	if err := writePidFile(filepath.Join(t.TempDir(), "no", "dir.pid"), 1); err == nil {
		t.Errorf("writing into a missing directory must fail")
	}
}
