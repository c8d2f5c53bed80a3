package httpwire

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func status(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.Status
	}
	return -1
}

// checkPrefix checks that parsing buf[:k] agrees with parsing buf: it gives
// ErrIncomplete, or exactly the full result (same error value, or the same
// request once the head is complete).
func checkPrefix(t *testing.T, buf []byte, k int, lim *Limits, full error, fullReq *Request) {
	t.Helper()
	var req Request
	err := Parse(buf[:k], lim, &req)
	switch {
	case err == ErrIncomplete:
		if full == ErrIncomplete || full != nil {
			return
		}
		if k >= fullReq.HeadLen {
			t.Fatalf("prefix %d of a %d-byte head: incomplete", k, fullReq.HeadLen)
		}
	case err == nil:
		if full != nil {
			t.Fatalf("prefix %d parses, the whole buffer gives %v", k, full)
		}
		if req.HeadLen != fullReq.HeadLen || !bytes.Equal(req.Target, fullReq.Target) || len(req.Headers) != len(fullReq.Headers) {
			t.Fatalf("prefix %d parses differently", k)
		}
	default:
		if err != full {
			t.Fatalf("prefix %d: %v, whole buffer: %v", k, err, full)
		}
	}
}

// TestPrefixes feeds every corpus case in pieces: a server parsing as the
// bytes arrive must see the same result as one parsing the whole request.
func TestPrefixes(t *testing.T) {
	for _, c := range Corpus() {
		buf := []byte(c.Raw)
		var req Request
		full := Parse(buf, nil, &req)
		step := 1
		if len(buf) > 2048 {
			step = len(buf)/512 + 1
		}
		for k := 0; k < len(buf); k += step {
			checkPrefix(t, buf, k, nil, full, &req)
		}
		if full == nil {
			for k := max(0, req.HeadLen-4); k < req.HeadLen; k++ {
				checkPrefix(t, buf, k, nil, full, &req)
			}
		}
	}
}

func TestLimits(t *testing.T) {
	lim := &Limits{MaxRequestLine: 20, MaxHeaderCount: 3, MaxFieldSize: 16, MaxHeadBytes: 100}
	line := func(n int) string { return "GET /" + strings.Repeat("a", n-len("GET / HTTP/1.1")) + " HTTP/1.1" }
	fieldOf := func(n int) string { return "X: " + strings.Repeat("v", n-3) }
	tests := []struct {
		name   string
		raw    string
		status int // 0 ok, -1 incomplete
	}{
		{"line-at-limit", head(line(20), "Host: a"), 0},
		{"line-over-limit", head(line(21), "Host: a"), 414},
		{"line-over-limit-incomplete", line(21), 414},
		{"line-at-limit-incomplete", line(20), -1},
		{"line-slow-client", "GET /" + strings.Repeat("a", 16), 414},
		{"line-no-cr-after-limit", line(20) + "x", 400},
		{"line-cr-after-limit", line(20) + "\r", -1},
		{"field-at-limit", head(line(14), "Host: a", fieldOf(16)), 0},
		{"field-over-limit", head(line(14), "Host: a", fieldOf(17)), 431},
		{"field-over-limit-incomplete", "GET / HTTP/1.1\r\nX: " + strings.Repeat("v", 14), 431},
		{"field-at-limit-incomplete", "GET / HTTP/1.1\r\nX: " + strings.Repeat("v", 13) + "\r", -1},
		{"field-name-over-limit", "GET / HTTP/1.1\r\n" + strings.Repeat("X", 17), 431},
		{"count-at-limit", head("GET / HTTP/1.1", "Host: a", "A: 1", "B: 2"), 0},
		{"count-over-limit", head("GET / HTTP/1.1", "Host: a", "A: 1", "B: 2", "C: 3"), 431},
		{"count-over-limit-incomplete", "GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\nC", 431},
		{"count-at-limit-incomplete", "GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\n\r", -1},
		// 16 + 4*(14+2) + 2 = 82; 100 needs 18 more.
		{"head-at-limit", head("GET / HTTP/1.1", "Host: "+strings.Repeat("h", 8), "A: "+strings.Repeat("v", 11), "B: "+strings.Repeat("v", 11)) + "", 0},
		{"head-over-limit-incomplete", "GET / HTTP/1.1\r\nA: " + strings.Repeat("v", 12) + "\r\nB: " + strings.Repeat("v", 12) + "\r\nC: " + strings.Repeat("v", 12) + "\r\nD: " + strings.Repeat("v", 12) + "\r\nE: ", 431},
		{"head-limit-leading-crlf", strings.Repeat("\r\n", 4) + "GET / HTTP/1.1", -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var req Request
			err := Parse([]byte(tt.raw), lim, &req)
			got := status(err)
			switch {
			case err == nil:
				got = 0
			case err == ErrIncomplete:
				got = -1
			}
			if got != tt.status {
				t.Fatalf("got %v (%d), want %d", err, got, tt.status)
			}
		})
	}

	// The whole head may be exactly MaxHeadBytes long, not one byte more.
	raw := head("GET / HTTP/1.1", "Host: a", "A: "+strings.Repeat("v", 12))
	var req Request
	for _, n := range []int{len(raw), len(raw) - 1} {
		err := Parse([]byte(raw), &Limits{MaxHeadBytes: n}, &req)
		if ok := n == len(raw); (err == nil) != ok || !ok && status(err) != 431 {
			t.Errorf("MaxHeadBytes %d, head %d: %v", n, len(raw), err)
		}
		// A longer buffer changes nothing.
		err2 := Parse([]byte(raw+"GET / HTTP/1.1\r\n"), &Limits{MaxHeadBytes: n}, &req)
		if err2 != err {
			t.Errorf("MaxHeadBytes %d with more input: %v, without: %v", n, err2, err)
		}
	}
}

// TestIncomplete checks that truncated valid heads ask for more input.
func TestIncomplete(t *testing.T) {
	for _, raw := range []string{
		"", "\r", "\r\n", "\r\n\r\n", "G", "GET", "GET ", "GET /", "GET / ", "GET / H", "GET / HTTP/1.",
		"GET / HTTP/1.1", "GET / HTTP/1.1\r", "GET / HTTP/1.1\r\n", "GET / HTTP/1.1\r\nHost",
		"GET / HTTP/1.1\r\nHost:", "GET / HTTP/1.1\r\nHost: a", "GET / HTTP/1.1\r\nHost: a \t",
		"GET / HTTP/1.1\r\nHost: a\r", "GET / HTTP/1.1\r\nHost: a\r\n", "GET / HTTP/1.1\r\nHost: a\r\n\r",
	} {
		var req Request
		if err := Parse([]byte(raw), nil, &req); err != ErrIncomplete {
			t.Errorf("%q: %v, want ErrIncomplete", raw, err)
		}
	}
}

// TestEarlyReject checks that garbage is rejected before the head ends.
func TestEarlyReject(t *testing.T) {
	for _, raw := range []string{
		"\n", "\r\r", " ", "GET  ", "GET /\x00", "GET / HTTPS", "GET / HTTP/2.0 ", "GET / HTTP/1.1 ",
		"GET / HTTP/1.1\n", "GET / HTTP/1.1\r\n ", "GET / HTTP/1.1\r\nA : ",
		"GET / HTTP/1.1\r\nA: \x00", "GET / HTTP/1.1\r\nContent-Length: x\r\n",
		"GET / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n",
		"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n",
		"GET * HTTP/1.1\r\n",
	} {
		var req Request
		if err := Parse([]byte(raw), nil, &req); status(err) <= 0 {
			t.Errorf("%q: %v, want an *Error", raw, err)
		}
	}
}

func TestParseDetails(t *testing.T) {
	raw := "POST /p?q HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabcGET / HTTP/1.1\r\n"
	var req Request
	if err := Parse([]byte(raw), nil, &req); err != nil {
		t.Fatal(err)
	}
	if got := raw[req.HeadLen:]; got != "abcGET / HTTP/1.1\r\n" {
		t.Errorf("after head: %q", got)
	}
	if HeadEnd([]byte(raw), 0) != req.HeadLen {
		t.Errorf("HeadEnd %d, HeadLen %d", HeadEnd([]byte(raw), 0), req.HeadLen)
	}

	// Reuse: the Headers backing array is kept, old values are cleared.
	backing := &req.Headers[:1][0]
	if err := Parse([]byte("GET / HTTP/1.0\r\nA: 1\r\n\r\n"), nil, &req); err != nil {
		t.Fatal(err)
	}
	if &req.Headers[0] != backing {
		t.Error("Headers backing array not reused")
	}
	if req.ContentLength != -1 || req.Host != nil || req.HasQuery || len(req.Headers) != 1 {
		t.Errorf("state left over from the previous request: %+v", req)
	}

	// Slices alias the input.
	buf := []byte("GET /x?y HTTP/1.1\r\nHost: h\r\n\r\n")
	if err := Parse(buf, nil, &req); err != nil {
		t.Fatal(err)
	}
	buf[5] = 'Z'
	if string(req.Path) != "/Z" || string(req.Target) != "/Z?y" {
		t.Errorf("Path %q Target %q do not alias the buffer", req.Path, req.Target)
	}
}

func TestParseAllocs(t *testing.T) {
	for _, raw := range []string{browserGET, Corpus()[1].Raw, head("GET / HTTP/1.1", "Host: a", "X: \x00")} {
		buf := []byte(raw)
		var req Request
		Parse(buf, nil, &req)
		if n := testing.AllocsPerRun(100, func() { Parse(buf, nil, &req) }); n != 0 {
			t.Errorf("%d allocations for %q", int(n), raw[:20])
		}
	}
}

func TestHeadEnd(t *testing.T) {
	tests := []struct {
		buf  string
		from int
		want int
	}{
		{"", 0, -1},
		{"GET / HTTP/1.1\r\n", 0, -1},
		{"GET / HTTP/1.1\r\n\r\n", 0, 18},
		{"GET / HTTP/1.1\r\n\r\nbody", 0, 18},
		{"GET / HTTP/1.1\r\n\r\n", 15, 18},
		{"GET / HTTP/1.1\r\n\r\n", -3, 18},
		{"GET / HTTP/1.1\n\n", 0, 16},
		{"GET / HTTP/1.1\n\r\n", 0, 17},
		{"GET / HTTP/1.1\r\nA: b\n\r\n", 0, 23},
		{"GET / HTTP/1.1\r\n\r", 0, -1},
		{"\r\n\r\nGET / HTTP/1.1\r\n\r\n", 0, 22},
		{"\r\n\r\n", 0, -1},
		{"\r\n\r\n\r\n\r\n\r\n\r\n", 0, 12},
		{"\nGET / HTTP/1.1\r\n\r\n", 0, 19},
	}
	for _, tt := range tests {
		if got := HeadEnd([]byte(tt.buf), tt.from); got != tt.want {
			t.Errorf("HeadEnd(%q, %d) = %d, want %d", tt.buf, tt.from, got, tt.want)
		}
	}
	// Incremental search as a server does it.
	raw := []byte(browserGET)
	searched, end := 0, -1
	for n := 1; n <= len(raw) && end < 0; n++ {
		end = HeadEnd(raw[:n], searched-3)
		searched = n
	}
	if end != len(raw) {
		t.Errorf("incremental HeadEnd = %d, want %d", end, len(raw))
	}
}

func TestPercentDecodePath(t *testing.T) {
	tests := []struct {
		in, out string
		status  int
	}{
		{"/", "/", 0},
		{"/a%20b", "/a b", 0},
		{"/a%2Fb%2fc", "/a/b/c", 0},
		{"/a+b", "/a+b", 0},
		{"/%e2%82%AC", "/\xe2\x82\xac", 0},
		{"/%", "", 400},
		{"/%2", "", 400},
		{"/%zz", "", 400},
		{"/%2g", "", 400},
		{"/%00", "", 400},
		{"/a\x00", "", 400},
		{"", "", 0},
	}
	for _, tt := range tests {
		got, err := PercentDecodePath([]byte("prefix"), []byte(tt.in))
		if status(err) != tt.status && !(err == nil && tt.status == 0) {
			t.Errorf("%q: error %v, want status %d", tt.in, err, tt.status)
			continue
		}
		if err == nil && string(got) != "prefix"+tt.out {
			t.Errorf("%q: got %q, want %q", tt.in, got, "prefix"+tt.out)
		}
	}
	dst := make([]byte, 0, 64)
	src := []byte("/a%20b/c%2Fd")
	if n := testing.AllocsPerRun(100, func() { PercentDecodePath(dst, src) }); n != 0 {
		t.Errorf("%v allocations", n)
	}
}

func TestIsToken(t *testing.T) {
	for s, want := range map[string]bool{
		"GET": true, "x-A_1.b~": true, "!#$%&'*+-.^_`|~": true,
		"": false, "a b": false, "a:b": false, "a\x00": false, "caf\xe9": false, "(a)": false, `"a"`: false,
	} {
		if IsToken([]byte(s)) != want {
			t.Errorf("IsToken(%q) != %v", s, want)
		}
	}
}

func TestErrorString(t *testing.T) {
	var req Request
	err := Parse([]byte("GET / HTTP/2.0\r\n"), nil, &req)
	if err == nil || err.Error() != "httpwire: 505 http version not supported" {
		t.Errorf("got %v", err)
	}
	if s := err.Error(); s != strings.ToLower(s) {
		t.Errorf("not lower case: %q", s)
	}
}

func TestDefaultLimits(t *testing.T) {
	if (DefaultLimits() != Limits{8190, 100, 8190, 65536}) {
		t.Errorf("DefaultLimits() = %+v", DefaultLimits())
	}
	// Zero and negative fields mean the default.
	if limitsOf(&Limits{MaxHeaderCount: -1}) != DefaultLimits() {
		t.Error("zero Limits fields are not defaulted")
	}
}

// TestSWARScans compares the word-at-a-time and unrolled scans with the table loops for
// every byte value at every position of a window, on two backgrounds.
func TestSWARScans(t *testing.T) {
	ref := func(s []byte, class uint8) int {
		i := 0
		for i < len(s) && ctab[s[i]]&class != 0 {
			i++
		}
		return i
	}
	for _, bg := range []byte{'a', 0xff} {
		for pos := 0; pos < 20; pos++ {
			for c := 0; c < 256; c++ {
				s := bytes.Repeat([]byte{bg}, 20)
				s[pos] = byte(c)
				if got, want := scanValue(s, 0), ref(s, cValue); got != want {
					t.Fatalf("scanValue(%q) = %d, want %d", s, got, want)
				}
				if got, want := scanTarget(s, 0), ref(s, cTarget); got != want {
					t.Fatalf("scanTarget(%q) = %d, want %d", s, got, want)
				}
				if got, want := scanToken(s, 0), ref(s, cTchar); got != want {
					t.Fatalf("scanToken(%q) = %d, want %d", s, got, want)
				}
			}
		}
	}
}
