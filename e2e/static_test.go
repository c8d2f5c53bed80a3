package e2e

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// staticTree is the file tree the static tests serve: root/ is the first
// --static-map directory, second/ the second, outside/ is never served
// (links from root/ lead to it), favicon.ico is a single-file mapping.
type staticTree struct {
	root, second, outside, favicon string
	big                            []byte // root/big.bin, large enough for sendfile and for a cut connection
	text                           []byte // root/digits.txt, for multipart parsing
}

const (
	siteCSS         = "body{color:red}\n"
	secretText      = "TOP SECRET outside the root"
	bigFileSize     = 32 << 20
	fourKiBSize     = 4096
	appAnswerPrefix = "app " // what filewrapper_app answers for paths it has no route for
)

// pattern returns n deterministic bytes covering all 256 values.
func filePattern(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7+i>>9) ^ seed
	}
	return b
}

func gzipBytes(t *testing.T, s []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(s)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func makeStaticTree(t *testing.T) *staticTree {
	t.Helper()
	base := t.TempDir()
	st := &staticTree{
		root:    filepath.Join(base, "root"),
		second:  filepath.Join(base, "second"),
		outside: filepath.Join(base, "outside"),
		favicon: filepath.Join(base, "favicon.ico"),
		big:     filePattern(bigFileSize, 0x5a),
	}
	for i := 0; i < 20000; i++ {
		st.text = append(st.text, byte('0'+i%10))
	}
	files := map[string][]byte{
		"root/site.css":         []byte(siteCSS),
		"root/site.css.gz":      gzipBytes(t, []byte(siteCSS)),
		"root/site.css.br":      []byte("brotli bytes of site.css"), // opaque to the server
		"root/app.js":           []byte("console.log('hi');\n"),
		"root/app.js.gz":        gzipBytes(t, []byte("console.log('hi');\n")),
		"root/four.bin":         filePattern(fourKiBSize, 1),
		"root/big.bin":          st.big,
		"root/digits.txt":       st.text,
		"root/empty.txt":        nil,
		"root/noext":            []byte("no extension"),
		"root/page.html":        []byte("<p>page</p>\n"),
		"root/sub/index.html":   []byte("<h1>sub index</h1>\n"),
		"root/nodir/x.txt":      []byte("in a directory without an index"),
		"root/.hidden.txt":      []byte("hidden"),
		"root/.git/config":      []byte("[core]"),
		"root/x.py":             []byte("print('source')"),
		"root/Y.PY":             []byte("print('source')"),
		"root/a b.txt":          []byte("with a space"),
		"second/only.txt":       []byte("only in the second mapping"),
		"second/site.css":       []byte("second css, shadowed by the first"),
		"outside/secret.txt":    []byte(secretText),
		"outside/sub/index.txt": []byte(secretText),
	}
	for name, data := range files {
		p := filepath.Join(base, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(st.favicon, []byte("icon bytes"), 0o644); err != nil {
		t.Fatal(err)
	}
	links := map[string]string{
		"inside-link.css": "site.css",
		"abs-inside.css":  filepath.Join(st.root, "site.css"),
		"escape.txt":      "../outside/secret.txt",
		"abs-escape.txt":  filepath.Join(st.outside, "secret.txt"),
		"escdir":          "../outside",
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(st.root, name)); err != nil {
			t.Fatal(err)
		}
	}
	if err := syscall.Mkfifo(filepath.Join(st.root, "fifo.txt"), 0o644); err != nil {
		t.Fatal(err)
	}
	return st
}

func (st *staticTree) args(extra ...string) []string {
	return append([]string{
		"--static-map", "/static=" + st.root,
		"--static-map", "/static=" + st.second,
		"--static-map", "/favicon.ico=" + st.favicon,
		"--static-index", "index.html",
	}, extra...)
}

// exchange sends one raw request on a new connection and reads the response.
func staticFetch(t *testing.T, s *server, method, target string, headers ...string) *response {
	t.Helper()
	c := dialRaw(t, s.addr)
	defer c.close()
	c.send(staticRequest(method, target, headers...))
	return c.mustResponse(method)
}

func staticRequest(method, target string, headers ...string) string {
	var b strings.Builder
	b.WriteString(method + " " + target + " HTTP/1.1\r\nHost: e2e.test\r\n")
	for _, h := range headers {
		b.WriteString(h + "\r\n")
	}
	b.WriteString("\r\n")
	return b.String()
}

// fileValidators returns the Last-Modified and ETag the server must send for path.
func fileValidators(t *testing.T, path string) (lastMod, etag string) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	ns := fi.ModTime().UnixNano()
	return fi.ModTime().UTC().Format(http.TimeFormat), fmt.Sprintf(`"%x-%x"`, ns, fi.Size())
}

func requireStatus(t *testing.T, r *response, status int) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d: %v", r.status, status, r)
	}
}

// fromApp requires the response to come from filewrapper_app's catch-all route.
func requireApp(t *testing.T, r *response, path string) {
	t.Helper()
	if r.status != 200 || string(r.body) != appAnswerPrefix+path {
		t.Errorf("want the application's answer %q, got %v", appAnswerPrefix+path, r)
	}
}

func TestStaticFiles(t *testing.T) {
	t.Parallel()
	st := makeStaticTree(t)
	s := startServer(t, "filewrapper_app", plain, 1, st.args("--static-expires", "3600")...)
	cssPath := filepath.Join(st.root, "site.css")
	cssMod, cssTag := fileValidators(t, cssPath)

	s.step(t, "200 headers", true, func(t *testing.T) {
		r := staticFetch(t, s, "GET", "/static/site.css")
		checkDate(t, r)
		date, _ := http.ParseTime(r.get(t, "Date"))
		exp, err := http.ParseTime(r.get(t, "Expires"))
		if err != nil || exp.Sub(date) < 3599*time.Second || exp.Sub(date) > 3601*time.Second {
			t.Errorf("Expires %q is not Date + 3600 s (Date %q)", r.get(t, "Expires"), r.get(t, "Date"))
		}
		var got []string
		for _, h := range r.headers {
			if h.name != "Date" && h.name != "Expires" {
				got = append(got, h.name+": "+h.value)
			}
		}
		want := []string{
			"Content-Type: text/css; charset=utf-8",
			"Content-Length: " + strconv.Itoa(len(siteCSS)),
			"Last-Modified: " + cssMod,
			"ETag: " + cssTag,
			"Cache-Control: max-age=3600",
			"Vary: Accept-Encoding", // site.css has pre-compressed siblings
			"Accept-Ranges: bytes",
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("headers:\n got  %q\n want %q", got, want)
		}
		checkBody(t, r, siteCSS)
		// No sibling: no Vary.
		r = staticFetch(t, s, "GET", "/static/four.bin")
		requireStatus(t, r, 200)
		if v := r.values("Vary"); len(v) != 0 {
			t.Errorf("four.bin has no compressed sibling but got Vary %q", v)
		}
		if !bytes.Equal(r.body, filePattern(fourKiBSize, 1)) {
			t.Errorf("four.bin body differs from the file")
		}
	})

	s.step(t, "HEAD and keep-alive", true, func(t *testing.T) {
		c := dialRaw(t, s.addr)
		c.send(staticRequest("HEAD", "/static/big.bin"))
		r := c.mustResponse("HEAD")
		requireStatus(t, r, 200)
		if r.get(t, "Content-Length") != strconv.Itoa(bigFileSize) {
			t.Errorf("HEAD Content-Length %q, want %d", r.get(t, "Content-Length"), bigFileSize)
		}
		// The same connection goes on: nothing of the body was sent.
		c.send(staticRequest("GET", "/static/site.css"))
		r = c.mustResponse("GET")
		checkBody(t, r, siteCSS)
		// Pipelined: static, application, static, in order.
		c.send(staticRequest("GET", "/static/page.html") + staticRequest("GET", "/ping") + staticRequest("GET", "/static/four.bin"))
		checkBody(t, c.mustResponse("GET"), "<p>page</p>\n")
		requireApp(t, c.mustResponse("GET"), "/ping")
		if r := c.mustResponse("GET"); !bytes.Equal(r.body, filePattern(fourKiBSize, 1)) {
			t.Errorf("pipelined four.bin differs: %v", r.statusLine)
		}
		c.send(staticRequest("GET", "/static/site.css", "Connection: close"))
		r = c.mustResponse("GET")
		if r.get(t, "Connection") != "close" {
			t.Errorf("Connection: close request answered without Connection: close")
		}
		c.expectClosed()
	})

	s.step(t, "HTTP/1.0", true, func(t *testing.T) {
		c := dialRaw(t, s.addr)
		c.send("GET /static/site.css HTTP/1.0\r\n\r\n")
		r := c.mustResponse("GET")
		checkBody(t, r, siteCSS)
		if r.get(t, "Connection") != "close" {
			t.Errorf("HTTP/1.0 without keep-alive: Connection %q, want close", r.get(t, "Connection"))
		}
		c.expectClosed()
		c = dialRaw(t, s.addr)
		c.send("GET /static/site.css HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
		r = c.mustResponse("GET")
		if r.get(t, "Connection") != "keep-alive" {
			t.Errorf("HTTP/1.0 keep-alive: Connection %q, want keep-alive", r.get(t, "Connection"))
		}
		c.send("GET /static/page.html HTTP/1.0\r\n\r\n")
		checkBody(t, c.mustResponse("GET"), "<p>page</p>\n")
	})

	s.step(t, "content types", true, func(t *testing.T) {
		for path, want := range map[string]string{
			"/static/site.css":        "text/css; charset=utf-8",
			"/static/app.js":          "text/javascript; charset=utf-8",
			"/static/page.html":       "text/html; charset=utf-8",
			"/static/digits.txt":      "text/plain; charset=utf-8",
			"/static/four.bin":        "application/octet-stream",
			"/static/noext":           "application/octet-stream",
			"/static/a%20b.txt":       "text/plain; charset=utf-8",
			"/static/sub/":            "text/html; charset=utf-8",
			"/static/empty.txt":       "text/plain; charset=utf-8",
			"/favicon.ico":            "image/vnd.microsoft.icon",
			"/static/inside-link.css": "text/css; charset=utf-8",
		} {
			r := staticFetch(t, s, "GET", path)
			if r.status != 200 || r.get(t, "Content-Type") != want {
				t.Errorf("%s: %d %q, want 200 %q", path, r.status, r.get(t, "Content-Type"), want)
			}
		}
		r := staticFetch(t, s, "GET", "/static/empty.txt")
		if r.get(t, "Content-Length") != "0" || len(r.body) != 0 {
			t.Errorf("empty file: %v", r)
		}
	})

	s.step(t, "mapping order and fall-through", true, func(t *testing.T) {
		checkBody(t, staticFetch(t, s, "GET", "/static/site.css"), siteCSS) // first mapping wins
		checkBody(t, staticFetch(t, s, "GET", "/static/only.txt"), "only in the second mapping")
		checkBody(t, staticFetch(t, s, "GET", "/favicon.ico"), "icon bytes")
		for _, path := range []string{
			"/static/missing.css", // in no mapping
			"/staticfoo",          // not under the mount
			"/static",             // the mount's own directory has no index
			"/static/nodir",       // nor has this one
			"/static/nodir/",      // no listing
			"/static/site.css/",   // a file is not a directory
			"/favicon.ico/x",      // a file mapping matches exactly
			"/static/fifo.txt",    // not a regular file (and opening it must not block)
			"/static/.hidden.txt", // dot-files are not served by default
			"/static/.git/config", // nor anything under a dot-directory
			"/static/x.py",        // --static-skip-ext default
			"/static/Y.PY",        // case-insensitive
		} {
			requireApp(t, staticFetch(t, s, "GET", path), path)
		}
		// Only GET and HEAD are static.
		for _, method := range []string{"POST", "PUT", "DELETE", "OPTIONS"} {
			c := dialRaw(t, s.addr)
			c.send(method + " /static/site.css HTTP/1.1\r\nHost: e2e.test\r\nContent-Length: 0\r\n\r\n")
			requireApp(t, c.mustResponse(method), "/static/site.css")
			c.close()
		}
	})

	s.step(t, "directories", true, func(t *testing.T) {
		r := staticFetch(t, s, "GET", "/static/sub")
		requireStatus(t, r, 301)
		if loc := r.get(t, "Location"); loc != "/static/sub/" {
			t.Errorf("Location %q, want /static/sub/", loc)
		}
		r = staticFetch(t, s, "GET", "/static/sub?a=1&b=%20")
		if loc := r.get(t, "Location"); r.status != 301 || loc != "/static/sub/?a=1&b=%20" {
			t.Errorf("redirect with a query: %d Location %q", r.status, loc)
		}
		r = staticFetch(t, s, "HEAD", "/static/sub")
		requireStatus(t, r, 301)
		checkBody(t, staticFetch(t, s, "GET", "/static/sub/"), "<h1>sub index</h1>\n")
		checkBody(t, staticFetch(t, s, "GET", "/static//sub//"), "<h1>sub index</h1>\n")
	})

	s.step(t, "traversal is refused", true, func(t *testing.T) {
		for _, target := range []string{
			"/static/../outside/secret.txt",
			"/static/sub/../../outside/secret.txt",
			"/static/%2e%2e/outside/secret.txt",
			"/static/%2E%2E/outside/secret.txt",
			"/static/.%2e/outside/secret.txt",
			"/static/%2e./outside/secret.txt",
			"/static/..%2foutside%2fsecret.txt",
			"/static/sub%2f..%2f..%2foutside%2fsecret.txt",
			"/static/..%5coutside%5csecret.txt",
			"/static/..%5Coutside%5Csecret.txt",
			"/static/./site.css",
			"/static/site.css%00.txt",
			"/static/escape.txt",
			"/static/abs-escape.txt",
			"/static/escdir/secret.txt",
			"/static/escdir/sub/",
			"http://e2e.test/static/../outside/secret.txt",
		} {
			r := staticFetch(t, s, "GET", target)
			if r.status != 404 {
				t.Errorf("GET %s: status %d, want 404", target, r.status)
			}
			if bytes.Contains(r.body, []byte("SECRET")) {
				t.Errorf("GET %s served the file outside the root", target)
			}
		}
		// A raw backslash: the request parser or the static map refuses it.
		r := staticFetch(t, s, "GET", `/static/..\outside\secret.txt`)
		if (r.status != 404 && r.status != 400) || bytes.Contains(r.body, []byte("SECRET")) {
			t.Errorf(`GET with a raw backslash: %v`, r)
		}
		// Decoded once only: %252e%252e is a file named "%2e%2e", not "..".
		requireApp(t, staticFetch(t, s, "GET", "/static/%252e%252e/outside/secret.txt"), "/static/%2e%2e/outside/secret.txt")
		// Symlinks that stay inside the root are fine, relative or absolute.
		checkBody(t, staticFetch(t, s, "GET", "/static/inside-link.css"), siteCSS)
		checkBody(t, staticFetch(t, s, "GET", "/static/abs-inside.css"), siteCSS)
	})

	s.step(t, "conditional requests", true, func(t *testing.T) {
		before := time.Unix(0, 0).UTC().Format(http.TimeFormat)
		future := time.Now().Add(48 * time.Hour).UTC().Format(http.TimeFormat)
		cases := []struct {
			name    string
			headers []string
			status  int
		}{
			{"if-none-match", []string{"If-None-Match: " + cssTag}, 304},
			{"if-none-match weak", []string{"If-None-Match: W/" + cssTag}, 304},
			{"if-none-match list", []string{`If-None-Match: "nope", ` + cssTag}, 304},
			{"if-none-match split over lines", []string{`If-None-Match: "nope"`, "If-None-Match: " + cssTag}, 304},
			{"if-none-match star", []string{"If-None-Match: *"}, 304},
			{"if-none-match other", []string{`If-None-Match: "nope"`}, 200},
			{"if-modified-since equal", []string{"If-Modified-Since: " + cssMod}, 304},
			{"if-modified-since before", []string{"If-Modified-Since: " + before}, 200},
			{"if-modified-since future", []string{"If-Modified-Since: " + future}, 200},
			{"if-modified-since garbage", []string{"If-Modified-Since: yesterday"}, 200},
			{"if-none-match wins over if-modified-since", []string{`If-None-Match: "nope"`, "If-Modified-Since: " + cssMod}, 200},
			{"if-match", []string{"If-Match: " + cssTag}, 200},
			{"if-match other", []string{`If-Match: "nope"`}, 412},
			{"if-match weak", []string{"If-Match: W/" + cssTag}, 412},
			{"if-unmodified-since before", []string{"If-Unmodified-Since: " + before}, 412},
			{"if-unmodified-since equal", []string{"If-Unmodified-Since: " + cssMod}, 200},
			{"if-match wins over if-unmodified-since", []string{"If-Match: " + cssTag, "If-Unmodified-Since: " + before}, 200},
			{"412 before 304", []string{`If-Match: "nope"`, "If-None-Match: " + cssTag}, 412},
		}
		for _, c := range cases {
			for _, method := range []string{"GET", "HEAD"} {
				r := staticFetch(t, s, method, "/static/site.css", c.headers...)
				if r.status != c.status {
					t.Errorf("%s %s: status %d, want %d", method, c.name, r.status, c.status)
					continue
				}
				if r.status == 304 {
					checkHead304(t, r, cssMod, cssTag)
				}
			}
		}
	})

	s.step(t, "ranges", true, func(t *testing.T) {
		size := len(st.big)
		cases := []struct {
			name    string
			headers []string
			status  int
			off, n  int // for 206
		}{
			{"first ten", []string{"Range: bytes=0-9"}, 206, 0, 10},
			{"open ended", []string{fmt.Sprintf("Range: bytes=%d-", size-100)}, 206, size - 100, 100},
			{"suffix", []string{"Range: bytes=-5"}, 206, size - 5, 5},
			{"past the end is clamped", []string{fmt.Sprintf("Range: bytes=%d-%d", size-3, size+100)}, 206, size - 3, 3},
			{"a big middle part (sendfile)", []string{"Range: bytes=1000-2000999"}, 206, 1000, 2000000},
			{"unsatisfiable", []string{fmt.Sprintf("Range: bytes=%d-", size)}, 416, 0, 0},
			{"not bytes", []string{"Range: items=0-9"}, 200, 0, size},
			{"malformed", []string{"Range: bytes=9-0"}, 200, 0, size},
			{"if-range etag", []string{"Range: bytes=0-9", "If-Range: " + bigTag(t, st)}, 206, 0, 10},
			{"if-range other etag", []string{"Range: bytes=0-9", `If-Range: "nope"`}, 200, 0, size},
			{"if-range weak etag", []string{"Range: bytes=0-9", "If-Range: W/" + bigTag(t, st)}, 200, 0, size},
			{"if-range date", []string{"Range: bytes=0-9", "If-Range: " + bigMod(t, st)}, 206, 0, 10},
			{"if-range other date", []string{"Range: bytes=0-9", "If-Range: " + time.Unix(0, 0).UTC().Format(http.TimeFormat)}, 200, 0, size},
			{"overlapping amplification", []string{"Range: bytes=0-,0-,0-"}, 200, 0, size},
		}
		for _, c := range cases {
			r := staticFetch(t, s, "GET", "/static/big.bin", c.headers...)
			if r.status != c.status {
				t.Errorf("%s: status %d, want %d", c.name, r.status, c.status)
				continue
			}
			switch c.status {
			case 206:
				want := fmt.Sprintf("bytes %d-%d/%d", c.off, c.off+c.n-1, size)
				if cr := r.get(t, "Content-Range"); cr != want {
					t.Errorf("%s: Content-Range %q, want %q", c.name, cr, want)
				}
				fallthrough
			case 200:
				if !bytes.Equal(r.body, st.big[c.off:c.off+c.n]) {
					t.Errorf("%s: body of %d bytes differs from the file's bytes %d-%d", c.name, len(r.body), c.off, c.off+c.n-1)
				}
			case 416:
				if cr := r.get(t, "Content-Range"); cr != fmt.Sprintf("bytes */%d", size) {
					t.Errorf("416 Content-Range %q, want bytes */%d", cr, size)
				}
			}
		}
		// HEAD ignores Range (RFC 9110 §14.2: GET only); so does an empty file.
		if r := staticFetch(t, s, "HEAD", "/static/big.bin", "Range: bytes=0-9"); r.status != 200 {
			t.Errorf("HEAD with Range: %d, want 200", r.status)
		}
		if r := staticFetch(t, s, "GET", "/static/empty.txt", "Range: bytes=0-9"); r.status != 200 {
			t.Errorf("empty file with Range: %d, want 200", r.status)
		}
		// Multiple ranges: checked by hand here, by Python's parser below.
		r := staticFetch(t, s, "GET", "/static/digits.txt", "Range: bytes=0-4,10-14")
		requireStatus(t, r, 206)
		ct := r.get(t, "Content-Type")
		m := regexp.MustCompile(`^multipart/byteranges; boundary=(\S+)$`).FindStringSubmatch(ct)
		if m == nil {
			t.Fatalf("multipart Content-Type %q", ct)
		}
		b := m[1]
		want := "\r\n--" + b + "\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Range: bytes 0-4/20000\r\n\r\n01234" +
			"\r\n--" + b + "\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Range: bytes 10-14/20000\r\n\r\n01234" +
			"\r\n--" + b + "--\r\n"
		checkBody(t, r, want)
	})

	s.step(t, "pre-compressed siblings", true, func(t *testing.T) {
		gz := gzipBytes(t, []byte(siteCSS))
		cases := []struct {
			ae       string // "" for no Accept-Encoding field
			encoding string
			body     []byte
		}{
			{"", "", []byte(siteCSS)},
			{"gzip", "gzip", gz},
			{"x-gzip", "gzip", gz},
			{"br", "br", []byte("brotli bytes of site.css")},
			{"gzip, deflate, br", "br", []byte("brotli bytes of site.css")},
			{"gzip;q=1, br;q=0.5", "gzip", gz},
			{"br;q=0, gzip", "gzip", gz},
			{"br;q=0, gzip;q=0", "", []byte(siteCSS)},
			{"identity", "", []byte(siteCSS)},
			{"*", "br", []byte("brotli bytes of site.css")},
			{"*, br;q=0", "gzip", gz},
			{"deflate", "", []byte(siteCSS)},
		}
		for _, c := range cases {
			var h []string
			if c.ae != "" {
				h = append(h, "Accept-Encoding: "+c.ae)
			}
			r := staticFetch(t, s, "GET", "/static/site.css", h...)
			requireStatus(t, r, 200)
			if got := r.get(t, "Content-Encoding"); got != c.encoding {
				t.Errorf("Accept-Encoding %q: Content-Encoding %q, want %q", c.ae, got, c.encoding)
			}
			if r.get(t, "Vary") != "Accept-Encoding" {
				t.Errorf("Accept-Encoding %q: Vary %q, want Accept-Encoding", c.ae, r.get(t, "Vary"))
			}
			if r.get(t, "Content-Type") != "text/css; charset=utf-8" {
				t.Errorf("Accept-Encoding %q: Content-Type %q is not the uncompressed file's", c.ae, r.get(t, "Content-Type"))
			}
			if !bytes.Equal(r.body, c.body) {
				t.Errorf("Accept-Encoding %q: body %q, want %q", c.ae, r.body, c.body)
			}
		}
		// The sibling is its own representation: its own validators, ranges over its bytes.
		_, gzTag := fileValidators(t, filepath.Join(st.root, "site.css.gz"))
		r := staticFetch(t, s, "GET", "/static/site.css", "Accept-Encoding: gzip", "Range: bytes=0-1")
		if r.status != 206 || r.get(t, "ETag") != gzTag || !bytes.Equal(r.body, gz[:2]) {
			t.Errorf("range of the gzip sibling: %v (want ETag %s)", r, gzTag)
		}
		// Only a .gz sibling: br is not available, but the response still varies.
		r = staticFetch(t, s, "GET", "/static/app.js", "Accept-Encoding: br")
		if r.get(t, "Content-Encoding") != "" || r.get(t, "Vary") != "Accept-Encoding" {
			t.Errorf("app.js with only a gzip sibling, Accept-Encoding br: %v", r)
		}
	})

	s.step(t, "request bodies are read and dropped", true, func(t *testing.T) {
		c := dialRaw(t, s.addr)
		c.send("GET /static/site.css HTTP/1.1\r\nHost: e2e.test\r\nContent-Length: 5\r\n\r\nhello")
		checkBody(t, c.mustResponse("GET"), siteCSS)
		c.send("GET /static/page.html HTTP/1.1\r\nHost: e2e.test\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n")
		checkBody(t, c.mustResponse("GET"), "<p>page</p>\n")
		c.send(staticRequest("GET", "/ping"))
		requireApp(t, c.mustResponse("GET"), "/ping")
		// A client waiting for 100 Continue gets the answer and a closed connection.
		c = dialRaw(t, s.addr)
		c.send("GET /static/site.css HTTP/1.1\r\nHost: e2e.test\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
		r := c.mustResponse("GET")
		checkBody(t, r, siteCSS)
		if r.get(t, "Connection") != "close" {
			t.Errorf("unread body: Connection %q, want close", r.get(t, "Connection"))
		}
		c.expectClosed()
	})

	s.step(t, "served without a python thread", true, func(t *testing.T) {
		gate := filepath.Join(t.TempDir(), "gate")
		busy := dialRaw(t, s.addr)
		busy.send(staticRequest("GET", "/block?gate="+gate))
		// The only Python thread is taken: an application request waits...
		waiting := dialRaw(t, s.addr)
		time.Sleep(50 * time.Millisecond)
		waiting.send(staticRequest("GET", "/ping"))
		waiting.expectSilence(300 * time.Millisecond)
		// ...and static files are served all the same.
		start := time.Now()
		r := staticFetch(t, s, "GET", "/static/big.bin", "Range: bytes=0-1048575")
		if r.status != 206 || len(r.body) != 1<<20 || time.Since(start) > 2*time.Second {
			t.Errorf("static request while python is busy: %d, %d bytes, %v", r.status, len(r.body), time.Since(start))
		}
		if err := os.WriteFile(gate, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		checkBody(t, busy.mustResponse("GET"), "released")
		requireApp(t, waiting.mustResponse("GET"), "/ping")
	})

	s.step(t, "client disconnects mid-file", true, func(t *testing.T) {
		base := s.openFDs(t)
		c := dialRaw(t, s.addr)
		c.send(staticRequest("GET", "/static/big.bin?cut=1"))
		r, err := c.readHead()
		if err != nil || r.status != 200 {
			t.Fatalf("big.bin: %v %v", r, err)
		}
		buf := make([]byte, 256<<10)
		if _, err := c.br.Read(buf); err != nil {
			t.Fatalf("reading the first bytes of big.bin: %v", err)
		}
		c.abort()
		s.waitFDs(t, base)
		// The log counts what went out, not the file's length.
		if n := s.accessLogBytes(t, "/static/big.bin?cut=1"); n <= 0 || n >= int64(len(st.big)) {
			t.Errorf("access log: %d body bytes for a download of %d cut after 256 KiB", n, len(st.big))
		}
		// The server is fine and serves the whole file to the next client.
		if r := staticFetch(t, s, "GET", "/static/big.bin"); !bytes.Equal(r.body, st.big) {
			t.Errorf("big.bin after a cut connection: %d bytes, want the file's %d", len(r.body), len(st.big))
		}
	})
}

// checkHead304 requires what RFC 9110 §15.4.5 asks of a 304: the
// validators and caching fields of the 200, and no body or length.
func checkHead304(t *testing.T, r *response, lastMod, etag string) {
	t.Helper()
	checkDate(t, r)
	if r.get(t, "ETag") != etag || r.get(t, "Last-Modified") != lastMod {
		t.Errorf("304 validators: ETag %q Last-Modified %q, want %q %q", r.get(t, "ETag"), r.get(t, "Last-Modified"), etag, lastMod)
	}
	if r.get(t, "Cache-Control") != "max-age=3600" || r.get(t, "Expires") == "" || r.get(t, "Vary") != "Accept-Encoding" {
		t.Errorf("304 lacks Cache-Control, Expires or Vary: %v", r)
	}
	if len(r.values("Content-Length")) != 0 || len(r.values("Content-Type")) != 0 {
		t.Errorf("304 carries Content-Length or Content-Type: %v", r)
	}
}

func bigTag(t *testing.T, st *staticTree) string {
	_, tag := fileValidators(t, filepath.Join(st.root, "big.bin"))
	return tag
}

func bigMod(t *testing.T, st *staticTree) string {
	mod, _ := fileValidators(t, filepath.Join(st.root, "big.bin"))
	return mod
}

// openFDs counts the server process's open descriptors once no connection is left.
func (s *server) openFDs(t *testing.T) int {
	t.Helper()
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", s.cmd.Process.Pid))
	if err != nil {
		t.Fatalf("counting the server's descriptors: %v", err)
	}
	return len(fds)
}

// waitFDs waits up to 3 s for the server to hold no more descriptors than want.
func (s *server) waitFDs(t *testing.T, want int) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for {
		n := s.openFDs(t)
		if n <= want {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("the server holds %d descriptors, %d before: a file or connection leaked", n, want)
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestStaticOptions(t *testing.T) {
	t.Parallel()
	st := makeStaticTree(t)
	t.Run("follow symlinks and dot-files", func(t *testing.T) {
		s := startServer(t, "filewrapper_app", plain, 1, st.args("--static-follow-symlinks", "--static-dotfiles")...)
		checkBody(t, staticFetch(t, s, "GET", "/static/escape.txt"), secretText)
		checkBody(t, staticFetch(t, s, "GET", "/static/escdir/secret.txt"), secretText)
		checkBody(t, staticFetch(t, s, "GET", "/static/.hidden.txt"), "hidden")
		// Following symlinks never allows ".." in the URL.
		if r := staticFetch(t, s, "GET", "/static/../outside/secret.txt"); r.status != 404 {
			t.Errorf("traversal with --static-follow-symlinks: %d, want 404", r.status)
		}
		// No --static-expires: no caching fields.
		r := staticFetch(t, s, "GET", "/static/site.css")
		if len(r.values("Cache-Control"))+len(r.values("Expires")) != 0 {
			t.Errorf("caching fields without --static-expires: %v", r)
		}
	})
	t.Run("skip-ext replaces the default", func(t *testing.T) {
		s := startServer(t, "filewrapper_app", plain, 1, st.args("--static-skip-ext", ".css,.HTML")...)
		requireApp(t, staticFetch(t, s, "GET", "/static/site.css"), "/static/site.css")
		requireApp(t, staticFetch(t, s, "GET", "/static/page.html"), "/static/page.html")
		checkBody(t, staticFetch(t, s, "GET", "/static/x.py"), "print('source')")
	})
	t.Run("mount at the root", func(t *testing.T) {
		s := startServer(t, "filewrapper_app", plain, 1, "--static-map", "/="+st.root, "--static-index", "index.html")
		checkBody(t, staticFetch(t, s, "GET", "/site.css"), siteCSS)
		// "//sub" names the directory sub; its redirect must not become
		// "//sub/", a reference to the host "sub".
		for _, target := range []string{"/sub", "//sub", "///sub?x=1"} {
			r := staticFetch(t, s, "GET", target)
			want := "/sub/"
			if strings.HasSuffix(target, "?x=1") {
				want += "?x=1"
			}
			if loc := r.get(t, "Location"); r.status != 301 || loc != want {
				t.Errorf("GET %s: %d Location %q, want 301 %q", target, r.status, loc, want)
			}
		}
		requireApp(t, staticFetch(t, s, "GET", "/ping"), "/ping")
		if r := staticFetch(t, s, "GET", "/../outside/secret.txt"); r.status != 404 {
			t.Errorf("traversal at a root mount: %d, want 404", r.status)
		}
	})
	t.Run("bad mappings stop the start", func(t *testing.T) {
		for _, m := range []string{"/x=" + filepath.Join(st.root, "missing"), "static=" + st.root, "/a/../b=" + st.root, "/x="} {
			code, _, stderr := runIn(t, appsDir, nil, "--module", "hello", "--http", "127.0.0.1:0", "--static-map", m)
			if code == 0 || !strings.Contains(stderr, "static-map") {
				t.Errorf("--static-map %q: exit %d, stderr %q; want a failure naming static-map", m, code, stderr)
			}
		}
	})
}

// TestStaticClients checks that curl and Python's http.client read the
// responses as intended, not only this package's parser.
func TestStaticClients(t *testing.T) {
	t.Parallel()
	st := makeStaticTree(t)
	s := startServer(t, "filewrapper_app", plain, 1, st.args()...)
	base := s.url("/static/")

	curl := func(t *testing.T, args ...string) (status string, body []byte) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, "curl", append([]string{"-s", "-S", "-o", "-", "-w", "\n%{http_code}"}, args...)...).Output()
		if err != nil {
			t.Fatalf("curl %q: %v", args, err)
		}
		i := bytes.LastIndexByte(out, '\n')
		return string(out[i+1:]), out[:i]
	}
	t.Run("curl", func(t *testing.T) {
		if _, err := exec.LookPath("curl"); err != nil {
			t.Skip("curl is not installed")
		}
		if code, body := curl(t, base+"big.bin"); code != "200" || !bytes.Equal(body, st.big) {
			t.Errorf("curl big.bin: %s, %d bytes", code, len(body))
		}
		if code, body := curl(t, "-r", "0-9", base+"big.bin"); code != "206" || !bytes.Equal(body, st.big[:10]) {
			t.Errorf("curl -r 0-9: %s %x", code, body)
		}
		if code, body := curl(t, "-r", "-7", base+"big.bin"); code != "206" || !bytes.Equal(body, st.big[len(st.big)-7:]) {
			t.Errorf("curl -r -7: %s %x", code, body)
		}
		if code, _ := curl(t, "-r", fmt.Sprintf("%d-", len(st.big)), base+"big.bin"); code != "416" {
			t.Errorf("curl unsatisfiable range: %s", code)
		}
		// --compressed asks for gzip and decodes it: the .gz sibling must be the file.
		if code, body := curl(t, "--compressed", "-H", "Accept-Encoding: gzip", base+"app.js"); code != "200" || string(body) != "console.log('hi');\n" {
			t.Errorf("curl --compressed app.js: %s %q", code, body)
		}
		// -z sends If-Modified-Since with the file's own time.
		if code, body := curl(t, "-z", bigMod(t, st), base+"big.bin"); code != "304" || len(body) != 0 {
			t.Errorf("curl -z: %s, %d bytes", code, len(body))
		}
		if code, _ := curl(t, "-H", "If-None-Match: "+bigTag(t, st), base+"big.bin"); code != "304" {
			t.Errorf("curl If-None-Match: %s", code)
		}
		if code, body := curl(t, "-I", base+"site.css"); code != "200" || !bytes.Contains(body, []byte("Content-Length: 16")) {
			t.Errorf("curl -I: %s %q", code, body)
		}
		if code, body := curl(t, "--path-as-is", base+"../outside/secret.txt"); code != "404" || bytes.Contains(body, []byte("SECRET")) {
			t.Errorf("curl --path-as-is traversal: %s %q", code, body)
		}
	})
	t.Run("python http.client", func(t *testing.T) {
		host, port, _ := strings.Cut(s.addr, ":")
		script := `
import email.parser, email.policy, http.client, json, sys
host, port, path, rng = sys.argv[1:5]
c = http.client.HTTPConnection(host, int(port), timeout=10)
c.request("GET", path, headers={"Range": rng})
r = c.getresponse()
body = r.read()
out = {"status": r.status, "length": len(body), "parts": []}
ct = r.getheader("Content-Type", "")
if ct.startswith("multipart/byteranges"):
    msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(b"Content-Type: " + ct.encode() + b"\r\n\r\n" + body)
    for p in msg.iter_parts():
        out["parts"].append({"range": p["Content-Range"], "type": p.get_content_type() + ";" + str(p.get_content_charset()), "data": p.get_payload(decode=True).hex()})
else:
    out["parts"].append({"range": r.getheader("Content-Range"), "type": ct, "data": body.hex()})
print(json.dumps(out))
`
		type part struct{ Range, Type, Data string }
		run := func(rng string) (status int, parts []part) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			out, err := exec.CommandContext(ctx, "/usr/bin/python3", "-c", script, host, port, "/static/digits.txt", rng).CombinedOutput()
			if err != nil {
				t.Fatalf("python http.client with Range %q: %v\n%s", rng, err, out)
			}
			var res struct {
				Status int
				Parts  []part
			}
			if err := json.Unmarshal(out, &res); err != nil {
				t.Fatalf("python output %q: %v", out, err)
			}
			return res.Status, res.Parts
		}
		hexOf := func(a, b int) string { return hex.EncodeToString(st.text[a : b+1]) }
		status, parts := run("bytes=0-4,100-199,-3")
		want := []part{
			{"bytes 0-4/20000", "text/plain;utf-8", hexOf(0, 4)},
			{"bytes 100-199/20000", "text/plain;utf-8", hexOf(100, 199)},
			{"bytes 19997-19999/20000", "text/plain;utf-8", hexOf(19997, 19999)},
		}
		if status != 206 || fmt.Sprint(parts) != fmt.Sprint(want) {
			t.Errorf("multipart/byteranges as python parses it: %d %v\nwant %v", status, parts, want)
		}
		status, parts = run("bytes=5-9")
		if status != 206 || len(parts) != 1 || parts[0].Range != "bytes 5-9/20000" || parts[0].Data != hexOf(5, 9) {
			t.Errorf("single range as python parses it: %d %v", status, parts)
		}
	})
}
