package master

import (
	"context"
	"log/slog"
	"strings"
	"time"
)

// Requests is what the harakiri watchdog needs from the HTTP server
// (server.Server implements it).
type Requests interface {
	// ForEachRunning calls fn for every request running Python.
	ForEachRunning(fn func(slot int, seq uint64, start time.Time, desc string))
	// MarkHarakiri makes the request answer 504 instead of the generic
	// 500 when it fails; false if it is no longer running.
	MarkHarakiri(slot int, seq uint64) bool
	// AbortRequest answers 504 (or closes the connection if the response
	// has begun) for a request whose thread is stuck.
	AbortRequest(slot int, seq uint64) (found, answered bool)
	// Conns is how many client connections are open.
	Conns() int
	// Shutdown stops accepting and closes idle connections.
	Shutdown(ctx context.Context) error
}

// PythonThreads is what the watchdog needs from the interpreter
// (pyembed.Harakiri implements it). Stack and Interrupt take the GIL.
type PythonThreads interface {
	CurrentRun(slot int) uint64
	Stack(slot int, run uint64) (string, bool)
	Interrupt(slot int, run uint64) bool
}

// Watchdog enforces --harakiri in a worker. A request that has run Python
// for Timeout is stopped softly first: the log gets its method, path,
// elapsed time and Python stack, _gowsgi.HarakiriTimeout is raised in its
// thread (the client then gets 504 from the failing application), and the
// master is asked for a replacement, so the worker is recycled without
// failing anything else. A request still running Grace later (a thread
// blocked in C code, such as time.sleep, sees the exception only when the
// call returns) is stopped by force: its client gets 504 (or a closed
// connection if the response had begun), the worker stops accepting,
// gives its other requests up to Timeout to finish, and exits.
type Watchdog struct {
	Timeout  time.Duration
	Grace    time.Duration // default min(Timeout, 3s)
	Requests Requests
	Python   PythonThreads
	Log      *slog.Logger
	Retire   func(cause string) // asks the master for a replacement
	Exit     func()             // ends the process after a forced stop

	stuck map[runKey]*stuckRequest
}

type runKey struct {
	slot int
	seq  uint64
}

type stuckRequest struct {
	method, path string
	start        time.Time
	stoppedAt    time.Time // when the exception was raised
}

// Run checks the running requests until ctx ends or it forces an exit.
func (w *Watchdog) Run(ctx context.Context) {
	if w.Grace <= 0 {
		w.Grace = min(w.Timeout, 3*time.Second)
	}
	w.stuck = map[runKey]*stuckRequest{}
	tick := min(max(w.Timeout/20, 20*time.Millisecond), 250*time.Millisecond)
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			if w.check(ctx, now) {
				return
			}
		}
	}
}

// check looks at every running request once; true once it forced an exit.
func (w *Watchdog) check(ctx context.Context, now time.Time) bool {
	running := map[runKey]bool{}
	var overdue []runKey
	w.Requests.ForEachRunning(func(slot int, seq uint64, start time.Time, desc string) {
		k := runKey{slot, seq}
		running[k] = true
		if st, ok := w.stuck[k]; ok {
			if now.Sub(st.stoppedAt) >= w.Grace {
				overdue = append(overdue, k)
			}
			return
		}
		if now.Sub(start) >= w.Timeout {
			w.soft(k, start, desc, now)
		}
	})
	for k, st := range w.stuck {
		if !running[k] {
			delete(w.stuck, k)
			w.Log.Warn("harakiri: the request ended after the exception; the worker is being replaced", "slot", k.slot, "method", st.method, "path", st.path, "elapsed", now.Sub(st.start).Round(time.Millisecond))
		}
	}
	if len(overdue) > 0 {
		w.force(ctx, overdue)
		return true
	}
	return false
}

// soft logs the stuck request, marks it for a 504 and raises the exception.
func (w *Watchdog) soft(k runKey, start time.Time, desc string, now time.Time) {
	// The run number is read before the request is confirmed running, so
	// that it names this request or, if it has not entered Python yet, an
	// earlier one that Stack and Interrupt then leave alone.
	run := w.Python.CurrentRun(k.slot)
	if !w.Requests.MarkHarakiri(k.slot, k.seq) {
		return // it just ended
	}
	method, path, _ := strings.Cut(desc, " ")
	st := &stuckRequest{method: method, path: path, start: start, stoppedAt: now}
	w.stuck[k] = st
	w.Log.Error("harakiri: request ran too long; raising HarakiriTimeout in its thread", "slot", k.slot, "method", method, "path", path, "elapsed", now.Sub(start).Round(time.Millisecond), "harakiri", w.Timeout)
	w.Retire(CauseHarakiri)
	// The GIL may never come back (a C extension looping with it held):
	// this goroutine is never waited for, and force does not need it.
	go func() {
		stack, ok := w.Python.Stack(k.slot, run)
		switch {
		case ok:
			w.Log.Error("harakiri: python stack of the stuck thread (most recent call last)", "slot", k.slot, "method", method, "path", path)
			for _, line := range strings.Split(strings.TrimRight(stack, "\n"), "\n") {
				w.Log.Error(line, "slot", k.slot)
			}
		case stack != "":
			w.Log.Warn("harakiri: cannot read the python stack", "slot", k.slot, "err", stack)
		}
		if !w.Python.Interrupt(k.slot, run) {
			w.Log.Warn("harakiri: the thread is not running the request's python code; it will be stopped by force", "slot", k.slot, "method", method, "path", path)
		}
	}()
}

// force ends the overdue requests and the worker.
func (w *Watchdog) force(ctx context.Context, overdue []runKey) {
	for _, k := range overdue {
		st := w.stuck[k]
		found, answered := w.Requests.AbortRequest(k.slot, k.seq)
		if !found {
			continue
		}
		w.Log.Error("harakiri: request still running after the exception; stopping the worker", "slot", k.slot, "method", st.method, "path", st.path, "elapsed", time.Since(st.start).Round(time.Millisecond), "answered_504", answered)
	}
	w.Retire(CauseHarakiri)
	// The stuck connections never close (their goroutines are in Python);
	// the others get up to Timeout, which no healthy request exceeds.
	abandoned := len(overdue)
	sctx, cancel := context.WithTimeout(ctx, w.Timeout)
	defer cancel()
	go w.Requests.Shutdown(sctx)
	for w.Requests.Conns() > abandoned && sctx.Err() == nil {
		time.Sleep(20 * time.Millisecond)
	}
	if n := w.Requests.Conns() - abandoned; n > 0 {
		w.Log.Warn("harakiri: exiting with requests still in flight", "connections", n)
	}
	w.Log.Error("harakiri: worker exiting; the master starts a replacement")
	w.Exit()
}
