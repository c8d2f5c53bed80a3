package e2e

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"
)

// siteHost is the name every test site is addressed by, directly and
// through nginx (the Django project allows exactly this host).
const siteHost = "e2e.test"

// target is one way of reaching an application: gowsgi directly, or nginx
// in front of it with uwsgi_pass or proxy_pass. Scenarios run the same
// steps against each and record what must be the same everywhere.
type target struct {
	name   string
	base   string // scheme://127.0.0.1:port
	tls    *tls.Config
	local  net.IP // client source address; nil for the default
	client *http.Client
}

func newTarget(name, base string) *target {
	g := &target{name: name, base: base}
	g.reset()
	return g
}

// reset starts a new browser session: an empty cookie jar.
func (g *target) reset() {
	jar, _ := cookiejar.New(nil)
	d := &net.Dialer{Timeout: ioTimeout}
	if g.local != nil {
		d.LocalAddr = &net.TCPAddr{IP: g.local}
	}
	g.client = &http.Client{
		Jar:     jar,
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			DialContext:        d.DialContext,
			TLSClientConfig:    g.tls,
			DisableCompression: true,
		},
		// Redirects are checked, not followed.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// page is one response, read completely.
type page struct {
	status int
	header http.Header
	body   []byte
	chunks []time.Duration // when each read of the body returned, from the request start
	te     []string        // Transfer-Encoding as received
	length int64           // Content-Length, -1 when absent
}

func (p *page) String() string {
	return fmt.Sprintf("%d %v\n%.2000s", p.status, p.header, p.body)
}

// do sends one request to the site (Host e2e.test) and reads the whole response.
func (g *target) do(t testing.TB, method, path string, body []byte, header ...string) *page {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, g.base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = siteHost
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Add(header[i], header[i+1])
	}
	start := time.Now()
	resp, err := g.client.Do(req)
	if err != nil {
		t.Fatalf("%s: %s %s: %v", g.name, method, path, err)
	}
	defer resp.Body.Close()
	p := &page{status: resp.StatusCode, header: resp.Header, te: resp.TransferEncoding, length: resp.ContentLength}
	buf := make([]byte, 64<<10)
	for {
		n, err := resp.Body.Read(buf)
		if n > 0 {
			p.body = append(p.body, buf[:n]...)
			p.chunks = append(p.chunks, time.Since(start))
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("%s: %s %s: reading the body: %v (so far %q)", g.name, method, path, err, p.body)
		}
	}
	return p
}

// postForm posts url-encoded fields (key, value pairs).
func (g *target) postForm(t testing.TB, path string, kv ...string) *page {
	t.Helper()
	form := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		form.Add(kv[i], kv[i+1])
	}
	return g.do(t, "POST", path, []byte(form.Encode()), "Content-Type", "application/x-www-form-urlencoded")
}

// upload is one file part of a multipart form.
type upload struct {
	field, filename string
	data            []byte
}

// postMultipart posts a multipart/form-data body with files and fields (key, value pairs).
func (g *target) postMultipart(t testing.TB, path string, files []upload, kv ...string) *page {
	t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for i := 0; i+1 < len(kv); i += 2 {
		w.WriteField(kv[i], kv[i+1])
	}
	for _, f := range files {
		fw, err := w.CreateFormFile(f.field, f.filename)
		if err != nil {
			t.Fatal(err)
		}
		fw.Write(f.data)
	}
	w.Close()
	return g.do(t, "POST", path, buf.Bytes(), "Content-Type", w.FormDataContentType())
}

// cookie returns the value of a cookie the jar holds for the site.
// The jar files cookies under the request's Host (e2e.test) in current Go
// versions and under the URL's host (127.0.0.1) in older ones: ask for both.
func (g *target) cookie(name string) string {
	base, _ := url.Parse(g.base + "/")
	byHost := *base
	byHost.Host = siteHost
	for _, u := range []*url.URL{&byHost, base} {
		for _, c := range g.client.Jar.Cookies(u) {
			if c.Name == name {
				return c.Value
			}
		}
	}
	return ""
}

// record is what one step of a scenario saw, normalized so that it must
// be identical whichever way the application is reached.
type record struct {
	step   string
	status int
	fields []string // "Name: value" for the headers the step compares
	body   string
}

// comparedHeaders are the response headers that come from the
// application and must survive nginx unchanged. Date, Server, Connection
// and the framing are the front end's business and differ.
var comparedHeaders = []string{"Content-Type", "Location", "X-Frame-Options", "Vary", "Cache-Control", "X-Content-Type-Options", "Referrer-Policy"}

// recorder collects a scenario's records.
type recorder struct {
	g       *target
	records []record
}

// add records a response: status, the compared headers, the Set-Cookie
// names and attributes (values and expiry vary), and body as given
// (already normalized by the caller where it holds tokens).
func (r *recorder) add(step string, p *page, body string) {
	rec := record{step: step, status: p.status, body: body}
	for _, h := range comparedHeaders {
		if vs := p.header.Values(h); len(vs) > 0 {
			rec.fields = append(rec.fields, h+": "+strings.Join(vs, ", "))
		}
	}
	var cookies []string
	for _, c := range p.header.Values("Set-Cookie") {
		cookies = append(cookies, cookieShape(c))
	}
	sort.Strings(cookies)
	for _, c := range cookies {
		rec.fields = append(rec.fields, "Set-Cookie: "+c)
	}
	r.records = append(r.records, rec)
}

var expiresRe = regexp.MustCompile(`(?i)^expires=`)

// cookieShape is a Set-Cookie value without the value of the cookie and
// its Expires date, which change from response to response.
func cookieShape(sc string) string {
	parts := strings.Split(sc, ";")
	name, value, _ := strings.Cut(strings.TrimSpace(parts[0]), "=")
	shape := name
	if value == "" || value == `""` {
		shape += "=(empty)"
	}
	for _, a := range parts[1:] {
		a = strings.TrimSpace(a)
		if expiresRe.MatchString(a) {
			a = "Expires=(date)"
		}
		shape += "; " + a
	}
	return shape
}

// compareRecords requires got (through a front end) to match want (direct), step by step.
func compareRecords(t *testing.T, name string, want, got []record) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d steps recorded, direct had %d", name, len(got), len(want))
	}
	for i := 0; i < len(want) && i < len(got); i++ {
		w, g := want[i], got[i]
		if w.step != g.step {
			t.Errorf("%s: step %d is %q, direct had %q", name, i, g.step, w.step)
			return
		}
		if w.status != g.status {
			t.Errorf("%s: %s: status %d, direct %d", name, w.step, g.status, w.status)
		}
		if strings.Join(w.fields, "\n") != strings.Join(g.fields, "\n") {
			t.Errorf("%s: %s: headers differ\n  got    %q\n  direct %q", name, w.step, g.fields, w.fields)
		}
		if w.body != g.body {
			t.Errorf("%s: %s: body differs\n  got    %.600q\n  direct %.600q", name, w.step, g.body, w.body)
		}
	}
}
