package config

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// PythonEnv is the environment the embedded interpreter starts in.
type PythonEnv struct {
	// Env lists KEY=VALUE pairs put in the process environment before
	// Python starts, so os.environ has them from the first import
	// (DJANGO_SETTINGS_MODULE is the classic). They replace inherited
	// values. Default none.
	Env []string
	// Home is a virtualenv directory (uWSGI's home, virtualenv or venv).
	// The interpreter starts as that virtualenv's bin/python would: its
	// sys.prefix, sys.executable and site-packages. It must have been made
	// for the embedded Python's major.minor version. A relative path is
	// taken from --chdir. Default: no virtualenv.
	Home string
}

func (p *PythonEnv) validate(pythonExe string) []error {
	var errs []error
	for _, kv := range p.Env {
		k, _, ok := strings.Cut(kv, "=")
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("--env %q: want KEY=VALUE", kv))
		case k == "":
			errs = append(errs, fmt.Errorf("--env %q: empty variable name", kv))
		case strings.ContainsRune(kv, 0):
			errs = append(errs, fmt.Errorf("--env %q: contains a NUL byte", kv))
		}
	}
	if p.Home != "" && pythonExe != "" {
		errs = append(errs, fmt.Errorf("--home %q and --python-exe %q are exclusive: the virtualenv decides the python", p.Home, pythonExe))
	}
	return errs
}

// Setenv puts Env into the process environment.
func (p *PythonEnv) Setenv() error {
	for _, kv := range p.Env {
		k, v, _ := strings.Cut(kv, "=")
		if err := os.Setenv(k, v); err != nil {
			return fmt.Errorf("--env %q: %v", kv, err)
		}
	}
	return nil
}

// Virtualenv checks that dir is a virtualenv made for the embedded Python,
// whose sys.version is embedded ("3.11.2 (main, ...)"), and returns the
// path of its python, which the interpreter must be started as (not the
// file it links to: Python finds pyvenv.cfg next to the path it is given).
func Virtualenv(dir, embedded string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("virtualenv %s: %v", dir, err)
	}
	st, err := os.Stat(abs)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return "", fmt.Errorf("virtualenv %s does not exist", abs)
	case err != nil:
		return "", fmt.Errorf("virtualenv %s: %v", abs, err)
	case !st.IsDir():
		return "", fmt.Errorf("virtualenv %s is not a directory", abs)
	}
	cfg, err := os.ReadFile(filepath.Join(abs, "pyvenv.cfg"))
	if errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("%s is not a virtualenv (no pyvenv.cfg)", abs)
	} else if err != nil {
		return "", fmt.Errorf("virtualenv %s: %v", abs, err)
	}
	want := majorMinor(strings.Fields(embedded + " ")[0])
	got := majorMinor(pyvenvVersion(cfg))
	switch {
	case got == "":
		// pyvenv.cfg without a version: judge by the lib/pythonX.Y
		// directory the virtualenv's site-packages is in.
		if _, err := os.Stat(filepath.Join(abs, "lib", "python"+want)); err != nil {
			return "", fmt.Errorf("virtualenv %s: pyvenv.cfg names no Python version and there is no lib/python%s: was it made for Python %s?", abs, want, want)
		}
	case got != want:
		return "", fmt.Errorf("virtualenv %s was made for Python %s, but gowsgi embeds Python %s: recreate it with python%s -m venv", abs, got, want, want)
	}
	for _, name := range []string{"python", "python3", "python" + want} {
		exe := filepath.Join(abs, "bin", name)
		if st, err := os.Stat(exe); err == nil && !st.IsDir() {
			return exe, nil
		}
	}
	return "", fmt.Errorf("virtualenv %s has no bin/python (or it links to a python that is gone)", abs)
}

// pyvenvVersion returns the Python version pyvenv.cfg records: "version"
// from python -m venv, "version_info" from the virtualenv tool.
func pyvenvVersion(cfg []byte) string {
	found := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(cfg))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "=")
		if ok {
			found[strings.ToLower(strings.TrimSpace(k))] = strings.TrimSpace(v)
		}
	}
	if v := found["version"]; v != "" {
		return v
	}
	return found["version_info"]
}

// majorMinor returns "3.11" from "3.11.2" or "3.11.2.final.0", or "".
func majorMinor(v string) string {
	parts := strings.SplitN(v, ".", 3)
	if len(parts) < 2 || parts[0] == "" || parts[1] == "" {
		return ""
	}
	for _, p := range parts[:2] {
		for _, r := range p {
			if r < '0' || r > '9' {
				return ""
			}
		}
	}
	return parts[0] + "." + parts[1]
}
