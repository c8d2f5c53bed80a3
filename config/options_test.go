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
