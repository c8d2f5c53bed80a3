package main

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/gowsgi/gowsgi/bench/internal/h2load"
	"github.com/gowsgi/gowsgi/bench/internal/procfs"
)

// Statuses of a result. Only OK results may count as a win.
const (
	statusOK       = "OK"
	statusStarved  = "STARVED"
	statusFailed   = "FAILED"
	statusNotBuilt = "NOT BUILT"
	statusMissing  = "MISSING"
)

// statusError is a reason not to run a server at all.
type statusError struct{ status, reason string }

func (e statusError) Error() string { return e.status + ": " + e.reason }

// Thresholds for a fair result.
const (
	maxTTFB     = time.Second
	readyWait   = 15 * time.Second
	stopGrace   = 5 * time.Second
	rssInterval = 100 * time.Millisecond
)

// Run is one measurement of one server in one scenario.
type Run struct {
	Run     int      `json:"run"`
	Status  string   `json:"status"`
	Reason  string   `json:"reason,omitempty"`
	Note    string   `json:"note,omitempty"`
	Command []string `json:"command,omitempty"`

	ReqPerSec        float64 `json:"req_per_s"`
	MeanLatencyMs    float64 `json:"mean_latency_ms"`
	MaxLatencyMs     float64 `json:"max_latency_ms"`
	SlowestClientRPS float64 `json:"slowest_client_req_per_s"`
	MaxTTFBMs        float64 `json:"max_ttfb_ms"`
	Succeeded        int64   `json:"succeeded"`
	Failed           int64   `json:"failed"`
	Errored          int64   `json:"errored"`
	Timeout          int64   `json:"timeout"`
	Non2xx           int64   `json:"non_2xx"`

	IdleRSSMiB float64 `json:"idle_rss_mib"`
	// IdlePSSMiB is the tree's Pss at idle: a page shared by n of its
	// processes (a library, the binary, memory a fork did not copy) counts
	// 1/n, where the RSS counts it n times.
	IdlePSSMiB float64 `json:"idle_pss_mib"`
	PeakRSSMiB float64 `json:"peak_rss_mib"`
	RSSSamples int     `json:"rss_samples"`
	// Processes is the size of the server's process tree at idle.
	Processes int `json:"processes"`
	// CPU use during the measured load, in cores (CPU seconds per second):
	// the server's process tree, h2load, and everything else on the machine
	// (other users' jobs, kernel threads). OtherCores well above 0 means the
	// run was disturbed.
	ServerCores float64 `json:"server_cores"`
	H2loadCores float64 `json:"h2load_cores"`
	OtherCores  float64 `json:"other_cores"`
	// Binary is the sha256 prefix of the gowsgi binary this run started: on
	// a shared checkout it can be rebuilt in the middle of a benchmark.
	Binary string `json:"binary_sha256,omitempty"`
	// WarmupReqPerSec is the rate of the separate warm-up load.
	WarmupReqPerSec float64 `json:"warmup_req_per_s"`
	// ServerCPUSeconds is the CPU time (user + system) the server's process
	// tree used during the measured load; ReqPerCPUSecond is the succeeded
	// requests divided by it. Other jobs on the machine slow a server down
	// but hardly change the CPU it spends per request.
	ServerCPUSeconds float64 `json:"server_cpu_s"`
	ReqPerCPUSecond  float64 `json:"req_per_cpu_s,omitempty"`
	// RSSGrowthMiB is PeakRSSMiB - IdleRSSMiB: what the load added.
	RSSGrowthMiB float64 `json:"rss_growth_mib"`
	// Download scenarios: throughput in MB (10^6 bytes) per second over the
	// measured load (ReqPerSec is then whole downloads per second and the
	// latencies are per download), downloads completed, and the
	// throughput of the worst-served client.
	MBPerSec              float64 `json:"mb_per_s,omitempty"`
	Downloads             int64   `json:"downloads,omitempty"`
	SlowestClientMBPerSec float64 `json:"slowest_client_mb_per_s,omitempty"`
	WarmupMBPerSec        float64 `json:"warmup_mb_per_s,omitempty"`
	// Leftovers lists processes still alive after stopping (should be empty).
	Leftovers []int `json:"leftover_pids,omitempty"`
	// LogTail is the end of the server's output, kept when it failed.
	LogTail string `json:"log_tail,omitempty"`
	// H2load is h2load's report, kept when the run is not OK.
	H2load string `json:"h2load_output,omitempty"`
}

// measured reports whether the run produced load figures.
func (r Run) measured() bool {
	return r.Status == statusOK || r.Status == statusStarved || (r.Status == statusFailed && r.rate() > 0)
}

// rate is the figure runs are ranked and compared by: MB/s for downloads,
// else req/s.
func (r Run) rate() float64 {
	if r.MBPerSec > 0 {
		return r.MBPerSec
	}
	return r.ReqPerSec
}

const mib = 1 << 20

// runOne starts server s for scenario sc, loads it and stops it.
func (b *bench) runOne(ctx context.Context, s Server, sc Scenario, runIdx int) Run {
	run := Run{Run: runIdx}
	fail := func(status, reason string) Run {
		run.Status, run.Reason = status, reason
		return run
	}
	port, err := freePort()
	if err != nil {
		return fail(statusFailed, err.Error())
	}
	l, err := b.command(s, sc, port, runIdx)
	if err != nil {
		var se statusError
		if errors.As(err, &se) {
			return fail(se.status, se.reason)
		}
		return fail(statusFailed, err.Error())
	}
	run.Command, run.Note = l.argv, l.note
	if s.base() == "gowsgi" {
		if info, err := binaryInfo(b.cfg.gowsgi); err == nil {
			run.Binary = info.SHA256[:12]
		}
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	logPath := filepath.Join(b.tmp, fmt.Sprintf("%s-%s-%d.log", sc.Name, s.Name, runIdx))

	p, err := startServer(l.argv, l.dir, logPath, append(slices.Clip(b.env), l.env...))
	if err != nil {
		return fail(statusFailed, "start: "+err.Error())
	}
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			if left := p.stop(l.stop, stopGrace); len(left) > 0 {
				run.Leftovers = left
				b.warnf("%s left processes behind after SIGKILL: %v", s.Label, left)
			}
		}
	}
	defer stop()

	err = p.waitReady(ctx, addr, sc, b.body(sc), readyWait)
	if err != nil {
		stop()
		run.LogTail = p.logTail(2000)
		return fail(statusFailed, err.Error())
	}

	idle, nprocs := p.settledRSS(3 * time.Second)
	run.IdleRSSMiB, run.Processes = float64(idle)/mib, nprocs
	if pss, _, err := procfs.TreePss(procfs.Root, p.pid, p.pid); err == nil {
		run.IdlePSSMiB = float64(pss) / mib
	}

	sampler := procfs.StartSampler(procfs.Root, p.pid, p.pid, rssInterval)
	if sc.downloads() {
		b.measureDownload(ctx, sc, addr, p, &run)
	} else {
		b.measureH2load(ctx, sc, addr, p, &run)
	}
	peak, samples, _ := sampler.Stop()
	run.PeakRSSMiB, run.RSSSamples = float64(max(peak, idle))/mib, samples
	run.RSSGrowthMiB = run.PeakRSSMiB - run.IdleRSSMiB
	exitedDuringLoad := p.hasExited()
	stop()

	if ctx.Err() != nil {
		return fail(statusFailed, "interrupted")
	}
	if exitedDuringLoad {
		run.Status = statusFailed
		run.Reason = joinReasons(run.Reason, "server exited during the load")
	}
	if run.Status != statusOK {
		run.LogTail = p.logTail(2000)
	}
	return run
}

// measureH2load warms up and loads the server with h2load and fills run
// with the figures, the CPU shares and the status.
func (b *bench) measureH2load(ctx context.Context, sc Scenario, addr string, p *serverProc, run *Run) {
	if b.cfg.warmup > 0 {
		out, _, err := b.h2load(ctx, sc, addr, b.cfg.warmup)
		if err == nil {
			if w, perr := h2load.Parse(out); perr == nil {
				run.WarmupReqPerSec = w.ReqPerSec
			}
		}
	}
	cpu0 := takeCPU(p)
	out, loadCPU, loadErr := b.h2load(ctx, sc, addr, b.cfg.duration)
	cpu1 := takeCPU(p)
	run.ServerCores, run.H2loadCores, run.OtherCores = cpuShares(cpu0, cpu1, loadCPU)

	res, perr := h2load.Parse(out)
	if perr != nil {
		run.H2load = tail(out, 3000)
		run.Status, run.Reason = statusFailed, perr.Error()
		if loadErr != nil {
			run.Reason = fmt.Sprintf("h2load: %v", loadErr)
		}
		return
	}
	run.ReqPerSec = res.ReqPerSec
	run.MeanLatencyMs = ms(res.Request.Mean)
	run.MaxLatencyMs = ms(res.Request.Max)
	run.SlowestClientRPS = res.ClientRate.Min
	run.MaxTTFBMs = ms(res.TTFB.Max)
	run.Succeeded, run.Failed, run.Errored, run.Timeout = res.Succeeded, res.Failed, res.Errored, res.Timeout
	run.Non2xx = res.Status3xx + res.Status4xx + res.Status5xx
	run.ServerCPUSeconds, run.ReqPerCPUSecond = perCPUSecond(res.Succeeded, cpu0, cpu1)
	run.Status, run.Reason = classify(res)
	if run.Status != statusOK {
		run.H2load = tail(out, 3000)
	}
}

// classify applies the fairness rules: any failed request, or no request at
// all, is FAILED; a client that got nothing, or waited a second or more for
// its first byte, is STARVED.
func classify(r h2load.Result) (status, reason string) {
	var failed, starved []string
	if r.Failed > 0 {
		failed = append(failed, fmt.Sprintf("%d failed requests (%d errored, %d 4xx, %d 5xx)",
			r.Failed, r.Errored, r.Status4xx, r.Status5xx))
	}
	if r.Succeeded == 0 {
		failed = append(failed, "no request succeeded")
	}
	if r.ClientRate.Min <= 0 {
		starved = append(starved, "slowest client got 0 req/s")
	}
	if r.TTFB.Max >= maxTTFB {
		starved = append(starved, fmt.Sprintf("max time to 1st byte %.2f s", r.TTFB.Max.Seconds()))
	}
	switch {
	case len(failed) > 0:
		return statusFailed, joinReasons(append(failed, starved...)...)
	case len(starved) > 0:
		return statusStarved, joinReasons(starved...)
	}
	return statusOK, ""
}

func joinReasons(rs ...string) string {
	var out []string
	for _, r := range rs {
		if r != "" {
			out = append(out, r)
		}
	}
	return strings.Join(out, "; ")
}

// cpuSnap is the machine's and the server's CPU ticks at one moment.
type cpuSnap struct {
	at           time.Time
	busy, server uint64
}

func takeCPU(p *serverProc) cpuSnap {
	busy, _, _ := procfs.CPUBusy(procfs.Root)
	server, _ := procfs.TreeCPU(procfs.Root, p.pid, p.pid)
	return cpuSnap{at: time.Now(), busy: busy, server: server}
}

// perCPUSecond returns the CPU seconds the server's tree used between two
// snapshots and the requests served per CPU-second (0 when no CPU time was
// counted: the tick is 10 ms, so a very short or idle run may show none).
func perCPUSecond(requests int64, a, b cpuSnap) (cpuSeconds, perSecond float64) {
	if b.server <= a.server {
		return 0, 0
	}
	cpuSeconds = float64(b.server-a.server) / procfs.TicksPerSecond
	return cpuSeconds, float64(requests) / cpuSeconds
}

// cpuShares splits the CPU used between two snapshots into the server,
// h2load (from its rusage) and everything else, in cores.
func cpuShares(a, b cpuSnap, h2loadCPU time.Duration) (server, load, other float64) {
	wall := b.at.Sub(a.at).Seconds()
	if wall <= 0 || b.busy < a.busy {
		return 0, 0, 0
	}
	busy := float64(b.busy-a.busy) / procfs.TicksPerSecond
	srv := 0.0
	if b.server >= a.server {
		srv = float64(b.server-a.server) / procfs.TicksPerSecond
	}
	h := h2loadCPU.Seconds()
	return srv / wall, h / wall, max(busy-srv-h, 0) / wall
}

// h2load runs one timing-based h2load load of duration d against addr and
// returns its output and the CPU time it used.
func (b *bench) h2load(ctx context.Context, sc Scenario, addr string, d time.Duration) (string, time.Duration, error) {
	threads := 2
	if sc.Pinned {
		threads = 1 // one core for the load generator
	}
	args := []string{"--h1", "-D", fmtDuration(d), "-c", itoa(sc.Conns), "-t", itoa(threads)}
	if sc.BodyBytes > 0 {
		args = append(args, "-d", b.bodyFile(sc), "-H", "Content-Type: application/octet-stream")
	}
	args = append(args, "http://"+addr+sc.Path)
	argv := append([]string{b.cfg.h2load}, args...)
	if sc.Pinned {
		argv = append([]string{"taskset", "-c", "0"}, argv...)
	}
	ctx, cancel := context.WithTimeout(ctx, d+60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	out, err := cmd.CombinedOutput()
	if ctx.Err() == context.DeadlineExceeded {
		err = fmt.Errorf("h2load did not finish within %v", d+60*time.Second)
	}
	var used time.Duration
	if st := cmd.ProcessState; st != nil {
		used = st.UserTime() + st.SystemTime()
	}
	return string(out), used, err
}

// fmtDuration writes d for h2load: whole seconds as "5s", else milliseconds.
func fmtDuration(d time.Duration) string {
	if d%time.Second == 0 {
		return fmt.Sprintf("%ds", int(d/time.Second))
	}
	return fmt.Sprintf("%dms", d.Milliseconds())
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func tail(s string, n int) string {
	if len(s) > n {
		s = "…" + s[len(s)-n:]
	}
	return strings.TrimSpace(s)
}
