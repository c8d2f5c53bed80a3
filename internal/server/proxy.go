package server

import (
	"bytes"
	"net"
	"net/netip"
	"strconv"

	"github.com/gowsgi/gowsgi/internal/httpwire"
)

// Trusted proxies (--forwarded-allow-ips).
//
// A request whose peer is trusted may say who the client is and how it
// reached the proxy, with X-Forwarded-For/-Proto/-Host or with RFC 7239
// Forwarded. From any other peer those fields are ordinary headers: they
// reach the application as HTTP_* values and change nothing else.
//
// Precedence: if a trusted request carries any of X-Forwarded-For,
// X-Forwarded-Proto or X-Forwarded-Host, those are used and Forwarded is
// ignored; Forwarded is used only when none of them is present. The two
// are never mixed. X-Forwarded-* come first because that is what nearly
// every proxy sets, and nginx, the usual one, appends to X-Forwarded-For
// but passes a client's Forwarded field through untouched: preferring
// Forwarded would let any client behind a stock nginx choose its address.
//
// The client address is found by walking the list of hops from the right
// (the entry the peer itself added) to the left: each hop that is itself a
// trusted proxy is skipped, and the first one that is not is the client.
// If every hop is trusted, the leftmost is taken. An entry that is not an
// address ("unknown", an obfuscated identifier, garbage) ends the walk:
// nothing to its left can be believed, and the client is the nearest
// address we did accept (or the peer).

// origin is where a request came from and how it was addressed, as the
// environ describes it: the connection's view, corrected by what trusted
// forwarding headers say.
type origin struct {
	remoteIP   string
	remotePort string // "" when a proxy named the client without a port
	serverName []byte
	serverPort string
	https      bool
	host       []byte // replaces the Host field as HTTP_HOST (a trusted proxy's, or an absolute-form target's); nil keeps it
}

// forwardedHop is one entry of a forwarding list, as far as it is known.
type forwardedHop struct {
	addr      netip.Addr // invalid when the entry gives no usable address
	port      string
	proto     []byte // Forwarded only
	host      []byte // Forwarded only
	protoSeen bool
	hostSeen  bool
}

// unixPeer is the address a Unix socket peer is matched as: only a local
// process can connect to the socket, so it counts as loopback, and is
// trusted exactly when loopback is (the default, as gunicorn does for Unix
// sockets; --forwarded-allow-ips "" trusts it no more than 127.0.0.1).
var unixPeer = netip.MustParseAddr("127.0.0.1")

// trusts reports whether the peer at a may send forwarding headers and PROXY headers.
func (s *Server) trusts(a net.Addr) bool {
	var ip netip.Addr
	switch ta := a.(type) {
	case *net.TCPAddr:
		ip, _ = netip.AddrFromSlice(ta.IP)
	case *net.UnixAddr, nil:
		ip = unixPeer
	default:
		return false
	}
	return s.opts.TrustedPeers().Contains(ip)
}

// requestOrigin works out the request's origin from the connection and,
// when the peer is trusted, its forwarding headers. c.req must be parsed.
func (c *conn) requestOrigin() origin {
	req := &c.req
	o := origin{
		remoteIP:   c.remoteIP,
		remotePort: c.remotePort,
		serverName: hostOnly(req.Host),
		serverPort: c.localPort,
	}
	if len(o.serverName) == 0 {
		o.serverName = []byte(c.localIP)
	}
	if t := req.Target; len(t) > 0 && t[0] != '/' && t[0] != '*' {
		// absolute-form: the target's authority replaces the Host field
		// (RFC 9112 §3.2.2), or the application would see two hosts.
		o.host = req.Host
	}
	if !c.trusted {
		return o
	}
	var hop forwardedHop
	var scheme, host []byte
	var found bool
	if hasXForwarded(req.Headers) {
		hop, found = walkXForwardedFor(c, req.Headers)
		scheme = lastListElement(req.Headers, "x-forwarded-proto")
		host = lastListElement(req.Headers, "x-forwarded-host")
	} else if hop, found = walkForwarded(c, req.Headers); found {
		scheme, host = hop.proto, hop.host
	}
	if found && hop.addr.IsValid() {
		o.remoteIP, o.remotePort = hop.addr.String(), hop.port
	}
	schemeSet := false
	switch {
	case scheme == nil:
	case equalFold(scheme, "https"):
		o.https, schemeSet = true, true
	case equalFold(scheme, "http"):
		schemeSet = true
	}
	hostSet := host != nil && validForwardedHost(host)
	if hostSet {
		o.host = host
		o.serverName = hostOnly(host)
	}
	if schemeSet || hostSet {
		// SERVER_NAME and SERVER_PORT describe the URL the client used
		// (PEP 3333 URL reconstruction), not the proxy's upstream socket.
		effective := req.Host
		if hostSet {
			effective = host
		}
		o.serverPort = hostPort(effective)
		if o.serverPort == "" {
			if o.https {
				o.serverPort = "443"
			} else {
				o.serverPort = "80"
			}
		}
	}
	return o
}

func hasXForwarded(hs []httpwire.Header) bool {
	for i := range hs {
		n := hs[i].Name
		if equalFold(n, "x-forwarded-for") || equalFold(n, "x-forwarded-proto") || equalFold(n, "x-forwarded-host") {
			return true
		}
	}
	return false
}

// listElements calls fn for every element of the comma list formed by all
// fields named name (RFC 9110 §5.3), from the last to the first, trimmed;
// empty elements are skipped (RFC 9110 §5.6.1). fn returns false to stop.
func listElements(hs []httpwire.Header, name string, fn func(el []byte) bool) {
	for i := len(hs) - 1; i >= 0; i-- {
		if !equalFold(hs[i].Name, name) {
			continue
		}
		v := hs[i].Value
		for len(v) > 0 {
			el := v
			if k := bytes.LastIndexByte(v, ','); k >= 0 {
				el, v = v[k+1:], v[:k]
			} else {
				v = nil
			}
			el = bytes.Trim(el, " \t")
			if len(el) > 0 && !fn(el) {
				return
			}
		}
	}
}

// lastListElement is the rightmost element of the named list: the one the
// trusted peer itself set. nil when there is none.
func lastListElement(hs []httpwire.Header, name string) []byte {
	var last []byte
	listElements(hs, name, func(el []byte) bool {
		last = el
		return false
	})
	return last
}

// walkXForwardedFor finds the client in X-Forwarded-For (see the top of this file).
func walkXForwardedFor(c *conn, hs []httpwire.Header) (forwardedHop, bool) {
	peers := c.srv.opts.TrustedPeers()
	var hop forwardedHop
	found := false
	listElements(hs, "x-forwarded-for", func(el []byte) bool {
		addr, port, ok := parseNode(el, false)
		if !ok {
			return false
		}
		hop, found = forwardedHop{addr: addr, port: port}, true
		return peers.Contains(addr)
	})
	return hop, found
}

// walkForwarded finds the client in Forwarded (RFC 7239). The element it
// stops at gives proto and host too: it was written by the first trusted
// proxy, and describes the request that proxy received from the client.
// A Forwarded field that does not parse is ignored as a whole.
func walkForwarded(c *conn, hs []httpwire.Header) (forwardedHop, bool) {
	var els []forwardedHop
	var scratch [8]forwardedHop
	els = scratch[:0]
	for i := range hs {
		if equalFold(hs[i].Name, "forwarded") {
			var ok bool
			if els, ok = parseForwarded(els, hs[i].Value); !ok {
				c.srv.log.Debug("ignoring an invalid forwarded field", "remote", c.remoteIP, "value", string(hs[i].Value))
				return forwardedHop{}, false
			}
		}
	}
	if len(els) == 0 {
		return forwardedHop{}, false
	}
	peers := c.srv.opts.TrustedPeers()
	var addr netip.Addr
	var port string
	for i := len(els) - 1; ; i-- {
		el := els[i]
		if !el.addr.IsValid() {
			// "unknown", obfuscated or no for=: the client stays the
			// nearest known address, and this element's proto and host
			// are still the trusted proxy's word.
			el.addr, el.port = addr, port
			return el, true
		}
		addr, port = el.addr, el.port
		if i == 0 || !peers.Contains(el.addr) {
			return el, true
		}
	}
}

// parseForwarded appends the elements of one Forwarded field value
// (RFC 7239 §4) to els. It reports false for anything that does not follow
// the grammar, for a parameter given twice in one element, and for a for=
// that is neither a node (§6) nor "unknown"/an obfuscated identifier.
func parseForwarded(els []forwardedHop, v []byte) ([]forwardedHop, bool) {
	i := 0
	for {
		var el forwardedHop
		forSeen, bySeen := false, false
		empty := true // an empty list element (RFC 9110 §5.6.1) is no element at all
		// forwarded-element = [ forwarded-pair ] *( ";" [ forwarded-pair ] )
		for {
			i = skipOWS(v, i)
			if i < len(v) && v[i] != ';' && v[i] != ',' {
				empty = false
				start := i
				for i < len(v) && isTchar(v[i]) {
					i++
				}
				name := v[start:i]
				if len(name) == 0 || i >= len(v) || v[i] != '=' {
					return els, false
				}
				i++
				var value []byte
				var ok bool
				if value, i, ok = forwardedValue(v, i); !ok {
					return els, false
				}
				switch {
				case equalFold(name, "for"):
					if forSeen {
						return els, false
					}
					forSeen = true
					if el.addr, el.port, ok = parseNode(value, true); !ok && !obfuscatedNode(value) {
						return els, false
					}
				case equalFold(name, "by"):
					if bySeen {
						return els, false
					}
					bySeen = true
				case equalFold(name, "proto"):
					if el.protoSeen {
						return els, false
					}
					el.protoSeen, el.proto = true, value
				case equalFold(name, "host"):
					if el.hostSeen {
						return els, false
					}
					el.hostSeen, el.host = true, value
				}
				i = skipOWS(v, i)
			}
			if i < len(v) && v[i] == ';' {
				empty = false
				i++
				continue
			}
			break
		}
		if !empty {
			els = append(els, el)
		}
		if i == len(v) {
			return els, true
		}
		if v[i] != ',' {
			return els, false
		}
		i++
	}
}

// forwardedValue reads a token or a quoted-string at v[i:] and returns its
// content. A quoted-pair is unescaped into a new slice (rare).
func forwardedValue(v []byte, i int) ([]byte, int, bool) {
	if i < len(v) && v[i] == '"' {
		i++
		start := i
		var out []byte
		for i < len(v) {
			ch := v[i]
			switch {
			case ch == '"':
				if out != nil {
					return out, i + 1, true
				}
				return v[start:i], i + 1, true
			case ch == '\\':
				if i+1 >= len(v) || !isQdtextOrVchar(v[i+1]) {
					return nil, i, false
				}
				if out == nil {
					out = append([]byte(nil), v[start:i]...)
				}
				out = append(out, v[i+1])
				i += 2
				continue
			case !isQdtextOrVchar(ch):
				return nil, i, false
			}
			if out != nil {
				out = append(out, ch)
			}
			i++
		}
		return nil, i, false // unterminated
	}
	start := i
	for i < len(v) && isTchar(v[i]) {
		i++
	}
	if i == start {
		return nil, i, false
	}
	return v[start:i], i, true
}

func skipOWS(v []byte, i int) int {
	for i < len(v) && (v[i] == ' ' || v[i] == '\t') {
		i++
	}
	return i
}

// isTchar: RFC 9110 §5.6.2 token characters.
func isTchar(ch byte) bool {
	return ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' ||
		ch < 0x80 && bytes.IndexByte([]byte("!#$%&'*+-.^_`|~"), ch) >= 0
}

// isQdtextOrVchar: HTAB, SP and visible characters, obs-text included (the
// parser already refused control characters in field values).
func isQdtextOrVchar(ch byte) bool { return ch == '\t' || ch >= ' ' && ch != 0x7f }

// obfuscatedNode reports whether v is "unknown" or an obfuscated node
// (RFC 7239 §6.3), with an optional obfuscated or numeric port.
func obfuscatedNode(v []byte) bool {
	name, port := v, []byte(nil)
	if k := bytes.IndexByte(v, ':'); k >= 0 {
		name, port = v[:k], v[k+1:]
		if !validPort(port) && !obfuscatedID(port) {
			return false
		}
	}
	return equalFold(name, "unknown") || obfuscatedID(name)
}

func obfuscatedID(v []byte) bool {
	if len(v) < 2 || v[0] != '_' {
		return false
	}
	for _, ch := range v[1:] {
		if !(ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' || ch == '.' || ch == '_' || ch == '-') {
			return false
		}
	}
	return true
}

// parseNode parses a forwarded client address: an IPv4 or IPv6 address,
// "[IPv6]", or either form with ":port". In X-Forwarded-For a bare IPv6
// address is the norm; in Forwarded (bracketed=true) IPv6 must be in
// brackets (RFC 7239 §6). Zones are refused (they mean nothing to the
// application) and IPv4-mapped addresses are shown as IPv4.
func parseNode(v []byte, bracketed bool) (netip.Addr, string, bool) {
	var hostPart, port []byte
	switch {
	case len(v) > 0 && v[0] == '[':
		end := bytes.IndexByte(v, ']')
		if end < 0 {
			return netip.Addr{}, "", false
		}
		hostPart = v[1:end]
		rest := v[end+1:]
		if len(rest) > 0 {
			if rest[0] != ':' || !validPort(rest[1:]) {
				return netip.Addr{}, "", false
			}
			port = rest[1:]
		}
		a, err := netip.ParseAddr(string(hostPart))
		if err != nil || !a.Is6() || a.Zone() != "" {
			return netip.Addr{}, "", false
		}
		return a.Unmap(), portString(port), true
	case bytes.Count(v, []byte(":")) > 1:
		if bracketed {
			return netip.Addr{}, "", false
		}
		hostPart = v
	default:
		hostPart = v
		if k := bytes.IndexByte(v, ':'); k >= 0 {
			hostPart, port = v[:k], v[k+1:]
			if !validPort(port) {
				return netip.Addr{}, "", false
			}
		}
	}
	a, err := netip.ParseAddr(string(hostPart))
	if err != nil || a.Zone() != "" || port != nil && !a.Is4() {
		return netip.Addr{}, "", false
	}
	return a.Unmap(), portString(port), true
}

// validPort: 1 to 5 digits, at most 65535.
func validPort(p []byte) bool {
	if len(p) == 0 || len(p) > 5 {
		return false
	}
	n := 0
	for _, ch := range p {
		if ch < '0' || ch > '9' {
			return false
		}
		n = n*10 + int(ch-'0')
	}
	return n <= 65535
}

// validForwardedHost reports whether h is a host a proxy may name: a
// reg-name, an IPv4 address or a bracketed IPv6 address (RFC 3986 §3.2.2),
// with an optional port. It is stricter than a Host field check: no empty
// host, no zone, no list separator.
func validForwardedHost(h []byte) bool {
	if len(h) == 0 || len(h) > 1024 {
		return false
	}
	rest := h
	if h[0] == '[' {
		end := bytes.IndexByte(h, ']')
		if end < 0 {
			return false
		}
		a, err := netip.ParseAddr(string(h[1:end]))
		if err != nil || !a.Is6() || a.Zone() != "" {
			return false
		}
		rest = h[end+1:]
	} else {
		i := 0
		for i < len(h) && h[i] != ':' {
			ch := h[i]
			switch {
			case ch >= 'a' && ch <= 'z', ch >= 'A' && ch <= 'Z', ch >= '0' && ch <= '9':
			case bytes.IndexByte([]byte("-._~!$&'()*+;="), ch) >= 0:
			case ch == '%' && i+2 < len(h) && isHex(h[i+1]) && isHex(h[i+2]):
				i += 2
			default:
				return false
			}
			i++
		}
		if i == 0 {
			return false
		}
		rest = h[i:]
	}
	if len(rest) == 0 {
		return true
	}
	return rest[0] == ':' && validPort(rest[1:])
}

func isHex(ch byte) bool {
	return ch >= '0' && ch <= '9' || ch >= 'a' && ch <= 'f' || ch >= 'A' && ch <= 'F'
}

// httpHostKey is the environ key of the Host field.
var httpHostKey = []byte("HTTP_HOST")

// hostPort is the port of a Host value, or "".
func hostPort(h []byte) string {
	if len(h) > 0 && h[0] == '[' {
		end := bytes.IndexByte(h, ']')
		if end < 0 || end+1 >= len(h) || h[end+1] != ':' {
			return ""
		}
		return portString(h[end+2:])
	}
	if k := bytes.LastIndexByte(h, ':'); k >= 0 {
		return portString(h[k+1:])
	}
	return ""
}

// portString is the port in canonical form, without leading zeros ("" if invalid).
func portString(p []byte) string {
	if !validPort(p) {
		return ""
	}
	n, _ := strconv.Atoi(string(p))
	return strconv.Itoa(n)
}
