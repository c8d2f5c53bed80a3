package uwsgiproto

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strconv"
	"strings"
	"testing"
)

// kv builds a Var list from alternating key, value strings.
func kv(pairs ...string) []Var {
	vars := make([]Var, 0, len(pairs)/2)
	for i := 0; i+1 < len(pairs); i += 2 {
		vars = append(vars, Var{Key: []byte(pairs[i]), Value: []byte(pairs[i+1])})
	}
	return vars
}

// nginxVars is what nginx's stock uwsgi_params produce for a small POST.
func nginxVars(cl string) []Var {
	return kv(
		"QUERY_STRING", "a=1&b=2",
		"REQUEST_METHOD", "POST",
		"CONTENT_TYPE", "application/x-www-form-urlencoded",
		"CONTENT_LENGTH", cl,
		"REQUEST_URI", "/submit/?a=1&b=2",
		"PATH_INFO", "/submit/",
		"DOCUMENT_ROOT", "/usr/share/nginx/html",
		"SERVER_PROTOCOL", "HTTP/1.1",
		"REQUEST_SCHEME", "http",
		"REMOTE_ADDR", "192.0.2.7",
		"REMOTE_PORT", "53422",
		"SERVER_PORT", "80",
		"SERVER_NAME", "example.com",
		"HTTP_HOST", "example.com",
		"HTTP_X_EMPTY", "",
		"UWSGI_SCRIPT", "evil.module", // just data
	)
}

// raw builds a packet from a header and a hand-made vars block, for the
// malformed cases Encode cannot produce.
func raw(m1 byte, size int, m2 byte, block ...[]byte) []byte {
	b := []byte{m1, byte(size), byte(size >> 8), m2}
	for _, p := range block {
		b = append(b, p...)
	}
	return b
}

func u16(n int) []byte { return []byte{byte(n), byte(n >> 8)} }

func TestParseValid(t *testing.T) {
	tests := []struct {
		name   string
		vars   []Var
		wantCL int64
	}{
		{"nginx post", nginxVars("11"), 11},
		{"empty content length", nginxVars(""), 0},
		{"no content length", kv("REQUEST_METHOD", "GET", "PATH_INFO", "/"), 0},
		{"leading zeros", kv("CONTENT_LENGTH", "007"), 7},
		{"max int64", kv("CONTENT_LENGTH", "9223372036854775807"), 1<<63 - 1},
		{"empty vars block", nil, 0},
		{"empty value and binary value", kv("A", "", "B", "\x00\xff\r\n"), 0},
		{"repeated non-cl key", kv("HTTP_COOKIE", "a", "HTTP_COOKIE", "b"), 0},
		{"punctuation key", kv("~!@#$%^&*()_+{}|:<>?", "v"), 0},
		{"max-size value", kv("X", strings.Repeat("v", MaxVarsLen-5)), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pkt := Encode(nil, tt.vars)
			// Trailing body bytes must be ignored by Parse.
			buf := append(pkt[:len(pkt):len(pkt)], "BODY"...)
			var p Packet
			if err := Parse(buf, 0, &p); err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if p.HeadLen != len(pkt) {
				t.Errorf("HeadLen = %d, want %d", p.HeadLen, len(pkt))
			}
			if p.ContentLength != tt.wantCL {
				t.Errorf("ContentLength = %d, want %d", p.ContentLength, tt.wantCL)
			}
			if len(p.Vars) != len(tt.vars) {
				t.Fatalf("got %d vars, want %d", len(p.Vars), len(tt.vars))
			}
			for i := range tt.vars {
				if !bytes.Equal(p.Vars[i].Key, tt.vars[i].Key) || !bytes.Equal(p.Vars[i].Value, tt.vars[i].Value) {
					t.Errorf("var %d = %q=%q, want %q=%q", i, p.Vars[i].Key, p.Vars[i].Value, tt.vars[i].Key, tt.vars[i].Value)
				}
			}
		})
	}
}

func TestParseInvalid(t *testing.T) {
	tests := []struct {
		name    string
		buf     []byte
		maxVars int
		want    string // substring of the reason
	}{
		{"modifier1", raw(5, 0, 0), 0, "modifier1 is 5"},
		{"modifier2", raw(0, 0, 3), 0, "modifier2 is 3"},
		{"too big for buffer-size", raw(0, 5000, 0), 4096, "vars block of 5000 bytes exceeds buffer-size 4096"},
		{"key length past end", raw(0, 4, 0, u16(9), []byte("AB")), 0, "key length 9 at offset 0 runs past"},
		{"value length truncated", raw(0, 4, 0, u16(1), []byte("A"), []byte{0}), 0, `key "A": value length truncated (1 byte(s) left`},
		{"value length past end", raw(0, 6, 0, u16(1), []byte("A"), u16(200), []byte("x")), 0, `key "A": value length 200 runs past`},
		{"zero-length key", raw(0, 4, 0, u16(0), u16(0)), 0, "zero-length key at offset 0"},
		{"trailing garbage", raw(0, 7, 0, u16(1), []byte("A"), u16(1), []byte("b"), []byte{9}), 0, "trailing garbage: 1 byte(s) at offset 6"},
		{"control byte in key", Encode(nil, kv("A\nB", "v")), 0, `key "A\nB" has byte 0x0a at index 1`},
		{"space in key", Encode(nil, kv("A B", "v")), 0, "byte 0x20 at index 1"},
		{"high byte in key", Encode(nil, kv("\xc3\xa9", "v")), 0, "byte 0xc3 at index 0"},
		{"duplicate content length", Encode(nil, kv("CONTENT_LENGTH", "5", "CONTENT_LENGTH", "5")), 0, `duplicate CONTENT_LENGTH ("5" and "5")`},
		{"duplicate, second empty", Encode(nil, kv("CONTENT_LENGTH", "5", "CONTENT_LENGTH", "")), 0, "duplicate CONTENT_LENGTH"},
		{"negative content length", Encode(nil, kv("CONTENT_LENGTH", "-1")), 0, `CONTENT_LENGTH "-1" is not a plain decimal number`},
		{"plus content length", Encode(nil, kv("CONTENT_LENGTH", "+1")), 0, "not a plain decimal"},
		{"spaced content length", Encode(nil, kv("CONTENT_LENGTH", " 1")), 0, "not a plain decimal"},
		{"hex content length", Encode(nil, kv("CONTENT_LENGTH", "0x10")), 0, "not a plain decimal"},
		{"overflow content length", Encode(nil, kv("CONTENT_LENGTH", "9223372036854775808")), 0, `CONTENT_LENGTH "9223372036854775808" overflows int64`},
		{"long bad value is truncated", Encode(nil, kv("CONTENT_LENGTH", strings.Repeat("x", 1000))), 0, `xx"...(1000 bytes) is not`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var p Packet
			err := Parse(tt.buf, tt.maxVars, &p)
			var pe *Error
			if !errors.As(err, &pe) {
				t.Fatalf("Parse error = %v, want *Error", err)
			}
			if !strings.Contains(pe.Reason, tt.want) {
				t.Errorf("reason %q does not contain %q", pe.Reason, tt.want)
			}
			if !strings.HasPrefix(err.Error(), "uwsgi packet: ") {
				t.Errorf("Error() = %q, want uwsgi packet: prefix", err.Error())
			}
		})
	}
}

func TestParseIncomplete(t *testing.T) {
	pkt := Encode(nil, nginxVars("3"))
	var p Packet
	for i := 0; i < len(pkt); i++ {
		if err := Parse(pkt[:i], 0, &p); err != ErrIncomplete {
			t.Fatalf("Parse(first %d of %d bytes) = %v, want ErrIncomplete", i, len(pkt), err)
		}
	}
	if err := Parse(pkt, 0, &p); err != nil {
		t.Fatalf("Parse(full) = %v", err)
	}
	// A bad header is reported as soon as it is complete, without waiting
	// for a vars block that may never come.
	if err := Parse(raw(1, 100, 0), 0, &p); err == ErrIncomplete || err == nil {
		t.Fatalf("bad modifier with missing vars: got %v, want *Error", err)
	}
}

func TestParseHeader(t *testing.T) {
	n, err := ParseHeader([4]byte{0, 0x34, 0x12, 0}, 0)
	if err != nil || n != 0x1234 {
		t.Fatalf("ParseHeader = %d, %v; want 4660, nil", n, err)
	}
	if n, err := ParseHeader([4]byte{0, 0xff, 0xff, 0}, MaxVarsLen); err != nil || n != MaxVarsLen {
		t.Fatalf("max datasize: %d, %v", n, err)
	}
	if _, err := ParseHeader([4]byte{0, 0x01, 0x10, 0}, 4096); err == nil ||
		err.Error() != "uwsgi packet: vars block of 4097 bytes exceeds buffer-size 4096" {
		t.Fatalf("limit error = %v", err)
	}
}

func TestGet(t *testing.T) {
	var p Packet
	if err := Parse(Encode(nil, kv("A", "1", "B", "", "A", "2")), 0, &p); err != nil {
		t.Fatal(err)
	}
	if v, ok := p.Get("A"); !ok || string(v) != "1" {
		t.Errorf("Get(A) = %q, %v; want first value", v, ok)
	}
	if v, ok := p.Get("B"); !ok || len(v) != 0 {
		t.Errorf("Get(B) = %q, %v; want empty, true", v, ok)
	}
	if _, ok := p.Get("C"); ok {
		t.Error("Get(C) found a missing key")
	}
}

func TestParseReusesVars(t *testing.T) {
	pkt := Encode(nil, nginxVars("0"))
	var p Packet
	if err := Parse(pkt, 0, &p); err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(100, func() {
		if err := Parse(pkt, 0, &p); err != nil {
			t.Fatal(err)
		}
		if _, ok := p.Get("HTTP_HOST"); !ok {
			t.Fatal("no HTTP_HOST")
		}
	})
	if allocs != 0 {
		t.Errorf("Parse allocates %.1f times per call with a warm Packet", allocs)
	}
}

// TestBodyLooksLikePacket sends a request whose body is itself a well-formed
// uwsgi packet, followed by a genuine second request on the same stream. The
// server must treat the embedded packet as opaque body bytes.
func TestBodyLooksLikePacket(t *testing.T) {
	fake := Encode(nil, kv("REQUEST_METHOD", "DELETE", "PATH_INFO", "/admin", "CONTENT_LENGTH", "0"))
	first := Encode(nil, kv("REQUEST_METHOD", "POST", "PATH_INFO", "/upload", "CONTENT_LENGTH", strconv.Itoa(len(fake))))
	second := Encode(nil, kv("REQUEST_METHOD", "GET", "PATH_INFO", "/next", "CONTENT_LENGTH", ""))

	var stream []byte
	stream = append(stream, first...)
	stream = append(stream, fake...)
	stream = append(stream, second...)
	// A small bufio buffer forces the head and the body to straddle fills.
	r := bufio.NewReaderSize(bytes.NewReader(stream), 16)

	var p Packet
	var buf []byte
	var err error
	buf, err = ReadHead(r, buf, 0, &p)
	if err != nil {
		t.Fatal(err)
	}
	if m, _ := p.Get("PATH_INFO"); string(m) != "/upload" {
		t.Fatalf("first PATH_INFO = %q", m)
	}
	body, err := io.ReadAll(BodyReader(r, p.ContentLength))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(body, fake) {
		t.Fatalf("body = %q, want the embedded packet %q", body, fake)
	}

	buf, err = ReadHead(r, buf, 0, &p)
	if err != nil {
		t.Fatal(err)
	}
	if m, _ := p.Get("PATH_INFO"); string(m) != "/next" {
		t.Fatalf("second PATH_INFO = %q, want /next (stream desynchronised)", m)
	}
	if p.ContentLength != 0 {
		t.Fatalf("second ContentLength = %d", p.ContentLength)
	}
	if n, err := io.Copy(io.Discard, BodyReader(r, p.ContentLength)); n != 0 || err != nil {
		t.Fatalf("empty body: %d, %v", n, err)
	}
	if _, err := ReadHead(r, buf, 0, &p); err != io.EOF {
		t.Fatalf("after last request: %v, want io.EOF", err)
	}
}

func TestBodyReader(t *testing.T) {
	r := bufio.NewReader(strings.NewReader("helloNEXT"))
	got, err := io.ReadAll(BodyReader(r, 5))
	if err != nil || string(got) != "hello" {
		t.Fatalf("ReadAll = %q, %v", got, err)
	}
	rest, _ := io.ReadAll(r)
	if string(rest) != "NEXT" {
		t.Fatalf("left in stream: %q, want NEXT", rest)
	}

	// Negative and zero lengths read nothing.
	r = bufio.NewReader(strings.NewReader("abc"))
	if got, err := io.ReadAll(BodyReader(r, -1)); len(got) != 0 || err != nil {
		t.Fatalf("n=-1: %q, %v", got, err)
	}

	// A body cut short is an error, not a short success.
	r = bufio.NewReader(strings.NewReader("abc"))
	got, err = io.ReadAll(BodyReader(r, 10))
	if string(got) != "abc" || err != io.ErrUnexpectedEOF {
		t.Fatalf("truncated body: %q, %v; want abc, io.ErrUnexpectedEOF", got, err)
	}

	// Exactly n bytes then EOF from the source is a complete body.
	r = bufio.NewReader(strings.NewReader("abc"))
	if got, err := io.ReadAll(BodyReader(r, 3)); string(got) != "abc" || err != nil {
		t.Fatalf("exact body: %q, %v", got, err)
	}
}

func TestReadHeadErrors(t *testing.T) {
	var p Packet
	pkt := Encode(nil, nginxVars("0"))
	_, err := ReadHead(bytes.NewReader(pkt[:2]), nil, 0, &p)
	if err != io.ErrUnexpectedEOF {
		t.Errorf("cut in header: %v", err)
	}
	_, err = ReadHead(bytes.NewReader(pkt[:10]), nil, 0, &p)
	if err != io.ErrUnexpectedEOF {
		t.Errorf("cut in vars: %v", err)
	}
	_, err = ReadHead(bytes.NewReader(pkt), nil, 16, &p)
	var pe *Error
	if !errors.As(err, &pe) || !strings.Contains(pe.Reason, "exceeds buffer-size 16") {
		t.Errorf("over limit: %v", err)
	}
}

func TestEncodePanics(t *testing.T) {
	for _, vars := range [][]Var{
		{{Key: []byte("K"), Value: make([]byte, MaxVarsLen+1)}},
		kv("A", strings.Repeat("x", 40000), "B", strings.Repeat("y", 40000)),
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Error("Encode did not panic on an oversized vars block")
				}
			}()
			Encode(nil, vars)
		}()
	}
}

func BenchmarkParse(b *testing.B) {
	pkt := Encode(nil, nginxVars("11"))
	var p Packet
	b.SetBytes(int64(len(pkt)))
	b.ReportAllocs()
	for b.Loop() {
		if err := Parse(pkt, 0, &p); err != nil {
			b.Fatal(err)
		}
	}
}
