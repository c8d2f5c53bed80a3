package pyembed

/*
#include "bridge.h"
*/
import "C"

import "time"

// Load is what requests have cost in Python since the process started.
type Load struct {
	GILWait time.Duration // waited for the GIL on entering Python
	Run     time.Duration // from holding the GIL to leaving Python
	Runs    uint64        // requests that completed
}

// ReadLoad reads the load counters; they only grow. It does not take the GIL.
func ReadLoad() Load {
	var v [3]C.uint64_t
	C.gw_load_counters(&v[0])
	return Load{GILWait: time.Duration(v[0]), Run: time.Duration(v[1]), Runs: uint64(v[2])}
}
