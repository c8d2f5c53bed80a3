package metrics

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"sync"
	"time"
)

// RestartCauses are the causes a WorkerSource counts restarts by; all of
// them are always reported, at 0 when they never happened.
var RestartCauses = []string{"crash", "max-requests", "rss", "harakiri", "reload"}

const (
	// fetchTimeout bounds one poll of the workers' control sockets.
	fetchTimeout = 2 * time.Second
	// reuseFor is how long one poll answers every stats request, so many
	// open dashboards do not multiply the polling.
	reuseFor = 250 * time.Millisecond
)

// fetcher gets one worker's snapshot.
type fetcher func(ctx context.Context, w WorkerInfo) (*WorkerStats, error)

// WorkerView is one worker in the merged stats.
type WorkerView struct {
	Index      int       `json:"index"`
	PID        int       `json:"pid"`
	Generation int       `json:"generation"`
	StartedAt  time.Time `json:"started_at"`
	Ready      bool      `json:"ready"`
	// Status is "busy" (a request runs Python), "idle", "starting" (not
	// ready yet) or "unreachable" (its control socket did not answer; Error
	// says why).
	Status string `json:"status"`
	Error  string `json:"error,omitempty"`

	Requests      uint64            `json:"requests"`
	ByStatus      map[string]uint64 `json:"by_status"`
	PythonErrors  uint64            `json:"python_errors"`
	AvgSeconds    float64           `json:"avg_seconds"` // mean request duration since the process started
	Threads       int               `json:"threads"`
	Busy          int               `json:"busy"`
	Queue         int               `json:"queue"`
	Admission     int               `json:"admission"` // the admission control's limit, at most Threads
	InFlight      int               `json:"in_flight"`
	RSSBytes      uint64            `json:"rss_bytes"`
	GCCollections []uint64          `json:"gc_collections"`
	Slots         []SlotStats       `json:"slots"`

	counts *Counts // this process's counters, nil if unreachable
}

// Stats is the merged view of every worker that /stats serves.
type Stats struct {
	Version       string    `json:"version"`
	Python        string    `json:"python"`
	App           string    `json:"app"`
	PID           int       `json:"pid"` // of the process serving the stats (the master)
	Now           time.Time `json:"now"`
	UptimeSeconds float64   `json:"uptime_seconds"`
	Ready         bool      `json:"ready"`
	Draining      bool      `json:"draining"`

	// Cumulative over the server's life, including workers that exited.
	Requests     uint64            `json:"requests"`
	ByStatus     map[string]uint64 `json:"by_status"`
	ByMethod     map[string]uint64 `json:"by_method"`
	BytesIn      uint64            `json:"bytes_in"`
	BytesOut     uint64            `json:"bytes_out"`
	PythonErrors uint64            `json:"python_errors"`
	Restarts     map[string]uint64 `json:"restarts"`

	// Right now, summed over the reachable workers.
	Threads  int    `json:"threads"`
	Busy     int    `json:"busy"`
	Idle     int    `json:"idle"`
	Queue    int    `json:"queue"`
	InFlight int    `json:"in_flight"`
	RSSBytes uint64 `json:"rss_bytes"`

	// Recent: requests per second over the last RateWindow seconds, and
	// latency percentiles (seconds) over the last LatencyWindow seconds;
	// null until two samples exist.
	RateWindow    float64  `json:"rate_window_seconds"`
	RPS           *float64 `json:"rps"`
	LatencyWindow float64  `json:"latency_window_seconds"`
	P50           *float64 `json:"p50"`
	P90           *float64 `json:"p90"`
	P99           *float64 `json:"p99"`

	Workers []WorkerView `json:"workers"`

	total Counts // merged counters, for /metrics
}

// seenWorker is the last snapshot read from a worker process.
type seenWorker struct {
	index  int
	counts Counts
}

// collector polls the workers and merges their snapshots. The counters of
// a worker process that is gone are kept (as retired), so the merged
// counters never go down; what a process counted after its last poll (at
// most a sampling interval) is lost with it.
type collector struct {
	src     WorkerSource
	fetch   fetcher
	started time.Time
	hist    *history
	onPoll  func([]WorkerInfo) // called with the workers of each poll; may be nil

	pollMu   sync.Mutex // one poll at a time
	last     *Stats
	lastTime time.Time

	mu      sync.Mutex          // guards seen and retired
	seen    map[int]*seenWorker // by pid: the processes alive at the last poll
	retired Counts
}

func newCollector(src WorkerSource, fetch fetcher) *collector {
	return &collector{
		src:     src,
		fetch:   fetch,
		started: time.Now(),
		hist:    newHistory(historyLength),
		seen:    map[int]*seenWorker{},
		retired: newCounts(),
	}
}

// stats returns the merged stats, polling the workers unless a poll less
// than reuseFor old exists.
func (c *collector) stats(ctx context.Context) *Stats {
	c.pollMu.Lock()
	defer c.pollMu.Unlock()
	if c.last != nil && time.Since(c.lastTime) < reuseFor {
		return c.last
	}
	st := c.poll(ctx)
	c.last, c.lastTime = st, time.Now()
	return st
}

// poll asks every worker for its snapshot at once and merges the answers.
func (c *collector) poll(ctx context.Context) *Stats {
	infos := c.src.Workers()
	// By index, then generation: during a replacement an index has two processes.
	sort.SliceStable(infos, func(i, j int) bool {
		if infos[i].Index != infos[j].Index {
			return infos[i].Index < infos[j].Index
		}
		return infos[i].Generation < infos[j].Generation
	})
	if c.onPoll != nil {
		c.onPoll(infos)
	}
	snaps := make([]*WorkerStats, len(infos))
	errs := make([]error, len(infos))
	ctx, cancel := context.WithTimeout(ctx, fetchTimeout)
	var wg sync.WaitGroup
	for i, info := range infos {
		if info.PID == 0 {
			errs[i] = errors.New("not running")
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			snaps[i], errs[i] = c.fetch(ctx, info)
		}()
	}
	wg.Wait()
	cancel()

	now := time.Now()
	st := &Stats{
		PID:           os.Getpid(),
		Now:           now,
		UptimeSeconds: now.Sub(c.started).Seconds(),
		Draining:      c.src.Draining(),
		Restarts:      map[string]uint64{},
		ByMethod:      map[string]uint64{},
		Workers:       make([]WorkerView, 0, len(infos)),
	}
	for _, cause := range RestartCauses {
		st.Restarts[cause] = 0
	}
	for cause, n := range c.src.Restarts() {
		st.Restarts[cause] = n
	}

	c.mu.Lock()
	alive := make(map[int]bool, len(infos))
	for i, info := range infos {
		v := WorkerView{Index: info.Index, PID: info.PID, Generation: info.Generation, StartedAt: info.StartedAt, Ready: info.Ready}
		alive[info.PID] = true
		snap := snaps[i]
		if snap != nil && snap.PID != info.PID {
			snap, errs[i] = nil, fmt.Errorf("control socket answered for pid %d", snap.PID)
		}
		if snap == nil {
			v.Status = "unreachable"
			if !info.Ready {
				v.Status = "starting"
			}
			if errs[i] != nil {
				v.Error = errs[i].Error()
			}
			st.Workers = append(st.Workers, v)
			continue
		}
		c.seen[info.PID] = &seenWorker{index: info.Index, counts: snap.Counts}
		fillWorker(&v, snap)
		st.Workers = append(st.Workers, v)
		if st.Version == "" {
			st.Version, st.Python, st.App = snap.Version, snap.Python, snap.App
		}
		st.Threads += snap.Threads
		st.Busy += snap.Busy
		st.Queue += snap.Queue
		st.InFlight += snap.InFlight
		st.RSSBytes += snap.RSSBytes
	}
	for pid, sw := range c.seen {
		if !alive[pid] {
			// The process is gone: what it counted is final.
			c.retired.add(&sw.counts)
			delete(c.seen, pid)
		}
	}
	total := c.retired.clone()
	for _, sw := range c.seen {
		total.add(&sw.counts)
	}
	c.mu.Unlock()

	st.Idle = st.Threads - st.Busy
	for _, v := range st.Workers {
		if v.Ready {
			st.Ready = true
		}
	}
	st.Ready = st.Ready && !st.Draining
	st.total = total
	st.Requests = total.Total()
	st.ByStatus = total.ByClass()
	for m, byClass := range total.Requests {
		for _, n := range byClass {
			st.ByMethod[m] += n
		}
	}
	st.BytesIn, st.BytesOut, st.PythonErrors = total.BytesIn, total.BytesOut, total.PythonErrors
	c.hist.recent(st)
	return st
}

func fillWorker(v *WorkerView, s *WorkerStats) {
	counts := s.Counts
	v.counts = &counts
	v.Requests = counts.Total()
	v.ByStatus = counts.ByClass()
	v.PythonErrors = counts.PythonErrors
	if n := counts.Latency.Count(); n > 0 {
		v.AvgSeconds = counts.Latency.Sum / float64(n)
	}
	v.Threads, v.Busy, v.Queue, v.InFlight, v.Admission = s.Threads, s.Busy, s.Queue, s.InFlight, s.Admission
	v.RSSBytes, v.GCCollections, v.Slots = s.RSSBytes, s.GCCollections, s.Slots
	switch {
	case !v.Ready: // the master's view wins: it knows about reloads
		v.Status = "starting"
	case s.Busy > 0:
		v.Status = "busy"
	default:
		v.Status = "idle"
	}
}
