package pyembed

import (
	"strings"
	"testing"
	"time"
)

// runAsync runs callable's request on slot in the background.
func runAsync(t *testing.T, slot int, env *Environ) <-chan *recorder {
	t.Helper()
	done := make(chan *recorder, 1)
	go func() {
		r := &recorder{}
		if _, err := Slots()[slot].Run(r, env.Bytes(), nil, false, false); err != nil {
			t.Error(err)
		}
		done <- r
	}()
	return done
}

// waitRun waits until slot's run count passes after.
func waitRun(t *testing.T, h Harakiri, slot int, after uint64) uint64 {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if n := h.CurrentRun(slot); n > after {
			return n
		}
		if time.Now().After(deadline) {
			t.Fatalf("slot %d never started a run after %d", slot, after)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestHarakiriStackAndInterrupt(t *testing.T) {
	h, err := SetupHarakiri()
	if err != nil {
		t.Fatal(err)
	}
	if err := loadApp(App{Module: "harakiriapps", Callable: "spin"}); err != nil {
		t.Fatal(err)
	}
	defer use(t, "hello")
	const slot = 1
	before := h.CurrentRun(slot)
	done := runAsync(t, slot, basicEnviron())
	run := waitRun(t, h, slot, before)

	// An earlier run of the slot is over: nothing may touch the thread for it.
	if text, ok := h.Stack(slot, run-1); ok {
		t.Errorf("stack for a finished run: %q", text)
	}
	if h.Interrupt(slot, run-1) {
		t.Errorf("interrupted a finished run")
	}
	if h.Interrupt(0, run) {
		t.Errorf("interrupted slot 0, which runs nothing")
	}

	text, ok := h.Stack(slot, run)
	if !ok || !strings.Contains(text, "harakiriapps.py") || !strings.Contains(text, "in spin") || !strings.Contains(text, "n += 1") && !strings.Contains(text, "while True") {
		t.Errorf("stack %q (%v), want the spin loop", text, ok)
	}
	if !h.Interrupt(slot, run) {
		t.Fatalf("could not interrupt the running request")
	}
	select {
	case r := <-done:
		if !strings.HasPrefix(string(r.head), "500 ") {
			t.Errorf("head %q, want the generic 500 of a failed application", r.head)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the exception did not stop the loop")
	}
	logMu.Lock()
	logged := strings.Join(logLines, "\n")
	logMu.Unlock()
	if !strings.Contains(logged, "_gowsgi.HarakiriTimeout") {
		t.Errorf("the traceback does not name _gowsgi.HarakiriTimeout:\n%s", logged)
	}
	if h.Interrupt(slot, run) {
		t.Errorf("interrupted a run that is over")
	}

	// The thread serves its next request normally.
	use(t, "hello")
	r := <-runAsync(t, slot, basicEnviron())
	if !strings.HasPrefix(string(r.head), "200 ") || r.body.String() != "Hello, World!" {
		t.Errorf("the next request on the slot: %q %q", r.head, r.body.String())
	}
}

// A thread blocked in C sees the exception only when the call returns.
func TestHarakiriBlockedInC(t *testing.T) {
	h, err := SetupHarakiri()
	if err != nil {
		t.Fatal(err)
	}
	if err := loadApp(App{Module: "harakiriapps", Callable: "nap"}); err != nil {
		t.Fatal(err)
	}
	defer use(t, "hello")
	const slot = 1
	env := basicEnviron()
	env.AddString(KeyQueryString, "0.4")
	before := h.CurrentRun(slot)
	start := time.Now()
	done := runAsync(t, slot, env)
	run := waitRun(t, h, slot, before)
	time.Sleep(50 * time.Millisecond) // inside time.sleep by now
	if text, ok := h.Stack(slot, run); !ok || !strings.Contains(text, "in nap") {
		t.Errorf("stack %q (%v), want nap", text, ok)
	}
	if !h.Interrupt(slot, run) {
		t.Fatal("could not interrupt")
	}
	r := <-done
	if d := time.Since(start); d < 400*time.Millisecond {
		t.Errorf("the request ended after %v: time.sleep was cut short", d)
	}
	if !strings.HasPrefix(string(r.head), "500 ") {
		t.Errorf("head %q, want 500: the exception fired when time.sleep returned", r.head)
	}
}
