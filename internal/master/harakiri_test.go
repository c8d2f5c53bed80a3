package master

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeRequests plays the server for the watchdog.
type fakeRequests struct {
	mu       sync.Mutex
	running  map[int]fakeRequest // by slot
	marked   []runKey
	aborted  []runKey
	conns    int
	shutdown bool
}

type fakeRequest struct {
	seq   uint64
	start time.Time
	desc  string
}

func (f *fakeRequests) ForEachRunning(fn func(slot int, seq uint64, start time.Time, desc string)) {
	f.mu.Lock()
	running := map[int]fakeRequest{}
	for slot, r := range f.running {
		running[slot] = r
	}
	f.mu.Unlock()
	for slot, r := range running { // unlocked, as the server does: fn calls back
		fn(slot, r.seq, r.start, r.desc)
	}
}

func (f *fakeRequests) MarkHarakiri(slot int, seq uint64) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.marked = append(f.marked, runKey{slot, seq})
	r, ok := f.running[slot]
	return ok && r.seq == seq
}

func (f *fakeRequests) AbortRequest(slot int, seq uint64) (bool, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.aborted = append(f.aborted, runKey{slot, seq})
	return true, true
}

func (f *fakeRequests) Conns() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.conns
}

func (f *fakeRequests) Shutdown(ctx context.Context) error {
	f.mu.Lock()
	f.shutdown = true
	f.mu.Unlock()
	return nil
}

func (f *fakeRequests) end(slot int) {
	f.mu.Lock()
	delete(f.running, slot)
	f.mu.Unlock()
}

// fakePython plays the interpreter. With stuck set, the exception never
// ends the request; with gilHeld, Stack and Interrupt never return.
type fakePython struct {
	reqs      *fakeRequests
	stuck     bool
	gilHeld   chan struct{}
	mu        sync.Mutex
	interrupt []uint64
}

func (p *fakePython) CurrentRun(slot int) uint64 { return 41 }

func (p *fakePython) Stack(slot int, run uint64) (string, bool) {
	if p.gilHeld != nil {
		<-p.gilHeld
	}
	return "  File \"app.py\", line 3, in application\n    spin()\n", true
}

func (p *fakePython) Interrupt(slot int, run uint64) bool {
	p.mu.Lock()
	p.interrupt = append(p.interrupt, run)
	p.mu.Unlock()
	if !p.stuck {
		p.reqs.end(slot)
	}
	return true
}

type watchdogRun struct {
	reqs    *fakeRequests
	py      *fakePython
	log     *logBuffer
	retired chan string
	exited  chan struct{}
	done    chan struct{}
	cancel  context.CancelFunc
}

func runWatchdog(t *testing.T, stuck bool, gilHeld chan struct{}, conns int) *watchdogRun {
	t.Helper()
	reqs := &fakeRequests{running: map[int]fakeRequest{
		0: {seq: 5, start: time.Now(), desc: "GET /report?year=2024"},
		1: {seq: 9, start: time.Now().Add(time.Hour), desc: "GET /fast"}, // never overdue
	}, conns: conns}
	w := &watchdogRun{
		reqs:    reqs,
		py:      &fakePython{reqs: reqs, stuck: stuck, gilHeld: gilHeld},
		log:     &logBuffer{},
		retired: make(chan string, 10),
		exited:  make(chan struct{}),
		done:    make(chan struct{}),
	}
	wd := &Watchdog{
		Timeout:  100 * time.Millisecond,
		Grace:    150 * time.Millisecond,
		Requests: reqs,
		Python:   w.py,
		Log:      slog.New(slog.NewTextHandler(w.log, nil)),
		Retire:   func(cause string) { w.retired <- cause },
		Exit:     func() { close(w.exited) },
	}
	ctx, cancel := context.WithCancel(context.Background())
	w.cancel = cancel
	go func() {
		wd.Run(ctx)
		close(w.done)
	}()
	t.Cleanup(func() {
		cancel()
		<-w.done
		if t.Failed() {
			t.Logf("watchdog log:\n%s", w.log)
		}
	})
	return w
}

func (w *watchdogRun) waitLog(t *testing.T, substr string) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for !strings.Contains(w.log.String(), substr) {
		if time.Now().After(deadline) {
			t.Fatalf("log lacks %q", substr)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestWatchdogSoftStop(t *testing.T) {
	t.Parallel()
	w := runWatchdog(t, false, nil, 2)
	w.waitLog(t, `msg="harakiri: request ran too long; raising HarakiriTimeout in its thread" slot=0 method=GET path="/report?year=2024" elapsed=`)
	w.waitLog(t, `msg="  File \"app.py\", line 3, in application" slot=0`)
	w.waitLog(t, `msg="harakiri: the request ended after the exception; the worker is being replaced" slot=0`)
	if cause := <-w.retired; cause != CauseHarakiri {
		t.Errorf("retired for %q", cause)
	}
	time.Sleep(300 * time.Millisecond) // past the grace: nothing more happens
	select {
	case <-w.exited:
		t.Errorf("the worker exited though the exception ended the request")
	default:
	}
	w.reqs.mu.Lock()
	defer w.reqs.mu.Unlock()
	if len(w.reqs.marked) != 1 || w.reqs.marked[0] != (runKey{0, 5}) || len(w.reqs.aborted) != 0 {
		t.Errorf("marked %v aborted %v; want slot 0 run 5 marked, nothing aborted", w.reqs.marked, w.reqs.aborted)
	}
	w.py.mu.Lock()
	defer w.py.mu.Unlock()
	if len(w.py.interrupt) != 1 || w.py.interrupt[0] != 41 {
		t.Errorf("interrupts %v, want one for run 41", w.py.interrupt)
	}
}

func TestWatchdogForcedStop(t *testing.T) {
	t.Parallel()
	// The thread holds the GIL for good: no stack, no exception, and the
	// forced stop must not wait for them.
	gil := make(chan struct{})
	defer close(gil)
	w := runWatchdog(t, true, gil, 1)
	select {
	case <-w.exited:
	case <-time.After(3 * time.Second):
		t.Fatal("the worker did not exit")
	}
	w.waitLog(t, `msg="harakiri: request still running after the exception; stopping the worker" slot=0 method=GET path="/report?year=2024" elapsed=`)
	w.waitLog(t, `answered_504=true`)
	// Shutdown runs on its own goroutine (it never ends: the stuck
	// connection stays); it has begun by the exit or soon after, and the
	// exit closes the listeners anyway.
	deadline := time.Now().Add(time.Second)
	for {
		w.reqs.mu.Lock()
		shutdown := w.reqs.shutdown
		w.reqs.mu.Unlock()
		if shutdown {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the worker did not stop accepting")
		}
		time.Sleep(5 * time.Millisecond)
	}
	w.reqs.mu.Lock()
	defer w.reqs.mu.Unlock()
	if len(w.reqs.aborted) != 1 || w.reqs.aborted[0] != (runKey{0, 5}) {
		t.Errorf("aborted %v, want slot 0 run 5", w.reqs.aborted)
	}
}

// Other connections get time to finish before a forced exit.
func TestWatchdogForcedStopWaitsForOthers(t *testing.T) {
	t.Parallel()
	w := runWatchdog(t, true, nil, 3) // the stuck one and two others
	w.waitLog(t, "stopping the worker")
	select {
	case <-w.exited:
		t.Fatalf("exited while other connections were open")
	case <-time.After(50 * time.Millisecond):
	}
	w.reqs.mu.Lock()
	w.reqs.conns = 1 // only the stuck one is left
	w.reqs.mu.Unlock()
	select {
	case <-w.exited:
	case <-time.After(2 * time.Second):
		t.Fatal("the worker did not exit once the others were done")
	}
}
