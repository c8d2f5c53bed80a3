package accesslog

import (
	"bytes"
	"time"

	"github.com/gowsgi/gowsgi/internal/httpwire"
)

// Entry is one request as the access log sees it. The server keeps one per
// connection and reuses it, so capturing and formatting allocate nothing
// once its buffers have grown.
type Entry struct {
	Start    time.Time     // when the request's first byte arrived
	Duration time.Duration // from Start to the end of the response
	// The request as the application saw it (REMOTE_ADDR, REMOTE_PORT,
	// REQUEST_METHOD, REQUEST_URI, SERVER_PROTOCOL); the slices must stay
	// valid until Log returns. Empty ones are logged as "-".
	Addr     []byte
	Port     []byte
	Method   []byte
	Target   []byte
	Proto    []byte
	Status   int   // 0 if no response was sent
	Bytes    int64 // response body bytes
	BytesIn  int64 // bytes read from the client for this request
	BytesOut int64 // bytes written to the client for this request

	hdr  []byte // captured header values
	req  []span // per Format.reqNames
	resp []span // per Format.respNames
	line []byte // the formatted line
}

// span locates a captured value in Entry.hdr; n < 0 means absent.
type span struct{ off, n int32 }

// Reset forgets the captured headers of the last request.
func (e *Entry) Reset(f *Format) {
	e.hdr = e.hdr[:0]
	e.req = resetSpans(e.req, len(f.reqNames))
	e.resp = resetSpans(e.resp, len(f.respNames))
}

func resetSpans(s []span, n int) []span {
	if cap(s) < n {
		s = make([]span, n)
	}
	s = s[:n]
	for i := range s {
		s[i] = span{n: -1}
	}
	return s
}

// maxHeaderValue bounds one captured header value; longer ones are cut.
const maxHeaderValue = 2048

func (e *Entry) keep(spans []span, i int, v []byte) {
	if spans[i].n >= 0 {
		return // the first occurrence wins
	}
	if len(v) > maxHeaderValue {
		v = v[:maxHeaderValue]
	}
	spans[i] = span{off: int32(len(e.hdr)), n: int32(len(v))}
	e.hdr = append(e.hdr, v...)
}

// RequestHeaders are the request headers the format logs, lower case;
// SetRequestHeader takes their values by index.
func (f *Format) RequestHeaders() []string {
	names := make([]string, len(f.reqNames))
	for i, n := range f.reqNames {
		names[i] = string(n)
	}
	return names
}

// SetRequestHeader keeps the value of the i-th of RequestHeaders (the
// first value set wins).
func (e *Entry) SetRequestHeader(i int, v []byte) {
	if i >= 0 && i < len(e.req) {
		e.keep(e.req, i, v)
	}
}

// CaptureRequest keeps the request header values the format logs from
// parsed headers; it must run while they are valid.
func (f *Format) CaptureRequest(e *Entry, hs []httpwire.Header) {
	if len(f.reqNames) == 0 {
		return
	}
	for i := range hs {
		for j, name := range f.reqNames {
			if len(hs[i].Name) == len(name) && bytes.EqualFold(hs[i].Name, name) {
				e.keep(e.req, j, hs[i].Value)
			}
		}
	}
}

// CaptureResponse keeps the response header values the format logs, from
// a response head "200 OK\r\nName: value\r\n...".
func (f *Format) CaptureResponse(e *Entry, head []byte) {
	if len(f.respNames) == 0 {
		return
	}
	if i := bytes.IndexByte(head, '\n'); i >= 0 {
		head = head[i+1:]
	}
	for len(head) > 0 {
		i := bytes.IndexByte(head, '\n')
		if i < 0 {
			i = len(head)
		}
		line := bytes.TrimRight(head[:i], "\r")
		head = head[min(i+1, len(head)):]
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			continue
		}
		name := line[:colon]
		for j, n := range f.respNames {
			if len(name) == len(n) && bytes.EqualFold(name, n) {
				e.keep(e.resp, j, bytes.TrimSpace(line[colon+1:]))
			}
		}
	}
}

func (e *Entry) value(spans []span, i int) ([]byte, bool) {
	if i >= len(spans) || spans[i].n < 0 {
		return nil, false
	}
	s := spans[i]
	return e.hdr[s.off : s.off+s.n], true
}
