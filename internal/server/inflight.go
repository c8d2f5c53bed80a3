package server

import (
	"bytes"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gowsgi/gowsgi/pyembed"
)

// The request table: when the worker's lifecycle needs it (a harakiri
// timeout or --max-requests), the server records which request runs
// Python on each slot, since when, and how many have finished. The
// harakiri watchdog (internal/master) reads it and stops requests through
// it; without it, beginRun and endRun cost one nil check.

// requestTable has one entry per request slot.
type requestTable struct {
	slots   []runningRequest
	served  atomic.Uint64
	limit   uint64 // call reached when served gets here; 0 for never
	reached func()
}

// runningRequest is what runs on one slot.
type runningRequest struct {
	mu    sync.Mutex
	seq   uint64    // requests begun on this slot; names one of them
	ex    *exchange // nil while the slot is free
	start time.Time
	desc  string // "METHOD target"
}

// TrackRequests starts the request table: ForEachRunning and the harakiri
// controls work from now on, and reached is called (on its own goroutine)
// once limit requests have been served, if limit is not 0. Call it after
// UseSlots and before Serve.
func (s *Server) TrackRequests(limit uint64, reached func()) {
	s.requests = &requestTable{slots: make([]runningRequest, s.pool.size), limit: limit, reached: reached}
}

// beginRun records that ex starts running Python on sl.
func (s *Server) beginRun(sl *pyembed.Slot, ex *exchange) {
	t := s.requests
	if t == nil {
		return
	}
	ex.harakiri.Store(false)
	desc := string(ex.desc)
	r := &t.slots[sl.Index()]
	r.mu.Lock()
	r.seq++
	r.ex, r.start, r.desc = ex, time.Now(), desc
	r.mu.Unlock()
}

// endRun records that the request on sl has returned from Python.
func (s *Server) endRun(sl *pyembed.Slot) {
	t := s.requests
	if t == nil {
		return
	}
	r := &t.slots[sl.Index()]
	r.mu.Lock()
	r.ex = nil
	r.mu.Unlock()
	if n := t.served.Add(1); n == t.limit && t.reached != nil {
		go t.reached()
	}
}

// Served is how many requests have returned from Python since
// TrackRequests (0 without it).
func (s *Server) Served() uint64 {
	if s.requests == nil {
		return 0
	}
	return s.requests.served.Load()
}

// ForEachRunning calls fn for each request running Python: its slot, its
// sequence number on that slot (which names it for MarkHarakiri and
// AbortRequest), when it began and "METHOD target".
func (s *Server) ForEachRunning(fn func(slot int, seq uint64, start time.Time, desc string)) {
	t := s.requests
	if t == nil {
		return
	}
	for i := range t.slots {
		r := &t.slots[i]
		r.mu.Lock()
		running, seq, start, desc := r.ex != nil, r.seq, r.start, r.desc
		r.mu.Unlock()
		if running {
			fn(i, seq, start, desc)
		}
	}
}

// MarkHarakiri marks the request seq on slot as stopped by the harakiri
// watchdog, so that the generic 500 the bridge sends when the
// application raises becomes a 504. It reports whether that request is
// still running.
func (s *Server) MarkHarakiri(slot int, seq uint64) bool {
	t := s.requests
	if t == nil || slot < 0 || slot >= len(t.slots) {
		return false
	}
	r := &t.slots[slot]
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ex == nil || r.seq != seq {
		return false
	}
	r.ex.harakiri.Store(true)
	return true
}

// abortWriteTimeout bounds writing the 504 of an aborted request.
const abortWriteTimeout = time.Second

// AbortRequest ends the request seq on slot from outside while its Python
// thread is stuck: the client gets a 504 if no byte of the response was
// sent yet, and the connection is closed either way. Whatever the thread
// writes afterwards is dropped. It reports whether the request was still
// running and whether a 504 was sent.
func (s *Server) AbortRequest(slot int, seq uint64) (found, answered bool) {
	t := s.requests
	if t == nil || slot < 0 || slot >= len(t.slots) {
		return false, false
	}
	r := &t.slots[slot]
	r.mu.Lock()
	defer r.mu.Unlock() // held to the end: the slot cannot start another request meanwhile
	if r.ex == nil || r.seq != seq {
		return false, false
	}
	ex := r.ex
	ex.mu.Lock()
	started := ex.started
	ex.started = true
	ex.gone = true // Write now answers Gone and the connection goroutine sends nothing more
	ex.mu.Unlock()
	nc := ex.c.nc
	if !started {
		nc.SetWriteDeadline(time.Now().Add(abortWriteTimeout))
		nc.Write(gatewayTimeoutMessage())
	}
	nc.Close()
	return true, !started
}

// Conns is how many client connections are open.
func (s *Server) Conns() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// harakiriMark is set on an exchange whose request the harakiri watchdog
// stopped with an exception.
type harakiriMark struct{ atomic.Bool }

var (
	// genericErrorHead is the response the bridge sends when the
	// application raises before its response began (gw_fail in bridge.c).
	genericErrorHead   = []byte("500 Internal Server Error\r\nContent-Type: text/plain; charset=utf-8\r\n")
	gatewayTimeoutHead = []byte("504 Gateway Timeout\r\nContent-Type: text/plain; charset=utf-8\r\n")
	gatewayTimeoutBody = [][]byte{[]byte("Gateway Timeout\n")}
	// payloadTooLargeHead replaces the generic 500 of an application that
	// failed reading a body past --limit-post (exchange.Write).
	payloadTooLargeHead = []byte("413 Content Too Large\r\nContent-Type: text/plain; charset=utf-8\r\n")
	payloadTooLargeBody = [][]byte{[]byte("request body too large\n")}
)

// response turns the bridge's generic 500 into a 504 for a request the
// watchdog stopped; any other response (the application caught the
// exception and answered) is left alone.
func (m *harakiriMark) response(head []byte, body [][]byte) ([]byte, [][]byte) {
	if !m.Load() || !bytes.Equal(head, genericErrorHead) {
		return head, body
	}
	return gatewayTimeoutHead, gatewayTimeoutBody
}

// gatewayTimeoutMessage is the whole 504 response written for a request
// whose thread never came back.
func gatewayTimeoutMessage() []byte {
	body := gatewayTimeoutBody[0]
	b := make([]byte, 0, 192)
	b = append(b, "HTTP/1.1 "...)
	b = append(b, gatewayTimeoutHead...)
	b = append(b, "Connection: close\r\nDate: "...)
	b = append(b, httpDate()...)
	b = append(b, "\r\nContent-Length: "...)
	b = strconv.AppendInt(b, int64(len(body)), 10)
	b = append(b, "\r\n\r\n"...)
	return append(b, body...)
}
