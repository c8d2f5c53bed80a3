package config

import (
	"encoding/csv"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/pflag"
)

// EnvPrefix starts the environment variable of every option:
// GOWSGI_<OPTION>, the flag name in upper case with '-' as '_'.
const EnvPrefix = "GOWSGI_"

// EnvName is the environment variable that sets the flag called name.
func EnvName(name string) string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

// envLayer reads GOWSGI_<OPTION> for every settable flag, under its own
// name or an alias's. An empty variable counts as unset, because
// container tools commonly pass declared-but-empty variables. A
// repeatable flag takes a comma-separated list, quoted like a CSV record
// when an item holds a comma: GOWSGI_ENV='"HOSTS=a,b",DEBUG=0'. GOWSGI_
// variables that are near misses of an option's (typos) are returned as
// notes; internal ones are never reported.
func envLayer(f *Flags, environ, internal []string) (*layer, []Note, error) {
	l := newLayer(KindEnv, "")
	vars := map[string]string{}
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok && strings.HasPrefix(k, EnvPrefix) {
			vars[k] = v
		}
	}
	known := map[string]bool{EnvName(FlagConfig): true, EnvName(FlagIni): true}
	internalVar := map[string]bool{}
	for _, name := range internal {
		internalVar[name] = true
	}
	var errs []error
	f.Each(func(fl *pflag.Flag) {
		var set []string // the variables, among the flag's names, that are set
		for _, name := range f.Names(fl.Name) {
			known[EnvName(name)] = true
			if vars[EnvName(name)] != "" {
				set = append(set, EnvName(name))
			}
		}
		switch {
		case len(set) == 0:
			return
		case len(set) > 1:
			errs = append(errs, fmt.Errorf("environment variables %s all set --%s: set only one", strings.Join(set, " and "), fl.Name))
			return
		}
		name, val := set[0], vars[set[0]]
		if !Repeatable(fl) {
			l.set(fl.Name, Setting{Key: name, Value: val})
			return
		}
		items, err := splitList(val)
		if err != nil {
			errs = append(errs, fmt.Errorf("environment variable %s = %q: %v", name, val, err))
			return
		}
		for _, it := range items {
			l.add(fl.Name, Setting{Key: name, Value: it})
		}
	})
	var notes []Note
	var candidates []string
	for k := range known {
		candidates = append(candidates, k)
	}
	// Only near misses are reported: a variable nothing like an option's
	// name is more likely some other tool's than a typo.
	for _, k := range sortedKeys(vars) {
		if known[k] || internalVar[k] {
			continue
		}
		if s := suggest(k, candidates); s != "" {
			notes = append(notes, Note{Where: "environment", Key: k, Kind: NoteUnknown,
				Reason: fmt.Sprintf("names no gowsgi option (did you mean %s?)", s)})
		}
	}
	return l, notes, errors.Join(errs...)
}

// splitList splits a list given in one environment variable.
func splitList(s string) ([]string, error) {
	r := csv.NewReader(strings.NewReader(s))
	r.FieldsPerRecord = -1
	r.LazyQuotes = false
	rec, err := r.Read()
	if err != nil {
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, fmt.Errorf("not a comma-separated list: %v", err)
	}
	if extra, err := r.Read(); err == nil || len(extra) > 0 {
		return nil, errors.New("not a comma-separated list: it spans several lines")
	}
	return rec, nil
}
