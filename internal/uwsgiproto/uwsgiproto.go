// Package uwsgiproto parses request heads of the uwsgi binary protocol, as
// nginx's uwsgi_pass (and Apache's mod_proxy_uwsgi) send them to a backend.
//
// A request is a 4-byte header, a block of CGI-style variables, then the
// request body:
//
//	modifier1  u8      must be 0 (WSGI); other values select other uWSGI
//	                   plugins, which this server does not implement
//	datasize   u16 le  size of the vars block that follows
//	modifier2  u8      must be 0
//	vars       repeated { u16 le key_len, key, u16 le val_len, val }
//	body       exactly CONTENT_LENGTH bytes
//
// The protocol has no framing for the body other than CONTENT_LENGTH, so the
// caller must consume exactly that many bytes (see BodyReader) before the next
// packet on a persistent connection; reading more or less would desynchronise
// the stream and let body bytes be parsed as a request head.
//
// UWSGI_* variables (UWSGI_SCRIPT, UWSGI_CHDIR, ...) are treated as ordinary
// data: in uWSGI they let the front end reconfigure the server per request,
// which is a privilege this server deliberately never grants.
package uwsgiproto

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
)

// HeaderLen is the size of the fixed packet header.
const HeaderLen = 4

// MaxVarsLen is the largest vars block the 16-bit datasize can describe.
const MaxVarsLen = math.MaxUint16

// Var is one key/value pair of the vars block. Key and Value alias the buffer
// passed to Parse (no copies are made on the hot path), so they are only valid
// as long as that buffer is not reused.
type Var struct{ Key, Value []byte }

// Packet is a parsed request head.
type Packet struct {
	// Vars holds the variables in packet order. Parse reuses its backing
	// array, so a Packet kept across requests stops allocating once it has
	// seen the largest request.
	Vars []Var
	// ContentLength is the body size announced by CONTENT_LENGTH; 0 when the
	// variable is absent or empty (nginx sends it empty for body-less
	// requests).
	ContentLength int64
	// HeadLen is the number of bytes of header and vars (4 + datasize); the
	// body starts at this offset.
	HeadLen int
}

// Error is a malformed or unsupported packet. A connection that produced one
// cannot be resynchronised and should be closed.
type Error struct{ Reason string }

func (e *Error) Error() string { return "uwsgi packet: " + e.Reason }

func errorf(format string, args ...any) error {
	return &Error{Reason: fmt.Sprintf(format, args...)}
}

// ErrIncomplete means buf does not yet hold the whole packet head; read more
// and call Parse again. It is not a protocol error.
var ErrIncomplete = errors.New("uwsgi packet: incomplete packet head")

// ParseHeader decodes the 4-byte header and returns the size of the vars
// block. maxVars bounds that size (uWSGI calls the equivalent limit
// buffer-size); maxVars <= 0 means only the protocol's own 65535 limit
// applies. Checking it here, before the vars are read, lets a server reject an
// oversized head without buffering it.
func ParseHeader(b [4]byte, maxVars int) (int, error) {
	if b[0] != 0 {
		return 0, errorf("modifier1 is %d, only 0 (wsgi) is supported", b[0])
	}
	if b[3] != 0 {
		return 0, errorf("modifier2 is %d, only 0 is supported", b[3])
	}
	n := int(binary.LittleEndian.Uint16(b[1:3]))
	if maxVars > 0 && n > maxVars {
		return 0, errorf("vars block of %d bytes exceeds buffer-size %d", n, maxVars)
	}
	return n, nil
}

// Parse parses the packet head (header and vars) at the start of buf into p.
// It returns ErrIncomplete if buf is shorter than the head, and a *Error if
// the head is malformed. Bytes after the head (the body, or a pipelined next
// request) are ignored. The whole vars block is required before anything in
// it is validated, so a prefix of a valid head always yields ErrIncomplete.
//
// On error p.Vars may hold a partial list and must not be used.
func Parse(buf []byte, maxVars int, p *Packet) error {
	p.Vars = p.Vars[:0]
	p.ContentLength = 0
	p.HeadLen = 0
	if len(buf) < HeaderLen {
		return ErrIncomplete
	}
	n, err := ParseHeader([4]byte(buf[:HeaderLen]), maxVars)
	if err != nil {
		return err
	}
	if len(buf)-HeaderLen < n {
		return ErrIncomplete
	}
	// Cap the block so appends by the caller can never scribble on the body.
	block := buf[HeaderLen : HeaderLen+n : HeaderLen+n]
	var clSeen []byte
	haveCL := false
	for off := 0; off < len(block); {
		rest := len(block) - off
		if rest < 2 {
			return errorf("trailing garbage: %d byte(s) at offset %d of %d-byte vars block", rest, off, n)
		}
		klen := int(binary.LittleEndian.Uint16(block[off:]))
		if klen == 0 {
			return errorf("zero-length key at offset %d of vars block", off)
		}
		if klen > rest-2 {
			return errorf("key length %d at offset %d runs past the end of the %d-byte vars block", klen, off, n)
		}
		key := block[off+2 : off+2+klen]
		if i := badKeyByte(key); i >= 0 {
			return errorf("key %s has byte 0x%02x at index %d, outside printable ascii", quote(key), key[i], i)
		}
		off += 2 + klen
		rest = len(block) - off
		if rest < 2 {
			return errorf("key %s: value length truncated (%d byte(s) left in vars block)", quote(key), rest)
		}
		vlen := int(binary.LittleEndian.Uint16(block[off:]))
		if vlen > rest-2 {
			return errorf("key %s: value length %d runs past the end of the vars block (%d byte(s) left)", quote(key), vlen, rest-2)
		}
		val := block[off+2 : off+2+vlen]
		off += 2 + vlen

		if string(key) == "CONTENT_LENGTH" {
			// Two lengths would let a front end and this server disagree on
			// where the body ends (request smuggling), so refuse outright
			// even if they are equal.
			if haveCL {
				return errorf("duplicate CONTENT_LENGTH (%s and %s)", quote(clSeen), quote(val))
			}
			haveCL, clSeen = true, val
			cl, err := parseContentLength(val)
			if err != nil {
				return err
			}
			p.ContentLength = cl
		}
		p.Vars = append(p.Vars, Var{Key: key, Value: val})
	}
	p.HeadLen = HeaderLen + n
	return nil
}

// parseContentLength accepts only ASCII digits: strconv.ParseInt alone would
// also take a sign, and "+5" or "-0" are not lengths any front end sends.
func parseContentLength(v []byte) (int64, error) {
	if len(v) == 0 {
		return 0, nil
	}
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, errorf("CONTENT_LENGTH %s is not a plain decimal number", quote(v))
		}
	}
	cl, err := strconv.ParseInt(string(v), 10, 64)
	if err != nil {
		return 0, errorf("CONTENT_LENGTH %s overflows int64", quote(v))
	}
	return cl, nil
}

// badKeyByte returns the index of the first byte of key outside visible ASCII
// (0x21-0x7e), or -1. Space is refused too: no CGI variable name contains one,
// and keys end up as WSGI environ keys and in logs, where control bytes or
// spaces would only cause confusion.
func badKeyByte(key []byte) int {
	for i, c := range key {
		if c < 0x21 || c > 0x7e {
			return i
		}
	}
	return -1
}

// quote renders attacker-controlled bytes for an error message, truncated so
// a 64 KiB value cannot flood the logs.
func quote(b []byte) string {
	const max = 64
	if len(b) > max {
		return strconv.Quote(string(b[:max])) + fmt.Sprintf("...(%d bytes)", len(b))
	}
	return strconv.Quote(string(b))
}

// Get returns the value of the first variable named key. nginx never repeats
// a variable unless configured to, and the first one is what uWSGI uses too.
func (p *Packet) Get(key string) ([]byte, bool) {
	for i := range p.Vars {
		if string(p.Vars[i].Key) == key {
			return p.Vars[i].Value, true
		}
	}
	return nil, false
}

// Encode appends a complete packet head (modifiers 0) carrying vars to dst and
// returns the extended slice. It does not validate keys, so tests can build
// malformed packets with it. It panics if a key or value is longer than 65535
// bytes or the vars block would not fit the 16-bit datasize, since no valid
// packet can represent that.
func Encode(dst []byte, vars []Var) []byte {
	size := 0
	for _, v := range vars {
		if len(v.Key) > math.MaxUint16 || len(v.Value) > math.MaxUint16 {
			panic(fmt.Sprintf("uwsgiproto: var %.32q: key or value longer than 65535 bytes", v.Key))
		}
		size += 4 + len(v.Key) + len(v.Value)
	}
	if size > MaxVarsLen {
		panic(fmt.Sprintf("uwsgiproto: vars block of %d bytes exceeds 65535", size))
	}
	dst = append(dst, 0, byte(size), byte(size>>8), 0)
	for _, v := range vars {
		dst = binary.LittleEndian.AppendUint16(dst, uint16(len(v.Key)))
		dst = append(dst, v.Key...)
		dst = binary.LittleEndian.AppendUint16(dst, uint16(len(v.Value)))
		dst = append(dst, v.Value...)
	}
	return dst
}

// ReadHead reads exactly one packet head from r, never reading past it, so
// the body can then be read from r with BodyReader. buf is scratch space that
// is grown as needed and returned for reuse; p.Vars alias it. At a clean end
// of stream before the first header byte it returns io.EOF; a stream that ends
// inside a head gives io.ErrUnexpectedEOF.
func ReadHead(r io.Reader, buf []byte, maxVars int, p *Packet) ([]byte, error) {
	p.Vars = p.Vars[:0]
	p.ContentLength, p.HeadLen = 0, 0
	var hdr [HeaderLen]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return buf, err
	}
	n, err := ParseHeader(hdr, maxVars)
	if err != nil {
		return buf, err
	}
	if cap(buf) < HeaderLen+n {
		buf = make([]byte, HeaderLen+n)
	}
	buf = buf[:HeaderLen+n]
	copy(buf, hdr[:])
	if _, err := io.ReadFull(r, buf[HeaderLen:]); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return buf, err
	}
	return buf, Parse(buf, maxVars, p)
}

// BodyReader returns a reader of exactly the next n body bytes of r. It has
// io.LimitReader semantics (io.EOF after n bytes even if r holds more, such as
// the next pipelined request; n <= 0 gives an empty body) with one difference:
// if r ends before n bytes, the reader returns io.ErrUnexpectedEOF instead of
// io.EOF, so a body cut short by the peer is not mistaken for a complete one
// (an application would otherwise act on a silently truncated upload).
func BodyReader(r *bufio.Reader, n int64) io.Reader {
	return &bodyReader{r: r, n: n}
}

type bodyReader struct {
	r *bufio.Reader
	n int64 // bytes still owed
}

func (b *bodyReader) Read(p []byte) (int, error) {
	if b.n <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > b.n {
		p = p[:b.n]
	}
	n, err := b.r.Read(p)
	b.n -= int64(n)
	if err == io.EOF {
		if b.n > 0 {
			err = io.ErrUnexpectedEOF
		} else {
			err = nil // the body is complete; the next call reports io.EOF
		}
	}
	return n, err
}
