package config

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

// testOpts is a stand-in for Options with one flag of every kind the
// sources must handle: string, int, bool, duration, repeatable, comma
// list, aliases, and the flags that locate the configuration.
type testOpts struct {
	module   string
	wsgiFile string
	callable string
	threads  int
	procs    int
	vacuum   bool
	harakiri time.Duration
	http     []string
	paths    []string
	env      []string
	allow    []string
	home     string
	chdir    string
	chmod    string
	maxHead  int
}

func newTestFlags(t *testing.T, args ...string) (*pflag.FlagSet, *testOpts) {
	t.Helper()
	o := &testOpts{callable: "application", threads: 1, procs: 1, vacuum: true, maxHead: 65536, allow: []string{"127.0.0.1"}}
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	fs.StringVar(&o.module, "module", o.module, "module")
	fs.StringVar(&o.wsgiFile, "wsgi-file", o.wsgiFile, "wsgi-file")
	fs.StringVar(&o.callable, "callable", o.callable, "callable")
	fs.IntVar(&o.threads, "threads", o.threads, "threads")
	fs.IntVar(&o.procs, "processes", o.procs, "processes")
	fs.IntVar(&o.procs, "workers", o.procs, "alias of --processes")
	fs.BoolVar(&o.vacuum, "vacuum", o.vacuum, "vacuum")
	fs.DurationVar(&o.harakiri, "harakiri", o.harakiri, "harakiri")
	fs.StringArrayVar(&o.http, "http", o.http, "http (repeatable)")
	fs.StringArrayVar(&o.http, "http-socket", o.http, "alias of --http")
	fs.StringArrayVar(&o.paths, "pythonpath", o.paths, "pythonpath")
	fs.StringArrayVar(&o.env, "env", o.env, "env")
	fs.StringSliceVar(&o.allow, "uwsgi-allow-ips", o.allow, "comma list")
	fs.StringVar(&o.home, "home", o.home, "home")
	fs.StringVar(&o.chdir, "chdir", o.chdir, "chdir")
	fs.StringVar(&o.home, "virtualenv", o.home, "alias of --home")
	fs.StringVar(&o.chmod, "chmod-socket", o.chmod, "chmod")
	fs.IntVar(&o.maxHead, "max-head-bytes", o.maxHead, "max head")
	fs.Int64("static-expires", 0, "seconds")
	fs.Bool("master", false, "accepted for uWSGI compatibility") // a no-op: the ini's master stays "ignored"
	fs.String(FlagConfig, "", "config")
	fs.String(FlagIni, "", "ini")
	fs.Bool(FlagPrintConfig, false, "print")
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return fs, o
}

func writeFile(t *testing.T, name, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func mustLoad(t *testing.T, fs *pflag.FlagSet, src Sources) *Report {
	t.Helper()
	if src.Environ == nil {
		src.Environ = []string{}
	}
	if src.Getenv == nil {
		src.Getenv = func(string) string { return "" }
	}
	r, err := Load(fs, src)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return r
}

func loadErr(t *testing.T, fs *pflag.FlagSet, src Sources) string {
	t.Helper()
	if src.Environ == nil {
		src.Environ = []string{}
	}
	_, err := Load(fs, src)
	if err == nil {
		t.Fatal("Load succeeded, want an error")
	}
	return err.Error()
}

// Each source beats the ones below it, option by option: flags >
// environment > config file > ini file > defaults.
func TestPrecedence(t *testing.T) {
	ini := writeFile(t, "app.ini", "[uwsgi]\nmodule = from.ini\nthreads = 2\nprocesses = 3\nharakiri = 9\nhttp = :1\n")
	yaml := writeFile(t, "c.yaml", "threads: 4\nprocesses: 5\nhttp: [\":2\", \":3\"]\n")
	fs, o := newTestFlags(t, "--processes", "7")
	r := mustLoad(t, fs, Sources{ConfigFile: yaml, Ini: ini, Environ: []string{"GOWSGI_THREADS=6", "GOWSGI_HTTP=:4", "OTHER=1"}})
	if o.module != "from.ini" || o.harakiri != 9*time.Second || o.threads != 6 || o.procs != 7 || !reflect.DeepEqual(o.http, []string{":4"}) {
		t.Errorf("got module %q harakiri %v threads %d processes %d http %q", o.module, o.harakiri, o.threads, o.procs, o.http)
	}
	want := map[string]string{
		"module":    "ini:" + ini + ":2",
		"harakiri":  "ini:" + ini + ":5",
		"threads":   "env:GOWSGI_THREADS",
		"http":      "env:GOWSGI_HTTP",
		"processes": "flag",
		"callable":  "default",
	}
	for name, w := range want {
		if g := r.Origins[name].String(); g != w {
			t.Errorf("origin of %s = %q, want %q", name, g, w)
		}
	}
	if _, ok := r.Origins["workers"]; ok {
		t.Error("an alias has its own origin; aliases fold into their flag")
	}
	if _, ok := r.Origins[FlagConfig]; ok {
		t.Error("--config is listed as an option a source can set")
	}
}

// An alias on the command line counts as its flag: --workers beats
// GOWSGI_PROCESSES, and --http-socket beats a file's http.
func TestAliasesFoldIntoTheirFlag(t *testing.T) {
	yaml := writeFile(t, "c.yaml", "http: [\":9\"]\n")
	fs, o := newTestFlags(t, "--workers", "3", "--http-socket", ":5")
	r := mustLoad(t, fs, Sources{ConfigFile: yaml, Environ: []string{"GOWSGI_PROCESSES=8"}})
	if o.procs != 3 || !reflect.DeepEqual(o.http, []string{":5"}) {
		t.Errorf("processes %d http %q, want 3 [:5]", o.procs, o.http)
	}
	if r.Origins["processes"].Kind != KindFlag || r.Origins["http"].Kind != KindFlag {
		t.Errorf("origins %v %v, want flag", r.Origins["processes"], r.Origins["http"])
	}
	// The alias's own variable and key work too.
	fs, o = newTestFlags(t)
	mustLoad(t, fs, Sources{Environ: []string{"GOWSGI_WORKERS=4", "GOWSGI_VIRTUALENV=/v"}})
	if o.procs != 4 || o.home != "/v" {
		t.Errorf("processes %d home %q from alias variables", o.procs, o.home)
	}
	fs, _ = newTestFlags(t)
	if e := loadErr(t, fs, Sources{Environ: []string{"GOWSGI_WORKERS=4", "GOWSGI_PROCESSES=2"}}); !strings.Contains(e, "GOWSGI_PROCESSES and GOWSGI_WORKERS all set --processes") {
		t.Errorf("error %q", e)
	}
}

// Only "alias of --NAME" naming another existing flag makes an alias.
func TestCanonical(t *testing.T) {
	fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
	fs.String("a", "", "a")
	fs.String("b", "", "alias of --a, for uWSGI")
	fs.String("c", "", "alias of --")
	fs.String("d", "", "alias of --nothing")
	fs.String("e", "", "alias of --e")
	f := NewFlags(fs)
	for name, want := range map[string]string{"a": "a", "b": "a", "c": "c", "d": "d", "e": "e", "zz": ""} {
		if got := f.Canonical(name); got != want {
			t.Errorf("Canonical(%q) = %q, want %q", name, got, want)
		}
	}
	if got := f.Names("a"); !reflect.DeepEqual(got, []string{"a", "b"}) {
		t.Errorf("Names(a) = %q", got)
	}
}

func TestEnvironment(t *testing.T) {
	fs, o := newTestFlags(t)
	r := mustLoad(t, fs, Sources{Internal: []string{"GOWSGI_WORKER"}, Environ: []string{
		"GOWSGI_ENV=\"HOSTS=a,b\",DEBUG=0",
		"GOWSGI_PYTHONPATH=/a,/b",
		"GOWSGI_UWSGI_ALLOW_IPS=10.0.0.1,10.0.0.2",
		"GOWSGI_MODULE=", // empty counts as unset
		"GOWSGI_VACUUM=false",
		"GOWSGI_THREDS=3",          // a typo: reported
		"GOWSGI_CONTROL_SOCKET=/x", // nothing like an option: silent
		"GOWSGI_WORKER=1",          // internal: silent although it is one letter from GOWSGI_WORKERS
		"GOWSGI_CONFIG=/etc/x.yaml",
	}})
	if !reflect.DeepEqual(o.env, []string{"HOSTS=a,b", "DEBUG=0"}) || !reflect.DeepEqual(o.paths, []string{"/a", "/b"}) ||
		!reflect.DeepEqual(o.allow, []string{"10.0.0.1", "10.0.0.2"}) || o.module != "" || o.vacuum {
		t.Errorf("env %q paths %q allow %q module %q vacuum %v", o.env, o.paths, o.allow, o.module, o.vacuum)
	}
	if len(r.Notes) != 1 || r.Notes[0].Key != "GOWSGI_THREDS" || !strings.Contains(r.Notes[0].Reason, "did you mean GOWSGI_THREADS?") {
		t.Errorf("notes %v, want one about GOWSGI_THREDS", r.Notes)
	}
	fs, _ = newTestFlags(t)
	if e := loadErr(t, fs, Sources{Environ: []string{"GOWSGI_THREADS=many"}}); e != `environment: GOWSGI_THREADS = "many": want a whole number` {
		t.Errorf("error %q", e)
	}
	fs, _ = newTestFlags(t)
	if e := loadErr(t, fs, Sources{Environ: []string{`GOWSGI_ENV="A=1`}}); !strings.Contains(e, "GOWSGI_ENV") || !strings.Contains(e, "not a comma-separated list") {
		t.Errorf("error %q", e)
	}
}

func TestConfigFileFormats(t *testing.T) {
	files := map[string]string{
		"c.yaml": "module: mysite.wsgi\nthreads: 8\nvacuum: false\nharakiri: 1m30s\nhttp:\n  - 127.0.0.1:8000\n  - unix:/run/a.sock\nmax_head_bytes: 1048576\nenv: DJANGO_SETTINGS_MODULE=mysite.settings\n",
		"c.yml":  "module: mysite.wsgi\nthreads: 8\nvacuum: no\nharakiri: 1m30s\nhttp: [127.0.0.1:8000, \"unix:/run/a.sock\"]\nmax-head-bytes: 1048576\nenv: [DJANGO_SETTINGS_MODULE=mysite.settings]\n",
		"c.toml": "module = \"mysite.wsgi\"\nthreads = 8\nvacuum = false\nharakiri = \"1m30s\"\nhttp = [\"127.0.0.1:8000\", \"unix:/run/a.sock\"]\nmax-head-bytes = 1048576\nenv = \"DJANGO_SETTINGS_MODULE=mysite.settings\"\n",
		"c.json": `{"module": "mysite.wsgi", "threads": 8, "vacuum": false, "harakiri": "1m30s", "http": ["127.0.0.1:8000", "unix:/run/a.sock"], "max-head-bytes": 1048576, "env": ["DJANGO_SETTINGS_MODULE=mysite.settings"]}`,
	}
	for name, text := range files {
		t.Run(name, func(t *testing.T) {
			p := writeFile(t, name, text)
			fs, o := newTestFlags(t)
			r := mustLoad(t, fs, Sources{ConfigFile: p})
			if o.module != "mysite.wsgi" || o.threads != 8 || o.vacuum || o.harakiri != 90*time.Second || o.maxHead != 1<<20 ||
				!reflect.DeepEqual(o.http, []string{"127.0.0.1:8000", "unix:/run/a.sock"}) || !reflect.DeepEqual(o.env, []string{"DJANGO_SETTINGS_MODULE=mysite.settings"}) {
				t.Errorf("got %+v", *o)
			}
			if g := r.Origins["threads"].String(); g != "file:"+p {
				t.Errorf("origin %q", g)
			}
		})
	}
}

func TestConfigFileErrors(t *testing.T) {
	tests := []struct{ name, text, want string }{
		{"typo.yaml", "thread: 4\n", `unknown option "thread" (did you mean "threads"?)`},
		{"nested.yaml", "server:\n  threads: 4\n", `unknown option "server.threads"`},
		{"list.yaml", "threads: [1, 2]\n", `option "threads" takes one value, not a list`},
		{"null.yaml", "module:\n", `option "module": no value`},
		{"bad.yaml", "threads: four\n", `threads = "four": want a whole number`},
		{"both.yaml", "http: [\":1\"]\nhttp-socket: [\":2\"]\n", `options "http" and "http-socket" both set --http`},
		{"self.yaml", "config: other.yaml\n", `option "config" cannot be set in a configuration file`},
		{"syntax.json", "{\"threads\": 4,}", "syntax.json"},
		{"c.conf", "threads = 4\n", `unknown configuration format ".conf"`},
		{"deep.yaml", "http: [[\":1\"]]\n", `list item: a nested list is not a value`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := writeFile(t, tt.name, tt.text)
			fs, _ := newTestFlags(t)
			e := loadErr(t, fs, Sources{ConfigFile: p})
			if !strings.Contains(e, tt.want) || !strings.Contains(e, p) {
				t.Errorf("error %q, want it to name %s and contain %q", e, p, tt.want)
			}
		})
	}
	fs, _ := newTestFlags(t)
	if e := loadErr(t, fs, Sources{ConfigFile: filepath.Join(t.TempDir(), "missing.yaml")}); !strings.Contains(e, "missing.yaml") {
		t.Errorf("missing file error %q", e)
	}
}

// An empty list in a file empties a list flag, defaults included.
func TestConfigFileEmptyList(t *testing.T) {
	p := writeFile(t, "c.yaml", "uwsgi-allow-ips: []\n")
	fs, o := newTestFlags(t)
	mustLoad(t, fs, Sources{ConfigFile: p})
	if len(o.allow) != 0 || !fs.Changed("uwsgi-allow-ips") {
		t.Errorf("allow %q changed %v, want empty and changed", o.allow, fs.Changed("uwsgi-allow-ips"))
	}
}

// --print-config's output is itself a configuration file that gives back
// the same options.
func TestPrintRoundTrip(t *testing.T) {
	ini := writeFile(t, "app.ini", "[uwsgi]\nmodule = m\nenv = A=\"x y\" <z>\nenv = B=2\nhttp = :1\nharakiri = 30\nbase = x\nmastr = true\nlisten = 100\n")
	fs, o := newTestFlags(t, "--threads", "3")
	r := mustLoad(t, fs, Sources{Ini: ini, Environ: []string{"GOWSGI_CALLABLE=app"}})
	var out bytes.Buffer
	r.Print(&out)
	text := out.String()
	for _, want := range []string{
		"module: \"m\"  # ini:" + ini + ":2\n",
		"env: [\"A=\\\"x y\\\" <z>\", \"B=2\"]  # ini:" + ini + ":3,4\n",
		"threads: 3  # flag\n",
		"callable: \"app\"  # env:GOWSGI_CALLABLE\n",
		"harakiri: \"30s\"  # ini:",
		"vacuum: true  # default\n",
		"# unknown " + ini + ":8: mastr: unknown option, ignored (did you mean \"master\"?)\n",
		"# ignored " + ini + ":9: listen: the listen backlog is the kernel's somaxconn\n",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("--print-config output lacks %q:\n%s", want, text)
		}
	}
	p := writeFile(t, "printed.yaml", text)
	fs2, o2 := newTestFlags(t)
	mustLoad(t, fs2, Sources{ConfigFile: p})
	// An empty list reads back as an empty, non-nil slice: compare as text.
	if a, b := fmt.Sprintf("%+v", *o), fmt.Sprintf("%+v", *o2); a != b {
		t.Errorf("round trip changed the options:\n before %s\n after  %s", a, b)
	}
}

func TestExplain(t *testing.T) {
	ini := writeFile(t, "app.ini", "[uwsgi]\nmax-head-bytes = 100\n")
	fs, _ := newTestFlags(t, "--threads", "0")
	r := mustLoad(t, fs, Sources{Ini: ini})
	err := r.Explain(joinLines("--max-head-bytes 100 must be larger than --max-request-line 8190", "--threads 0: want 1 to 4096"))
	want := "--max-head-bytes 100 must be larger than --max-request-line 8190 (--max-head-bytes from ini:" + ini + ":2)\n--threads 0: want 1 to 4096"
	if err.Error() != want {
		t.Errorf("got  %q\nwant %q", err, want)
	}
}

func joinLines(lines ...string) error { return &textErr{strings.Join(lines, "\n")} }

type textErr struct{ s string }

func (e *textErr) Error() string { return e.s }

func TestSuggest(t *testing.T) {
	names := []string{"processes", "threads", "master", "module", "harakiri", "http", "socket"}
	for in, want := range map[string]string{
		"procesess": "processes", "proceses": "processes", "thraeds": "threads", "threds": "threads",
		"mastr": "master", "harikari": "harakiri", "htpp": "http",
		"base": "", "project": "", "x": "", "sockets": "socket",
	} {
		if got := suggest(in, names); got != want {
			t.Errorf("suggest(%q) = %q, want %q", in, got, want)
		}
	}
	for _, tt := range []struct {
		a, b string
		d    int
	}{{"", "abc", 3}, {"abc", "abc", 0}, {"ab", "ba", 1}, {"kitten", "sitting", 3}, {"ca", "abc", 3}} {
		if d := editDistance(tt.a, tt.b); d != tt.d {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tt.a, tt.b, d, tt.d)
		}
	}
}

// A worker given its master's Settings ends with the master's options,
// whatever the files say by then, and reads neither file.
func TestSettingsStandInForTheFiles(t *testing.T) {
	ini := writeFile(t, "app.ini", "[uwsgi]\nmodule = from.ini\nenv = A=\"x y\"\nenv = B=2\nharakiri = 9\n")
	yaml := writeFile(t, "c.yaml", "threads: 4\nhttp: [\":2\", \":3\"]\nprocesses: 5\n")
	environ := []string{"GOWSGI_PROCESSES=6"}
	fs, o := newTestFlags(t, "--callable", "app")
	r := mustLoad(t, fs, Sources{ConfigFile: yaml, Ini: ini, Environ: environ})
	settings := r.Settings()
	text := string(settings)
	for _, want := range []string{"module: \"from.ini\"\n", "threads: 4\n", "harakiri: \"9s\"\n", "env: [\"A=\\\"x y\\\"\", \"B=2\"]\n"} {
		if !strings.Contains(text, want) {
			t.Errorf("settings lack %q:\n%s", want, text)
		}
	}
	for _, unwanted := range []string{"processes", "callable", "vacuum"} { // env, flag, default
		if strings.Contains(text, unwanted) {
			t.Errorf("settings hold %s, which a worker gets from its own environment, arguments or defaults:\n%s", unwanted, text)
		}
	}
	// The files change (and one goes away) before the worker starts.
	if err := os.WriteFile(ini, []byte("[uwsgi]\nmodule = changed\nthreads = 99\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Remove(yaml)
	fs2, o2 := newTestFlags(t, "--callable", "app")
	mustLoad(t, fs2, Sources{ConfigFile: yaml, Ini: ini, Environ: environ, Settings: settings})
	if a, b := fmt.Sprintf("%+v", *o), fmt.Sprintf("%+v", *o2); a != b {
		t.Errorf("the worker's options differ from the master's:\n master %s\n worker %s", a, b)
	}
	if s := (&Report{}).Settings(); s != nil {
		t.Errorf("settings without configuration files: %q, want nil", s)
	}
	fs3, _ := newTestFlags(t)
	if msg := loadErr(t, fs3, Sources{Settings: []byte("threads: [1, 2]\n")}); !strings.Contains(msg, "takes one value") {
		t.Errorf("bad settings: %s", msg)
	}
}
