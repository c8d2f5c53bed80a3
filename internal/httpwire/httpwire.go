// Package httpwire parses HTTP/1.1 request heads and decodes chunked bodies.
//
// It is deliberately strict (RFC 9112, RFC 9110): anything that two HTTP
// implementations could frame differently is rejected instead of guessed at,
// because a front-end proxy that guesses differently is how requests get
// smuggled. It is also on the hot path, so parsing a request head does not
// allocate: every slice in a Request aliases the caller's buffer.
//
// Parse works on whatever prefix of the stream the caller has; its decisions
// depend only on the bytes it has looked at so far, so parsing a prefix of a
// stream returns either ErrIncomplete or exactly what parsing the whole
// stream returns. That lets a server reject a bad or oversized head early.
package httpwire

import (
	"bytes"
	"errors"
	"strconv"
)

// Header is one header field as received; Name and Value alias the parsed buffer.
type Header struct{ Name, Value []byte } // Value has leading/trailing SP/HTAB trimmed

// Request is a parsed request head. All slices alias the buffer given to
// Parse and are valid until it is reused (except Path for an absolute-form
// target with an empty path, which is a shared read-only "/").
type Request struct {
	Method []byte
	Target []byte // the raw request-target as sent
	// Path is the raw (still percent-encoded) path: for origin-form the
	// target up to '?', for absolute-form the path of the URI ("/" if empty),
	// for asterisk-form "*".
	Path     []byte
	Query    []byte // after the first '?', without it; empty if none
	HasQuery bool
	// ProtoMinor is 0 or 1 (HTTP/1.0 or HTTP/1.1).
	ProtoMinor int
	// Headers holds all fields in order. Parse reuses its backing array.
	Headers []Header
	// Host is the Host field value, or the authority of an absolute-form
	// target, which then wins (RFC 9112 §3.2.2).
	Host          []byte
	ContentLength int64 // -1 when absent
	Chunked       bool  // Transfer-Encoding: chunked
	// KeepAlive: HTTP/1.1 unless "Connection: close"; HTTP/1.0 only with
	// "Connection: keep-alive" (RFC 9112 §9.3).
	KeepAlive bool
	// ExpectContinue is set for "Expect: 100-continue" on HTTP/1.1 (it is
	// ignored on HTTP/1.0, RFC 9110 §10.1.1).
	ExpectContinue bool
	HeadLen        int // bytes consumed by the head including the final CRLF CRLF
}

// Limits bounds what Parse accepts. Zero fields mean the default.
type Limits struct {
	MaxRequestLine int // default 8190 -> 414 when exceeded (length without CRLF)
	MaxHeaderCount int // default 100  -> 431
	MaxFieldSize   int // default 8190 (one "name: value" line, without CRLF) -> 431
	MaxHeadBytes   int // default 65536 (whole head including all CRLFs) -> 431
}

// DefaultLimits returns the default limits.
func DefaultLimits() Limits {
	return Limits{MaxRequestLine: 8190, MaxHeaderCount: 100, MaxFieldSize: 8190, MaxHeadBytes: 65536}
}

// maxLimit caps user limits so that index arithmetic cannot overflow.
const maxLimit = 1 << 30

func limitsOf(l *Limits) Limits {
	d := DefaultLimits()
	if l == nil {
		return d
	}
	fix := func(v, def int) int {
		if v <= 0 {
			return def
		}
		return min(v, maxLimit)
	}
	return Limits{
		MaxRequestLine: fix(l.MaxRequestLine, d.MaxRequestLine),
		MaxHeaderCount: fix(l.MaxHeaderCount, d.MaxHeaderCount),
		MaxFieldSize:   fix(l.MaxFieldSize, d.MaxFieldSize),
		MaxHeadBytes:   fix(l.MaxHeadBytes, d.MaxHeadBytes),
	}
}

// Error is a rejection: Status is the HTTP status to answer with (400, 414,
// 431, 501, 505, 417), Reason a short lower-case explanation safe to show the
// client. Errors returned by this package are shared values: do not modify them.
type Error struct {
	Status int
	Reason string
}

func (e *Error) Error() string {
	return "httpwire: " + strconv.Itoa(e.Status) + " " + e.Reason
}

// ErrIncomplete means the buffer does not hold a complete head yet.
var ErrIncomplete = errors.New("httpwire: incomplete request head")

// The errors are preallocated so rejecting garbage costs no allocation either.
var (
	errBareCR          = &Error{400, "bare cr"}
	errBareLF          = &Error{400, "bare lf line ending"}
	errMethod          = &Error{400, "invalid method"}
	errTarget          = &Error{400, "invalid request target"}
	errVersion         = &Error{400, "malformed http version"}
	errVersionSupport  = &Error{505, "http version not supported"}
	errLineTooLong     = &Error{414, "request line too long"}
	errFieldTooLong    = &Error{431, "header field too long"}
	errTooManyFields   = &Error{431, "too many header fields"}
	errHeadTooLarge    = &Error{431, "request head too large"}
	errObsFold         = &Error{400, "line folding or whitespace before field name"}
	errSpaceColon      = &Error{400, "whitespace before colon"}
	errFieldName       = &Error{400, "invalid field name"}
	errFieldValue      = &Error{400, "invalid character in field value"}
	errNoHost          = &Error{400, "missing host"}
	errMultiHost       = &Error{400, "multiple host fields"}
	errHost            = &Error{400, "invalid host"}
	errCL              = &Error{400, "invalid content-length"}
	errMultiCL         = &Error{400, "multiple content-length fields"}
	errTE              = &Error{400, "invalid transfer-encoding"}
	errTEUnsupported   = &Error{501, "unsupported transfer-encoding"}
	errMultiTE         = &Error{400, "multiple transfer-encoding fields"}
	errCLTE            = &Error{400, "content-length with transfer-encoding"}
	errTE10            = &Error{400, "transfer-encoding in http/1.0"}
	errExpect          = &Error{417, "unsupported expectation"}
	errConnection      = &Error{400, "invalid connection field"}
	errConnect         = &Error{400, "connect not supported"}
	errAsterisk        = &Error{400, "asterisk-form only allowed with options"}
	errAbsoluteTarget  = &Error{400, "invalid absolute-form target"}
	errAuthorityTarget = &Error{400, "authority-form not supported"}
)

// maxLeadingCRLF is how many empty lines before the request line we skip.
// RFC 9112 §2.2 asks servers to ignore at least one (some clients send an
// extra CRLF after a POST body); more than a few is not a client bug.
const maxLeadingCRLF = 4

// slash is the Path of an absolute-form target with an empty path.
var slash = []byte{'/'}

// short decides what it means that the byte at index i (one past what we
// may look at) is not available. The content of a line (without its CRLF)
// is scanned in a window of its limit plus one byte, which may only be the
// CR, and the whole head in a window of MaxHeadBytes; so needing a byte
// beyond one of them proves the limit is exceeded, whatever the missing
// bytes are, and that is reported at once. Otherwise more input is needed.
func short(i, lineBound int, lineErr *Error, headMax int) error {
	if i >= lineBound {
		return lineErr
	}
	return shortHead(i, headMax)
}

// shortHead is short outside a line's content: for the LF of a CRLF (which
// is never past the line window since the CR is in it) and empty lines.
func shortHead(i, headMax int) error {
	if i >= headMax {
		return errHeadTooLarge
	}
	return ErrIncomplete
}

// Parse parses one request head at the start of buf. It returns
// ErrIncomplete if buf does not yet hold a complete head and no limit is
// exceeded yet, an *Error for every invalid head, or nil. Limit violations
// (414/431) and syntax errors are reported as soon as they are certain, even
// on an incomplete head. lim may be nil for the defaults.
func Parse(buf []byte, lim *Limits, req *Request) error {
	l := limitsOf(lim)
	*req = Request{Headers: req.Headers[:0], ContentLength: -1}

	headMax := l.MaxHeadBytes
	b := buf
	if len(b) > headMax {
		b = b[:headMax]
	}

	i := 0
	for k := 0; k < maxLeadingCRLF; k++ {
		if i >= len(b) {
			return shortHead(i, headMax)
		}
		if b[i] != '\r' {
			break
		}
		if i+1 >= len(b) {
			return shortHead(i+1, headMax)
		}
		if b[i+1] != '\n' {
			return errBareCR
		}
		i += 2
	}

	// Request line, RFC 9112 §3: method SP request-target SP HTTP-version
	// CRLF, with exactly one SP each (§3 permits lenient parsing of other
	// whitespace; we do not, since that is where parsers disagree).
	ls := i
	lb := ls + min(l.MaxRequestLine, headMax) + 1
	line := b
	if len(line) > lb {
		line = line[:lb]
	}
	i = scanToken(line, i)
	if i >= len(line) {
		return short(i, lb, errLineTooLong, headMax)
	}
	if line[i] != ' ' || i == ls {
		return errMethod
	}
	req.Method = line[ls:i]
	i++
	ts := i
	i = scanTarget(line, i)
	if i >= len(line) {
		return short(i, lb, errLineTooLong, headMax)
	}
	if line[i] != ' ' || i == ts {
		return errTarget
	}
	req.Target = line[ts:i]
	i++
	// HTTP-version = "HTTP" "/" DIGIT "." DIGIT, case-sensitive (RFC 9112 §2.3).
	const vpat = "HTTP/?.?\r"
	for k := 0; k < len(vpat); k++ {
		if i+k >= len(line) {
			return short(i+k, lb, errLineTooLong, headMax)
		}
		c := line[i+k]
		if vpat[k] == '?' {
			if c < '0' || c > '9' {
				return errVersion
			}
		} else if c != vpat[k] {
			if k == 8 && c == '\n' {
				return errBareLF
			}
			return errVersion
		}
	}
	if i+9 >= len(b) {
		return shortHead(i+9, headMax)
	}
	if b[i+9] != '\n' {
		return errBareCR
	}
	if line[i+5] != '1' || line[i+7] > '1' {
		return errVersionSupport
	}
	req.ProtoMinor = int(line[i+7] - '0')
	i += len(vpat) + 1

	authority, err := req.parseTarget()
	if err != nil {
		return err
	}

	// Appending to a local slice keeps it in registers; it is stored back
	// into req when it grows and once the head is complete.
	hs := req.Headers
	// Header section, RFC 9112 §5: *( field-name ":" OWS field-value OWS CRLF ) CRLF.
	var hostSeen, clSeen, teSeen, connClose, connKeepAlive, expect bool
	for {
		ls = i
		lb = ls + min(l.MaxFieldSize, headMax) + 1
		line = b
		if len(line) > lb {
			line = line[:lb]
		}
		if i >= len(line) {
			return short(i, lb, errFieldTooLong, headMax)
		}
		switch line[i] {
		case '\r':
			if i+1 >= len(b) {
				return shortHead(i+1, headMax)
			}
			if b[i+1] != '\n' {
				return errBareCR
			}
			i += 2
			goto done
		case '\n':
			return errBareLF
		case ' ', '\t':
			// obs-fold must be rejected or replaced (RFC 9112 §5.2), and
			// whitespace before the first field must be rejected or the
			// line ignored (§2.2): we reject both.
			return errObsFold
		}
		if len(hs) >= l.MaxHeaderCount {
			return errTooManyFields
		}
		i = scanToken(line, i)
		if i >= len(line) {
			return short(i, lb, errFieldTooLong, headMax)
		}
		if line[i] != ':' {
			switch line[i] {
			case ' ', '\t':
				// RFC 9112 §5.1: MUST reject with 400.
				return errSpaceColon
			case '\r':
				return errBareCR
			case '\n':
				return errBareLF
			}
			return errFieldName
		}
		if i == ls {
			return errFieldName
		}
		name := line[ls:i]
		i++
		for i < len(line) && isWS(line[i]) {
			i++
		}
		vs := i
		i = scanValue(line, i)
		if i >= len(line) {
			return short(i, lb, errFieldTooLong, headMax)
		}
		switch line[i] {
		case '\r':
		case '\n':
			return errBareLF
		default:
			// NUL, CR, LF and other CTLs are invalid in a field value
			// (RFC 9110 §5.5) and must not be passed on.
			return errFieldValue
		}
		if i+1 >= len(b) {
			return shortHead(i+1, headMax)
		}
		if b[i+1] != '\n' {
			return errBareCR
		}
		ve := i
		for ve > vs && isWS(line[ve-1]) {
			ve--
		}
		value := line[vs:ve]
		i += 2
		hs = append(hs, Header{Name: name, Value: value})
		if cap(hs) != cap(req.Headers) {
			// Grown: keep the new array even if we fail later.
			req.Headers = hs
		}

		// Fields with meaning for framing or the connection. Each is
		// checked as soon as it is complete.
		switch len(name) {
		case 4:
			if lowerEq(name, "host") {
				// RFC 9112 §3.2: 400 for more than one Host or an invalid one.
				if hostSeen {
					return errMultiHost
				}
				if !validHost(value) {
					return errHost
				}
				hostSeen = true
				req.Host = value
			}
		case 6:
			if lowerEq(name, "expect") {
				// RFC 9110 §10.1.1: 100-continue is the only expectation
				// defined; a server may answer 417 to anything else.
				if !lowerEq(value, "100-continue") {
					return errExpect
				}
				expect = true
			}
		case 10:
			if lowerEq(name, "connection") {
				c, ka, ok := parseConnection(value)
				if !ok {
					return errConnection
				}
				connClose = connClose || c
				connKeepAlive = connKeepAlive || ka
			}
		case 14:
			if lowerEq(name, "content-length") {
				// An invalid Content-Length is an unrecoverable framing
				// error (RFC 9112 §6.3). RFC 9110 §8.6 lets a recipient
				// accept several identical values; we do not, since a
				// peer might not have seen them as identical.
				if clSeen {
					return errMultiCL
				}
				n, ok := parseContentLength(value)
				if !ok {
					return errCL
				}
				clSeen = true
				req.ContentLength = n
			}
		case 17:
			if lowerEq(name, "transfer-encoding") {
				// One field only: a second one would be joined to the
				// first as a list by others, with room for disagreement.
				if teSeen {
					return errMultiTE
				}
				if err := checkTransferEncoding(value); err != nil {
					return err
				}
				teSeen = true
				req.Chunked = true
			}
		}
	}
done:
	req.Headers = hs
	// RFC 9112 §3.2: an HTTP/1.1 request without Host gets a 400.
	if req.ProtoMinor == 1 && !hostSeen {
		return errNoHost
	}
	if teSeen {
		// RFC 9112 §6.1: Transfer-Encoding in an HTTP/1.0 message means
		// the framing is faulty; with Content-Length as well the request
		// is a smuggling attempt or the product of one (the server MAY
		// reject it, and we do).
		if req.ProtoMinor == 0 {
			return errTE10
		}
		if clSeen {
			return errCLTE
		}
	}
	if authority != nil {
		req.Host = authority
	}
	if req.ProtoMinor == 1 {
		req.KeepAlive = !connClose
		req.ExpectContinue = expect
	} else {
		req.KeepAlive = connKeepAlive && !connClose
	}
	req.HeadLen = i
	return nil
}

// parseTarget splits req.Target by form (RFC 9112 §3.2) and returns the
// authority of an absolute-form target (nil otherwise).
func (req *Request) parseTarget() ([]byte, error) {
	t := req.Target
	if equal(req.Method, "CONNECT") {
		// authority-form is for tunnels, which a WSGI server does not make.
		return nil, errConnect
	}
	switch {
	case t[0] == '/':
		// origin-form
		req.Path = t
		if q := bytes.IndexByte(t, '?'); q >= 0 {
			req.Path, req.Query, req.HasQuery = t[:q], t[q+1:], true
		}
		return nil, nil
	case t[0] == '*' && len(t) == 1:
		// asterisk-form is only for a server-wide OPTIONS (§3.2.4).
		if !equal(req.Method, "OPTIONS") {
			return nil, errAsterisk
		}
		req.Path = t
		return nil, nil
	}
	// absolute-form (§3.2.2). Only http and https (scheme names are
	// case-insensitive, RFC 3986 §3.1) with an authority make sense here.
	var rest []byte
	switch {
	case hasPrefixLower(t, "http://"):
		rest = t[len("http://"):]
	case hasPrefixLower(t, "https://"):
		rest = t[len("https://"):]
	default:
		if bytes.IndexByte(t, '/') < 0 && bytes.IndexByte(t, ':') > 0 {
			return nil, errAuthorityTarget
		}
		return nil, errAbsoluteTarget
	}
	a := 0
	for a < len(rest) && rest[a] != '/' && rest[a] != '?' {
		a++
	}
	auth := rest[:a]
	// An http(s) URI must have a non-empty host (RFC 9110 §4.2.1, §4.2.2),
	// and userinfo is not allowed (RFC 9110 §4.2.4): '@' fails validHost.
	if len(auth) == 0 || auth[0] == ':' || !validHost(auth) {
		return nil, errAbsoluteTarget
	}
	p := rest[a:]
	switch {
	case len(p) == 0:
		req.Path = slash
	case p[0] == '?':
		req.Path, req.Query, req.HasQuery = slash, p[1:], true
	default:
		req.Path = p
		if q := bytes.IndexByte(p, '?'); q >= 0 {
			req.Path, req.Query, req.HasQuery = p[:q], p[q+1:], true
		}
	}
	return auth, nil
}

// parseContentLength accepts 1*DIGIT (RFC 9110 §8.6) of at most 18 digits,
// which cannot overflow an int64. Signs, hex, spaces and lists are errors.
func parseContentLength(v []byte) (int64, bool) {
	if len(v) == 0 || len(v) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// checkTransferEncoding accepts a list whose last and only chunked coding
// is the last one (RFC 9112 §6.1). Since no other coding is implemented,
// "chunked" alone is the only success; another coding before it is 501.
// Unlike RFC 9110 §5.6.1 we reject empty list elements and codings with
// parameters: nobody sends them, and this is a framing field.
func checkTransferEncoding(v []byte) error {
	other := false
	for {
		c := bytes.IndexByte(v, ',')
		elem := v
		if c >= 0 {
			elem = v[:c]
		}
		elem = trimOWS(elem)
		if !IsToken(elem) {
			return errTE
		}
		if lowerEq(elem, "chunked") {
			if c >= 0 {
				// chunked must be last, and applied once (§6.1).
				return errTE
			}
		} else {
			other = true
		}
		if c < 0 {
			break
		}
		v = v[c+1:]
	}
	if other {
		return errTEUnsupported
	}
	return nil
}

// parseConnection reads a Connection field: a list of tokens (RFC 9110
// §7.6.1). Empty elements are ignored as RFC 9110 §5.6.1 requires.
func parseConnection(v []byte) (isClose, keepAlive, ok bool) {
	for {
		c := bytes.IndexByte(v, ',')
		elem := v
		if c >= 0 {
			elem = v[:c]
		}
		elem = trimOWS(elem)
		if len(elem) > 0 {
			if !IsToken(elem) {
				return false, false, false
			}
			switch {
			case lowerEq(elem, "close"):
				isClose = true
			case lowerEq(elem, "keep-alive"):
				keepAlive = true
			}
		}
		if c < 0 {
			return isClose, keepAlive, true
		}
		v = v[c+1:]
	}
}

// HeadEnd returns the index just past the end of the head: "\r\n\r\n", or a
// bare "\n\n" / "\n\r\n" so that bare-LF heads are found and then rejected
// by Parse. The search starts at from (callers pass how far they already
// searched minus 3); it returns -1 if no end is found yet. The empty lines
// Parse skips before a request line are not taken for the end of a head, so
// for a valid head HeadEnd(buf, 0) == HeadLen.
func HeadEnd(buf []byte, from int) int {
	s := 0
	for k := 0; k < maxLeadingCRLF && s+1 < len(buf) && buf[s] == '\r' && buf[s+1] == '\n'; k++ {
		s += 2
	}
	from = max(from, s)
	for from < len(buf) {
		j := bytes.IndexByte(buf[from:], '\n')
		if j < 0 {
			return -1
		}
		i := from + j
		if i+1 < len(buf) && buf[i+1] == '\n' {
			return i + 2
		}
		if i+2 < len(buf) && buf[i+1] == '\r' && buf[i+2] == '\n' {
			return i + 3
		}
		from = i + 1
	}
	return -1
}
