package uwsgiproto

import (
	"bytes"
	"errors"
	"testing"
)

func FuzzParse(f *testing.F) {
	f.Add(Encode(nil, nginxVars("11")))
	f.Add(Encode(nil, kv("CONTENT_LENGTH", "5", "CONTENT_LENGTH", "5")))
	f.Add(Encode(nil, kv("CONTENT_LENGTH", "99999999999999999999")))
	f.Add(raw(0, 7, 0, u16(1), []byte("A"), u16(1), []byte("b"), []byte{9}))
	f.Add(raw(0, 4, 0, u16(0), u16(0)))
	f.Add(raw(1, 0, 0))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		var p Packet
		err := Parse(data, 0, &p)
		if err != nil {
			var pe *Error
			if err != ErrIncomplete && !errors.As(err, &pe) {
				t.Fatalf("unexpected error type %T: %v", err, err)
			}
			if err == ErrIncomplete && len(data) >= HeaderLen {
				n, _ := ParseHeader([4]byte(data[:HeaderLen]), 0)
				if len(data) >= HeaderLen+n {
					t.Fatalf("ErrIncomplete with %d bytes for a %d-byte head", len(data), HeaderLen+n)
				}
			}
			return
		}
		if p.HeadLen < HeaderLen || p.HeadLen > len(data) {
			t.Fatalf("HeadLen %d out of range (len %d)", p.HeadLen, len(data))
		}
		if p.ContentLength < 0 {
			t.Fatalf("negative ContentLength %d", p.ContentLength)
		}

		// Round trip: the encoding is canonical, so re-encoding the parsed
		// vars must reproduce the head byte for byte.
		enc := Encode(nil, p.Vars)
		if !bytes.Equal(enc, data[:p.HeadLen]) {
			t.Fatalf("Encode(Parse(x)) != x:\n got %q\nwant %q", enc, data[:p.HeadLen])
		}
		var q Packet
		if err := Parse(enc, 0, &q); err != nil {
			t.Fatalf("re-parse: %v", err)
		}
		if q.HeadLen != p.HeadLen || q.ContentLength != p.ContentLength || len(q.Vars) != len(p.Vars) {
			t.Fatalf("re-parse differs: %+v vs %+v", q, p)
		}
		for i, v := range p.Vars {
			if len(v.Key) == 0 {
				t.Fatalf("var %d has an empty key", i)
			}
			if got, ok := q.Get(string(v.Key)); !ok {
				t.Fatalf("Get(%q) missing after round trip", v.Key)
			} else if first, _ := p.Get(string(v.Key)); !bytes.Equal(got, first) {
				t.Fatalf("Get(%q) = %q, want %q", v.Key, got, first)
			}
		}

		// Every proper prefix of a valid head is merely incomplete.
		for _, k := range []int{0, HeaderLen - 1, p.HeadLen / 2, p.HeadLen - 1} {
			if k >= 0 && k < p.HeadLen {
				if err := Parse(data[:k], 0, &q); err != ErrIncomplete {
					t.Fatalf("Parse(prefix %d of %d) = %v, want ErrIncomplete", k, p.HeadLen, err)
				}
			}
		}

		// A buffer-size limit below the block size must reject it.
		if size := p.HeadLen - HeaderLen; size > 0 {
			var pe *Error
			if err := Parse(data, size-1, &q); !errors.As(err, &pe) {
				t.Fatalf("limit %d on %d-byte block: %v", size-1, size, err)
			}
		}
	})
}
