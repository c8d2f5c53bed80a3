package e2e

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// ensureNoFile raises this process's RLIMIT_NOFILE soft limit to at least
// n, as far as the hard limit allows, and fails if that is not enough.
func ensureNoFile(t *testing.T, n uint64) {
	t.Helper()
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatalf("getrlimit: %v", err)
	}
	if lim.Cur >= n {
		return
	}
	if lim.Max < n {
		t.Fatalf("RLIMIT_NOFILE hard limit is %d; this test needs %d descriptors (raise it with ulimit -Hn)", lim.Max, n)
	}
	lim.Cur = n
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatalf("raising RLIMIT_NOFILE to %d: %v", n, err)
	}
}

// serverNoFile is the smallest "Max open files" soft limit among the
// server's processes.
func serverNoFile(t *testing.T, pid int) uint64 {
	t.Helper()
	least := uint64(1<<63 - 1)
	for _, p := range processTree(pid) {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/limits", p))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			if rest, ok := strings.CutPrefix(line, "Max open files"); ok {
				f := strings.Fields(rest)
				if len(f) > 0 {
					if f[0] == "unlimited" {
						continue
					}
					if v, err := strconv.ParseUint(f[0], 10, 64); err == nil && v < least {
						least = v
					}
				}
			}
		}
	}
	return least
}

// probeLatencies sends a normal request on a fresh connection every
// interval until stop is closed, and returns how long each took to be
// answered, and any failure. It runs beside the test goroutine, so it
// reports instead of failing the test itself.
func probeLatencies(addr string, interval time.Duration, stop <-chan struct{}) ([]time.Duration, []error) {
	var took []time.Duration
	var errs []error
	for {
		select {
		case <-stop:
			return took, errs
		case <-time.After(interval):
		}
		d, err := probe(addr)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		took = append(took, d)
	}
}

func probe(addr string) (time.Duration, error) {
	start := time.Now()
	nc, err := net.DialTimeout("tcp", addr, ioTimeout)
	if err != nil {
		return 0, err
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(ioTimeout))
	if _, err := nc.Write([]byte("GET /ok HTTP/1.1\r\nHost: e2e.test\r\nConnection: close\r\n\r\n")); err != nil {
		return 0, err
	}
	c := &rawConn{nc: nc.(*net.TCPConn), br: bufio.NewReader(nc)}
	r, err := c.readResponse("GET")
	if err != nil {
		return 0, fmt.Errorf("probe: %v", err)
	}
	if r.status != 200 || string(r.body) != "ok\n" {
		return 0, fmt.Errorf("probe: %v", r)
	}
	return time.Since(start), nil
}

// checkProbes requires enough probes, none failed and each under a second.
func checkProbes(t *testing.T, took []time.Duration, errs []error, least int) {
	t.Helper()
	for _, err := range errs {
		t.Errorf("normal request failed: %v", err)
	}
	if len(took) < least {
		t.Errorf("only %d normal requests were answered, want at least %d", len(took), least)
	}
	for _, d := range took {
		if d > time.Second {
			t.Errorf("a normal request took %v, want under 1s", d)
		}
	}
}

func maxDuration(ds []time.Duration) time.Duration {
	var m time.Duration
	for _, d := range ds {
		m = max(m, d)
	}
	return m
}

// TestSlowloris holds 1,000 connections that each send one byte of a
// request head every 2 s (well inside the 30 s header timeout, so the
// server must keep them all) and requires a normal client to be answered
// in under a second all the while.
func TestSlowloris(t *testing.T) {
	t.Parallel()
	const conns = 1000
	const interval = 2 * time.Second
	const rounds = 5
	ensureNoFile(t, conns+1024)
	s := startServer(t, "digest_app", plain, 1)
	pid := s.cmd.Process.Pid
	if lim := serverNoFile(t, pid); lim < conns+100 {
		t.Fatalf("the server may open only %d files; it needs more than %d", lim, conns+100)
	}
	head := "GET /never HTTP/1.1\r\nHost: e2e.test\r\nX-Slow: " + strings.Repeat("z", 64)

	slow := make([]*net.TCPConn, 0, conns)
	defer func() {
		for _, c := range slow {
			c.SetLinger(0)
			c.Close()
		}
	}()
	start := time.Now()
	for i := 0; i < conns; i++ {
		nc, err := net.DialTimeout("tcp", s.addr, ioTimeout)
		if err != nil {
			t.Fatalf("slow connection %d: %v", i, err)
		}
		slow = append(slow, nc.(*net.TCPConn))
		nc.SetWriteDeadline(time.Now().Add(ioTimeout))
		if _, err := nc.Write([]byte(head[:1])); err != nil {
			t.Fatalf("slow connection %d: %v", i, err)
		}
	}
	t.Logf("%d slow connections open after %v", conns, time.Since(start).Round(time.Millisecond))

	stop := make(chan struct{})
	var probes []time.Duration
	var probeErrs []error
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		probes, probeErrs = probeLatencies(s.addr, 200*time.Millisecond, stop)
	}()

	held := 0
	for r := 1; r <= rounds; r++ {
		time.Sleep(interval)
		for i, c := range slow {
			c.SetWriteDeadline(time.Now().Add(ioTimeout))
			if _, err := c.Write([]byte{head[r]}); err != nil {
				t.Fatalf("round %d: slow connection %d was closed by the server: %v", r, i, err)
			}
		}
		if r == 1 {
			// Every slow connection is really held open by the server.
			held = readProcStats(t, pid).fds
		}
	}
	close(stop)
	wg.Wait()
	if held < conns {
		t.Errorf("the server had %d descriptors open, fewer than the %d slow connections", held, conns)
	}
	// None of them got an answer: their heads are still incomplete.
	for _, i := range []int{0, conns / 2, conns - 1} {
		c := slow[i]
		c.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
		var b [1]byte
		var ne net.Error
		if n, err := c.Read(b[:]); n != 0 || !errors.As(err, &ne) || !ne.Timeout() {
			t.Errorf("slow connection %d: read %d bytes, %v; want nothing yet", i, n, err)
		}
	}
	checkProbes(t, probes, probeErrs, 20)
	t.Logf("%d probes during %v, slowest %v; server fds with the slow connections: %d",
		len(probes), time.Duration(rounds)*interval, maxDuration(probes).Round(time.Microsecond), held)
}

// TestSlowUpload: a request body trickling in is received by the Go front
// end before the application is called, so with one Python thread other
// requests are answered meanwhile, and the application then gets the
// whole body.
func TestSlowUpload(t *testing.T) {
	t.Parallel()
	// --post-buffering 4096: the 10,000-byte bodies are spooled to a temporary file.
	s := startServer(t, "digest_app", plain, 1, "--post-buffering", "4096")
	body := makeBody(10_000, 7)
	sum := sha256.Sum256(body)

	type upload struct {
		name  string
		head  string
		piece func(p []byte) string
	}
	for _, u := range []upload{
		{"content-length", fmt.Sprintf("POST /digest HTTP/1.1\r\nHost: e2e.test\r\nContent-Length: %d\r\n\r\n", len(body)),
			func(p []byte) string { return string(p) }},
		{"chunked", "POST /digest HTTP/1.1\r\nHost: e2e.test\r\nTransfer-Encoding: chunked\r\n\r\n",
			func(p []byte) string { return fmt.Sprintf("%x\r\n%s\r\n", len(p), p) }},
	} {
		t.Run(u.name, func(t *testing.T) {
			c := dialRaw(t, s.addr)
			c.send(u.head)
			stop := make(chan struct{})
			var probes []time.Duration
			var probeErrs []error
			done := make(chan struct{})
			go func() {
				defer close(done)
				probes, probeErrs = probeLatencies(s.addr, 100*time.Millisecond, stop)
			}()
			// 20 pieces, 150 ms apart: 3 s for the body.
			const pieces = 20
			step := len(body) / pieces
			for i := 0; i < pieces; i++ {
				time.Sleep(150 * time.Millisecond)
				c.send(u.piece(body[i*step : (i+1)*step]))
			}
			if u.name == "chunked" {
				c.send("0\r\n\r\n")
			}
			close(stop)
			<-done
			checkProbes(t, probes, probeErrs, 10)
			d := decodeDigest(t, c.mustResponse("POST"))
			if d.Len != len(body) || d.SHA256 != hex.EncodeToString(sum[:]) {
				t.Errorf("the application read %d bytes (%s), want %d (%x)", d.Len, d.SHA256, len(body), sum)
			}
			t.Logf("%d requests answered during the upload, slowest %v", len(probes), maxDuration(probes).Round(time.Microsecond))
		})
	}
}
