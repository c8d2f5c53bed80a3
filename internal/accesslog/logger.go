package accesslog

import (
	"io"
	"os"
	"strconv"
	"sync/atomic"
	"time"
)

// Logger formats entries and writes each line with one Write call, so a
// buffered writer shared with other log records never splits a line.
type Logger struct {
	f      *Format
	json   bool
	out    io.Writer
	worker int
	pid    int
}

// New makes a logger writing f-formatted lines (JSON objects when json is
// set) to out; worker is the %(worker) value.
func New(f *Format, json bool, out io.Writer, worker int) *Logger {
	return &Logger{f: f, json: json, out: out, worker: worker, pid: os.Getpid()}
}

// Format is the logger's format.
func (l *Logger) Format() *Format { return l.f }

// Log writes e's line. e's buffers are reused for it.
func (l *Logger) Log(e *Entry) {
	if l.json {
		e.line = l.appendJSON(e.line[:0], e)
	} else {
		e.line = l.appendText(e.line[:0], e)
	}
	l.out.Write(e.line)
}

// appendText formats e as a text line.
func (l *Logger) appendText(b []byte, e *Entry) []byte {
	for _, a := range l.f.atoms {
		if v, ok := textAtom(a.kind, e); ok {
			if a.kind == atomQuery {
				b = appendEscaped(b, v) // an empty query is logged as nothing, not "-"
			} else {
				b = appendEscapedOrDash(b, v)
			}
			continue
		}
		switch a.kind {
		case atomLiteral:
			b = append(b, a.text...)
		case atomLtime:
			b = append(b, clock(e.Start).ltime...)
		case atomISO:
			b = appendISO(b, e.Start)
		case atomReferer, atomUagent, atomReqHeader:
			b = appendHeader(b, e, e.req, a.hdr)
		case atomRespHeader:
			b = appendHeader(b, e, e.resp, a.hdr)
		default:
			b = l.appendNumber(b, a.kind, e)
		}
	}
	return append(b, '\n')
}

// appendJSON formats e as one JSON object: "time", "level" and "msg" as in
// the server's JSON records, then one key per atom of the format.
func (l *Logger) appendJSON(b []byte, e *Entry) []byte {
	b = append(b, `{"time":"`...)
	b = appendISO(b, e.Start)
	b = append(b, `","level":"INFO","msg":"access"`...)
	for _, a := range l.f.atoms {
		if a.kind == atomLiteral {
			continue
		}
		b = append(b, ',', '"')
		b = append(b, a.text...) // names and header names need no escaping
		b = append(b, '"', ':')
		if v, ok := textAtom(a.kind, e); ok {
			b = appendJSONString(b, v)
			continue
		}
		switch a.kind {
		case atomLtime:
			b = append(b, '"')
			b = append(b, clock(e.Start).ltime...)
			b = append(b, '"')
		case atomISO:
			b = append(b, '"')
			b = appendISO(b, e.Start)
			b = append(b, '"')
		case atomReferer, atomUagent, atomReqHeader:
			b = appendJSONHeader(b, e, e.req, a.hdr)
		case atomRespHeader:
			b = appendJSONHeader(b, e, e.resp, a.hdr)
		default:
			b = l.appendNumber(b, a.kind, e)
		}
	}
	return append(b, '}', '\n')
}

// textAtom is the value of an atom that is a piece of the request as
// received; false for every other kind. Each format escapes it its own way.
func textAtom(kind atomKind, e *Entry) ([]byte, bool) {
	switch kind {
	case atomAddr:
		return e.Addr, true
	case atomPort:
		return e.Port, true
	case atomMethod:
		return e.Method, true
	case atomURI:
		return e.Target, true
	case atomPath:
		return pathOf(e.Target), true
	case atomQuery:
		return queryOf(e.Target), true
	case atomProto:
		return e.Proto, true
	}
	return nil, false
}

// appendNumber writes a numeric atom, the same in both formats.
func (l *Logger) appendNumber(b []byte, kind atomKind, e *Entry) []byte {
	switch kind {
	case atomEpoch:
		return strconv.AppendInt(b, e.Start.Unix(), 10)
	case atomStatus:
		return strconv.AppendInt(b, int64(e.Status), 10)
	case atomBytes:
		return strconv.AppendInt(b, e.Bytes, 10)
	case atomBytesIn:
		return strconv.AppendInt(b, e.BytesIn, 10)
	case atomBytesOut:
		return strconv.AppendInt(b, e.BytesOut, 10)
	case atomDuration:
		return appendSeconds(b, e.Duration)
	case atomMsecs:
		return strconv.AppendInt(b, e.Duration.Milliseconds(), 10)
	case atomUsecs:
		return strconv.AppendInt(b, e.Duration.Microseconds(), 10)
	case atomWorker:
		return strconv.AppendInt(b, int64(l.worker), 10)
	case atomPID:
		return strconv.AppendInt(b, int64(l.pid), 10)
	}
	return b
}

func pathOf(target []byte) []byte {
	for i, c := range target {
		if c == '?' {
			return target[:i]
		}
	}
	return target
}

func queryOf(target []byte) []byte {
	for i, c := range target {
		if c == '?' {
			return target[i+1:]
		}
	}
	return nil
}

// appendSeconds writes d in seconds with six decimals, without floats.
func appendSeconds(b []byte, d time.Duration) []byte {
	if d < 0 {
		d = 0
	}
	us := (d.Nanoseconds() + 500) / 1000
	b = strconv.AppendInt(b, us/1e6, 10)
	b = append(b, '.')
	frac := us % 1e6
	for div := int64(1e5); div > 0; div /= 10 {
		b = append(b, byte('0'+frac/div%10))
	}
	return b
}

const hexDigits = "0123456789abcdef"

// needsEscape marks the bytes written as \xHH in text lines: controls,
// DEL, non-ASCII, the quote and the backslash, so a line can neither be
// split nor have its quoted fields forged (as nginx does).
var needsEscape = func() (t [256]bool) {
	for c := 0; c < 256; c++ {
		t[c] = c < 0x20 || c >= 0x7f || c == '"' || c == '\\'
	}
	return t
}()

func appendEscaped[T string | []byte](b []byte, s T) []byte {
	clean := 0 // s[clean:i] needs no escaping: appended in one piece
	for i := 0; i < len(s); i++ {
		c := s[i]
		if needsEscape[c] {
			b = append(b, s[clean:i]...)
			b = append(b, '\\', 'x', hexDigits[c>>4], hexDigits[c&15])
			clean = i + 1
		}
	}
	return append(b, s[clean:]...)
}

func appendEscapedOrDash(b []byte, s []byte) []byte {
	if len(s) == 0 {
		return append(b, '-')
	}
	return appendEscaped(b, s)
}

func appendHeader(b []byte, e *Entry, spans []span, i int) []byte {
	v, ok := e.value(spans, i)
	if !ok || len(v) == 0 {
		return append(b, '-')
	}
	return appendEscaped(b, v)
}

// appendJSONString writes s as a JSON string. Bytes are read as latin-1,
// as PEP 3333 does for header values, so any input gives valid JSON.
func appendJSONString[T string | []byte](b []byte, s T) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20 || c == 0x7f:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&15])
		case c >= 0x80:
			b = append(b, 0xc0|c>>6, 0x80|c&0x3f) // the latin-1 code point in UTF-8
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

func appendJSONHeader(b []byte, e *Entry, spans []span, i int) []byte {
	v, ok := e.value(spans, i)
	if !ok {
		return append(b, "null"...)
	}
	return appendJSONString(b, v)
}

// clockText is the formatted times of one second.
type clockText struct {
	sec   int64
	ltime []byte // 22/Nov/2026:10:00:00 +0000
	iso   []byte // 2026-11-22T10:00:00
	zone  []byte // Z or +01:00
}

var clockCache atomic.Pointer[clockText]

// clock returns t's second formatted, from a cache renewed once a second.
func clock(t time.Time) *clockText {
	sec := t.Unix()
	if c := clockCache.Load(); c != nil && c.sec == sec {
		return c
	}
	lt := t.Local()
	c := &clockText{
		sec:   sec,
		ltime: lt.AppendFormat(nil, "02/Jan/2006:15:04:05 -0700"),
		iso:   lt.AppendFormat(nil, "2006-01-02T15:04:05"),
		zone:  lt.AppendFormat(nil, "Z07:00"),
	}
	clockCache.Store(c)
	return c
}

// appendISO writes t as RFC 3339 with milliseconds, as slog's JSON does.
func appendISO(b []byte, t time.Time) []byte {
	c := clock(t)
	b = append(b, c.iso...)
	ms := t.Nanosecond() / 1e6
	b = append(b, '.', byte('0'+ms/100), byte('0'+ms/10%10), byte('0'+ms%10))
	return append(b, c.zone...)
}
