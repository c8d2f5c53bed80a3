package static

import (
	"github.com/gowsgi/gowsgi/internal/httpwire"
)

// reqHeaders holds the request header fields a static response depends
// on. The slices alias the request (or a joined copy of a list field that
// was split over several lines).
type reqHeaders struct {
	ifMatch, ifNoneMatch  []byte // comma lists; nil when absent
	ifModifiedSince       []byte
	ifUnmodifiedSince     []byte
	ifRange               []byte
	rng                   []byte
	acceptEncoding        []byte // nil when absent
	hasIfMatch            bool
	hasIfNoneMatch        bool
	hasAcceptEncoding     bool
	multiIMS, multiIUS    bool // a single-valued field sent twice is ignored (RFC 9110 §13.1.3, §13.1.4)
	multiRange, multiIfRg bool
}

func (h *reqHeaders) scan(req *httpwire.Request) {
	for i := range req.Headers {
		f := &req.Headers[i]
		n := f.Name
		// Every name we look at starts with 'i', 'r' or 'a'.
		if len(n) == 0 {
			continue
		}
		switch n[0] | 0x20 {
		case 'i':
			switch {
			case equalFold(n, "if-none-match"):
				h.ifNoneMatch = joinList(h.ifNoneMatch, h.hasIfNoneMatch, f.Value)
				h.hasIfNoneMatch = true
			case equalFold(n, "if-modified-since"):
				h.multiIMS = h.ifModifiedSince != nil
				h.ifModifiedSince = f.Value
			case equalFold(n, "if-match"):
				h.ifMatch = joinList(h.ifMatch, h.hasIfMatch, f.Value)
				h.hasIfMatch = true
			case equalFold(n, "if-unmodified-since"):
				h.multiIUS = h.ifUnmodifiedSince != nil
				h.ifUnmodifiedSince = f.Value
			case equalFold(n, "if-range"):
				h.multiIfRg = h.ifRange != nil
				h.ifRange = f.Value
			}
		case 'r':
			if equalFold(n, "range") {
				h.multiRange = h.rng != nil
				h.rng = f.Value
			}
		case 'a':
			if equalFold(n, "accept-encoding") {
				h.acceptEncoding = joinList(h.acceptEncoding, h.hasAcceptEncoding, f.Value)
				h.hasAcceptEncoding = true
			}
		}
	}
}

// joinList appends another line of a list field (RFC 9110 §5.3: the same
// as one line with the values joined by commas).
func joinList(cur []byte, seen bool, v []byte) []byte {
	if !seen {
		if v == nil {
			return []byte{}
		}
		return v
	}
	out := make([]byte, 0, len(cur)+1+len(v))
	out = append(append(append(out, cur...), ','), v...)
	return out
}

// equalFold compares b with a lower-case ASCII string, ignoring case.
func equalFold(b []byte, lower string) bool {
	if len(b) != len(lower) {
		return false
	}
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

// isOWS reports whether c is optional whitespace (SP or HTAB).
func isOWS(c byte) bool { return c == ' ' || c == '\t' }

// trimOWS trims optional whitespace on both sides.
func trimOWS(b []byte) []byte {
	for len(b) > 0 && isOWS(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && isOWS(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}
