package master

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"time"
)

// RequestLimit is one worker's share under --max-requests n with
// --max-requests-jitter j: n plus a random 0..j, so workers started
// together are not all recycled together. 0 means no limit.
func RequestLimit(n, jitter int) uint64 {
	if n <= 0 {
		return 0
	}
	if jitter <= 0 {
		return uint64(n)
	}
	return uint64(n) + uint64(rand.IntN(jitter+1))
}

// pageSize converts /proc/self/statm's pages to bytes.
var pageSize = uint64(os.Getpagesize())

// ResidentBytes is the process's resident set size, from /proc/self/statm.
func ResidentBytes() (uint64, error) {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0, err
	}
	return parseStatm(b)
}

// parseStatm reads the second field of /proc/<pid>/statm, resident pages.
func parseStatm(b []byte) (uint64, error) {
	f := bytes.Fields(b)
	if len(f) < 2 {
		return 0, fmt.Errorf("malformed statm %q", b)
	}
	pages, err := strconv.ParseUint(string(f[1]), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("malformed statm %q: %v", b, err)
	}
	return pages * pageSize, nil
}

// WatchRSS checks the resident size every interval and calls over once,
// with the size, when it exceeds limit bytes; it returns then, or when ctx
// ends. read is ResidentBytes outside tests.
func WatchRSS(ctx context.Context, limit uint64, interval time.Duration, read func() (uint64, error), over func(rss uint64)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		rss, err := read()
		if err == nil && rss > limit {
			over(rss)
			return
		}
	}
}
