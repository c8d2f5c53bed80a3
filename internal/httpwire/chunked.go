package httpwire

import (
	"bufio"
	"io"
	"math"
)

// Chunked-body errors. All are 400: the body cannot be framed.
var (
	errChunkSize     = &Error{400, "invalid chunk size"}
	errChunkExt      = &Error{400, "invalid chunk extension"}
	errChunkLine     = &Error{400, "chunk line too long"}
	errChunkDataEnd  = &Error{400, "missing crlf after chunk data"}
	errTrailerTooBig = &Error{400, "trailer section too large"}
)

const (
	stSize    = iota // expecting a chunk-size line
	stData           // inside chunk data
	stDataEnd        // expecting the CRLF after chunk data
)

// ChunkedReader decodes a chunked body (RFC 9112 §7.1) from a *bufio.Reader.
// Read returns io.EOF after the last chunk and the trailer section, which is
// validated like a header section and discarded. The reader never consumes
// bytes past the end of the body, so the next pipelined request stays in the
// bufio.Reader.
//
// Malformed input gives an *Error with Status 400. A stream that ends early
// gives io.ErrUnexpectedEOF, and other read errors are passed through; all
// errors are sticky, since the position in the chunk framing is lost.
type ChunkedReader struct {
	r          *bufio.Reader
	maxLine    int   // chunk-size line, without CRLF (MaxFieldSize)
	maxTrailer int   // trailer section including its final CRLF (MaxHeadBytes)
	left       int64 // bytes of chunk data still to read
	state      uint8
	err        error
}

// NewChunkedReader returns a reader of the chunked body at r. lim may be nil
// for the defaults.
func NewChunkedReader(r *bufio.Reader, lim *Limits) *ChunkedReader {
	l := limitsOf(lim)
	return &ChunkedReader{r: r, maxLine: l.MaxFieldSize, maxTrailer: l.MaxHeadBytes}
}

// Reset makes c read a new chunked body from r, keeping its limits.
func (c *ChunkedReader) Reset(r *bufio.Reader) {
	c.r, c.left, c.state, c.err = r, 0, stSize, nil
}

// Read reads decoded body bytes into p.
func (c *ChunkedReader) Read(p []byte) (int, error) {
	for c.err == nil {
		switch c.state {
		case stSize:
			n, err := c.readSize()
			if err != nil {
				c.err = err
				break
			}
			if n == 0 {
				if err := c.readTrailer(); err != nil {
					c.err = err
					break
				}
				c.err = io.EOF
				break
			}
			c.left, c.state = n, stData
		case stData:
			if len(p) == 0 {
				return 0, nil
			}
			if int64(len(p)) > c.left {
				p = p[:c.left]
			}
			n, err := c.r.Read(p)
			c.left -= int64(n)
			if c.left == 0 {
				c.state = stDataEnd
			}
			if err != nil {
				c.err = unexpected(err)
			}
			if n > 0 || err == nil {
				// A read error after some data is returned by the next call.
				return n, nil
			}
		case stDataEnd:
			b, err := c.r.ReadByte()
			if err == nil && b == '\r' {
				b, err = c.r.ReadByte()
				if err == nil && b == '\n' {
					c.state = stSize
					break
				}
			}
			switch {
			case err != nil:
				c.err = unexpected(err)
			case b == '\n':
				c.err = errBareLF
			default:
				c.err = errChunkDataEnd
			}
		}
	}
	return 0, c.err
}

func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// next reads one byte of a line, charging it to budget; running out of
// budget is reported as tooLong.
func (c *ChunkedReader) next(budget *int, tooLong *Error) (byte, error) {
	if *budget <= 0 {
		return 0, tooLong
	}
	*budget--
	b, err := c.r.ReadByte()
	if err != nil {
		return 0, unexpected(err)
	}
	return b, nil
}

// readSize reads a chunk-size line (RFC 9112 §7.1, §7.1.1):
//
//	chunk-size [ chunk-ext ] CRLF
//	chunk-ext = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] )
//
// Extensions are validated and ignored. Whitespace is only accepted where
// BWS is, so "5 " or " 5" are errors, and so is a bare LF anywhere: lenient
// chunk-line parsing is a classic smuggling vector.
func (c *ChunkedReader) readSize() (int64, error) {
	budget := c.maxLine + 2
	b, err := c.next(&budget, errChunkLine)
	if err != nil {
		return 0, err
	}
	var n uint64
	digits := 0
	for ctab[b]&cHex != 0 {
		// More than 16 digits would overflow; leading zeros past that
		// are not worth supporting.
		if digits++; digits > 16 {
			return 0, errChunkSize
		}
		n = n<<4 | uint64(unhex(b))
		if b, err = c.next(&budget, errChunkLine); err != nil {
			return 0, err
		}
	}
	if digits == 0 || n > math.MaxInt64 {
		return 0, errChunkSize
	}
	ext := false // seen a chunk-ext
	for {
		ws := false
		for isWS(b) {
			ws = true
			if b, err = c.next(&budget, errChunkLine); err != nil {
				return 0, err
			}
		}
		switch b {
		case '\r':
			if ws {
				// BWS is only allowed before ';' or '='.
				return 0, errChunkExt
			}
			if b, err = c.next(&budget, errChunkLine); err != nil {
				return 0, err
			}
			if b != '\n' {
				return 0, errBareCR
			}
			return int64(n), nil
		case '\n':
			return 0, errBareLF
		case ';':
		default:
			if !ext && !ws {
				return 0, errChunkSize // e.g. "0x10", "5z"
			}
			return 0, errChunkExt
		}
		ext = true
		b, err = c.skipWS(&budget)
		if err != nil {
			return 0, err
		}
		if b, err = c.token(b, &budget); err != nil {
			return 0, err
		}
		// Leading BWS before '=' would be consumed by the loop top but is
		// only legal if '=' or ';' follows: peek through it here.
		for isWS(b) {
			if b, err = c.next(&budget, errChunkLine); err != nil {
				return 0, err
			}
			if b == '\r' {
				return 0, errChunkExt
			}
		}
		if b != '=' {
			continue
		}
		if b, err = c.skipWS(&budget); err != nil {
			return 0, err
		}
		if b == '"' {
			if err = c.quoted(&budget); err != nil {
				return 0, err
			}
			if b, err = c.next(&budget, errChunkLine); err != nil {
				return 0, err
			}
		} else if b, err = c.token(b, &budget); err != nil {
			return 0, err
		}
	}
}

// skipWS reads the next byte that is not SP/HTAB.
func (c *ChunkedReader) skipWS(budget *int) (byte, error) {
	for {
		b, err := c.next(budget, errChunkLine)
		if err != nil || !isWS(b) {
			return b, err
		}
	}
}

// token consumes a non-empty token starting with b and returns the byte after it.
func (c *ChunkedReader) token(b byte, budget *int) (byte, error) {
	if ctab[b]&cTchar == 0 {
		if b == '\n' {
			return 0, errBareLF
		}
		return 0, errChunkExt
	}
	for ctab[b]&cTchar != 0 {
		var err error
		if b, err = c.next(budget, errChunkLine); err != nil {
			return 0, err
		}
	}
	return b, nil
}

// quoted consumes the rest of a quoted-string (RFC 9110 §5.6.4) whose
// opening DQUOTE has been read, up to and including the closing one.
func (c *ChunkedReader) quoted(budget *int) error {
	for {
		b, err := c.next(budget, errChunkLine)
		if err != nil {
			return err
		}
		switch {
		case b == '"':
			return nil
		case b == '\\':
			// quoted-pair = "\" ( HTAB / SP / VCHAR / obs-text )
			if b, err = c.next(budget, errChunkLine); err != nil {
				return err
			}
			if b != '\t' && (b < ' ' || b == 0x7f) {
				return errChunkExt
			}
		case b == '\t' || b >= ' ' && b != 0x7f:
			// qdtext: everything printable but '"' and '\', handled above.
		default:
			return errChunkExt
		}
	}
}

// readTrailer reads the trailer section after the last chunk (RFC 9112
// §7.1.2) with the field-line rules of a header section, and discards it.
func (c *ChunkedReader) readTrailer() error {
	budget := c.maxTrailer
	for {
		b, err := c.next(&budget, errTrailerTooBig)
		if err != nil {
			return err
		}
		switch b {
		case '\r':
			if b, err = c.next(&budget, errTrailerTooBig); err != nil {
				return err
			}
			if b != '\n' {
				return errBareCR
			}
			return nil
		case '\n':
			return errBareLF
		case ' ', '\t':
			return errObsFold
		}
		if ctab[b]&cTchar == 0 {
			return errFieldName
		}
		for ctab[b]&cTchar != 0 {
			if b, err = c.next(&budget, errTrailerTooBig); err != nil {
				return err
			}
		}
		switch b {
		case ':':
		case ' ', '\t':
			return errSpaceColon
		default:
			return errFieldName
		}
		for {
			if b, err = c.next(&budget, errTrailerTooBig); err != nil {
				return err
			}
			if ctab[b]&cValue == 0 {
				break
			}
		}
		switch b {
		case '\r':
		case '\n':
			return errBareLF
		default:
			return errFieldValue
		}
		if b, err = c.next(&budget, errTrailerTooBig); err != nil {
			return err
		}
		if b != '\n' {
			return errBareCR
		}
	}
}
