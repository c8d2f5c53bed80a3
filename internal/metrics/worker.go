package metrics

import (
	"os"
	"strconv"
	"sync"
	"time"
)

// gcWait is how long a snapshot waits for the Python GC counts; they need
// the GIL, which a busy application may hold for a while. Past it the last
// counts are reported.
const gcWait = 200 * time.Millisecond

// Worker is the worker-process side of the metrics: the request recorder
// plus what a snapshot reports about the process. Set the fields before
// serving snapshots; the funcs may be nil.
type Worker struct {
	Rec       *Recorder
	Index     int // the worker index, 0 in a single process
	StartedAt time.Time
	Version   string // gowsgi's version
	Python    string // the embedded Python's version
	App       string // the application, as "module:callable"
	PID       int    // the process id reported; 0 for this process's

	Ready    func() bool // the application is imported and requests are accepted
	Draining func() bool // the process is shutting down
	Queue    func() int  // requests waiting for a free Python thread
	// Admission is how many requests may run Python at once right now
	// (the admission control's limit, at most Threads).
	Admission func() int
	// GC reads Python's garbage collections per generation. It takes the
	// GIL, so it runs at most once at a time, and never after Close.
	GC func() ([]uint64, error)

	gcMu     sync.Mutex
	gcLast   []uint64
	gcDone   chan struct{} // closed when the running read ends; nil if none runs
	gcClosed bool
	gcWG     sync.WaitGroup
}

// Snapshot returns the worker's current state.
func (w *Worker) Snapshot() *WorkerStats {
	now := time.Now()
	s := &WorkerStats{
		Worker:    w.Index,
		PID:       w.PID,
		StartedAt: w.StartedAt,
		Version:   w.Version,
		Python:    w.Python,
		App:       w.App,
		RSSBytes:  residentBytes(),
	}
	if s.PID == 0 {
		s.PID = os.Getpid()
	}
	if w.Ready != nil {
		s.Ready = w.Ready()
	}
	if w.Draining != nil {
		s.Draining = w.Draining()
	}
	if w.Queue != nil {
		s.Queue = w.Queue()
	}
	if w.Admission != nil {
		s.Admission = w.Admission()
	}
	w.Rec.read(s, now)
	s.GCCollections = w.gcCollections()
	return s
}

// gcCollections returns fresh GC counts if they can be read within gcWait,
// else the last ones read.
func (w *Worker) gcCollections() []uint64 {
	if w.GC == nil {
		return nil
	}
	w.gcMu.Lock()
	if w.gcClosed {
		last := w.gcLast
		w.gcMu.Unlock()
		return last
	}
	done := w.gcDone
	if done == nil {
		done = make(chan struct{})
		w.gcDone = done
		w.gcWG.Add(1)
		go func() {
			defer w.gcWG.Done()
			counts, err := w.GC()
			w.gcMu.Lock()
			if err == nil {
				w.gcLast = counts
			}
			w.gcDone = nil
			w.gcMu.Unlock()
			close(done)
		}()
	}
	w.gcMu.Unlock()
	select {
	case <-done:
	case <-time.After(gcWait):
	}
	w.gcMu.Lock()
	defer w.gcMu.Unlock()
	return w.gcLast
}

// Close stops GC reads and waits for a running one, so the interpreter
// can be finalized afterwards.
func (w *Worker) Close() {
	w.gcMu.Lock()
	w.gcClosed = true
	w.gcMu.Unlock()
	w.gcWG.Wait()
}

// residentBytes is the process's resident set size, from /proc/self/statm
// (0 where that is missing).
func residentBytes() uint64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	return parseStatmRSS(b) * uint64(os.Getpagesize())
}

// parseStatmRSS returns the second field of statm: resident pages.
func parseStatmRSS(b []byte) uint64 {
	field := 0
	start := -1
	for i := 0; i <= len(b); i++ {
		if i == len(b) || b[i] == ' ' || b[i] == '\n' {
			if start >= 0 {
				if field == 1 {
					n, _ := strconv.ParseUint(string(b[start:i]), 10, 64)
					return n
				}
				field++
				start = -1
			}
			continue
		}
		if start < 0 {
			start = i
		}
	}
	return 0
}
