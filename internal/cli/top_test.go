package cli

import (
	"strings"
	"testing"

	"github.com/gowsgi/gowsgi/internal/metrics"
)

func topStats() *metrics.Stats {
	rps, p50 := 1234.5, 0.00042
	return &metrics.Stats{
		Version: "1.2.3", App: "hello:application", Python: "3.11.2", UptimeSeconds: 3725, Ready: true,
		Requests: 1234567, ByStatus: map[string]uint64{"2xx": 1234500, "5xx": 67}, PythonErrors: 67,
		Restarts: map[string]uint64{"crash": 1, "reload": 0}, Threads: 4, Busy: 2, RPS: &rps, P50: &p50,
		Workers: []metrics.WorkerView{
			{Index: 0, PID: 100, Generation: 1, Status: "busy", Requests: 1000, Threads: 2, Busy: 2, RSSBytes: 25 << 20, GCCollections: []uint64{17, 1, 0},
				Slots: []metrics.SlotStats{
					{Index: 0, State: "busy", Method: "GET", URI: "/fast", AgeSeconds: 0.002},
					{Index: 1, State: "busy", Method: "POST", URI: "/slow/" + strings.Repeat("x", 200), AgeSeconds: 12.5},
				}},
			{Index: 1, PID: 101, Generation: 2, Status: "unreachable", Error: "dial unix: no such file"},
		},
	}
}

func TestRenderTop(t *testing.T) {
	out := renderTop(topStats(), 80, 0, false)
	for _, want := range []string{
		"gowsgi 1.2.3 · hello:application · Python 3.11.2 · up 1h2m5s · 2 workers · READY",
		"req/s 1234.5   p50 420 µs  p90 –",
		"busy 2/4",
		"requests 1,234,567 (2xx 1,234,500",
		"crash 1 · reload 0",
		"   0     100    1 busy",
		"25.0 MiB",
		"17/1/0",
		"   1     101    2 unreachable",
		"dial unix: no such file",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("frame lacks %q:\n%s", want, out)
		}
	}
	// The longest-running request comes first, cut to the width.
	slow := strings.Index(out, "POST")
	fast := strings.Index(out, "/fast")
	if slow < 0 || fast < 0 || slow > fast {
		t.Errorf("busy requests not sorted by age:\n%s", out)
	}
	for _, line := range strings.Split(out, "\n") {
		if n := len([]rune(line)); n > 80 {
			t.Errorf("line of %d columns in an 80-column frame: %q", n, line)
		}
	}
	if strings.Contains(out, "\x1b[") {
		t.Error("escape sequences without color")
	}
}

func TestRenderTopFitsTheHeight(t *testing.T) {
	st := topStats()
	var slots []metrics.SlotStats
	for i := 0; i < 50; i++ {
		slots = append(slots, metrics.SlotStats{Index: i, State: "busy", Method: "GET", URI: "/x", AgeSeconds: float64(i)})
	}
	st.Workers[0].Slots = slots
	out := renderTop(st, 100, 24, true)
	if n := strings.Count(out, "\n"); n > 24 {
		t.Errorf("%d lines for a 24-line terminal:\n%s", n, out)
	}
	if !strings.Contains(out, "more") || !strings.Contains(out, "\x1b[1;32mREADY") {
		t.Errorf("frame:\n%s", out)
	}
	// Without a size (a script), nothing is cut.
	out = renderTop(st, 0, 0, false)
	if strings.Contains(out, "more") || strings.Count(out, "  /x\n") != 50 {
		t.Errorf("a script's frame was cut:\n%s", out)
	}
}
