package logging

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// syncBuf is a writer tests read while the sink writes.
type syncBuf struct {
	mu     sync.Mutex
	b      bytes.Buffer
	writes int
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writes++
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestSinkBuffersAndFlushesSoon(t *testing.T) {
	var out syncBuf
	s := NewSink(&out)
	defer s.Close()
	for i := 0; i < 100; i++ {
		fmt.Fprintf(s, "line %d\n", i)
	}
	if out.String() != "" {
		t.Fatal("lines were written at once, not buffered")
	}
	begin := time.Now()
	waitFor(t, "the timed flush", func() bool { return strings.Count(out.String(), "\n") == 100 })
	if waited := time.Since(begin); waited > flushEvery+400*time.Millisecond {
		t.Errorf("flushed after %v, want about %v", waited, flushEvery)
	}
	out.mu.Lock()
	writes := out.writes
	out.mu.Unlock()
	if writes != 1 {
		t.Errorf("100 lines took %d writes, want 1", writes)
	}
}

func TestSinkNowKeepsOrder(t *testing.T) {
	var out syncBuf
	s := NewSink(&out)
	defer s.Close()
	s.Write([]byte("access 1\n"))
	s.Now().Write([]byte("server message\n"))
	if got := out.String(); got != "access 1\nserver message\n" {
		t.Fatalf("got %q", got)
	}
}

func TestSinkFlushesAFullBufferWithoutWaiting(t *testing.T) {
	var out syncBuf
	s := NewSink(&out)
	defer s.Close()
	line := strings.Repeat("x", 1023) + "\n"
	for i := 0; i < flushAt/len(line)+1; i++ {
		s.Write([]byte(line))
	}
	waitFor(t, "the flush of a full buffer", func() bool { return len(out.String()) >= flushAt })
}

func TestSinkCloseFlushesAndThenWritesDirectly(t *testing.T) {
	var out syncBuf
	s := NewSink(&out)
	s.Write([]byte("before\n"))
	s.Close()
	if out.String() != "before\n" {
		t.Fatalf("Close did not flush: %q", out.String())
	}
	s.Write([]byte("after\n"))
	if out.String() != "before\nafter\n" {
		t.Fatalf("a write after Close was not written: %q", out.String())
	}
}

// TestReopen is logrotate's dance: rename the file, signal, and the next
// lines go to a new file at the old path.
func TestReopen(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "gowsgi.log")
	s, err := OpenSink(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.Write([]byte("one\n"))
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	s.Write([]byte("two\n"))
	if err := s.Reopen(); err != nil {
		t.Fatal(err)
	}
	s.Write([]byte("three\n"))
	s.Flush()
	old, _ := os.ReadFile(path + ".1")
	cur, _ := os.ReadFile(path)
	if string(old) != "one\ntwo\n" || string(cur) != "three\n" {
		t.Fatalf("rotated %q, current %q", old, cur)
	}
	// A path that cannot be opened keeps the old file.
	os.Rename(path, path+".2")
	os.Mkdir(path, 0o755)
	if err := s.Reopen(); err == nil {
		t.Fatal("reopening onto a directory worked")
	}
	s.Write([]byte("four\n"))
	s.Flush()
	if got, _ := os.ReadFile(path + ".2"); string(got) != "three\nfour\n" {
		t.Fatalf("after a failed reopen the old file has %q", got)
	}
}

func TestOpenJSONAndWorkerAttrs(t *testing.T) {
	var out syncBuf
	l, err := Open(Config{JSON: true, Stderr: &out, Worker: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	l.Logger.Info("listening", "addr", "127.0.0.1:1", "pid", 7)
	var rec map[string]any
	if err := json.Unmarshal([]byte(out.String()), &rec); err != nil {
		t.Fatalf("not one JSON object: %q", out.String())
	}
	if rec["msg"] != "listening" || rec["addr"] != "127.0.0.1:1" || rec["worker"] != 2.0 || rec["pid"] != 7.0 {
		t.Fatalf("record %v", rec)
	}
}

func TestTextAttrsGoLast(t *testing.T) {
	var out syncBuf
	l, err := Open(Config{Stderr: &out, Worker: 0})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	l.Logger.With("k", "v").Info("listening", "addr", "127.0.0.1:1", "proto", "http")
	want := fmt.Sprintf(" level=INFO msg=listening k=v addr=127.0.0.1:1 proto=http worker=0 pid=%d\n", os.Getpid())
	if got := out.String(); !strings.HasSuffix(got, want) {
		t.Fatalf("got %q, want it to end with %q", got, want)
	}
}

func TestLogToFileAndReopenOnSIGUSR1(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	l, err := Open(Config{LogTo: path, Worker: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	l.WatchSignals()
	l.Logger.Info("first")
	os.Rename(path, path+".1")
	syscall.Kill(os.Getpid(), syscall.SIGUSR1)
	waitFor(t, "the re-opened file", func() bool {
		b, _ := os.ReadFile(path)
		return strings.Contains(string(b), "msg=\"log file reopened\"")
	})
	l.Logger.Info("second")
	old, _ := os.ReadFile(path + ".1")
	cur, _ := os.ReadFile(path)
	if !strings.Contains(string(old), "msg=first") || strings.Contains(string(old), "second") || !strings.Contains(string(cur), "msg=second") {
		t.Fatalf("rotated:\n%s\ncurrent:\n%s", old, cur)
	}
	if _, err := Open(Config{LogTo: filepath.Join(dir, "missing", "x.log")}); err == nil {
		t.Fatal("a log file in a missing directory opened")
	}
}

func TestReadLines(t *testing.T) {
	var got []string
	long := strings.Repeat("y", maxLine+10)
	readLines(strings.NewReader("a\r\nb\n\n"+long+"\nlast"), func(b []byte) { got = append(got, string(b)) })
	want := []string{"a", "b", long[:maxLine], long[maxLine:], "last"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("got %d lines %q", len(got), got)
	}
}

// TestCapture runs itself as a child whose fds 1 and 2 are captured: what
// it writes there, directly or from a child process, must come out as
// records on the real stderr, and fd 2 must be restored by Close.
func TestCapture(t *testing.T) {
	if os.Getenv("GOWSGI_CAPTURE_CHILD") == "1" {
		captureChild()
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestCapture$")
	cmd.Env = append(os.Environ(), "GOWSGI_CAPTURE_CHILD=1")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("child: %v\n%s", err, stderr.String())
	}
	var records []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(stderr.String()), "\n") {
		var r map[string]any
		if json.Unmarshal([]byte(line), &r) == nil {
			records = append(records, r)
		}
	}
	want := map[string]string{
		"direct to fd 2":          "stderr",
		"os.Stdout line":          "stdout",
		"from a child process":    "stderr",
		"no newline at the close": "stderr",
	}
	for msg, source := range want {
		found := false
		for _, r := range records {
			if r["msg"] == msg && r["source"] == source && r["worker"] == 5.0 && r["pid"] != nil {
				found = true
			}
		}
		if !found {
			t.Errorf("no record %q with source %s; stderr:\n%s", msg, source, stderr.String())
		}
	}
	if !strings.Contains(stderr.String(), "restored stderr\n") {
		t.Errorf("fd 2 was not restored by Close; stderr:\n%s", stderr.String())
	}
	if stdout.Len() != 0 {
		t.Errorf("stdout got %q: it should have been captured", stdout.String())
	}
}

func captureChild() {
	l, err := Open(Config{JSON: true, Stderr: os.Stderr, Capture: true, Worker: 5})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(3)
	}
	syscall.Write(2, []byte("direct to fd 2\n"))
	fmt.Fprintln(os.Stdout, "os.Stdout line")
	sh := exec.Command("/bin/sh", "-c", "echo 'from a child process' >&2")
	sh.Stderr = os.Stderr // fd 2 itself, the pipe
	sh.Run()
	syscall.Write(2, []byte("no newline at the close"))
	l.Logger.Info("bye", slog.String("k", "v"))
	l.Close()
	syscall.Write(2, []byte("restored stderr\n"))
	os.Exit(0)
}
