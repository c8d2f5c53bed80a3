package httpwire

import "encoding/binary"

// Character classes, looked up through one 256-entry table so that every
// scanning loop costs a load and a test per byte (no branches on ranges).
const (
	cTchar  = 1 << iota // tchar, RFC 9110 §5.6.2
	cValue              // field-vchar / SP / HTAB, RFC 9110 §5.5 (obs-text included)
	cTarget             // bytes accepted in a request-target: VCHAR except '#'
	cHost               // reg-name bytes, RFC 3986 §3.2.2: unreserved / sub-delims ('%' handled apart)
	cIPLit              // bytes accepted between '[' and ']': unreserved / sub-delims / ':'
	cHex                // HEXDIG
)

var ctab = func() (t [256]uint8) {
	for c := 0; c < 256; c++ {
		isAlpha := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		isDigit := c >= '0' && c <= '9'
		if isAlpha || isDigit || contains("!#$%&'*+-.^_`|~", c) {
			t[c] |= cTchar
		}
		if c == '\t' || c >= ' ' && c != 0x7f {
			t[c] |= cValue
		}
		if c > ' ' && c < 0x7f && c != '#' {
			t[c] |= cTarget
		}
		unreserved := isAlpha || isDigit || contains("-._~", c)
		subDelims := contains("!$&'()*+,;=", c)
		if unreserved || subDelims {
			t[c] |= cHost | cIPLit
		}
		if c == ':' {
			t[c] |= cIPLit
		}
		if isDigit || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' {
			t[c] |= cHex
		}
	}
	return t
}()

func contains(s string, c int) bool {
	for i := 0; i < len(s); i++ {
		if int(s[i]) == c {
			return true
		}
	}
	return false
}

// IsToken reports whether b is a non-empty token (RFC 9110 §5.6.2).
func IsToken(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if ctab[c]&cTchar == 0 {
			return false
		}
	}
	return true
}

// unhex returns the value of a hex digit, or 0xff.
func unhex(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10
	}
	return 0xff
}

// PercentByte decodes the escape "%XX" that starts at src[i]; false if
// two hex digits do not follow the '%'.
func PercentByte(src []byte, i int) (byte, bool) {
	if i+2 >= len(src) {
		return 0, false
	}
	hi, lo := unhex(src[i+1]), unhex(src[i+2])
	if hi > 15 || lo > 15 {
		return 0, false
	}
	return hi<<4 | lo, true
}

// lowerEq reports whether b equals the lower-case ASCII string s, ignoring
// ASCII case in b (field names and the tokens we look for are
// case-insensitive, RFC 9110 §5.1).
func lowerEq(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}

// hasPrefixLower is lowerEq for a prefix of b.
func hasPrefixLower(b []byte, s string) bool {
	return len(b) >= len(s) && lowerEq(b[:len(s)], s)
}

// equal reports whether b is exactly s; the conversion in a comparison does
// not allocate.
func equal(b []byte, s string) bool { return string(b) == s }

func isWS(c byte) bool { return c == ' ' || c == '\t' }

// trimOWS strips SP/HTAB from both ends.
func trimOWS(b []byte) []byte {
	for len(b) > 0 && isWS(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && isWS(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

// validHost reports whether h matches uri-host [ ":" port ] (RFC 3986 §3.2.2,
// §3.2.3; RFC 9110 §7.2). The check is on characters and structure only: an
// IP-literal is not parsed as an address. An empty host is allowed here (an
// empty Host field is valid, RFC 9110 §7.2); callers needing a host check h[0].
func validHost(h []byte) bool {
	i := 0
	if len(h) > 0 && h[0] == '[' {
		i = 1
		for i < len(h) && h[i] != ']' {
			if ctab[h[i]]&cIPLit == 0 {
				return false
			}
			i++
		}
		if i == len(h) || i == 1 {
			return false
		}
		i++ // ']'
	} else {
		for i < len(h) && h[i] != ':' {
			c := h[i]
			if c == '%' {
				if i+2 >= len(h) || ctab[h[i+1]]&cHex == 0 || ctab[h[i+2]]&cHex == 0 {
					return false
				}
				i += 3
				continue
			}
			if ctab[c]&cHost == 0 {
				return false
			}
			i++
		}
	}
	if i == len(h) {
		return true
	}
	if h[i] != ':' {
		return false
	}
	for i++; i < len(h); i++ {
		if h[i] < '0' || h[i] > '9' {
			return false
		}
	}
	return true
}

var (
	errBadEscape = &Error{400, "invalid percent-encoding in path"}
	errPathNUL   = &Error{400, "nul in path"}
)

// PercentDecodePath appends the percent-decoded form of src to dst and returns
// the extended slice. Every %XX is decoded, %2F included (WSGI's PATH_INFO is
// the decoded path); '+' is left alone since it only means space in form
// data. A '%' not followed by two hex digits, and a NUL (raw or decoded,
// which would truncate C strings further down), are rejected with a 400.
func PercentDecodePath(dst, src []byte) ([]byte, error) {
	for i := 0; i < len(src); i++ {
		c := src[i]
		if c == '%' {
			var ok bool
			if c, ok = PercentByte(src, i); !ok {
				return dst, errBadEscape
			}
			i += 2
		}
		if c == 0 {
			return dst, errPathNUL
		}
		dst = append(dst, c)
	}
	return dst, nil
}

// SWAR (eight bytes per step) versions of the two longest scans. A word
// with a suspicious byte drops to the table loop, which is the authority,
// so the word tests only need to be exact in saying "all bytes are fine".
const (
	lo8 = 0x0101010101010101
	hi8 = 0x8080808080808080
)

// scanValue returns the index of the first byte at or after i that is not
// field-vchar, SP or HTAB.
func scanValue(s []byte, i int) int {
	for ; i+8 <= len(s); i += 8 {
		x := binary.LittleEndian.Uint64(s[i:])
		del := x ^ 0x7f*lo8
		// A byte < 0x20 (this catches HTAB too, left to the table loop)
		// or a DEL byte. Bytes >= 0x80 (obs-text) are fine.
		if ((x-0x20*lo8)&^x|(del-lo8)&^del)&hi8 != 0 {
			break
		}
	}
	for i < len(s) && ctab[s[i]]&cValue != 0 {
		i++
	}
	return i
}

// scanTarget returns the index of the first byte at or after i that is not
// allowed in a request-target.
func scanTarget(s []byte, i int) int {
	for ; i+8 <= len(s); i += 8 {
		x := binary.LittleEndian.Uint64(s[i:])
		del := x ^ 0x7f*lo8
		hash := x ^ '#'*lo8
		// A byte <= SP, >= 0x80, DEL or '#'.
		if ((x-0x21*lo8)&^x|x|(del-lo8)&^del|(hash-lo8)&^hash)&hi8 != 0 {
			break
		}
	}
	for i < len(s) && ctab[s[i]]&cTarget != 0 {
		i++
	}
	return i
}

// scanToken returns the index of the first non-tchar byte at or after i.
// Four table lookups are and-ed per step: one branch per four bytes.
func scanToken(s []byte, i int) int {
	for ; i+4 <= len(s); i += 4 {
		if ctab[s[i]]&ctab[s[i+1]]&ctab[s[i+2]]&ctab[s[i+3]]&cTchar == 0 {
			break
		}
	}
	for i < len(s) && ctab[s[i]]&cTchar != 0 {
		i++
	}
	return i
}
