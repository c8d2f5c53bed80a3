// Command benchrun benchmarks gowsgi against uWSGI, gunicorn and waitress,
// with two no-Python ceilings (bare net/http and bare fasthttp), on loopback
// with h2load in HTTP/1.1 mode. Every server runs the same WSGI app with the
// same processes × threads; the servers are started one after the other,
// interleaved run by run, and each result is read as a ratio to uWSGI in the
// same run.
//
// Run it from bench/:
//
//	go run ./cmd/benchrun                       # everything, 3 runs × 5 s
//	go run ./cmd/benchrun -quick -scenarios hello,echo -servers uwsgi,nethttp
//	go run ./cmd/benchrun -from results/latest.json -targets
//
// It writes results/latest.md, results/latest.json and results/latest.svg.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"
)

type config struct {
	benchDir string
	gowsgi   string
	uwsgi    string
	gunicorn string
	python   string
	h2load   string
	nginx    string
	out      string
	duration time.Duration
	warmup   time.Duration
	runs     int
	quick    bool
	targets  bool
	from     string

	scenarios []Scenario
	servers   []Server
}

// bench holds the state of one benchmark run.
type bench struct {
	cfg     config
	appsDir string
	tmp     string
	env     []string
	stdout  io.Writer

	bare      map[string]string // server name → built binary
	bareErr   map[string]string // server name → build error
	pyModules map[string]bool
	bodies    map[int]string // POST body size → file

}

func main() {
	os.Exit(realMain(os.Args[1:], os.Stdout, os.Stderr))
}

func realMain(args []string, stdout, stderr io.Writer) int {
	var cfg config
	var scenarioList, serverList string
	fs := flag.NewFlagSet("benchrun", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.benchDir, "benchdir", ".", "the bench/ directory (apps/, bare/, results/ are found from it)")
	fs.StringVar(&cfg.gowsgi, "gowsgi", "../bin/gowsgi", "gowsgi binary (relative to -benchdir)")
	fs.StringVar(&cfg.uwsgi, "uwsgi", "/usr/bin/uwsgi", "uWSGI binary (Debian, with uwsgi-plugin-python3)")
	fs.StringVar(&cfg.gunicorn, "gunicorn", "/usr/bin/gunicorn", "gunicorn script (else PYTHON -m gunicorn)")
	fs.StringVar(&cfg.python, "python", "/usr/bin/python3", "the Debian Python, for waitress")
	fs.StringVar(&cfg.h2load, "h2load", "h2load", "h2load binary (nghttp2-client)")
	fs.StringVar(&cfg.nginx, "nginx", "/usr/sbin/nginx", "nginx binary (nginx-light), for the static file scenario")
	fs.StringVar(&cfg.out, "out", "results", "output directory (relative to -benchdir)")
	fs.DurationVar(&cfg.duration, "duration", 5*time.Second, "measured load per run")
	fs.DurationVar(&cfg.warmup, "warmup", time.Second, "warm-up load before each measured run (0: none)")
	fs.IntVar(&cfg.runs, "runs", 3, "runs per server and scenario; the median run by req/s is reported")
	fs.BoolVar(&cfg.quick, "quick", false, "smoke test: 1 run of 2 s (overrides -runs and -duration)")
	fs.BoolVar(&cfg.targets, "targets", false, "print gowsgi's targets as PASS/FAIL (informational; exit status unaffected)")
	fs.StringVar(&cfg.from, "from", "", "do not run: re-render the outputs (and -targets) from this latest.json")
	fs.StringVar(&scenarioList, "scenarios", "all", "comma list of scenarios: "+names(scenarios, func(s Scenario) string { return s.Name }))
	fs.StringVar(&serverList, "servers", "all", "comma list of servers (a server brings its variants, e.g. uwsgi brings uwsgi-nodelay): "+names(servers, func(s Server) string { return s.Name }))
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "benchrun: unexpected arguments %v\n", fs.Args())
		return 2
	}
	if cfg.quick {
		cfg.runs, cfg.duration = 1, 2*time.Second
	}
	if cfg.runs < 1 || cfg.duration < time.Second {
		fmt.Fprintln(stderr, "benchrun: need -runs >= 1 and -duration >= 1s")
		return 2
	}
	var err error
	if cfg.scenarios, err = pick(scenarioList, scenarios, func(s Scenario) string { return s.Name }); err != nil {
		fmt.Fprintf(stderr, "benchrun: -scenarios: %v\n", err)
		return 2
	}
	if cfg.servers, err = pick(serverList, servers, func(s Server) string { return s.Name }); err != nil {
		fmt.Fprintf(stderr, "benchrun: -servers: %v\n", err)
		return 2
	}
	cfg.servers = withVariants(cfg.servers)
	if cfg.benchDir, err = filepath.Abs(cfg.benchDir); err != nil {
		fmt.Fprintf(stderr, "benchrun: %v\n", err)
		return 2
	}
	cfg.gowsgi = inDir(cfg.benchDir, cfg.gowsgi)
	cfg.out = inDir(cfg.benchDir, cfg.out)

	if cfg.from != "" {
		return rerender(cfg, stdout, stderr)
	}
	if err := run(cfg, stdout); err != nil {
		fmt.Fprintf(stderr, "benchrun: %v\n", err)
		return 1
	}
	return 0
}

func run(cfg config, stdout io.Writer) error {
	if _, err := os.Stat(filepath.Join(cfg.benchDir, "apps", "hello.py")); err != nil {
		return fmt.Errorf("%s does not look like bench/ (no apps/hello.py); run from bench/ or pass -benchdir", cfg.benchDir)
	}
	if _, err := exec.LookPath(cfg.h2load); err != nil {
		return fmt.Errorf("h2load not found (apt-get install nghttp2-client): %v", err)
	}
	if err := os.MkdirAll(cfg.out, 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "benchrun-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	b := &bench{
		cfg: cfg, appsDir: filepath.Join(cfg.benchDir, "apps"), tmp: tmp, env: serverEnv(), stdout: stdout,
		bare: map[string]string{}, bareErr: map[string]string{}, pyModules: map[string]bool{}, bodies: map[int]string{},
	}
	becomeSubreaper()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	b.buildBare(ctx)
	rep := &Report{
		Generated: time.Now().UTC().Truncate(time.Second),
		Config: ReportConfig{
			DurationS: cfg.duration.Seconds(), WarmupS: cfg.warmup.Seconds(), Runs: cfg.runs, Quick: cfg.quick,
			H2load: fmt.Sprintf("%s --h1 -D %s -c CONNS -t 2 URL (separate %s warm-up load first; pinned: taskset -c 0, -t 1)",
				cfg.h2load, fmtDuration(cfg.duration), fmtDuration(cfg.warmup)),
			Download: fmt.Sprintf("download scenarios: N concurrent Go net/http clients looping GET for %s, bodies discarded (separate %s warm-up load first)",
				fmtDuration(cfg.duration), fmtDuration(cfg.warmup)),
		},
		Machine: b.machine(),
	}
	for _, s := range cfg.servers {
		rep.Config.Servers = append(rep.Config.Servers, s.Name)
	}
	for _, sc := range cfg.scenarios {
		rep.Config.Scenarios = append(rep.Config.Scenarios, sc.Name)
	}
	used := 0 // servers that run in at least one of the scenarios
	for _, s := range cfg.servers {
		if slices.ContainsFunc(cfg.scenarios, func(sc Scenario) bool { return sc.runs(s) }) {
			used++
		}
	}
	b.logf("benchrun: %d scenario(s) × %d server(s) × %d run(s) of %v (+%v warm-up); load average %s",
		len(cfg.scenarios), used, cfg.runs, cfg.duration, cfg.warmup, rep.Machine.LoadBefore)
	if l1 := loadavg1(); l1 > 0.5*float64(rep.Machine.NProc) {
		b.warnf("the machine is busy (load average %.2f on %d cores): expect noisy numbers; "+
			"the 'other' CPU figure of each run tells how much it was disturbed", l1, rep.Machine.NProc)
	}

	_, tasksetErr := exec.LookPath("taskset")
	for _, sc := range cfg.scenarios {
		if sc.Pinned && runtime.NumCPU() < 2 {
			b.warnf("%s: skipped, pinning needs 2 cores", sc.Name)
			continue
		}
		if sc.Pinned && tasksetErr != nil {
			b.warnf("%s: skipped, no taskset (apt-get install util-linux)", sc.Name)
			continue
		}
		b.logf("\n== %s: %s", sc.Name, sc.Title)
		var scServers []Server
		for _, s := range cfg.servers {
			if sc.runs(s) {
				scServers = append(scServers, s)
			}
		}
		if len(scServers) == 0 {
			b.warnf("%s: skipped, none of its servers (%s) was selected", sc.Name, strings.Join(sc.Servers, ","))
			continue
		}
		runs := map[string][]Run{}
		unavailable := map[string]Run{}
		for r := 1; r <= cfg.runs && ctx.Err() == nil; r++ {
			n := len(scServers)
			for i := range n {
				// Rotate the order each run so that no server always goes
				// first (or right after the heaviest one); with two servers
				// (hello-metrics) the runs alternate, each going first in
				// every other run.
				s := scServers[(i+r-1)%n]
				if ctx.Err() != nil {
					break
				}
				var res Run
				if u, ok := unavailable[s.Name]; ok {
					res = u
					res.Run = r
				} else {
					res = b.runOne(ctx, s, sc, r)
					b.logf("%s", progressLine(sc, s, res, r, cfg.runs))
					if res.Status == statusNotBuilt || res.Status == statusMissing {
						unavailable[s.Name] = res
					}
				}
				runs[s.Name] = append(runs[s.Name], res)
			}
		}
		result := ScenarioResult{Scenario: sc}
		for _, s := range scServers {
			if len(runs[s.Name]) > 0 {
				row := aggregate(s, runs[s.Name])
				row.Label = sc.label(s)
				result.Rows = append(result.Rows, row)
			}
		}
		setRatios(&result)
		rep.Scenarios = append(rep.Scenarios, result)
		rep.Machine.LoadAfter = loadavg()
		rep.Finished = time.Now().UTC().Truncate(time.Second)
		rep.Targets = evaluateTargets(rep)
		if err := writeOutputs(rep, cfg.out); err != nil {
			return err
		}
		if ctx.Err() != nil {
			break
		}
	}
	if ctx.Err() != nil {
		b.logf("\ninterrupted: partial results written to %s", cfg.out)
		return errors.New("interrupted")
	}
	b.logf("\nwrote %s/latest.{md,json,svg}; load average now %s", cfg.out, rep.Machine.LoadAfter)
	var gowsgiRuns []Run
	for _, sc := range rep.Scenarios {
		if r, ok := sc.row("gowsgi"); ok {
			gowsgiRuns = append(gowsgiRuns, r.Runs...)
		}
	}
	if builds := binaries(gowsgiRuns); len(builds) > 1 {
		b.warnf("the gowsgi binary was rebuilt during the benchmark (sha256 %s): its rows mix builds", strings.Join(builds, ", "))
	}
	if n, total, worst := disturbedRuns(rep); n > 0 {
		b.warnf("%d of %d runs were disturbed by other processes (up to %.1f cores): rerun when the machine is quiet", n, total, worst)
	}
	if cfg.targets {
		fmt.Fprint(stdout, "\n"+targetsText(rep.Targets))
	}
	return nil
}

// rerender rebuilds the outputs from a saved latest.json.
func rerender(cfg config, stdout, stderr io.Writer) int {
	data, err := os.ReadFile(cfg.from)
	if err != nil {
		fmt.Fprintf(stderr, "benchrun: %v\n", err)
		return 1
	}
	var rep Report
	if err := json.Unmarshal(data, &rep); err != nil {
		fmt.Fprintf(stderr, "benchrun: %s: %v\n", cfg.from, err)
		return 1
	}
	for i := range rep.Scenarios {
		setRatios(&rep.Scenarios[i]) // files written before the baseline ratios lack them
	}
	rep.Targets = evaluateTargets(&rep)
	if err := os.MkdirAll(cfg.out, 0o755); err != nil {
		fmt.Fprintf(stderr, "benchrun: %v\n", err)
		return 1
	}
	if err := writeOutputs(&rep, cfg.out); err != nil {
		fmt.Fprintf(stderr, "benchrun: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "re-rendered %s/latest.{md,json,svg} from %s\n", cfg.out, cfg.from)
	if cfg.targets {
		fmt.Fprint(stdout, "\n"+targetsText(rep.Targets))
	}
	return 0
}

// buildBare builds the selected bare ceilings into the temporary directory.
func (b *bench) buildBare(ctx context.Context) {
	for _, s := range b.cfg.servers {
		if !s.bare() {
			continue
		}
		bin := filepath.Join(b.tmp, "bare-"+s.Name)
		cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./bare/"+s.Name)
		cmd.Dir = b.cfg.benchDir
		if out, err := cmd.CombinedOutput(); err != nil {
			b.bareErr[s.Name] = strings.TrimSpace(err.Error() + ": " + string(out))
			b.warnf("building bare/%s failed: %s", s.Name, b.bareErr[s.Name])
			continue
		}
		b.bare[s.Name] = bin
	}
}

// body returns the POST body of a scenario (nil for GET): printable bytes.
func (b *bench) body(sc Scenario) []byte {
	if sc.BodyBytes == 0 {
		return nil
	}
	const pattern = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-_\n"
	out := make([]byte, sc.BodyBytes)
	for i := range out {
		out[i] = pattern[i%len(pattern)]
	}
	return out
}

// bodyFile writes the POST body for h2load -d once and returns its path.
func (b *bench) bodyFile(sc Scenario) string {
	if p, ok := b.bodies[sc.BodyBytes]; ok {
		return p
	}
	p := filepath.Join(b.tmp, fmt.Sprintf("body-%d.bin", sc.BodyBytes))
	if err := os.WriteFile(p, b.body(sc), 0o644); err != nil {
		b.warnf("writing %s: %v", p, err)
	}
	b.bodies[sc.BodyBytes] = p
	return p
}

func (b *bench) logf(format string, args ...any) {
	fmt.Fprintf(b.stdout, format+"\n", args...)
}

func (b *bench) warnf(format string, args ...any) {
	fmt.Fprintf(b.stdout, "WARNING: "+format+"\n", args...)
}

func progressLine(sc Scenario, s Server, r Run, idx, total int) string {
	width := 14 // the longest label of the scenario, so that the columns line up
	for _, o := range servers {
		if sc.runs(o) {
			width = max(width, len([]rune(sc.label(o))))
		}
	}
	head := fmt.Sprintf("  run %d/%d  %-*s", idx, total, width, sc.label(s))
	if !r.measured() {
		return fmt.Sprintf("%s %s: %s", head, r.Status, r.Reason)
	}
	line := fmt.Sprintf("%s %9s req/s  slowest client %7s  max TTFB %8s  RSS %6.1f → %6.1f MiB  CPU srv/h2load/other %.1f/%.1f/%.1f  %s",
		head, thousands(r.ReqPerSec), thousands(r.SlowestClientRPS), fmtMs(r.MaxTTFBMs),
		r.IdleRSSMiB, r.PeakRSSMiB, r.ServerCores, r.H2loadCores, r.OtherCores, r.Status)
	if sc.downloads() {
		line = fmt.Sprintf("%s %9s MB/s  %d downloads  slowest client %s MB/s  max TTFB %8s  RSS %6.1f → %6.1f MiB (+%.1f)  CPU srv/client/other %.1f/%.1f/%.1f  %s",
			head, thousands(r.MBPerSec), r.Downloads, thousands(r.SlowestClientMBPerSec), fmtMs(r.MaxTTFBMs),
			r.IdleRSSMiB, r.PeakRSSMiB, r.RSSGrowthMiB, r.ServerCores, r.H2loadCores, r.OtherCores, r.Status)
	} else if sc.CPUColumn {
		line += fmt.Sprintf("  %s req/CPU-s", thousands(r.ReqPerCPUSecond))
	}
	if r.Reason != "" {
		line += " (" + r.Reason + ")"
	}
	if r.Note != "" && s.base() == "gowsgi" {
		line += " [" + r.Note + "]"
	}
	return line
}

func inDir(dir, p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(dir, p)
}

func names[T any](all []T, name func(T) string) string {
	var out []string
	for _, x := range all {
		out = append(out, name(x))
	}
	return strings.Join(out, ",")
}
