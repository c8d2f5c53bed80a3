package server

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"strings"
	"testing"

	"github.com/gowsgi/gowsgi/config"
	"github.com/gowsgi/gowsgi/internal/httpwire"
	"github.com/gowsgi/gowsgi/pyembed"
)

// envEntry is one decoded environ entry, in order.
type envEntry struct{ key, value string }

// decodeEnviron walks the packed environ entry by entry and fails unless
// the entries exactly fill it. The layout (key byte, 16-bit key length at
// 2, 32-bit value length at 4, native endian) is bridge.h's gw_env_entry;
// TestEnvironLayout pins it, so a change there fails loudly here.
func decodeEnviron(t *testing.T, e *pyembed.Environ) []envEntry {
	t.Helper()
	hdr := envHeaderSize()
	var out []envEntry
	b := e.Bytes()
	for len(b) > 0 {
		if len(b) < hdr {
			t.Fatalf("%d stray bytes at the end of the environ", len(b))
		}
		k := pyembed.Key(b[0])
		kl := int(binary.NativeEndian.Uint16(b[2:4]))
		vl := int(binary.NativeEndian.Uint32(b[4:8]))
		b = b[hdr:]
		if kl+vl > len(b) {
			t.Fatalf("entry of %d+%d bytes overruns the environ (%d left)", kl, vl, len(b))
		}
		var name string
		switch {
		case k == pyembed.KeyNone && kl == 0:
			t.Fatalf("entry without a key")
		case k == pyembed.KeyNone:
			name = string(b[:kl])
		case kl != 0:
			t.Fatalf("interned key %d also carries key text", k)
		default:
			name = internedName(t, k)
		}
		out = append(out, envEntry{name, string(b[kl : kl+vl])})
		b = b[kl+vl:]
	}
	return out
}

func envHeaderSize() int {
	var e pyembed.Environ
	e.AddString(pyembed.KeyRequestMethod, "")
	return len(e.Bytes())
}

// internedName finds an interned key's name through the package's decoder.
func internedName(t *testing.T, k pyembed.Key) string {
	var e pyembed.Environ
	e.AddString(k, "")
	for name := range e.Entries() {
		if name == "?" {
			t.Fatalf("key %d has no name", k)
		}
		return name
	}
	t.Fatalf("key %d did not decode", k)
	return ""
}

func TestEnvironLayout(t *testing.T) {
	if envHeaderSize() != 8 {
		t.Fatalf("gw_env_entry is %d bytes, decodeEnviron assumes 8", envHeaderSize())
	}
	var e pyembed.Environ
	e.AddNamed([]byte("HTTP_X_LAYOUT"), []byte("value"))
	e.AddString(pyembed.KeyRemoteAddr, "10.0.0.1")
	got := decodeEnviron(t, &e)
	if len(got) != 2 || got[0] != (envEntry{"HTTP_X_LAYOUT", "value"}) || got[1] != (envEntry{"REMOTE_ADDR", "10.0.0.1"}) {
		t.Fatalf("decoded %q", got)
	}
}

var fuzzPolicies = []string{config.UnderscoreDrop, config.UnderscoreRefuse, config.UnderscoreAllow}

const (
	fuzzTrustedPeer   = "127.0.0.1"
	fuzzUntrustedPeer = "10.0.0.9"
)

func FuzzEnviron(f *testing.F) {
	for _, c := range httpwire.Corpus() {
		if c.Status == 0 {
			f.Add([]byte(c.Raw), uint8(0), true)
		}
	}
	for _, tt := range proxyCases {
		f.Add([]byte(request(tt.fields...)), uint8(0), true)
		f.Add([]byte(request(tt.fields...)), uint8(2), false)
	}
	for _, extra := range [][]string{
		{"X_User: admin", "X-User: alice"},
		{"X-User: alice", "x_user: admin"},
		{"Proxy: http://evil.example", "PROXY: x"},
		{"Content_Length: 5", "Content-Type: a", "content-type: b"},
		{"Cookie: a=1", "Cookie: b=2", "cookie: c=3"},
		{"Transfer_Encoding: chunked", "Host_: x"},
	} {
		for p := range fuzzPolicies {
			f.Add([]byte(request(extra...)), uint8(p), true)
		}
	}
	servers := map[string]*Server{}
	for _, p := range fuzzPolicies {
		opts := config.Defaults()
		opts.UnderscoreHeaders = p
		opts.ForwardedAllowIPs = []string{"127.0.0.0/8", "::1"}
		servers[p] = testServer(f, opts)
	}
	f.Fuzz(func(t *testing.T, data []byte, policyIndex uint8, trusted bool) {
		policy := fuzzPolicies[int(policyIndex)%len(fuzzPolicies)]
		s := servers[policy]
		peer := fuzzUntrustedPeer
		if trusted {
			peer = fuzzTrustedPeer
		}
		c := testConn(s, peer)
		if err := httpwire.Parse(data, &s.limits, &c.req); err != nil {
			return
		}
		err := c.buildEnviron()
		hasUnderscore := false
		for _, h := range c.req.Headers {
			hasUnderscore = hasUnderscore || bytes.IndexByte(h.Name, '_') >= 0
		}
		if err != nil {
			he, ok := err.(*httpwire.Error)
			switch {
			case !ok || he.Status != 400:
				t.Fatalf("unexpected error %v", err)
			case he == errUnderscoreHeader && !(policy == config.UnderscoreRefuse && hasUnderscore):
				t.Fatalf("underscore refusal with policy %s", policy)
			}
			return // a bad percent-encoding in the path, or the refuse policy
		}
		if policy == config.UnderscoreRefuse && hasUnderscore {
			t.Fatalf("policy refuse let an underscore header through")
		}
		checkEnvironEntries(t, c, decodeEnviron(t, &c.env), policy, trusted)
	})
}

// checkEnvironEntries checks the environ against an independent reading
// of the request: which HTTP_* keys must exist and what they hold.
func checkEnvironEntries(t *testing.T, c *conn, entries []envEntry, policy string, trusted bool) {
	env := map[string]string{}
	for _, e := range entries {
		if _, dup := env[e.key]; dup {
			// With the allow policy X_A and X-A are one key, joined.
			t.Fatalf("key %s appears twice", e.key)
		}
		env[e.key] = e.value
		if strings.IndexByte(e.value, 0) >= 0 {
			t.Fatalf("%s holds a NUL: %q", e.key, e.value)
		}
		if strings.HasPrefix(e.key, "HTTP_") {
			if strings.ContainsAny(e.key, "-abcdefghijklmnopqrstuvwxyz") {
				t.Fatalf("environ key %q is not upper case with '_' for '-'", e.key)
			}
			if strings.ContainsAny(e.value, "\r\n") {
				t.Fatalf("%s holds a line break: %q", e.key, e.value)
			}
		}
	}
	for _, k := range []string{"HTTP_PROXY", "HTTP_CONTENT_LENGTH", "HTTP_CONTENT_TYPE"} {
		if _, ok := env[k]; ok {
			t.Fatalf("%s is in the environ", k)
		}
	}
	for _, k := range []string{"REQUEST_METHOD", "SERVER_NAME", "SERVER_PORT", "SERVER_PROTOCOL", "REMOTE_ADDR", "PATH_INFO", "QUERY_STRING"} {
		if _, ok := env[k]; !ok {
			t.Fatalf("%s is missing", k)
		}
	}

	// The reference: each header name (without '_' unless allowed), case
	// folded, gives one entry holding all its values joined in order; with
	// the allow policy the names that differ only in '-' and '_' (X_A and
	// X-A, one environ key) are one name.
	req := &c.req
	chunkedDropped := req.Chunked && !(req.ExpectContinue && req.ProtoMinor == 1)
	o := c.requestOrigin()
	var order []string
	joined := map[string]string{}
	for _, h := range req.Headers {
		name := strings.ToLower(string(h.Name))
		if strings.Contains(name, "_") {
			switch strings.ReplaceAll(name, "_", "-") {
			case "content-type", "content-length", "transfer-encoding":
				continue // never a twin of a CGI or framing field
			}
			if policy != config.UnderscoreAllow {
				continue
			}
		}
		switch {
		case name == "content-type", name == "content-length", name == "proxy":
			continue
		case name == "transfer-encoding" && chunkedDropped:
			continue
		case name == "host" && o.host != nil:
			continue
		}
		sep := ", "
		if name == "cookie" {
			sep = "; "
		}
		name = strings.ReplaceAll(name, "_", "-") // only the allow policy gets here with a '_'
		if v, ok := joined[name]; ok {
			joined[name] = v + sep + string(h.Value)
		} else {
			joined[name] = string(h.Value)
			order = append(order, name)
		}
	}
	want := map[string]string{}
	for _, name := range order {
		want["HTTP_"+strings.ToUpper(strings.ReplaceAll(name, "-", "_"))] = joined[name]
	}
	if o.host != nil {
		want["HTTP_HOST"] = string(o.host)
	}
	for k, v := range want {
		if got, ok := env[k]; !ok || got != v {
			t.Fatalf("%s = %q (present %v), want %q", k, got, ok, v)
		}
	}
	for k := range env {
		if strings.HasPrefix(k, "HTTP_") {
			if _, ok := want[k]; !ok {
				t.Fatalf("unexpected key %s = %q (an underscore header or a dropped field got through)", k, env[k])
			}
		}
	}

	// Origin: only a trusted peer can move REMOTE_ADDR or the scheme.
	if !trusted {
		if env["REMOTE_ADDR"] != fuzzUntrustedPeer || env["REMOTE_PORT"] != "40000" || env["SERVER_PORT"] != "8000" {
			t.Fatalf("an untrusted peer moved the origin: %q:%q port %q", env["REMOTE_ADDR"], env["REMOTE_PORT"], env["SERVER_PORT"])
		}
		if _, ok := env["HTTPS"]; ok || c.https {
			t.Fatalf("an untrusted peer set https")
		}
		if h, ok := expectedHost(req); ok && env["HTTP_HOST"] != h {
			t.Fatalf("HTTP_HOST %q from an untrusted peer, want %q", env["HTTP_HOST"], h)
		}
	} else if _, err := netip.ParseAddr(env["REMOTE_ADDR"]); err != nil {
		t.Fatalf("REMOTE_ADDR %q is not an address", env["REMOTE_ADDR"])
	}
	if v, ok := env["HTTPS"]; ok != c.https || ok && v != "on" {
		t.Fatalf("HTTPS %q (present %v) with the https flag %v", v, ok, c.https)
	}
	if !validPort([]byte(env["SERVER_PORT"])) {
		t.Fatalf("SERVER_PORT %q", env["SERVER_PORT"])
	}
}

// expectedHost is what HTTP_HOST must be without trusted proxies: the
// authority of an absolute-form target (RFC 9112 §3.2.2), else the Host
// field. ok is false when there is neither.
func expectedHost(req *httpwire.Request) (string, bool) {
	if t := string(req.Target); strings.Contains(t, "://") {
		auth := t[strings.Index(t, "://")+3:]
		if i := strings.IndexAny(auth, "/?"); i >= 0 {
			auth = auth[:i]
		}
		return auth, true
	}
	for _, h := range req.Headers {
		if strings.EqualFold(string(h.Name), "host") {
			return string(h.Value), true
		}
	}
	return "", false
}
