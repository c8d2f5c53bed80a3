package server

import (
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"

	"github.com/gowsgi/gowsgi/config"
	"github.com/gowsgi/gowsgi/internal/httpwire"
)

// testServer is a Server with opts (validated), logging nowhere, without Python.
func testServer(t testing.TB, opts config.Options) *Server {
	t.Helper()
	opts.Module = "unused"
	opts.Normalize()
	if err := opts.Validate(); err != nil {
		t.Fatalf("options: %v", err)
	}
	return New(opts, slog.New(slog.NewTextHandler(io.Discard, nil)))
}

// testConn is a connection from peer:40000 to 127.0.0.1:8000, without a socket.
func testConn(s *Server, peer string) *conn {
	c := &conn{srv: s, remoteIP: peer, remotePort: "40000", localIP: "127.0.0.1", localPort: "8000"}
	c.trusted = s.trusts(&net.TCPAddr{IP: net.ParseIP(peer), Port: 40000})
	return c
}

// environFor parses raw as a request head on c and builds its environ.
func environFor(t *testing.T, c *conn, raw string) map[string]string {
	t.Helper()
	if err := httpwire.Parse([]byte(raw), &c.srv.limits, &c.req); err != nil {
		t.Fatalf("parse %q: %v", raw, err)
	}
	if err := c.buildEnviron(); err != nil {
		t.Fatalf("buildEnviron: %v", err)
	}
	return c.env.Entries()
}

func request(fields ...string) string {
	return "GET /p HTTP/1.1\r\nHost: example.com\r\n" + strings.Join(append(fields, ""), "\r\n") + "\r\n"
}

// proxyCase: a request from peer with allow as --forwarded-allow-ips, and
// the environ values it must produce ("-" for an absent key).
type proxyCase struct {
	name   string
	allow  []string
	peer   string
	fields []string
	want   map[string]string
	https  bool
}

// The values every case starts from: the connection's own view.
var plainOrigin = map[string]string{
	"REMOTE_ADDR": "127.0.0.1", "REMOTE_PORT": "40000", "SERVER_NAME": "example.com",
	"SERVER_PORT": "8000", "HTTP_HOST": "example.com", "HTTPS": "-",
}

var loopback = []string{"127.0.0.1", "::1"}

var proxyCases = []proxyCase{
	// Untrusted peers: the fields are passed on and change nothing.
	{name: "untrusted-xff", allow: loopback, peer: "10.0.0.9",
		fields: []string{"X-Forwarded-For: 1.2.3.4", "X-Forwarded-Proto: https", "X-Forwarded-Host: evil.example"},
		want: map[string]string{"REMOTE_ADDR": "10.0.0.9", "HTTP_X_FORWARDED_FOR": "1.2.3.4",
			"HTTP_X_FORWARDED_PROTO": "https", "HTTP_X_FORWARDED_HOST": "evil.example"}},
	{name: "untrusted-forwarded", allow: loopback, peer: "10.0.0.9",
		fields: []string{"Forwarded: for=1.2.3.4;proto=https;host=evil.example"},
		want:   map[string]string{"REMOTE_ADDR": "10.0.0.9", "HTTP_FORWARDED": "for=1.2.3.4;proto=https;host=evil.example"}},
	{name: "empty-allow-list", allow: []string{}, peer: "127.0.0.1",
		fields: []string{"X-Forwarded-For: 1.2.3.4", "X-Forwarded-Proto: https"}, want: map[string]string{}},
	{name: "untrusted-neighbour", allow: []string{"127.0.0.1"}, peer: "127.0.0.2",
		fields: []string{"X-Forwarded-For: 1.2.3.4"}, want: map[string]string{"REMOTE_ADDR": "127.0.0.2"}},

	// X-Forwarded-For.
	{name: "xff-one", allow: loopback, peer: "127.0.0.1", fields: []string{"X-Forwarded-For: 1.2.3.4"},
		want: map[string]string{"REMOTE_ADDR": "1.2.3.4", "REMOTE_PORT": "-", "HTTP_X_FORWARDED_FOR": "1.2.3.4"}},
	{name: "xff-spoofed-left", allow: []string{"127.0.0.0/8"}, peer: "127.0.0.1",
		fields: []string{"X-Forwarded-For: 6.6.6.6, 1.2.3.4, 127.0.0.5"},
		want:   map[string]string{"REMOTE_ADDR": "1.2.3.4", "REMOTE_PORT": "-"}},
	{name: "xff-all-trusted", allow: []string{"127.0.0.0/8"}, peer: "127.0.0.1",
		fields: []string{"X-Forwarded-For: 127.0.0.2,127.0.0.3"}, want: map[string]string{"REMOTE_ADDR": "127.0.0.2", "REMOTE_PORT": "-"}},
	{name: "xff-garbage-stops-walk", allow: []string{"127.0.0.0/8"}, peer: "127.0.0.1",
		fields: []string{"X-Forwarded-For: 1.2.3.4, garbage, 127.0.0.3"}, want: map[string]string{"REMOTE_ADDR": "127.0.0.3", "REMOTE_PORT": "-"}},
	{name: "xff-garbage-rightmost", allow: loopback, peer: "127.0.0.1",
		fields: []string{"X-Forwarded-For: 1.2.3.4, unknown"}, want: map[string]string{"HTTP_X_FORWARDED_FOR": "1.2.3.4, unknown"}},
	{name: "xff-two-fields", allow: loopback, peer: "127.0.0.1",
		fields: []string{"X-Forwarded-For: 6.6.6.6", "X-Forwarded-For: 1.2.3.4"},
		want:   map[string]string{"REMOTE_ADDR": "1.2.3.4", "REMOTE_PORT": "-", "HTTP_X_FORWARDED_FOR": "6.6.6.6, 1.2.3.4"}},
	{name: "xff-empty-elements", allow: loopback, peer: "127.0.0.1",
		fields: []string{"X-Forwarded-For: , 1.2.3.4 ,,"}, want: map[string]string{"REMOTE_ADDR": "1.2.3.4", "REMOTE_PORT": "-"}},
	{name: "xff-ipv4-port", allow: loopback, peer: "127.0.0.1",
		fields: []string{"X-Forwarded-For: 1.2.3.4:05678"}, want: map[string]string{"REMOTE_ADDR": "1.2.3.4", "REMOTE_PORT": "5678"}},
	{name: "xff-ipv6", allow: loopback, peer: "::1", fields: []string{"X-Forwarded-For: 2001:db8::1"},
		want: map[string]string{"REMOTE_ADDR": "2001:db8::1", "REMOTE_PORT": "-"}},
	{name: "xff-ipv6-bracket-port", allow: loopback, peer: "127.0.0.1", fields: []string{"X-Forwarded-For: [2001:db8::1]:443"},
		want: map[string]string{"REMOTE_ADDR": "2001:db8::1", "REMOTE_PORT": "443"}},
	{name: "xff-ipv4-mapped", allow: loopback, peer: "127.0.0.1", fields: []string{"X-Forwarded-For: ::ffff:1.2.3.4"},
		want: map[string]string{"REMOTE_ADDR": "1.2.3.4", "REMOTE_PORT": "-"}},
	{name: "xff-zone-refused", allow: loopback, peer: "127.0.0.1", fields: []string{"X-Forwarded-For: fe80::1%eth0"}, want: map[string]string{}},
	{name: "xff-bad-port", allow: loopback, peer: "127.0.0.1", fields: []string{"X-Forwarded-For: 1.2.3.4:65536"}, want: map[string]string{}},
	{name: "xff-hostname", allow: loopback, peer: "127.0.0.1", fields: []string{"X-Forwarded-For: client.example"}, want: map[string]string{}},
	{name: "xff-star-trusts-all", allow: []string{"*"}, peer: "10.0.0.9",
		fields: []string{"X-Forwarded-For: 1.2.3.4, 10.0.0.8"}, want: map[string]string{"REMOTE_ADDR": "1.2.3.4", "REMOTE_PORT": "-"}}, // every hop trusted: the leftmost
	{name: "xff-cidr-peer", allow: []string{"10.0.0.0/8"}, peer: "10.0.0.9",
		fields: []string{"X-Forwarded-For: 1.2.3.4"}, want: map[string]string{"REMOTE_ADDR": "1.2.3.4", "REMOTE_PORT": "-"}},

	// X-Forwarded-Proto and X-Forwarded-Host.
	{name: "xfp-https", allow: loopback, peer: "127.0.0.1", fields: []string{"X-Forwarded-Proto: https"},
		want: map[string]string{"HTTPS": "on", "SERVER_PORT": "443"}, https: true},
	{name: "xfp-https-uppercase", allow: loopback, peer: "127.0.0.1", fields: []string{"X-Forwarded-Proto: HTTPS"},
		want: map[string]string{"HTTPS": "on", "SERVER_PORT": "443"}, https: true},
	{name: "xfp-http", allow: loopback, peer: "127.0.0.1", fields: []string{"X-Forwarded-Proto: http"},
		want: map[string]string{"SERVER_PORT": "80"}},
	{name: "xfp-other-scheme", allow: loopback, peer: "127.0.0.1", fields: []string{"X-Forwarded-Proto: ftp"}, want: map[string]string{}},
	{name: "xfp-list-rightmost", allow: loopback, peer: "127.0.0.1", fields: []string{"X-Forwarded-Proto: http, https"},
		want: map[string]string{"HTTPS": "on", "SERVER_PORT": "443"}, https: true},
	{name: "xfp-host-port-kept", allow: loopback, peer: "127.0.0.1",
		fields: []string{"X-Forwarded-Proto: https"}, want: map[string]string{"HTTPS": "on", "SERVER_PORT": "443"}, https: true},
	{name: "xfh", allow: loopback, peer: "127.0.0.1", fields: []string{"X-Forwarded-Host: public.example:8443"},
		want: map[string]string{"HTTP_HOST": "public.example:8443", "SERVER_NAME": "public.example", "SERVER_PORT": "8443",
			"HTTP_X_FORWARDED_HOST": "public.example:8443"}},
	{name: "xfh-and-proto", allow: loopback, peer: "127.0.0.1",
		fields: []string{"X-Forwarded-Host: public.example", "X-Forwarded-Proto: https", "X-Forwarded-For: 1.2.3.4"},
		want: map[string]string{"HTTP_HOST": "public.example", "SERVER_NAME": "public.example", "SERVER_PORT": "443",
			"HTTPS": "on", "REMOTE_ADDR": "1.2.3.4", "REMOTE_PORT": "-"}, https: true},
	{name: "xfh-ipv6", allow: loopback, peer: "127.0.0.1", fields: []string{"X-Forwarded-Host: [2001:db8::5]"},
		want: map[string]string{"HTTP_HOST": "[2001:db8::5]", "SERVER_NAME": "2001:db8::5", "SERVER_PORT": "80"}},
	{name: "xfh-invalid", allow: loopback, peer: "127.0.0.1", fields: []string{"X-Forwarded-Host: a/b"}, want: map[string]string{}},
	{name: "xfh-invalid-space", allow: loopback, peer: "127.0.0.1", fields: []string{"X-Forwarded-Host: a b"}, want: map[string]string{}},
	{name: "xfh-list-rightmost", allow: loopback, peer: "127.0.0.1", fields: []string{"X-Forwarded-Host: evil.example, public.example"},
		want: map[string]string{"HTTP_HOST": "public.example", "SERVER_NAME": "public.example", "SERVER_PORT": "80"}},
	{name: "underscore-name-never-trusted", allow: loopback, peer: "127.0.0.1",
		fields: []string{"X_Forwarded_For: 1.2.3.4", "X_Forwarded_Proto: https"}, want: map[string]string{}},

	// Forwarded (RFC 7239).
	{name: "fwd-all", allow: loopback, peer: "127.0.0.1", fields: []string{`Forwarded: for=1.2.3.4;proto=https;host=pub.example`},
		want: map[string]string{"REMOTE_ADDR": "1.2.3.4", "REMOTE_PORT": "-", "HTTPS": "on", "HTTP_HOST": "pub.example",
			"SERVER_NAME": "pub.example", "SERVER_PORT": "443", "HTTP_FORWARDED": "for=1.2.3.4;proto=https;host=pub.example"}, https: true},
	{name: "fwd-case-and-space", allow: loopback, peer: "127.0.0.1", fields: []string{`Forwarded: For="1.2.3.4" ; PROTO=HTTPS`},
		want: map[string]string{"REMOTE_ADDR": "1.2.3.4", "REMOTE_PORT": "-", "HTTPS": "on", "SERVER_PORT": "443"}, https: true},
	{name: "fwd-ipv6-port", allow: loopback, peer: "127.0.0.1", fields: []string{`Forwarded: for="[2001:db8:cafe::17]:4711"`},
		want: map[string]string{"REMOTE_ADDR": "2001:db8:cafe::17", "REMOTE_PORT": "4711"}},
	{name: "fwd-chain", allow: []string{"127.0.0.0/8"}, peer: "127.0.0.1",
		fields: []string{`Forwarded: for=6.6.6.6;proto=http, for=1.2.3.4;proto=https;host=pub.example`, `Forwarded: for=127.0.0.2;proto=http;host=inner.example`},
		want: map[string]string{"REMOTE_ADDR": "1.2.3.4", "REMOTE_PORT": "-", "HTTPS": "on", "HTTP_HOST": "pub.example",
			"SERVER_NAME": "pub.example", "SERVER_PORT": "443"}, https: true},
	{name: "fwd-all-trusted", allow: []string{"127.0.0.0/8"}, peer: "127.0.0.1",
		fields: []string{`Forwarded: for=127.0.0.3;proto=https, for=127.0.0.2`},
		want:   map[string]string{"REMOTE_ADDR": "127.0.0.3", "REMOTE_PORT": "-", "HTTPS": "on", "SERVER_PORT": "443"}, https: true},
	{name: "fwd-unknown", allow: loopback, peer: "127.0.0.1", fields: []string{`Forwarded: for=unknown;proto=https`},
		want: map[string]string{"HTTPS": "on", "SERVER_PORT": "443"}, https: true},
	{name: "fwd-obfuscated-behind-trusted", allow: []string{"127.0.0.0/8"}, peer: "127.0.0.1",
		fields: []string{`Forwarded: for=_hidden;proto=https, for=127.0.0.9`},
		want:   map[string]string{"REMOTE_ADDR": "127.0.0.9", "REMOTE_PORT": "-", "HTTPS": "on", "SERVER_PORT": "443"}, https: true},
	{name: "fwd-no-for", allow: loopback, peer: "127.0.0.1", fields: []string{`Forwarded: proto=https`},
		want: map[string]string{"HTTPS": "on", "SERVER_PORT": "443"}, https: true},
	{name: "fwd-quoted-pair", allow: loopback, peer: "127.0.0.1", fields: []string{`Forwarded: for="1.2.3.\4"`},
		want: map[string]string{"REMOTE_ADDR": "1.2.3.4", "REMOTE_PORT": "-"}},
	{name: "fwd-empty-pairs", allow: loopback, peer: "127.0.0.1", fields: []string{`Forwarded: ;for=1.2.3.4;;by=127.0.0.1;`},
		want: map[string]string{"REMOTE_ADDR": "1.2.3.4", "REMOTE_PORT": "-"}},
	{name: "fwd-empty-elements", allow: []string{"127.0.0.0/8"}, peer: "127.0.0.1", fields: []string{`Forwarded: for=1.2.3.4, , for=127.0.0.2 ,`},
		want: map[string]string{"REMOTE_ADDR": "1.2.3.4", "REMOTE_PORT": "-"}},
	{name: "fwd-ignored-with-xff", allow: loopback, peer: "127.0.0.1",
		fields: []string{`Forwarded: for=6.6.6.6;proto=https`, "X-Forwarded-For: 1.2.3.4"},
		want:   map[string]string{"REMOTE_ADDR": "1.2.3.4", "REMOTE_PORT": "-"}},
	{name: "fwd-ignored-with-xfp", allow: loopback, peer: "127.0.0.1",
		fields: []string{`Forwarded: for=6.6.6.6`, "X-Forwarded-Proto: https"},
		want:   map[string]string{"HTTPS": "on", "SERVER_PORT": "443"}, https: true},
	// Invalid Forwarded fields are ignored whole.
	{name: "fwd-bad-missing-semicolon", allow: loopback, peer: "127.0.0.1", fields: []string{`Forwarded: for=1.2.3.4 proto=https`}, want: map[string]string{}},
	{name: "fwd-bad-duplicate", allow: loopback, peer: "127.0.0.1", fields: []string{`Forwarded: for=1.2.3.4;for=5.6.7.8`}, want: map[string]string{}},
	{name: "fwd-bad-duplicate-by", allow: loopback, peer: "127.0.0.1", fields: []string{`Forwarded: for=1.2.3.4;by=a;BY=b`}, want: map[string]string{}},
	{name: "fwd-bad-unquoted-ipv6", allow: loopback, peer: "127.0.0.1", fields: []string{`Forwarded: for=[2001:db8::1]`}, want: map[string]string{}},
	{name: "fwd-bad-ipv6-no-brackets", allow: loopback, peer: "127.0.0.1", fields: []string{`Forwarded: for="2001:db8::1"`}, want: map[string]string{}},
	{name: "fwd-bad-unterminated", allow: loopback, peer: "127.0.0.1", fields: []string{`Forwarded: for="1.2.3.4`}, want: map[string]string{}},
	{name: "fwd-bad-node", allow: loopback, peer: "127.0.0.1", fields: []string{`Forwarded: for=client.example;proto=https`}, want: map[string]string{}},
	{name: "fwd-bad-one-of-two-fields", allow: loopback, peer: "127.0.0.1",
		fields: []string{`Forwarded: for=1.2.3.4;proto=https`, `Forwarded: for==`}, want: map[string]string{}},
	{name: "fwd-bad-host", allow: loopback, peer: "127.0.0.1", fields: []string{`Forwarded: for=1.2.3.4;host="a b"`},
		want: map[string]string{"REMOTE_ADDR": "1.2.3.4", "REMOTE_PORT": "-"}},
}

func TestForwardedHeaders(t *testing.T) {
	for _, tt := range proxyCases {
		t.Run(tt.name, func(t *testing.T) {
			opts := config.Defaults()
			opts.ForwardedAllowIPs = tt.allow
			c := testConn(testServer(t, opts), tt.peer)
			env := environFor(t, c, request(tt.fields...))
			want := map[string]string{}
			for k, v := range plainOrigin {
				want[k] = v
			}
			want["REMOTE_ADDR"] = tt.peer
			for k, v := range tt.want {
				want[k] = v
			}
			for k, v := range want {
				got, ok := env[k]
				switch {
				case v == "-" && ok:
					t.Errorf("%s = %q, want it absent", k, got)
				case v != "-" && got != v:
					t.Errorf("%s = %q (present %v), want %q", k, got, ok, v)
				}
			}
			if c.https != tt.https {
				t.Errorf("https flag %v, want %v", c.https, tt.https)
			}
		})
	}
}

// A trusted proxy may name the host of an HTTP/1.0 request that had none.
func TestForwardedHostWithoutHostField(t *testing.T) {
	c := testConn(testServer(t, config.Defaults()), "127.0.0.1")
	env := environFor(t, c, "GET / HTTP/1.0\r\nX-Forwarded-Host: pub.example\r\n\r\n")
	if env["HTTP_HOST"] != "pub.example" || env["SERVER_NAME"] != "pub.example" || env["SERVER_PORT"] != "80" {
		t.Errorf("got HTTP_HOST %q SERVER_NAME %q SERVER_PORT %q", env["HTTP_HOST"], env["SERVER_NAME"], env["SERVER_PORT"])
	}
	c2 := testConn(testServer(t, config.Defaults()), "127.0.0.1")
	env = environFor(t, c2, "GET / HTTP/1.0\r\n\r\n")
	if _, ok := env["HTTP_HOST"]; ok || env["SERVER_NAME"] != "127.0.0.1" || env["SERVER_PORT"] != "8000" {
		t.Errorf("plain HTTP/1.0: HTTP_HOST %q SERVER_NAME %q SERVER_PORT %q", env["HTTP_HOST"], env["SERVER_NAME"], env["SERVER_PORT"])
	}
}

// The connection's https flag is per request: a keep-alive connection
// must not carry one request's https into the next.
func TestForwardedProtoIsPerRequest(t *testing.T) {
	c := testConn(testServer(t, config.Defaults()), "127.0.0.1")
	environFor(t, c, request("X-Forwarded-Proto: https"))
	if !c.https {
		t.Fatal("https not set")
	}
	env := environFor(t, c, request())
	if c.https || env["HTTPS"] != "" {
		t.Errorf("second request: https %v, HTTPS %q", c.https, env["HTTPS"])
	}
}

func TestValidForwardedHost(t *testing.T) {
	for _, h := range []string{"a", "example.com", "example.com:8080", "[::1]", "[2001:db8::1]:443", "1.2.3.4:80", "my_host%2D.local", "xn--bcher-kva.example"} {
		if !validForwardedHost([]byte(h)) {
			t.Errorf("%q refused", h)
		}
	}
	for _, h := range []string{"", ":80", "a:", "a:65536", "a:8o", "a b", "a/b", "a@b", "[::1", "[1.2.3.4]", "[fe80::1%25eth0]", "a,b", "%zz", "a\x00", "ä.example", "a:80:80"} {
		if validForwardedHost([]byte(h)) {
			t.Errorf("%q accepted", h)
		}
	}
}

// The cost of the origin on the hot path: a browser request from a trusted
// peer (the default: a local nginx) without and with forwarding headers.
func BenchmarkRequestOrigin(b *testing.B) {
	for _, bc := range []struct{ name, raw string }{
		{"no-forwarding", request("User-Agent: Mozilla/5.0", "Accept: text/html", "Accept-Language: en", "Cookie: a=1")},
		{"x-forwarded", request("User-Agent: Mozilla/5.0", "Accept: text/html", "X-Forwarded-For: 203.0.113.7", "X-Forwarded-Proto: https")},
		{"forwarded", request("User-Agent: Mozilla/5.0", "Accept: text/html", `Forwarded: for=203.0.113.7;proto=https`)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			c := testConn(testServer(b, config.Defaults()), "127.0.0.1")
			if err := httpwire.Parse([]byte(bc.raw), &c.srv.limits, &c.req); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				c.requestOrigin()
			}
		})
	}
}
