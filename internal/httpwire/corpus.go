package httpwire

import "strings"

// CorpusCase is one raw request of the conformance corpus.
type CorpusCase struct {
	Name string
	// Raw is one complete request: head and, for valid cases, the whole
	// body. Nothing follows it (no pipelined second request).
	Raw string
	// Status is the status a server must answer with, 0 for a valid
	// request. Cases named "body-..." have a valid head and a malformed
	// chunked body: they get their 400 only once the body is read.
	Status int
}

// Corpus returns the conformance corpus, written for this package and meant
// to be replayed against the server by other tests as well. It returns a
// fresh slice on each call.
func Corpus() []CorpusCase {
	cs := make([]CorpusCase, 0, len(validCases)+len(invalidCases))
	cs = append(cs, validCases...)
	return append(cs, invalidCases...)
}

// head joins lines with CRLF and ends the head with the empty line.
func head(lines ...string) string { return strings.Join(lines, "\r\n") + "\r\n\r\n" }

// get is a GET of target with a Host field and extra fields.
func get(target string, fields ...string) string {
	return head(append([]string{"GET " + target + " HTTP/1.1", "Host: example.com"}, fields...)...)
}

// field is a request with one extra field line, given raw.
func field(line string) string { return get("/", line) }

func manyFields(n int, size int) []string {
	f := make([]string, n)
	for i := range f {
		v := strings.Repeat("v", size)
		f[i] = "X-Field-" + strings.Repeat("0", 3-len(itoa(i))) + itoa(i) + ": " + v
	}
	return f
}

func itoa(i int) string {
	if i < 10 {
		return string(rune('0' + i))
	}
	return itoa(i/10) + string(rune('0'+i%10))
}

var browserGET = head(
	"GET /articles/2024/http-parsing?page=2&sort=desc HTTP/1.1",
	"Host: www.example.com",
	"User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
	"Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
	"Accept-Language: en-US,en;q=0.5",
	"Accept-Encoding: gzip, deflate, br, zstd",
	"Connection: keep-alive",
	"Cookie: session=7f3a9c2e4b1d8f6a; theme=dark; _ga=GA1.2.1234567890.1700000000",
	"Upgrade-Insecure-Requests: 1",
)

var validCases = []CorpusCase{
	{Name: "get-simple", Raw: get("/")},
	{Name: "get-query", Raw: get("/search?q=go&lang=en")},
	{Name: "get-empty-query", Raw: get("/path?")},
	{Name: "get-query-question-marks", Raw: get("/a?b?c=d?")},
	{Name: "get-query-encoded", Raw: get("/q?a=%20b&c=d+e&f=%2F")},
	{Name: "get-percent-path", Raw: get("/a%20b/%2Fc")},
	{Name: "get-double-slash", Raw: get("//a//b/")},
	{Name: "get-dot-segments", Raw: get("/a/../b/./c")},
	{Name: "get-sub-delims-path", Raw: get("/a;b=c,d!$&'()*+@:~_-.")},
	{Name: "get-lenient-visible-chars", Raw: get("/a{b}|c^d`e\\f\"g<h>")},
	{Name: "get-browser", Raw: browserGET},
	{Name: "get-lowercase-method", Raw: head("get / HTTP/1.1", "Host: example.com")},
	{Name: "method-purge", Raw: head("PURGE /cache HTTP/1.1", "Host: example.com")},
	{Name: "method-propfind", Raw: head("PROPFIND /dav/ HTTP/1.1", "Host: example.com", "Depth: 1")},
	{Name: "method-tchars", Raw: head("M-1.x_y! /m HTTP/1.1", "Host: example.com")},
	{Name: "head", Raw: head("HEAD /index.html HTTP/1.1", "Host: example.com")},
	{Name: "delete", Raw: head("DELETE /item/1 HTTP/1.1", "Host: example.com")},
	{Name: "post-content-length", Raw: head("POST /submit HTTP/1.1", "Host: example.com",
		"Content-Type: text/plain", "Content-Length: 5") + "hello"},
	{Name: "post-content-length-zero", Raw: head("POST /empty HTTP/1.1", "Host: example.com", "Content-Length: 0")},
	{Name: "post-content-length-ows", Raw: head("POST / HTTP/1.1", "Host: example.com", "Content-Length: \t 3 \t") + "abc"},
	{Name: "post-content-length-leading-zeros", Raw: head("POST / HTTP/1.1", "Host: example.com", "Content-Length: 007") + "1234567"},
	{Name: "post-form", Raw: head("POST /login HTTP/1.1", "Host: example.com",
		"Content-Type: application/x-www-form-urlencoded", "Content-Length: 27") + "user=alice&password=s3cr3t!"},
	{Name: "put-body", Raw: head("PUT /file.txt HTTP/1.1", "Host: example.com", "Content-Length: 11") + "hello world"},
	{Name: "patch-json", Raw: head("PATCH /api/v1/users/42 HTTP/1.1", "Host: api.example.com",
		"Content-Type: application/json", "Content-Length: 16") + `{"name":"alice"}`},
	{Name: "post-chunked", Raw: head("POST /upload HTTP/1.1", "Host: example.com", "Transfer-Encoding: chunked") +
		"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"},
	{Name: "post-chunked-empty", Raw: head("POST / HTTP/1.1", "Host: example.com", "Transfer-Encoding: chunked") + "0\r\n\r\n"},
	{Name: "post-chunked-uppercase-coding", Raw: head("POST / HTTP/1.1", "Host: example.com", "Transfer-Encoding: CHUNKED") +
		"3\r\nabc\r\n0\r\n\r\n"},
	{Name: "post-chunked-ows", Raw: head("POST / HTTP/1.1", "Host: example.com", "Transfer-Encoding:  chunked\t ") +
		"3\r\nabc\r\n0\r\n\r\n"},
	{Name: "post-chunked-hex-sizes", Raw: head("POST / HTTP/1.1", "Host: example.com", "Transfer-Encoding: chunked") +
		"A\r\n0123456789\r\n0a\r\nabcdefghij\r\n000\r\n\r\n"},
	{Name: "post-chunked-extensions", Raw: head("POST / HTTP/1.1", "Host: example.com", "Transfer-Encoding: chunked") +
		"3;name=value\r\nabc\r\n3 ; a ; b = \"q\\\"s;\" ;c\r\nxyz\r\n0;last\r\n\r\n"},
	{Name: "post-chunked-trailers", Raw: head("POST / HTTP/1.1", "Host: example.com", "Transfer-Encoding: chunked",
		"Trailer: X-Checksum") + "4\r\ndata\r\n0\r\nX-Checksum: abc123\r\nX-Other:\r\n\r\n"},
	{Name: "post-chunked-expect", Raw: head("POST / HTTP/1.1", "Host: example.com", "Transfer-Encoding: chunked",
		"Expect: 100-continue") + "2\r\nok\r\n0\r\n\r\n"},
	{Name: "absolute-form", Raw: head("GET http://example.com/x?y=1 HTTP/1.1", "Host: other.example")},
	{Name: "absolute-form-https-port", Raw: head("GET https://example.com:8443/a/b HTTP/1.1", "Host: example.com:8443")},
	{Name: "absolute-form-no-path", Raw: head("GET http://example.com HTTP/1.1", "Host: example.com")},
	{Name: "absolute-form-query-no-path", Raw: head("GET http://example.com?x=1 HTTP/1.1", "Host: example.com")},
	{Name: "absolute-form-uppercase-scheme", Raw: head("GET HTTP://Example.COM/ HTTP/1.1", "Host: example.com")},
	{Name: "absolute-form-ipv6", Raw: head("GET http://[::1]:8080/ HTTP/1.1", "Host: [::1]:8080")},
	{Name: "absolute-form-http10", Raw: head("GET http://example.com/old HTTP/1.0")},
	{Name: "options-asterisk", Raw: head("OPTIONS * HTTP/1.1", "Host: example.com")},
	{Name: "options-path", Raw: head("OPTIONS /x HTTP/1.1", "Host: example.com")},
	{Name: "keepalive-11-default", Raw: get("/")},
	{Name: "keepalive-11-close", Raw: get("/", "Connection: close")},
	{Name: "keepalive-11-close-uppercase", Raw: get("/", "Connection: CLOSE")},
	{Name: "keepalive-11-close-in-list", Raw: get("/", "Connection: keep-alive, close")},
	{Name: "keepalive-11-close-second-field", Raw: get("/", "Connection: keep-alive", "Connection: close")},
	{Name: "keepalive-11-upgrade", Raw: get("/", "Connection: Upgrade, HTTP2-Settings", "Upgrade: h2c", "HTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA")},
	{Name: "keepalive-11-empty-elements", Raw: get("/", "Connection: , ,keep-alive,")},
	{Name: "keepalive-10-default", Raw: head("GET / HTTP/1.0")},
	{Name: "keepalive-10-keep-alive", Raw: head("GET / HTTP/1.0", "Connection: Keep-Alive")},
	{Name: "keepalive-10-list", Raw: head("GET / HTTP/1.0", "Connection: foo, keep-alive")},
	{Name: "keepalive-10-keep-alive-and-close", Raw: head("GET / HTTP/1.0", "Connection: keep-alive", "Connection: close")},
	{Name: "http10-with-host", Raw: head("GET /x HTTP/1.0", "Host: example.com")},
	{Name: "http10-post", Raw: head("POST /form HTTP/1.0", "Content-Length: 3") + "a=b"},
	{Name: "http10-expect-ignored", Raw: head("POST / HTTP/1.0", "Expect: 100-continue", "Content-Length: 2") + "hi"},
	{Name: "many-headers", Raw: get("/", manyFields(98, 20)...)},
	{Name: "repeated-headers", Raw: get("/", "Accept: text/html", "Cookie: a=1", "Accept: */*", "Cookie: b=2",
		"X-Forwarded-For: 10.0.0.1", "X-Forwarded-For: 10.0.0.2")},
	{Name: "host-empty", Raw: head("GET / HTTP/1.1", "Host:")},
	{Name: "host-ipv4-port", Raw: head("GET / HTTP/1.1", "Host: 127.0.0.1:8080")},
	{Name: "host-ipv6", Raw: head("GET / HTTP/1.1", "Host: [2001:db8::1]:443")},
	{Name: "host-uppercase", Raw: head("GET / HTTP/1.1", "Host: EXAMPLE.com")},
	{Name: "host-underscore-pct", Raw: head("GET / HTTP/1.1", "Host: my_host%2Dname.local")},
	{Name: "host-lowercase-name", Raw: head("GET / HTTP/1.1", "host: example.com")},
	{Name: "host-last", Raw: head("GET / HTTP/1.1", "Accept: */*", "HOST: example.com")},
	{Name: "field-no-space", Raw: head("GET / HTTP/1.1", "Host:example.com", "X-A:b")},
	{Name: "field-tabs-around-value", Raw: field("X-A:\t v \t")},
	{Name: "field-empty-value", Raw: field("X-Empty:")},
	{Name: "field-whitespace-only-value", Raw: field("X-Empty:  \t ")},
	{Name: "field-inner-whitespace", Raw: field("X-A: a  b\tc")},
	{Name: "field-obs-text", Raw: field("X-Latin: caf\xe9 \xff")},
	{Name: "field-name-tchars", Raw: field("X-!#$%&'*+-.^_`|~09: v")},
	{Name: "field-underscore-name", Raw: field("Transfer_Encoding: chunked")},
	{Name: "field-long-value", Raw: field("X-Long: " + strings.Repeat("x", 8000))},
	{Name: "field-quotes-and-commas", Raw: field(`X-Q: "a, b", c;d=e`)},
	{Name: "expect-continue", Raw: head("POST / HTTP/1.1", "Host: example.com", "Expect: 100-continue", "Content-Length: 4") + "data"},
	{Name: "expect-continue-uppercase", Raw: head("POST / HTTP/1.1", "Host: example.com", "Expect: 100-CONTINUE", "Content-Length: 1") + "x"},
	{Name: "leading-crlf", Raw: "\r\n" + get("/")},
	{Name: "leading-crlf-four", Raw: "\r\n\r\n\r\n\r\n" + get("/")},
	{Name: "long-target", Raw: get("/" + strings.Repeat("a", 8000))},
}

var invalidCases = []CorpusCase{
	// Framing: Content-Length.
	{Name: "cl-and-te", Raw: head("POST / HTTP/1.1", "Host: example.com", "Content-Length: 5", "Transfer-Encoding: chunked") + "0\r\n\r\n", Status: 400},
	{Name: "te-and-cl", Raw: head("POST / HTTP/1.1", "Host: example.com", "Transfer-Encoding: chunked", "Content-Length: 5") + "0\r\n\r\n", Status: 400},
	{Name: "cl-duplicate-equal", Raw: head("POST / HTTP/1.1", "Host: example.com", "Content-Length: 5", "Content-Length: 5") + "hello", Status: 400},
	{Name: "cl-duplicate-different", Raw: head("POST / HTTP/1.1", "Host: example.com", "Content-Length: 5", "Content-Length: 6") + "hello!", Status: 400},
	{Name: "cl-list", Raw: head("POST / HTTP/1.1", "Host: example.com", "Content-Length: 5, 5") + "hello", Status: 400},
	{Name: "cl-list-no-space", Raw: head("POST / HTTP/1.1", "Host: example.com", "Content-Length: 5,5") + "hello", Status: 400},
	{Name: "cl-plus", Raw: head("POST / HTTP/1.1", "Host: example.com", "Content-Length: +1") + "x", Status: 400},
	{Name: "cl-minus", Raw: head("POST / HTTP/1.1", "Host: example.com", "Content-Length: -1"), Status: 400},
	{Name: "cl-hex", Raw: head("POST / HTTP/1.1", "Host: example.com", "Content-Length: 0x10") + "0123456789abcdef", Status: 400},
	{Name: "cl-inner-space", Raw: head("POST / HTTP/1.1", "Host: example.com", "Content-Length: 1 2") + "x", Status: 400},
	{Name: "cl-empty", Raw: head("POST / HTTP/1.1", "Host: example.com", "Content-Length:"), Status: 400},
	{Name: "cl-19-digits", Raw: head("POST / HTTP/1.1", "Host: example.com", "Content-Length: 0000000000000000001") + "x", Status: 400},
	{Name: "cl-overflow", Raw: head("POST / HTTP/1.1", "Host: example.com", "Content-Length: 99999999999999999999"), Status: 400},
	{Name: "cl-letters", Raw: head("POST / HTTP/1.1", "Host: example.com", "Content-Length: abc"), Status: 400},
	{Name: "cl-decimal", Raw: head("POST / HTTP/1.1", "Host: example.com", "Content-Length: 1.0") + "x", Status: 400},
	{Name: "cl-underscore", Raw: head("POST / HTTP/1.1", "Host: example.com", "Content-Length: 1_0") + "0123456789", Status: 400},
	{Name: "cl-non-ascii-digit", Raw: head("POST / HTTP/1.1", "Host: example.com", "Content-Length: \xd9\xa1"), Status: 400},
	{Name: "cl-space-before-colon", Raw: head("POST / HTTP/1.1", "Host: example.com", "Content-Length : 1") + "x", Status: 400},
	{Name: "cl-obs-fold", Raw: head("POST / HTTP/1.1", "Host: example.com", "Content-Length:", " 1") + "x", Status: 400},
	// Framing: Transfer-Encoding.
	{Name: "te-gzip", Raw: head("POST / HTTP/1.1", "Host: example.com", "Transfer-Encoding: gzip"), Status: 501},
	{Name: "te-gzip-chunked", Raw: head("POST / HTTP/1.1", "Host: example.com", "Transfer-Encoding: gzip, chunked") + "0\r\n\r\n", Status: 501},
	{Name: "te-identity", Raw: head("POST / HTTP/1.1", "Host: example.com", "Transfer-Encoding: identity"), Status: 501},
	{Name: "te-xchunked", Raw: head("POST / HTTP/1.1", "Host: example.com", "Transfer-Encoding: xchunked") + "0\r\n\r\n", Status: 501},
	{Name: "te-chunked-gzip", Raw: head("POST / HTTP/1.1", "Host: example.com", "Transfer-Encoding: chunked, gzip") + "0\r\n\r\n", Status: 400},
	{Name: "te-chunked-chunked", Raw: head("POST / HTTP/1.1", "Host: example.com", "Transfer-Encoding: chunked, chunked") + "0\r\n\r\n", Status: 400},
	{Name: "te-two-fields", Raw: head("POST / HTTP/1.1", "Host: example.com", "Transfer-Encoding: chunked", "Transfer-Encoding: chunked") + "0\r\n\r\n", Status: 400},
	{Name: "te-two-fields-gzip-chunked", Raw: head("POST / HTTP/1.1", "Host: example.com", "Transfer-Encoding: gzip", "Transfer-Encoding: chunked") + "0\r\n\r\n", Status: 501},
	{Name: "te-empty", Raw: head("POST / HTTP/1.1", "Host: example.com", "Transfer-Encoding:"), Status: 400},
	{Name: "te-trailing-comma", Raw: head("POST / HTTP/1.1", "Host: example.com", "Transfer-Encoding: chunked,") + "0\r\n\r\n", Status: 400},
	{Name: "te-leading-comma", Raw: head("POST / HTTP/1.1", "Host: example.com", "Transfer-Encoding: , chunked") + "0\r\n\r\n", Status: 400},
	{Name: "te-chunked-parameter", Raw: head("POST / HTTP/1.1", "Host: example.com", "Transfer-Encoding: chunked;q=1") + "0\r\n\r\n", Status: 400},
	{Name: "te-quoted", Raw: head("POST / HTTP/1.1", "Host: example.com", `Transfer-Encoding: "chunked"`) + "0\r\n\r\n", Status: 400},
	{Name: "te-vertical-tab", Raw: head("POST / HTTP/1.1", "Host: example.com", "Transfer-Encoding: \x0bchunked") + "0\r\n\r\n", Status: 400},
	{Name: "te-space-before-colon", Raw: head("POST / HTTP/1.1", "Host: example.com", "Transfer-Encoding : chunked") + "0\r\n\r\n", Status: 400},
	{Name: "te-obs-fold", Raw: head("POST / HTTP/1.1", "Host: example.com", "Transfer-Encoding:", " chunked") + "0\r\n\r\n", Status: 400},
	{Name: "te-http10", Raw: head("POST / HTTP/1.0", "Transfer-Encoding: chunked") + "0\r\n\r\n", Status: 400},
	{Name: "te-http10-with-cl", Raw: head("POST / HTTP/1.0", "Transfer-Encoding: chunked", "Content-Length: 5") + "0\r\n\r\n", Status: 400},
	// Chunked bodies (valid heads).
	{Name: "body-chunk-size-0x", Raw: head("POST / HTTP/1.1", "Host: example.com", "Transfer-Encoding: chunked") + "0x5\r\nhello\r\n0\r\n\r\n", Status: 400},
	{Name: "body-chunk-size-sign", Raw: head("POST / HTTP/1.1", "Host: example.com", "Transfer-Encoding: chunked") + "+5\r\nhello\r\n0\r\n\r\n", Status: 400},
	{Name: "body-chunk-size-leading-space", Raw: head("POST / HTTP/1.1", "Host: example.com", "Transfer-Encoding: chunked") + " 5\r\nhello\r\n0\r\n\r\n", Status: 400},
	{Name: "body-chunk-size-trailing-space", Raw: head("POST / HTTP/1.1", "Host: example.com", "Transfer-Encoding: chunked") + "5 \r\nhello\r\n0\r\n\r\n", Status: 400},
	{Name: "body-chunk-size-17-digits", Raw: head("POST / HTTP/1.1", "Host: example.com", "Transfer-Encoding: chunked") + "00000000000000005\r\nhello\r\n0\r\n\r\n", Status: 400},
	{Name: "body-chunk-size-overflow", Raw: head("POST / HTTP/1.1", "Host: example.com", "Transfer-Encoding: chunked") + "ffffffffffffffff\r\nhello\r\n0\r\n\r\n", Status: 400},
	{Name: "body-chunk-size-empty", Raw: head("POST / HTTP/1.1", "Host: example.com", "Transfer-Encoding: chunked") + "\r\nhello\r\n0\r\n\r\n", Status: 400},
	{Name: "body-chunk-bare-lf", Raw: head("POST / HTTP/1.1", "Host: example.com", "Transfer-Encoding: chunked") + "5\nhello\r\n0\r\n\r\n", Status: 400},
	{Name: "body-chunk-data-bare-lf", Raw: head("POST / HTTP/1.1", "Host: example.com", "Transfer-Encoding: chunked") + "5\r\nhello\n0\r\n\r\n", Status: 400},
	{Name: "body-chunk-data-too-long", Raw: head("POST / HTTP/1.1", "Host: example.com", "Transfer-Encoding: chunked") + "5\r\nhello world\r\n0\r\n\r\n", Status: 400},
	{Name: "body-chunk-ext-bare-lf", Raw: head("POST / HTTP/1.1", "Host: example.com", "Transfer-Encoding: chunked") + "5;a\nb\r\nhello\r\n0\r\n\r\n", Status: 400},
	{Name: "body-chunk-ext-no-name", Raw: head("POST / HTTP/1.1", "Host: example.com", "Transfer-Encoding: chunked") + "5;=x\r\nhello\r\n0\r\n\r\n", Status: 400},
	{Name: "body-chunk-ext-no-value", Raw: head("POST / HTTP/1.1", "Host: example.com", "Transfer-Encoding: chunked") + "5;a=\r\nhello\r\n0\r\n\r\n", Status: 400},
	{Name: "body-chunk-ext-unterminated-quote", Raw: head("POST / HTTP/1.1", "Host: example.com", "Transfer-Encoding: chunked") + "5;a=\"x\r\nhello\r\n0\r\n\r\n", Status: 400},
	{Name: "body-chunk-ext-garbage", Raw: head("POST / HTTP/1.1", "Host: example.com", "Transfer-Encoding: chunked") + "5;a b\r\nhello\r\n0\r\n\r\n", Status: 400},
	{Name: "body-trailer-obs-fold", Raw: head("POST / HTTP/1.1", "Host: example.com", "Transfer-Encoding: chunked") + "0\r\nX-A: b\r\n c\r\n\r\n", Status: 400},
	{Name: "body-trailer-bare-lf", Raw: head("POST / HTTP/1.1", "Host: example.com", "Transfer-Encoding: chunked") + "0\r\nX-A: b\n\r\n", Status: 400},
	{Name: "body-last-chunk-bare-lf-end", Raw: head("POST / HTTP/1.1", "Host: example.com", "Transfer-Encoding: chunked") + "0\r\n\n", Status: 400},
	// Request line.
	{Name: "method-empty", Raw: head(" / HTTP/1.1", "Host: example.com"), Status: 400},
	{Name: "method-non-token", Raw: head("GE(T / HTTP/1.1", "Host: example.com"), Status: 400},
	{Name: "method-non-ascii", Raw: head("G\xc9T / HTTP/1.1", "Host: example.com"), Status: 400},
	{Name: "method-nul", Raw: head("GET\x00 / HTTP/1.1", "Host: example.com"), Status: 400},
	{Name: "request-line-double-space", Raw: head("GET  / HTTP/1.1", "Host: example.com"), Status: 400},
	{Name: "request-line-double-space-2", Raw: head("GET /  HTTP/1.1", "Host: example.com"), Status: 400},
	{Name: "request-line-trailing-space", Raw: head("GET / HTTP/1.1 ", "Host: example.com"), Status: 400},
	{Name: "request-line-leading-space", Raw: head(" GET / HTTP/1.1", "Host: example.com"), Status: 400},
	{Name: "request-line-tab", Raw: head("GET\t/ HTTP/1.1", "Host: example.com"), Status: 400},
	{Name: "request-line-tab-2", Raw: head("GET /\tHTTP/1.1", "Host: example.com"), Status: 400},
	{Name: "request-line-bare-lf", Raw: "GET / HTTP/1.1\nHost: example.com\r\n\r\n", Status: 400},
	{Name: "request-line-bare-cr", Raw: "GET / HTTP/1.1\rHost: example.com\r\n\r\n", Status: 400},
	{Name: "request-line-only-method", Raw: head("GET", "Host: example.com"), Status: 400},
	{Name: "request-line-no-version", Raw: head("GET /", "Host: example.com"), Status: 400},
	{Name: "request-line-http09", Raw: "GET /\r\n\r\n", Status: 400},
	{Name: "version-2.0", Raw: head("GET / HTTP/2.0", "Host: example.com"), Status: 505},
	{Name: "version-1.2", Raw: head("GET / HTTP/1.2", "Host: example.com"), Status: 505},
	{Name: "version-0.9", Raw: head("GET / HTTP/0.9", "Host: example.com"), Status: 505},
	{Name: "version-3.0", Raw: head("GET / HTTP/3.0", "Host: example.com"), Status: 505},
	{Name: "version-lowercase", Raw: head("GET / http/1.1", "Host: example.com"), Status: 400},
	{Name: "version-short", Raw: head("GET / HTTP/1", "Host: example.com"), Status: 400},
	{Name: "version-two-digit-major", Raw: head("GET / HTTP/10.0", "Host: example.com"), Status: 400},
	{Name: "version-two-digit-minor", Raw: head("GET / HTTP/1.10", "Host: example.com"), Status: 400},
	{Name: "version-garbage", Raw: head("GET / HTTPS/1.1", "Host: example.com"), Status: 400},
	{Name: "version-no-dot", Raw: head("GET / HTTP/1-1", "Host: example.com"), Status: 400},
	{Name: "target-space", Raw: head("GET /a b HTTP/1.1", "Host: example.com"), Status: 400},
	{Name: "target-ctl", Raw: head("GET /a\x01 HTTP/1.1", "Host: example.com"), Status: 400},
	{Name: "target-del", Raw: head("GET /a\x7f HTTP/1.1", "Host: example.com"), Status: 400},
	{Name: "target-nul", Raw: head("GET /a\x00b HTTP/1.1", "Host: example.com"), Status: 400},
	{Name: "target-non-ascii", Raw: head("GET /caf\xc3\xa9 HTTP/1.1", "Host: example.com"), Status: 400},
	{Name: "target-fragment", Raw: head("GET /a#b HTTP/1.1", "Host: example.com"), Status: 400},
	{Name: "target-cr", Raw: head("GET /a\rb HTTP/1.1", "Host: example.com"), Status: 400},
	{Name: "target-relative", Raw: head("GET a/b HTTP/1.1", "Host: example.com"), Status: 400},
	{Name: "target-asterisk-get", Raw: head("GET * HTTP/1.1", "Host: example.com"), Status: 400},
	{Name: "target-asterisk-suffix", Raw: head("OPTIONS *x HTTP/1.1", "Host: example.com"), Status: 400},
	{Name: "target-absolute-ftp", Raw: head("GET ftp://example.com/ HTTP/1.1", "Host: example.com"), Status: 400},
	{Name: "target-absolute-no-authority", Raw: head("GET http:/path HTTP/1.1", "Host: example.com"), Status: 400},
	{Name: "target-absolute-empty-authority", Raw: head("GET http:///path HTTP/1.1", "Host: example.com"), Status: 400},
	{Name: "target-absolute-empty-host", Raw: head("GET http://:80/path HTTP/1.1", "Host: example.com"), Status: 400},
	{Name: "target-absolute-userinfo", Raw: head("GET http://user:pw@example.com/ HTTP/1.1", "Host: example.com"), Status: 400},
	{Name: "target-absolute-bad-port", Raw: head("GET http://example.com:80a/ HTTP/1.1", "Host: example.com"), Status: 400},
	{Name: "target-absolute-bad-host", Raw: head("GET http://exa%mple.com/ HTTP/1.1", "Host: example.com"), Status: 400},
	{Name: "target-authority-form-connect", Raw: head("CONNECT example.com:443 HTTP/1.1", "Host: example.com:443"), Status: 400},
	{Name: "target-authority-form-get", Raw: head("GET example.com:443 HTTP/1.1", "Host: example.com:443"), Status: 400},
	{Name: "target-connect-origin-form", Raw: head("CONNECT / HTTP/1.1", "Host: example.com"), Status: 400},
	{Name: "target-too-long", Raw: get("/" + strings.Repeat("a", 8200)), Status: 414},
	{Name: "leading-bare-lf", Raw: "\n" + get("/"), Status: 400},
	{Name: "leading-bare-cr", Raw: "\r" + get("/"), Status: 400},
	{Name: "leading-crlf-five", Raw: "\r\n\r\n\r\n\r\n\r\n" + get("/"), Status: 400},
	// Header section.
	{Name: "host-missing", Raw: head("GET / HTTP/1.1", "Accept: */*"), Status: 400},
	{Name: "host-missing-no-fields", Raw: head("GET / HTTP/1.1"), Status: 400},
	{Name: "host-missing-absolute-form", Raw: head("GET http://example.com/ HTTP/1.1"), Status: 400},
	{Name: "host-twice", Raw: head("GET / HTTP/1.1", "Host: example.com", "Host: example.com"), Status: 400},
	{Name: "host-twice-one-empty", Raw: head("GET / HTTP/1.1", "Host: example.com", "Host:"), Status: 400},
	{Name: "host-twice-http10", Raw: head("GET / HTTP/1.0", "Host: a.example", "Host: b.example"), Status: 400},
	{Name: "host-space", Raw: head("GET / HTTP/1.1", "Host: exa mple.com"), Status: 400},
	{Name: "host-slash", Raw: head("GET / HTTP/1.1", "Host: example.com/path"), Status: 400},
	{Name: "host-userinfo", Raw: head("GET / HTTP/1.1", "Host: user@example.com"), Status: 400},
	{Name: "host-two-ports", Raw: head("GET / HTTP/1.1", "Host: example.com:80:80"), Status: 400},
	{Name: "host-bad-port", Raw: head("GET / HTTP/1.1", "Host: example.com:8o"), Status: 400},
	{Name: "host-unclosed-bracket", Raw: head("GET / HTTP/1.1", "Host: [::1"), Status: 400},
	{Name: "host-empty-brackets", Raw: head("GET / HTTP/1.1", "Host: []"), Status: 400},
	{Name: "host-bad-escape", Raw: head("GET / HTTP/1.1", "Host: %zz.example"), Status: 400},
	{Name: "host-non-ascii", Raw: head("GET / HTTP/1.1", "Host: b\xfccher.example"), Status: 400},
	{Name: "host-quote", Raw: head("GET / HTTP/1.1", `Host: "example.com"`), Status: 400},
	{Name: "host-http10-invalid", Raw: head("GET / HTTP/1.0", "Host: a b"), Status: 400},
	{Name: "obs-fold", Raw: get("/", "X-A: a", " b"), Status: 400},
	{Name: "obs-fold-tab", Raw: get("/", "X-A: a", "\tb"), Status: 400},
	{Name: "whitespace-before-first-field", Raw: head("GET / HTTP/1.1", " Host: example.com"), Status: 400},
	{Name: "space-before-colon", Raw: head("GET / HTTP/1.1", "Host : example.com"), Status: 400},
	{Name: "tab-before-colon", Raw: head("GET / HTTP/1.1", "Host\t: example.com"), Status: 400},
	{Name: "field-name-empty", Raw: field(": value"), Status: 400},
	{Name: "field-name-non-token", Raw: field("X(A): v"), Status: 400},
	{Name: "field-name-inner-space", Raw: field("X A: v"), Status: 400},
	{Name: "field-name-non-ascii", Raw: field("X-\xe9: v"), Status: 400},
	{Name: "field-name-slash", Raw: field("X/A: v"), Status: 400},
	{Name: "field-no-colon", Raw: field("X-A v"), Status: 400},
	{Name: "field-value-nul", Raw: field("X-A: a\x00b"), Status: 400},
	{Name: "field-value-ctl", Raw: field("X-A: a\x01b"), Status: 400},
	{Name: "field-value-esc", Raw: field("X-A: a\x1bb"), Status: 400},
	{Name: "field-value-del", Raw: field("X-A: a\x7fb"), Status: 400},
	{Name: "field-value-bare-cr", Raw: field("X-A: a\rb"), Status: 400},
	{Name: "field-value-cr-at-end", Raw: "GET / HTTP/1.1\r\nHost: example.com\r\nX-A: a\r\r\n\r\n", Status: 400},
	{Name: "field-bare-lf", Raw: "GET / HTTP/1.1\r\nHost: example.com\nX-A: b\r\n\r\n", Status: 400},
	{Name: "field-bare-lf-all", Raw: "GET / HTTP/1.1\nHost: example.com\n\n", Status: 400},
	{Name: "final-bare-lf", Raw: "GET / HTTP/1.1\r\nHost: example.com\r\n\n", Status: 400},
	{Name: "final-cr-cr", Raw: "GET / HTTP/1.1\r\nHost: example.com\r\n\r\r\n", Status: 400},
	{Name: "field-too-long", Raw: field("X-Long: " + strings.Repeat("x", 8200)), Status: 431},
	{Name: "field-name-too-long", Raw: field(strings.Repeat("X", 8200) + ": v"), Status: 431},
	{Name: "too-many-fields", Raw: get("/", manyFields(100, 4)...), Status: 431},
	{Name: "head-too-large", Raw: get("/", manyFields(70, 1000)...), Status: 431},
	{Name: "expect-other", Raw: head("POST / HTTP/1.1", "Host: example.com", "Expect: 200-ok", "Content-Length: 1") + "x", Status: 417},
	{Name: "expect-list", Raw: head("POST / HTTP/1.1", "Host: example.com", "Expect: 100-continue, foo", "Content-Length: 1") + "x", Status: 417},
	{Name: "expect-empty", Raw: head("POST / HTTP/1.1", "Host: example.com", "Expect:", "Content-Length: 1") + "x", Status: 417},
	{Name: "connection-non-token", Raw: get("/", "Connection: keep alive"), Status: 400},
	{Name: "connection-quoted", Raw: get("/", `Connection: "close"`), Status: 400},
}
