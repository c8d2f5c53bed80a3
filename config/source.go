package config

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/spf13/pflag"
)

// The options that locate or print the configuration. They are flags like
// the others, but a configuration file cannot set them (a file naming
// another file, or asking to be printed, would be circular).
const (
	FlagConfig      = "config"
	FlagIni         = "ini"
	FlagPrintConfig = "print-config"
	flagHelp        = "help"
)

// Kinds of Origin, from the lowest precedence to the highest.
const (
	KindDefault = "default"
	KindIni     = "ini"
	KindFile    = "file"
	KindEnv     = "env"
	KindFlag    = "flag"
)

// Origin says where an option's value came from.
type Origin struct {
	Kind  string // one of the Kind constants
	Name  string // the file path (file, ini) or environment variable (env)
	Lines []int  // ini: the lines of the file that gave the value
}

// String is the form --print-config shows: "default", "flag",
// "env:GOWSGI_THREADS", "file:/etc/gowsgi.yaml" or "ini:app.ini:7,8".
func (o Origin) String() string {
	switch o.Kind {
	case KindDefault, KindFlag:
		return o.Kind
	case KindIni:
		lines := make([]string, len(o.Lines))
		for i, l := range o.Lines {
			lines[i] = fmt.Sprint(l)
		}
		return fmt.Sprintf("ini:%s:%s", o.Name, strings.Join(lines, ","))
	}
	return o.Kind + ":" + o.Name
}

// Setting is one value for one flag, from one place in one source.
type Setting struct {
	Key   string // the option as the source spells it: ini key, file key, variable
	Value string // in the flag's command-line syntax
	Line  int    // ini only
	Clear bool   // a repeatable flag given an empty list: no values at all
}

// layer is everything one source (the environment, a file) says, by
// canonical flag name. A repeatable flag may have several settings; any
// other flag has at most one.
type layer struct {
	Kind, Name string
	values     map[string][]Setting
}

func newLayer(kind, name string) *layer {
	return &layer{Kind: kind, Name: name, values: map[string][]Setting{}}
}

func (l *layer) add(flag string, s Setting) { l.values[flag] = append(l.values[flag], s) }

// set replaces the flag's settings: for a single-valued option the last
// occurrence wins, as in uWSGI.
func (l *layer) set(flag string, s Setting) { l.values[flag] = []Setting{s} }

func (l *layer) origin(ss []Setting) Origin {
	o := Origin{Kind: l.Kind, Name: l.Name}
	if l.Kind == KindIni {
		for _, s := range ss {
			o.Lines = append(o.Lines, s.Line)
		}
	}
	if l.Kind == KindEnv {
		o.Name = ss[0].Key
	}
	return o
}

// Flags views a FlagSet the way the configuration sources need it:
// aliases folded into the flag they stand for, and which flags repeat.
type Flags struct {
	fs      *pflag.FlagSet
	aliases map[string][]string // canonical name -> alias names
}

// aliasPrefix marks a flag that is another name for an existing flag (it
// writes the same variable), e.g. --http-socket for --http. A flag's usage
// text is the one place every flag, whoever defines it, already states
// this; sources treat an alias and its flag as a single option so that
// `--http-socket` on the command line beats GOWSGI_HTTP in the environment.
const aliasPrefix = "alias of --"

// NewFlags indexes fs. Call it after every flag is defined.
func NewFlags(fs *pflag.FlagSet) *Flags {
	f := &Flags{fs: fs, aliases: map[string][]string{}}
	fs.VisitAll(func(fl *pflag.Flag) {
		if c := f.Canonical(fl.Name); c != fl.Name {
			f.aliases[c] = append(f.aliases[c], fl.Name)
		}
	})
	return f
}

// Canonical returns the flag that name is an alias of, name itself when
// it is not an alias, or "" when there is no such flag.
func (f *Flags) Canonical(name string) string {
	fl := f.fs.Lookup(name)
	if fl == nil {
		return ""
	}
	if rest, ok := strings.CutPrefix(fl.Usage, aliasPrefix); ok {
		words := strings.FieldsFunc(rest, func(r rune) bool { return r == ' ' || r == ',' || r == ';' || r == ')' })
		if len(words) > 0 && words[0] != name && f.fs.Lookup(words[0]) != nil {
			return words[0]
		}
	}
	return name
}

// Names returns name and its aliases.
func (f *Flags) Names(canonical string) []string {
	return append([]string{canonical}, f.aliases[canonical]...)
}

// Lookup returns the flag called name (or an alias of it).
func (f *Flags) Lookup(name string) *pflag.Flag { return f.fs.Lookup(name) }

// Each calls fn for every canonical flag that sources may set, in the
// FlagSet's order.
func (f *Flags) Each(fn func(*pflag.Flag)) {
	f.fs.VisitAll(func(fl *pflag.Flag) {
		if f.Canonical(fl.Name) == fl.Name && settable(fl.Name) {
			fn(fl)
		}
	})
}

// settable reports whether configuration sources may set the flag.
func settable(name string) bool {
	switch name {
	case FlagConfig, FlagIni, FlagPrintConfig, flagHelp:
		return false
	}
	return true
}

// Repeatable reports whether the flag accumulates values, as --http and
// --pythonpath do. pflag's list types implement SliceValue; a custom list
// type should too, and is otherwise recognised by its type name.
func Repeatable(fl *pflag.Flag) bool {
	if _, ok := fl.Value.(pflag.SliceValue); ok {
		return true
	}
	t := strings.ToLower(fl.Value.Type())
	return strings.HasSuffix(t, "array") || strings.HasSuffix(t, "slice") || strings.HasSuffix(t, "list")
}

// ChangedOnCommandLine returns the canonical flags the command line set
// (through any of their names). Call it before anything else sets flags.
func (f *Flags) ChangedOnCommandLine() map[string]bool {
	changed := map[string]bool{}
	f.fs.Visit(func(fl *pflag.Flag) { changed[f.Canonical(fl.Name)] = true })
	return changed
}

// apply sets every canonical flag not in skip from the first layer (in
// precedence order, highest first) that has a value for it, through the
// flag's own Set, so values are parsed and checked exactly as on the
// command line. It returns where each flag's value came from.
func (f *Flags) apply(skip map[string]bool, layers []*layer) (map[string]Origin, error) {
	origins := map[string]Origin{}
	var errs []error
	f.Each(func(fl *pflag.Flag) {
		origins[fl.Name] = Origin{Kind: KindDefault}
		if skip[fl.Name] {
			origins[fl.Name] = Origin{Kind: KindFlag}
			return
		}
		for _, l := range layers {
			ss := l.values[fl.Name]
			if len(ss) == 0 {
				continue
			}
			if len(ss) > 1 && !Repeatable(fl) {
				ss = ss[len(ss)-1:] // layers keep one value for these already; the last one wins
			}
			for _, s := range ss {
				if s.Clear {
					if err := clearList(fl); err != nil {
						errs = append(errs, fmt.Errorf("%s: %s: %v", l.where(s), s.Key, err))
					}
					continue
				}
				v := s.Value
				if fl.Value.Type() == "bool" {
					v = boolWord(v)
				}
				if err := f.fs.Set(fl.Name, v); err != nil {
					errs = append(errs, fmt.Errorf("%s: %s", l.where(s), badValue(fl.Name, s, err)))
				}
			}
			origins[fl.Name] = l.origin(ss)
			return
		}
	})
	return origins, errors.Join(errs...)
}

// where names the place a setting came from, for error messages.
func (l *layer) where(s Setting) string {
	switch l.Kind {
	case KindIni:
		return fmt.Sprintf("%s:%d", l.Name, s.Line)
	case KindEnv:
		return "environment"
	}
	return l.Name
}

// badValue describes a value a flag refused, naming the option as the
// source spelled it, and the flag when that is another name.
func badValue(flag string, s Setting, err error) string {
	var ive *pflag.InvalidValueError
	if errors.As(err, &ive) && ive.Unwrap() != nil {
		err = ive.Unwrap()
	}
	// pflag's number and boolean flags return strconv's errors, whose
	// wording ("strconv.ParseInt: parsing ...") is about Go, not the option.
	var ne *strconv.NumError
	if errors.As(err, &ne) {
		switch {
		case errors.Is(ne.Err, strconv.ErrRange):
			err = errors.New("out of range")
		case ne.Func == "ParseBool":
			err = errors.New("want true or false")
		case ne.Func == "ParseFloat":
			err = errors.New("want a number")
		default:
			err = errors.New("want a whole number")
		}
	}
	if s.Key != flag && s.Key != EnvName(flag) {
		return fmt.Sprintf("%s = %q (--%s): %v", s.Key, s.Value, flag, err)
	}
	return fmt.Sprintf("%s = %q: %v", s.Key, s.Value, err)
}

// sortedKeys returns m's keys in order, for stable messages.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// clearList empties a repeatable flag (an empty list in a file), which Set,
// taking one value at a time, cannot express.
func clearList(fl *pflag.Flag) error {
	sv, ok := fl.Value.(pflag.SliceValue)
	if !ok {
		return fmt.Errorf("--%s cannot be given an empty list", fl.Name)
	}
	if err := sv.Replace(nil); err != nil {
		return err
	}
	fl.Changed = true
	return nil
}

// boolWord reads the yes/no and on/off that YAML 1.1, ini habits and
// shell users write for booleans; pflag itself takes only true/false and
// 1/0 (and t/f).
func boolWord(v string) string {
	switch strings.ToLower(v) {
	case "yes", "on":
		return "true"
	case "no", "off":
		return "false"
	}
	return v
}
