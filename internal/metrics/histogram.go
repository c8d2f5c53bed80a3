package metrics

import (
	"math"
	"time"
)

// LatencyBounds are the upper bounds, in seconds, of the request duration
// histogram: a 1-2.5-5 series from 25 µs (a hello-world request takes
// about that) to a minute, fine enough to tell a fast app from a slow
// one, and few enough for a Prometheus histogram.
var LatencyBounds = [...]float64{
	0.000025, 0.00005,
	0.0001, 0.00025, 0.0005,
	0.001, 0.0025, 0.005,
	0.01, 0.025, 0.05,
	0.1, 0.25, 0.5,
	1, 2.5, 5,
	10, 30, 60,
}

const numBuckets = len(LatencyBounds)

// boundNanos are LatencyBounds as durations, for the request path.
var boundNanos = func() (b [numBuckets]time.Duration) {
	for i, s := range LatencyBounds {
		b[i] = time.Duration(math.Round(s * 1e9))
	}
	return b
}()

// bucketOf is the histogram bucket of d: the first whose bound is >= d
// (Prometheus buckets are "less than or equal"), numBuckets for +Inf.
func bucketOf(d time.Duration) int {
	// Most requests are fast: a linear scan from the bottom ends early.
	for i, b := range boundNanos {
		if d <= b {
			return i
		}
	}
	return numBuckets
}

// Histogram is a latency histogram in a snapshot: Counts[i] requests took
// at most Bounds[i] seconds and more than Bounds[i-1] (not cumulative);
// the last count has no bound (+Inf).
type Histogram struct {
	Bounds []float64 `json:"bounds"`
	Counts []uint64  `json:"counts"`
	Sum    float64   `json:"sum_seconds"`
}

func newHistogram() Histogram {
	return Histogram{Bounds: LatencyBounds[:], Counts: make([]uint64, numBuckets+1)}
}

// Count is the number of observations.
func (h *Histogram) Count() uint64 {
	var n uint64
	for _, c := range h.Counts {
		n += c
	}
	return n
}

// add adds o's counts to h; both must have the same bounds.
func (h *Histogram) add(o *Histogram) {
	if len(h.Counts) < len(o.Counts) {
		h.Counts = append(h.Counts, make([]uint64, len(o.Counts)-len(h.Counts))...)
	}
	for i, c := range o.Counts {
		h.Counts[i] += c
	}
	h.Sum += o.Sum
}

// sub returns h - o, for the observations between two snapshots of the
// same counters; a count that went down (a worker restarted) gives 0.
func (h *Histogram) sub(o *Histogram) Histogram {
	d := Histogram{Bounds: h.Bounds, Counts: make([]uint64, len(h.Counts))}
	for i, c := range h.Counts {
		if i < len(o.Counts) && o.Counts[i] <= c {
			d.Counts[i] = c - o.Counts[i]
		} else if i >= len(o.Counts) {
			d.Counts[i] = c
		}
	}
	d.Sum = max(0, h.Sum-o.Sum)
	return d
}

// Quantile estimates the q-quantile (0 < q < 1) in seconds the way
// Prometheus's histogram_quantile does: find the bucket holding the rank
// and interpolate linearly inside it. It returns NaN without observations;
// a rank in the +Inf bucket gives the highest finite bound.
func (h *Histogram) Quantile(q float64) float64 {
	total := h.Count()
	if total == 0 {
		return math.NaN()
	}
	rank := q * float64(total)
	var seen float64
	for i, c := range h.Counts {
		if c == 0 {
			continue
		}
		if seen+float64(c) >= rank {
			if i >= len(h.Bounds) {
				return h.Bounds[len(h.Bounds)-1]
			}
			lower := 0.0
			if i > 0 {
				lower = h.Bounds[i-1]
			}
			return lower + (h.Bounds[i]-lower)*(rank-seen)/float64(c)
		}
		seen += float64(c)
	}
	return h.Bounds[len(h.Bounds)-1]
}
