package static

import "github.com/gowsgi/gowsgi/internal/httpwire"

// pathVerdict says what a request path may be used for.
type pathVerdict int

const (
	pathOK      pathVerdict = iota
	pathRefused             // it tries to leave the mapped root, or hides a separator: 404
	pathInvalid             // a malformed percent escape: not ours to answer
)

// decodePath percent-decodes a raw request path into dst. The path is
// refused, rather than normalized, when it holds anything that could name
// a file outside the mapped root or be read differently by the file system
// than by a URL parser: a "." or ".." segment (literal or encoded, such as
// %2e%2e), an encoded slash (%2f), a backslash (literal or %5c) or a NUL
// (%00). Clients normalize dot segments themselves (RFC 3986 §5.2.4), so
// only a crafted request has them.
func decodePath(dst, raw []byte) ([]byte, pathVerdict) {
	verdict := pathOK
	segStart := len(dst)
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		encoded := false
		if c == '%' {
			var ok bool
			if c, ok = httpwire.PercentByte(raw, i); !ok {
				return dst, pathInvalid
			}
			i += 2
			encoded = true
		}
		switch {
		case c == 0, c == '\\':
			verdict = pathRefused
		case c == '/' && encoded:
			verdict = pathRefused
		case c == '/':
			if isDotSegment(dst[segStart:]) {
				verdict = pathRefused
			}
			dst = append(dst, c)
			segStart = len(dst)
			continue
		}
		dst = append(dst, c)
	}
	if isDotSegment(dst[segStart:]) {
		verdict = pathRefused
	}
	return dst, verdict
}

func isDotSegment(seg []byte) bool {
	return len(seg) == 1 && seg[0] == '.' || len(seg) == 2 && seg[0] == '.' && seg[1] == '.'
}
