package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// The Django project in testapps/djangoproj (Debian's python3-django),
// served by gowsgi as a real deployment would: --chdir to the project,
// --module djangoproj.wsgi, a migrated sqlite database.

const (
	djangoPython   = "/usr/bin/python3" // the Debian python whose django the embedded interpreter imports
	djangoAdmin    = "admin"
	djangoPassword = "e2e-admin-password"
)

var (
	djangoOnce     sync.Once
	djangoTemplate string // a migrated database with the superuser, copied for each server
	djangoErr      error
)

// djangoDataDir returns a fresh data directory (DJANGOPROJ_DATA_DIR) holding
// a migrated database with a superuser. The database is made once, with
// manage.py, and copied, so parallel tests never share one.
func djangoDataDir(t *testing.T) string {
	t.Helper()
	djangoOnce.Do(func() {
		// Next to the binary, in the directory TestMain removes at the end.
		djangoTemplate = filepath.Join(filepath.Dir(binPath), "django-template")
		djangoErr = djangoMigrate(djangoTemplate)
	})
	if djangoErr != nil {
		t.Fatalf("preparing the django database: %v", djangoErr)
	}
	dir := t.TempDir()
	db, err := os.ReadFile(filepath.Join(djangoTemplate, "db.sqlite3"))
	if err == nil {
		err = os.WriteFile(filepath.Join(dir, "db.sqlite3"), db, 0o600)
	}
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

func djangoMigrate(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	run := func(env []string, args ...string) error {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, djangoPython, append([]string{"manage.py"}, args...)...)
		cmd.Dir = filepath.Join(appsDir, "djangoproj")
		cmd.Env = append(os.Environ(), append(env, "DJANGOPROJ_DATA_DIR="+dir, "PYTHONDONTWRITEBYTECODE=1")...)
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("manage.py %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return nil
	}
	if err := run(nil, "migrate", "--noinput", "-v", "0"); err != nil {
		return err
	}
	return run([]string{"DJANGO_SUPERUSER_PASSWORD=" + djangoPassword},
		"createsuperuser", "--noinput", "--username", djangoAdmin, "--email", "admin@e2e.test")
}

// startDjango serves the project with the listeners in args.
func startDjango(t *testing.T, args ...string) *appServer {
	t.Helper()
	env := []string{"DJANGOPROJ_DATA_DIR=" + djangoDataDir(t)}
	s, _ := launchWith(t, env, append([]string{"--chdir", filepath.Join(appsDir, "djangoproj"),
		"--module", "djangoproj.wsgi:application", "--threads", "4"}, args...)...)
	return s
}

var (
	csrfInputRe = regexp.MustCompile(`name="csrfmiddlewaretoken" value="([A-Za-z0-9]+)"`)
	csrfValueRe = regexp.MustCompile(`(name="csrfmiddlewaretoken" value=")[A-Za-z0-9]+`)
)

// formToken returns the CSRF token of the form on p.
func formToken(t testing.TB, g *target, p *page) string {
	t.Helper()
	m := csrfInputRe.FindSubmatch(p.body)
	if p.status != 200 || m == nil {
		t.Fatalf("%s: no csrf token in the form: %v", g.name, p)
	}
	return string(m[1])
}

// noTokens hides the per-request CSRF token values of a page.
func noTokens(b []byte) string { return csrfValueRe.ReplaceAllString(string(b), "${1}TOKEN") }

// djangoUpload is large enough to be spooled to disk by gowsgi (above
// --post-buffering) and by Django (above FILE_UPLOAD_MAX_MEMORY_SIZE).
var djangoUpload = randomBytes(6<<20+12345, 2026)

// djangoScenario runs every step against g, checks each, and returns
// their records for comparison between front ends.
func djangoScenario(t *testing.T, g *target) []record {
	r := &recorder{g: g}
	expect := func(step string, p *page, status int, contains ...string) {
		t.Helper()
		if p.status != status {
			t.Errorf("%s: %s: status %d, want %d: %v", g.name, step, p.status, status, p)
		}
		for _, c := range contains {
			if !strings.Contains(string(p.body), c) {
				t.Errorf("%s: %s: the page lacks %q: %v", g.name, step, c, p)
			}
		}
	}

	p := g.do(t, "GET", "/", nil)
	expect("index", p, 200, `<a href="/admin/">Administration</a>`)
	r.add("index", p, string(p.body))

	// The admin login: a CSRF-protected form, a session, a redirect.
	p = g.do(t, "GET", "/admin/login/?next=/admin/", nil)
	expect("admin login page", p, 200, "<title>Log in | Django site admin</title>", `name="next" value="/admin/"`)
	token := formToken(t, g, p)
	if g.cookie("csrftoken") == "" {
		t.Errorf("%s: no csrftoken cookie after the login page", g.name)
	}
	r.add("admin login page", p, noTokens(p.body))

	p = g.postForm(t, "/admin/login/?next=/admin/", "csrfmiddlewaretoken", token, "username", djangoAdmin, "password", "wrong", "next", "/admin/")
	expect("admin login, wrong password", p, 200, "Please enter the correct username and password")
	r.add("admin login, wrong password", p, noTokens(p.body))
	token = formToken(t, g, p)

	p = g.postForm(t, "/admin/login/?next=/admin/", "csrfmiddlewaretoken", token, "username", djangoAdmin, "password", djangoPassword, "next", "/admin/")
	expect("admin login", p, 302)
	if loc := p.header.Get("Location"); loc != "/admin/" {
		t.Errorf("%s: admin login redirects to %q, want /admin/", g.name, loc)
	}
	if g.cookie("sessionid") == "" {
		t.Errorf("%s: no session cookie after logging in", g.name)
	}
	r.add("admin login", p, string(p.body))

	p = g.do(t, "GET", "/admin/", nil)
	expect("admin index", p, 200, "Site administration", "Welcome,", "<strong>admin</strong>")
	r.add("admin index", p, noTokens(p.body))

	p = g.do(t, "GET", "/whoami/?a=1", nil)
	expect("whoami", p, 200, `"user": "admin"`)
	r.add("whoami", p, string(p.body))

	// A form with CSRF whose notes live in the session of an anonymous visitor.
	g.reset()
	p = g.do(t, "GET", "/notes/", nil)
	expect("notes form", p, 200, `<li class="empty">No notes yet.</li>`)
	token = formToken(t, g, p)
	r.add("notes form", p, noTokens(p.body))

	p = g.postForm(t, "/notes/", "text", "forged")
	expect("notes without a token", p, 403, "CSRF verification failed")
	r.add("notes without a token", p, string(p.body))

	p = g.postForm(t, "/notes/", "csrfmiddlewaretoken", token, "text", "héllo & <b>")
	expect("notes post", p, 302)
	if p.header.Get("Location") != "/notes/" || g.cookie("sessionid") == "" {
		t.Errorf("%s: notes post: Location %q, session cookie %q", g.name, p.header.Get("Location"), g.cookie("sessionid"))
	}
	r.add("notes post", p, string(p.body))
	p = g.postForm(t, "/notes/", "csrfmiddlewaretoken", token, "text", "second")
	expect("notes post 2", p, 302)

	p = g.do(t, "GET", "/notes/", nil)
	expect("notes list", p, 200, `<li class="note">héllo &amp; &lt;b&gt;</li>`+"\n"+`  <li class="note">second</li>`)
	r.add("notes list", p, noTokens(p.body))

	// A multipart upload of several MiB, and a small one Django keeps in memory.
	p = g.do(t, "GET", "/upload/", nil)
	token = formToken(t, g, p)
	r.add("upload form", p, noTokens(p.body))
	for _, u := range []struct {
		name     string
		data     []byte
		inMemory bool
	}{{"big.bin", djangoUpload, false}, {"small.txt", []byte("small file\n"), true}} {
		p = g.postMultipart(t, "/upload/", []upload{{"file", u.name, u.data}}, "csrfmiddlewaretoken", token, "label", "e2e")
		var got struct {
			Name     string `json:"name"`
			Size     int    `json:"size"`
			SHA256   string `json:"sha256"`
			Label    string `json:"label"`
			InMemory bool   `json:"in_memory"`
		}
		if err := json.Unmarshal(p.body, &got); p.status != 200 || err != nil {
			t.Fatalf("%s: upload %s: %v", g.name, u.name, p)
		}
		if got.Name != u.name || got.Size != len(u.data) || got.SHA256 != sha256Hex(u.data) || got.Label != "e2e" || got.InMemory != u.inMemory {
			t.Errorf("%s: upload %s: got %+v, want %d bytes, sha256 %s, in memory %v", g.name, u.name, got, len(u.data), sha256Hex(u.data), u.inMemory)
		}
		r.add("upload "+u.name, p, string(p.body))
	}

	// A StreamingHttpResponse.
	p = g.do(t, "GET", "/stream/?n=300", nil)
	var want strings.Builder
	for i := 0; i < 300; i++ {
		fmt.Fprintf(&want, "line %d of 300\n", i)
	}
	expect("stream", p, 200)
	if string(p.body) != want.String() {
		t.Errorf("%s: streamed body %.200q, want %.200q", g.name, p.body, want.String())
	}
	r.add("stream", p, string(p.body))

	// The error pages of a DEBUG=False site.
	p = g.do(t, "GET", "/no/such/page/", nil)
	expect("404", p, 404, "<h1>Not found</h1>", "There is no page at /no/such/page/.")
	r.add("404", p, string(p.body))
	p = g.do(t, "GET", "/boom/", nil)
	expect("500", p, 500, "<h1>Server error</h1>")
	r.add("500", p, string(p.body))
	return r.records
}

// TestDjango serves the Django project directly over HTTP.
func TestDjango(t *testing.T) {
	t.Parallel()
	s := startDjango(t, "--http", "127.0.0.1:0")
	g := newTarget("direct", "http://"+s.addr)
	djangoScenario(t, g)
	s.waitLog(t, "RuntimeError: boom: this view fails on purpose")

	t.Run("stream arrives as produced", func(t *testing.T) {
		// 4 lines 300 ms apart: the first must arrive long before the last
		// is produced, in chunks (HTTP/1.1, no length known in advance).
		p := g.do(t, "GET", "/stream/?n=4&delay=0.3", nil)
		if p.status != 200 || len(p.te) != 1 || p.te[0] != "chunked" || p.length != -1 {
			t.Fatalf("want a chunked 200, got %v (te %q, length %d)", p, p.te, p.length)
		}
		if len(p.chunks) < 2 || p.chunks[len(p.chunks)-1]-p.chunks[0] < 600*time.Millisecond {
			t.Errorf("the body was not streamed: reads returned at %v", p.chunks)
		}
	})
	t.Run("whoami", func(t *testing.T) {
		g.reset()
		p := g.do(t, "GET", "/whoami/?x=%C3%A9", nil)
		var got map[string]any
		if err := json.Unmarshal(p.body, &got); err != nil || p.status != 200 {
			t.Fatalf("%v", p)
		}
		for k, v := range map[string]any{
			"scheme": "http", "is_secure": false, "host": "e2e.test",
			"absolute_uri": "http://e2e.test/whoami/?x=%C3%A9", "remote_addr": "127.0.0.1",
			"path": "/whoami/", "script_name": "", "user": "",
		} {
			if got[k] != v {
				t.Errorf("%s = %v, want %v", k, got[k], v)
			}
		}
	})
	t.Run("host not allowed", func(t *testing.T) {
		req := "GET / HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n"
		c := dialRaw(t, s.addr)
		c.send(req)
		if r := c.mustResponse("GET"); r.status != 400 {
			t.Errorf("a host outside ALLOWED_HOSTS: %v", r)
		}
	})
}
