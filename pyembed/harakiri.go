package pyembed

/*
#include <stdlib.h>
#include "bridge.h"
*/
import "C"

import (
	"errors"
	"unsafe"
)

// Harakiri is the Python side of the harakiri watchdog: it finds the
// thread running a slot's request, formats its stack and raises
// _gowsgi.HarakiriTimeout in it. A request is named by its slot and its
// run number on that slot (CurrentRun), so a request that ended in the
// meantime is never confused with the next one.
//
// Stack and Interrupt take the GIL: they block while a thread holds it
// (a C extension that never releases it), so callers run them on a
// goroutine they do not wait for forever.
type Harakiri struct{}

// SetupHarakiri prepares the interpreter for the watchdog. Call it once,
// after Start and before requests are served.
func SetupHarakiri() (Harakiri, error) {
	var cerr *C.char
	if C.gw_harakiri_setup(C.int(len(slots)), &cerr) != 0 {
		return Harakiri{}, errors.New(takeCString(cerr))
	}
	return Harakiri{}, nil
}

// CurrentRun is the run number of the request that runs, or last ran,
// Python on slot. Read it after the request is known to be running: if
// that request has not entered Python yet, it names the previous one,
// and Stack and Interrupt then do nothing.
func (Harakiri) CurrentRun(slot int) uint64 { return uint64(C.gw_slot_runs(C.int(slot))) }

// Stack returns the Python stack of the thread running slot's request
// run, most recent call last; ok is false if that run is over or the
// stack could not be read (text then says why, if it can).
func (Harakiri) Stack(slot int, run uint64) (text string, ok bool) {
	var out *C.char
	rc := C.gw_slot_stack(C.int(slot), C.ulong(run), &out)
	if out != nil {
		text = C.GoString(out)
		C.free(unsafe.Pointer(out))
	}
	return text, rc == 1
}

// Interrupt raises _gowsgi.HarakiriTimeout in the thread running slot's
// request run. The exception fires at the thread's next Python bytecode:
// at once in pure Python code, only on return from a C function (such as
// time.sleep) that is blocking. It reports whether it was raised.
func (Harakiri) Interrupt(slot int, run uint64) bool {
	return C.gw_slot_interrupt(C.int(slot), C.ulong(run)) == 1
}
