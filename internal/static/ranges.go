package static

// byteRange is one satisfiable range: n bytes from off.
type byteRange struct{ off, n int64 }

// maxRanges bounds the ranges of one request; more are treated as a
// broken or hostile client (RFC 9110 §14.2 allows ignoring them).
const maxRanges = 64

// rangeResult is what a Range field asks of a representation of some size.
type rangeResult int

const (
	rangeIgnore        rangeResult = iota // send the whole representation (200)
	rangeOK                               // send the ranges (206)
	rangeUnsatisfiable                    // 416
)

// parseRange parses a Range field value against a representation of size
// bytes (RFC 9110 §14.1.2, §14.2). A value that is not a well-formed
// bytes range set is ignored, as RFC 9110 permits, and so is one whose
// ranges add up to more than the representation (overlaps: an old
// amplification attack), or that has more than maxRanges ranges. Ranges
// past the end are dropped; if none is left the result is
// rangeUnsatisfiable. dst is reused for the result.
func parseRange(v []byte, size int64, dst []byteRange) ([]byteRange, rangeResult) {
	v = trimOWS(v)
	if len(v) < 6 || !equalFold(v[:6], "bytes=") {
		return dst, rangeIgnore // another unit, or garbage
	}
	v = v[6:]
	out := dst[:0]
	var total int64
	count := 0
	for {
		for len(v) > 0 && isOWS(v[0]) {
			v = v[1:]
		}
		var spec []byte
		if i := indexByte(v, ','); i >= 0 {
			spec, v = v[:i], v[i+1:]
		} else {
			spec, v = v, nil
		}
		spec = trimOWS(spec)
		if len(spec) == 0 {
			if v == nil {
				break
			}
			continue // empty list elements are allowed (RFC 9110 §5.6.1)
		}
		count++
		if count > maxRanges {
			return dst, rangeIgnore
		}
		dash := indexByte(spec, '-')
		if dash < 0 {
			return dst, rangeIgnore
		}
		first, last := spec[:dash], spec[dash+1:]
		var r byteRange
		switch {
		case len(first) == 0: // suffix range: the last N bytes
			n, ok := parseDigits(last)
			if !ok {
				return dst, rangeIgnore
			}
			if n == 0 || size == 0 {
				break // unsatisfiable
			}
			n = min(n, size)
			r = byteRange{size - n, n}
		default:
			a, ok := parseDigits(first)
			if !ok {
				return dst, rangeIgnore
			}
			b := size - 1
			if len(last) > 0 {
				if b, ok = parseDigits(last); !ok || b < a {
					return dst, rangeIgnore
				}
			}
			if a >= size {
				break // unsatisfiable
			}
			b = min(b, size-1)
			r = byteRange{a, b - a + 1}
		}
		if r.n > 0 {
			out = append(out, r)
			total += r.n
		}
		if v == nil {
			break
		}
	}
	if count == 0 {
		return dst, rangeIgnore
	}
	if len(out) == 0 {
		return out, rangeUnsatisfiable
	}
	if len(out) > 1 && total > size {
		return out[:0], rangeIgnore
	}
	return out, rangeOK
}

// parseDigits parses 1 to 18 decimal digits (no sign, no overflow).
func parseDigits(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}
