package server

import (
	"testing"
	"time"

	"github.com/gowsgi/gowsgi/pyembed"
)

func testPool(n int) *slotPool {
	slots := make([]*pyembed.Slot, n)
	for i := range slots {
		slots[i] = &pyembed.Slot{}
	}
	return newSlotPool(slots)
}

func TestSlotPoolQueuesPastTheLimitInOrder(t *testing.T) {
	p := testPool(4)
	p.limit = 2
	a, _ := p.take(nil, 10)
	b, _ := p.take(nil, 10)
	if a == nil || b == nil || a == b {
		t.Fatal("the first two takes must get distinct slots at once")
	}
	w1, w2 := make(chan *pyembed.Slot, 1), make(chan *pyembed.Slot, 1)
	if sl, ok := p.take(w1, 10); sl != nil || !ok {
		t.Fatal("a take past the limit must queue")
	}
	if sl, ok := p.take(w2, 10); sl != nil || !ok {
		t.Fatal("a second take past the limit must queue")
	}
	p.give(a)
	select {
	case got := <-w1:
		if got != a {
			t.Fatal("the first waiter should get the slot just given back")
		}
	default:
		t.Fatal("the first waiter got nothing")
	}
	select {
	case <-w2:
		t.Fatal("the second waiter was served past the limit")
	default:
	}
	if p.out != 2 {
		t.Fatalf("out = %d, want 2", p.out)
	}
}

func TestSlotPoolRefusesPastTheQueueBound(t *testing.T) {
	p := testPool(1)
	if sl, _ := p.take(nil, 1); sl == nil {
		t.Fatal("no slot")
	}
	if _, ok := p.take(make(chan *pyembed.Slot, 1), 1); !ok {
		t.Fatal("the first waiter fits the queue")
	}
	if sl, ok := p.take(make(chan *pyembed.Slot, 1), 1); sl != nil || ok {
		t.Fatal("a request past the queue bound must be refused")
	}
}

func TestSlotPoolNeverRefusesWhileASlotIsFree(t *testing.T) {
	p := testPool(3)
	p.limit = 1
	p.take(nil, 0)
	// --queue 0: nothing may wait, but the two idle slots must still serve.
	for i := 0; i < 2; i++ {
		if sl, ok := p.take(make(chan *pyembed.Slot, 1), 0); sl == nil || !ok {
			t.Fatalf("take %d was refused with a slot free", i+2)
		}
	}
	if sl, ok := p.take(make(chan *pyembed.Slot, 1), 0); sl != nil || ok {
		t.Fatal("a fourth request must be refused: every slot is out and nothing may wait")
	}
}

func TestAdmissionShrinksWhileRequestsQueueForTheGIL(t *testing.T) {
	p := testPool(32)
	for i := 0; i < 20; i++ {
		// Each request waited 30 times as long for the GIL as it then ran (32 CPU-bound threads).
		p.adjust(30*time.Millisecond, time.Millisecond, 10)
	}
	if p.limit != 2 {
		t.Fatalf("limit %d, want the floor 2", p.limit)
	}
	one := testPool(1)
	one.adjust(time.Second, time.Millisecond, 10)
	if one.limit != 1 {
		t.Fatalf("a single slot's limit became %d", one.limit)
	}
}

func TestAdmissionGrowsBackAndAdmitsWaiters(t *testing.T) {
	p := testPool(8)
	p.limit = 2
	p.take(nil, 10)
	p.take(nil, 10)
	waiters := make([]chan *pyembed.Slot, 4)
	for i := range waiters {
		waiters[i] = make(chan *pyembed.Slot, 1)
		p.take(waiters[i], 10)
	}
	// Requests hardly wait for the GIL (they sleep with it released): grow.
	p.adjust(10*time.Microsecond, 20*time.Millisecond, 2)
	if p.limit <= 2 {
		t.Fatalf("limit stayed %d", p.limit)
	}
	admitted := 0
	for _, w := range waiters {
		select {
		case <-w:
			admitted++
		default:
		}
	}
	if admitted != p.limit-2 {
		t.Fatalf("raised the limit to %d but admitted %d waiters", p.limit, admitted)
	}
}

func TestAdmissionOpensUpWhenNothingFinishes(t *testing.T) {
	p := testPool(64)
	p.limit = 2
	p.take(nil, 100)
	p.take(nil, 100)
	for i := 0; i < 90; i++ {
		p.take(make(chan *pyembed.Slot, 1), 100)
	}
	// Two requests out for a whole period, none ended, the GIL free: they block (time.sleep).
	for i := 0; i < 6; i++ {
		p.adjust(0, 0, 0)
	}
	if p.limit != 64 || p.out != 64 {
		t.Fatalf("limit %d with %d out, want all 64 slots out", p.limit, p.out)
	}
	// Without waiters there is nothing to open up for.
	q := testPool(64)
	q.limit = 2
	q.adjust(0, 0, 0)
	if q.limit != 2 {
		t.Fatalf("limit moved to %d with nobody waiting", q.limit)
	}
}
