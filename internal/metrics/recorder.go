// Package metrics counts what a serving process does and shows it: the
// worker side records every request into per-slot atomic counters and
// answers snapshots on a control socket; the stats listener (in the master,
// or in a single process) merges the workers' snapshots into Prometheus
// metrics, JSON stats, health probes and a live HTML page.
package metrics

import (
	"sync"
	"sync/atomic"
	"time"
)

// Method classes: the label values of requests by method. Anything else is
// "other", so a client cannot create label values at will.
const (
	methodGET = iota
	methodHEAD
	methodPOST
	methodPUT
	methodDELETE
	methodPATCH
	methodOPTIONS
	methodOther
	numMethods
)

// MethodNames are the method label values, indexed by method class.
var MethodNames = [numMethods]string{"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "other"}

// ClassNames are the status class label values; index = status/100 - 1.
var ClassNames = [numClasses]string{"1xx", "2xx", "3xx", "4xx", "5xx"}

const numClasses = 5

// methodClass maps a request method to its class without allocating.
func methodClass(m []byte) int {
	switch string(m) {
	case "GET":
		return methodGET
	case "HEAD":
		return methodHEAD
	case "POST":
		return methodPOST
	case "PUT":
		return methodPUT
	case "DELETE":
		return methodDELETE
	case "PATCH":
		return methodPATCH
	case "OPTIONS":
		return methodOPTIONS
	}
	return methodOther
}

// statusClass maps a status code to 0..4 (1xx..5xx); anything out of range
// counts as 5xx, since it can only come from a broken response.
func statusClass(status int) int {
	c := status/100 - 1
	if c < 0 || c >= numClasses {
		return numClasses - 1
	}
	return c
}

// maxDesc bounds the "METHOD target" kept for a busy slot's current request.
const maxDesc = 200

// counters are one slot's cumulative counts. Each is written by whichever
// goroutine finishes a request on the slot and read by snapshots, so all
// are atomic; a slot is used by one request at a time, so they are
// practically never contended.
type counters struct {
	requests   [numMethods * numClasses]atomic.Uint64
	latency    [numBuckets + 1]atomic.Uint64 // per bucket, not cumulative; the last is +Inf
	latencySum atomic.Uint64                 // nanoseconds
	bytesIn    atomic.Uint64
	bytesOut   atomic.Uint64
	errors     atomic.Uint64 // Python errors logged (tracebacks, bad responses)
}

// slot is one Python request slot's counters and current request.
type slot struct {
	counters
	// since is when the request now running on the slot began (Unix
	// nanoseconds), 0 while the slot is idle.
	since atomic.Int64

	mu      sync.Mutex // guards desc: copied in per request, read by snapshots
	desc    [maxDesc]byte
	descLen int

	_ [64]byte // keeps neighbouring slots off each other's cache lines
}

// Recorder counts one process's requests. Its methods are called on the
// request path and cost a few uncontended atomic additions each.
type Recorder struct {
	// inFlight counts requests from a complete head to the end of the
	// response: queued, running Python, or still being written.
	inFlight atomic.Int64
	_        [56]byte

	slots []slot
	// other counts requests answered without running Python: refused by
	// the front end (400, 408, 413, 431...) or by a full queue (503).
	other slot
}

// NewRecorder makes a recorder for a process with threads request slots.
func NewRecorder(threads int) *Recorder {
	return &Recorder{slots: make([]slot, threads)}
}

// Threads is the number of request slots.
func (r *Recorder) Threads() int { return len(r.slots) }

// Begin counts a request in flight; End must follow it.
func (r *Recorder) Begin() { r.inFlight.Add(1) }

// End ends a request counted by Begin.
func (r *Recorder) End() { r.inFlight.Add(-1) }

// Acquired marks slot i busy with the request described by desc
// ("METHOD target") that began at start.
func (r *Recorder) Acquired(i int, desc []byte, start time.Time) {
	s := &r.slots[i]
	s.mu.Lock()
	s.descLen = copy(s.desc[:], desc)
	s.mu.Unlock()
	s.since.Store(start.UnixNano())
}

// Released marks slot i idle.
func (r *Recorder) Released(i int) {
	r.slots[i].since.Store(0)
}

// Done counts a finished request: slot is the slot it ran on, or -1 if
// it never reached Python. in and out are the bytes read and written on
// the connection for it, pyErrors the Python errors it logged.
func (r *Recorder) Done(slot int, method []byte, status int, in, out int64, d time.Duration, pyErrors int) {
	s := &r.other
	if slot >= 0 && slot < len(r.slots) {
		s = &r.slots[slot]
	}
	s.requests[methodClass(method)*numClasses+statusClass(status)].Add(1)
	s.latency[bucketOf(d)].Add(1)
	if d > 0 {
		s.latencySum.Add(uint64(d))
	}
	if in > 0 {
		s.bytesIn.Add(uint64(in))
	}
	if out > 0 {
		s.bytesOut.Add(uint64(out))
	}
	if pyErrors > 0 {
		s.errors.Add(uint64(pyErrors))
	}
}
