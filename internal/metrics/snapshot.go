package metrics

import (
	"bytes"
	"time"
)

// Counts are cumulative request counters: of one slot, one worker, or the
// whole server.
type Counts struct {
	// Requests counts answered requests by method and status class
	// ("GET" -> "2xx" -> n); only non-zero entries are present.
	Requests map[string]map[string]uint64 `json:"requests"`
	Latency  Histogram                    `json:"latency"`
	BytesIn  uint64                       `json:"bytes_in"`
	BytesOut uint64                       `json:"bytes_out"`
	// PythonErrors counts errors the application logged through the server
	// (tracebacks, invalid responses).
	PythonErrors uint64 `json:"python_errors"`
}

func newCounts() Counts {
	return Counts{Requests: map[string]map[string]uint64{}, Latency: newHistogram()}
}

// Total is the number of requests answered.
func (c *Counts) Total() uint64 {
	var n uint64
	for _, byClass := range c.Requests {
		for _, v := range byClass {
			n += v
		}
	}
	return n
}

// ByClass sums the requests per status class, every class present.
func (c *Counts) ByClass() map[string]uint64 {
	out := make(map[string]uint64, numClasses)
	for _, name := range ClassNames {
		out[name] = 0
	}
	for _, byClass := range c.Requests {
		for cl, v := range byClass {
			out[cl] += v
		}
	}
	return out
}

// add adds o to c.
func (c *Counts) add(o *Counts) {
	if c.Requests == nil {
		c.Requests = map[string]map[string]uint64{}
	}
	for m, byClass := range o.Requests {
		dst := c.Requests[m]
		if dst == nil {
			dst = map[string]uint64{}
			c.Requests[m] = dst
		}
		for cl, v := range byClass {
			dst[cl] += v
		}
	}
	if c.Latency.Bounds == nil {
		c.Latency = newHistogram()
	}
	c.Latency.add(&o.Latency)
	c.BytesIn += o.BytesIn
	c.BytesOut += o.BytesOut
	c.PythonErrors += o.PythonErrors
}

// clone returns a deep copy of c.
func (c *Counts) clone() Counts {
	out := newCounts()
	out.add(c)
	return out
}

// read adds the slot's counters to c.
func (s *slot) read(c *Counts) uint64 {
	var total uint64
	for m := 0; m < numMethods; m++ {
		for cl := 0; cl < numClasses; cl++ {
			v := s.requests[m*numClasses+cl].Load()
			if v == 0 {
				continue
			}
			total += v
			byClass := c.Requests[MethodNames[m]]
			if byClass == nil {
				byClass = map[string]uint64{}
				c.Requests[MethodNames[m]] = byClass
			}
			byClass[ClassNames[cl]] += v
		}
	}
	for i := range s.latency {
		c.Latency.Counts[i] += s.latency[i].Load()
	}
	c.Latency.Sum += float64(s.latencySum.Load()) / 1e9
	c.BytesIn += s.bytesIn.Load()
	c.BytesOut += s.bytesOut.Load()
	c.PythonErrors += s.errors.Load()
	return total
}

// SlotStats is one Python request slot ("thread") in a snapshot.
type SlotStats struct {
	Index    int    `json:"index"`
	State    string `json:"state"` // "idle" or "busy"
	Requests uint64 `json:"requests"`
	// For a busy slot: the request it runs and how long ago it began.
	Method     string  `json:"method,omitempty"`
	URI        string  `json:"uri,omitempty"`
	AgeSeconds float64 `json:"age_seconds,omitempty"`
}

// WorkerStats is one worker process's snapshot, as its control socket
// serves it.
type WorkerStats struct {
	Worker    int       `json:"worker"`
	PID       int       `json:"pid"`
	StartedAt time.Time `json:"started_at"`
	Version   string    `json:"version"`
	Python    string    `json:"python"`
	App       string    `json:"app"`
	Ready     bool      `json:"ready"`
	Draining  bool      `json:"draining"`
	Threads   int       `json:"threads"`
	Busy      int       `json:"busy"`
	Queue     int       `json:"queue"`
	Admission int       `json:"admission"` // requests allowed to run Python at once right now
	InFlight  int       `json:"in_flight"`
	RSSBytes  uint64    `json:"rss_bytes"`
	// GCCollections is gc.get_stats()[i]["collections"] per generation.
	GCCollections []uint64    `json:"gc_collections"`
	Counts        Counts      `json:"counts"`
	Slots         []SlotStats `json:"slots"`
}

// read fills the request counters, slots and gauges of w from r at now.
func (r *Recorder) read(w *WorkerStats, now time.Time) {
	w.Counts = newCounts()
	w.Threads = len(r.slots)
	w.Slots = make([]SlotStats, len(r.slots))
	w.Busy = 0
	for i := range r.slots {
		s := &r.slots[i]
		st := SlotStats{Index: i, State: "idle"}
		st.Requests = s.read(&w.Counts)
		if since := s.since.Load(); since != 0 {
			st.State = "busy"
			w.Busy++
			s.mu.Lock()
			desc := s.desc[:s.descLen]
			method, uri, _ := bytes.Cut(desc, []byte{' '})
			st.Method, st.URI = string(method), string(uri)
			s.mu.Unlock()
			st.AgeSeconds = max(0, now.Sub(time.Unix(0, since)).Seconds())
		}
		w.Slots[i] = st
	}
	r.other.read(&w.Counts)
	w.InFlight = int(max(0, r.inFlight.Load()))
}
