package master

import "time"

// backoff is the delay before starting a worker again after failures
// consecutive failed starts (a worker that exited before it was ready, or
// died before it had been up for Config.StableAfter): none for the first
// crash of a worker that ran fine, then base, doubling up to max, so a
// worker that cannot start does not make the master spin.
func backoff(failures int, base, max time.Duration) time.Duration {
	if failures <= 0 {
		return 0
	}
	d := base
	for i := 1; i < failures && d < max; i++ {
		d *= 2
	}
	return min(d, max)
}
