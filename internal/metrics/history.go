package metrics

import (
	"math"
	"sync"
	"time"
)

const (
	// sampleEvery is the history's resolution; historyLength samples make
	// ten minutes.
	sampleEvery   = time.Second
	historyLength = 600
	// rateWindow and latencyWindow are the spans of the "now" numbers.
	rateWindow    = 5 * time.Second
	latencyWindow = time.Minute
)

// sample is the merged cumulative counters at one time.
type sample struct {
	t        time.Time
	requests uint64
	byClass  [numClasses]uint64
	errors   uint64
	latency  Histogram
	busy     int
	threads  int
	inFlight int
	queue    int
	rss      uint64
}

func sampleOf(st *Stats) sample {
	s := sample{
		t:        st.Now,
		requests: st.Requests,
		errors:   st.PythonErrors,
		latency:  st.total.Latency,
		busy:     st.Busy,
		threads:  st.Threads,
		inFlight: st.InFlight,
		queue:    st.Queue,
		rss:      st.RSSBytes,
	}
	for i, name := range ClassNames {
		s.byClass[i] = st.ByStatus[name]
	}
	return s
}

// history is a ring of the last samples, oldest first.
type history struct {
	mu   sync.Mutex
	ring []sample
	head int // index of the oldest sample
	n    int
}

func newHistory(n int) *history { return &history{ring: make([]sample, n)} }

func (h *history) add(s sample) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.n > 0 && !s.t.After(h.at(h.n-1).t) {
		return // the same poll again
	}
	if h.n < len(h.ring) {
		h.ring[(h.head+h.n)%len(h.ring)] = s
		h.n++
		return
	}
	h.ring[h.head] = s
	h.head = (h.head + 1) % len(h.ring)
}

// at is the i-th sample, oldest first (mu held).
func (h *history) at(i int) *sample { return &h.ring[(h.head+i)%len(h.ring)] }

// before returns the newest sample at least d older than t, else the
// oldest one older than t, or nil (mu held).
func (h *history) before(t time.Time, d time.Duration) *sample {
	var found *sample
	for i := 0; i < h.n; i++ {
		s := h.at(i)
		if !s.t.Before(t) {
			break
		}
		if found == nil || t.Sub(s.t) >= d {
			found = s
		}
	}
	return found
}

// recent fills the request rate and latency percentiles of st from the
// samples before it.
func (h *history) recent(st *Stats) {
	h.mu.Lock()
	defer h.mu.Unlock()
	st.RateWindow, st.LatencyWindow = rateWindow.Seconds(), latencyWindow.Seconds()
	if old := h.before(st.Now, rateWindow); old != nil {
		if dt := st.Now.Sub(old.t).Seconds(); dt > 0 && st.Requests >= old.requests {
			st.RPS = ptr(float64(st.Requests-old.requests) / dt)
			st.RateWindow = dt
		}
	}
	if old := h.before(st.Now, latencyWindow); old != nil {
		st.LatencyWindow = st.Now.Sub(old.t).Seconds()
		d := st.total.Latency.sub(&old.latency)
		st.P50, st.P90, st.P99 = quantile(&d, 0.5), quantile(&d, 0.9), quantile(&d, 0.99)
	}
}

func ptr(f float64) *float64 { return &f }

// quantile is Histogram.Quantile, nil without observations.
func quantile(h *Histogram, q float64) *float64 {
	v := h.Quantile(q)
	if math.IsNaN(v) {
		return nil
	}
	return &v
}

// Point is one second of history, as /stats/history serves it: rates are
// per second over the interval ending at T.
type Point struct {
	T        int64              `json:"t"` // Unix milliseconds
	RPS      float64            `json:"rps"`
	Status   map[string]float64 `json:"status"` // per class, per second
	Errors   float64            `json:"errors"` // Python errors per second
	P50      *float64           `json:"p50"`    // seconds; null without requests
	P90      *float64           `json:"p90"`
	P99      *float64           `json:"p99"`
	Busy     int                `json:"busy"`
	Threads  int                `json:"threads"`
	InFlight int                `json:"in_flight"`
	Queue    int                `json:"queue"`
	RSSBytes uint64             `json:"rss_bytes"`
}

// points returns the history after since (Unix milliseconds), oldest first.
func (h *history) points(since int64) []Point {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := []Point{}
	for i := 1; i < h.n; i++ {
		prev, cur := h.at(i-1), h.at(i)
		if cur.t.UnixMilli() <= since {
			continue
		}
		dt := cur.t.Sub(prev.t).Seconds()
		if dt <= 0 {
			continue
		}
		rate := func(a, b uint64) float64 {
			if b < a {
				return 0
			}
			return float64(b-a) / dt
		}
		p := Point{
			T:        cur.t.UnixMilli(),
			RPS:      rate(prev.requests, cur.requests),
			Status:   make(map[string]float64, numClasses),
			Errors:   rate(prev.errors, cur.errors),
			Busy:     cur.busy,
			Threads:  cur.threads,
			InFlight: cur.inFlight,
			Queue:    cur.queue,
			RSSBytes: cur.rss,
		}
		for c, name := range ClassNames {
			p.Status[name] = rate(prev.byClass[c], cur.byClass[c])
		}
		d := cur.latency.sub(&prev.latency)
		p.P50, p.P90, p.P99 = quantile(&d, 0.5), quantile(&d, 0.9), quantile(&d, 0.99)
		out = append(out, p)
	}
	return out
}
