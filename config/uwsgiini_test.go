package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// A uWSGI ini file of the kind Django deployments use, read against the
// test flags: what maps, accumulates, converts, and what is reported.
func TestIniMapping(t *testing.T) {
	dir := t.TempDir()
	for _, d := range []string{"lib/a.egg", "lib/b.egg"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	ini := writeFile(t, "site.ini", `[uwsgi]
base = `+dir+`
project = mysite
chdir = %(base)/%(project)
module = %(project).wsgi:application
Master = true
workers = 4
threads = 2
harakiri = 30
vacuum = off
env = DJANGO_SETTINGS_MODULE=%(project).settings
env = LANG=C.UTF-8
pythonpath = %(base)/lib/*.egg
pythonpath = %(base)/missing/*
http-socket = :8000
http = 127.0.0.1:9000
chmod-socket =
threads = 3
virtualenv = /srv/venv
enable-threads = true
procesess = 9
daemonize = /var/log/x.log
stats = 127.0.0.1:9191
`)
	fs, o := newTestFlags(t)
	r := mustLoad(t, fs, Sources{Ini: ini})
	if o.module != "mysite.wsgi:application" || o.procs != 4 || o.threads != 3 || o.harakiri != 30*time.Second || o.vacuum ||
		o.home != "/srv/venv" || o.chmod != "666" || o.chdir != dir+"/mysite" {
		t.Errorf("scalars: %+v", *o)
	}
	if want := []string{"DJANGO_SETTINGS_MODULE=mysite.settings", "LANG=C.UTF-8"}; !reflect.DeepEqual(o.env, want) {
		t.Errorf("env %q, want %q", o.env, want)
	}
	if want := []string{dir + "/lib/a.egg", dir + "/lib/b.egg", dir + "/missing/*"}; !reflect.DeepEqual(o.paths, want) {
		t.Errorf("pythonpath %q, want %q", o.paths, want)
	}
	if want := []string{":8000", "127.0.0.1:9000"}; !reflect.DeepEqual(o.http, want) {
		t.Errorf("http %q, want %q (http-socket and http accumulate into one list)", o.http, want)
	}
	if g := r.Origins["threads"].String(); g != "ini:"+ini+":18" {
		t.Errorf("threads origin %q: the last occurrence wins", g)
	}
	var notes []string
	for _, n := range r.Notes {
		notes = append(notes, n.Kind+" "+n.String())
	}
	want := []string{
		"ignored " + ini + ":6: master: gowsgi's main process always supervises",
		"ignored " + ini + ":20: enable-threads: Python threads are always enabled",
		"unknown " + ini + ":21: procesess: unknown option, ignored (did you mean \"processes\"?)",
		"unsupported " + ini + ":22: daemonize: not supported: run gowsgi in the foreground under systemd or docker",
		"unsupported " + ini + ":23: stats: not supported by this build (no --stats flag)",
	}
	if !reflect.DeepEqual(notes, want) {
		t.Errorf("notes:\n got %q\nwant %q", notes, want)
	}
}

// module is always a module that uWSGI imports, even one named
// mysite.wsgi as Django's is, and wsgi is its alias; wsgi-file and file
// load a file.
func TestIniModuleForms(t *testing.T) {
	for line, want := range map[string]struct{ module, file string }{
		"module = mysite.wsgi":             {"mysite.wsgi", ""},
		"module = mysite.wsgi:application": {"mysite.wsgi:application", ""},
		"wsgi = mysite.wsgi:app":           {"mysite.wsgi:app", ""},
		"wsgi-file = /srv/site/app.wsgi":   {"", "/srv/site/app.wsgi"},
		"file = app.py":                    {"", "app.py"},
	} {
		fs, o := newTestFlags(t)
		mustLoad(t, fs, Sources{Ini: writeFile(t, "m.ini", "[uwsgi]\n"+line+"\n")})
		if o.module != want.module || o.wsgiFile != want.file {
			t.Errorf("%s: --module %q --wsgi-file %q, want %q %q", line, o.module, o.wsgiFile, want.module, want.file)
		}
	}
}

func TestIniErrors(t *testing.T) {
	tests := []struct{ text, want string }{
		{"[uwsgi]\nmaster = true\nthreads = lots\n", `:3: threads = "lots": want a whole number`},
		{"[uwsgi]\nharakiri = soon\n", `:2: harakiri = "soon": time: invalid duration "soon"`},
		{"[uwsgi]\nuid = www-data\n", `:2: uid = "www-data": not supported by this build (no --uid flag); refusing to start without it`},
		{"[uwsgi]\nstrict = true\nprocesess = 2\n", `:3: procesess: unknown option, ignored (did you mean "processes"?) (strict mode)`},
		{"[uwsgi]\nstrict = true\ndaemonize = x\n", `:3: daemonize: not supported: run gowsgi`},
		{"[uwsgi]\nchdir = %(base)\n", `:2: placeholder %(base) refers to option "base"`},
		{"[uwsgi]\nstatic-expires = /static/.* 3600\n", `:2: static-expires = "/static/.* 3600": the "REGEXP SECONDS" form is not supported`},
		{"[uwsgi]\nworkers = 2x\n", `:2: workers = "2x" (--processes): want a whole number`},
		{"[other]\nthreads = 2\n", `no [uwsgi] section`},
	}
	for _, tt := range tests {
		ini := writeFile(t, "bad.ini", tt.text)
		fs, _ := newTestFlags(t)
		if e := loadErr(t, fs, Sources{Ini: ini}); !strings.Contains(e, ini+tt.want) && !strings.Contains(e, tt.want) || !strings.Contains(e, ini) {
			t.Errorf("%q: error %q, want %q naming the file", tt.text, e, tt.want)
		}
	}
	// strict mode still accepts what is ignored by design.
	ini := writeFile(t, "strict.ini", "[uwsgi]\nstrict = true\nmaster = true\nthreads = 2\n")
	fs, o := newTestFlags(t)
	mustLoad(t, fs, Sources{Ini: ini})
	if o.threads != 2 {
		t.Errorf("threads %d", o.threads)
	}
}

// ini file:section reads another section, and $(ENV) comes from Getenv.
func TestIniSectionAndEnv(t *testing.T) {
	ini := writeFile(t, "multi.ini", "[uwsgi]\nthreads = 1\n[staging]\nthreads = 5\nmodule = $(APP)\n")
	fs, o := newTestFlags(t)
	mustLoad(t, fs, Sources{Ini: ini + ":staging", Getenv: func(k string) string { return map[string]string{"APP": "stage.wsgi"}[k] }})
	if o.threads != 5 || o.module != "stage.wsgi" {
		t.Errorf("threads %d module %q", o.threads, o.module)
	}
}

func TestUwsgiTrue(t *testing.T) {
	for v, want := range map[string]bool{"": true, "true": true, "1": true, "yes": true, "anything": true, "false": false, "Off": false, "NO": false, "0": false} {
		if uwsgiTrue(v) != want {
			t.Errorf("uwsgiTrue(%q) = %v", v, !want)
		}
	}
}

// Every rule's target is a flag name, not a typo: each mapped option's
// flags must be flags that exist somewhere in gowsgi, or be documented.
func TestIniRulesAreConsistent(t *testing.T) {
	for k, r := range uwsgiOptions {
		if r.ignore != "" && r.unsupported != "" {
			t.Errorf("%s is both ignored and unsupported", k)
		}
		if r.unsupported != "" && (r.flags != nil || r.required || r.convert != nil) {
			t.Errorf("%s is unsupported but also maps to flags", k)
		}
		if r.ignore != "" && (r.required || r.convert != nil) {
			t.Errorf("%s is ignored but also converts or requires", k)
		}
		if k != strings.ToLower(k) || strings.Contains(k, "_") {
			t.Errorf("%s is not a normalised ini key", k)
		}
	}
}
