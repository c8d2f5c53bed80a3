package httpwire

import (
	"bufio"
	"io"
	"strings"
	"testing"
)

// BenchmarkParse parses a typical browser GET with 8 header fields.
func BenchmarkParse(b *testing.B) {
	buf := []byte(browserGET)
	var req Request
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		if err := Parse(buf, nil, &req); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkHeadEnd(b *testing.B) {
	buf := []byte(browserGET)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		if HeadEnd(buf, 0) != len(buf) {
			b.Fatal("bad end")
		}
	}
}

// BenchmarkChunked decodes a 64 KiB body sent in 4 KiB chunks.
func BenchmarkChunked(b *testing.B) {
	chunk := "1000\r\n" + strings.Repeat("x", 4096) + "\r\n"
	body := strings.Repeat(chunk, 16) + "0\r\n\r\n"
	sr := strings.NewReader(body)
	br := bufio.NewReaderSize(sr, 16<<10)
	cr := NewChunkedReader(br, nil)
	p := make([]byte, 32<<10)
	b.SetBytes(16 * 4096)
	b.ReportAllocs()
	for b.Loop() {
		sr.Reset(body)
		br.Reset(sr)
		cr.Reset(br)
		for {
			if _, err := cr.Read(p); err == io.EOF {
				break
			} else if err != nil {
				b.Fatal(err)
			}
		}
	}
}
