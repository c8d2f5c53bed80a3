package main

import (
	"encoding/json"
	"encoding/xml"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gowsgi/gowsgi/bench/internal/h2load"
)

func TestClassify(t *testing.T) {
	ok := h2load.Result{Succeeded: 100, ClientRate: h2load.RateStats{Min: 10}, TTFB: h2load.TimeStats{Max: 5 * time.Millisecond}}
	cases := []struct {
		name   string
		mut    func(*h2load.Result)
		status string
	}{
		{"ok", func(*h2load.Result) {}, statusOK},
		{"starved client", func(r *h2load.Result) { r.ClientRate.Min = 0 }, statusStarved},
		{"slow first byte", func(r *h2load.Result) { r.TTFB.Max = time.Second }, statusStarved},
		{"failed", func(r *h2load.Result) { r.Failed = 1 }, statusFailed},
		{"nothing", func(r *h2load.Result) { r.Succeeded = 0 }, statusFailed},
		{"failed and starved", func(r *h2load.Result) { r.Failed, r.ClientRate.Min = 3, 0 }, statusFailed},
	}
	for _, c := range cases {
		r := ok
		c.mut(&r)
		if got, reason := classify(r); got != c.status || (got != statusOK && reason == "") {
			t.Errorf("%s: got %s (%q), want %s", c.name, got, reason, c.status)
		}
	}
}

// The starved capture from the h2load package must never come out OK.
func TestClassifyStarvedCapture(t *testing.T) {
	data, err := os.ReadFile("../../internal/h2load/testdata/uwsgi-nothreads-starved.txt")
	if err != nil {
		t.Fatal(err)
	}
	r, err := h2load.Parse(string(data))
	if err != nil {
		t.Fatal(err)
	}
	if got, reason := classify(r); got != statusStarved || !strings.Contains(reason, "0 req/s") || !strings.Contains(reason, "1st byte") {
		t.Fatalf("got %s (%s)", got, reason)
	}
}

func TestAggregateMedianAndWorst(t *testing.T) {
	runs := []Run{
		{Run: 1, Status: statusOK, ReqPerSec: 300},
		{Run: 2, Status: statusStarved, Reason: "slowest client got 0 req/s", ReqPerSec: 900},
		{Run: 3, Status: statusOK, ReqPerSec: 500},
	}
	row := aggregate(serverByName("uwsgi"), runs)
	if row.Median.Run != 3 || row.Status != statusStarved || !strings.Contains(row.Reason, "run 2:") {
		t.Fatalf("got median run %d, status %s, reason %q", row.Median.Run, row.Status, row.Reason)
	}
	// Even count: the lower middle.
	row = aggregate(serverByName("uwsgi"), runs[:2])
	if row.Median.Run != 1 {
		t.Fatalf("even count: median run %d, want 1", row.Median.Run)
	}
}

func TestPick(t *testing.T) {
	got, err := pick("echo, hello", scenarios, func(s Scenario) string { return s.Name })
	if err != nil || len(got) != 2 || got[0].Name != "hello" || got[1].Name != "echo" {
		t.Fatalf("got %v, %v", got, err)
	}
	if _, err := pick("hello,nope", scenarios, func(s Scenario) string { return s.Name }); err == nil {
		t.Fatal("want an error for an unknown name")
	}
}

func TestFormatting(t *testing.T) {
	for in, want := range map[float64]string{0: "0", 12.5: "12.5", 588: "588", 43700.4: "43,700", 1234567: "1,234,567"} {
		if got := thousands(in); got != want {
			t.Errorf("thousands(%v) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[float64]string{0.62: "620 µs", 2.481: "2.48 ms", 58.08: "58.1 ms", 3000: "3.00 s"} {
		if got := fmtMs(in); got != want {
			t.Errorf("fmtMs(%v) = %q, want %q", in, got, want)
		}
	}
	if fmtDuration(5*time.Second) != "5s" || fmtDuration(1500*time.Millisecond) != "1500ms" {
		t.Error("fmtDuration")
	}
}

// sampleReport has every kind of row: OK, STARVED, FAILED, NOT BUILT, a
// clipped bar and a scenario without a uWSGI baseline.
func sampleReport() *Report {
	mk := func(server, status string, rps, idle, peak float64, note string) Row {
		run := Run{Run: 1, Status: status, ReqPerSec: rps, IdleRSSMiB: idle, PeakRSSMiB: peak, Note: note,
			SlowestClientRPS: rps / 100, MaxTTFBMs: 3, MeanLatencyMs: 1.5, MaxLatencyMs: 20}
		if status == statusStarved {
			run.SlowestClientRPS, run.MaxTTFBMs, run.Reason = 0, 2000, "slowest client got 0 req/s"
		}
		if status == statusNotBuilt {
			run = Run{Run: 1, Status: status, Reason: "no binary"}
		}
		return aggregate(serverByName(server), []Run{run})
	}
	rep := &Report{
		Generated: time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC),
		Config:    ReportConfig{DurationS: 5, WarmupS: 1, Runs: 3},
		Machine:   Machine{NProc: 2, Kernel: "6.x", Versions: map[string]string{"uwsgi": "2.0.21"}},
	}
	hello := ScenarioResult{Scenario: scenarios[0], Rows: []Row{
		mk("gowsgi", statusOK, 70000, 30, 35, ""),
		mk("uwsgi", statusOK, 40000, 38, 45, ""),
		mk("gunicorn", statusOK, 6000, 78, 80, ""),
		mk("waitress", statusStarved, 5000, 20, 22, ""),
		mk("nethttp", statusOK, 55000, 7, 12, ""),
		mk("fasthttp", statusOK, 300000, 6, 10, ""), // clipped at 5x
	}}
	setRatios(&hello)
	sleepy := ScenarioResult{Scenario: scenarios[5], Rows: []Row{
		mk("gowsgi", statusNotBuilt, 0, 0, 0, ""),
		mk("uwsgi", statusFailed, 0, 0, 0, ""),
		mk("gunicorn", statusOK, 5000, 80, 90, ""),
	}}
	setRatios(&sleepy)
	rep.Scenarios = []ScenarioResult{hello, sleepy}
	rep.Targets = evaluateTargets(rep)
	return rep
}

func TestTargets(t *testing.T) {
	rep := sampleReport()
	got := map[string]Target{}
	for _, tg := range rep.Targets {
		got[tg.Name] = tg
	}
	want := map[string]string{
		"hello 64 conns vs uWSGI":             targetPass, // 1.75x
		"hello 64 conns vs best bare ceiling": targetFail, // 70k / 300k
		"echo 4 KiB vs uWSGI":                 targetNotRun,
		"sleepy 256 conns":                    targetFail, // not built
		"hello: fair to every client":         targetPass,
		"sleepy256: fair to every client":     targetFail,
		"RSS idle (hello) vs uWSGI":           targetPass,
		"RSS under load (hello) vs uWSGI":     targetPass,
	}
	for name, res := range want {
		if got[name].Result != res {
			t.Errorf("%s: got %s (%s), want %s", name, got[name].Result, got[name].Measured, res)
		}
	}

	// A starved gowsgi never passes, whatever its rate.
	rep.Scenarios[0].Rows[0].Status = statusStarved
	for _, tg := range evaluateTargets(rep) {
		if tg.Name == "hello 64 conns vs uWSGI" && tg.Result != targetFail {
			t.Errorf("starved gowsgi: %s", tg.Result)
		}
	}
}

func TestOutputs(t *testing.T) {
	rep := sampleReport()
	dir := t.TempDir()
	if err := writeOutputs(rep, dir); err != nil {
		t.Fatal(err)
	}
	svg, err := os.ReadFile(filepath.Join(dir, "latest.svg"))
	if err != nil {
		t.Fatal(err)
	}
	dec := xml.NewDecoder(strings.NewReader(string(svg)))
	for {
		if _, err := dec.Token(); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("latest.svg is not well-formed XML: %v", err)
		}
	}
	for _, s := range []string{"STARVED", "no uWSGI baseline", "not built", "hatch-waitress"} {
		if !strings.Contains(string(svg), s) {
			t.Errorf("svg lacks %q", s)
		}
	}
	md, _ := os.ReadFile(filepath.Join(dir, "latest.md"))
	for _, s := range []string{"| gowsgi | 70,000 | 1.75x |", "~~0.12x~~", "**STARVED**", "**NOT BUILT**", "## sleepy256"} {
		if !strings.Contains(string(md), s) {
			t.Errorf("markdown lacks %q", s)
		}
	}
	var back Report
	js, _ := os.ReadFile(filepath.Join(dir, "latest.json"))
	if err := json.Unmarshal(js, &back); err != nil || len(back.Scenarios) != 2 || *back.Scenarios[0].Rows[0].RatioToUWSGI != 1.75 {
		t.Fatalf("json round trip: %v", err)
	}
	if out := os.Getenv("BENCHRUN_SAMPLE_OUT"); out != "" {
		// For looking at the chart by eye.
		_ = writeOutputs(rep, out)
	}
}

func TestRebuiltBinaryFlagged(t *testing.T) {
	rep := sampleReport()
	rep.Machine.Gowsgi = &BinaryInfo{Path: "/x/gowsgi", SHA256: strings.Repeat("a", 64)}
	row := &rep.Scenarios[0].Rows[0]
	row.Runs = []Run{{Run: 1, Status: statusOK, ReqPerSec: 1, Binary: "aaaaaaaaaaaa"}, {Run: 2, Status: statusOK, ReqPerSec: 2, Binary: "bbbbbbbbbbbb"}}
	md := markdown(rep)
	if !strings.Contains(md, "rebuilt during this benchmark") || !strings.Contains(md, "binary changed between runs") {
		t.Fatal("a rebuilt gowsgi binary is not flagged")
	}
}
