package main

import (
	"cmp"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Report is everything latest.json holds.
type Report struct {
	Generated time.Time        `json:"generated"`
	Finished  time.Time        `json:"finished"`
	Config    ReportConfig     `json:"config"`
	Machine   Machine          `json:"machine"`
	Scenarios []ScenarioResult `json:"scenarios"`
	Targets   []Target         `json:"targets"`
}

// ReportConfig records how the numbers were taken.
type ReportConfig struct {
	DurationS float64  `json:"duration_s"`
	WarmupS   float64  `json:"warmup_s"`
	Runs      int      `json:"runs"`
	Quick     bool     `json:"quick"`
	H2load    string   `json:"h2load"`
	Download  string   `json:"download,omitempty"`
	Servers   []string `json:"servers"`
	Scenarios []string `json:"scenarios"`
}

// ScenarioResult is one table.
type ScenarioResult struct {
	Scenario
	// BaselineRow is the server of the row the ratios are taken against
	// (the faster uWSGI row in static4k, gowsgi without metrics in
	// hello-metrics); "" when there is none.
	BaselineRow   string `json:"baseline_row,omitempty"`
	BaselineLabel string `json:"baseline_label,omitempty"`
	Rows          []Row  `json:"results"`
}

// Row is one server in one scenario: its median run and all runs.
type Row struct {
	Server string `json:"server"`
	Label  string `json:"label"`
	// Status is the worst status over the runs: one starved run out of
	// three makes the row STARVED.
	Status string `json:"status"`
	Reason string `json:"reason,omitempty"`
	Note   string `json:"note,omitempty"`
	// RatioToUWSGI is median req/s (MB/s for downloads) over uWSGI's in the
	// same run: the faster uWSGI row where there are several (nil when
	// either is missing, or the scenario has no uWSGI baseline).
	RatioToUWSGI *float64 `json:"ratio_to_uwsgi"`
	// RatioToBaseline is the same against the scenario's baseline row:
	// uWSGI's, or another (hello-metrics: gowsgi without metrics).
	RatioToBaseline *float64 `json:"ratio_to_baseline,omitempty"`
	Median          Run      `json:"median"`
	Runs            []Run    `json:"runs"`
}

// ok reports whether the row may count: measured, and fair to every client.
func (r Row) ok() bool { return r.Status == statusOK }

var statusRank = map[string]int{statusOK: 0, statusStarved: 1, statusFailed: 2, statusMissing: 3, statusNotBuilt: 3}

// aggregate picks the median run by req/s (the lower middle one for an even
// count) and the worst status over all runs.
func aggregate(s Server, runs []Run) Row {
	sorted := slices.Clone(runs)
	slices.SortStableFunc(sorted, func(a, b Run) int { return cmp.Compare(a.rate(), b.rate()) })
	med := sorted[(len(sorted)-1)/2]
	row := Row{Server: s.Name, Label: s.Label, Median: med, Runs: runs, Status: med.Status, Note: med.Note}
	var reasons []string
	for _, r := range runs {
		if statusRank[r.Status] > statusRank[row.Status] {
			row.Status = r.Status
		}
		if r.Reason != "" {
			reason := r.Reason
			if len(runs) > 1 && r.Status != statusNotBuilt && r.Status != statusMissing {
				reason = fmt.Sprintf("run %d: %s", r.Run, r.Reason)
			}
			if !slices.Contains(reasons, reason) {
				reasons = append(reasons, reason)
			}
		}
	}
	row.Reason = strings.Join(reasons, "; ")
	return row
}

// setRatios picks the baseline row and fills RatioToBaseline (and
// RatioToUWSGI when the baseline is uWSGI) for every measured row.
func setRatios(sr *ScenarioResult) {
	base, ok := baselineRow(*sr)
	sr.BaselineRow, sr.BaselineLabel = "", ""
	if ok {
		sr.BaselineRow, sr.BaselineLabel = base.Server, base.Label
	}
	uwsgiBase := ok && isUWSGI(base.Server)
	for i := range sr.Rows {
		r := &sr.Rows[i]
		r.RatioToUWSGI, r.RatioToBaseline = nil, nil
		if ok && r.Median.measured() && r.Median.rate() > 0 {
			v := r.Median.rate() / base.Median.rate()
			r.RatioToBaseline = &v
			if uwsgiBase {
				u := v
				r.RatioToUWSGI = &u
			}
		}
	}
}

// isUWSGI reports whether server is uWSGI or one of its variants.
func isUWSGI(server string) bool { return serverByName(server).base() == "uwsgi" }

// baselineRow returns the row the ratios are taken against: the scenario's
// Baseline server, or else the fastest measured uWSGI row, an OK one before
// any other (a starved run is no yardstick when a fair one exists).
func baselineRow(sr ScenarioResult) (Row, bool) {
	var best Row
	found := false
	for _, r := range sr.Rows {
		if !r.Median.measured() || r.Median.rate() <= 0 {
			continue
		}
		if sr.Baseline != "" && r.Server != sr.Baseline || sr.Baseline == "" && !isUWSGI(r.Server) {
			continue
		}
		if !found || r.ok() && !best.ok() || r.ok() == best.ok() && r.Median.rate() > best.Median.rate() {
			best, found = r, true
		}
	}
	return best, found
}

// uwsgiRows counts the uWSGI rows (uwsgi and its variants).
func uwsgiRows(sr ScenarioResult) int {
	n := 0
	for _, r := range sr.Rows {
		if isUWSGI(r.Server) {
			n++
		}
	}
	return n
}

// baselineIsUWSGI reports whether the scenario's ratios are against uWSGI.
func (sr ScenarioResult) baselineIsUWSGI() bool { return sr.Baseline == "" }

func (sr ScenarioResult) row(server string) (Row, bool) {
	for _, r := range sr.Rows {
		if r.Server == server {
			return r, true
		}
	}
	return Row{}, false
}

func (rep *Report) scenario(name string) (ScenarioResult, bool) {
	for _, s := range rep.Scenarios {
		if s.Name == name {
			return s, true
		}
	}
	return ScenarioResult{}, false
}

// writeOutputs writes latest.json, latest.md and latest.svg into dir,
// each through a temporary file so a reader never sees half a file.
func writeOutputs(rep *Report, dir string) error {
	js, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	files := map[string][]byte{
		"latest.json": append(js, '\n'),
		"latest.md":   []byte(markdown(rep)),
		"latest.svg":  []byte(chartSVG(rep)),
	}
	for name, data := range files {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path+".tmp", data, 0o644); err != nil {
			return err
		}
		if err := os.Rename(path+".tmp", path); err != nil {
			return err
		}
	}
	return nil
}

// markdown renders the report: one table per scenario.
func markdown(rep *Report) string {
	var b strings.Builder
	m := rep.Machine
	fmt.Fprintf(&b, "# gowsgi benchmark\n\n")
	fmt.Fprintf(&b, "Generated %v (finished %v). %d run(s) of %gs per server and scenario after a %gs warm-up; "+
		"the median run by req/s is shown, and a row's status is the worst of its runs.%s\n\n",
		rep.Generated.Format(time.RFC3339), rep.Finished.Format("15:04:05Z"), rep.Config.Runs, rep.Config.DurationS, rep.Config.WarmupS,
		map[bool]string{true: " **Quick smoke run: not for comparisons.**", false: ""}[rep.Config.Quick])
	fmt.Fprintf(&b, "Machine: %d cores (%s), kernel %s, %d MiB; load average before %s, after %s. "+
		"Server and h2load share the cores; compare ratios within this run only.\n\n",
		m.NProc, m.CPU, m.Kernel, m.MemTotalMiB, m.LoadBefore, m.LoadAfter)
	fmt.Fprintf(&b, "Versions: %s.", versionsLine(m.Versions))
	if m.Gowsgi != nil {
		fmt.Fprintf(&b, " gowsgi binary %s (sha256 %s…, built %s).", m.Gowsgi.Path, m.Gowsgi.SHA256[:12],
			m.Gowsgi.Modified.Format("2006-01-02 15:04 MST"))
	}
	if m.GitCommit != "" {
		fmt.Fprintf(&b, " Checkout %s.", m.GitCommit)
	}
	fmt.Fprintf(&b, "\n\nLoad: `%s`.\n\n", rep.Config.H2load)
	if m.Gowsgi != nil {
		var all []Run
		for _, sc := range rep.Scenarios {
			if r, ok := sc.row("gowsgi"); ok {
				all = append(all, r.Runs...)
			}
		}
		if builds := binaries(all); len(builds) > 1 {
			fmt.Fprintf(&b, "**The gowsgi binary was rebuilt during this benchmark** (sha256 %s): its rows mix builds.\n\n",
				strings.Join(builds, ", "))
		}
	}
	if n, total, worst := disturbedRuns(rep); n > 0 {
		fmt.Fprintf(&b, "**Busy machine:** in %d of %d runs other processes used more than %.2g cores during the load "+
			"(worst %.1f of %d); such runs are marked \"busy: N\" (cores) under the tables. "+
			"Those numbers are unreliable; rerun when the machine is quiet.\n\n",
			n, total, disturbedCores, worst, m.NProc)
	}
	fmt.Fprintf(&b, "Statuses: **STARVED** = some client got 0 req/s or waited ≥ 1 s for its first byte; "+
		"**FAILED** = a failed request, no request at all, or the server did not start. "+
		"Such a row never counts as a win: its ratio is struck through.\n")

	for _, sc := range rep.Scenarios {
		fmt.Fprintf(&b, "\n## %s — %s\n\n", sc.Name, sc.Title)
		b.WriteString(scenarioLine(sc.Scenario) + "\n\n")
		cols := tableColumns(sc)
		var head, align []string
		for _, c := range cols {
			head = append(head, c.head)
			align = append(align, c.align)
		}
		fmt.Fprintf(&b, "| server | %s | status |\n", strings.Join(head, " | "))
		fmt.Fprintf(&b, "|---|%s|---|\n", strings.Join(align, "|"))
		var notes []string
		for _, r := range sc.Rows {
			md := r.Median
			label := r.Label
			status := r.Status
			if status != statusOK {
				status = "**" + status + "**"
			}
			cells := make([]string, len(cols))
			for i, c := range cols {
				cells[i] = "—"
				if md.measured() {
					cells[i] = c.cell(r)
				}
			}
			fmt.Fprintf(&b, "| %s | %s | %s |\n", label, strings.Join(cells, " | "), status)
			if r.Note != "" {
				notes = append(notes, fmt.Sprintf("%s: %s", r.Label, r.Note))
			}
			if r.Reason != "" {
				notes = append(notes, fmt.Sprintf("%s %s: %s", r.Label, r.Status, r.Reason))
			}
			if builds := binaries(r.Runs); len(builds) > 1 {
				notes = append(notes, fmt.Sprintf("%s: **the binary changed between runs** (sha256 %s): rebuilt during the benchmark",
					r.Label, strings.Join(builds, ", ")))
			}
			if len(r.Runs) > 1 && md.measured() {
				var per []string
				for _, run := range r.Runs {
					v := thousands(run.rate())
					if run.measured() && run.OtherCores > disturbedCores {
						v += fmt.Sprintf(" (busy: %.1f)", run.OtherCores)
					}
					per = append(per, v)
				}
				notes = append(notes, fmt.Sprintf("%s %s per run: %s", r.Label, sc.unit(), strings.Join(per, "; ")))
			} else if md.measured() && md.OtherCores > disturbedCores {
				notes = append(notes, fmt.Sprintf("%s: busy machine: other processes used %.1f cores during the run (server %.1f, %s %.1f)",
					r.Label, md.OtherCores, md.ServerCores, loadGenerator(sc.Scenario), md.H2loadCores))
			}
		}
		if sc.LimitRPS > 0 {
			notes = append(notes, fmt.Sprintf("theoretical limit: %s req/s (%d connections / 10 ms)", thousands(sc.LimitRPS), sc.Conns))
		}
		if sc.BaselineRow != "" && (sc.BaselineRow != "uwsgi" || uwsgiRows(sc) > 1) {
			notes = append(notes, fmt.Sprintf("ratios are to the row %q", sc.BaselineLabel))
		}
		notes = append(notes, sc.Notes...)
		if len(notes) > 0 {
			b.WriteString("\n")
			for _, n := range notes {
				fmt.Fprintf(&b, "- %s\n", strings.ReplaceAll(n, "\n", " "))
			}
		}
	}
	if len(rep.Targets) > 0 {
		b.WriteString("\n## gowsgi targets (informational)\n\n| target | want | measured | result |\n|---|---|---|---|\n")
		for _, t := range rep.Targets {
			fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", t.Name, t.Want, t.Measured, t.Result)
		}
	}
	return b.String()
}

// scenarioLine says in one sentence what the scenario loads and how.
func scenarioLine(sc Scenario) string {
	req := fmt.Sprintf("`%s %s`", sc.Method, sc.Path)
	if sc.BodyBytes > 0 {
		req += fmt.Sprintf(" with a %s body", sizeText(sc.BodyBytes))
	}
	what := "response"
	switch {
	case sc.StaticBytes > 0:
		what = "file from the static map"
	case sc.FileBytes > 0:
		what = "file through wsgi.file_wrapper, with Content-Length"
	}
	load := fmt.Sprintf("%d connections", sc.Conns)
	if sc.downloads() {
		load = fmt.Sprintf("%d concurrent downloads (Go net/http, bodies discarded)", sc.Clients)
	}
	return fmt.Sprintf("%s → %s %s; %s; Python servers: %d process(es) × %d threads.",
		req, sizeText(sc.ExpectBytes), what, load, sc.Procs, sc.Threads)
}

// loadGenerator names what loads the server in a scenario.
func loadGenerator(sc Scenario) string {
	if sc.downloads() {
		return "download client"
	}
	return "h2load"
}

// column is one figure of a scenario table.
type column struct {
	head, align string
	cell        func(Row) string
}

// tableColumns lists the figures of a scenario's table (besides the server
// and the status): those of h2load, plus requests per CPU-second where the
// scenario asks for it, or those of the download client.
func tableColumns(sc ScenarioResult) []column {
	vs := "vs uWSGI"
	if !sc.baselineIsUWSGI() {
		vs = "vs " + sc.BaselineLabel
		if sc.BaselineLabel == "" {
			vs = "vs " + sc.Baseline
		}
	}
	ratio := column{vs, "---:", func(r Row) string {
		if r.RatioToBaseline == nil {
			return "—"
		}
		v := fmt.Sprintf("%.2fx", *r.RatioToBaseline)
		if !r.ok() {
			v = "~~" + v + "~~"
		}
		return v
	}}
	num := func(head string, f func(Run) string) column {
		return column{head, "---:", func(r Row) string { return f(r.Median) }}
	}
	mib := func(v float64) string { return fmt.Sprintf("%.1f", v) }
	if sc.downloads() {
		return []column{
			num("MB/s", func(m Run) string { return thousands(m.MBPerSec) }),
			ratio,
			num("downloads", func(m Run) string { return fmt.Sprint(m.Downloads) }),
			num("mean download", func(m Run) string { return fmtMs(m.MeanLatencyMs) }),
			num("max download", func(m Run) string { return fmtMs(m.MaxLatencyMs) }),
			num("slowest client MB/s", func(m Run) string { return thousands(m.SlowestClientMBPerSec) }),
			num("max time to head", func(m Run) string { return fmtMs(m.MaxTTFBMs) }),
			num("failed", func(m Run) string { return fmt.Sprint(m.Failed) }),
			num("idle RSS MiB", func(m Run) string { return mib(m.IdleRSSMiB) }),
			num("peak RSS MiB", func(m Run) string { return mib(m.PeakRSSMiB) }),
			num("RSS growth MiB", func(m Run) string { return mib(m.RSSGrowthMiB) }),
		}
	}
	cols := []column{num("req/s", func(m Run) string { return thousands(m.ReqPerSec) }), ratio}
	if sc.CPUColumn {
		cols = append(cols, num("req per CPU-s", func(m Run) string {
			if m.ReqPerCPUSecond == 0 {
				return "—"
			}
			return thousands(m.ReqPerCPUSecond)
		}))
	}
	return append(cols,
		num("mean latency", func(m Run) string { return fmtMs(m.MeanLatencyMs) }),
		num("max latency", func(m Run) string { return fmtMs(m.MaxLatencyMs) }),
		num("slowest client req/s", func(m Run) string { return thousands(m.SlowestClientRPS) }),
		num("max TTFB", func(m Run) string { return fmtMs(m.MaxTTFBMs) }),
		num("failed", func(m Run) string { return fmt.Sprint(m.Failed) }),
		num("idle RSS MiB", func(m Run) string { return mib(m.IdleRSSMiB) }),
		num("idle PSS MiB", func(m Run) string { return mib(m.IdlePSSMiB) }),
		num("peak RSS MiB", func(m Run) string { return mib(m.PeakRSSMiB) }),
	)
}

func versionsLine(v map[string]string) string {
	order := []string{"go", "h2load", "python", "uwsgi", "gunicorn", "waitress", "flask", "fasthttp", "nginx", "gowsgi"}
	var out []string
	for _, k := range order {
		if v[k] != "" {
			out = append(out, k+" "+v[k])
		}
	}
	for k, val := range v {
		if !slices.Contains(order, k) && val != "" {
			out = append(out, k+" "+val)
		}
	}
	return strings.Join(out, ", ")
}

// thousands formats a rate: 43700.2 → "43,700"; small rates keep a decimal.
func thousands(v float64) string {
	if v < 100 && v != math.Trunc(v) {
		return fmt.Sprintf("%.1f", v)
	}
	s := fmt.Sprintf("%.0f", v)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var out []byte
	for i, c := range []byte(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, c)
	}
	if neg {
		return "-" + string(out)
	}
	return string(out)
}

// fmtMs formats milliseconds: "620 µs", "2.48 ms", "58.1 ms", "3.00 s".
func fmtMs(v float64) string {
	switch {
	case v == 0:
		return "0"
	case v < 1:
		return fmt.Sprintf("%.0f µs", v*1000)
	case v < 10:
		return fmt.Sprintf("%.2f ms", v)
	case v < 1000:
		return fmt.Sprintf("%.1f ms", v)
	default:
		return fmt.Sprintf("%.2f s", v/1000)
	}
}

func sizeText(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	default:
		return fmt.Sprintf("%d B", n)
	}
}

// disturbedCores is how much CPU other processes may use during a run before
// the run counts as disturbed.
const disturbedCores = 0.25

// disturbedRuns counts measured runs during which other processes used more
// than disturbedCores, and returns the worst figure.
func disturbedRuns(rep *Report) (n, total int, worst float64) {
	for _, sc := range rep.Scenarios {
		for _, r := range sc.Rows {
			for _, run := range r.Runs {
				if !run.measured() {
					continue
				}
				total++
				if run.OtherCores > disturbedCores {
					n++
				}
				worst = max(worst, run.OtherCores)
			}
		}
	}
	return n, total, worst
}

// binaries lists the distinct binary hashes the runs recorded, in order.
func binaries(runs []Run) []string {
	var out []string
	for _, r := range runs {
		if r.Binary != "" && !slices.Contains(out, r.Binary) {
			out = append(out, r.Binary)
		}
	}
	return out
}
