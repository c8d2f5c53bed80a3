package static

import (
	"net/http"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// appendETag appends the file's entity tag: modification time in
// nanoseconds and size, in hex, like nginx's "mtime-size" but with the
// time at full resolution, so a file rewritten within the same second
// with the same size still gets a new tag. It is a strong validator: the
// bytes of a regular file change only with its mtime.
func appendETag(b []byte, st *unix.Stat_t) []byte {
	ns := st.Mtim.Sec*1e9 + st.Mtim.Nsec
	b = append(b, '"')
	b = strconv.AppendUint(b, uint64(ns), 16)
	b = append(b, '-')
	b = strconv.AppendUint(b, uint64(st.Size), 16)
	return append(b, '"')
}

// etagListMatches reports whether a comma list of entity tags (If-Match,
// If-None-Match) holds "*" or a tag equal to etag. Weak comparison ignores
// a W/ prefix; strong comparison never matches a weak tag (RFC 9110
// §8.8.3.2). A malformed list matches nothing.
func etagListMatches(list, etag []byte, weak bool) bool {
	b := list
	for {
		for len(b) > 0 && (isOWS(b[0]) || b[0] == ',') {
			b = b[1:]
		}
		if len(b) == 0 {
			return false
		}
		if b[0] == '*' {
			return true
		}
		isWeak := false
		if len(b) >= 2 && b[0] == 'W' && b[1] == '/' {
			isWeak = true
			b = b[2:]
		}
		if len(b) == 0 || b[0] != '"' {
			return false
		}
		end := indexByte(b[1:], '"')
		if end < 0 {
			return false
		}
		tag := b[:end+2]
		b = b[end+2:]
		if (weak || !isWeak) && string(tag) == string(etag) {
			return true
		}
		for len(b) > 0 && isOWS(b[0]) {
			b = b[1:]
		}
		if len(b) > 0 && b[0] != ',' {
			return false
		}
	}
}

// parseHTTPDate parses an HTTP-date (any of the three forms of RFC 9110 §5.6.7).
func parseHTTPDate(b []byte) (int64, bool) {
	t, err := http.ParseTime(string(trimOWS(b)))
	if err != nil {
		return 0, false
	}
	return t.Unix(), true
}

// precondition evaluates the conditional request header fields in the
// order of RFC 9110 §13.2.2 and returns 0 to go on, 304 or 412.
func (h *reqHeaders) precondition(etag []byte, lastMod int64) int {
	if h.hasIfMatch {
		if !etagListMatches(h.ifMatch, etag, false) {
			return 412
		}
	} else if h.ifUnmodifiedSince != nil && !h.multiIUS {
		if t, ok := parseHTTPDate(h.ifUnmodifiedSince); ok && lastMod > t {
			return 412
		}
	}
	if h.hasIfNoneMatch {
		if etagListMatches(h.ifNoneMatch, etag, true) {
			return 304
		}
	} else if h.ifModifiedSince != nil && !h.multiIMS {
		// A date in the future is invalid (RFC 9110 §13.1.3 lets the
		// server ignore it); nginx ignores it too.
		if t, ok := parseHTTPDate(h.ifModifiedSince); ok && lastMod <= t && t <= time.Now().Unix() {
			return 304
		}
	}
	return 0
}

// ifRangeAllows evaluates If-Range (RFC 9110 §13.1.5): the range applies
// only if the validator is our entity tag, compared strongly, or exactly
// our Last-Modified date. Without the field the range applies.
func (h *reqHeaders) ifRangeAllows(etag []byte, lastMod int64) bool {
	if h.ifRange == nil {
		return true
	}
	if h.multiIfRg {
		return false
	}
	v := trimOWS(h.ifRange)
	if len(v) > 0 && v[0] == '"' {
		return string(v) == string(etag)
	}
	if len(v) > 1 && v[0] == 'W' && v[1] == '/' {
		return false // a weak tag never satisfies If-Range ("Wed, ..." is a date)
	}
	t, ok := parseHTTPDate(v)
	return ok && t == lastMod
}
