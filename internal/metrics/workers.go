package metrics

import "time"

// WorkerInfo is what the master knows about one worker process.
type WorkerInfo struct {
	Index         int       // 0..N-1, stable across respawns
	PID           int       // the current process
	Generation    int       // how many times this index has been (re)started, from 1
	StartedAt     time.Time // when the current process was started
	Ready         bool      // the worker imported the app and accepts requests
	ControlSocket string    // unix socket path of the worker's control API
}

// WorkerSource is the master's view of its workers, as the stats listener needs it.
type WorkerSource interface {
	// Workers lists the current workers, ordered by Index.
	Workers() []WorkerInfo
	// Restarts counts worker restarts by cause: crash, max-requests, rss, harakiri, reload.
	Restarts() map[string]uint64
	// Draining reports whether the server is shutting down (readiness fails).
	Draining() bool
}
