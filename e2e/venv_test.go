package e2e

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// systemPython is the Debian python whose libpython gowsgi embeds; the
// virtualenvs must be made with it (`python3` on PATH may be another build).
const systemPython = "/usr/bin/python3"

// runTool runs a setup command (venv, pip) with a deadline and fails the
// test with its output if it fails.
func runTool(t *testing.T, timeout time.Duration, env []string, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// makeVenv creates a virtualenv in a fresh temporary directory with the
// system python; withPip also gives it pip (slower).
func makeVenv(t *testing.T, withPip bool) string {
	t.Helper()
	if _, err := os.Stat(systemPython); err != nil {
		t.Skipf("%s is missing: %v", systemPython, err)
	}
	dir := filepath.Join(t.TempDir(), "venv")
	args := []string{"-m", "venv", dir}
	if !withPip {
		args = []string{"-m", "venv", "--without-pip", dir}
	}
	runTool(t, 60*time.Second, nil, systemPython, args...)
	return dir
}

// venvPython asks the virtualenv's own python what gowsgi's embedded one
// must agree with.
func venvPython(t *testing.T, venv string) pyInfo {
	t.Helper()
	const probe = `import json, site, sys
print(json.dumps({"prefix": sys.prefix, "base_prefix": sys.base_prefix, "exec_prefix": sys.exec_prefix,
    "executable": sys.executable, "path": sys.path, "site_packages": site.getsitepackages()}))`
	var info pyInfo
	out := runTool(t, 30*time.Second, nil, filepath.Join(venv, "bin", "python"), "-c", probe)
	if err := json.Unmarshal([]byte(out), &info); err != nil {
		t.Fatalf("venv python said %q: %v", out, err)
	}
	return info
}

// --home: a virtualenv made with python3 -m venv, holding a package that
// its own pip installed (offline), is used exactly as its python would:
// same sys.prefix, sys.executable, site-packages and sys.path, the
// package importable, the system site-packages not.
func TestVirtualenv(t *testing.T) {
	t.Parallel()
	venv := makeVenv(t, true)
	// Build from a copy: pip may write into the source tree.
	pkg := filepath.Join(t.TempDir(), "venvpkg")
	if err := os.CopyFS(pkg, os.DirFS(filepath.Join(filepath.Dir(appsDir), "e2e", "testdata", "venvpkg"))); err != nil {
		t.Fatal(err)
	}
	// Offline: no index, no find-links from the user's pip configuration.
	runTool(t, 60*time.Second, []string{"PIP_FIND_LINKS=", "PIP_NO_INPUT=1", "PIP_DISABLE_PIP_VERSION_CHECK=1"},
		filepath.Join(venv, "bin", "pip"), "install", "--no-index", "--no-build-isolation", "--no-cache-dir", pkg)
	own := venvPython(t, venv)

	for _, flag := range []string{"--home", "--virtualenv", "--venv"} {
		t.Run(flag, func(t *testing.T) {
			s := launch(t, "--module", "pyenv_app", flag, venv)
			var info pyInfo
			s.getJSON(t, "/", &info)
			if info.Prefix != venv || info.ExecPrefix != venv || info.Executable != filepath.Join(venv, "bin", "python") {
				t.Errorf("prefix %q exec_prefix %q executable %q, want the virtualenv's", info.Prefix, info.ExecPrefix, info.Executable)
			}
			if info.Prefix != own.Prefix || info.BasePrefix != own.BasePrefix || info.Executable != own.Executable ||
				!slices.Equal(info.SitePackages, own.SitePackages) {
				t.Errorf("embedded: prefix %q base %q exe %q site %q\nvenv python: prefix %q base %q exe %q site %q",
					info.Prefix, info.BasePrefix, info.Executable, info.SitePackages, own.Prefix, own.BasePrefix, own.Executable, own.SitePackages)
			}
			// sys.path: the app directory instead of the script directory, then the same.
			if len(info.Path) < 1 || len(own.Path) < 1 || !slices.Equal(info.Path[1:], own.Path[1:]) {
				t.Errorf("sys.path %q, the venv python's %q (first entries aside)", info.Path, own.Path)
			}
			if want := filepath.Join(venv, "lib", "python"+info.Version, "site-packages", "gw_venv_probe", "__init__.py"); info.Probe["file"] != want || info.Probe["magic"] != "gw-venv-probe 1.0" {
				t.Errorf("gw_venv_probe: %q, want imported from %s", info.Probe, want)
			}
			if info.SystemFlask {
				t.Errorf("Debian's flask is importable: the system site-packages leak into the virtualenv")
			}
		})
	}

	// gowsgi check names the virtualenv and its python.
	code, out, stderr := runToExitIn(t, "check", "--chdir", appsDir, "--module", "pyenv_app", "--home", venv)
	if code != 0 || !strings.Contains(out, venv+"/bin/python") || !regexp.MustCompile(`virtualenv\s+`+regexp.QuoteMeta(venv)).MatchString(out) {
		t.Errorf("check --home: exit %d\n%s\nstderr:\n%s", code, out, stderr)
	}
}

// Without --home, the same application sees the system python, not a
// virtualenv: the test above is not passing by accident.
func TestNoVirtualenv(t *testing.T) {
	t.Parallel()
	s := launch(t, "--module", "pyenv_app")
	var info pyInfo
	s.getJSON(t, "/", &info)
	if info.Prefix != info.BasePrefix || info.Probe["error"] == "" || !info.SystemFlask {
		t.Errorf("prefix %q base %q probe %q system flask %v: want the system python", info.Prefix, info.BasePrefix, info.Probe, info.SystemFlask)
	}
}

// A directory that is not a virtualenv, and a virtualenv made for another
// Python, are refused before Python starts, by serve and check alike,
// with a message naming the directory (and both versions).
func TestVirtualenvErrors(t *testing.T) {
	t.Parallel()
	notVenv := t.TempDir()
	other := makeVenv(t, false)
	cfg := filepath.Join(other, "pyvenv.cfg")
	data, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	faked := regexp.MustCompile(`(?m)^version\s*=.*$`).ReplaceAll(data, []byte("version = 3.9.18"))
	if string(faked) == string(data) {
		t.Fatalf("pyvenv.cfg has no version line:\n%s", data)
	}
	if err := os.WriteFile(cfg, faked, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct{ dir, want string }{
		{notVenv, notVenv + " is not a virtualenv (no pyvenv.cfg)"},
		{other, "virtualenv " + other + " was made for Python 3.9, but gowsgi embeds Python 3.11"},
		{filepath.Join(notVenv, "missing"), "virtualenv " + filepath.Join(notVenv, "missing") + " does not exist"},
	}
	for _, tt := range tests {
		for _, cmd := range [][]string{{"--http", "127.0.0.1:0"}, {"check"}} {
			args := append(cmd, "--chdir", appsDir, "--module", "pyenv_app", "--home", tt.dir)
			code, _, stderr := runToExitIn(t, args...)
			if code != 1 || !strings.Contains(stderr, tt.want) {
				t.Errorf("gowsgi %s: exit %d, stderr %q; want 1 and %q", strings.Join(args, " "), code, stderr, tt.want)
			}
			if strings.Contains(stderr, "python ready") || strings.Contains(stderr, "msg=listening") {
				t.Errorf("gowsgi %s started despite the bad virtualenv", strings.Join(args, " "))
			}
		}
	}
}

// runToExitIn runs the binary in the test apps directory with exactly args.
func runToExitIn(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	return runIn(t, appsDir, nil, args...)
}
