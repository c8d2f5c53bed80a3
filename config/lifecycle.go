package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Lifecycle holds the options of the master process and the life of its
// workers: how many there are, when they are replaced, and what the
// master does as a daemon (pid file, privileges).
type Lifecycle struct {
	// Processes is the number of worker processes, each with Threads
	// Python threads and its own interpreter. A master process supervises
	// them even when there is one. Default 1.
	Processes int
	// TouchReload lists files whose modification (mtime or size, checked
	// every second) triggers the same graceful rolling reload as SIGHUP.
	// Default none.
	TouchReload []string
	// MaxRequests recycles a worker after it has served this many requests
	// (plus its jitter): a replacement is started and ready before the old
	// worker stops accepting. 0 never recycles. Default 0.
	MaxRequests int
	// MaxRequestsJitter adds a random 0..J to each worker's MaxRequests so
	// the workers are not all recycled at once. Default 0.
	MaxRequestsJitter int
	// ReloadOnRSS recycles a worker, like MaxRequests, once its resident
	// memory exceeds this many MiB (checked every second). 0 never does.
	// Default 0.
	ReloadOnRSS int
	// Harakiri stops a request that has run Python for longer than this:
	// first with an exception raised in its thread, then by replacing the
	// worker. The client gets 504 (or a closed connection once the
	// response has begun). 0 never does. Default 0.
	Harakiri time.Duration
	// WorkerStartTimeout is how long a worker may take to import the
	// application and be ready. One that takes longer (an import hanging
	// on a database, say) is killed and counts as a failed start: a
	// rolling reload is abandoned and the old workers keep serving, a
	// crashed worker's replacement is retried after a back-off, and a
	// master with no worker ready yet exits. 0 waits forever. Default 60s.
	WorkerStartTimeout time.Duration
	// PidFile is a file the master writes its pid to at start and removes
	// on exit. Default none.
	PidFile string
	// UID and GID are the user and group (names or numbers) the master
	// switches to after the sockets are bound, before any worker starts.
	// A UID naming a user without a GID also takes that user's group.
	// Default: keep the current ones.
	UID string
	GID string
	// Master and LazyApps are accepted for uWSGI compatibility and change
	// nothing: gowsgi always runs a master, and every worker imports the
	// application itself. Default false.
	Master   bool
	LazyApps bool
}

// lifecycleDefaults returns the Lifecycle defaults (called from Defaults).
func lifecycleDefaults() Lifecycle {
	return Lifecycle{Processes: 1, WorkerStartTimeout: 60 * time.Second}
}

// maxProcesses bounds --processes: each worker is a whole interpreter.
const maxProcesses = 1024

func (l *Lifecycle) validate() []error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if l.Processes < 1 || l.Processes > maxProcesses {
		bad("--processes %d: want 1 to %d", l.Processes, maxProcesses)
	}
	if l.MaxRequests < 0 {
		bad("--max-requests %d: want 0 (never) or more", l.MaxRequests)
	}
	if l.MaxRequestsJitter < 0 {
		bad("--max-requests-jitter %d: want 0 or more", l.MaxRequestsJitter)
	}
	if l.MaxRequestsJitter > 0 && l.MaxRequests == 0 {
		bad("--max-requests-jitter %d needs --max-requests", l.MaxRequestsJitter)
	}
	if l.ReloadOnRSS < 0 {
		bad("--reload-on-rss %d: want 0 (never) or a size in MiB", l.ReloadOnRSS)
	}
	if l.WorkerStartTimeout < 0 {
		bad("--worker-start-timeout %v: want 0 (wait forever) or more", l.WorkerStartTimeout)
	}
	if l.Harakiri != 0 && l.Harakiri < time.Second {
		bad("--harakiri %v: want 0 (off) or at least 1s", l.Harakiri)
	}
	for _, f := range l.TouchReload {
		if f == "" {
			bad("--touch-reload: empty file name")
		}
	}
	if l.GID != "" && l.UID == "" {
		// Changing only the group of a root process would leave it root.
		bad("--gid %q needs --uid: the group alone does not drop root", l.GID)
	}
	return errs
}

// ParseSeconds reads a duration the way uWSGI users write it, a plain
// number of seconds ("30", "2.5"), or as a Go duration ("500ms", "1m").
func ParseSeconds(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, fmt.Errorf("empty duration")
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		if !(f >= 0 && f <= float64(1<<62)/float64(time.Second)) { // NaN fails too
			return 0, fmt.Errorf("%q is out of range", s)
		}
		return time.Duration(f * float64(time.Second)), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q: want seconds (30) or a duration (500ms, 1m)", s)
	}
	if d < 0 {
		return 0, fmt.Errorf("%q is negative", s)
	}
	return d, nil
}
