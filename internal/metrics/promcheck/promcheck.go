// Package promcheck parses the Prometheus text exposition format (0.0.4)
// strictly, for tests: the grammar of every line, HELP and TYPE placement,
// families kept together, no duplicate series, counters that are counters
// and histograms that are consistent. The upstream parser
// (prometheus/common/expfmt) cannot be built here: its module needs
// github.com/pandatix/go-abnf, which the module proxy refuses.
package promcheck

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
)

// Sample is one sample line.
type Sample struct {
	Name   string
	Labels map[string]string
	Value  float64
}

// Family is one metric family.
type Family struct {
	Name    string
	Type    string // counter, gauge, histogram, summary or untyped
	Help    string
	Samples []Sample
}

// Parse parses and checks text; the families are keyed by name.
func Parse(text string) (map[string]*Family, error) {
	p := &parser{families: map[string]*Family{}, series: map[string]bool{}, closed: map[string]bool{}}
	if text != "" && !strings.HasSuffix(text, "\n") {
		return nil, fmt.Errorf("the exposition does not end with a newline")
	}
	for i, line := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		if err := p.line(line); err != nil {
			return nil, fmt.Errorf("line %d %q: %w", i+1, line, err)
		}
	}
	for _, f := range p.families {
		if err := check(f); err != nil {
			return nil, fmt.Errorf("family %s: %w", f.Name, err)
		}
	}
	return p.families, nil
}

type parser struct {
	families map[string]*Family
	current  string          // the family of the last line
	closed   map[string]bool // families whose lines have ended
	series   map[string]bool
}

// family returns the family a line about name belongs to, checking that
// the lines of one family are not interleaved with another's.
func (p *parser) family(name string) (*Family, error) {
	if p.current != name {
		if p.current != "" {
			p.closed[p.current] = true
		}
		if p.closed[name] {
			return nil, fmt.Errorf("lines of family %s are not together", name)
		}
		p.current = name
	}
	f := p.families[name]
	if f == nil {
		f = &Family{Name: name, Type: "untyped"}
		p.families[name] = f
	}
	return f, nil
}

func (p *parser) line(line string) error {
	switch {
	case line == "":
		return nil
	case strings.HasPrefix(line, "# HELP "), strings.HasPrefix(line, "# TYPE "):
		rest := line[len("# HELP "):]
		name, arg, _ := strings.Cut(rest, " ")
		if !validName(name) {
			return fmt.Errorf("bad metric name %q", name)
		}
		f, err := p.family(name)
		if err != nil {
			return err
		}
		if strings.HasPrefix(line, "# HELP ") {
			if f.Help != "" {
				return fmt.Errorf("second HELP for %s", name)
			}
			help, err := unescape(arg, false)
			if err != nil {
				return err
			}
			f.Help = help
			return nil
		}
		if len(f.Samples) > 0 {
			return fmt.Errorf("TYPE of %s after its samples", name)
		}
		switch arg {
		case "counter", "gauge", "histogram", "summary", "untyped":
		default:
			return fmt.Errorf("unknown type %q", arg)
		}
		f.Type = arg
		return nil
	case strings.HasPrefix(line, "#"):
		return nil // a comment
	}
	s, err := parseSample(line)
	if err != nil {
		return err
	}
	fname := s.Name
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		base := strings.TrimSuffix(s.Name, suffix)
		if base != s.Name {
			if f := p.families[base]; f != nil && (f.Type == "histogram" || f.Type == "summary") {
				fname = base
			}
		}
	}
	f, err := p.family(fname)
	if err != nil {
		return err
	}
	key := seriesKey(s)
	if p.series[key] {
		return fmt.Errorf("duplicate series %s", key)
	}
	p.series[key] = true
	f.Samples = append(f.Samples, s)
	return nil
}

func parseSample(line string) (Sample, error) {
	s := Sample{Labels: map[string]string{}}
	i := 0
	for i < len(line) && line[i] != '{' && line[i] != ' ' {
		i++
	}
	s.Name = line[:i]
	if !validName(s.Name) {
		return s, fmt.Errorf("bad metric name %q", s.Name)
	}
	rest := line[i:]
	if strings.HasPrefix(rest, "{") {
		rest = rest[1:]
		for {
			if strings.HasPrefix(rest, "}") {
				rest = rest[1:]
				break
			}
			eq := strings.IndexByte(rest, '=')
			if eq < 0 {
				return s, fmt.Errorf("label without '='")
			}
			name := rest[:eq]
			if !validLabelName(name) {
				return s, fmt.Errorf("bad label name %q", name)
			}
			if _, dup := s.Labels[name]; dup {
				return s, fmt.Errorf("label %q twice", name)
			}
			rest = rest[eq+1:]
			if !strings.HasPrefix(rest, `"`) {
				return s, fmt.Errorf("label %s: value not quoted", name)
			}
			end := closingQuote(rest)
			if end < 0 {
				return s, fmt.Errorf("label %s: unterminated value", name)
			}
			v, err := unescape(rest[1:end], true)
			if err != nil {
				return s, err
			}
			s.Labels[name] = v
			rest = rest[end+1:]
			if strings.HasPrefix(rest, ",") {
				rest = rest[1:]
			} else if !strings.HasPrefix(rest, "}") {
				return s, fmt.Errorf("after label %s: want ',' or '}'", name)
			}
		}
	}
	if !strings.HasPrefix(rest, " ") {
		return s, fmt.Errorf("no space before the value")
	}
	fields := strings.Split(rest[1:], " ")
	if len(fields) < 1 || len(fields) > 2 || fields[0] == "" {
		return s, fmt.Errorf("want a value and at most a timestamp")
	}
	v, err := parseValue(fields[0])
	if err != nil {
		return s, err
	}
	s.Value = v
	if len(fields) == 2 {
		if _, err := strconv.ParseInt(fields[1], 10, 64); err != nil {
			return s, fmt.Errorf("bad timestamp %q", fields[1])
		}
	}
	return s, nil
}

func closingQuote(s string) int {
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '"':
			return i
		}
	}
	return -1
}

// unescape undoes the escapes of HELP texts (\\ and \n) and label values
// (also \"); any other escape is an error.
func unescape(s string, quote bool) (string, error) {
	if !strings.Contains(s, `\`) {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			b.WriteByte(s[i])
			continue
		}
		if i+1 >= len(s) {
			return "", fmt.Errorf("lone backslash")
		}
		i++
		switch s[i] {
		case '\\':
			b.WriteByte('\\')
		case 'n':
			b.WriteByte('\n')
		case '"':
			if !quote {
				return "", fmt.Errorf(`\" in a HELP text`)
			}
			b.WriteByte('"')
		default:
			return "", fmt.Errorf("bad escape \\%c", s[i])
		}
	}
	return b.String(), nil
}

func parseValue(s string) (float64, error) {
	switch s {
	case "+Inf":
		return math.Inf(1), nil
	case "-Inf":
		return math.Inf(-1), nil
	case "NaN":
		return math.NaN(), nil
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || strings.ContainsAny(s, "_xXpP") || strings.EqualFold(s, "inf") || strings.EqualFold(s, "infinity") {
		return 0, fmt.Errorf("bad value %q", s)
	}
	return v, nil
}

func validName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || c == ':' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

func validLabelName(s string) bool {
	return validName(s) && !strings.Contains(s, ":") && !strings.HasPrefix(s, "__")
}

func seriesKey(s Sample) string {
	keys := make([]string, 0, len(s.Labels))
	for k := range s.Labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString(s.Name)
	for _, k := range keys {
		fmt.Fprintf(&b, ",%s=%q", k, s.Labels[k])
	}
	return b.String()
}

// check applies the rules of the family's type.
func check(f *Family) error {
	switch f.Type {
	case "counter":
		for _, s := range f.Samples {
			if s.Name != f.Name {
				return fmt.Errorf("sample %s in counter family", s.Name)
			}
			if s.Value < 0 || math.IsNaN(s.Value) {
				return fmt.Errorf("counter %s is %v", seriesKey(s), s.Value)
			}
		}
	case "gauge":
		for _, s := range f.Samples {
			if s.Name != f.Name {
				return fmt.Errorf("sample %s in gauge family", s.Name)
			}
		}
	case "histogram":
		return checkHistogram(f)
	}
	return nil
}

// checkHistogram checks each series of a histogram: buckets with
// increasing bounds and non-decreasing counts, a +Inf bucket equal to
// _count, and a _sum.
func checkHistogram(f *Family) error {
	type series struct {
		bounds   []float64
		counts   []float64
		sum      *float64
		count    *float64
		hasBound map[float64]bool
	}
	all := map[string]*series{}
	get := func(s Sample) *series {
		labels := map[string]string{}
		for k, v := range s.Labels {
			if k != "le" {
				labels[k] = v
			}
		}
		key := seriesKey(Sample{Labels: labels})
		if all[key] == nil {
			all[key] = &series{hasBound: map[float64]bool{}}
		}
		return all[key]
	}
	for _, s := range f.Samples {
		sr := get(s)
		v := s.Value
		switch s.Name {
		case f.Name + "_bucket":
			le, ok := s.Labels["le"]
			if !ok {
				return fmt.Errorf("bucket without le")
			}
			bound, err := parseValue(le)
			if err != nil || math.IsNaN(bound) {
				return fmt.Errorf("bad le %q", le)
			}
			if n := len(sr.bounds); n > 0 && bound <= sr.bounds[n-1] {
				return fmt.Errorf("bucket le=%q does not follow le=%v", le, sr.bounds[n-1])
			}
			if n := len(sr.counts); n > 0 && v < sr.counts[n-1] {
				return fmt.Errorf("bucket le=%q has %v, fewer than the one before (%v)", le, v, sr.counts[n-1])
			}
			sr.bounds = append(sr.bounds, bound)
			sr.counts = append(sr.counts, v)
		case f.Name + "_sum":
			sr.sum = &v
		case f.Name + "_count":
			sr.count = &v
		default:
			return fmt.Errorf("sample %s in histogram family", s.Name)
		}
	}
	for key, sr := range all {
		n := len(sr.bounds)
		if n == 0 || !math.IsInf(sr.bounds[n-1], 1) {
			return fmt.Errorf("series %s has no +Inf bucket", key)
		}
		if sr.count == nil || *sr.count != sr.counts[n-1] {
			return fmt.Errorf("series %s: _count %v differs from the +Inf bucket %v", key, sr.count, sr.counts[n-1])
		}
		if sr.sum == nil {
			return fmt.Errorf("series %s has no _sum", key)
		}
	}
	return nil
}

// Value returns the value of the sample of family name with exactly the
// given labels (name, value pairs), and whether it exists.
func Value(fams map[string]*Family, name string, labels ...string) (float64, bool) {
	base := name
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		if b := strings.TrimSuffix(name, suffix); b != name && fams[b] != nil {
			base = b
		}
	}
	f := fams[base]
	if f == nil {
		return 0, false
	}
	want := map[string]string{}
	for i := 0; i+1 < len(labels); i += 2 {
		want[labels[i]] = labels[i+1]
	}
	for _, s := range f.Samples {
		if s.Name != name || len(s.Labels) != len(want) {
			continue
		}
		match := true
		for k, v := range want {
			if s.Labels[k] != v {
				match = false
				break
			}
		}
		if match {
			return s.Value, true
		}
	}
	return 0, false
}
