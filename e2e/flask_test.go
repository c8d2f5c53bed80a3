package e2e

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
)

// The Flask app in testapps/flaskapp (Debian's python3-flask): JSON routes,
// redirects, cookies and uploads, served as gowsgi --module flaskapp:app.

var itemIDRe = regexp.MustCompile(`("id":\s*)\d+|(/api/items/)\d+`)

// noIDs hides item ids: every target adds items to the same store.
func noIDs(s string) string { return itemIDRe.ReplaceAllString(s, "${1}${2}N") }

// flaskUploads are a file above gowsgi's --post-buffering, a small one
// and an empty one, posted together.
var flaskUploads = []upload{
	{"file", "big.bin", randomBytes(3<<20+7, 99)},
	{"file", "notes.txt", []byte("a few words\n")},
	{"file", "empty", []byte{}},
}

// flaskScenario runs every step against g, checks each, and returns their records.
func flaskScenario(t *testing.T, g *target) []record {
	r := &recorder{g: g}
	status := func(step string, p *page, want int) {
		t.Helper()
		if p.status != want {
			t.Errorf("%s: %s: status %d, want %d: %v", g.name, step, p.status, want, p)
		}
	}
	jsonOf := func(step string, p *page) map[string]any {
		t.Helper()
		if ct := p.header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("%s: %s: Content-Type %q", g.name, step, ct)
		}
		var v map[string]any
		if err := json.Unmarshal(p.body, &v); err != nil {
			t.Fatalf("%s: %s: bad JSON: %v", g.name, step, p)
		}
		return v
	}

	// JSON in and out.
	p := g.do(t, "POST", "/api/items", []byte(`{"name": "widget \u00e9", "tags": ["a", "b"]}`), "Content-Type", "application/json")
	status("create", p, 201)
	item := jsonOf("create", p)
	loc := p.header.Get("Location")
	if item["name"] != "widget é" || !strings.HasPrefix(loc, "/api/items/") {
		t.Errorf("%s: create: %v (Location %q)", g.name, item, loc)
	}
	p.header.Set("Location", noIDs(loc))
	r.add("create", p, noIDs(string(p.body)))

	p = g.do(t, "GET", loc, nil)
	status("get", p, 200)
	if got := jsonOf("get", p); got["name"] != item["name"] || got["id"] != item["id"] {
		t.Errorf("%s: get %s: %v, want %v", g.name, loc, got, item)
	}
	r.add("get", p, noIDs(string(p.body)))

	p = g.do(t, "POST", "/api/items", []byte(`{"name": 5}`), "Content-Type", "application/json")
	status("create, bad", p, 400)
	r.add("create, bad", p, string(p.body))
	p = g.do(t, "GET", "/api/items/999999", nil)
	status("missing item", p, 404)
	if got := jsonOf("missing item", p); got["error"] != "not found" {
		t.Errorf("%s: missing item: %v", g.name, got)
	}
	r.add("missing item", p, string(p.body))
	p = g.do(t, "GET", "/no/such/page", nil)
	status("404 page", p, 404)
	r.add("404 page", p, string(p.body))

	// Redirects.
	p = g.do(t, "GET", "/go", nil)
	status("redirect", p, 302)
	if loc := p.header.Get("Location"); loc != "/landing?came_from=go" {
		t.Errorf("%s: redirect to %q", g.name, loc)
	}
	r.add("redirect", p, string(p.body))
	p = g.do(t, "GET", p.header.Get("Location"), nil)
	status("landing", p, 200)
	if got := jsonOf("landing", p); got["landed"] != true || got["came_from"] != "go" {
		t.Errorf("%s: landing: %v", g.name, got)
	}
	r.add("landing", p, string(p.body))
	p = g.do(t, "GET", "/go/permanent", nil)
	status("permanent redirect", p, 308)
	r.add("permanent redirect", p, string(p.body))

	// Cookies set, sent back and cleared.
	p = g.do(t, "GET", "/cookies/set?flavour=oat&count=3", nil)
	status("set cookies", p, 200)
	if n := len(p.header.Values("Set-Cookie")); n != 2 {
		t.Errorf("%s: %d Set-Cookie fields, want 2: %q", g.name, n, p.header.Values("Set-Cookie"))
	}
	r.add("set cookies", p, string(p.body))
	p = g.do(t, "GET", "/cookies", nil)
	if got := jsonOf("cookies", p); !jsonEqual(got["cookies"], map[string]any{"flavour": "oat", "count": "3"}) {
		t.Errorf("%s: cookies sent back: %v", g.name, got)
	}
	r.add("cookies", p, string(p.body))
	p = g.do(t, "GET", "/cookies/clear", nil)
	r.add("clear cookies", p, string(p.body))
	p = g.do(t, "GET", "/cookies", nil)
	if got := jsonOf("cookies after clear", p); !jsonEqual(got["cookies"], map[string]any{}) {
		t.Errorf("%s: cookies after clearing: %v", g.name, got)
	}
	r.add("cookies after clear", p, string(p.body))

	// A multipart upload of several files.
	p = g.postMultipart(t, "/upload", flaskUploads, "comment", "three files")
	status("upload", p, 200)
	var up struct {
		Files []struct {
			Filename string `json:"filename"`
			Size     int    `json:"size"`
			SHA256   string `json:"sha256"`
		} `json:"files"`
		Fields map[string]string `json:"fields"`
	}
	if err := json.Unmarshal(p.body, &up); err != nil || len(up.Files) != len(flaskUploads) || up.Fields["comment"] != "three files" {
		t.Fatalf("%s: upload: %v", g.name, p)
	}
	for i, f := range flaskUploads {
		got := up.Files[i]
		if got.Filename != f.filename || got.Size != len(f.data) || got.SHA256 != sha256Hex(f.data) {
			t.Errorf("%s: upload %s: got %+v, want %d bytes, sha256 %s", g.name, f.filename, got, len(f.data), sha256Hex(f.data))
		}
	}
	r.add("upload", p, string(p.body))

	// How the request looks to Flask; the X-Forwarded-* fields a proxy
	// adds are left out, the values derived from them are compared.
	p = g.do(t, "GET", "/whoami", nil)
	who := jsonOf("whoami", p)
	delete(who, "forwarded_for")
	delete(who, "forwarded_proto")
	b, _ := json.Marshal(who)
	r.add("whoami", p, string(b))
	return r.records
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

// TestFlask serves the Flask app directly over HTTP.
func TestFlask(t *testing.T) {
	t.Parallel()
	s, _ := launchWith(t, nil, "--module", "flaskapp", "--callable", "app", "--threads", "4", "--http", "127.0.0.1:0")
	g := newTarget("direct", "http://"+s.addr)
	flaskScenario(t, g)
	p := g.do(t, "GET", "/whoami", nil)
	var got map[string]any
	if err := json.Unmarshal(p.body, &got); err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]any{"scheme": "http", "host": "e2e.test", "url": "http://e2e.test/whoami", "remote_addr": "127.0.0.1", "script_root": ""} {
		if got[k] != v {
			t.Errorf("whoami %s = %v, want %v", k, got[k], v)
		}
	}
}
