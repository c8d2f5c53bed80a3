package cli

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/gowsgi/gowsgi/config"
)

// configureAs runs the configuration step as the root command does, with
// settings from a master when they are not nil (a worker).
func configureAs(t *testing.T, args []string, settings []byte) (config.Options, []byte) {
	t.Helper()
	fs, o := realFlags(t, args...) // examples_test.go
	fromFiles, _, err := configure(fs, o, fs.Args(), settings != nil, settings, io.Discard, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	return *o, fromFiles
}

// optionsText prints o without the addresses of what it points to.
func optionsText(o config.Options) string {
	return regexp.MustCompile(`0x[0-9a-f]+`).ReplaceAllString(fmt.Sprintf("%+v", o), "ptr")
}

// A worker given the master's settings ends with the master's options,
// after normalization too (module "app:create" splits into module and
// callable), whatever became of the files.
func TestWorkerConfiguresLikeItsMaster(t *testing.T) {
	dir := t.TempDir()
	ini := filepath.Join(dir, "site.ini")
	yaml := filepath.Join(dir, "site.yaml")
	os.WriteFile(ini, []byte("[uwsgi]\nmodule = myapp:create\nthreads = 3\nenv = A=1\nstatic-map = /s=static\n"), 0o644)
	os.WriteFile(yaml, []byte("max-requests: 100\n"), 0o644)
	for _, args := range [][]string{
		{ini},
		{"--config", yaml, "--ini", ini},
		{"--callable", "flag", ini},
	} {
		master, settings := configureAs(t, args, nil)
		if settings == nil {
			t.Fatalf("%q: no settings from the files", args)
		}
		if args[0] == ini && (master.Module != "myapp" || master.Callable != "create") {
			t.Errorf("%q: module %q callable %q, want myapp and create", args, master.Module, master.Callable)
		}
		os.WriteFile(ini, []byte("[uwsgi]\nmodule = other:thing\nthreads = 9\n"), 0o644)
		worker, _ := configureAs(t, args, settings)
		if a, b := optionsText(master), optionsText(worker); a != b {
			t.Errorf("%q: the worker's options differ from the master's:\n master %s\n worker %s", args, a, b)
		}
		os.WriteFile(ini, []byte("[uwsgi]\nmodule = myapp:create\nthreads = 3\nenv = A=1\nstatic-map = /s=static\n"), 0o644)
	}
}
