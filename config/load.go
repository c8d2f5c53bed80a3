package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"

	"github.com/spf13/pflag"
)

// Note kinds: what happened to an option a source gave that sets no flag.
const (
	NoteIgnored     = "ignored"     // meaningless here, by design
	NoteUnsupported = "unsupported" // a feature gowsgi (or this build) lacks
	NoteUnknown     = "unknown"     // not an option at all (a typo?)
)

// Note is an option that was read but sets nothing.
type Note struct {
	Where  string // "app.ini:12" or "environment"
	Key    string
	Kind   string
	Reason string
}

func (n Note) String() string { return fmt.Sprintf("%s: %s: %s", n.Where, n.Key, n.Reason) }

// Sources says which configuration files to read; the environment is
// always read.
type Sources struct {
	ConfigFile string              // YAML/TOML/JSON; "" for none
	Ini        string              // "file.ini" or "file.ini:section"; "" for none
	Environ    []string            // KEY=VALUE pairs; nil means os.Environ()
	Getenv     func(string) string // for $(NAME) in ini files; nil means os.Getenv
	// Internal lists GOWSGI_ variables that gowsgi's own processes pass
	// each other (the master to its workers); they are not options and
	// are never reported as unknown.
	Internal []string
	// Settings, when not nil, stands in for ConfigFile and Ini: the
	// options a worker's master read from them (Report.Settings), so that
	// every worker runs with its master's configuration even after the
	// files changed on disk (uWSGI and gunicorn workers get it by fork).
	Settings []byte
}

// Report is the outcome of Load: where each option's value came from, and
// what was read but not used.
type Report struct {
	Sources Sources
	Origins map[string]Origin // canonical flag name -> origin
	Notes   []Note
	flags   *Flags
}

// Load gives every flag of fs that the command line did not set the
// value of its highest-precedence source: the GOWSGI_<OPTION> environment
// variable, then the configuration file, then the uWSGI ini file; flags
// no source mentions keep their defaults. Values go through each flag's
// own Set, so they are parsed and checked exactly as on the command line.
// fs must have been parsed from the command line, and nothing else may
// have set its flags yet. Load works on whatever flags fs has, so options
// added anywhere in gowsgi are configurable everywhere at once.
func Load(fs *pflag.FlagSet, src Sources) (*Report, error) {
	if src.Environ == nil {
		src.Environ = os.Environ()
	}
	if src.Getenv == nil {
		src.Getenv = os.Getenv
	}
	f := NewFlags(fs)
	r := &Report{Sources: src, flags: f}
	onCommandLine := f.ChangedOnCommandLine()

	var layers []*layer // highest precedence first
	var errs []error
	env, notes, err := envLayer(f, src.Environ, src.Internal)
	errs = append(errs, err)
	r.Notes = append(r.Notes, notes...)
	layers = append(layers, env)
	if src.Settings != nil {
		l, err := settingsLayer(f, src.Settings)
		if err != nil {
			return nil, err
		}
		layers = append(layers, l)
	} else if src.ConfigFile != "" {
		l, err := fileLayer(f, src.ConfigFile)
		if err != nil {
			errs = append(errs, err)
		} else {
			layers = append(layers, l)
		}
	}
	if src.Ini != "" && src.Settings == nil {
		l, notes, err := iniLayer(f, src.Ini, src.Getenv)
		if err != nil {
			errs = append(errs, err)
		} else {
			layers = append(layers, l)
			r.Notes = append(r.Notes, notes...)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	r.Origins, err = f.apply(onCommandLine, layers)
	if err != nil {
		return nil, err
	}
	return r, nil
}

// flagMention finds the flags an error message names ("--threads 0: ...").
var flagMention = regexp.MustCompile(`--([a-z0-9][a-z0-9-]*)`)

// Explain adds to each line of a validation error the source of the
// options it names when they did not come from the command line, so that
// "--max-head-bytes 4096 must be larger than ..." points at buffer-size
// on line 9 of the ini file that set it.
func (r *Report) Explain(err error) error {
	if err == nil || r == nil {
		return err
	}
	lines := strings.Split(err.Error(), "\n")
	changed := false
	for i, line := range lines {
		var from []string
		seen := map[string]bool{}
		for _, m := range flagMention.FindAllStringSubmatch(line, -1) {
			name := r.flags.Canonical(m[1])
			o, ok := r.Origins[name]
			if !ok || seen[name] || o.Kind == KindFlag || o.Kind == KindDefault {
				continue
			}
			seen[name] = true
			from = append(from, fmt.Sprintf("--%s from %s", name, o))
		}
		if len(from) > 0 {
			lines[i] = line + " (" + strings.Join(from, ", ") + ")"
			changed = true
		}
	}
	if !changed {
		return err
	}
	return errors.New(strings.Join(lines, "\n"))
}

// Print writes the merged options as a YAML document that --config can
// read back, each line commented with where the value came from, followed
// by the options that were read but not used.
func (r *Report) Print(w io.Writer) {
	fmt.Fprintln(w, "# gowsgi --print-config: the merged options (flags > environment > config file > ini file > defaults)")
	if r.Sources.ConfigFile != "" {
		fmt.Fprintf(w, "# config file: %s\n", r.Sources.ConfigFile)
	}
	if r.Sources.Ini != "" {
		fmt.Fprintf(w, "# ini file: %s\n", r.Sources.Ini)
	}
	r.flags.Each(func(fl *pflag.Flag) {
		fmt.Fprintf(w, "%s: %s  # %s\n", fl.Name, yamlValue(fl), r.Origins[fl.Name])
	})
	for _, n := range r.Notes {
		fmt.Fprintf(w, "# %s %s\n", n.Kind, n)
	}
}

// Settings renders the options whose values came from the configuration
// file or the ini file as YAML for Sources.Settings, or returns nil when
// there were no files. Flags and GOWSGI_ variables are not in it: a worker
// has the same ones.
func (r *Report) Settings() []byte {
	if r.Sources.ConfigFile == "" && r.Sources.Ini == "" && r.Sources.Settings == nil {
		return nil
	}
	var b bytes.Buffer
	b.WriteString("# the options gowsgi read from its configuration files\n")
	r.flags.Each(func(fl *pflag.Flag) {
		if k := r.Origins[fl.Name].Kind; k == KindFile || k == KindIni {
			fmt.Fprintf(&b, "%s: %s\n", fl.Name, yamlValue(fl))
		}
	})
	return b.Bytes()
}

// yamlValue renders a flag's value as YAML that reads back into the same
// command-line value: numbers and booleans bare, everything else as a
// JSON string (valid YAML), lists as flow sequences.
func yamlValue(fl *pflag.Flag) string {
	if sv, ok := fl.Value.(pflag.SliceValue); ok {
		items := sv.GetSlice()
		quoted := make([]string, len(items))
		for i, s := range items {
			quoted[i] = jsonString(s)
		}
		return "[" + strings.Join(quoted, ", ") + "]"
	}
	s := fl.Value.String()
	switch fl.Value.Type() {
	case "bool", "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64", "float32", "float64", "count":
		return s
	}
	return jsonString(s)
}

func jsonString(s string) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // "<" stays "<", not "\u003c"
	enc.Encode(s)            // a string always encodes
	return strings.TrimSuffix(b.String(), "\n")
}
