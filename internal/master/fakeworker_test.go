package master

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// The master's tests run this test binary as the worker: TestMain sees
// EnvWorker and becomes a small worker without Python, which speaks the
// real protocol (Attach, Ready, Retire) and serves HTTP on the inherited
// sockets. fakeMode in its environment makes it misbehave on purpose.
const (
	fakeMode = "FAKE_WORKER_MODE"
	// fakeMarker names a file whose existence makes the worker fail at
	// start-up (mode "fail-if-marker").
	fakeMarker = "FAKE_WORKER_MARKER"
	// fakeSettingsFile stands for the configuration files: a worker
	// started without settings sends its content (msgSettings).
	fakeSettingsFile = "FAKE_WORKER_SETTINGS_FILE"
	// fakeReportDir is where each worker writes, in a file named by its
	// pid, the settings it was given, or fakeReadFiles.
	fakeReportDir = "FAKE_WORKER_REPORT_DIR"
	fakeReadFiles = "(read the files)"
	// fakeReaderDelay delays the readiness of a worker that reads the
	// files (a reload's first), so a test can act while it starts.
	fakeReaderDelay = "FAKE_WORKER_READER_DELAY"
)

func TestMain(m *testing.M) {
	if _, ok := os.LookupEnv(EnvWorker); ok {
		os.Exit(fakeWorker())
	}
	os.Exit(m.Run())
}

// fakeWorker serves GET / with its pid, GET /retire?cause=C (asks to be
// replaced), GET /send?msg=M (any message), GET /slow?ms=N and GET
// /env?name=N; it drains on SIGTERM.
func fakeWorker() int {
	mode := os.Getenv(fakeMode)
	link, err := Attach()
	if err != nil || link == nil {
		fmt.Fprintln(os.Stderr, "fake worker: attach:", err)
		return 2
	}
	switch mode {
	case "fail":
		fmt.Fprintln(os.Stderr, "fake worker: failing at start-up as asked")
		return 1
	case "fail-if-marker":
		if _, err := os.Stat(os.Getenv(fakeMarker)); err == nil {
			fmt.Fprintln(os.Stderr, "fake worker: the marker exists; failing at start-up")
			return 1
		}
	case "hang-if-marker":
		// An application import that never returns (a database that does not answer).
		if _, err := os.Stat(os.Getenv(fakeMarker)); err == nil {
			fmt.Fprintln(os.Stderr, "fake worker: the marker exists; hanging at start-up")
			select {}
		}
	}
	if _, ok := os.LookupEnv(EnvWorker); ok {
		fmt.Fprintln(os.Stderr, "fake worker: Attach left", EnvWorker, "in the environment")
		return 2
	}
	if dir := os.Getenv(fakeReportDir); dir != "" {
		got := link.Settings
		if got == nil {
			got = []byte(fakeReadFiles)
			if b, err := os.ReadFile(os.Getenv(fakeSettingsFile)); err == nil {
				link.SendSettings(b)
			}
			if d, err := time.ParseDuration(os.Getenv(fakeReaderDelay)); err == nil {
				time.Sleep(d)
			}
		}
		// Written aside and renamed: a test polling for the report must
		// never read the file created but still empty.
		report := filepath.Join(dir, strconv.Itoa(os.Getpid()))
		if os.WriteFile(report+".tmp", got, 0o644) == nil {
			os.Rename(report+".tmp", report)
		}
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM)
	pid := strconv.Itoa(os.Getpid())
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(pid))
	})
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		ms, _ := strconv.Atoi(r.URL.Query().Get("ms"))
		time.Sleep(time.Duration(ms) * time.Millisecond)
		w.Write([]byte(pid))
	})
	mux.HandleFunc("/retire", func(w http.ResponseWriter, r *http.Request) {
		link.Retire(r.URL.Query().Get("cause"))
		w.Write([]byte(pid))
	})
	mux.HandleFunc("/send", func(w http.ResponseWriter, r *http.Request) {
		// Any message, past Retire's once-only rule, to see how the master takes it.
		link.mu.Lock()
		link.send(r.URL.Query().Get("msg"))
		link.mu.Unlock()
		w.Write([]byte(pid))
	})
	mux.HandleFunc("/env", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(os.Getenv(r.URL.Query().Get("name"))))
	})
	srv := &fakeServer{handler: mux}
	for _, in := range link.Listeners {
		ln, err := net.FileListener(in.File)
		in.File.Close()
		if err != nil {
			fmt.Fprintln(os.Stderr, "fake worker:", err)
			return 2
		}
		srv.serve(ln)
	}
	if err := link.Ready(); err != nil {
		fmt.Fprintln(os.Stderr, "fake worker: ready:", err)
		return 2
	}
	<-sigs
	srv.shutdown()
	return 0
}

// fakeServer is a tiny HTTP/1.1 server whose shutdown is exact: it stops
// accepting, answers every request already received or on a connection
// already accepted (a new connection gets a moment for its request), and
// closes idle keep-alive connections. net/http's Shutdown can miss a
// connection accepted a moment before, and the master's tests would blame
// the master for that.
type fakeServer struct {
	handler   http.Handler
	mu        sync.Mutex
	listeners []net.Listener
	accepting sync.WaitGroup
	conns     sync.WaitGroup
	stopping  atomic.Bool
}

func (s *fakeServer) serve(ln net.Listener) {
	s.listeners = append(s.listeners, ln)
	s.accepting.Add(1)
	go func() {
		defer s.accepting.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.conns.Add(1)
			go s.handle(c)
		}
	}()
}

func (s *fakeServer) handle(c net.Conn) {
	defer s.conns.Done()
	defer c.Close()
	br := bufio.NewReader(c)
	for first := true; ; first = false {
		// Between requests, look at the stop flag every 20 ms; a new
		// connection always gets its first request read.
		for {
			if !first && s.stopping.Load() {
				return
			}
			c.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
			if _, err := br.Peek(1); err == nil {
				break
			} else if ne, ok := err.(net.Error); !ok || !ne.Timeout() {
				return
			}
			if first && s.stopping.Load() {
				c.SetReadDeadline(time.Now().Add(time.Second))
				if _, err := br.Peek(1); err != nil {
					return
				}
				break
			}
		}
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		rec := httptest.NewRecorder()
		s.handler.ServeHTTP(rec, req)
		resp := rec.Result()
		resp.ContentLength = int64(rec.Body.Len())
		resp.Close = s.stopping.Load()
		if resp.Write(c) != nil || resp.Close {
			return
		}
	}
}

func (s *fakeServer) shutdown() {
	s.stopping.Store(true)
	for _, ln := range s.listeners {
		ln.Close()
	}
	s.accepting.Wait()
	s.conns.Wait()
}
