package pyembed

/*
#include "bridge.h"
*/
import "C"

import (
	"errors"
	"sync"
)

// gcGenerations is how many generations CPython's collector has (3 up to
// 3.12; 3.13 reports 3 as well).
const gcGenerations = 3

// gcStats keeps GCCollections away from a finalizing interpreter:
// PyGILState_Ensure during Py_FinalizeEx would stop the calling thread.
var gcStats struct {
	sync.RWMutex
	stopped bool
}

// stopGCStats makes GCCollections fail from now on, once the reads
// running have ended (Finalize).
func stopGCStats() {
	gcStats.Lock()
	gcStats.stopped = true
	gcStats.Unlock()
}

var errGCStopped = errors.New("python is finalizing: no gc stats")

// GCCollections returns how many collections Python's cyclic garbage
// collector has run, per generation (gc.get_stats()). It takes the GIL,
// so it waits for a running request to let go of it. Once Finalize has
// begun it returns an error.
func GCCollections() ([]uint64, error) {
	gcStats.RLock()
	defer gcStats.RUnlock()
	if gcStats.stopped {
		return nil, errGCStopped
	}
	var out [gcGenerations]C.uint64_t
	n := C.gw_gc_collections(&out[0], gcGenerations)
	if n < 0 {
		return nil, errors.New("python gc stats are not available")
	}
	counts := make([]uint64, n)
	for i := range counts {
		counts[i] = uint64(out[i])
	}
	return counts, nil
}
