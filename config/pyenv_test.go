package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const embedded311 = "3.11.2 (main, Apr 28 2025, 14:11:48) [GCC 12.2.0]"

// fakeVenv makes a directory laid out like a virtualenv: pyvenv.cfg with
// cfg (none when cfg is "-"), and the given bin/ entries.
func fakeVenv(t *testing.T, cfg string, bins ...string) string {
	t.Helper()
	dir := t.TempDir()
	if cfg != "-" {
		if err := os.WriteFile(filepath.Join(dir, "pyvenv.cfg"), []byte(cfg), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Join(dir, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, b := range bins {
		if err := os.WriteFile(filepath.Join(dir, "bin", b), nil, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestVirtualenv(t *testing.T) {
	venvCfg := "home = /usr/bin\ninclude-system-site-packages = false\nversion = 3.11.2\n"
	dir := fakeVenv(t, venvCfg, "python", "python3")
	exe, err := Virtualenv(dir, embedded311)
	if err != nil || exe != filepath.Join(dir, "bin", "python") {
		t.Fatalf("Virtualenv = %q, %v; want its bin/python", exe, err)
	}
	// The virtualenv tool writes version_info; only python3.11 exists.
	dir = fakeVenv(t, "home = /usr/bin\nimplementation = CPython\nversion_info = 3.11.4.final.0\nvirtualenv = 20.24.0\n", "python3.11")
	if exe, err := Virtualenv(dir, embedded311); err != nil || exe != filepath.Join(dir, "bin", "python3.11") {
		t.Errorf("virtualenv-tool layout: %q, %v", exe, err)
	}
	// No version in pyvenv.cfg: the lib/python3.11 directory decides.
	dir = fakeVenv(t, "home = /usr/bin\n", "python")
	if _, err := Virtualenv(dir, embedded311); err == nil || !strings.Contains(err.Error(), "names no Python version and there is no lib/python3.11") {
		t.Errorf("versionless venv without lib: %v", err)
	}
	os.MkdirAll(filepath.Join(dir, "lib", "python3.11"), 0o755)
	if _, err := Virtualenv(dir, embedded311); err != nil {
		t.Errorf("versionless venv with lib/python3.11: %v", err)
	}
}

func TestVirtualenvErrors(t *testing.T) {
	notVenv := fakeVenv(t, "-", "python")
	file := filepath.Join(t.TempDir(), "f")
	os.WriteFile(file, nil, 0o644)
	other := fakeVenv(t, "home = /usr/bin\nversion = 3.12.1\n", "python")
	noPython := fakeVenv(t, "version = 3.11.2\n")
	dangling := fakeVenv(t, "version = 3.11.2\n")
	os.Symlink("/nonexistent/python3.11", filepath.Join(dangling, "bin", "python"))
	tests := []struct{ dir, want string }{
		{notVenv, notVenv + " is not a virtualenv (no pyvenv.cfg)"},
		{filepath.Join(notVenv, "nope"), "virtualenv " + notVenv + "/nope does not exist"},
		{file, "virtualenv " + file + " is not a directory"},
		{other, "virtualenv " + other + " was made for Python 3.12, but gowsgi embeds Python 3.11: recreate it with python3.11 -m venv"},
		{noPython, "virtualenv " + noPython + " has no bin/python"},
		{dangling, "virtualenv " + dangling + " has no bin/python"},
	}
	for _, tt := range tests {
		_, err := Virtualenv(tt.dir, embedded311)
		if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("Virtualenv(%s) = %v, want %q", tt.dir, err, tt.want)
		}
	}
}

func TestVirtualenvRelative(t *testing.T) {
	dir := fakeVenv(t, "version = 3.11.2\n", "python")
	t.Chdir(filepath.Dir(dir))
	exe, err := Virtualenv(filepath.Base(dir), embedded311)
	if err != nil || exe != filepath.Join(dir, "bin", "python") {
		t.Errorf("relative: %q, %v", exe, err)
	}
}

func TestMajorMinor(t *testing.T) {
	for in, want := range map[string]string{"3.11.2": "3.11", "3.11.4.final.0": "3.11", "3.9": "3.9", "3": "", "": "", "3.x.1": "", "a.b": "", "3.13.0rc1": "3.13"} {
		if got := majorMinor(in); got != want {
			t.Errorf("majorMinor(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestPythonEnvValidateAndSetenv(t *testing.T) {
	p := PythonEnv{Env: []string{"GOWSGI_TEST_A=1=2", "NOEQUALS", "=x", "GOWSGI_TEST_B="}, Home: "/v"}
	errs := p.validate("/usr/bin/python3")
	var msgs []string
	for _, e := range errs {
		msgs = append(msgs, e.Error())
	}
	want := []string{`--env "NOEQUALS": want KEY=VALUE`, `--env "=x": empty variable name`, `--home "/v" and --python-exe "/usr/bin/python3" are exclusive: the virtualenv decides the python`}
	if strings.Join(msgs, "\n") != strings.Join(want, "\n") {
		t.Errorf("validate:\n got %q\nwant %q", msgs, want)
	}
	ok := PythonEnv{Env: []string{"GOWSGI_TEST_A=1=2", "GOWSGI_TEST_B="}}
	if errs := ok.validate(""); len(errs) != 0 {
		t.Fatalf("validate: %v", errs)
	}
	t.Setenv("GOWSGI_TEST_B", "inherited") // restored after the test
	t.Setenv("GOWSGI_TEST_A", "")
	if err := ok.Setenv(); err != nil {
		t.Fatal(err)
	}
	if a, b := os.Getenv("GOWSGI_TEST_A"), os.Getenv("GOWSGI_TEST_B"); a != "1=2" || b != "" {
		t.Errorf("after Setenv A=%q B=%q, want 1=2 and empty", a, b)
	}
}
