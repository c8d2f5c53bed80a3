package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gowsgi/gowsgi/bench/internal/procfs"
)

// serverProc is a running server: the leader of its own process group.
type serverProc struct {
	cmd     *exec.Cmd
	pid     int // leader pid == process group id
	logPath string
	exited  chan struct{}
	waitErr error
}

// becomeSubreaper makes orphaned server workers our children, so they can be
// reaped instead of lingering as zombies (PID 1 here does not reap).
func becomeSubreaper() {
	const prSetChildSubreaper = 36
	_, _, _ = syscall.RawSyscall(syscall.SYS_PRCTL, prSetChildSubreaper, 1, 0)
}

// startServer starts argv in its own process group, with stdout and stderr
// going to logPath.
func startServer(argv []string, dir, logPath string, env []string) (*serverProc, error) {
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logf.Close() // the children hold their own copies
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Env = env
	cmd.Stdin = nil
	cmd.Stdout = logf
	cmd.Stderr = logf
	// Setpgid: the server and its workers form one group we can signal and
	// measure. Pdeathsig: if benchrun dies, the leader dies too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &serverProc{cmd: cmd, pid: cmd.Process.Pid, logPath: logPath, exited: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}

// hasExited reports whether the leader is gone.
func (p *serverProc) hasExited() bool {
	select {
	case <-p.exited:
		return true
	default:
		return false
	}
}

// logTail returns the last n bytes of the server's output.
func (p *serverProc) logTail(n int) string {
	return fileTail(p.logPath, n)
}

func fileTail(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return ""
	}
	off := max(st.Size()-int64(n), 0)
	data, _ := io.ReadAll(io.NewSectionReader(f, off, st.Size()-off))
	return strings.TrimSpace(string(data))
}

// errExited means the server exited before it became ready.
var errExited = errors.New("server exited before accepting connections")

// waitReady waits until the server accepts TCP connections on addr and
// answers the scenario's request with 200 and the expected body size.
func (p *serverProc) waitReady(ctx context.Context, addr string, sc Scenario, body []byte, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	client := &http.Client{
		// No keep-alive: an idle probe connection would hold a worker
		// thread in thread-per-connection servers. No proxy from the env.
		Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil},
		Timeout:   3 * time.Second,
	}
	if sc.ExpectBytes > 16<<20 {
		client.Timeout = timeout // a 256 MiB body takes a while on a busy machine
	}
	url := "http://" + addr + sc.Path
	lastErr := errors.New("no attempt")
	for {
		if p.hasExited() {
			return fmt.Errorf("%w (%v)", errExited, p.waitErr)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready after %v: %v", timeout, lastErr)
		}
		conn, err := net.DialTimeout("tcp", addr, 500*time.Millisecond)
		if err != nil {
			lastErr = err
			time.Sleep(50 * time.Millisecond)
			continue
		}
		_ = conn.Close()
		req, err := http.NewRequestWithContext(ctx, sc.Method, url, bytes.NewReader(body))
		if err != nil {
			return err
		}
		if len(body) > 0 {
			req.Header.Set("Content-Type", "application/octet-stream")
		}
		resp, err := client.Do(req)
		if err != nil {
			lastErr = err
			time.Sleep(100 * time.Millisecond)
			continue
		}
		// Large bodies are counted, not kept: only echo compares contents.
		var got []byte
		n, err := int64(0), error(nil)
		if len(body) > 0 || resp.StatusCode != http.StatusOK {
			got, err = io.ReadAll(io.LimitReader(resp.Body, 1<<20))
			n = int64(len(got))
		} else {
			n, err = io.Copy(io.Discard, resp.Body)
		}
		_ = resp.Body.Close()
		switch {
		case err != nil:
			lastErr = err
		case resp.StatusCode != http.StatusOK:
			lastErr = fmt.Errorf("probe %s %s: HTTP %d: %.200q", sc.Method, sc.Path, resp.StatusCode, got)
		case sc.ExpectBytes > 0 && n != int64(sc.ExpectBytes):
			return fmt.Errorf("probe %s %s: %d body bytes, want %d", sc.Method, sc.Path, n, sc.ExpectBytes)
		case len(body) > 0 && !bytes.Equal(got, body):
			return fmt.Errorf("probe %s %s: echoed body differs from the one sent", sc.Method, sc.Path)
		default:
			return nil
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// settledRSS waits (at most max) until the process tree's RSS and process
// count stop changing — workers that boot after the port opens (gunicorn)
// are then counted — and returns the RSS and the number of processes.
func (p *serverProc) settledRSS(maxWait time.Duration) (int64, int) {
	deadline := time.Now().Add(maxWait)
	var last int64
	lastN, stable := -1, 0
	for {
		time.Sleep(100 * time.Millisecond)
		rss, n, _ := procfs.TreeRSS(procfs.Root, p.pid, p.pid)
		if n == lastN && absDiff(rss, last) <= last/100 {
			stable++
		} else {
			stable = 0
		}
		last, lastN = rss, n
		if stable >= 3 || time.Now().After(deadline) {
			return rss, n
		}
	}
}

func absDiff(a, b int64) int64 {
	if a > b {
		return a - b
	}
	return b - a
}

// stop sends sig (SIGTERM; nginx: SIGQUIT) to the whole tree, SIGKILL
// after grace, reaps what it can and returns the pids still alive
// afterwards (should be none).
func (p *serverProc) stop(sig syscall.Signal, grace time.Duration) []int {
	tree, _ := procfs.Tree(procfs.Root, p.pid, p.pid)
	pids := []int{p.pid}
	var strays []int // descendants that left the group
	for _, q := range tree {
		if !slices.Contains(pids, q.PID) {
			pids = append(pids, q.PID)
		}
		if q.PGID != p.pid {
			strays = append(strays, q.PID)
		}
	}
	p.signal(strays, sig)
	if !p.waitGone(pids, grace) {
		p.signal(strays, syscall.SIGKILL)
		p.waitGone(pids, 3*time.Second)
	}
	// Workers orphaned by their master were reparented to us (subreaper).
	for _, pid := range pids[1:] {
		var ws syscall.WaitStatus
		_, _ = syscall.Wait4(pid, &ws, syscall.WNOHANG, nil)
	}
	return p.alive(pids)
}

// signal signals the process group and, one by one, strays: descendants
// that moved to another group.
func (p *serverProc) signal(strays []int, sig syscall.Signal) {
	_ = syscall.Kill(-p.pid, sig)
	for _, pid := range strays {
		_ = syscall.Kill(pid, sig)
	}
}

// waitGone waits until the leader was reaped and no process of the tree or
// the group is alive.
func (p *serverProc) waitGone(pids []int, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for {
		if p.hasExited() && len(p.alive(pids)) == 0 {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// alive lists the live (non-zombie) processes among pids and the group.
func (p *serverProc) alive(pids []int) []int {
	var out []int
	for _, pid := range pids {
		if st, err := procfs.ReadStat(procfs.Root, pid); err == nil && !st.Zombie() {
			out = append(out, pid)
		}
	}
	if all, err := procfs.All(procfs.Root); err == nil {
		for _, q := range all {
			if q.PGID == p.pid && !q.Zombie() && !slices.Contains(out, q.PID) {
				out = append(out, q.PID)
			}
		}
	}
	return out
}

// freePort asks the kernel for a free loopback port.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// serverEnv is the environment for servers: the caller's, without anything
// that would point the Debian Python at another Python (pyenv shims on PATH
// stay harmless because every command uses an absolute path).
func serverEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch {
		case k == "PYTHONHOME", k == "PYTHONPATH", k == "PYTHONSTARTUP", k == "VIRTUAL_ENV",
			strings.HasPrefix(k, "PYENV"), k == "GOMAXPROCS":
			continue
		}
		env = append(env, kv)
	}
	// Keep bench/apps free of __pycache__.
	return append(env, "PYTHONDONTWRITEBYTECODE=1")
}

func itoa(n int) string { return strconv.Itoa(n) }
