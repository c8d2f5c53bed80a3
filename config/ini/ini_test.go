package ini

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func fakeEnv(env map[string]string) func(string) string {
	return func(k string) string { return env[k] }
}

func write(t *testing.T, dir, name, text string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// realDir returns dir with symlinks resolved, since on some systems TempDir
// itself lives under a symlink and Load reports real locations.
func realDir(t *testing.T, dir string) string {
	t.Helper()
	r, err := filepath.EvalSymlinks(dir)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

type kv struct{ k, v string }

func pairs(es []Entry) []kv {
	out := make([]kv, len(es))
	for i, e := range es {
		out[i] = kv{e.Key, e.Value}
	}
	return out
}

// A deployment in the style of the Django/nginx tutorials: the [uwsgi]
// section is not first, and the file is shared with another tool's section.
const djangoINI = `; mysite_uwsgi.ini — deployed by ansible
# vim: ft=dosini

[app:main]
use = egg:mysite
this line has no equals sign but belongs to another section

[uwsgi]
base        = /srv/www
project     = mysite
home        = $(HOME)/.virtualenvs/%(project)
chdir       = %(base)/%(project)
module      = %(project).wsgi:application
master      = true
processes   = 4
socket      = /run/uwsgi/%n.sock
chmod-socket = 664
vacuum      = true
harakiri    = 30
env         = DJANGO_SETTINGS_MODULE=%(project).settings.production
env         = LANG=en_US.UTF-8
pythonpath  = %d
pythonpath  = %(chdir)/lib
Max_Requests = 5000
static-map  = /static=%(chdir)/static
logto       = /var/log/uwsgi/%n.log
logformat   = %(addr) - %(user) [%(ltime)] "%(method) %(uri) %(proto)" %(status) %(size) project=%(project)
empty       =

[other]
processes = 99
`

func TestLoadDjango(t *testing.T) {
	dir := t.TempDir()
	path := write(t, dir, "mysite_uwsgi.ini", djangoINI)
	d := realDir(t, dir) + string(filepath.Separator)

	got, err := Load(path, "", fakeEnv(map[string]string{"HOME": "/home/deploy"}))
	if err != nil {
		t.Fatal(err)
	}
	want := []kv{
		{"base", "/srv/www"},
		{"project", "mysite"},
		{"home", "/home/deploy/.virtualenvs/mysite"},
		{"chdir", "/srv/www/mysite"},
		{"module", "mysite.wsgi:application"},
		{"master", "true"},
		{"processes", "4"},
		{"socket", "/run/uwsgi/mysite_uwsgi.sock"},
		{"chmod-socket", "664"},
		{"vacuum", "true"},
		{"harakiri", "30"},
		{"env", "DJANGO_SETTINGS_MODULE=mysite.settings.production"},
		{"env", "LANG=en_US.UTF-8"},
		{"pythonpath", d},
		{"pythonpath", "/srv/www/mysite/lib"},
		{"max-requests", "5000"},
		{"static-map", "/static=/srv/www/mysite/static"},
		{"logto", "/var/log/uwsgi/mysite_uwsgi.log"},
		{"logformat", `%(addr) - %(user) [%(ltime)] "%(method) %(uri) %(proto)" %(status) %(size) project=mysite`},
		{"empty", ""},
	}
	if g := pairs(got); !reflect.DeepEqual(g, want) {
		t.Errorf("entries mismatch:\n got %q\nwant %q", g, want)
	}
	if got[0].File != path || got[0].Line != 9 {
		t.Errorf("first entry at %s:%d, want %s:9", got[0].File, got[0].Line, path)
	}
	if e := got[len(got)-1]; e.Line != 28 {
		t.Errorf("last entry at line %d, want 28", e.Line)
	}
}

func TestLoadOtherSection(t *testing.T) {
	dir := t.TempDir()
	path := write(t, dir, "app.ini", djangoINI)
	got, err := Load(path, "other", nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := []kv{{"processes", "99"}}; !reflect.DeepEqual(pairs(got), want) {
		t.Errorf("got %q, want %q", pairs(got), want)
	}
}

func TestMagicVars(t *testing.T) {
	dir := t.TempDir()
	path := write(t, dir, "proj/conf/site.prod.ini",
		"[uwsgi]\nall = d=%d p=%p s=%s n=%n e=%e c=%c pct=%% 100%\nunknown = %h %k %0 %Z %$(USER) $ $x %\n")
	rd := realDir(t, filepath.Join(dir, "proj", "conf"))
	got, err := Load(path, "uwsgi", fakeEnv(map[string]string{"USER": "www"}))
	if err != nil {
		t.Fatal(err)
	}
	want := []kv{
		{"all", "d=" + rd + "/ p=" + rd + "/site.prod.ini s=site.prod.ini n=site.prod e=ini c=conf pct=% 100%"},
		{"unknown", "%h %k %0 %Z %www $ $x %"},
	}
	if g := pairs(got); !reflect.DeepEqual(g, want) {
		t.Errorf("got %q\nwant %q", g, want)
	}
}

func TestMagicFromAbs(t *testing.T) {
	tests := []struct {
		abs  string
		want magic
	}{
		{"/etc/uwsgi/app.ini", magic{d: "/etc/uwsgi/", p: "/etc/uwsgi/app.ini", s: "app.ini", n: "app", e: "ini", c: "uwsgi"}},
		{"/app.ini", magic{d: "/", p: "/app.ini", s: "app.ini", n: "app", e: "ini", c: ""}},
		{"/srv/noext", magic{d: "/srv/", p: "/srv/noext", s: "noext", n: "noext", e: "", c: "srv"}},
	}
	for _, tt := range tests {
		if got := magicFromAbs(tt.abs); got != tt.want {
			t.Errorf("magicFromAbs(%q) = %+v, want %+v", tt.abs, got, tt.want)
		}
	}
}

// A vassal symlinked into an emperor directory keeps the link's location,
// while a symlinked directory on the way is resolved.
func TestMagicSymlinks(t *testing.T) {
	dir := realDir(t, t.TempDir())
	target := write(t, dir, "project/site.ini", "[uwsgi]\nwhere = %d%n\n")
	if err := os.MkdirAll(filepath.Join(dir, "vassals"), 0o755); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "vassals", "alias.ini")
	if err := os.Symlink(target, link); err != nil {
		t.Skip("symlinks unsupported:", err)
	}
	if err := os.Symlink(filepath.Join(dir, "project"), filepath.Join(dir, "current")); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ path, want string }{
		{link, filepath.Join(dir, "vassals") + "/alias"},
		{filepath.Join(dir, "current", "site.ini"), filepath.Join(dir, "project") + "/site"},
	} {
		got, err := Load(tt.path, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		if got[0].Value != tt.want {
			t.Errorf("Load(%s): where = %q, want %q", tt.path, got[0].Value, tt.want)
		}
	}
}

func TestRelativePath(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "rel.ini", "[uwsgi]\np = %p\n")
	t.Chdir(dir)
	got, err := Load("rel.ini", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(realDir(t, dir), "rel.ini"); got[0].Value != want {
		t.Errorf("%%p = %q, want %q", got[0].Value, want)
	}
	if got[0].File != "rel.ini" {
		t.Errorf("File = %q, want the path as given", got[0].File)
	}
}

func TestParseDetails(t *testing.T) {
	m := magicFromAbs("/etc/uwsgi/app.ini")
	env := fakeEnv(map[string]string{"A": "%(x)", "B": "b"})
	tests := []struct {
		name, text string
		want       []kv
	}{
		{"bom and crlf", "\xef\xbb\xbf[uwsgi]\r\nmaster = true\r\n", []kv{{"master", "true"}}},
		{"indented comments and keys", "  [ uwsgi ]\n\t; c\n   # c\n  a =  1 \n", []kv{{"a", "1"}}},
		{"no inline comments", "[uwsgi]\na = b ; c # d\n", []kv{{"a", "b ; c # d"}}},
		{"value with equals", "[uwsgi]\nenv = A=B=C\n", []kv{{"env", "A=B=C"}}},
		{"key normalisation", "[uwsgi]\nCHMOD_Socket = 660\n", []kv{{"chmod-socket", "660"}}},
		{"placeholder name normalised", "[uwsgi]\nmy_base = /x\nv = %(MY-BASE)\n", []kv{{"my-base", "/x"}, {"v", "/x"}}},
		{"last value wins", "[uwsgi]\na = 1\na = 2\nb = %(a)\n", []kv{{"a", "1"}, {"a", "2"}, {"b", "2"}}},
		{"self reference uses previous", "[uwsgi]\np = /a\np = %(p):/b\n", []kv{{"p", "/a"}, {"p", "/a:/b"}}},
		{"env results are not re-expanded", "[uwsgi]\nv = $(A)$(B)$(UNSET)\n", []kv{{"v", "%(x)b"}}},
		{"placeholder results are not re-expanded", "[uwsgi]\na = %%d\nb = %(a)\n", []kv{{"a", "%d"}, {"b", "%d"}}},
		{"repeated section accumulates", "[uwsgi]\na = 1\n[x]\na = 9\n[uwsgi]\nb = %(a)\n", []kv{{"a", "1"}, {"b", "1"}}},
		{"lines before any section", "stray = 1\nno equals here\n[uwsgi]\na = 2\n", []kv{{"a", "2"}}},
		{"empty section", "[uwsgi]\n[x]\n", nil},
		{"no trailing newline", "[uwsgi]\na = 1", []kv{{"a", "1"}}},
		{"logformat unterminated kept", "[uwsgi]\nlog-format = %(addr\n", []kv{{"log-format", "%(addr"}}},
		{"section name case sensitive", "[UWSGI]\na = 1\n[uwsgi]\nb = 2\n", []kv{{"b", "2"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parse([]byte(tt.text), "t.ini", "uwsgi", m, env)
			if err != nil {
				t.Fatal(err)
			}
			if g := pairs(got); !reflect.DeepEqual(g, tt.want) && !(len(g) == 0 && len(tt.want) == 0) {
				t.Errorf("got %q, want %q", g, tt.want)
			}
		})
	}
}

func TestErrors(t *testing.T) {
	m := magicFromAbs("/etc/uwsgi/app.ini")
	tests := []struct {
		name, text, section, want string
	}{
		{"unknown placeholder", "[uwsgi]\n\nchdir = %(base)/app\n", "uwsgi",
			`app.ini:3: placeholder %(base) refers to option "base", which is not set earlier in the section`},
		{"placeholder set later", "[uwsgi]\na = %(b)\nb = 1\n", "uwsgi", `app.ini:2: placeholder %(b) refers to option "b"`},
		{"placeholder from other section", "[x]\nb = 1\n[uwsgi]\na = %(b)\n", "uwsgi", `app.ini:4: placeholder %(b)`},
		{"unterminated placeholder", "[uwsgi]\na = %(b\n", "uwsgi", `app.ini:2: unterminated %( in value "%(b"`},
		{"unterminated env", "[uwsgi]\na = $(HOME\n", "uwsgi", `app.ini:2: unterminated $( in value "$(HOME"`},
		{"line without equals", "[uwsgi]\nmaster = true\nvacuum\n", "uwsgi", `app.ini:3: expected key = value in [uwsgi], got "vacuum"`},
		{"empty key", "[uwsgi]\n = 1\n", "uwsgi", `app.ini:2: empty option name in "= 1"`},
		{"missing section", "[uwsgi]\na = 1\n", "prod", `app.ini: no [prod] section`},
		{"empty file", "", "uwsgi", `app.ini: no [uwsgi] section`},
		{"malformed header", "[uwsgi]\na = 1\n[oops\n", "uwsgi", `app.ini:3: malformed section header "[oops": missing ']'`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parse([]byte(tt.text), "/etc/uwsgi/app.ini", tt.section, m, fakeEnv(nil))
			var ie *Error
			if !errors.As(err, &ie) {
				t.Fatalf("err = %v, want *Error", err)
			}
			if !strings.HasPrefix(err.Error(), "/etc/uwsgi/") || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
		})
	}
}

func TestLoadMissingFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "nope.ini")
	_, err := Load(p, "", nil)
	if !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), p) {
		t.Fatalf("err = %v, want a not-exist error naming %s", err, p)
	}
}

func TestSplitSpec(t *testing.T) {
	tests := []struct{ spec, path, section string }{
		{"app.ini", "app.ini", ""},
		{"app.ini:prod", "app.ini", "prod"},
		{"/etc/uwsgi/app.ini:staging-2", "/etc/uwsgi/app.ini", "staging-2"},
		{"a:b:c", "a:b", "c"},
		{"/srv/a:b/app.ini", "/srv/a:b/app.ini", ""},
		{"app.ini:", "app.ini:", ""},
		{":prod", ":prod", ""},
		{"", "", ""},
	}
	for _, tt := range tests {
		p, s := SplitSpec(tt.spec)
		if p != tt.path || s != tt.section {
			t.Errorf("SplitSpec(%q) = %q, %q; want %q, %q", tt.spec, p, s, tt.path, tt.section)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(djangoINI), "uwsgi")
	f.Add([]byte("[uwsgi]\na = %(a)%(\n"), "uwsgi")
	f.Add([]byte("[uwsgi]\nlogformat = %(x) %(y\n"), "uwsgi")
	f.Add([]byte("\xef\xbb\xbf[s]\r\nk=$(E)%d%%%\n"), "s")
	f.Add([]byte("[\n]"), "")
	m := magicFromAbs("/etc/uwsgi/app.ini")
	env := func(k string) string { return "<" + k + ">" }
	f.Fuzz(func(t *testing.T, data []byte, section string) {
		entries, err := parse(data, "f.ini", section, m, env)
		if err != nil {
			var ie *Error
			if !errors.As(err, &ie) || ie.File != "f.ini" {
				t.Fatalf("error %v is not a *Error for f.ini", err)
			}
			if ie.Line < 0 || ie.Line > strings.Count(string(data), "\n")+1 {
				t.Fatalf("error line %d out of range", ie.Line)
			}
			return
		}
		prev := 0
		for _, e := range entries {
			if e.Key == "" || e.Key != normalizeKey(e.Key) || e.Key != strings.TrimSpace(e.Key) {
				t.Fatalf("bad key %q", e.Key)
			}
			if e.Line <= prev {
				t.Fatalf("entries out of order: line %d after %d", e.Line, prev)
			}
			prev = e.Line
		}
	})
}
