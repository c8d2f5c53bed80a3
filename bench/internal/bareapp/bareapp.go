// Package bareapp holds what the bare (no Python) ceiling servers answer, so
// that bare/nethttp and bare/fasthttp send the same bytes as the WSGI apps in
// bench/apps.
package bareapp

import (
	"bytes"
	"fmt"
	"time"
)

// Modes lists the responses a bare server can serve, one per bench app.
var Modes = []string{"hello", "echo", "big", "sleepy", "json"}

// Response bodies and sizes mirrored from bench/apps.
var (
	// Hello is the 13-byte body of apps/hello.py.
	Hello = []byte("Hello, World!")
	// BigChunk is one of the BigChunks chunks of apps/big.py.
	BigChunk = bytes.Repeat([]byte("x"), 64<<10)
	// Slept is the body of apps/sleepy.py.
	Slept = []byte("slept 10 ms\n")
	// JSON is what apps/flaskjson.py returns (compact, as Flask's jsonify).
	JSON = []byte(`{"id":42,"message":"Hello, World!","ok":true,"tags":["wsgi","bench"]}` + "\n")
)

// BigChunks is how many BigChunk make the 1 MiB big response.
const BigChunks = 16

// Sleep is how long apps/sleepy.py sleeps per request.
const Sleep = 10 * time.Millisecond

// Check reports an error for an unknown mode.
func Check(mode string) error {
	for _, m := range Modes {
		if m == mode {
			return nil
		}
	}
	return fmt.Errorf("unknown mode %q (want one of %v)", mode, Modes)
}
