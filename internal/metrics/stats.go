package metrics

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// DefaultStatsHost is the host a --stats address without one listens on:
// the stats expose request paths and must not reach the network unless
// asked for explicitly (unlike uWSGI, where ":9191" means every interface).
const DefaultStatsHost = "127.0.0.1"

// StatsNetwork turns a --stats address into a network and address for
// net.Listen or net.Dial: "unix:/path" or anything with a '/' is a unix
// socket; "PORT" and ":PORT" listen on DefaultStatsHost; "HOST:PORT" as
// given ("0.0.0.0:9191" for every interface).
func StatsNetwork(addr string) (network, address string, err error) {
	switch {
	case addr == "":
		return "", "", errors.New("empty address")
	case strings.HasPrefix(addr, "unix:"):
		if len(addr) == len("unix:") {
			return "", "", fmt.Errorf("%q: no socket path", addr)
		}
		return "unix", addr[len("unix:"):], nil
	case strings.Contains(addr, "/"):
		return "unix", addr, nil
	}
	if _, err := strconv.ParseUint(addr, 10, 16); err == nil {
		addr = ":" + addr
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", "", fmt.Errorf("%q: want [HOST]:PORT, PORT or unix:/path (%v)", addr, err)
	}
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || (n == 0 && port != "0") {
		return "", "", fmt.Errorf("%q: bad port %q", addr, port)
	}
	if host == "" {
		host = DefaultStatsHost
	}
	return "tcp", net.JoinHostPort(host, port), nil
}

// ServeStats serves the stats listener on addr (see StatsNetwork) for the
// workers of src, whose snapshots it reads from their control sockets:
// / (the live page), /metrics, /stats, /stats/history, /healthz, /readyz.
// stop closes the listener and ends the sampling.
func ServeStats(addr string, src WorkerSource, log *slog.Logger) (stop func(), err error) {
	clients := &socketClients{}
	fetch := func(ctx context.Context, w WorkerInfo) (*WorkerStats, error) {
		if w.ControlSocket == "" {
			return nil, errors.New("no control socket")
		}
		return fetchSnapshot(ctx, clients.get(w.ControlSocket), w.ControlSocket)
	}
	c := newCollector(src, fetch)
	c.onPoll = func(infos []WorkerInfo) {
		live := map[string]bool{}
		for _, w := range infos {
			live[w.ControlSocket] = true
		}
		clients.keep(live)
	}
	stopServing, err := serveStats(addr, c, log)
	if err != nil {
		return nil, err
	}
	return func() {
		stopServing()
		clients.closeAll()
	}, nil
}

// ServeLocal serves the stats listener of a single process that is its
// own (only) worker, reading its snapshots in-process.
func ServeLocal(addr string, w *Worker, log *slog.Logger) (stop func(), err error) {
	src := &localSource{w: w, pid: os.Getpid()}
	fetch := func(ctx context.Context, _ WorkerInfo) (*WorkerStats, error) { return w.Snapshot(), nil }
	return serveStats(addr, newCollector(src, fetch), log)
}

// localSource is the WorkerSource of a process with no master.
type localSource struct {
	w   *Worker
	pid int
}

func (s *localSource) Workers() []WorkerInfo {
	ready := s.w.Ready == nil || s.w.Ready()
	return []WorkerInfo{{Index: s.w.Index, PID: s.pid, Generation: 1, StartedAt: s.w.StartedAt, Ready: ready}}
}

func (s *localSource) Restarts() map[string]uint64 { return map[string]uint64{} }

func (s *localSource) Draining() bool { return s.w.Draining != nil && s.w.Draining() }

func serveStats(addr string, c *collector, log *slog.Logger) (stop func(), err error) {
	network, address, err := StatsNetwork(addr)
	if err != nil {
		return nil, fmt.Errorf("--stats %w", err)
	}
	if network == "unix" {
		if st, err := os.Lstat(address); err == nil && st.Mode()&os.ModeSocket != 0 {
			if conn, err := net.DialTimeout("unix", address, time.Second); err == nil {
				conn.Close()
				return nil, fmt.Errorf("--stats %s: another process listens on it", address)
			}
			os.Remove(address) // left by a process that died
		}
	}
	ln, err := net.Listen(network, address)
	if err != nil {
		return nil, fmt.Errorf("--stats: %w", err)
	}
	log.Info("listening", "addr", ln.Addr().String(), "proto", "stats")

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		c.sample(ctx)
	}()
	stopHTTP := serveHTTP(ln, c.handler(), log, "stats")
	return func() {
		cancel()
		stopHTTP()
		wg.Wait()
		if network == "unix" {
			os.Remove(address)
		}
	}, nil
}

// sample adds the merged counters to the history every sampleEvery until ctx ends.
func (c *collector) sample(ctx context.Context) {
	t := time.NewTicker(sampleEvery)
	defer t.Stop()
	for {
		st := c.stats(ctx)
		c.hist.add(sampleOf(st))
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

//go:embed dashboard.html
var dashboardHTML []byte

func (c *collector) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(rw http.ResponseWriter, r *http.Request) {
		h := rw.Header()
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Cache-Control", "no-store")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		// The page is self-contained: nothing may load from anywhere else.
		h.Set("Content-Security-Policy", "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
		rw.Write(dashboardHTML)
	})
	mux.HandleFunc("GET /metrics", func(rw http.ResponseWriter, r *http.Request) {
		st := c.stats(r.Context())
		rw.Header().Set("Content-Type", PromContentType)
		rw.Header().Set("Cache-Control", "no-store")
		rw.Write(writeProm(st, len(st.Workers)))
	})
	mux.HandleFunc("GET /stats", func(rw http.ResponseWriter, r *http.Request) {
		writeJSON(rw, c.stats(r.Context()))
	})
	mux.HandleFunc("GET /stats/history", func(rw http.ResponseWriter, r *http.Request) {
		var since int64
		if s := r.URL.Query().Get("since"); s != "" {
			v, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				http.Error(rw, "since: want Unix milliseconds", http.StatusBadRequest)
				return
			}
			since = v
		}
		writeJSON(rw, map[string]any{"interval_seconds": sampleEvery.Seconds(), "points": c.hist.points(since)})
	})
	mux.HandleFunc("GET /healthz", func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("Content-Type", "text/plain; charset=utf-8")
		rw.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("Content-Type", "text/plain; charset=utf-8")
		ready, why := c.ready()
		if !ready {
			rw.WriteHeader(http.StatusServiceUnavailable)
			rw.Write([]byte("not ready: " + why + "\n"))
			return
		}
		rw.Write([]byte("ready\n"))
	})
	return mux
}

// ready is /readyz: not while draining, and only once a worker accepts.
func (c *collector) ready() (bool, string) {
	if c.src.Draining() {
		return false, "draining"
	}
	workers := c.src.Workers()
	for _, w := range workers {
		if w.Ready {
			return true, ""
		}
	}
	return false, fmt.Sprintf("none of %d workers is ready", len(workers))
}
