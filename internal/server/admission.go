package server

import (
	"sync"
	"time"

	"github.com/gowsgi/gowsgi/pyembed"
)

// slotPool hands out the request slots, at most limit at a time, to
// waiters in arrival order.
//
// The limit is the admission control: --threads requests may run Python
// at once, but when they only queue for the GIL (a CPU-bound app), each
// of those threads blocked in C holds a Go P until sysmon takes it back and
// wakes another OS thread, and the GIL changes hands between more threads
// than there are cores. Flask measured 13% more requests per second, at a
// fifth less CPU per request, with 4 threads than with 32. So the limit
// follows the GIL: it shrinks while requests wait longer for the GIL
// than they then run, and grows back while they hardly wait for it (an
// app that sleeps or waits on a database keeps all its threads).
type slotPool struct {
	mu      sync.Mutex
	free    []*pyembed.Slot
	size    int // every slot
	limit   int // slots that may be out at once, 2..size (size when size < 2)
	out     int // slots taken
	waiters []chan *pyembed.Slot
}

func newSlotPool(slots []*pyembed.Slot) *slotPool {
	return &slotPool{free: append([]*pyembed.Slot(nil), slots...), size: len(slots), limit: len(slots)}
}

// take returns a slot at once, or a channel on which one will come, or
// neither when queued requests already fill maxQueue.
func (p *slotPool) take(wait chan *pyembed.Slot, maxQueue int) (*pyembed.Slot, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.out < p.limit && len(p.waiters) == 0 {
		return p.pop(), true
	}
	if len(p.waiters) >= maxQueue {
		if len(p.free) > 0 {
			// The limit is only advice: a request is refused (503)
			// when every thread is busy, never while one is idle.
			return p.pop(), true
		}
		return nil, false
	}
	p.waiters = append(p.waiters, wait)
	return nil, true
}

func (p *slotPool) pop() *pyembed.Slot {
	sl := p.free[len(p.free)-1]
	p.free = p.free[:len(p.free)-1]
	p.out++
	return sl
}

// give returns a slot, handing it straight to the first waiter if the
// limit allows.
func (p *slotPool) give(sl *pyembed.Slot) {
	p.mu.Lock()
	p.free = append(p.free, sl)
	p.out--
	p.admit()
	p.mu.Unlock()
}

// admit hands slots to waiters while the limit allows (mu held).
func (p *slotPool) admit() {
	for len(p.waiters) > 0 && p.out < p.limit {
		w := p.waiters[0]
		p.waiters[0] = nil
		p.waiters = p.waiters[1:]
		w <- p.pop()
	}
}

// queued is how many requests wait for a slot.
func (p *slotPool) queued() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.waiters)
}

func (p *slotPool) currentLimit() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.limit
}

// adjust moves the limit after one period in which requests waited wait
// for the GIL as they entered, and runs requests ended after running run
// (totals).
func (p *slotPool) adjust(wait, run time.Duration, runs uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	floor := min(2, p.size)
	switch {
	case runs == 0:
		// Nothing finished for a whole period and the GIL was easy to
		// get: the requests out are blocked (in time.sleep, on a
		// database), not competing for it.
		if len(p.waiters) > 0 && wait < admissionPeriod/4 {
			p.limit = min(p.size, p.limit*2)
		}
	case wait > run && p.limit > floor:
		p.limit = max(floor, p.limit*3/4)
	case wait*4 < run && p.limit < p.size && (len(p.waiters) > 0 || p.out >= p.limit):
		p.limit = min(p.size, p.limit+max(1, p.limit/4))
	}
	p.admit()
}

// admissionPeriod is how often the limit is reconsidered.
const admissionPeriod = 10 * time.Millisecond

// runAdmission adjusts the slot limit from the interpreter's load counters
// until stop is closed.
func (s *Server) runAdmission(stop <-chan struct{}) {
	t := time.NewTicker(admissionPeriod)
	defer t.Stop()
	last := pyembed.ReadLoad()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		now := pyembed.ReadLoad()
		s.pool.adjust(now.GILWait-last.GILWait, now.Run-last.Run, now.Runs-last.Runs)
		last = now
	}
}
