package metrics

import (
	"math"
	"sync"
	"testing"
	"time"
)

func TestBucketOfBounds(t *testing.T) {
	for _, c := range []struct {
		d    time.Duration
		want int
	}{
		{0, 0},
		{25 * time.Microsecond, 0}, // "le": a bound belongs to its bucket
		{25*time.Microsecond + 1, 1},
		{100 * time.Microsecond, 2},
		{100*time.Microsecond + 1, 3},
		{time.Millisecond, 5},
		{59 * time.Second, numBuckets - 1},
		{60 * time.Second, numBuckets - 1},
		{61 * time.Second, numBuckets},
		{time.Hour, numBuckets},
	} {
		if got := bucketOf(c.d); got != c.want {
			t.Errorf("bucketOf(%v) = %d, want %d", c.d, got, c.want)
		}
	}
}

func TestMethodAndStatusClasses(t *testing.T) {
	for m, want := range map[string]string{"GET": "GET", "HEAD": "HEAD", "POST": "POST", "PUT": "PUT", "DELETE": "DELETE", "PATCH": "PATCH", "OPTIONS": "OPTIONS", "get": "other", "BREW": "other", "": "other"} {
		if got := MethodNames[methodClass([]byte(m))]; got != want {
			t.Errorf("method %q counts as %q, want %q", m, got, want)
		}
	}
	for status, want := range map[int]string{100: "1xx", 200: "2xx", 204: "2xx", 301: "3xx", 404: "4xx", 499: "4xx", 500: "5xx", 599: "5xx", 0: "5xx", 600: "5xx", 99: "5xx"} {
		if got := ClassNames[statusClass(status)]; got != want {
			t.Errorf("status %d counts as %q, want %q", status, got, want)
		}
	}
}

// TestRecorderConcurrent counts from many goroutines (as requests on all
// slots do) while snapshots are read; run with -race.
func TestRecorderConcurrent(t *testing.T) {
	const slots, perSlot = 4, 2000
	r := NewRecorder(slots)
	w := &Worker{Rec: r}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	go func() {
		for {
			select {
			case <-stop:
				return
			default:
				w.Snapshot()
			}
		}
	}()
	for s := 0; s < slots; s++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			desc := []byte("GET /slot")
			for i := 0; i < perSlot; i++ {
				r.Begin()
				r.Acquired(s, desc, time.Now())
				r.Released(s)
				status := 200
				if i%10 == 0 {
					status = 503
				}
				r.Done(s, []byte("GET"), status, 100, 50, 2*time.Millisecond, i%100/99)
				r.End()
			}
		}()
	}
	r.Begin()
	r.Done(-1, []byte("BREW"), 400, 10, 20, time.Microsecond, 0) // refused before a slot
	r.End()
	wg.Wait()
	close(stop)

	s := w.Snapshot()
	total := uint64(slots*perSlot + 1)
	if got := s.Counts.Total(); got != total {
		t.Fatalf("total %d, want %d", got, total)
	}
	if got, want := s.Counts.Requests["GET"]["5xx"], uint64(slots*perSlot/10); got != want {
		t.Errorf("GET 5xx = %d, want %d", got, want)
	}
	if got := s.Counts.Requests["other"]["4xx"]; got != 1 {
		t.Errorf("other 4xx = %d, want 1", got)
	}
	if got, want := s.Counts.BytesIn, uint64(slots*perSlot*100+10); got != want {
		t.Errorf("bytes in %d, want %d", got, want)
	}
	if got, want := s.Counts.BytesOut, uint64(slots*perSlot*50+20); got != want {
		t.Errorf("bytes out %d, want %d", got, want)
	}
	if got, want := s.Counts.PythonErrors, uint64(slots*perSlot/100); got != want {
		t.Errorf("python errors %d, want %d", got, want)
	}
	if got := s.Counts.Latency.Counts[bucketOf(2*time.Millisecond)]; got != uint64(slots*perSlot) {
		t.Errorf("2ms bucket %d, want %d", got, slots*perSlot)
	}
	if want := float64(slots*perSlot)*0.002 + 1e-6; math.Abs(s.Counts.Latency.Sum-want) > 1e-6 {
		t.Errorf("latency sum %v, want %v", s.Counts.Latency.Sum, want)
	}
	if s.InFlight != 0 || s.Busy != 0 {
		t.Errorf("in flight %d, busy %d after everything ended", s.InFlight, s.Busy)
	}
	for _, sl := range s.Slots {
		if sl.Requests != perSlot {
			t.Errorf("slot %d served %d, want %d", sl.Index, sl.Requests, perSlot)
		}
	}
}

func TestBusySlotShowsItsRequest(t *testing.T) {
	r := NewRecorder(2)
	w := &Worker{Rec: r, Queue: func() int { return 3 }}
	r.Begin()
	r.Acquired(1, []byte("POST /upload?x=1"), time.Now().Add(-1500*time.Millisecond))
	s := w.Snapshot()
	if s.Busy != 1 || s.InFlight != 1 || s.Queue != 3 {
		t.Fatalf("busy %d in flight %d queue %d, want 1 1 3", s.Busy, s.InFlight, s.Queue)
	}
	sl := s.Slots[1]
	if sl.State != "busy" || sl.Method != "POST" || sl.URI != "/upload?x=1" || sl.AgeSeconds < 1.4 || sl.AgeSeconds > 5 {
		t.Fatalf("busy slot %+v", sl)
	}
	if s.Slots[0].State != "idle" || s.Slots[0].Method != "" {
		t.Fatalf("idle slot %+v", s.Slots[0])
	}
	r.Released(1)
	if s := w.Snapshot(); s.Busy != 0 || s.Slots[1].State != "idle" {
		t.Fatalf("after release: %+v", s.Slots[1])
	}
}

func TestDescIsCut(t *testing.T) {
	r := NewRecorder(1)
	long := make([]byte, 1000)
	for i := range long {
		long[i] = 'a'
	}
	r.Acquired(0, append([]byte("GET /"), long...), time.Now())
	s := (&Worker{Rec: r}).Snapshot()
	if got := len(s.Slots[0].Method) + 1 + len(s.Slots[0].URI); got != maxDesc {
		t.Fatalf("kept %d bytes of the request, want %d", got, maxDesc)
	}
}

func TestQuantile(t *testing.T) {
	h := newHistogram()
	if !math.IsNaN(h.Quantile(0.5)) {
		t.Fatal("quantile of nothing is not NaN")
	}
	// 100 observations in (1ms, 2.5ms]: the median is interpolated to the middle.
	h.Counts[bucketOf(2*time.Millisecond)] = 100
	if got := h.Quantile(0.5); math.Abs(got-0.00175) > 1e-9 {
		t.Fatalf("p50 %v, want 0.00175", got)
	}
	if got := h.Quantile(0.99); got <= 0.00175 || got > 0.0025 {
		t.Fatalf("p99 %v, want in (0.00175, 0.0025]", got)
	}
	h.Counts[numBuckets] = 100 // as many beyond the last bound
	if got := h.Quantile(0.99); got != LatencyBounds[numBuckets-1] {
		t.Fatalf("p99 in +Inf = %v, want the last bound", got)
	}
	d := h.sub(&Histogram{Counts: make([]uint64, numBuckets+1)})
	if d.Count() != 200 {
		t.Fatalf("sub: %d", d.Count())
	}
}

func TestParseStatmRSS(t *testing.T) {
	if got := parseStatmRSS([]byte("12345 678 90 1 0 2 0\n")); got != 678 {
		t.Fatalf("got %d", got)
	}
	if got := parseStatmRSS([]byte("garbage")); got != 0 {
		t.Fatalf("got %d", got)
	}
	if residentBytes() == 0 {
		t.Fatal("no resident memory for this process")
	}
}

// BenchmarkRequestPath is what a request costs the recorder: in flight,
// a slot taken and given back, and the counting.
func BenchmarkRequestPath(b *testing.B) {
	r := NewRecorder(64)
	desc := []byte("GET /hello/world?x=1")
	method := []byte("GET")
	var next sync.Mutex
	slot := 0
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		next.Lock()
		s := slot % 64
		slot++
		next.Unlock()
		start := time.Now()
		for pb.Next() {
			r.Begin()
			r.Acquired(s, desc, start)
			r.Released(s)
			r.Done(s, method, 200, 120, 150, 800*time.Microsecond, 0)
			r.End()
		}
	})
}
