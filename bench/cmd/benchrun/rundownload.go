package main

import (
	"context"
	"fmt"
	"strings"
	"syscall"
	"time"

	"github.com/gowsgi/gowsgi/bench/internal/download"
)

// measureDownload warms up and loads the server with the download client
// (sc.Clients concurrent downloads of sc.Path, each checked against
// sc.ExpectBytes) and fills run with the figures, the CPU shares and the
// status. The client runs inside benchrun, so its CPU time is benchrun's.
func (b *bench) measureDownload(ctx context.Context, sc Scenario, addr string, p *serverProc, run *Run) {
	cfg := download.Config{URL: "http://" + addr + sc.Path, Clients: sc.Clients, WantBytes: int64(sc.ExpectBytes)}
	if b.cfg.warmup > 0 {
		cfg.Duration = b.cfg.warmup
		if w, err := download.Run(ctx, cfg); err == nil {
			run.WarmupMBPerSec = w.MBPerSec()
		}
	}
	cfg.Duration = b.cfg.duration
	self0 := selfCPU()
	cpu0 := takeCPU(p)
	res, err := download.Run(ctx, cfg)
	cpu1 := takeCPU(p)
	run.ServerCores, run.H2loadCores, run.OtherCores = cpuShares(cpu0, cpu1, selfCPU()-self0)
	run.ServerCPUSeconds, _ = perCPUSecond(res.Completed, cpu0, cpu1)
	if err != nil {
		run.Status, run.Reason = statusFailed, err.Error()
		return
	}
	run.MBPerSec = res.MBPerSec()
	run.ReqPerSec = res.DownloadsPerSec()
	run.Downloads, run.Succeeded, run.Failed = res.Completed, res.Completed, res.Failed
	run.MeanLatencyMs, run.MaxLatencyMs = ms(res.MeanDownload), ms(res.MaxDownload)
	run.MaxTTFBMs = ms(res.MaxTTFB)
	run.SlowestClientMBPerSec = res.SlowestClientMBPerSec()
	run.Status, run.Reason = classifyDownload(res)
}

// classifyDownload applies the fairness rules to a download load: a failed
// download, or no byte at all, is FAILED; a client that got nothing, waited
// a second or more for a response head, or no download completing within
// the run (the figure then rests on cut-off downloads only) is STARVED.
func classifyDownload(r download.Result) (status, reason string) {
	var failed, starved []string
	if r.Failed > 0 {
		failed = append(failed, fmt.Sprintf("%d failed downloads (%s)", r.Failed, strings.Join(r.Errors, "; ")))
	}
	if r.Bytes == 0 {
		failed = append(failed, "no body byte received")
	}
	for i, n := range r.ClientBytes {
		if n == 0 {
			starved = append(starved, fmt.Sprintf("client %d got nothing", i+1))
			break
		}
	}
	if r.MaxTTFB >= maxTTFB {
		starved = append(starved, fmt.Sprintf("max time to response head %.2f s", r.MaxTTFB.Seconds()))
	}
	if r.Completed == 0 && r.Bytes > 0 {
		starved = append(starved, "no download completed within the run (lengthen -duration)")
	}
	switch {
	case len(failed) > 0:
		return statusFailed, joinReasons(append(failed, starved...)...)
	case len(starved) > 0:
		return statusStarved, joinReasons(starved...)
	}
	return statusOK, ""
}

// selfCPU is the CPU time benchrun has used so far (the download client
// runs in it).
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
