package h2load

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func load(t *testing.T, name string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// uwsgi-hello-warmup.txt: uWSGI 2 x 32 threads, hello, 64 clients, with
// --warm-up-time 1s (connect and first-byte figures read 0).
func TestParseWarmup(t *testing.T) {
	r, err := Parse(load(t, "uwsgi-hello-warmup.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if r.Elapsed != 4*time.Second || r.ReqPerSec != 25834 {
		t.Errorf("finished: %v, %v req/s", r.Elapsed, r.ReqPerSec)
	}
	if r.Total != 77502 || r.Started != 77502 || r.Done != 77502 || r.Succeeded != 77502 ||
		r.Failed != 0 || r.Errored != 0 || r.Timeout != 0 {
		t.Errorf("counts: %+v", r)
	}
	if r.Status2xx != 77502 || r.Status3xx+r.Status4xx+r.Status5xx != 0 {
		t.Errorf("status codes: %+v", r)
	}
	if r.TrafficBytes != 6045156 {
		t.Errorf("traffic %d", r.TrafficBytes)
	}
	wantReq := TimeStats{Min: 22 * time.Microsecond, Max: 58080 * time.Microsecond,
		Mean: 2480 * time.Microsecond, SD: 1850 * time.Microsecond, WithinSD: 92.87}
	if r.Request != wantReq {
		t.Errorf("request: %+v, want %+v", r.Request, wantReq)
	}
	if r.TTFB != (TimeStats{}) || r.Connect != (TimeStats{}) {
		t.Errorf("with a warm-up h2load 1.52 prints zero connect/TTFB: %+v %+v", r.Connect, r.TTFB)
	}
	wantRate := RateStats{Min: 392.81, Max: 424.77, Mean: 403.36, SD: 6.08, WithinSD: 70.31}
	if r.ClientRate != wantRate {
		t.Errorf("client rate: %+v, want %+v", r.ClientRate, wantRate)
	}
}

// uwsgi-nothreads-starved.txt: uWSGI 2 processes without threads, 64
// clients, no warm-up: most clients never get a response.
func TestParseStarved(t *testing.T) {
	r, err := Parse(load(t, "uwsgi-nothreads-starved.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if r.ReqPerSec != 30016.67 || r.Elapsed != 3010*time.Millisecond {
		t.Errorf("finished: %v, %v", r.Elapsed, r.ReqPerSec)
	}
	if r.Started != 90114 || r.Done != 90050 {
		t.Errorf("started/done: %d/%d", r.Started, r.Done)
	}
	if r.ClientRate.Min != 0 || r.ClientRate.Max != 21161.20 {
		t.Errorf("client rate: %+v", r.ClientRate)
	}
	if r.TTFB.Max != 3*time.Second || r.TTFB.Min != 621*time.Microsecond || r.TTFB.Mean != 1500*time.Millisecond {
		t.Errorf("ttfb: %+v", r.TTFB)
	}
	if r.Request.Max != 3*time.Second || r.Connect.Max != 186*time.Microsecond {
		t.Errorf("request/connect: %+v %+v", r.Request, r.Connect)
	}
}

// refused.txt: nothing listening; h2load still prints a report of zeros.
func TestParseRefused(t *testing.T) {
	r, err := Parse(load(t, "refused.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if r.Succeeded != 0 || r.ReqPerSec != 0 || r.Elapsed != 1010*time.Millisecond {
		t.Errorf("%+v", r)
	}
}

func TestParseIncomplete(t *testing.T) {
	full := load(t, "uwsgi-hello-warmup.txt")
	for _, cut := range []string{"finished in", "requests:", "time to 1st byte", "req/s           :"} {
		i := strings.Index(full, cut)
		if i < 0 {
			t.Fatalf("testdata lacks %q", cut)
		}
		if _, err := Parse(full[:i]); err == nil {
			t.Errorf("output cut before %q: want an error", cut)
		}
	}
	if _, err := Parse("connect: Connection refused\n"); err == nil {
		t.Error("want an error for output without a report")
	}
	bad := strings.Replace(full, "   392.81", "   fast", 1)
	if _, err := Parse(bad); err == nil {
		t.Error("want an error for a non-numeric rate")
	}
	bad = strings.Replace(full, "58.08ms", "58.08 parsecs", 1)
	if _, err := Parse(bad); err == nil {
		t.Error("want an error for a bad duration")
	}
}

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"0us": 0, "621us": 621 * time.Microsecond, "25.86ms": 25860 * time.Microsecond,
		"3.00s": 3 * time.Second, "501.15ms": 501150 * time.Microsecond,
	} {
		got, err := ParseDuration(in)
		if err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	if _, err := ParseDuration("fast"); err == nil {
		t.Error("want an error")
	}
}

// waitress-big-ttfb.txt: waitress, 1 MiB responses, 64 clients: every client
// is served, but one waits 1.09 s for its first byte. Units in GB and KB.
func TestParseBigSlowFirstByte(t *testing.T) {
	r, err := Parse(load(t, "waitress-big-ttfb.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if r.ReqPerSec != 527.80 || r.Succeeded != 2639 || r.Status2xx != 2663 || r.TrafficBytes != 2779751917 {
		t.Errorf("%+v", r)
	}
	if r.TTFB.Max != 1090*time.Millisecond || r.Request.Max != 1130*time.Millisecond || r.ClientRate.Min != 5.80 {
		t.Errorf("ttfb %+v, request %+v, rate %+v", r.TTFB, r.Request, r.ClientRate)
	}
}
