package main

import (
	"bytes"
	"context"
	"encoding/xml"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gowsgi/gowsgi/bench/internal/download"
)

func scenarioByName(t *testing.T, name string) Scenario {
	t.Helper()
	for _, sc := range scenarios {
		if sc.Name == name {
			return sc
		}
	}
	t.Fatalf("no scenario %q", name)
	return Scenario{}
}

func TestServerSelection(t *testing.T) {
	picked, err := pick("uwsgi,gowsgi", servers, func(s Server) string { return s.Name })
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range withVariants(picked) {
		got = append(got, s.Name)
	}
	if want := []string{"gowsgi", "gowsgi-stats", "uwsgi", "uwsgi-nodelay"}; !slices.Equal(got, want) {
		t.Fatalf("uwsgi,gowsgi selects %v, want %v", got, want)
	}
	// A variant alone does not bring its base.
	picked, _ = pick("uwsgi-nodelay", servers, func(s Server) string { return s.Name })
	if v := withVariants(picked); len(v) != 1 || v[0].Name != "uwsgi-nodelay" {
		t.Fatalf("uwsgi-nodelay selects %v", v)
	}

	runs := func(sc Scenario) []string {
		var out []string
		for _, s := range servers {
			if sc.runs(s) {
				out = append(out, s.Name)
			}
		}
		return out
	}
	if got, want := runs(scenarioByName(t, "hello")), []string{"gowsgi", "uwsgi", "gunicorn", "waitress", "nethttp", "fasthttp"}; !slices.Equal(got, want) {
		t.Errorf("hello runs %v, want the standard six %v", got, want)
	}
	if got, want := runs(scenarioByName(t, "static4k")), []string{"gowsgi", "uwsgi", "uwsgi-nodelay", "nginx"}; !slices.Equal(got, want) {
		t.Errorf("static4k runs %v, want %v", got, want)
	}
	if got, want := runs(scenarioByName(t, "filewrapper256m")), []string{"gowsgi", "uwsgi", "nginx"}; !slices.Equal(got, want) {
		t.Errorf("filewrapper256m runs %v, want %v", got, want)
	}
	if got, want := runs(scenarioByName(t, "hello-metrics")), []string{"gowsgi", "gowsgi-stats"}; !slices.Equal(got, want) {
		t.Errorf("hello-metrics runs %v, want %v", got, want)
	}
	for _, sc := range scenarios {
		for _, name := range sc.Servers {
			if !slices.ContainsFunc(servers, func(s Server) bool { return s.Name == name }) {
				t.Errorf("%s names unknown server %q", sc.Name, name)
			}
		}
	}
}

// testBench is a bench with fake tools: commands are built, never run.
func testBench(t *testing.T) *bench {
	t.Helper()
	tmp := t.TempDir()
	fake := filepath.Join(tmp, "fake-gowsgi")
	if err := os.WriteFile(fake, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	return &bench{
		cfg:     config{gowsgi: fake, uwsgi: sh, nginx: sh, python: "/usr/bin/python3"},
		appsDir: "/apps", tmp: tmp, stdout: io.Discard,
		bare: map[string]string{}, bareErr: map[string]string{}, pyModules: map[string]bool{}, bodies: map[int]string{},
	}
}

func TestCommandLines(t *testing.T) {
	b := testBench(t)
	static := scenarioByName(t, "static4k")
	cmd := func(server string, sc Scenario) launch {
		t.Helper()
		l, err := b.command(serverByName(server), sc, 8080, 1)
		if err != nil {
			t.Fatalf("%s %s: %v", server, sc.Name, err)
		}
		return l
	}
	dir := filepath.Join(b.tmp, "static-4096")
	want := "--static-map /static=" + dir
	for _, server := range []string{"gowsgi", "uwsgi", "uwsgi-nodelay"} {
		l := cmd(server, static)
		line := strings.Join(l.argv, " ")
		if !strings.Contains(line, want) || l.stop != syscall.SIGTERM {
			t.Errorf("%s: %q lacks %q (stop %v)", server, line, want, l.stop)
		}
		if nodelay := strings.Contains(line, "--tcp-nodelay"); nodelay != (server == "uwsgi-nodelay") {
			t.Errorf("%s: --tcp-nodelay %v in %q", server, nodelay, line)
		}
	}
	data, err := os.ReadFile(filepath.Join(dir, "4k.bin"))
	if err != nil || len(data) != 4096 || !bytes.HasPrefix(data, []byte(fillPattern)) {
		t.Fatalf("static file: %d bytes, %v", len(data), err)
	}

	ng := cmd("nginx", static)
	if ng.stop != syscall.SIGQUIT || !slices.Contains(ng.argv, "daemon off;") || !slices.Contains(ng.argv, "-c") {
		t.Errorf("nginx: %q, stop %v", ng.argv, ng.stop)
	}
	if _, err := b.command(serverByName("nginx"), scenarioByName(t, "hello"), 8080, 1); err == nil {
		t.Error("nginx without a static file: want an error")
	}

	m := scenarioByName(t, "hello-metrics")
	off, on := strings.Join(cmd("gowsgi", m).argv, " "), strings.Join(cmd("gowsgi-stats", m).argv, " ")
	if !strings.HasSuffix(off, "--threads 32 --disable-logging") || !strings.HasSuffix(on, "--disable-logging --stats 127.0.0.1:0") {
		t.Errorf("metrics off %q, on %q", off, on)
	}
	plain := strings.Join(cmd("gowsgi", scenarioByName(t, "hello")).argv, " ")
	if strings.Contains(plain, "--stats") || strings.Contains(plain, "--static-map") {
		t.Errorf("hello: %q has scenario flags of others", plain)
	}
	if !strings.Contains(plain, "--disable-logging") {
		t.Errorf("hello: %q logs every request, unlike the uWSGI rows", plain)
	}

	// A small file_wrapper scenario: the file is made once and its path
	// reaches the app through the environment.
	fw := scenarioByName(t, "filewrapper256m")
	fw.FileBytes, fw.ExpectBytes = 3<<20+5, 3<<20+5
	l := cmd("uwsgi", fw)
	if len(l.env) != 1 || !strings.HasPrefix(l.env[0], fileWrapperEnv+"=") {
		t.Fatalf("env %q", l.env)
	}
	file := strings.TrimPrefix(l.env[0], fileWrapperEnv+"=")
	if st, err := os.Stat(file); err != nil || st.Size() != 3<<20+5 {
		t.Fatalf("file_wrapper file: %v, %v", st, err)
	}
	if !strings.Contains(strings.Join(l.argv, " "), "--module filewrapper:application") {
		t.Errorf("uwsgi: %q", l.argv)
	}
	// nginx serves that same file as a static file at the scenario's path.
	ng = cmd("nginx", fw)
	conf, err := os.ReadFile(ng.argv[slices.Index(ng.argv, "-c")+1])
	if err != nil || !strings.Contains(string(conf), "location = /file {") || !strings.Contains(string(conf), "alias "+file+";") {
		t.Errorf("nginx for file_wrapper: %v\n%s", err, conf)
	}
}

func TestNginxConfig(t *testing.T) {
	prefix, dir := t.TempDir(), t.TempDir()
	file := filepath.Join(dir, "big.bin")
	for _, c := range []struct {
		route nginxRoute
		want  []string
	}{
		{staticRoute("/static", dir), []string{"location /static/ {", "alias " + dir + "/;"}},
		{fileRoute("/file", file), []string{"location = /file {", "alias " + file + ";"}},
	} {
		conf := nginxConfig(prefix, 4321, c.route, os.Geteuid() == 0)
		for _, want := range append([]string{
			"worker_processes 2;", "sendfile on;", "tcp_nopush on;", "access_log off;", "keepalive_requests 1000000;",
			"listen 127.0.0.1:4321;",
			"pid " + filepath.Join(prefix, "nginx.pid") + ";", "client_body_temp_path " + filepath.Join(prefix, "client_body") + ";",
		}, c.want...) {
			if !strings.Contains(conf, want) {
				t.Errorf("config lacks %q:\n%s", want, conf)
			}
		}
		// Every path it writes is under the prefix.
		for _, line := range strings.Split(conf, "\n") {
			f := strings.Fields(strings.TrimSuffix(strings.TrimSpace(line), ";"))
			if len(f) == 2 && strings.HasPrefix(f[1], "/") && !strings.HasPrefix(f[1], prefix) && f[0] != "alias" && f[0] != "location" {
				t.Errorf("%q writes outside the prefix", line)
			}
		}
		nginx, err := exec.LookPath("/usr/sbin/nginx")
		if err != nil {
			t.Skip("no nginx to check the syntax with")
		}
		path := filepath.Join(prefix, "nginx.conf")
		if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		out, err := exec.CommandContext(ctx, nginx, "-t", "-q", "-e", "stderr", "-p", prefix+"/", "-c", path).CombinedOutput()
		cancel()
		if err != nil {
			t.Fatalf("nginx -t: %v\n%s\n%s", err, out, conf)
		}
	}
}

// nginx really serves the file and is gone after SIGQUIT.
func TestNginxServesAndStops(t *testing.T) {
	if _, err := exec.LookPath("/usr/sbin/nginx"); err != nil {
		t.Skip("no nginx")
	}
	b := testBench(t)
	b.cfg.nginx = "/usr/sbin/nginx"
	sc := scenarioByName(t, "static4k")
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	l, err := b.command(serverByName("nginx"), sc, port, 1)
	if err != nil {
		t.Fatal(err)
	}
	p, err := startServer(l.argv, l.dir, filepath.Join(b.tmp, "nginx.log"), os.Environ())
	if err != nil {
		t.Fatal(err)
	}
	defer p.stop(syscall.SIGKILL, time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.waitReady(ctx, "127.0.0.1:"+strconv.Itoa(port), sc, nil, 10*time.Second); err != nil {
		t.Fatalf("%v\n%s", err, p.logTail(2000))
	}
	if left := p.stop(l.stop, 5*time.Second); len(left) > 0 {
		t.Fatalf("left behind: %v", left)
	}
	select {
	case <-p.exited:
	default:
		t.Fatal("the nginx master was not reaped")
	}
	if ws, ok := p.cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || ws.Signaled() {
		t.Fatalf("nginx did not exit by itself on SIGQUIT: %v", p.cmd.ProcessState)
	}
}

func TestWaitReadyCountsLargeBodies(t *testing.T) {
	body := bytes.Repeat([]byte("x"), 20<<20)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(body) }))
	defer srv.Close()
	p := &serverProc{exited: make(chan struct{})}
	addr := strings.TrimPrefix(srv.URL, "http://")
	ctx := context.Background()
	sc := Scenario{Method: "GET", Path: "/f", ExpectBytes: len(body)}
	if err := p.waitReady(ctx, addr, sc, nil, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	sc.ExpectBytes++
	if err := p.waitReady(ctx, addr, sc, nil, 5*time.Second); err == nil || !strings.Contains(err.Error(), "20971520 body bytes") {
		t.Fatalf("wrong size: got %v", err)
	}
}

func TestPerCPUSecond(t *testing.T) {
	a, b := cpuSnap{server: 1000}, cpuSnap{server: 1250} // 2.5 CPU-seconds
	if cpu, rate := perCPUSecond(50000, a, b); cpu != 2.5 || rate != 20000 {
		t.Fatalf("got %v CPU-s, %v req/CPU-s", cpu, rate)
	}
	// No tick counted (or a process gone): no figure rather than +Inf.
	for _, bb := range []cpuSnap{{server: 1000}, {server: 900}} {
		if cpu, rate := perCPUSecond(50000, a, bb); cpu != 0 || rate != 0 {
			t.Fatalf("%v: got %v, %v", bb, cpu, rate)
		}
	}
}

func TestClassifyDownload(t *testing.T) {
	ok := download.Result{Elapsed: time.Second, Bytes: 1 << 30, Completed: 4, ClientBytes: []int64{1, 2, 3, 4}, MaxTTFB: time.Millisecond}
	cases := []struct {
		name   string
		mut    func(*download.Result)
		status string
		reason string
	}{
		{"ok", func(*download.Result) {}, statusOK, ""},
		{"failed", func(r *download.Result) { r.Failed, r.Errors = 2, []string{"HTTP 500"} }, statusFailed, "2 failed downloads (HTTP 500)"},
		{"nothing", func(r *download.Result) { r.Bytes, r.Completed, r.ClientBytes = 0, 0, []int64{0, 0} }, statusFailed, "no body byte"},
		{"a client got nothing", func(r *download.Result) { r.ClientBytes[2] = 0 }, statusStarved, "client 3 got nothing"},
		{"slow head", func(r *download.Result) { r.MaxTTFB = 1500 * time.Millisecond }, statusStarved, "1.50 s"},
		{"none completed", func(r *download.Result) { r.Completed = 0 }, statusStarved, "no download completed"},
	}
	for _, c := range cases {
		r := ok
		r.ClientBytes = slices.Clone(ok.ClientBytes)
		c.mut(&r)
		status, reason := classifyDownload(r)
		if status != c.status || !strings.Contains(reason, c.reason) {
			t.Errorf("%s: got %s (%q), want %s (%q)", c.name, status, reason, c.status, c.reason)
		}
	}
}

// newReport has the three newer scenarios with made-up figures.
func newReport(t *testing.T) *Report {
	t.Helper()
	mk := func(server, status string, rate, perCPU, idle, peak float64, downloads bool) Row {
		run := Run{Run: 1, Status: status, ReqPerSec: rate, ReqPerCPUSecond: perCPU, IdleRSSMiB: idle, PeakRSSMiB: peak,
			RSSGrowthMiB: peak - idle, SlowestClientRPS: rate / 100, MaxTTFBMs: 3}
		if downloads {
			run.MBPerSec, run.ReqPerSec, run.Downloads = rate, rate/268, 10
			run.SlowestClientRPS, run.SlowestClientMBPerSec = 0, rate/5
		}
		if status == statusStarved {
			run.SlowestClientRPS, run.Reason = 0, "slowest client got 0 req/s"
		}
		return aggregate(serverByName(server), []Run{run})
	}
	static := ScenarioResult{Scenario: scenarioByName(t, "static4k"), Rows: []Row{
		mk("gowsgi", statusOK, 30000, 25000, 30, 35, false),
		mk("uwsgi", statusOK, 1500, 90000, 40, 42, false),         // Nagle-bound
		mk("uwsgi-nodelay", statusOK, 9000, 12000, 40, 42, false), // the faster one
		mk("nginx", statusOK, 50000, 60000, 5, 6, false),
	}}
	fw := ScenarioResult{Scenario: scenarioByName(t, "filewrapper256m"), Rows: []Row{
		mk("gowsgi", statusOK, 2100, 0, 30, 38, true),
		mk("uwsgi", statusOK, 2000, 0, 40, 41, true),
		mk("nginx", statusOK, 2200, 0, 5, 6, true),
	}}
	metrics := ScenarioResult{Scenario: scenarioByName(t, "hello-metrics"), Rows: []Row{
		mk("gowsgi", statusOK, 40000, 30000, 30, 31, false),
		mk("gowsgi-stats", statusOK, 39000, 29500, 31, 32, false),
	}}
	rep := &Report{
		Generated: time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC),
		Config:    ReportConfig{DurationS: 5, WarmupS: 1, Runs: 1},
		Machine:   Machine{NProc: 2},
		Scenarios: []ScenarioResult{static, fw, metrics},
	}
	for i := range rep.Scenarios {
		rep.Scenarios[i].Rows[0].Label = rep.Scenarios[i].label(serverByName(rep.Scenarios[i].Rows[0].Server))
		rep.Scenarios[i].Rows[1].Label = rep.Scenarios[i].label(serverByName(rep.Scenarios[i].Rows[1].Server))
		setRatios(&rep.Scenarios[i])
	}
	rep.Targets = evaluateTargets(rep)
	return rep
}

func TestBaselines(t *testing.T) {
	rep := newReport(t)
	static, fw, metrics := rep.Scenarios[0], rep.Scenarios[1], rep.Scenarios[2]
	if static.BaselineRow != "uwsgi-nodelay" {
		t.Fatalf("static4k baseline %q, want the faster uWSGI row", static.BaselineRow)
	}
	if g := static.Rows[0]; *g.RatioToUWSGI != 30000.0/9000 || *g.RatioToBaseline != *g.RatioToUWSGI {
		t.Fatalf("static4k gowsgi ratio %v / %v", *g.RatioToUWSGI, *g.RatioToBaseline)
	}
	// A faster uWSGI row that starved a client is not the yardstick.
	static.Rows[1].Status, static.Rows[1].Median.Status = statusStarved, statusStarved
	static.Rows[1].Median.ReqPerSec = 20000
	setRatios(&static)
	if static.BaselineRow != "uwsgi-nodelay" {
		t.Fatalf("starved faster row chosen: %q", static.BaselineRow)
	}
	if fw.BaselineRow != "uwsgi" || *fw.Rows[0].RatioToUWSGI != 2100.0/2000 {
		t.Fatalf("filewrapper baseline %q, ratio %v (MB/s)", fw.BaselineRow, *fw.Rows[0].RatioToUWSGI)
	}
	if metrics.BaselineRow != "gowsgi" || metrics.Rows[1].RatioToUWSGI != nil || *metrics.Rows[1].RatioToBaseline != 39000.0/40000 {
		t.Fatalf("hello-metrics baseline %q, ratios %v %v", metrics.BaselineRow, metrics.Rows[1].RatioToUWSGI, metrics.Rows[1].RatioToBaseline)
	}
}

func TestNewTargets(t *testing.T) {
	rep := newReport(t)
	got := map[string]Target{}
	for _, tg := range rep.Targets {
		got[tg.Name] = tg
	}
	want := map[string]string{
		"static 4 KiB vs faster uWSGI":          targetPass, // 3.33x the nodelay row
		"static 4 KiB vs nginx":                 targetPass, // 0.6x
		"file_wrapper 256 MiB MB/s vs uWSGI":    targetPass, // 1.05x
		"file_wrapper 256 MiB RSS growth":       targetPass, // 8 MiB
		"file_wrapper 256 MiB vs nginx static":  targetFail, // 0.95x
		"hello with metrics vs without":         targetPass, // 0.975
		"filewrapper256m: fair to every client": targetPass,
		"hello 64 conns vs uWSGI":               targetNotRun,
	}
	for name, res := range want {
		if got[name].Result != res {
			t.Errorf("%s: got %s (%s), want %s", name, got[name].Result, got[name].Measured, res)
		}
	}
	if m := got["static 4 KiB vs faster uWSGI"].Measured; !strings.Contains(m, "of uWSGI --tcp-nodelay") || !strings.Contains(m, "per CPU-second 2.08x") {
		t.Errorf("static measured %q", m)
	}
	if m := got["file_wrapper 256 MiB vs nginx static"].Measured; !strings.Contains(m, "0.95x (2,100 vs 2,200 MB/s)") {
		t.Errorf("file_wrapper vs nginx measured %q", m)
	}
	if m := got["filewrapper256m: fair to every client"].Measured; !strings.Contains(m, "420 MB/s") {
		t.Errorf("download fairness measured %q", m)
	}

	// Below the marks.
	s := &rep.Scenarios[0]
	s.Rows[0].Median.ReqPerSec = 20000 // 2.2x uWSGI, 0.4x nginx
	setRatios(s)
	fw := &rep.Scenarios[1]
	fw.Rows[0].Runs = append(fw.Rows[0].Runs, Run{Run: 2, Status: statusOK, MBPerSec: 1, RSSGrowthMiB: 300})
	m := &rep.Scenarios[2]
	m.Rows[1].Median.ReqPerSec = 38000 // 0.95
	got = map[string]Target{}
	for _, tg := range evaluateTargets(rep) {
		got[tg.Name] = tg
	}
	for _, name := range []string{"static 4 KiB vs faster uWSGI", "static 4 KiB vs nginx", "file_wrapper 256 MiB RSS growth", "hello with metrics vs without"} {
		if got[name].Result != targetFail {
			t.Errorf("%s: got %s (%s), want FAIL", name, got[name].Result, got[name].Measured)
		}
	}
	// A starved metrics-on row never passes, whatever its rate.
	m.Rows[1].Median.ReqPerSec, m.Rows[1].Status = 41000, statusStarved
	for _, tg := range evaluateTargets(rep) {
		if tg.Name == "hello with metrics vs without" && tg.Result != targetFail {
			t.Errorf("starved metrics-on row: %s", tg.Result)
		}
	}
}

func TestNewScenarioOutputs(t *testing.T) {
	rep := newReport(t)
	md := markdown(rep)
	for _, want := range []string{
		"| server | req/s | vs uWSGI | req per CPU-s | mean latency |",
		"| gowsgi | 30,000 | 3.33x | 25,000 |",
		"| nginx | 50,000 | 5.56x | 60,000 |",
		`ratios are to the row "uWSGI --tcp-nodelay"`,
		"| server | MB/s | vs uWSGI | downloads | mean download | max download | slowest client MB/s | max time to head | failed | idle RSS MiB | peak RSS MiB | RSS growth MiB | status |",
		"| gowsgi | 2,100 | 1.05x | 10 |",
		"| 30.0 | 38.0 | 8.0 | OK |",
		"| server | req/s | vs gowsgi, metrics off | req per CPU-s |",
		"| gowsgi, metrics on (--stats) | 39,000 | 0.97x | 29,500 |",
		"gowsgi's default, like uWSGI's, writes an access log line per request",
		"4 concurrent downloads (Go net/http, bodies discarded)",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q", want)
		}
	}
	svg := chartSVG(rep)
	dec := xml.NewDecoder(strings.NewReader(svg))
	for {
		if _, err := dec.Token(); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("svg is not well-formed XML: %v", err)
		}
	}
	for _, want := range []string{"= uWSGI --tcp-nodelay 9,000 req/s", "= uWSGI 2,000 MB/s", "= gowsgi, metrics off 40,000 req/s",
		"hatch-nginx", "hatch-gowsgi-stats", "vs the baseline under each group"} {
		if !strings.Contains(svg, want) {
			t.Errorf("svg lacks %q", want)
		}
	}
	// Each group has exactly its own bars.
	if n := strings.Count(svg, `stroke-width="0.8"><title>`); n != 9 {
		t.Errorf("%d bars, want 4 + 3 + 2", n)
	}
	if out := os.Getenv("BENCHRUN_SAMPLE_OUT"); out != "" {
		_ = writeOutputs(rep, out)
	}
}
