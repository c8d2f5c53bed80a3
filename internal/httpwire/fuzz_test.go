package httpwire

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"regexp"
	"strconv"
	"testing"
	"testing/iotest"
	"unsafe"
)

var smallLimits = Limits{MaxRequestLine: 64, MaxHeaderCount: 8, MaxFieldSize: 48, MaxHeadBytes: 256}

// within reports whether s lies inside buf (or is the shared "/").
func within(s, buf []byte) bool {
	if len(s) == 0 {
		return true
	}
	if unsafe.SliceData(s) == unsafe.SliceData(slash) && len(s) == 1 {
		return true
	}
	b0 := uintptr(unsafe.Pointer(unsafe.SliceData(buf)))
	s0 := uintptr(unsafe.Pointer(unsafe.SliceData(s)))
	return s0 >= b0 && s0+uintptr(len(s)) <= b0+uintptr(len(buf))
}

var knownStatus = map[int]bool{400: true, 414: true, 417: true, 431: true, 501: true, 505: true}

func FuzzParse(f *testing.F) {
	for _, c := range Corpus() {
		f.Add([]byte(c.Raw), false, uint16(len(c.Raw)/2))
		f.Add([]byte(c.Raw), true, uint16(7))
	}
	f.Fuzz(func(t *testing.T, data []byte, small bool, cut uint16) {
		lim := DefaultLimits()
		if small {
			lim = smallLimits
		}
		var req Request
		err := Parse(data, &lim, &req)
		switch {
		case err == nil:
			checkParsed(t, data, &lim, &req)
		case err == ErrIncomplete:
			if len(data) >= lim.MaxHeadBytes {
				t.Fatalf("incomplete with %d bytes, MaxHeadBytes %d", len(data), lim.MaxHeadBytes)
			}
		default:
			var e *Error
			if !errors.As(err, &e) || !knownStatus[e.Status] || e.Reason == "" {
				t.Fatalf("unexpected error %#v", err)
			}
		}
		// Any prefix agrees with the whole.
		if len(data) > 0 {
			k := int(cut) % len(data)
			checkPrefix(t, data, k, &lim, err, &req)
			checkPrefix(t, data, len(data)-1, &lim, err, &req)
		}
	})
}

func checkParsed(t *testing.T, data []byte, lim *Limits, req *Request) {
	if req.HeadLen <= 0 || req.HeadLen > len(data) || req.HeadLen > lim.MaxHeadBytes {
		t.Fatalf("HeadLen %d of %d bytes", req.HeadLen, len(data))
	}
	if !bytes.HasSuffix(data[:req.HeadLen], []byte("\r\n\r\n")) && req.HeadLen != 0 {
		t.Fatalf("head does not end with CRLF CRLF: %q", data[:req.HeadLen])
	}
	if e := HeadEnd(data, 0); e != req.HeadLen {
		t.Fatalf("HeadEnd %d, HeadLen %d", e, req.HeadLen)
	}
	h := data[:req.HeadLen]
	for _, s := range [][]byte{req.Method, req.Target, req.Path, req.Query, req.Host} {
		if !within(s, h) {
			t.Fatalf("slice %q not within the head", s)
		}
	}
	if !IsToken(req.Method) || len(req.Target) == 0 || len(req.Path) == 0 {
		t.Fatalf("bad request line: %q %q %q", req.Method, req.Target, req.Path)
	}
	if len(req.Headers) > lim.MaxHeaderCount {
		t.Fatalf("%d fields", len(req.Headers))
	}
	for _, f := range req.Headers {
		if !within(f.Name, h) || !within(f.Value, h) || !IsToken(f.Name) {
			t.Fatalf("bad field %q: %q", f.Name, f.Value)
		}
		if len(f.Value) > 0 && (isWS(f.Value[0]) || isWS(f.Value[len(f.Value)-1])) {
			t.Fatalf("untrimmed value %q", f.Value)
		}
		for _, c := range f.Value {
			if c < ' ' && c != '\t' || c == 0x7f {
				t.Fatalf("CTL in value %q", f.Value)
			}
		}
	}
	if req.Chunked && req.ContentLength >= 0 || req.ProtoMinor > 1 || req.ProtoMinor == 0 && req.Chunked {
		t.Fatalf("inconsistent framing: %+v", req)
	}
	if msg := refCheckHead(h, req.ProtoMinor); msg != "" {
		t.Fatalf("accepted an invalid head (%s): %q", msg, h)
	}
	// Same input, same result; and the head alone is enough.
	for _, b := range [][]byte{data, data[:req.HeadLen]} {
		var req2 Request
		if err := Parse(b, lim, &req2); err != nil {
			t.Fatalf("re-parse: %v", err)
		}
		if !equalRequests(req, &req2) {
			t.Fatalf("re-parse differs:\n%+v\n%+v", req, &req2)
		}
	}
}

func equalRequests(a, b *Request) bool {
	if !bytes.Equal(a.Method, b.Method) || !bytes.Equal(a.Target, b.Target) || !bytes.Equal(a.Path, b.Path) ||
		!bytes.Equal(a.Query, b.Query) || !bytes.Equal(a.Host, b.Host) || a.HasQuery != b.HasQuery ||
		a.ProtoMinor != b.ProtoMinor || a.ContentLength != b.ContentLength || a.Chunked != b.Chunked ||
		a.KeepAlive != b.KeepAlive || a.ExpectContinue != b.ExpectContinue || a.HeadLen != b.HeadLen ||
		len(a.Headers) != len(b.Headers) {
		return false
	}
	for i := range a.Headers {
		if !bytes.Equal(a.Headers[i].Name, b.Headers[i].Name) || !bytes.Equal(a.Headers[i].Value, b.Headers[i].Value) {
			return false
		}
	}
	return true
}

// A reference chunked decoder, written differently on purpose (whole
// buffer, lines, regular expressions) to cross-check ChunkedReader.

const (
	refTchar = "[-!#$%&'*+.^_`|~0-9A-Za-z]"
	refQuote = `"(?:[\t !#-\[\]-~<]|\\[\t -~<])*"`
)

var (
	refChunkLine = regexp.MustCompile(`^([0-9A-Fa-f]{1,16})(?:[ \t]*;[ \t]*` + refTchar + `+(?:[ \t]*=[ \t]*(?:` +
		refTchar + `+|` + refQuote + `))?)*$`)
	refField = regexp.MustCompile(`^` + refTchar + `+:[\t -~<]*$`)
)

var (
	refRequestLine = regexp.MustCompile("^" + refTchar + `+ [!-"$-~]+ HTTP/1\.[01]$`)
	refCL          = regexp.MustCompile(`^[0-9]{1,18}$`)
	refTE          = regexp.MustCompile(`^(?i:chunked)$`)
	refExpect      = regexp.MustCompile(`^(?i:100-continue)$`)
)

// refCheckHead is an independent check that an accepted head is valid: its
// syntax, and the framing rules. It returns what is wrong, or "".
func refCheckHead(h []byte, minor int) string {
	h = bytes.TrimSuffix(h, []byte("\r\n\r\n"))
	for k := 0; k < 4 && bytes.HasPrefix(h, []byte("\r\n")); k++ {
		h = h[2:]
	}
	mapped := make([]byte, len(h))
	for i, c := range h {
		if c >= 0x80 {
			c = '<'
		}
		mapped[i] = c
	}
	lines := bytes.Split(mapped, []byte("\r\n"))
	// The request line is checked unmapped: obs-text is not allowed there.
	if !refRequestLine.Match(bytes.SplitN(h, []byte("\r\n"), 2)[0]) {
		return "request line"
	}
	count := map[string]int{}
	for _, l := range lines[1:] {
		if !refField.Match(l) {
			return "field line"
		}
		c := bytes.IndexByte(l, ':')
		name := string(bytes.ToLower(l[:c]))
		value := bytes.Trim(l[c+1:], " \t")
		count[name]++
		switch name {
		case "content-length":
			if !refCL.Match(value) {
				return "content-length"
			}
		case "transfer-encoding":
			if !refTE.Match(value) {
				return "transfer-encoding"
			}
		case "expect":
			if !refExpect.Match(value) {
				return "expect"
			}
		}
	}
	switch {
	case count["content-length"] > 1, count["transfer-encoding"] > 1, count["host"] > 1:
		return "repeated field"
	case count["content-length"]+count["transfer-encoding"] > 1:
		return "content-length and transfer-encoding"
	case minor == 1 && count["host"] == 0:
		return "no host"
	case minor == 0 && count["transfer-encoding"] > 0:
		return "transfer-encoding in http/1.0"
	}
	return ""
}

type refResult int

const (
	refOK refResult = iota
	refInvalid
	refIncomplete // ran out of input; the real decoder may also see an error first
)

// refDecode decodes data; consumed is the length of the chunked body.
func refDecode(data []byte, lim Limits) (body []byte, consumed int, res refResult) {
	// Regular expressions work on UTF-8, so map obs-text to '<', which is
	// allowed exactly where obs-text is (quoted strings, field values).
	mapped := make([]byte, len(data))
	for i, c := range data {
		if c >= 0x80 {
			c = '<'
		}
		mapped[i] = c
	}
	pos := 0
	line := func(max int) ([]byte, refResult) {
		nl := bytes.IndexByte(data[pos:], '\n')
		if nl < 0 {
			if len(data)-pos > max+2 {
				return nil, refInvalid
			}
			return nil, refIncomplete
		}
		l := mapped[pos : pos+nl]
		pos += nl + 1
		if len(l) == 0 || l[len(l)-1] != '\r' || bytes.IndexByte(l[:len(l)-1], '\r') >= 0 || len(l)-1 > max {
			return nil, refInvalid
		}
		return l[:len(l)-1], refOK
	}
	for {
		l, r := line(lim.MaxFieldSize)
		if r != refOK {
			return body, 0, r
		}
		m := refChunkLine.FindSubmatch(l)
		if m == nil {
			return body, 0, refInvalid
		}
		size, err := strconv.ParseInt(string(m[1]), 16, 64)
		if err != nil {
			return body, 0, refInvalid
		}
		if size == 0 {
			break
		}
		if int64(len(data)-pos) < size {
			return append(body, data[pos:]...), 0, refIncomplete
		}
		body = append(body, data[pos:pos+int(size)]...)
		pos += int(size)
		switch {
		case len(data)-pos >= 2 && data[pos] == '\r' && data[pos+1] == '\n':
			pos += 2
		case len(data) == pos || len(data)-pos == 1 && data[pos] == '\r':
			return body, 0, refIncomplete
		default:
			return body, 0, refInvalid
		}
	}
	start := pos
	for {
		l, r := line(lim.MaxHeadBytes)
		if r == refOK && pos-start > lim.MaxHeadBytes {
			r = refInvalid
		}
		if r == refIncomplete && len(data)-start > lim.MaxHeadBytes {
			r = refInvalid
		}
		if r != refOK {
			return body, 0, r
		}
		if len(l) == 0 {
			return body, pos, refOK
		}
		if !refField.Match(l) {
			return body, 0, refInvalid
		}
	}
}

func FuzzChunked(f *testing.F) {
	for _, tt := range chunkedValid {
		f.Add([]byte(tt.in), false)
		f.Add([]byte(tt.in+"GET"), true)
	}
	for _, in := range chunkedInvalid {
		f.Add([]byte(in), false)
	}
	for _, c := range Corpus() {
		var req Request
		if Parse([]byte(c.Raw), nil, &req) == nil && req.Chunked {
			f.Add([]byte(c.Raw[req.HeadLen:]), false)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte, small bool) {
		lim := DefaultLimits()
		if small {
			lim = Limits{MaxFieldSize: 12, MaxHeadBytes: 24}
		}
		decode := func(br *bufio.Reader, n int) ([]byte, error) {
			out, err := readAll(NewChunkedReader(br, &lim), n)
			if len(out) > len(data) {
				t.Fatalf("decoded %d bytes from %d", len(out), len(data))
			}
			return out, err
		}
		sr := bytes.NewReader(data)
		br := bufio.NewReader(sr)
		out, err := decode(br, 4096)
		var e *Error
		if err != io.EOF && err != io.ErrUnexpectedEOF && (!errors.As(err, &e) || e.Status != 400) {
			t.Fatalf("unexpected error %v", err)
		}
		// Split reads give the same result.
		out2, err2 := decode(bufio.NewReaderSize(iotest.OneByteReader(bytes.NewReader(data)), 16), 3)
		if !bytes.Equal(out, out2) || err != err2 {
			t.Fatalf("whole: %q, %v; one byte at a time: %q, %v", out, err, out2, err2)
		}
		// Agree with the reference decoder.
		body, consumed, res := refDecode(data, lim)
		switch res {
		case refOK:
			if err != io.EOF || !bytes.Equal(out, body) {
				t.Fatalf("reference: %q, valid; got %q, %v", body, out, err)
			}
			if left := br.Buffered() + sr.Len(); left != len(data)-consumed {
				t.Fatalf("consumed %d bytes, reference %d", len(data)-left, consumed)
			}
		case refInvalid:
			if e == nil || !bytes.HasPrefix(body, out) {
				t.Fatalf("reference: invalid after %q; got %q, %v", body, out, err)
			}
		case refIncomplete:
			if err == io.EOF || !bytes.HasPrefix(body, out) {
				t.Fatalf("reference: incomplete after %q; got %q, %v", body, out, err)
			}
		}
	})
}

// TestRefDecoder makes sure the fuzz oracle itself agrees with the tables,
// so that FuzzChunked is not vacuous.
func TestRefDecoder(t *testing.T) {
	lim := DefaultLimits()
	for _, tt := range chunkedValid {
		body, consumed, res := refDecode([]byte(tt.in+"NEXT"), lim)
		if res != refOK || string(body) != tt.out || consumed != len(tt.in) {
			t.Errorf("%q: %q, %d, %v", tt.in, body, consumed, res)
		}
	}
	for _, in := range chunkedInvalid {
		if _, _, res := refDecode([]byte(in), lim); res == refOK {
			t.Errorf("%q: reference accepts it", in)
		}
	}
}
