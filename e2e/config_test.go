package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// pyInfo is what testapps/pyenv_app.py reports.
type pyInfo struct {
	Prefix       string            `json:"prefix"`
	BasePrefix   string            `json:"base_prefix"`
	ExecPrefix   string            `json:"exec_prefix"`
	Executable   string            `json:"executable"`
	Version      string            `json:"version"`
	Path         []string          `json:"path"`
	SitePackages []string          `json:"site_packages"`
	ImportCwd    string            `json:"import_cwd"`
	ImportEnv    map[string]string `json:"import_env"`
	Probe        map[string]string `json:"probe"`
	SystemFlask  bool              `json:"system_flask"`
}

// runIn runs the binary with exactly args in directory dir, with env
// added to the environment, and waits up to 20 s for it to exit (check
// imports the application, which takes a moment under the race detector).
func runIn(t *testing.T, dir string, env []string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	return runExit(t, 20*time.Second, dir, env, args...)
}

// startIn starts the binary with exactly args (no --chdir or --http added:
// the configuration under test gives them) in directory dir with env
// added, waits for its HTTP listening line and stops it when the test ends.
func startIn(t *testing.T, dir string, env []string, args ...string) *server {
	t.Helper()
	cmd := exec.Command(binPath, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	return startCmd(t, cmd, "gowsgi "+strings.Join(args, " "))
}

func writeText(t *testing.T, path, text string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// A uWSGI ini file given as the only argument, the way `uwsgi app.ini`
// is run: the placeholders, the magic variables and the environment are
// expanded, repeated keys accumulate, the application sees --env at
// import, the callable named in module reaches the worker, and the
// options that do nothing here are listed once.
func TestIniFileServes(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	extra := filepath.Join(dir, "extra")
	// Only "app", no "application": the worker must get the callable from the ini's module.
	writeText(t, filepath.Join(extra, "pyenv_named.py"), "from pyenv_app import application as app\n")
	writeText(t, filepath.Join(dir, "site.ini"), `; as a Django deployment writes it
[uwsgi]
project = mysite
chdir = `+appsDir+`
module = pyenv_named:app
env = DJANGO_SETTINGS_MODULE=%(project).settings
env = GW_FROM_ENV=$(GW_OUTER)
env = GW_FILE=%n
pythonpath = %dextra
http-socket = 127.0.0.1:0
threads = 2
enable-threads = true
die-on-term = true
single-interpreter = true
thunder-lock = true
procesess = 4
`)
	s := startIn(t, dir, []string{"GW_OUTER=outer value"}, "site.ini")
	s.threads = 2
	var info pyInfo
	s.getJSON(t, "/", &info)
	wantEnv := map[string]string{"DJANGO_SETTINGS_MODULE": "mysite.settings", "GW_FROM_ENV": "outer value", "GW_FILE": "site"}
	for k, v := range wantEnv {
		if info.ImportEnv[k] != v {
			t.Errorf("at import os.environ[%s] = %q, want %q (all: %q)", k, info.ImportEnv[k], v, info.ImportEnv)
		}
	}
	realDir, _ := filepath.EvalSymlinks(dir)
	if info.ImportCwd != appsDir {
		t.Errorf("imported in %s, want the ini's chdir %s", info.ImportCwd, appsDir)
	}
	if len(info.Path) < 2 || info.Path[0] != appsDir || info.Path[1] != filepath.Join(realDir, "extra") {
		t.Errorf("sys.path starts %q, want [%s %s/extra ...]", info.Path, appsDir, realDir)
	}
	s.waitLog(t, "msg=\"python ready\"")
	log := s.log.String()
	for _, want := range []string{
		`level=INFO msg="option ignored" option=enable-threads at=site.ini:12 why="Python threads are always enabled"`,
		`level=INFO msg="option ignored" option=die-on-term at=site.ini:13`,
		`level=INFO msg="option ignored" option=single-interpreter at=site.ini:14`,
		`level=WARN msg="unknown option" option=procesess at=site.ini:16 why="unknown option, ignored (did you mean \"processes\"?)"`,
	} {
		if strings.Count(log, want) != 1 {
			t.Errorf("the log has %d times %q, want once", strings.Count(log, want), want)
		}
	}
	if !regexp.MustCompile(`msg="python ready" .*threads=2`).MatchString(log) {
		t.Errorf("the ini's threads = 2 is not what the worker runs with")
	}
	if strings.Contains(log, "option=project") {
		t.Errorf("the placeholder variable project was reported as an option")
	}
}

// --ini FILE:section reads another section, and command-line flags beat
// the ini file.
func TestIniSectionAndFlags(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeText(t, filepath.Join(dir, "app.ini"), "[uwsgi]\nmodule = hello\nthreads = 1\n\n[staging]\nmodule = pyenv_app\nthreads = 3\nenv = GW_SECTION=staging\nhttp = 127.0.0.1:9\n")
	s := startIn(t, dir, nil, "--ini", "app.ini:staging", "--chdir", appsDir, "--http", "127.0.0.1:0", "--threads", "2")
	s.threads = 2
	var info pyInfo
	s.getJSON(t, "/", &info)
	if info.ImportEnv["GW_SECTION"] != "staging" {
		t.Errorf("GW_SECTION = %q, want staging", info.ImportEnv["GW_SECTION"])
	}
	s.waitLog(t, "threads=2")
}

// A YAML configuration file, with GOWSGI_* variables over it and flags
// over both; --print-config shows each value's origin.
func TestConfigFilePrecedence(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeText(t, filepath.Join(dir, "gowsgi.yaml"), `# gowsgi configuration
module: pyenv_app
chdir: `+appsDir+`
http: ["127.0.0.1:0"]
threads: 2
env:
  - GW_YAML=1
  - GW_SPACES=a b c
max-requests: 100
`)
	env := []string{"GOWSGI_THREADS=3", "GOWSGI_ENV=GW_ENVVAR=2", "GOWSGI_QUEUE=77", "GOWSGI_THREDS=9"}
	code, out, stderr := runIn(t, dir, env, "--config", "gowsgi.yaml", "--queue", "50", "--print-config")
	if code != 0 {
		t.Fatalf("--print-config exit %d; stderr:\n%s", code, stderr)
	}
	for _, want := range []string{
		"# config file: gowsgi.yaml\n",
		`module: "pyenv_app"  # file:gowsgi.yaml` + "\n",
		"threads: 3  # env:GOWSGI_THREADS\n",
		"queue: 50  # flag\n",
		`env: ["GW_ENVVAR=2"]  # env:GOWSGI_ENV` + "\n",
		"max-requests: 100  # file:gowsgi.yaml\n",
		`callable: "application"  # default` + "\n",
		"# unknown environment: GOWSGI_THREDS: names no gowsgi option (did you mean GOWSGI_THREADS?)\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("--print-config lacks %q", want)
		}
	}
	if t.Failed() {
		t.Logf("output:\n%s", out)
	}
	// The printed configuration reads back as a configuration file.
	printed := writeText(t, filepath.Join(dir, "printed.yaml"), out)
	code, again, stderr := runIn(t, dir, nil, "--config", printed, "--print-config")
	if code != 0 {
		t.Fatalf("reading --print-config's output back: exit %d; stderr:\n%s", code, stderr)
	}
	stripOrigins := func(s string) []string {
		var lines []string
		for _, l := range strings.Split(s, "\n") {
			if v, _, _ := strings.Cut(l, "  # "); v != "" && !strings.HasPrefix(v, "#") {
				lines = append(lines, v)
			}
		}
		return lines
	}
	if a, b := stripOrigins(out), stripOrigins(again); !slices.Equal(a, b) {
		t.Errorf("values changed when read back:\n%q\n%q", a, b)
	}

	// GOWSGI_CONFIG names the file when --config does not.
	code, out, stderr = runIn(t, dir, []string{"GOWSGI_CONFIG=gowsgi.yaml"}, "--print-config")
	if code != 0 || !strings.Contains(out, `module: "pyenv_app"  # file:gowsgi.yaml`) {
		t.Errorf("GOWSGI_CONFIG: exit %d\n%s\nstderr:\n%s", code, out, stderr)
	}

	// And it really serves with the merged options.
	s := startIn(t, dir, env[:2], "gowsgi.yaml")
	s.threads = 3
	var info pyInfo
	s.getJSON(t, "/", &info)
	if info.ImportEnv["GW_ENVVAR"] != "2" || info.ImportEnv["GW_YAML"] != "" {
		t.Errorf("import env %q: GOWSGI_ENV must replace the file's env list", info.ImportEnv)
	}
	s.waitLog(t, "threads=3")
}

// Bad values stop gowsgi before anything starts, naming the option, the
// file and the line (exit status 2, the usage status).
func TestConfigErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeText(t, filepath.Join(dir, "bad.ini"), "[uwsgi]\nmodule = hello\nthreads = many\n")
	writeText(t, filepath.Join(dir, "small.ini"), "[uwsgi]\nmodule = hello\nmax-head-bytes = 100\n")
	writeText(t, filepath.Join(dir, "typo.yaml"), "modul: hello\n")
	writeText(t, filepath.Join(dir, "strict.ini"), "[uwsgi]\nstrict = true\nmodule = hello\ndaemonize = /tmp/x.log\n")
	tests := []struct {
		args []string
		env  []string
		want string
	}{
		{[]string{"bad.ini"}, nil, `gowsgi: bad.ini:3: threads = "many": want a whole number`},
		{[]string{"small.ini"}, nil, "--max-head-bytes 100 must be larger than --max-request-line 8190 (--max-head-bytes from ini:small.ini:3)"},
		{[]string{"--config", "typo.yaml"}, nil, `typo.yaml: unknown option "modul" (did you mean "module"?)`},
		{[]string{"strict.ini"}, nil, "strict.ini:4: daemonize: not supported: run gowsgi in the foreground under systemd or docker (strict mode)"},
		{[]string{"--module", "hello"}, []string{"GOWSGI_THREADS=0x"}, `environment: GOWSGI_THREADS = "0x": want a whole number`},
		{[]string{"--ini", "missing.ini"}, nil, "missing.ini: no such file or directory"},
		{[]string{"app.conf"}, nil, `unknown command or file "app.conf"`},
		{[]string{"a.ini", "b.ini"}, nil, "too many arguments"},
		{[]string{"--ini", "bad.ini", "small.ini"}, nil, `two ini files: --ini "bad.ini" and "small.ini"`},
		{[]string{"--module", "hello", "--env", "NOEQUALS"}, nil, `--env "NOEQUALS": want KEY=VALUE`},
	}
	for _, tt := range tests {
		code, _, stderr := runIn(t, dir, tt.env, tt.args...)
		if code != 2 || !strings.Contains(stderr, tt.want) {
			t.Errorf("gowsgi %s: exit %d, stderr %q; want 2 and %q", strings.Join(tt.args, " "), code, stderr, tt.want)
		}
		if strings.Contains(stderr, "msg=listening") || strings.Contains(stderr, "python ready") {
			t.Errorf("gowsgi %s started despite the error", strings.Join(tt.args, " "))
		}
	}
}

// gowsgi check: the same options, imports the application, says what
// would run, exits 0; a broken application or bad options exit non-zero.
func TestCheck(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeText(t, filepath.Join(dir, "app.ini"), "[uwsgi]\nchdir = "+appsDir+"\nmodule = pyenv_app\nmaster = true\nthreads = 4\nsocket = 127.0.0.1:3031\nhttp = 127.0.0.1:8080\nenv = GW_CHECK=1\n")
	code, out, stderr := runIn(t, dir, nil, "check", "app.ini")
	if code != 0 {
		t.Fatalf("check exit %d; stderr:\n%s", code, stderr)
	}
	// The summary is a table: compare with the padding squeezed.
	squeezed := strings.Join(strings.Fields(strings.ReplaceAll(out, "\n", " | ")), " ")
	for _, want := range []string{
		"app pyenv_app:application |",
		"python 3.11",
		"directory " + appsDir + " |",
		"listeners http 127.0.0.1:8080, uwsgi 127.0.0.1:3031 |",
		"x 4 threads |",
		"| ok: the application imported |",
	} {
		if !strings.Contains(squeezed, want) {
			t.Errorf("check output lacks %q", want)
		}
	}
	if t.Failed() {
		t.Logf("output:\n%s\nstderr:\n%s", out, stderr)
	}
	// check binds nothing: the same check passes while the ports are taken.
	for _, bad := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"check", "--chdir", appsDir, "--module", "broken_import"}, 1, "Traceback (most recent call last):"},
		{[]string{"check", "--chdir", appsDir, "--module", "no_such_module_here"}, 1, "No module named 'no_such_module_here'"},
		{[]string{"check", "--chdir", appsDir, "--module", "hello", "--threads", "0"}, 2, "--threads 0: want 1 to 4096"},
		{[]string{"check", "--chdir", filepath.Join(dir, "nowhere"), "--module", "hello"}, 1, "--chdir: chdir " + filepath.Join(dir, "nowhere") + ": no such file or directory"},
	} {
		code, out, stderr := runIn(t, dir, nil, bad.args...)
		if code != bad.code || !strings.Contains(stderr, bad.want) || strings.Contains(out, "ok:") {
			t.Errorf("gowsgi %s: exit %d, stdout %q, stderr %q; want exit %d and %q", strings.Join(bad.args, " "), code, out, stderr, bad.code, bad.want)
		}
	}
}
