package server

import (
	"bytes"
	"io"
	"testing"
	"testing/iotest"
)

// A body's buffer grows with what arrives, not with what is declared.
func TestReadGrowingHoldsWhatArrived(t *testing.T) {
	const declared = 1 << 20
	// One byte, then the client stalls (here: ends).
	buf, err := readGrowing(nil, bytes.NewReader([]byte("x")), declared)
	if err != io.ErrUnexpectedEOF || len(buf) != 1 || cap(buf) > 2*firstBodyBuffer {
		t.Fatalf("1 byte of a declared 1 MiB: len %d cap %d err %v; want cap <= %d and ErrUnexpectedEOF", len(buf), cap(buf), err, 2*firstBodyBuffer)
	}
	// The whole body, in small reads: every byte, in order, and no more
	// room than doubling needs.
	data := bytes.Repeat([]byte("0123456789abcdef"), declared/16)
	buf, err = readGrowing(nil, iotest.HalfReader(bytes.NewReader(append(data, "next request"...))), declared)
	if err != nil || !bytes.Equal(buf, data) || cap(buf) > 2*declared {
		t.Fatalf("whole body: err %v, equal %v, cap %d", err, bytes.Equal(buf, data), cap(buf))
	}
	// A reused buffer keeps its room and its bytes are replaced.
	again, err := readGrowing(buf[:0], bytes.NewReader(data[:100]), 100)
	if err != nil || !bytes.Equal(again, data[:100]) || &again[0] != &buf[0] {
		t.Fatalf("reused buffer: err %v, %q", err, again)
	}
	// An empty body reads nothing.
	if b, err := readGrowing(nil, iotest.ErrReader(io.ErrClosedPipe), 0); err != nil || len(b) != 0 {
		t.Fatalf("empty body: %v %v", b, err)
	}
}
