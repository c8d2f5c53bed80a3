package static

import (
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// smallBody is the largest body read into memory and sent together with
// the head in one write; larger bodies go out with sendfile. One write
// saves a packet and a system call, which matters for the many small files
// (icons, scripts) a page pulls.
const smallBody = 16 << 10

// Reply is one static response, prepared while the request head is valid
// and written afterwards. Replies are pooled: Release returns one.
type Reply struct {
	status  int
	head    bool   // a HEAD request: the body is not sent
	fields  []byte // header lines between Date and Connection
	body    string // a short text body, when there is no file
	fd      int    // the file the parts come from, or -1
	parts   []part
	extra   []byte // multipart boundaries and part headers, sliced by part.prefix and trailer
	trailer [2]int
	length  int64 // Content-Length
	sent    int64 // body bytes Write put on the wire (for the access log)

	scratch []byte // decoded request path
	etag    []byte
	ranges  []byteRange
	buf     []byte // the wire bytes of the head (and a small body)
}

// part is a piece of the body: extra[prefix[0]:prefix[1]], then n bytes of the file from off.
type part struct {
	prefix [2]int
	off, n int64
}

var replies = sync.Pool{New: func() any { return &Reply{fd: -1} }}

func newReply(head bool) *Reply {
	r := replies.Get().(*Reply)
	r.head = head
	return r
}

// Release closes the file and recycles the reply.
func (r *Reply) Release() {
	if r.fd >= 0 {
		unix.Close(r.fd)
	}
	if cap(r.buf) > 4*smallBody || cap(r.extra) > 64<<10 {
		return // do not keep a rare big buffer for every connection
	}
	*r = Reply{
		fd:      -1,
		fields:  r.fields[:0],
		parts:   r.parts[:0],
		extra:   r.extra[:0],
		scratch: r.scratch[:0],
		etag:    r.etag[:0],
		ranges:  r.ranges[:0],
		buf:     r.buf[:0],
	}
	replies.Put(r)
}

// Status is the response status, for logs and tests.
func (r *Reply) Status() int { return r.status }

// text makes a short plain-text response for an error status.
func (r *Reply) text(status int) {
	r.status = status
	r.setText(strings.ToLower(http.StatusText(status)) + "\n")
}

func (r *Reply) setText(s string) {
	f := append(r.fields, "Content-Type: text/plain; charset=utf-8\r\nContent-Length: "...)
	f = strconv.AppendInt(f, int64(len(s)), 10)
	r.fields = append(f, "\r\n"...)
	r.body = s
	r.length = int64(len(s))
}

// redirect answers 301 to the same path with a slash appended, keeping the query.
// Leading slashes become one: with a mapping at "/", "//evil.example" would
// otherwise redirect to "//evil.example/", which a browser reads as another
// host (an open redirect; RFC 3986 section 4.2, a network-path reference).
func (r *Reply) redirect(rawPath, query []byte, hasQuery bool) {
	for len(rawPath) > 1 && rawPath[1] == '/' {
		rawPath = rawPath[1:]
	}
	r.status = 301
	f := append(r.fields, "Location: "...)
	f = append(f, rawPath...)
	f = append(f, '/')
	if hasQuery {
		f = append(f, '?')
		f = append(f, query...)
	}
	r.fields = append(f, "\r\n"...)
	r.setText("moved permanently\n")
}

// Write sends the reply on w and reports whether all of it went out (if
// not, the connection must be closed). date is the Date value; keepAlive
// and http10 decide the Connection field. Every write gets timeout.
// BodySent tells afterwards how much of the body went out.
func (r *Reply) Write(w net.Conn, date []byte, keepAlive, http10 bool, timeout time.Duration) bool {
	b := r.buf[:0]
	b = append(b, "HTTP/1.1 "...)
	b = strconv.AppendInt(b, int64(r.status), 10)
	b = append(b, ' ')
	b = append(b, http.StatusText(r.status)...)
	b = append(b, "\r\nDate: "...)
	b = append(b, date...)
	b = append(b, "\r\n"...)
	b = append(b, r.fields...)
	if !keepAlive {
		b = append(b, "Connection: close\r\n"...)
	} else if http10 {
		b = append(b, "Connection: keep-alive\r\n"...)
	}
	b = append(b, "\r\n"...)
	defer func() { r.buf = b[:0] }()
	headLen := len(b)
	// withBody writes the head and a body appended to it in one write.
	withBody := func() bool {
		n, ok := writeAll(w, b, timeout)
		r.sent += int64(max(n-headLen, 0))
		return ok
	}

	if r.head || r.status == 304 {
		_, ok := writeAll(w, b, timeout)
		return ok
	}
	if r.fd < 0 {
		b = append(b, r.body...)
		return withBody()
	}
	if len(r.parts) == 1 && r.parts[0].n <= smallBody {
		p := r.parts[0]
		b = slices.Grow(b, int(p.n))[:headLen+int(p.n)]
		if !preadFull(r.fd, b[headLen:], p.off) {
			return false // the file shrank: the declared length cannot be met
		}
		return withBody()
	}
	if _, ok := writeAll(w, b, timeout); !ok {
		return false
	}
	f := os.NewFile(uintptr(r.fd), "static")
	r.fd = -1
	defer f.Close()
	for _, p := range r.parts {
		if p.prefix[1] > p.prefix[0] && !r.writeBody(w, r.extra[p.prefix[0]:p.prefix[1]], timeout) {
			return false
		}
		n, err := SendFile(w, f, p.off, p.n, timeout)
		r.sent += n
		if err != nil {
			return false
		}
	}
	if r.trailer[1] > r.trailer[0] {
		return r.writeBody(w, r.extra[r.trailer[0]:r.trailer[1]], timeout)
	}
	return true
}

// writeBody writes b, a piece of the body, and counts what went out.
func (r *Reply) writeBody(w net.Conn, b []byte, timeout time.Duration) bool {
	n, ok := writeAll(w, b, timeout)
	r.sent += int64(n)
	return ok
}

func writeAll(w net.Conn, b []byte, timeout time.Duration) (int, bool) {
	w.SetWriteDeadline(time.Now().Add(timeout))
	n, err := w.Write(b)
	return n, err == nil
}

// preadFull fills b from fd at off; false if the file ended first or failed.
func preadFull(fd int, b []byte, off int64) bool {
	for len(b) > 0 {
		n, err := unix.Pread(fd, b, off)
		if err == unix.EINTR {
			continue
		}
		if err != nil || n == 0 {
			return false
		}
		b = b[n:]
		off += int64(n)
	}
	return true
}

// BodySent is how many body bytes Write sent: the whole body, or less
// when the client went away (nginx's $body_bytes_sent).
func (r *Reply) BodySent() int64 { return r.sent }
