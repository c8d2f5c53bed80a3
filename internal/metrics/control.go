package metrics

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"time"
)

// SnapshotPath is the control API's snapshot endpoint.
const SnapshotPath = "/snapshot"

// ServeControl serves the worker's control API on a unix socket at path
// (the master's GOWSGI_CONTROL_SOCKET): GET /snapshot answers the
// worker's WorkerStats as JSON. The socket file is made owner-only and
// removed by stop. A stale socket file at path is replaced.
func ServeControl(path string, w *Worker, log *slog.Logger) (stop func(), err error) {
	if st, err := os.Lstat(path); err == nil && st.Mode()&os.ModeSocket != 0 {
		os.Remove(path)
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("control socket %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		os.Remove(path)
		return nil, fmt.Errorf("control socket %s: %w", path, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+SnapshotPath, func(rw http.ResponseWriter, r *http.Request) {
		writeJSON(rw, w.Snapshot())
	})
	stopHTTP := serveHTTP(ln, mux, log, "control")
	return func() {
		stopHTTP()
		os.Remove(path)
	}, nil
}

// serveHTTP serves h on ln until the returned stop, which lets requests
// in flight finish for up to a second.
func serveHTTP(ln net.Listener, h http.Handler, log *slog.Logger, what string) (stop func()) {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error(what+" listener failed", "addr", ln.Addr().String(), "err", err)
		}
	}()
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if srv.Shutdown(ctx) != nil {
			srv.Close()
		}
		<-done
	}
}

func writeJSON(rw http.ResponseWriter, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(rw, "cannot encode: "+err.Error(), http.StatusInternalServerError)
		return
	}
	rw.Header().Set("Content-Type", "application/json")
	rw.Header().Set("Cache-Control", "no-store")
	rw.Write(append(b, '\n'))
}

// fetchSnapshot GETs a worker's snapshot from its control socket.
func fetchSnapshot(ctx context.Context, client *http.Client, socket string) (*WorkerStats, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", "http://worker"+SnapshotPath, nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("control socket %s answered %s", socket, resp.Status)
	}
	var s WorkerStats
	if err := json.NewDecoder(http.MaxBytesReader(nil, resp.Body, 16<<20)).Decode(&s); err != nil {
		return nil, fmt.Errorf("control socket %s: bad snapshot: %w", socket, err)
	}
	return &s, nil
}

// socketClients keeps one HTTP client per control socket, so a kept-alive
// connection is only ever reused for the socket it was dialed to.
type socketClients struct {
	mu sync.Mutex
	m  map[string]*http.Client
}

func (sc *socketClients) get(path string) *http.Client {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if c := sc.m[path]; c != nil {
		return c
	}
	if sc.m == nil {
		sc.m = map[string]*http.Client{}
	}
	c := &http.Client{
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				var d net.Dialer
				return d.DialContext(ctx, "unix", path)
			},
			MaxIdleConnsPerHost: 1,
			IdleConnTimeout:     30 * time.Second,
			DisableCompression:  true,
		},
	}
	sc.m[path] = c
	return c
}

// keep forgets the clients of sockets not in live.
func (sc *socketClients) keep(live map[string]bool) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	for path, c := range sc.m {
		if !live[path] {
			c.CloseIdleConnections()
			delete(sc.m, path)
		}
	}
}

// closeAll closes every kept connection.
func (sc *socketClients) closeAll() { sc.keep(nil) }
