package static

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestDecodePath(t *testing.T) {
	cases := []struct {
		raw, want string
		verdict   pathVerdict
	}{
		{"/static/a.css", "/static/a.css", pathOK},
		{"/static/a%20b.css", "/static/a b.css", pathOK},
		{"/st%61tic/a.css", "/static/a.css", pathOK},
		{"/static/..", "", pathRefused},
		{"/static/../x", "", pathRefused},
		{"/static/./x", "", pathRefused},
		{"/static/.", "", pathRefused},
		{"/static/%2e%2e/x", "", pathRefused},
		{"/static/%2E%2E/x", "", pathRefused},
		{"/static/.%2e/x", "", pathRefused},
		{"/static/%2e/x", "", pathRefused},
		{"/static/a%2fb", "", pathRefused},
		{"/static/a%2Fb", "", pathRefused},
		{"/static/a\\b", "", pathRefused},
		{"/static/a%5cb", "", pathRefused},
		{"/static/a%00b", "", pathRefused},
		{"/static/...", "/static/...", pathOK}, // a name, not a dot segment
		{"/static/..a", "/static/..a", pathOK},
		{"/static/a..", "/static/a..", pathOK},
		{"/static/%252e%252e", "/static/%2e%2e", pathOK}, // decoded once only
		{"/static/a%2", "", pathInvalid},
		{"/static/a%zz", "", pathInvalid},
	}
	for _, c := range cases {
		got, v := decodePath(nil, []byte(c.raw))
		if v != c.verdict || (v == pathOK && string(got) != c.want) {
			t.Errorf("decodePath(%q) = %q, %v; want %q, %v", c.raw, got, v, c.want, c.verdict)
		}
	}
}

func TestMountMatch(t *testing.T) {
	dirm := &mount{prefix: "/static"}
	root := &mount{prefix: ""}
	file := &mount{prefix: "/favicon.ico", file: true}
	cases := []struct {
		m       *mount
		path    string
		rel     string
		matches bool
	}{
		{dirm, "/static/a.css", "/a.css", true},
		{dirm, "/static", "", true},
		{dirm, "/static/", "/", true},
		{dirm, "/staticfoo", "", false},
		{dirm, "/stati", "", false},
		{root, "/x/y", "/x/y", true},
		{file, "/favicon.ico", "", true},
		{file, "/favicon.ico/x", "", false},
		{file, "/favicon.icox", "", false},
	}
	for _, c := range cases {
		rel, ok := c.m.match(c.path)
		if ok != c.matches || rel != c.rel {
			t.Errorf("mount %q match(%q) = %q, %v; want %q, %v", c.m.prefix, c.path, rel, ok, c.rel, c.matches)
		}
	}
}

func TestHasDotSegment(t *testing.T) {
	for path, want := range map[string]bool{
		"/a/b.css": false, "/.env": true, "/a/.git/config": true, "/a.b/c": false, "": false, ".x": true, "/a/b.": false,
	} {
		if got := hasDotSegment(path); got != want {
			t.Errorf("hasDotSegment(%q) = %v, want %v", path, got, want)
		}
	}
}

func TestParseRange(t *testing.T) {
	const size = 100
	cases := []struct {
		v    string
		res  rangeResult
		want []byteRange
	}{
		{"bytes=0-9", rangeOK, []byteRange{{0, 10}}},
		{"bytes=10-", rangeOK, []byteRange{{10, 90}}},
		{"bytes=-5", rangeOK, []byteRange{{95, 5}}},
		{"bytes=-500", rangeOK, []byteRange{{0, 100}}},
		{"bytes=90-500", rangeOK, []byteRange{{90, 10}}},
		{"bytes=99-99", rangeOK, []byteRange{{99, 1}}},
		{"BYTES=0-0", rangeOK, []byteRange{{0, 1}}},
		{"bytes=0-9, 20-29 ,-5", rangeOK, []byteRange{{0, 10}, {20, 10}, {95, 5}}},
		{"bytes=0-9,,20-29", rangeOK, []byteRange{{0, 10}, {20, 10}}},
		{"bytes=0-9,200-300", rangeOK, []byteRange{{0, 10}}}, // unsatisfiable ranges are dropped
		{"bytes=100-", rangeUnsatisfiable, nil},
		{"bytes=100-200,300-", rangeUnsatisfiable, nil},
		{"bytes=-0", rangeUnsatisfiable, nil},
		{"bytes=9-0", rangeIgnore, nil}, // last < first: invalid
		{"bytes=a-b", rangeIgnore, nil},
		{"bytes=1", rangeIgnore, nil},
		{"bytes=", rangeIgnore, nil},
		{"bytes=--1", rangeIgnore, nil},
		{"bytes=+1-2", rangeIgnore, nil},
		{"items=0-1", rangeIgnore, nil},
		{"bytes=0-99,0-99", rangeIgnore, nil},             // overlaps adding up past the size
		{"bytes=0-1234567890123456789", rangeIgnore, nil}, // more than 18 digits
	}
	for _, c := range cases {
		got, res := parseRange([]byte(c.v), size, nil)
		if res != c.res || (res == rangeOK && !reflect.DeepEqual(got, c.want)) {
			t.Errorf("parseRange(%q) = %v, %v; want %v, %v", c.v, got, res, c.want, c.res)
		}
	}
	many := "bytes=0-0"
	for i := 1; i <= maxRanges; i++ {
		many += fmt.Sprintf(",%d-%d", i, i)
	}
	if _, res := parseRange([]byte(many), 1000, nil); res != rangeIgnore {
		t.Errorf("%d ranges: got %v, want them ignored", maxRanges+1, res)
	}
}

func TestNegotiate(t *testing.T) {
	br, gz := 0, 1
	cases := []struct {
		ae   *string
		want []int
	}{
		{nil, nil},
		{ptr(""), nil},
		{ptr("identity"), nil},
		{ptr("gzip"), []int{gz}},
		{ptr("x-gzip"), []int{gz}},
		{ptr("GZIP, deflate"), []int{gz}},
		{ptr("br"), []int{br}},
		{ptr("gzip, br"), []int{br, gz}},
		{ptr("gzip;q=1, br;q=0.5"), []int{gz, br}},
		{ptr("gzip ; q=0.8 , br ; q=0.9"), []int{br, gz}},
		{ptr("br;q=0"), nil},
		{ptr("br;q=0, gzip"), []int{gz}},
		{ptr("gzip;q=0.000"), nil},
		{ptr("*"), []int{br, gz}},
		{ptr("*;q=0.5, br;q=0"), []int{gz}},
		{ptr("*;q=0"), nil},
		{ptr("gzip;q=2"), nil},           // malformed q: not enabled
		{ptr("gzip;q=0.5x"), nil},        // malformed q
		{ptr("gzip;level=1"), []int{gz}}, // other parameters are ignored
	}
	for _, c := range cases {
		var ae []byte
		desc := "<absent>"
		if c.ae != nil {
			ae = []byte(*c.ae)
			desc = *c.ae
		}
		got := negotiate(ae)
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("negotiate(%s) = %v, want %v", desc, got, c.want)
		}
	}
}

func ptr(s string) *string { return &s }

func TestETagLists(t *testing.T) {
	etag := []byte(`"abc-10"`)
	cases := []struct {
		list         string
		weak, strong bool
	}{
		{`"abc-10"`, true, true},
		{`W/"abc-10"`, true, false},
		{`"x", "abc-10"`, true, true},
		{`"x",W/"abc-10"`, true, false},
		{`*`, true, true},
		{`"x"`, false, false},
		{`"abc-1"`, false, false},
		{`abc-10`, false, false}, // not quoted: malformed
		{`"abc-10`, false, false},
		{``, false, false},
		{` , "abc-10" , `, true, true},
	}
	for _, c := range cases {
		if got := etagListMatches([]byte(c.list), etag, true); got != c.weak {
			t.Errorf("weak match of %q = %v, want %v", c.list, got, c.weak)
		}
		if got := etagListMatches([]byte(c.list), etag, false); got != c.strong {
			t.Errorf("strong match of %q = %v, want %v", c.list, got, c.strong)
		}
	}
}

func TestPrecondition(t *testing.T) {
	etag := []byte(`"e"`)
	lastMod := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC).Unix()
	date := func(d time.Duration) []byte {
		return []byte(time.Unix(lastMod, 0).Add(d).UTC().Format("Mon, 02 Jan 2006 15:04:05 GMT"))
	}
	cases := []struct {
		name string
		h    reqHeaders
		want int
	}{
		{"none", reqHeaders{}, 0},
		{"inm match", reqHeaders{ifNoneMatch: []byte(`"e"`), hasIfNoneMatch: true}, 304},
		{"inm weak match", reqHeaders{ifNoneMatch: []byte(`W/"e"`), hasIfNoneMatch: true}, 304},
		{"inm no match", reqHeaders{ifNoneMatch: []byte(`"f"`), hasIfNoneMatch: true}, 0},
		{"ims equal", reqHeaders{ifModifiedSince: date(0)}, 304},
		{"ims later", reqHeaders{ifModifiedSince: date(time.Hour)}, 304},
		{"ims earlier", reqHeaders{ifModifiedSince: date(-time.Second)}, 0},
		{"ims invalid", reqHeaders{ifModifiedSince: []byte("yesterday")}, 0},
		{"ims in the future", reqHeaders{ifModifiedSince: []byte(time.Now().Add(48 * time.Hour).UTC().Format("Mon, 02 Jan 2006 15:04:05 GMT"))}, 0},
		{"ims twice", reqHeaders{ifModifiedSince: date(0), multiIMS: true}, 0},
		{"inm wins over ims", reqHeaders{ifNoneMatch: []byte(`"f"`), hasIfNoneMatch: true, ifModifiedSince: date(0)}, 0},
		{"if-match fails", reqHeaders{ifMatch: []byte(`"f"`), hasIfMatch: true}, 412},
		{"if-match weak fails", reqHeaders{ifMatch: []byte(`W/"e"`), hasIfMatch: true}, 412},
		{"if-match ok", reqHeaders{ifMatch: []byte(`"e"`), hasIfMatch: true}, 0},
		{"if-match star", reqHeaders{ifMatch: []byte(`*`), hasIfMatch: true}, 0},
		{"ius earlier", reqHeaders{ifUnmodifiedSince: date(-time.Second)}, 412},
		{"ius equal", reqHeaders{ifUnmodifiedSince: date(0)}, 0},
		{"if-match wins over ius", reqHeaders{ifMatch: []byte(`"e"`), hasIfMatch: true, ifUnmodifiedSince: date(-time.Hour)}, 0},
		{"412 before 304", reqHeaders{ifMatch: []byte(`"f"`), hasIfMatch: true, ifNoneMatch: []byte(`"e"`), hasIfNoneMatch: true}, 412},
	}
	for _, c := range cases {
		if got := c.h.precondition(etag, lastMod); got != c.want {
			t.Errorf("%s: precondition = %d, want %d", c.name, got, c.want)
		}
	}
	ifRange := []struct {
		v    string
		want bool
	}{
		{`"e"`, true}, {`"f"`, false}, {`W/"e"`, false}, {string(date(0)), true}, {string(date(time.Second)), false}, {"garbage", false},
	}
	for _, c := range ifRange {
		h := reqHeaders{ifRange: []byte(c.v)}
		if got := h.ifRangeAllows(etag, lastMod); got != c.want {
			t.Errorf("If-Range %q: %v, want %v", c.v, got, c.want)
		}
	}
}

func TestETagChangesWithContent(t *testing.T) {
	a := unix.Stat_t{Size: 10, Mtim: unix.Timespec{Sec: 100, Nsec: 1}}
	b := a
	b.Mtim.Nsec = 2 // rewritten within the same second, same size
	c := a
	c.Size = 11
	ea, eb, ec := string(appendETag(nil, &a)), string(appendETag(nil, &b)), string(appendETag(nil, &c))
	if ea == eb || ea == ec {
		t.Errorf("etags do not tell versions apart: %s %s %s", ea, eb, ec)
	}
	if ea[0] != '"' || ea[len(ea)-1] != '"' {
		t.Errorf("etag %s is not a quoted strong entity tag", ea)
	}
}

func TestContentType(t *testing.T) {
	for name, want := range map[string]string{
		"a.css":      "text/css; charset=utf-8",
		"a.CSS":      "text/css; charset=utf-8",
		"a.html":     "text/html; charset=utf-8",
		"a.js":       "text/javascript; charset=utf-8",
		"a.png":      "image/png",
		"a.json":     "application/json",
		"noext":      defaultType,
		"a.unknown9": defaultType,
		"dir.d/x":    defaultType,
	} {
		if got := contentType(name); got != want {
			t.Errorf("contentType(%q) = %q, want %q", name, got, want)
		}
	}
}
