package server

import (
	"errors"
	"syscall"
)

// writeNow writes as much of p as the socket takes without blocking and
// returns how much that was. Only the goroutine running the request may
// call it, while nothing else writes to the connection.
func (c *conn) writeNow(p []byte) (int, error) {
	if c.raw == nil || len(p) == 0 {
		return 0, nil
	}
	written := 0
	var werr error
	err := c.raw.Write(func(fd uintptr) bool {
		for written < len(p) {
			n, err := syscall.Write(int(fd), p[written:])
			if n > 0 {
				written += n
			}
			if errors.Is(err, syscall.EINTR) {
				continue
			}
			if err != nil {
				if !errors.Is(err, syscall.EAGAIN) {
					werr = err
				}
				break
			}
		}
		return true // never wait for the socket: a slow client is the writer goroutine's job
	})
	if werr == nil {
		werr = err
	}
	return written, werr
}
