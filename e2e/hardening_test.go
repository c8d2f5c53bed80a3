package e2e

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gowsgi/gowsgi/internal/httpwire"
)

// digestReply is what digest_app.py answers.
type digestReply struct {
	Len       int               `json:"len"`
	SHA256    string            `json:"sha256"`
	URLScheme string            `json:"url_scheme"`
	Environ   map[string]string `json:"environ"`
}

// latin1 maps a JSON-decoded environ value back to the bytes it came from:
// PEP 3333 native strings hold one byte per code point.
func latin1(s string) string {
	b := make([]byte, 0, len(s))
	for _, r := range s {
		if r > 0xff {
			return s + " (not latin-1)"
		}
		b = append(b, byte(r))
	}
	return string(b)
}

// readFinal reads responses to method until one that is not 1xx (a 100
// Continue may precede the final response).
func (c *rawConn) readFinal(method string) (*response, error) {
	for {
		r, err := c.readResponse(method)
		if err != nil || r.status >= 200 {
			return r, err
		}
	}
}

// decodeDigest parses a digest_app reply, mapping environ values back to bytes.
func decodeDigest(t testing.TB, r *response) digestReply {
	t.Helper()
	var d digestReply
	if err := json.Unmarshal(r.body, &d); err != nil {
		t.Fatalf("bad JSON from digest_app: %v\n%s", err, r.body)
	}
	for k, v := range d.Environ {
		d.Environ[k] = latin1(v)
	}
	return d
}

// digestRequest sends raw on a fresh connection and returns the decoded reply (status 200 required).
func digestRequest(t testing.TB, s *server, raw string) digestReply {
	t.Helper()
	c := dialRaw(t, s.addr)
	defer c.close()
	c.send(raw)
	r, err := c.readFinal("POST")
	if err != nil {
		t.Fatalf("reading the response: %v (so far %v)", err, r)
	}
	if r.status != 200 {
		t.Fatalf("status %d: %v", r.status, r)
	}
	return decodeDigest(t, r)
}

// checkOK requires the server to answer a normal request on a fresh connection within d.
func checkOK(t testing.TB, s *server, d time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	c := dialRaw(t, s.addr)
	defer c.close()
	c.send("GET /ok HTTP/1.1\r\nHost: e2e.test\r\nConnection: close\r\n\r\n")
	r, err := c.readResponse("GET")
	took := time.Since(start)
	if err != nil || r.status != 200 || string(r.body) != "ok\n" {
		t.Fatalf("normal request failed: %v, %v", err, r)
	}
	if took > d {
		t.Errorf("normal request took %v, want under %v", took, d)
	}
	return took
}

// corpusBody is the body of a valid corpus case, found without httpwire:
// the bytes after the head, de-chunked by dechunk when the head says
// Transfer-Encoding: chunked.
func corpusBody(t *testing.T, raw string) []byte {
	t.Helper()
	for strings.HasPrefix(raw, "\r\n") {
		raw = raw[2:]
	}
	end := strings.Index(raw, "\r\n\r\n")
	if end < 0 {
		t.Fatalf("no head end in %q", raw)
	}
	rest := raw[end+4:]
	for _, line := range strings.Split(raw[:end], "\r\n")[1:] {
		name, value, _ := strings.Cut(line, ":")
		if strings.EqualFold(name, "transfer-encoding") && strings.EqualFold(strings.TrimSpace(value), "chunked") {
			body, err := dechunk(rest)
			if err != nil {
				t.Fatalf("cannot de-chunk %q: %v", rest, err)
			}
			return body
		}
	}
	return []byte(rest)
}

// dechunk decodes a valid chunked body the simple way: a hex size up to
// the first other byte (extensions are skipped to the end of the line),
// the data and its CRLF, and trailer lines up to an empty one.
func dechunk(s string) ([]byte, error) {
	var body []byte
	for {
		line, rest, ok := strings.Cut(s, "\r\n")
		if !ok {
			return nil, fmt.Errorf("no chunk size line")
		}
		digits := line
		if i := strings.IndexFunc(line, func(r rune) bool { return !strings.ContainsRune("0123456789abcdefABCDEF", r) }); i >= 0 {
			digits = line[:i]
		}
		size, err := strconv.ParseUint(digits, 16, 63)
		if err != nil {
			return nil, err
		}
		s = rest
		if size == 0 {
			break
		}
		if uint64(len(s)) < size+2 || s[size:size+2] != "\r\n" {
			return nil, fmt.Errorf("chunk data of %d bytes not followed by CRLF", size)
		}
		body = append(body, s[:size]...)
		s = s[size+2:]
	}
	for {
		line, rest, ok := strings.Cut(s, "\r\n")
		if !ok {
			return nil, fmt.Errorf("unterminated trailer section")
		}
		s = rest
		if line == "" {
			return body, nil
		}
	}
}

// corpusEnviron is what a sample of valid corpus cases must produce,
// written out by hand (absent: the key must not be there).
const absent = "\x00absent"

var corpusEnviron = map[string]map[string]string{
	"get-query": {"REQUEST_METHOD": "GET", "PATH_INFO": "/search", "QUERY_STRING": "q=go&lang=en",
		"REQUEST_URI": "/search?q=go&lang=en", "SERVER_PROTOCOL": "HTTP/1.1", "HTTP_HOST": "example.com", "SERVER_NAME": "example.com"},
	"get-percent-path":     {"PATH_INFO": "/a b//c", "REQUEST_URI": "/a%20b/%2Fc", "QUERY_STRING": ""},
	"get-lowercase-method": {"REQUEST_METHOD": "get"},
	"get-browser": {"HTTP_COOKIE": "session=7f3a9c2e4b1d8f6a; theme=dark; _ga=GA1.2.1234567890.1700000000",
		"HTTP_ACCEPT_LANGUAGE": "en-US,en;q=0.5", "QUERY_STRING": "page=2&sort=desc", "HTTP_HOST": "www.example.com",
		"HTTP_UPGRADE_INSECURE_REQUESTS": "1", "HTTP_CONNECTION": "keep-alive"},
	"post-form": {"REQUEST_METHOD": "POST", "CONTENT_TYPE": "application/x-www-form-urlencoded", "CONTENT_LENGTH": "27",
		"HTTP_CONTENT_TYPE": absent, "HTTP_CONTENT_LENGTH": absent},
	"post-content-length-leading-zeros": {"CONTENT_LENGTH": "007"},
	// A chunked body is received whole first, so its length is known.
	"post-chunked":          {"CONTENT_LENGTH": "11", "HTTP_TRANSFER_ENCODING": absent},
	"post-chunked-trailers": {"CONTENT_LENGTH": "4", "HTTP_TRAILER": "X-Checksum", "HTTP_X_CHECKSUM": absent},
	// RFC 9112 §3.2.2: the target's authority wins over the Host field.
	"absolute-form":        {"PATH_INFO": "/x", "QUERY_STRING": "y=1", "SERVER_NAME": "example.com", "HTTP_HOST": "example.com"},
	"absolute-form-ipv6":   {"SERVER_NAME": "::1", "HTTP_HOST": "[::1]:8080"},
	"keepalive-10-default": {"SERVER_PROTOCOL": "HTTP/1.0", "HTTP_HOST": absent, "SERVER_NAME": "127.0.0.1"},
	"http10-post":          {"SERVER_PROTOCOL": "HTTP/1.0", "CONTENT_LENGTH": "3"},
	// The default --forwarded-allow-ips trusts the loopback test client.
	"repeated-headers": {"HTTP_ACCEPT": "text/html, */*", "HTTP_COOKIE": "a=1; b=2",
		"HTTP_X_FORWARDED_FOR": "10.0.0.1, 10.0.0.2", "REMOTE_ADDR": "10.0.0.2", "REMOTE_PORT": absent},
	"field-underscore-name":       {"HTTP_TRANSFER_ENCODING": absent},
	"field-name-tchars":           {"HTTP_X_!#$%&'*+_.^_`|~09": absent},
	"field-obs-text":              {"HTTP_X_LATIN": "caf\xe9 \xff"},
	"field-inner-whitespace":      {"HTTP_X_A": "a  b\tc"},
	"field-whitespace-only-value": {"HTTP_X_EMPTY": ""},
	"host-empty":                  {"HTTP_HOST": "", "SERVER_NAME": "127.0.0.1"},
	"host-ipv6":                   {"HTTP_HOST": "[2001:db8::1]:443", "SERVER_NAME": "2001:db8::1"},
	"many-headers":                {"HTTP_X_FIELD_097": strings.Repeat("v", 20)},
	"leading-crlf-four":           {"PATH_INFO": "/", "REQUEST_METHOD": "GET"},
	"long-target":                 {"PATH_INFO": "/" + strings.Repeat("a", 8000)},
	"expect-continue":             {"CONTENT_LENGTH": "4", "HTTP_EXPECT": "100-continue"},
}

// TestCorpusReplay sends every case of the conformance corpus to the real
// server over its own connection. Valid requests must reach the
// application with exactly their body; invalid ones must get exactly their
// status and a closed connection, never the application; and after each
// rejection the server must serve the next connection normally.
func TestCorpusReplay(t *testing.T) {
	t.Parallel()
	s := startServer(t, "digest_app", plain, 1)
	cases := httpwire.Corpus()
	seen := map[string]bool{}
	for _, tc := range cases {
		seen[tc.Name] = true
		t.Run(tc.Name, func(t *testing.T) {
			c := dialRaw(t, s.addr)
			defer c.close()
			c.send(tc.Raw)
			method, _, _ := strings.Cut(strings.TrimLeft(tc.Raw, "\r\n"), " ")
			r, err := c.readFinal(method)
			if err != nil {
				t.Fatalf("reading the response: %v (so far %v)", err, r)
			}
			if tc.Status != 0 {
				if r.status != tc.Status {
					t.Fatalf("status %d, want %d: %v", r.status, tc.Status, r)
				}
				if r.get(t, "Connection") != "close" {
					t.Errorf("rejection without Connection: close: %v", r)
				}
				c.expectClosed()
				checkOK(t, s, 5*time.Second)
				return
			}
			if r.status != 200 {
				t.Fatalf("status %d, want 200: %v", r.status, r)
			}
			if method == "HEAD" {
				return // no body to carry the digest
			}
			d := decodeDigest(t, r)
			body := corpusBody(t, tc.Raw)
			sum := sha256.Sum256(body)
			if d.Len != len(body) || d.SHA256 != hex.EncodeToString(sum[:]) {
				t.Errorf("the application read %d bytes (%s), want %d (%x)", d.Len, d.SHA256, len(body), sum)
			}
			if d.Environ["REQUEST_METHOD"] != method {
				t.Errorf("REQUEST_METHOD %q, want %q", d.Environ["REQUEST_METHOD"], method)
			}
			if d.URLScheme != "http" {
				t.Errorf("wsgi.url_scheme %q", d.URLScheme)
			}
			if _, ok := d.Environ["HTTP_PROXY"]; ok {
				t.Errorf("HTTP_PROXY in the environ")
			}
			for k, want := range corpusEnviron[tc.Name] {
				got, ok := d.Environ[k]
				switch {
				case want == absent && ok:
					t.Errorf("%s = %q, want it absent", k, got)
				case want != absent && (!ok || got != want):
					t.Errorf("%s = %q (present %v), want %q", k, got, ok, want)
				}
			}
		})
	}
	for name := range corpusEnviron {
		if !seen[name] {
			t.Errorf("corpusEnviron names %q, which is not in the corpus", name)
		}
	}
	checkOK(t, s, 5*time.Second)
}

// ------------------------------------------------------------ trusted proxies

const forwardingHeaders = "X-Forwarded-For: 203.0.113.7\r\n" +
	"X-Forwarded-Proto: https\r\n" +
	"X-Forwarded-Host: public.example:8443\r\n"

func forwardedGET(extra string) string {
	return "GET /env HTTP/1.1\r\nHost: internal.example\r\n" + extra + "Connection: close\r\n\r\n"
}

func TestTrustedProxies(t *testing.T) {
	t.Parallel()
	t.Run("trusted-default", func(t *testing.T) {
		t.Parallel()
		s := startServer(t, "digest_app", plain, 1) // default: 127.0.0.1 and ::1 are trusted
		d := digestRequest(t, s, forwardedGET(forwardingHeaders))
		want := map[string]string{"REMOTE_ADDR": "203.0.113.7", "REMOTE_PORT": absent, "HTTPS": "on",
			"HTTP_HOST": "public.example:8443", "SERVER_NAME": "public.example", "SERVER_PORT": "8443",
			"HTTP_X_FORWARDED_FOR": "203.0.113.7", "HTTP_X_FORWARDED_PROTO": "https"}
		checkValues(t, d, want, "https")

		// RFC 7239 Forwarded, when no X-Forwarded-* is present.
		d = digestRequest(t, s, forwardedGET(`Forwarded: for="[2001:db8::9]:4711";proto=https;host=pub.example`+"\r\n"))
		checkValues(t, d, map[string]string{"REMOTE_ADDR": "2001:db8::9", "REMOTE_PORT": "4711", "HTTPS": "on",
			"HTTP_HOST": "pub.example", "SERVER_NAME": "pub.example", "SERVER_PORT": "443"}, "https")

		// Both: X-Forwarded-* win and Forwarded changes nothing.
		d = digestRequest(t, s, forwardedGET("Forwarded: for=198.51.100.1;proto=https\r\nX-Forwarded-For: 203.0.113.8\r\n"))
		checkValues(t, d, map[string]string{"REMOTE_ADDR": "203.0.113.8", "HTTPS": absent,
			"HTTP_FORWARDED": "for=198.51.100.1;proto=https", "SERVER_PORT": portOf(s)}, "http")

		// A scheme is per request: the next request on the same connection is plain http again.
		c := dialRaw(t, s.addr)
		c.send("GET /env HTTP/1.1\r\nHost: a\r\nX-Forwarded-Proto: https\r\n\r\nGET /env HTTP/1.1\r\nHost: a\r\n\r\n")
		first, second := decodeDigest(t, c.mustResponse("GET")), decodeDigest(t, c.mustResponse("GET"))
		if first.URLScheme != "https" || second.URLScheme != "http" || second.Environ["HTTPS"] != "" {
			t.Errorf("schemes %q then %q (HTTPS %q)", first.URLScheme, second.URLScheme, second.Environ["HTTPS"])
		}
	})
	t.Run("untrusted", func(t *testing.T) {
		t.Parallel()
		// Loopback is not trusted here: the headers are ordinary headers.
		s := startServer(t, "digest_app", plain, 1, "--forwarded-allow-ips", "10.255.255.1")
		c := dialRaw(t, s.addr)
		c.send(forwardedGET(forwardingHeaders + "Forwarded: for=198.51.100.1;proto=https;host=evil.example\r\n"))
		d := decodeDigest(t, c.mustResponse("GET"))
		checkValues(t, d, map[string]string{"REMOTE_ADDR": "127.0.0.1", "REMOTE_PORT": c.localPort(), "HTTPS": absent,
			"HTTP_HOST": "internal.example", "SERVER_NAME": "internal.example", "SERVER_PORT": portOf(s),
			"HTTP_X_FORWARDED_FOR": "203.0.113.7", "HTTP_X_FORWARDED_PROTO": "https",
			"HTTP_X_FORWARDED_HOST": "public.example:8443",
			"HTTP_FORWARDED":        "for=198.51.100.1;proto=https;host=evil.example"}, "http")
	})
	t.Run("cidr-chain", func(t *testing.T) {
		t.Parallel()
		s := startServer(t, "digest_app", plain, 1, "--forwarded-allow-ips", "127.0.0.0/8, 10.0.0.0/8")
		// The client forged the leftmost entry; the proxies 10.1.1.1 and 127.0.0.1 are trusted.
		d := digestRequest(t, s, forwardedGET("X-Forwarded-For: 6.6.6.6, 203.0.113.9, 10.1.1.1\r\n"))
		checkValues(t, d, map[string]string{"REMOTE_ADDR": "203.0.113.9"}, "http")
	})
	t.Run("trust-all", func(t *testing.T) {
		t.Parallel()
		// Every hop is trusted, so the leftmost entry is the client,
		// whoever wrote it: "*" is only for a proxy that sets the header.
		s := startServer(t, "digest_app", plain, 1, "--forwarded-allow-ips", "*")
		d := digestRequest(t, s, forwardedGET("X-Forwarded-For: 6.6.6.6, 203.0.113.9\r\n"))
		checkValues(t, d, map[string]string{"REMOTE_ADDR": "6.6.6.6"}, "http")
	})
	t.Run("bad-flag", func(t *testing.T) {
		t.Parallel()
		for _, v := range []string{"bogus", "10.0.0.0/33", "127.0.0.1,localhost"} {
			code, _, stderr := runToExit(t, false, "--module", "hello", "--forwarded-allow-ips", v)
			if code != 2 || !strings.Contains(stderr, "--forwarded-allow-ips") {
				t.Errorf("%q: exit %d, stderr %q; want 2 and a message naming the flag", v, code, stderr)
			}
		}
	})
}

func portOf(s *server) string {
	_, p, _ := net.SplitHostPort(s.addr)
	return p
}

func checkValues(t *testing.T, d digestReply, want map[string]string, scheme string) {
	t.Helper()
	if d.URLScheme != scheme {
		t.Errorf("wsgi.url_scheme %q, want %q", d.URLScheme, scheme)
	}
	for k, w := range want {
		got, ok := d.Environ[k]
		switch {
		case w == absent && ok:
			t.Errorf("%s = %q, want it absent", k, got)
		case w != absent && (!ok || got != w):
			t.Errorf("%s = %q (present %v), want %q", k, got, ok, w)
		}
	}
}

// ------------------------------------------------------------ PROXY protocol

func proxyV2(src, dst string, sport, dport uint16) string {
	s, d := net.ParseIP(src), net.ParseIP(dst)
	b := []byte("\r\n\r\n\x00\r\nQUIT\n\x21")
	var addrs []byte
	if s4 := s.To4(); s4 != nil {
		b = append(b, 0x11)
		addrs = append(append(addrs, s4...), d.To4()...)
	} else {
		b = append(b, 0x21)
		addrs = append(append(addrs, s.To16()...), d.To16()...)
	}
	addrs = binary.BigEndian.AppendUint16(addrs, sport)
	addrs = binary.BigEndian.AppendUint16(addrs, dport)
	addrs = append(addrs, 0x04, 0x00, 0x02, 'o', 'k') // a NOOP TLV, to be skipped
	b = binary.BigEndian.AppendUint16(b, uint16(len(addrs)))
	return string(append(b, addrs...))
}

func TestProxyProtocol(t *testing.T) {
	t.Parallel()
	t.Run("trusted", func(t *testing.T) {
		t.Parallel()
		s := startServer(t, "digest_app", plain, 1, "--proxy-protocol")
		get := "GET /env HTTP/1.1\r\nHost: a\r\n\r\n"

		// v1, then two requests on the connection: both see the client.
		c := dialRaw(t, s.addr)
		c.send("PROXY TCP4 203.0.113.5 198.51.100.1 40001 8443\r\n" + get + get)
		for i := 0; i < 2; i++ {
			d := decodeDigest(t, c.mustResponse("GET"))
			checkValues(t, d, map[string]string{"REMOTE_ADDR": "203.0.113.5", "REMOTE_PORT": "40001", "SERVER_PORT": "8443"}, "http")
		}

		// v2 over IPv6.
		d := digestRequest(t, s, proxyV2("2001:db8::5", "2001:db8::1", 50000, 443)+get)
		checkValues(t, d, map[string]string{"REMOTE_ADDR": "2001:db8::5", "REMOTE_PORT": "50000", "SERVER_PORT": "443"}, "http")

		// X-Forwarded-For after a PROXY header counts only if the client
		// the header names is itself trusted.
		d = digestRequest(t, s, "PROXY TCP4 203.0.113.5 198.51.100.1 40001 80\r\n"+forwardedGET(forwardingHeaders))
		checkValues(t, d, map[string]string{"REMOTE_ADDR": "203.0.113.5", "HTTPS": absent}, "http")
		d = digestRequest(t, s, "PROXY TCP4 127.0.0.1 198.51.100.1 40001 80\r\n"+forwardedGET(forwardingHeaders))
		checkValues(t, d, map[string]string{"REMOTE_ADDR": "203.0.113.7", "HTTPS": "on"}, "https")

		// LOCAL (a health check): the connection's own addresses.
		c = dialRaw(t, s.addr)
		c.send("\r\n\r\n\x00\r\nQUIT\n\x20\x00\x00\x00" + get)
		d = decodeDigest(t, c.mustResponse("GET"))
		checkValues(t, d, map[string]string{"REMOTE_ADDR": "127.0.0.1", "REMOTE_PORT": c.localPort()}, "http")

		// Malformed headers, and plain HTTP where a header is required:
		// the connection is closed without a byte of response.
		for _, bad := range []string{
			get,
			"PROXY TCP4 203.0.113.5 198.51.100.1 40001\r\n" + get,
			"PROXY TCP4 203.0.113.500 198.51.100.1 40001 80\r\n" + get,
			"PROXY TCP6 203.0.113.5 198.51.100.1 40001 80\r\n" + get,
			"PROXY TCP4 203.0.113.5 198.51.100.1 40001 80\n" + get,
			"\r\n\r\n\x00\r\nQUIT\n\x31\x11\x00\x0c" + strings.Repeat("\x00", 12) + get,
			"\r\n\r\n\x00\r\nQUIT\n\x21\x11\x00\x04abcd" + get,
		} {
			c := dialRaw(t, s.addr)
			c.send(bad)
			start := time.Now()
			c.expectClosed()
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("%q: closed after %v, want at once", bad, d)
			}
		}
		s.waitLog(t, "bad proxy protocol header")
		// And the server still serves (a header is required here too).
		d = digestRequest(t, s, "PROXY TCP4 203.0.113.6 198.51.100.1 40002 80\r\n"+get)
		checkValues(t, d, map[string]string{"REMOTE_ADDR": "203.0.113.6"}, "http")
	})
	t.Run("untrusted", func(t *testing.T) {
		t.Parallel()
		s := startServer(t, "digest_app", plain, 1, "--proxy-protocol", "--forwarded-allow-ips", "10.255.255.1")
		// Not trusted: no header is read, so one is just a bad request.
		c := dialRaw(t, s.addr)
		c.send("PROXY TCP4 203.0.113.5 198.51.100.1 40001 8443\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n")
		r := c.mustResponse("GET")
		if r.status != 400 {
			t.Errorf("status %d, want 400", r.status)
		}
		c.expectClosed()
		d := digestRequest(t, s, "GET /env HTTP/1.1\r\nHost: a\r\n\r\n")
		checkValues(t, d, map[string]string{"REMOTE_ADDR": "127.0.0.1"}, "http")
	})
}

// ------------------------------------------------------ many rejected requests

// rejectKind is one way to get a request refused.
type rejectKind struct {
	name   string
	raw    string
	status []int // the statuses to read in order; none: the client aborts
}

func rejectKinds() []rejectKind {
	long := "GET /" + strings.Repeat("a", 9000) + " HTTP/1.1\r\nHost: a\r\n\r\n"
	var many strings.Builder
	many.WriteString("GET / HTTP/1.1\r\nHost: a\r\n")
	for i := 0; i < 101; i++ {
		fmt.Fprintf(&many, "X-F%d: v\r\n", i)
	}
	many.WriteString("\r\n")
	return []rejectKind{
		{"tls-hello", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + strings.Repeat("\x00", 32), []int{400}},
		{"cl-te", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", []int{400}},
		{"cl-twice", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", []int{400}},
		{"version", "GET / HTTP/2.0\r\nHost: a\r\n\r\n", []int{505}},
		{"te-gzip", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", []int{501}},
		{"line-too-long", long, []int{414}},
		{"too-many-fields", many.String(), []int{431}},
		{"obs-fold", "GET / HTTP/1.1\r\nHost: a\r\nX-A: b\r\n c\r\n\r\n", []int{400}},
		{"bad-chunk", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", []int{400}},
		{"too-large", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2000000\r\n\r\n", []int{413}},
		{"expect", "POST / HTTP/1.1\r\nHost: a\r\nExpect: 200-ok\r\nContent-Length: 1\r\n\r\nx", []int{417}},
		{"pipelined-garbage", "GET /ok HTTP/1.1\r\nHost: a\r\n\r\nGET /ok HTTP/1.1\r\nHost: a\r\nX A: b\r\n\r\n", []int{200, 400}},
		{"aborted-head", "GET /ok HTTP/1.1\r\nHost: a\r\nX-Partial: abc", nil},
	}
}

// procStats is what /proc says about the server: the process started and
// every process below it (the master and its workers), added up.
type procStats struct {
	rssKiB, fds, threads, procs int
}

func readProcStats(t testing.TB, pid int) procStats {
	t.Helper()
	var st procStats
	for _, p := range processTree(pid) {
		status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p))
		if err != nil {
			continue // exited meanwhile
		}
		for _, line := range strings.Split(string(status), "\n") {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
				n, _ := strconv.Atoi(f[1])
				st.rssKiB += n
			}
		}
		fds, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", p))
		tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", p))
		st.fds += len(fds)
		st.threads += len(tasks)
		st.procs++
	}
	if st.procs == 0 {
		t.Fatalf("no process %d in /proc", pid)
	}
	return st
}

// processTree is pid and its descendants, from /proc/PID/task/TID/children.
func processTree(pid int) []int {
	out := []int{pid}
	for i := 0; i < len(out); i++ {
		tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", out[i]))
		for _, task := range tasks {
			b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/children", out[i], task.Name()))
			for _, f := range strings.Fields(string(b)) {
				if child, err := strconv.Atoi(f); err == nil {
					out = append(out, child)
				}
			}
		}
	}
	return out
}

// sendRejected runs one rejected exchange on a fresh connection and
// reports what went wrong, if anything: every expected response must come,
// and then the end of the connection, with nothing in between. It closes
// with a reset, so that no side keeps the connection in TIME_WAIT. buf is
// the worker's scratch space.
func sendRejected(addr string, k *rejectKind, buf []byte) error {
	nc, err := net.DialTimeout("tcp", addr, ioTimeout)
	if err != nil {
		return err
	}
	tc := nc.(*net.TCPConn)
	defer func() {
		tc.SetLinger(0)
		tc.Close()
	}()
	tc.SetDeadline(time.Now().Add(ioTimeout))
	if _, err := io.WriteString(tc, k.raw); err != nil {
		return err
	}
	if k.status == nil {
		return nil
	}
	n := 0
	for {
		if n == len(buf) {
			return fmt.Errorf("%s: more than %d bytes of response", k.name, len(buf))
		}
		m, err := tc.Read(buf[n:])
		n += m
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("%s: reading the response after %q: %v", k.name, buf[:n], err)
		}
	}
	data := buf[:n]
	for _, want := range k.status {
		rest, err := skipResponse(data, want)
		if err != nil {
			return fmt.Errorf("%s: %v in %q", k.name, err, buf[:n])
		}
		data = rest
	}
	if len(data) > 0 {
		return fmt.Errorf("%s: %q after the last response", k.name, data)
	}
	return nil
}

// skipResponse checks that data starts with a complete response with the
// given status and a Content-Length body, and returns what follows it.
func skipResponse(data []byte, status int) ([]byte, error) {
	s := string(data)
	if !strings.HasPrefix(s, "HTTP/1.1 "+strconv.Itoa(status)+" ") {
		return nil, fmt.Errorf("want status %d", status)
	}
	end := strings.Index(s, "\r\n\r\n")
	if end < 0 {
		return nil, fmt.Errorf("incomplete head")
	}
	length := -1
	for _, line := range strings.Split(s[:end], "\r\n")[1:] {
		if name, v, _ := strings.Cut(line, ":"); strings.EqualFold(name, "content-length") {
			length, _ = strconv.Atoi(strings.TrimSpace(v))
		}
	}
	if length < 0 || end+4+length > len(s) {
		return nil, fmt.Errorf("no complete content-length body")
	}
	return data[end+4+length:], nil
}

// flood sends n rejected exchanges over workers connections at a time.
func flood(t *testing.T, addr string, n, workers int) {
	t.Helper()
	kinds := rejectKinds()
	var next atomic.Int64
	var failures atomic.Int64
	var firstErr sync.Once
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 8192)
			for {
				i := next.Add(1) - 1
				if i >= int64(n) || failures.Load() > 10 {
					return
				}
				if err := sendRejected(addr, &kinds[i%int64(len(kinds))], buf); err != nil {
					failures.Add(1)
					firstErr.Do(func() { t.Errorf("exchange %d: %v", i, err) })
				}
			}
		}()
	}
	wg.Wait()
	if f := failures.Load(); f > 0 {
		t.Fatalf("%d exchanges failed", f)
	}
}

// TestManyRejectedRequests: 100,000 refused requests of every kind leave
// the server serving normally, with no growth in memory, descriptors or
// threads beyond what a warm server settles at.
func TestManyRejectedRequests(t *testing.T) {
	t.Parallel()
	// The race runtime keeps a few hundred bytes for every goroutine that
	// ever ran, so memory is measured on a plain build; the rejection
	// paths run under the race detector in TestCorpusReplay. No access
	// log: 100,000 lines would only measure the log pipe.
	s := launchBinary(t, plainBinary(t), "--module", "digest_app", "--threads", "1", "--graceful-timeout", "5s",
		"--limit-post", "1000000", "--disable-logging")
	pid := s.cmd.Process.Pid
	const total, warm, workers = 100_000, 5_000, 4
	start := time.Now()
	flood(t, s.addr, warm, workers) // warm-up: pools, buffers and heap reach their working size
	checkOK(t, s, time.Second)
	base := waitQuiet(t, pid)
	flood(t, s.addr, total/2, workers)
	mid := waitQuiet(t, pid)
	flood(t, s.addr, total/2, workers)
	checkOK(t, s, time.Second)
	end := waitQuiet(t, pid)
	t.Logf("%d rejected exchanges in %v; %d processes; RSS %d -> %d -> %d KiB, fds %d -> %d, threads %d -> %d",
		total+warm, time.Since(start).Round(time.Millisecond), end.procs, base.rssKiB, mid.rssKiB, end.rssKiB,
		base.fds, end.fds, base.threads, end.threads)
	if end.procs != base.procs {
		t.Errorf("the server had %d processes before the flood and %d after", base.procs, end.procs)
	}
	if end.fds > base.fds+8 {
		t.Errorf("open descriptors grew from %d to %d", base.fds, end.fds)
	}
	if end.threads > base.threads+8 {
		t.Errorf("threads grew from %d to %d", base.threads, end.threads)
	}
	// A leak proportional to the requests grows in both halves alike; a
	// server that has settled does not grow in the second half at all.
	if end.rssKiB > base.rssKiB+16<<10 || end.rssKiB-mid.rssKiB > 8<<10 {
		t.Errorf("RSS grew from %d KiB to %d KiB (%d KiB halfway)", base.rssKiB, end.rssKiB, mid.rssKiB)
	}
}

var (
	plainOnce sync.Once
	plainPath string
	plainErr  error
)

// plainBinary builds gowsgi without the race detector, once, next to the
// race-enabled one (and removed with it).
func plainBinary(t *testing.T) string {
	t.Helper()
	plainOnce.Do(func() {
		plainPath = filepath.Join(filepath.Dir(binPath), "gowsgi-plain")
		build := exec.Command("go", "build", "-o", plainPath, "./cmd/gowsgi")
		build.Dir = filepath.Dir(appsDir)
		if out, err := build.CombinedOutput(); err != nil {
			plainErr = fmt.Errorf("building gowsgi without -race: %v\n%s", err, out)
		}
	})
	if plainErr != nil {
		t.Fatal(plainErr)
	}
	return plainPath
}

// launchBinary is the harness's launch for another build of gowsgi.
func launchBinary(t *testing.T, bin string, args ...string) *server {
	t.Helper()
	args = append([]string{"--chdir", appsDir, "--http", "127.0.0.1:0"}, args...)
	return startCmd(t, exec.Command(bin, args...), bin)
}

// waitQuiet waits until the server has closed every flood connection (its
// descriptor count stops falling) and returns its stats then.
func waitQuiet(t *testing.T, pid int) procStats {
	t.Helper()
	prev := readProcStats(t, pid)
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
		cur := readProcStats(t, pid)
		if cur.fds >= prev.fds {
			return cur
		}
		prev = cur
	}
	return prev
}
