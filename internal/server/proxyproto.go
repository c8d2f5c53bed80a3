package server

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net/netip"
	"strconv"
	"time"
)

// The PROXY protocol (HAProxy, "The PROXY protocol", versions 1 and 2)
// lets a TCP proxy tell the server who the client is in a header sent
// before anything else on the connection. With --proxy-protocol, every
// connection from a --forwarded-allow-ips peer must start with one (as an
// nginx or HAProxy listener configured for it requires); the addresses it
// carries replace the connection's, and the client address it names is
// what is then checked against --forwarded-allow-ips for X-Forwarded-*.
// Connections from other peers never have a header read: their bytes are
// HTTP, so a PROXY line from them is a malformed request (400).

// maxProxyHeader is the largest PROXY header accepted (v2 with TLVs; v1 is
// at most 107 bytes). It fits the connection's read buffer, so the whole
// header can be looked at in place.
const maxProxyHeader = readBufferSize

// A negative array length fails to compile if the read buffer shrinks below maxProxyHeader.
var _ [readBufferSize - maxProxyHeader]struct{}

const (
	proxyV1Max    = 107 // the longest v1 line, CRLF included (spec §2.1)
	proxyV2Fixed  = 16
	proxyV2Prefix = "\r\n\r\n\x00\r\nQUIT\n"
)

// proxyHeader is a parsed PROXY header.
type proxyHeader struct {
	version int
	// local: the header carries no client address (v1 UNKNOWN, v2 LOCAL,
	// an unspecified or Unix family): the connection's addresses stand.
	local    bool
	src, dst netip.AddrPort
}

// errProxyIncomplete: the buffer is a valid beginning of a header but not a whole one.
var errProxyIncomplete = errors.New("incomplete proxy protocol header")

type proxyError string

func (e proxyError) Error() string { return "proxy protocol: " + string(e) }

// parseProxyHeader parses the PROXY header at the start of b and returns it
// with its length. It returns errProxyIncomplete while b is a proper prefix
// of some valid header, and a proxyError as soon as b cannot become one, so
// a peer sending garbage is refused without waiting for a timeout.
func parseProxyHeader(b []byte) (proxyHeader, int, error) {
	if len(b) == 0 {
		return proxyHeader{}, 0, errProxyIncomplete
	}
	if b[0] == 'P' {
		return parseProxyV1(b)
	}
	if b[0] == '\r' {
		return parseProxyV2(b)
	}
	return proxyHeader{}, 0, proxyError("no proxy protocol header")
}

// parseProxyV1: "PROXY TCP4|TCP6 src dst sport dport\r\n" or "PROXY UNKNOWN...\r\n".
func parseProxyV1(b []byte) (proxyHeader, int, error) {
	const sig = "PROXY "
	n := min(len(b), len(sig))
	if string(b[:n]) != sig[:n] {
		return proxyHeader{}, 0, proxyError("no proxy protocol header")
	}
	end := bytes.IndexByte(b[:min(len(b), proxyV1Max)], '\n')
	if end < 0 {
		if len(b) >= proxyV1Max {
			return proxyHeader{}, 0, proxyError("v1 line longer than 107 bytes")
		}
		if i := bytes.IndexByte(b, '\r'); i >= 0 && i+1 < len(b) {
			return proxyHeader{}, 0, proxyError("v1 line has a bare cr")
		}
		if len(b) > len(sig) {
			if err := checkV1Chars(b[len(sig):]); err != nil {
				return proxyHeader{}, 0, err
			}
		}
		return proxyHeader{}, 0, errProxyIncomplete
	}
	if end == 0 || b[end-1] != '\r' {
		return proxyHeader{}, 0, proxyError("v1 line does not end in crlf")
	}
	line := b[len(sig) : end-1]
	if bytes.IndexByte(line, '\r') >= 0 {
		return proxyHeader{}, 0, proxyError("v1 line has a bare cr")
	}
	if err := checkV1Chars(line); err != nil {
		return proxyHeader{}, 0, err
	}
	h := proxyHeader{version: 1}
	// UNKNOWN may be followed by anything (the spec tells receivers to
	// ignore the rest of the line): the sender does not know the addresses.
	if bytes.HasPrefix(line, []byte("UNKNOWN")) && (len(line) == len("UNKNOWN") || line[len("UNKNOWN")] == ' ') {
		h.local = true
		return h, end + 1, nil
	}
	f := bytes.Split(line, []byte(" "))
	if len(f) != 5 {
		return proxyHeader{}, 0, proxyError("v1 line does not have 5 fields after the signature")
	}
	var want4 bool
	switch string(f[0]) {
	case "TCP4":
		want4 = true
	case "TCP6":
	default:
		return proxyHeader{}, 0, proxyError("v1 protocol " + strconv.Quote(string(f[0])) + " is not tcp4, tcp6 or unknown")
	}
	src, err1 := netip.ParseAddr(string(f[1]))
	dst, err2 := netip.ParseAddr(string(f[2]))
	if err1 != nil || err2 != nil || src.Zone() != "" || dst.Zone() != "" ||
		src.Is4() != want4 || dst.Is4() != want4 {
		return proxyHeader{}, 0, proxyError("v1 addresses do not match their protocol")
	}
	sport, ok1 := v1Port(f[3])
	dport, ok2 := v1Port(f[4])
	if !ok1 || !ok2 {
		return proxyHeader{}, 0, proxyError("v1 ports are not decimal numbers from 0 to 65535")
	}
	h.src = netip.AddrPortFrom(src.Unmap(), sport)
	h.dst = netip.AddrPortFrom(dst.Unmap(), dport)
	return h, end + 1, nil
}

// checkV1Chars refuses bytes that cannot appear in a v1 line (it is
// US-ASCII text), so binary garbage is refused before the line ends.
func checkV1Chars(s []byte) error {
	for _, ch := range s {
		if (ch < ' ' || ch > '~') && ch != '\r' {
			return proxyError("v1 line has a non-printable byte")
		}
	}
	return nil
}

// v1Port: decimal, no sign, no leading zero, at most 65535.
func v1Port(p []byte) (uint16, bool) {
	if len(p) == 0 || len(p) > 5 || len(p) > 1 && p[0] == '0' {
		return 0, false
	}
	n := 0
	for _, ch := range p {
		if ch < '0' || ch > '9' {
			return 0, false
		}
		n = n*10 + int(ch-'0')
	}
	return uint16(n), n <= 65535
}

// parseProxyV2 parses the binary header: a 12-byte signature, version and
// command, family and transport, a big-endian length, then the addresses
// and TLVs.
func parseProxyV2(b []byte) (proxyHeader, int, error) {
	n := min(len(b), len(proxyV2Prefix))
	if string(b[:n]) != proxyV2Prefix[:n] {
		return proxyHeader{}, 0, proxyError("no proxy protocol header")
	}
	if len(b) > 12 && b[12]>>4 != 2 {
		return proxyHeader{}, 0, proxyError("v2 version nibble is not 2")
	}
	if len(b) > 12 && b[12]&0xf > 1 {
		return proxyHeader{}, 0, proxyError("v2 command is neither local nor proxy")
	}
	if len(b) > 13 && (b[13]>>4 > 3 || b[13]&0xf > 2) {
		return proxyHeader{}, 0, proxyError("v2 address family or transport is not defined")
	}
	if len(b) < proxyV2Fixed {
		return proxyHeader{}, 0, errProxyIncomplete
	}
	length := int(binary.BigEndian.Uint16(b[14:16]))
	total := proxyV2Fixed + length
	if total > maxProxyHeader {
		return proxyHeader{}, 0, proxyError("v2 header of " + strconv.Itoa(total) + " bytes is larger than the " + strconv.Itoa(maxProxyHeader) + " allowed")
	}
	cmd, fam, transport := b[12]&0xf, b[13]>>4, b[13]&0xf
	if cmd == 0 {
		// LOCAL: the proxy's own connection (a health check). The spec
		// has the receiver ignore the family and discard the whole block,
		// so its content is not checked.
		if len(b) < total {
			return proxyHeader{}, 0, errProxyIncomplete
		}
		return proxyHeader{version: 2, local: true}, total, nil
	}
	var addrLen int
	switch fam {
	case 1:
		addrLen = 12
	case 2:
		addrLen = 36
	case 3:
		addrLen = 216
	}
	if length < addrLen {
		return proxyHeader{}, 0, proxyError("v2 length " + strconv.Itoa(length) + " is too short for its address family")
	}
	if len(b) < total {
		return proxyHeader{}, 0, errProxyIncomplete
	}
	payload := b[proxyV2Fixed:total]
	if err := checkTLVs(payload[addrLen:]); err != nil {
		return proxyHeader{}, 0, err
	}
	h := proxyHeader{version: 2}
	if (fam == 1 || fam == 2) && transport != 1 {
		return proxyHeader{}, 0, proxyError("v2 proxy command for an inet family over a transport other than stream")
	}
	switch fam {
	case 1:
		h.src = netip.AddrPortFrom(netip.AddrFrom4([4]byte(payload[0:4])), binary.BigEndian.Uint16(payload[8:10]))
		h.dst = netip.AddrPortFrom(netip.AddrFrom4([4]byte(payload[4:8])), binary.BigEndian.Uint16(payload[10:12]))
	case 2:
		src := netip.AddrFrom16([16]byte(payload[0:16])).Unmap()
		dst := netip.AddrFrom16([16]byte(payload[16:32])).Unmap()
		h.src = netip.AddrPortFrom(src, binary.BigEndian.Uint16(payload[32:34]))
		h.dst = netip.AddrPortFrom(dst, binary.BigEndian.Uint16(payload[34:36]))
	default:
		// AF_UNSPEC or AF_UNIX: no IP address to give the application.
		h.local = true
	}
	return h, total, nil
}

// checkTLVs requires the bytes after the addresses to be a whole number of
// type-length-value records. Their contents are not used (the spec has
// receivers ignore the types they do not need), but a header whose TLVs do
// not add up was not written by a correct proxy.
func checkTLVs(t []byte) error {
	for len(t) > 0 {
		if len(t) < 3 {
			return proxyError("v2 tlv cut short")
		}
		n := 3 + int(binary.BigEndian.Uint16(t[1:3]))
		if n > len(t) {
			return proxyError("v2 tlv longer than the header")
		}
		t = t[n:]
	}
	return nil
}

// readProxyHeader reads the PROXY header that must open a connection from a
// trusted peer, within the header timeout, and adopts its addresses. It
// reports false, after logging why, when the connection must be closed:
// a malformed header gets no response, since the peer is a proxy and not
// an HTTP client, and nothing after it could be framed with certainty.
func (c *conn) readProxyHeader() bool {
	c.nc.SetReadDeadline(time.Now().Add(c.srv.opts.HeaderTimeout))
	for {
		buf, _ := c.br.Peek(c.br.Buffered())
		h, n, err := parseProxyHeader(buf)
		if err == nil {
			c.br.Discard(n)
			c.adoptProxyHeader(h)
			return true
		}
		if err != errProxyIncomplete {
			c.srv.log.Warn("closing a connection with a bad proxy protocol header", "remote", c.remoteIP, "err", err)
			return false
		}
		if _, err := c.br.Peek(len(buf) + 1); err != nil {
			if re := readError(err); re != errClientGone {
				c.srv.log.Info("closing a connection whose proxy protocol header did not arrive in time", "remote", c.remoteIP, "header_timeout", c.srv.opts.HeaderTimeout)
			}
			return false
		}
	}
}

// adoptProxyHeader makes the header's addresses the connection's. The
// trust decision follows the client it names: X-Forwarded-* from that
// client count only if it is itself a trusted proxy.
func (c *conn) adoptProxyHeader(h proxyHeader) {
	if h.local {
		return
	}
	c.remoteIP, c.remotePort = h.src.Addr().String(), strconv.Itoa(int(h.src.Port()))
	c.localIP, c.localPort = h.dst.Addr().String(), strconv.Itoa(int(h.dst.Port()))
	c.trusted = c.srv.opts.TrustedPeers().Contains(h.src.Addr())
}
