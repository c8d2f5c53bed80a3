package httpwire

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

// want is what a valid corpus case must parse to.
type want struct {
	method, target, path, query string
	hasQuery                    bool
	minor                       int
	host                        string
	cl                          int64
	flags                       string // c: chunked, k: keep-alive, e: expect 100-continue
	fields                      int
	body                        string
	last                        [2]string // name and value of the last field, if set
}

func w(method, target, path, query string, minor int, host string, cl int64, flags string, fields int, body string) want {
	return want{method: method, target: target, path: path, query: query, hasQuery: strings.Contains(target, "?"),
		minor: minor, host: host, cl: cl, flags: flags, fields: fields, body: body}
}

// g is the common case: a GET of target with Host: example.com on HTTP/1.1.
func g(target, path, query string, fields int) want {
	return w("GET", target, path, query, 1, "example.com", -1, "k", fields, "")
}

func withLast(x want, name, value string) want { x.last = [2]string{name, value}; return x }

var wants = map[string]want{
	"get-simple":                        g("/", "/", "", 1),
	"get-query":                         g("/search?q=go&lang=en", "/search", "q=go&lang=en", 1),
	"get-empty-query":                   g("/path?", "/path", "", 1),
	"get-query-question-marks":          g("/a?b?c=d?", "/a", "b?c=d?", 1),
	"get-query-encoded":                 g("/q?a=%20b&c=d+e&f=%2F", "/q", "a=%20b&c=d+e&f=%2F", 1),
	"get-percent-path":                  g("/a%20b/%2Fc", "/a%20b/%2Fc", "", 1),
	"get-double-slash":                  g("//a//b/", "//a//b/", "", 1),
	"get-dot-segments":                  g("/a/../b/./c", "/a/../b/./c", "", 1),
	"get-sub-delims-path":               g("/a;b=c,d!$&'()*+@:~_-.", "/a;b=c,d!$&'()*+@:~_-.", "", 1),
	"get-lenient-visible-chars":         g("/a{b}|c^d`e\\f\"g<h>", "/a{b}|c^d`e\\f\"g<h>", "", 1),
	"get-browser":                       withLast(w("GET", "/articles/2024/http-parsing?page=2&sort=desc", "/articles/2024/http-parsing", "page=2&sort=desc", 1, "www.example.com", -1, "k", 8, ""), "Upgrade-Insecure-Requests", "1"),
	"get-lowercase-method":              w("get", "/", "/", "", 1, "example.com", -1, "k", 1, ""),
	"method-purge":                      w("PURGE", "/cache", "/cache", "", 1, "example.com", -1, "k", 1, ""),
	"method-propfind":                   w("PROPFIND", "/dav/", "/dav/", "", 1, "example.com", -1, "k", 2, ""),
	"method-tchars":                     w("M-1.x_y!", "/m", "/m", "", 1, "example.com", -1, "k", 1, ""),
	"head":                              w("HEAD", "/index.html", "/index.html", "", 1, "example.com", -1, "k", 1, ""),
	"delete":                            w("DELETE", "/item/1", "/item/1", "", 1, "example.com", -1, "k", 1, ""),
	"post-content-length":               w("POST", "/submit", "/submit", "", 1, "example.com", 5, "k", 3, "hello"),
	"post-content-length-zero":          w("POST", "/empty", "/empty", "", 1, "example.com", 0, "k", 2, ""),
	"post-content-length-ows":           withLast(w("POST", "/", "/", "", 1, "example.com", 3, "k", 2, "abc"), "Content-Length", "3"),
	"post-content-length-leading-zeros": w("POST", "/", "/", "", 1, "example.com", 7, "k", 2, "1234567"),
	"post-form":                         w("POST", "/login", "/login", "", 1, "example.com", 27, "k", 3, "user=alice&password=s3cr3t!"),
	"put-body":                          w("PUT", "/file.txt", "/file.txt", "", 1, "example.com", 11, "k", 2, "hello world"),
	"patch-json":                        w("PATCH", "/api/v1/users/42", "/api/v1/users/42", "", 1, "api.example.com", 16, "k", 3, `{"name":"alice"}`),
	"post-chunked":                      w("POST", "/upload", "/upload", "", 1, "example.com", -1, "ck", 2, "hello world"),
	"post-chunked-empty":                w("POST", "/", "/", "", 1, "example.com", -1, "ck", 2, ""),
	"post-chunked-uppercase-coding":     w("POST", "/", "/", "", 1, "example.com", -1, "ck", 2, "abc"),
	"post-chunked-ows":                  withLast(w("POST", "/", "/", "", 1, "example.com", -1, "ck", 2, "abc"), "Transfer-Encoding", "chunked"),
	"post-chunked-hex-sizes":            w("POST", "/", "/", "", 1, "example.com", -1, "ck", 2, "0123456789abcdefghij"),
	"post-chunked-extensions":           w("POST", "/", "/", "", 1, "example.com", -1, "ck", 2, "abcxyz"),
	"post-chunked-trailers":             w("POST", "/", "/", "", 1, "example.com", -1, "ck", 3, "data"),
	"post-chunked-expect":               w("POST", "/", "/", "", 1, "example.com", -1, "cke", 3, "ok"),
	"absolute-form":                     w("GET", "http://example.com/x?y=1", "/x", "y=1", 1, "example.com", -1, "k", 1, ""),
	"absolute-form-https-port":          w("GET", "https://example.com:8443/a/b", "/a/b", "", 1, "example.com:8443", -1, "k", 1, ""),
	"absolute-form-no-path":             w("GET", "http://example.com", "/", "", 1, "example.com", -1, "k", 1, ""),
	"absolute-form-query-no-path":       w("GET", "http://example.com?x=1", "/", "x=1", 1, "example.com", -1, "k", 1, ""),
	"absolute-form-uppercase-scheme":    w("GET", "HTTP://Example.COM/", "/", "", 1, "Example.COM", -1, "k", 1, ""),
	"absolute-form-ipv6":                w("GET", "http://[::1]:8080/", "/", "", 1, "[::1]:8080", -1, "k", 1, ""),
	"absolute-form-http10":              w("GET", "http://example.com/old", "/old", "", 0, "example.com", -1, "", 0, ""),
	"options-asterisk":                  w("OPTIONS", "*", "*", "", 1, "example.com", -1, "k", 1, ""),
	"options-path":                      w("OPTIONS", "/x", "/x", "", 1, "example.com", -1, "k", 1, ""),
	"keepalive-11-default":              g("/", "/", "", 1),
	"keepalive-11-close":                w("GET", "/", "/", "", 1, "example.com", -1, "", 2, ""),
	"keepalive-11-close-uppercase":      w("GET", "/", "/", "", 1, "example.com", -1, "", 2, ""),
	"keepalive-11-close-in-list":        w("GET", "/", "/", "", 1, "example.com", -1, "", 2, ""),
	"keepalive-11-close-second-field":   w("GET", "/", "/", "", 1, "example.com", -1, "", 3, ""),
	"keepalive-11-upgrade":              g("/", "/", "", 4),
	"keepalive-11-empty-elements":       g("/", "/", "", 2),
	"keepalive-10-default":              w("GET", "/", "/", "", 0, "", -1, "", 0, ""),
	"keepalive-10-keep-alive":           w("GET", "/", "/", "", 0, "", -1, "k", 1, ""),
	"keepalive-10-list":                 w("GET", "/", "/", "", 0, "", -1, "k", 1, ""),
	"keepalive-10-keep-alive-and-close": w("GET", "/", "/", "", 0, "", -1, "", 2, ""),
	"http10-with-host":                  w("GET", "/x", "/x", "", 0, "example.com", -1, "", 1, ""),
	"http10-post":                       w("POST", "/form", "/form", "", 0, "", 3, "", 1, "a=b"),
	"http10-expect-ignored":             w("POST", "/", "/", "", 0, "", 2, "", 2, "hi"),
	"many-headers":                      withLast(g("/", "/", "", 99), "X-Field-097", strings.Repeat("v", 20)),
	"repeated-headers":                  withLast(g("/", "/", "", 7), "X-Forwarded-For", "10.0.0.2"),
	"host-empty":                        w("GET", "/", "/", "", 1, "", -1, "k", 1, ""),
	"host-ipv4-port":                    w("GET", "/", "/", "", 1, "127.0.0.1:8080", -1, "k", 1, ""),
	"host-ipv6":                         w("GET", "/", "/", "", 1, "[2001:db8::1]:443", -1, "k", 1, ""),
	"host-uppercase":                    w("GET", "/", "/", "", 1, "EXAMPLE.com", -1, "k", 1, ""),
	"host-underscore-pct":               w("GET", "/", "/", "", 1, "my_host%2Dname.local", -1, "k", 1, ""),
	"host-lowercase-name":               g("/", "/", "", 1),
	"host-last":                         g("/", "/", "", 2),
	"field-no-space":                    withLast(g("/", "/", "", 2), "X-A", "b"),
	"field-tabs-around-value":           withLast(g("/", "/", "", 2), "X-A", "v"),
	"field-empty-value":                 withLast(g("/", "/", "", 2), "X-Empty", ""),
	"field-whitespace-only-value":       withLast(g("/", "/", "", 2), "X-Empty", ""),
	"field-inner-whitespace":            withLast(g("/", "/", "", 2), "X-A", "a  b\tc"),
	"field-obs-text":                    withLast(g("/", "/", "", 2), "X-Latin", "caf\xe9 \xff"),
	"field-name-tchars":                 withLast(g("/", "/", "", 2), "X-!#$%&'*+-.^_`|~09", "v"),
	"field-underscore-name":             withLast(g("/", "/", "", 2), "Transfer_Encoding", "chunked"),
	"field-long-value":                  withLast(g("/", "/", "", 2), "X-Long", strings.Repeat("x", 8000)),
	"field-quotes-and-commas":           withLast(g("/", "/", "", 2), "X-Q", `"a, b", c;d=e`),
	"expect-continue":                   w("POST", "/", "/", "", 1, "example.com", 4, "ke", 3, "data"),
	"expect-continue-uppercase":         w("POST", "/", "/", "", 1, "example.com", 1, "ke", 3, "x"),
	"leading-crlf":                      g("/", "/", "", 1),
	"leading-crlf-four":                 g("/", "/", "", 1),
	"long-target":                       g("/"+strings.Repeat("a", 8000), "/"+strings.Repeat("a", 8000), "", 1),
}

// serve runs what a server does with raw: parse the head, then read the
// body. It returns the status (0 for success), the request and the body.
func serve(t *testing.T, raw string) (int, *Request, []byte) {
	t.Helper()
	var req Request
	err := Parse([]byte(raw), nil, &req)
	if err != nil {
		var e *Error
		if !errors.As(err, &e) {
			t.Fatalf("Parse: got %v, want *Error (the corpus holds complete requests)", err)
		}
		return e.Status, &req, nil
	}
	rest := raw[req.HeadLen:]
	switch {
	case req.Chunked:
		br := bufio.NewReader(strings.NewReader(rest))
		body, err := io.ReadAll(NewChunkedReader(br, nil))
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("chunked body: got %v, want *Error", err)
			}
			return e.Status, &req, nil
		}
		if br.Buffered() != 0 {
			t.Errorf("%d bytes left after the chunked body", br.Buffered())
		}
		return 0, &req, body
	case req.ContentLength >= 0:
		if int64(len(rest)) != req.ContentLength {
			t.Errorf("body has %d bytes, Content-Length says %d", len(rest), req.ContentLength)
		}
		return 0, &req, []byte(rest)
	}
	if rest != "" {
		t.Errorf("%d bytes after a request without a body", len(rest))
	}
	return 0, &req, nil
}

func TestCorpus(t *testing.T) {
	cs := Corpus()
	if len(cs) < 150 {
		t.Errorf("corpus has %d cases, want at least 150", len(cs))
	}
	seen := map[string]bool{}
	for _, c := range cs {
		if seen[c.Name] {
			t.Errorf("duplicate case name %q", c.Name)
		}
		seen[c.Name] = true
		t.Run(c.Name, func(t *testing.T) {
			status, req, body := serve(t, c.Raw)
			if status != c.Status {
				t.Fatalf("status %d, want %d", status, c.Status)
			}
			if c.Status != 0 {
				return
			}
			x, ok := wants[c.Name]
			if !ok {
				t.Fatalf("no expectation in wants")
			}
			checkWant(t, req, body, x)
		})
	}
	for name := range wants {
		if !seen[name] {
			t.Errorf("wants has %q, which is not in the corpus", name)
		}
	}
}

func checkWant(t *testing.T, req *Request, body []byte, x want) {
	t.Helper()
	eq := func(what string, got []byte, want string) {
		if string(got) != want {
			t.Errorf("%s = %q, want %q", what, got, want)
		}
	}
	eq("Method", req.Method, x.method)
	eq("Target", req.Target, x.target)
	eq("Path", req.Path, x.path)
	eq("Query", req.Query, x.query)
	eq("Host", req.Host, x.host)
	eq("body", body, x.body)
	if req.HasQuery != x.hasQuery {
		t.Errorf("HasQuery = %v, want %v", req.HasQuery, x.hasQuery)
	}
	if req.ProtoMinor != x.minor {
		t.Errorf("ProtoMinor = %d, want %d", req.ProtoMinor, x.minor)
	}
	if req.ContentLength != x.cl {
		t.Errorf("ContentLength = %d, want %d", req.ContentLength, x.cl)
	}
	flag := func(what string, got bool, f string) {
		if want := strings.Contains(x.flags, f); got != want {
			t.Errorf("%s = %v, want %v", what, got, want)
		}
	}
	flag("Chunked", req.Chunked, "c")
	flag("KeepAlive", req.KeepAlive, "k")
	flag("ExpectContinue", req.ExpectContinue, "e")
	if len(req.Headers) != x.fields {
		t.Errorf("%d fields, want %d", len(req.Headers), x.fields)
	}
	if x.last[0] != "" && len(req.Headers) > 0 {
		h := req.Headers[len(req.Headers)-1]
		eq("last field name", h.Name, x.last[0])
		eq("last field value", h.Value, x.last[1])
	}
	for _, h := range req.Headers {
		if !IsToken(h.Name) || bytes.ContainsAny(h.Name, ":") {
			t.Errorf("bad field name %q", h.Name)
		}
	}
}
