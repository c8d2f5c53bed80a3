// Package h2load parses the text report that h2load (nghttp2) prints at the
// end of a run.
//
// The parts used by the benchmark look like this (nghttp2 1.52):
//
//	finished in 3.01s, 30016.67 req/s, 2.23MB/s
//	requests: 90050 total, 90114 started, 90050 done, 90050 succeeded, 0 failed, 0 errored, 0 timeout
//	status codes: 90050 2xx, 0 3xx, 0 4xx, 0 5xx
//	traffic: 6.70MB (7023900) total, 3.26MB (3422014) headers (space savings 0.00%), 1.12MB (1170689) data
//	                     min         max         mean         sd        +/- sd
//	time for request:       18us       3.00s       133us     14.13ms   100.00%
//	time for connect:        3us       186us       100us        51us    59.38%
//	time to 1st byte:      621us       3.00s       1.50s       1.73s   100.00%
//	req/s           :       0.00    21161.20      468.73     2849.44    96.88%
//
// "time for connect" and "time to 1st byte" are per client (connection), not
// per request, and "req/s" under them is the rate each client achieved: its
// minimum is the slowest client. h2load 1.52 resets the connect and first-byte
// figures at the end of --warm-up-time, so they read 0us when a warm-up is
// used.
package h2load

import (
	"bufio"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Result is what one h2load run reported.
type Result struct {
	// Elapsed is the "finished in" time (warm-up included, if any).
	Elapsed time.Duration
	// ReqPerSec is the overall rate over the measured duration.
	ReqPerSec float64

	// Request counts from the "requests:" line. Failed includes non-2xx/3xx
	// responses and Errored; Errored includes Timeout.
	Total, Started, Done, Succeeded, Failed, Errored, Timeout int64
	// Status counts from the "status codes:" line.
	Status2xx, Status3xx, Status4xx, Status5xx int64
	// TrafficBytes is the total received on the wire ("traffic:" line).
	TrafficBytes int64

	// Request is "time for request" (per request).
	Request TimeStats
	// Connect is "time for connect" (per client).
	Connect TimeStats
	// TTFB is "time to 1st byte" (per client).
	TTFB TimeStats
	// ClientRate is "req/s" per client; ClientRate.Min is the slowest client.
	ClientRate RateStats
}

// TimeStats is one row of h2load's min/max/mean/sd timing table.
type TimeStats struct {
	Min, Max, Mean, SD time.Duration
	// WithinSD is the "+/- sd" column in percent.
	WithinSD float64
}

// RateStats is the per-client "req/s" row.
type RateStats struct {
	Min, Max, Mean, SD float64
	// WithinSD is the "+/- sd" column in percent.
	WithinSD float64
}

// Parse reads h2load's report from its combined output. It fails when any of
// the summary lines the benchmark relies on is missing or malformed.
func Parse(output string) (Result, error) {
	var r Result
	seen := map[string]bool{}
	sc := bufio.NewScanner(strings.NewReader(output))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		var err error
		key := ""
		switch {
		case strings.HasPrefix(line, "finished in "):
			key = "finished"
			err = parseFinished(line, &r)
		case strings.HasPrefix(line, "requests:"):
			key = "requests"
			err = parseCounts(line, "requests:", map[string]*int64{
				"total": &r.Total, "started": &r.Started, "done": &r.Done,
				"succeeded": &r.Succeeded, "failed": &r.Failed,
				"errored": &r.Errored, "timeout": &r.Timeout,
			})
		case strings.HasPrefix(line, "status codes:"):
			key = "status"
			err = parseCounts(line, "status codes:", map[string]*int64{
				"2xx": &r.Status2xx, "3xx": &r.Status3xx, "4xx": &r.Status4xx, "5xx": &r.Status5xx,
			})
		case strings.HasPrefix(line, "traffic:"):
			key = "traffic"
			err = parseTraffic(line, &r)
		case strings.HasPrefix(line, "time for request:"):
			key = "request"
			r.Request, err = parseTimeRow(line)
		case strings.HasPrefix(line, "time for connect:"):
			key = "connect"
			r.Connect, err = parseTimeRow(line)
		case strings.HasPrefix(line, "time to 1st byte:"):
			key = "ttfb"
			r.TTFB, err = parseTimeRow(line)
		case strings.HasPrefix(line, "req/s") && strings.Contains(line, ":"):
			key = "rate"
			r.ClientRate, err = parseRateRow(line)
		default:
			continue
		}
		if err != nil {
			return r, fmt.Errorf("h2load: %w in line %q", err, line)
		}
		seen[key] = true
	}
	if err := sc.Err(); err != nil {
		return r, fmt.Errorf("h2load: reading output: %w", err)
	}
	for _, k := range []string{"finished", "requests", "status", "request", "ttfb", "rate"} {
		if !seen[k] {
			return r, fmt.Errorf("h2load: no %q line in the output (did h2load finish?)", k)
		}
	}
	return r, nil
}

// parseFinished reads "finished in 4.00s, 25834.00 req/s, 1.92MB/s".
func parseFinished(line string, r *Result) error {
	parts := strings.Split(strings.TrimPrefix(line, "finished in "), ",")
	if len(parts) < 2 {
		return fmt.Errorf("want 'finished in T, N req/s'")
	}
	d, err := ParseDuration(strings.TrimSpace(parts[0]))
	if err != nil {
		return err
	}
	rate, ok := strings.CutSuffix(strings.TrimSpace(parts[1]), " req/s")
	if !ok {
		return fmt.Errorf("no req/s")
	}
	v, err := strconv.ParseFloat(rate, 64)
	if err != nil {
		return err
	}
	r.Elapsed, r.ReqPerSec = d, v
	return nil
}

// parseCounts reads "PREFIX 1 total, 2 started, ..." into the named counters;
// every named counter must be present.
func parseCounts(line, prefix string, into map[string]*int64) error {
	found := 0
	for item := range strings.SplitSeq(strings.TrimPrefix(line, prefix), ",") {
		num, name, ok := strings.Cut(strings.TrimSpace(item), " ")
		if !ok {
			return fmt.Errorf("bad item %q", item)
		}
		dst, known := into[strings.TrimSpace(name)]
		if !known {
			continue
		}
		v, err := strconv.ParseInt(num, 10, 64)
		if err != nil {
			return fmt.Errorf("bad count %q: %w", item, err)
		}
		*dst = v
		found++
	}
	if found != len(into) {
		return fmt.Errorf("found %d of %d counters", found, len(into))
	}
	return nil
}

// parseTraffic reads the exact byte count in parentheses after the total:
// "traffic: 6.70MB (7023900) total, ...".
func parseTraffic(line string, r *Result) error {
	_, rest, ok := strings.Cut(line, "(")
	if !ok {
		return fmt.Errorf("no byte count")
	}
	num, _, ok := strings.Cut(rest, ")")
	if !ok {
		return fmt.Errorf("no byte count")
	}
	v, err := strconv.ParseInt(num, 10, 64)
	if err != nil {
		return err
	}
	r.TrafficBytes = v
	return nil
}

// rowFields returns the five columns after the row label's colon.
func rowFields(line string) ([]string, error) {
	_, rest, ok := strings.Cut(line, ":")
	if !ok {
		return nil, fmt.Errorf("no colon")
	}
	f := strings.Fields(rest)
	if len(f) != 5 {
		return nil, fmt.Errorf("want 5 columns, got %d", len(f))
	}
	return f, nil
}

func parsePercent(s string) (float64, error) {
	return strconv.ParseFloat(strings.TrimSuffix(s, "%"), 64)
}

func parseTimeRow(line string) (TimeStats, error) {
	var t TimeStats
	f, err := rowFields(line)
	if err != nil {
		return t, err
	}
	for i, dst := range []*time.Duration{&t.Min, &t.Max, &t.Mean, &t.SD} {
		if *dst, err = ParseDuration(f[i]); err != nil {
			return t, err
		}
	}
	t.WithinSD, err = parsePercent(f[4])
	return t, err
}

func parseRateRow(line string) (RateStats, error) {
	var s RateStats
	f, err := rowFields(line)
	if err != nil {
		return s, err
	}
	for i, dst := range []*float64{&s.Min, &s.Max, &s.Mean, &s.SD} {
		if *dst, err = strconv.ParseFloat(f[i], 64); err != nil {
			return s, err
		}
	}
	s.WithinSD, err = parsePercent(f[4])
	return s, err
}

// ParseDuration reads h2load's durations: "621us", "25.86ms", "3.00s", and
// for long runs "1m" or "2h" as well.
func ParseDuration(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("bad duration %q", s)
	}
	return d, nil
}
