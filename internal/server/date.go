package server

import (
	"net/http"
	"sync/atomic"
	"time"
)

// The Date header (RFC 9110 §6.6.1) changes once a second; it is formatted
// by a ticker instead of on every response.
var dateValue atomic.Pointer[[]byte]

func init() {
	update := func() {
		b := []byte(time.Now().UTC().Format(http.TimeFormat))
		dateValue.Store(&b)
	}
	update()
	go func() {
		for range time.Tick(500 * time.Millisecond) {
			update()
		}
	}()
}

func httpDate() []byte { return *dateValue.Load() }

func statusText(code int) string {
	if t := http.StatusText(code); t != "" {
		return t
	}
	return "Unknown"
}
