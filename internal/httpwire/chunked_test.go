package httpwire

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

var chunkedValid = []struct{ in, out string }{
	{"0\r\n\r\n", ""},
	{"5\r\nhello\r\n0\r\n\r\n", "hello"},
	{"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", "hello world"},
	{"a\r\n0123456789\r\nA\r\nabcdefghij\r\n0\r\n\r\n", "0123456789abcdefghij"},
	{"0005\r\nhello\r\n0000\r\n\r\n", "hello"},
	{"0000000000000005\r\nhello\r\n0\r\n\r\n", "hello"},
	{"4\r\n\r\n\r\n\r\n0\r\n\r\n", "\r\n\r\n"},
	{"3\r\n\x00\xff\n\r\n0\r\n\r\n", "\x00\xff\n"},
	{"5;a\r\nhello\r\n0\r\n\r\n", "hello"},
	{"5;a=b\r\nhello\r\n0\r\n\r\n", "hello"},
	{"5 ;a=b\r\nhello\r\n0\r\n\r\n", "hello"},
	{"5\t; a = b ;c;d\t=\te\r\nhello\r\n0\r\n\r\n", "hello"},
	{"5;a=\"b c;d=e\"\r\nhello\r\n0\r\n\r\n", "hello"},
	{"5;a=\"\\\"\\\\\"\r\nhello\r\n0\r\n\r\n", "hello"},
	{"5;a=\"\"\r\nhello\r\n0\r\n\r\n", "hello"},
	{"5;a=\"\xff\t\\\xfe\"\r\nhello\r\n0\r\n\r\n", "hello"},
	{"5;!#$%&'*+-.^_`|~=!#$%&'*+-.^_`|~\r\nhello\r\n0\r\n\r\n", "hello"},
	{"0;last=1\r\n\r\n", ""},
	{"0\r\nA: b\r\n\r\n", ""},
	{"0\r\nA:b\r\nC-D: e \t\r\nE:\r\nF: \xe9\r\n\r\n", ""},
	{"1\r\nx\r\n0;e\r\nExpires: never\r\n\r\n", "x"},
}

// chunkedInvalid all end without a trailer CRLF too early: each is an
// error at the marked point, whatever follows.
var chunkedInvalid = []string{
	"x\r\n", "0x5\r\nhello\r\n0\r\n\r\n", "-5\r\n", "+5\r\n", " 5\r\n", "5 \r\n", "\t5\r\n", "5\t\r\n",
	"00000000000000005\r\nhello\r\n0\r\n\r\n", "8000000000000000\r\n", "ffffffffffffffff\r\n",
	"\r\n", "5\n", "5\r\r\n", "5\rx", "5x\r\n", "5,a\r\n", "5 5\r\n",
	"5;\r\n", "5;=a\r\n", "5;a=\r\n", "5;a =\r\n", "5;a b\r\n", "5;a=b c\r\n", "5;a ;\r\n", "5;a \r\n",
	"5;a= b \r\n", "5;a=b;\r\n", "5;a\nb\r\n", "5;a=\"b\r\n", "5;a=\"\x00\"\r\n", "5;a=\"\\\x01\"\r\n",
	"5;a=\"b\"c\r\n", "5;(\r\n", "5;a=(\r\n", "5;a=\"b\nc\"\r\n", "5;a=\"\x7f\"\r\n", "5;a\r\r\n",
	"5\r\nhelloX\r\n", "5\r\nhello\n0\r\n\r\n", "5\r\nhello\rX", "5\r\nhello\r\r\n", "5\r\nhello0\r\n\r\n",
	"0\r\n\n", "0\r\nA: b\n\r\n", "0\r\nA: b\r\n c\r\n\r\n", "0\r\n b\r\n\r\n", "0\r\nA : b\r\n\r\n",
	"0\r\n: b\r\n\r\n", "0\r\nA\r\n\r\n", "0\r\nA: \x00\r\n\r\n", "0\r\nA: b\rc\r\n\r\n", "0\r\n\r\r\n",
	"0\r\nA(: b\r\n\r\n", "0\r\nA: \x7f\r\n\r\n", "0\r\n\x80: b\r\n\r\n", "0\r\nA: b\r\n\rx",
}

// readers returns differently chunked views of s: whole, one byte per
// underlying read with the smallest bufio buffer, and half reads.
func readers(s string) map[string]*bufio.Reader {
	return map[string]*bufio.Reader{
		"whole":    bufio.NewReader(strings.NewReader(s)),
		"one-byte": bufio.NewReaderSize(iotest.OneByteReader(strings.NewReader(s)), 16),
		"half":     bufio.NewReaderSize(iotest.HalfReader(strings.NewReader(s)), 16),
	}
}

// readAll reads cr to the end with reads of at most n bytes.
func readAll(cr *ChunkedReader, n int) ([]byte, error) {
	var out []byte
	p := make([]byte, n)
	for {
		k, err := cr.Read(p)
		out = append(out, p[:k]...)
		if err != nil {
			return out, err
		}
	}
}

func TestChunkedValid(t *testing.T) {
	const next = "GET / HTTP/1.1\r\n"
	for _, tt := range chunkedValid {
		for name := range readers("") {
			for _, n := range []int{1, 3, 4096} {
				br := readers(tt.in + next)[name]
				out, err := readAll(NewChunkedReader(br, nil), n)
				if err != io.EOF || string(out) != tt.out {
					t.Errorf("%q (%s, reads of %d): got %q, %v; want %q, EOF", tt.in, name, n, out, err, tt.out)
					continue
				}
				// The decoder must not eat the next request.
				rest, _ := io.ReadAll(br)
				if string(rest) != next {
					t.Errorf("%q (%s): left %q after the body", tt.in, name, rest)
				}
			}
		}
	}
}

func TestChunkedInvalid(t *testing.T) {
	for _, in := range chunkedInvalid {
		for name, br := range readers(in) {
			cr := NewChunkedReader(br, nil)
			_, err := readAll(cr, 7)
			var e *Error
			if !errors.As(err, &e) || e.Status != 400 {
				t.Errorf("%q (%s): got %v, want a 400 *Error", in, name, err)
				continue
			}
			if _, err2 := cr.Read(make([]byte, 8)); err2 != err {
				t.Errorf("%q: error not sticky: %v then %v", in, err, err2)
			}
		}
	}
}

// TestChunkedTruncated cuts valid bodies short: the decoder returns a
// prefix of the body and then io.ErrUnexpectedEOF, never a 400.
func TestChunkedTruncated(t *testing.T) {
	for _, tt := range chunkedValid {
		for k := 0; k < len(tt.in); k++ {
			out, err := readAll(NewChunkedReader(bufio.NewReader(strings.NewReader(tt.in[:k])), nil), 64)
			if err != io.ErrUnexpectedEOF || !strings.HasPrefix(tt.out, string(out)) {
				t.Errorf("%q cut at %d: got %q, %v", tt.in, k, out, err)
			}
		}
	}
}

func TestChunkedLimits(t *testing.T) {
	lim := &Limits{MaxFieldSize: 10, MaxHeadBytes: 20}
	tests := []struct {
		in string
		ok bool
	}{
		{"1;abcdefgh\r\nx\r\n0\r\n\r\n", true}, // chunk line of 10 bytes
		{"1;abcdefghi\r\nx\r\n0\r\n\r\n", false},
		{"1;abcdefghijklmnopqrstuvwxyz", false},
		{"0\r\nA: 0123456789abc\r\n\r\n", true}, // trailer section of 20 bytes
		{"0\r\nA: 0123456789abcd\r\n\r\n", false},
		{"0\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n", false},
	}
	for _, tt := range tests {
		_, err := readAll(NewChunkedReader(bufio.NewReader(strings.NewReader(tt.in)), lim), 64)
		if tt.ok != (err == io.EOF) || !tt.ok && status(err) != 400 {
			t.Errorf("%q: %v", tt.in, err)
		}
	}
}

// TestChunkedReadErrors checks that I/O errors pass through unchanged.
func TestChunkedReadErrors(t *testing.T) {
	boom := errors.New("boom")
	for _, in := range []string{"", "5", "5\r\nhel", "5\r\nhello", "5\r\nhello\r\n0\r\nA: b"} {
		r := io.MultiReader(strings.NewReader(in), iotest.ErrReader(boom))
		out, err := readAll(NewChunkedReader(bufio.NewReader(r), nil), 64)
		if err != boom || !strings.HasPrefix("hello", string(out)) {
			t.Errorf("%q: got %q, %v", in, out, err)
		}
	}
}

func TestChunkedResetAllocs(t *testing.T) {
	body := strings.Repeat("400;ext=\"v\"\r\n"+strings.Repeat("x", 1024)+"\r\n", 8) + "0\r\nT: v\r\n\r\n"
	sr := strings.NewReader(body)
	br := bufio.NewReader(sr)
	cr := NewChunkedReader(br, nil)
	p := make([]byte, 4096)
	n := testing.AllocsPerRun(50, func() {
		sr.Reset(body)
		br.Reset(sr)
		cr.Reset(br)
		total := 0
		for {
			k, err := cr.Read(p)
			total += k
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		if total != 8*1024 {
			t.Fatalf("decoded %d bytes", total)
		}
	})
	if n != 0 {
		t.Errorf("%v allocations per body", n)
	}
	if k, err := cr.Read(nil); k != 0 || err != io.EOF {
		t.Errorf("Read after EOF: %d, %v", k, err)
	}
}

func TestChunkedEmptyRead(t *testing.T) {
	cr := NewChunkedReader(bufio.NewReader(strings.NewReader("5\r\nhello\r\n0\r\n\r\n")), nil)
	if k, err := cr.Read(nil); k != 0 || err != nil {
		t.Errorf("Read(nil) = %d, %v", k, err)
	}
	out, err := readAll(cr, 2)
	if err != io.EOF || !bytes.Equal(out, []byte("hello")) {
		t.Errorf("got %q, %v", out, err)
	}
}
