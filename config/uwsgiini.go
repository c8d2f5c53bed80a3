package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/spf13/pflag"

	"github.com/gowsgi/gowsgi/config/ini"
)

// iniRule says what one uWSGI option becomes. An option maps to the first
// of its flags that this build has, so options whose flags other parts of
// gowsgi define start working as soon as those flags exist; when none
// exists, ignore or unsupported says why, else the option is reported as
// "not supported by this build". An ignored option without flags is
// ignored even if a flag of its name exists: such a flag (--master) is
// itself a no-op kept for uWSGI's command lines, and the user should be
// told that the option does nothing.
type iniRule struct {
	flags       []string // gowsgi flags, in order of preference; nil: the flag of the same name
	ignore      string   // it means nothing for gowsgi: accepted and listed at start-up
	unsupported string   // a uWSGI feature gowsgi lacks, and what to do instead
	required    bool     // refuse to start without it: skipping it would weaken security
	convert     func(string) ([]string, error)
}

// uwsgiOptions is the mapping from uWSGI's option names (its aliases
// included) to gowsgi. An ini key that has no rule but names a gowsgi flag
// sets that flag, so every gowsgi option can also be written in the ini
// file. docs/CONFIG.md lists them all; internal/cli/examples_test.go
// checks that the two agree.
var uwsgiOptions = map[string]iniRule{
	// The application.
	"module":      {flags: []string{"module"}},
	"wsgi":        {flags: []string{"module"}},
	"callable":    {},
	"wsgi-file":   {},
	"file":        {flags: []string{"wsgi-file"}},
	"chdir":       {},
	"pythonpath":  {convert: globPaths},
	"python-path": {flags: []string{"pythonpath"}, convert: globPaths},
	"pp":          {flags: []string{"pythonpath"}, convert: globPaths},
	"home":        {},
	"virtualenv":  {flags: []string{"home"}},
	"venv":        {flags: []string{"home"}},
	"pyhome":      {flags: []string{"home"}},
	"env":         {},

	// Processes and threads.
	"processes":           {},
	"workers":             {flags: []string{"processes"}},
	"threads":             {},
	"harakiri":            {},
	"max-requests":        {},
	"reload-on-rss":       {},
	"reload-mercy":        {flags: []string{"graceful-timeout"}},
	"worker-reload-mercy": {flags: []string{"graceful-timeout"}},
	"pidfile":             {},
	"pidfile2":            {flags: []string{"pidfile"}},
	"safe-pidfile":        {flags: []string{"pidfile"}},
	"uid":                 {required: true},
	"gid":                 {required: true},
	"touch-reload":        {},

	// Listeners and requests.
	"socket":         {},
	"uwsgi-socket":   {flags: []string{"socket"}},
	"http":           {},
	"http-socket":    {flags: []string{"http"}},
	"chmod-socket":   {convert: chmodSocket},
	"buffer-size":    {flags: []string{"buffer-size", "max-head-bytes"}},
	"post-buffering": {},
	"limit-post":     {},
	"static-map":     {},
	"static-index":   {},
	"static-expires": {convert: staticExpires},
	"listen":         {ignore: "the listen backlog is the kernel's somaxconn"},

	// Logging and monitoring.
	"log-format":      {},
	"logformat":       {flags: []string{"log-format"}},
	"logto":           {},
	"logto2":          {flags: []string{"logto"}},
	"disable-logging": {},
	"stats":           {},

	// Accepted and ignored: what they ask for is always the case here, or
	// concerns machinery gowsgi does not have.
	"master":                 {ignore: "gowsgi's main process always supervises"},
	"enable-threads":         {ignore: "Python threads are always enabled"},
	"die-on-term":            {ignore: "SIGTERM always stops gowsgi gracefully"},
	"lazy-apps":              {ignore: "each process imports the application itself"},
	"lazy":                   {ignore: "each process imports the application itself"},
	"single-interpreter":     {ignore: "there is only one interpreter"},
	"need-app":               {ignore: "gowsgi never starts without its application"},
	"vacuum":                 {flags: []string{"vacuum"}, ignore: "this build creates no socket files to remove"},
	"plugin":                 {ignore: "Python support is built in"},
	"plugins":                {ignore: "Python support is built in"},
	"plugin-dir":             {ignore: "Python support is built in"},
	"plugins-dir":            {ignore: "Python support is built in"},
	"thunder-lock":           {ignore: "connections are accepted without an accept lock"},
	"ignore-sigpipe":         {ignore: "SIGPIPE is always ignored"},
	"harakiri-verbose":       {ignore: "harakiri reports always name the request"},
	"http-keepalive":         {ignore: "keep-alive is always on (see --keepalive-timeout)"},
	"post-buffering-bufsize": {ignore: "the server sizes its own read buffers"},
	"auto-procname":          {ignore: "process titles are not changed"},
	"procname":               {ignore: "process titles are not changed"},
	"procname-prefix":        {ignore: "process titles are not changed"},
	"procname-prefix-spaced": {ignore: "process titles are not changed"},
	"procname-master":        {ignore: "process titles are not changed"},
	"memory-report":          {ignore: "use the stats endpoint"},
	"stats-http":             {ignore: "--stats always speaks HTTP"},
	"show-config":            {ignore: "use gowsgi --print-config"},
	"no-default-app":         {ignore: "gowsgi serves exactly one application"},
	"no-orphans":             {ignore: "gowsgi's processes never outlive the main one"},
	"strict":                 {ignore: "read by the ini loader itself"},

	// uWSGI features gowsgi lacks. Each is reported at start-up; with
	// strict = true in the file, they are errors.
	"daemonize":                 {unsupported: "run gowsgi in the foreground under systemd or docker"},
	"daemonize2":                {unsupported: "run gowsgi in the foreground under systemd or docker"},
	"ini":                       {unsupported: "include files are not read: merge them into one"},
	"socket-timeout":            {unsupported: "see --header-timeout, --body-timeout and --write-timeout"},
	"http-timeout":              {unsupported: "see --header-timeout, --body-timeout and --write-timeout"},
	"https":                     {unsupported: "terminate TLS in nginx"},
	"https-socket":              {unsupported: "terminate TLS in nginx"},
	"shared-socket":             {unsupported: "give the address to --socket or --http"},
	"mount":                     {unsupported: "serve one application per gowsgi; set SCRIPT_NAME in nginx"},
	"manage-script-name":        {unsupported: "set SCRIPT_NAME in nginx (uwsgi_param SCRIPT_NAME)"},
	"umask":                     {unsupported: "set UMask= in the systemd unit"},
	"chown-socket":              {unsupported: "use --chmod-socket, or the service's user and group"},
	"cheaper":                   {unsupported: "the number of processes is fixed"},
	"cheaper-algo":              {unsupported: "the number of processes is fixed"},
	"cheaper-initial":           {unsupported: "the number of processes is fixed"},
	"cheaper-step":              {unsupported: "the number of processes is fixed"},
	"evil-reload-on-rss":        {unsupported: "use --reload-on-rss"},
	"reload-on-as":              {unsupported: "use --reload-on-rss"},
	"max-worker-lifetime":       {unsupported: "use --max-requests"},
	"max-requests-delta":        {unsupported: "use --max-requests-jitter"},
	"py-autoreload":             {unsupported: "use --touch-reload"},
	"touch-chain-reload":        {unsupported: "use --touch-reload"},
	"touch-workers-reload":      {unsupported: "use --touch-reload"},
	"touch-logreopen":           {unsupported: "send SIGUSR1 to re-open --logto (logrotate)"},
	"log-date":                  {unsupported: "log lines always carry a time"},
	"log-x-forwarded-for":       {unsupported: "not available"},
	"log-4xx":                   {unsupported: "not available"},
	"log-5xx":                   {unsupported: "not available"},
	"log-slow":                  {unsupported: "not available"},
	"log-maxsize":               {unsupported: "rotate logs with logrotate"},
	"logger":                    {unsupported: "use --logto, or journald"},
	"req-logger":                {unsupported: "use --logto, or journald"},
	"static-map2":               {unsupported: "use --static-map"},
	"check-static":              {unsupported: "use --static-map"},
	"offload-threads":           {unsupported: "not needed: static files are sent by the Go server"},
	"route":                     {unsupported: "route in nginx"},
	"route-run":                 {unsupported: "route in nginx"},
	"add-header":                {unsupported: "add headers in nginx or the application"},
	"cron":                      {unsupported: "use a systemd timer"},
	"mule":                      {unsupported: "run background work as its own service"},
	"spooler":                   {unsupported: "run background work as its own service"},
	"attach-daemon":             {unsupported: "run it as its own service"},
	"smart-attach-daemon":       {unsupported: "run it as its own service"},
	"cache2":                    {unsupported: "use an external cache"},
	"cpu-affinity":              {unsupported: "use CPUAffinity= in systemd"},
	"wsgi-disable-file-wrapper": {unsupported: "not available"},
	"emperor":                   {unsupported: "run one gowsgi service per application"},
	"vhost":                     {unsupported: "serve one application per gowsgi"},
	"hook-master-start":         {unsupported: "not available"},
}

// globChars are the characters that make a pythonpath entry a pattern.
const globChars = "*?["

// globPaths expands a pythonpath pattern the way uWSGI does ("lib/*.egg"),
// in sorted order. A pattern that matches nothing is kept as written, so
// that the missing directory shows up in sys.path rather than vanishing.
func globPaths(v string) ([]string, error) {
	if !strings.ContainsAny(v, globChars) {
		return []string{v}, nil
	}
	m, err := filepath.Glob(v)
	if err != nil {
		return nil, fmt.Errorf("bad pattern: %v", err)
	}
	if len(m) == 0 {
		return []string{v}, nil
	}
	return m, nil
}

// chmodSocket: a bare chmod-socket means mode 666 in uWSGI.
func chmodSocket(v string) ([]string, error) {
	if v == "" || strings.EqualFold(v, "true") {
		return []string{"666"}, nil
	}
	return []string{v}, nil
}

// staticExpires takes uWSGI's static-expires only in the form gowsgi's
// flag has: seconds for every mapped file. uWSGI's "REGEXP SECONDS" form
// picks files by name, which the flag cannot express; refusing it beats
// caching the wrong files.
func staticExpires(v string) ([]string, error) {
	if f := strings.Fields(v); len(f) > 1 {
		return nil, fmt.Errorf("the \"REGEXP SECONDS\" form is not supported: give the seconds alone, for every static file")
	}
	return []string{v}, nil
}

// uwsgiTrue is uWSGI's reading of a boolean option: anything but false,
// off, no and 0 (an empty value included) turns it on.
func uwsgiTrue(v string) bool {
	switch strings.ToLower(v) {
	case "false", "off", "no", "0":
		return false
	}
	return true
}

var digits = regexp.MustCompile(`^[0-9]+$`)

// forFlag converts a uWSGI value to the syntax of the flag it sets:
// uWSGI's booleans to true/false, and its plain numbers of seconds to Go
// durations for duration flags (harakiri = 30 is --harakiri 30s).
func forFlag(fl *pflag.Flag, v string) string {
	switch fl.Value.Type() {
	case "bool":
		if uwsgiTrue(v) {
			return "true"
		}
		return "false"
	case "duration":
		if digits.MatchString(v) {
			return v + "s"
		}
	}
	return v
}

// iniLayer reads the uWSGI ini file named by spec ("file.ini" or
// "file.ini:section") and maps its options onto flags. Options it cannot
// use become notes; strict = true in the file turns unsupported and
// unknown options into errors, as uWSGI's strict mode does.
func iniLayer(f *Flags, spec string, getenv func(string) string) (*layer, []Note, error) {
	path, section := splitIniSpec(spec)
	entries, err := ini.Load(path, section, getenv)
	if err != nil {
		return nil, nil, err
	}
	strict := false
	for _, e := range entries {
		if e.Key == "strict" {
			strict = uwsgiTrue(e.Value)
		}
	}
	placeholders := referenced(path)
	l := newLayer(KindIni, path)
	var notes []Note
	var errs []error
	noted := map[string]bool{}
	note := func(e ini.Entry, kind, reason string) {
		if strict && kind != NoteIgnored {
			errs = append(errs, fmt.Errorf("%s:%d: %s: %s (strict mode)", e.File, e.Line, e.Key, reason))
			return
		}
		if !noted[e.Key] { // list each option once, at its first line
			noted[e.Key] = true
			notes = append(notes, Note{Where: fmt.Sprintf("%s:%d", e.File, e.Line), Key: e.Key, Kind: kind, Reason: reason})
		}
	}
	for _, e := range entries {
		m := f.iniMapping(e.Key)
		switch m.Kind {
		case MapIgnored:
			note(e, NoteIgnored, m.Reason)
		case MapUnsupported:
			note(e, NoteUnsupported, "not supported: "+m.Reason)
		case MapMissing:
			if uwsgiOptions[e.Key].required {
				errs = append(errs, fmt.Errorf("%s:%d: %s = %q: %s; refusing to start without it", e.File, e.Line, e.Key, e.Value, m.Reason))
			} else {
				note(e, NoteUnsupported, m.Reason)
			}
		case MapUnknown:
			if placeholders[e.Key] {
				// A variable for %(name) references, as uWSGI allows:
				// that is what it is for, nothing to report.
				continue
			}
			reason := "unknown option, ignored (uWSGI reads it as a placeholder variable)"
			if s := suggest(e.Key, knownIniNames(f)); s != "" {
				reason = fmt.Sprintf("unknown option, ignored (did you mean %q?)", s)
			}
			note(e, NoteUnknown, reason)
		}
		if m.Kind != MapFlag {
			continue
		}
		target, rule := m.Flag, uwsgiOptions[e.Key]
		values := []string{e.Value}
		if rule.convert != nil {
			if values, err = rule.convert(e.Value); err != nil {
				errs = append(errs, fmt.Errorf("%s:%d: %s = %q: %v", e.File, e.Line, e.Key, e.Value, err))
				continue
			}
		}
		fl := f.Lookup(target)
		for _, v := range values {
			s := Setting{Key: e.Key, Value: forFlag(fl, v), Line: e.Line}
			if Repeatable(fl) {
				l.add(target, s)
			} else {
				l.set(target, s) // the last occurrence wins, as in uWSGI
			}
		}
	}
	return l, notes, errors.Join(errs...)
}

var placeholderRef = regexp.MustCompile(`%\(([^)]+)\)`)

// referenced returns the option names the ini file at path uses in
// %(name) references, normalised as ini keys are. The file was just read
// by ini.Load; if it cannot be read again, nothing counts as referenced.
func referenced(path string) map[string]bool {
	refs := map[string]bool{}
	data, err := os.ReadFile(path)
	if err != nil {
		return refs
	}
	for _, m := range placeholderRef.FindAllSubmatch(data, -1) {
		refs[strings.ReplaceAll(strings.ToLower(strings.TrimSpace(string(m[1]))), "_", "-")] = true
	}
	return refs
}

// What an ini option does in a build (IniMapping.Kind).
const (
	MapFlag        = "flag"        // sets Flag
	MapIgnored     = "ignored"     // accepted, does nothing here by design
	MapUnsupported = "unsupported" // a uWSGI feature gowsgi lacks
	MapMissing     = "missing"     // maps to a flag this build does not have
	MapUnknown     = "unknown"     // not an option gowsgi knows of
)

// IniMapping is what one uWSGI option does in this build.
type IniMapping struct {
	Key    string // the uWSGI option, normalised
	Kind   string // a Map constant
	Flag   string // the canonical flag it sets, for MapFlag
	Reason string // why it sets nothing
}

// iniMapping resolves one ini key against the build's flags: the first
// of its rule's flags that exists (the flag of the same name when the
// rule names none, which is also how any gowsgi option can be written in
// an ini file), else the rule's reason for setting nothing.
func (f *Flags) iniMapping(key string) IniMapping {
	rule, known := uwsgiOptions[key]
	if rule.ignore != "" && rule.flags == nil {
		return IniMapping{Key: key, Kind: MapIgnored, Reason: rule.ignore}
	}
	candidates := rule.flags
	if candidates == nil {
		candidates = []string{key}
	}
	for _, c := range candidates {
		if cf := f.Canonical(c); cf != "" && settable(cf) {
			return IniMapping{Key: key, Kind: MapFlag, Flag: cf}
		}
	}
	switch {
	case rule.ignore != "":
		return IniMapping{Key: key, Kind: MapIgnored, Reason: rule.ignore}
	case rule.unsupported != "":
		return IniMapping{Key: key, Kind: MapUnsupported, Reason: rule.unsupported}
	case known:
		return IniMapping{Key: key, Kind: MapMissing, Reason: fmt.Sprintf("not supported by this build (no --%s flag)", candidates[0])}
	}
	return IniMapping{Key: key, Kind: MapUnknown}
}

// IniOptions lists what every uWSGI option gowsgi knows of does with the
// flags of fs, sorted by option; docs/CONFIG.md's table is checked
// against it.
func IniOptions(fs *pflag.FlagSet) []IniMapping {
	f := NewFlags(fs)
	var out []IniMapping
	for _, k := range sortedKeys(uwsgiOptions) {
		out = append(out, f.iniMapping(k))
	}
	return out
}

// knownIniNames are the names an unknown ini option is compared with for
// a suggestion: uWSGI's options this file knows, and gowsgi's flags.
func knownIniNames(f *Flags) []string {
	names := make([]string, 0, len(uwsgiOptions)+32)
	for k := range uwsgiOptions {
		names = append(names, k)
	}
	f.fs.VisitAll(func(fl *pflag.Flag) {
		if settable(fl.Name) {
			names = append(names, fl.Name)
		}
	})
	return names
}

// splitIniSpec splits "file.ini:section".
func splitIniSpec(spec string) (path, section string) { return ini.SplitSpec(spec) }
