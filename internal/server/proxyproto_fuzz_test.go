package server

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strconv"
	"testing"
)

// FuzzProxyProtocol checks parseProxyHeader against properties that hold
// for any input: it never panics, a header is accepted only if it is
// exactly the canonical encoding of what was parsed (so two readers cannot
// disagree about it), a prefix of an accepted header is incomplete, and a
// refusal is final whatever follows.
func FuzzProxyProtocol(f *testing.F) {
	for _, tt := range proxyValidCases {
		f.Add(tt.in)
		f.Add(append(append([]byte(nil), tt.in...), "GET / HTTP/1.1\r\n"...))
	}
	for _, in := range proxyInvalidCases {
		f.Add(in)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		h, n, err := parseProxyHeader(data)
		switch {
		case err == nil:
			checkProxyAccepted(t, data, h, n)
		case err == errProxyIncomplete:
			if len(data) >= maxProxyHeader {
				t.Fatalf("incomplete after %d bytes", len(data))
			}
		default:
			var pe proxyError
			if !errors.As(err, &pe) {
				t.Fatalf("unexpected error type %T: %v", err, err)
			}
			more := append(append([]byte(nil), data...), data...)
			if _, _, err2 := parseProxyHeader(more); !errors.As(err2, &pe) {
				t.Fatalf("refused %q, but accepted it followed by more bytes (%v)", data, err2)
			}
		}
	})
}

func checkProxyAccepted(t *testing.T, data []byte, h proxyHeader, n int) {
	if n <= 0 || n > len(data) || n > maxProxyHeader {
		t.Fatalf("consumed %d of %d bytes", n, len(data))
	}
	hdr := data[:n]
	if h2, n2, err := parseProxyHeader(hdr); err != nil || n2 != n || h2 != h {
		t.Fatalf("the header alone parses differently: %+v %d %v vs %+v %d", h2, n2, err, h, n)
	}
	if _, _, err := parseProxyHeader(hdr[:n-1]); err != errProxyIncomplete {
		t.Fatalf("one byte short: %v, want incomplete", err)
	}
	if !h.local && (!h.src.IsValid() || !h.dst.IsValid() || h.src.Addr().Is4In6() || h.src.Addr().Zone() != "") {
		t.Fatalf("bad addresses %v %v", h.src, h.dst)
	}
	switch h.version {
	case 1:
		if hdr[n-2] != '\r' || hdr[n-1] != '\n' || n > proxyV1Max {
			t.Fatalf("v1 header %q", hdr)
		}
		if bytes.HasPrefix(hdr, []byte("PROXY UNKNOWN")) != h.local {
			t.Fatalf("v1 %q: local %v", hdr, h.local)
		}
		if !h.local && h.src.Addr().Is4() && bytes.HasPrefix(hdr, []byte("PROXY TCP4 ")) {
			canon := "PROXY TCP4 " + h.src.Addr().String() + " " + h.dst.Addr().String() + " " +
				strconv.Itoa(int(h.src.Port())) + " " + strconv.Itoa(int(h.dst.Port())) + "\r\n"
			if string(hdr) != canon {
				t.Fatalf("accepted %q, canonical form %q", hdr, canon)
			}
		}
	case 2:
		if !bytes.HasPrefix(hdr, []byte(proxyV2Prefix)) || int(binary.BigEndian.Uint16(hdr[14:16]))+16 != n {
			t.Fatalf("v2 header %q", hdr)
		}
		if hdr[12]>>4 != 2 || hdr[12]&0xf > 1 {
			t.Fatalf("v2 version/command %#x accepted", hdr[12])
		}
		if !h.local {
			var addrs []byte
			src, dst := h.src.Addr(), h.dst.Addr()
			if hdr[13] == 0x11 {
				a, b := src.As4(), dst.As4()
				addrs = append(append(addrs, a[:]...), b[:]...)
			} else if hdr[13] == 0x21 {
				// As16 gives an unmapped IPv4 address back in the mapped form it had on the wire.
				a, b := src.As16(), dst.As16()
				addrs = append(append(addrs, a[:]...), b[:]...)
			} else {
				t.Fatalf("v2 family %#x gave addresses", hdr[13])
			}
			addrs = binary.BigEndian.AppendUint16(addrs, h.src.Port())
			addrs = binary.BigEndian.AppendUint16(addrs, h.dst.Port())
			if !bytes.Equal(hdr[16:16+len(addrs)], addrs) {
				t.Fatalf("v2 addresses %x parsed as %v %v", hdr[16:16+len(addrs)], h.src, h.dst)
			}
		}
	default:
		t.Fatalf("version %d", h.version)
	}
}
