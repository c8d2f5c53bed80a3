package static

import (
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// respond fills r with the response for the open regular file fd (taking
// it over): 200, 206 (one range or multipart/byteranges), 304, 412 or 416.
func (h *Handler) respond(r *Reply, fd int, st *unix.Stat_t, ctype, encoding string, vary bool, hdr *reqHeaders) {
	size := st.Size
	lastMod := st.Mtim.Sec
	etag := appendETag(r.etag[:0], st)
	r.etag = etag

	switch hdr.precondition(etag, lastMod) {
	case 412:
		unix.Close(fd)
		r.text(412)
		return
	case 304:
		unix.Close(fd)
		r.status = 304
		h.validators(r, etag, lastMod, vary)
		return
	}

	// Range applies to GET only (RFC 9110 §14.2), and an empty file has no
	// range to give: nginx and Go answer 200 too.
	if hdr.rng != nil && !hdr.multiRange && !r.head && size > 0 && hdr.ifRangeAllows(etag, lastMod) {
		ranges, res := parseRange(hdr.rng, size, r.ranges[:0])
		r.ranges = ranges
		switch res {
		case rangeUnsatisfiable:
			unix.Close(fd)
			r.status = 416
			f := r.fields
			f = append(f, "Content-Range: bytes */"...)
			f = strconv.AppendInt(f, size, 10)
			f = append(f, "\r\n"...)
			r.fields = f
			r.setText("range not satisfiable\n")
			return
		case rangeOK:
			r.fd = fd
			r.status = 206
			if len(ranges) == 1 {
				f := r.fields
				f = header(f, "Content-Type", ctype)
				f = appendContentRange(append(f, "Content-Range: "...), ranges[0], size)
				f = append(f, "\r\n"...)
				r.fields = f
				r.parts = append(r.parts[:0], part{off: ranges[0].off, n: ranges[0].n})
				r.length = ranges[0].n
				h.entityHeaders(r, etag, lastMod, encoding, vary)
				return
			}
			h.multipart(r, ranges, size, ctype)
			h.entityHeaders(r, etag, lastMod, encoding, vary)
			return
		}
	}

	r.fd = fd
	r.status = 200
	r.fields = header(r.fields, "Content-Type", ctype)
	r.length = size
	r.parts = append(r.parts[:0], part{off: 0, n: size})
	h.entityHeaders(r, etag, lastMod, encoding, vary)
	r.fields = append(r.fields, "Accept-Ranges: bytes\r\n"...)
}

// entityHeaders adds Content-Length and the fields shared by 200 and 206.
func (h *Handler) entityHeaders(r *Reply, etag []byte, lastMod int64, encoding string, vary bool) {
	f := append(r.fields, "Content-Length: "...)
	f = strconv.AppendInt(f, r.length, 10)
	r.fields = append(f, "\r\n"...)
	h.validators(r, etag, lastMod, vary)
	if encoding != "" {
		r.fields = header(r.fields, "Content-Encoding", encoding)
	}
}

// validators adds what a 304 must repeat from the 200 (RFC 9110 §15.4.5):
// Last-Modified, ETag, Cache-Control, Expires and Vary.
func (h *Handler) validators(r *Reply, etag []byte, lastMod int64, vary bool) {
	f := append(r.fields, "Last-Modified: "...)
	f = time.Unix(lastMod, 0).UTC().AppendFormat(f, http.TimeFormat)
	f = append(f, "\r\nETag: "...)
	f = append(f, etag...)
	f = append(f, "\r\n"...)
	if h.expires > 0 {
		f = append(f, expiresFields(h.expires)...)
	}
	if vary {
		f = append(f, "Vary: Accept-Encoding\r\n"...)
	}
	r.fields = f
}

// multipart lays out a multipart/byteranges body (RFC 9110 §14.6): each
// part's boundary and header lines go to r.extra, and the parts point at
// them.
func (h *Handler) multipart(r *Reply, ranges []byteRange, size int64, ctype string) {
	var boundary [16]byte
	const hexdigits = "0123456789abcdef"
	for i := range boundary {
		boundary[i] = hexdigits[rand.IntN(16)]
	}
	x := r.extra[:0]
	r.parts = r.parts[:0]
	var length int64
	for _, rg := range ranges {
		start := len(x)
		x = append(x, "\r\n--"...)
		x = append(x, boundary[:]...)
		x = append(x, "\r\nContent-Type: "...)
		x = append(x, ctype...)
		x = append(x, "\r\nContent-Range: "...)
		x = appendContentRange(x, rg, size)
		x = append(x, "\r\n\r\n"...)
		r.parts = append(r.parts, part{prefix: [2]int{start, len(x)}, off: rg.off, n: rg.n})
		length += int64(len(x)-start) + rg.n
	}
	start := len(x)
	x = append(x, "\r\n--"...)
	x = append(x, boundary[:]...)
	x = append(x, "--\r\n"...)
	r.trailer = [2]int{start, len(x)}
	length += int64(len(x) - start)
	r.extra = x
	r.length = length
	f := append(r.fields, "Content-Type: multipart/byteranges; boundary="...)
	f = append(f, boundary[:]...)
	r.fields = append(f, "\r\n"...)
}

func appendContentRange(b []byte, rg byteRange, size int64) []byte {
	b = append(b, "bytes "...)
	b = strconv.AppendInt(b, rg.off, 10)
	b = append(b, '-')
	b = strconv.AppendInt(b, rg.off+rg.n-1, 10)
	b = append(b, '/')
	return strconv.AppendInt(b, size, 10)
}

func header(b []byte, name, value string) []byte {
	b = append(b, name...)
	b = append(b, ": "...)
	b = append(b, value...)
	return append(b, "\r\n"...)
}

// expiresCache holds the Cache-Control and Expires lines for the current
// second, so they are formatted once a second, not per response.
var expiresCache atomic.Pointer[expiresLines]

type expiresLines struct {
	sec, maxAge int64
	b           []byte
}

func expiresFields(maxAge int64) []byte {
	now := time.Now().Unix()
	if c := expiresCache.Load(); c != nil && c.sec == now && c.maxAge == maxAge {
		return c.b
	}
	b := append([]byte("Cache-Control: max-age="), strconv.FormatInt(maxAge, 10)...)
	b = append(b, "\r\nExpires: "...)
	b = time.Unix(now+maxAge, 0).UTC().AppendFormat(b, http.TimeFormat)
	b = append(b, "\r\n"...)
	expiresCache.Store(&expiresLines{sec: now, maxAge: maxAge, b: b})
	return b
}
