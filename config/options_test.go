package config

import (
	"strings"
	"testing"
)

func TestDefaultsNeedOnlyAnApp(t *testing.T) {
	o := Defaults()
	if err := o.Validate(); err == nil || !strings.Contains(err.Error(), "no application") {
		t.Fatalf("defaults without an app: got %v", err)
	}
	o.Module = "hello"
	if err := o.Validate(); err != nil {
		t.Fatalf("defaults with an app: %v", err)
	}
}

func TestNormalizeSplitsCallable(t *testing.T) {
	o := Defaults()
	o.Module = "myproj.wsgi:app"
	o.Normalize()
	if o.Module != "myproj.wsgi" || o.Callable != "app" {
		t.Fatalf("got %q %q", o.Module, o.Callable)
	}
	o.Module = "myproj.wsgi"
	o.Callable = "application"
	o.Normalize()
	if o.Callable != "application" {
		t.Fatalf("callable changed to %q", o.Callable)
	}
}

func TestValidateNamesEachBadOption(t *testing.T) {
	o := Defaults()
	o.Module = "a..b"
	o.WSGIFile = "x.py"
	o.Threads = 0
	o.HTTP = []string{"nonsense"}
	o.UnderscoreHeaders = "maybe"
	o.HeaderTimeout = 0
	err := o.Validate()
	if err == nil {
		t.Fatal("want an error")
	}
	for _, want := range []string{"exclusive", "dotted", "--threads 0", `--http "nonsense"`, "--underscore-headers", "--header-timeout"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

func TestGoMaxProcsFor(t *testing.T) {
	for _, c := range []struct{ threads, set, want int }{
		{1, 0, 1}, {32, 0, 1}, {64, 0, 1}, {65, 0, 2}, {128, 0, 2}, {128, 1, 1}, {4, 3, 3},
	} {
		o := Defaults()
		o.Threads, o.GoMaxProcs = c.threads, c.set
		if got := o.GoMaxProcsFor(); got != c.want {
			t.Errorf("threads %d, --go-maxprocs %d: got %d, want %d", c.threads, c.set, got, c.want)
		}
	}
	o := Defaults()
	o.GoMaxProcs = -1
	if err := o.Validate(); err == nil {
		t.Error("--go-maxprocs -1 was accepted")
	}
}
