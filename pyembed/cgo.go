// Package pyembed is gowsgi's bridge to an embedded CPython interpreter.
//
// All C lives in bridge.c and bridge.h (the only Go/C contract); the
// callbacks from C into Go live in callbacks.go. Every Python API sequence
// runs inside one C function on an OS thread that owns a Python thread
// state, so no goroutine holds the GIL across cgo calls.
package pyembed

// The interpreter is the system libpython found by pkg-config, the same
// one /usr/bin/python3 runs on Debian.

/*
#cgo pkg-config: python3-embed
#cgo CFLAGS: -O2 -Wall -Wno-missing-braces
#include "bridge.h"
*/
import "C"
