package server

import (
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/gowsgi/gowsgi/config"
)

// v2 builds a PROXY v2 header: ver_cmd, fam, then the payload (addresses and TLVs).
func v2(verCmd, fam byte, payload ...[]byte) []byte {
	var p []byte
	for _, x := range payload {
		p = append(p, x...)
	}
	b := append([]byte(proxyV2Prefix), verCmd, fam, 0, 0)
	binary.BigEndian.PutUint16(b[14:], uint16(len(p)))
	return append(b, p...)
}

func v4(s string) []byte { a := netip.MustParseAddr(s).As4(); return a[:] }

func v6(s string) []byte { a := netip.MustParseAddr(s).As16(); return a[:] }

func ports(src, dst uint16) []byte {
	return binary.BigEndian.AppendUint16(binary.BigEndian.AppendUint16(nil, src), dst)
}

func tlv(typ byte, value string) []byte {
	return append(binary.BigEndian.AppendUint16([]byte{typ}, uint16(len(value))), value...)
}

type proxyValid struct {
	name     string
	in       []byte
	local    bool
	src, dst string // "ip:port" as netip.AddrPort prints it
}

var proxyValidCases = []proxyValid{
	{name: "v1-tcp4", in: []byte("PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\n"), src: "192.0.2.1:56324", dst: "198.51.100.2:443"},
	{name: "v1-tcp6", in: []byte("PROXY TCP6 2001:db8::1 2001:db8::2 65535 0\r\n"), src: "[2001:db8::1]:65535", dst: "[2001:db8::2]:0"},
	{name: "v1-tcp6-mapped", in: []byte("PROXY TCP6 ::ffff:192.0.2.1 ::1 1 2\r\n"), src: "192.0.2.1:1", dst: "[::1]:2"},
	{name: "v1-unknown", in: []byte("PROXY UNKNOWN\r\n"), local: true},
	{name: "v1-unknown-with-addresses", in: []byte("PROXY UNKNOWN ffff:f...f:ffff ffff:f...f:ffff 65535 65535\r\n"), local: true},
	{name: "v1-longest", in: []byte("PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n"),
		src: "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535", dst: "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535"},
	{name: "v2-inet", in: v2(0x21, 0x11, v4("192.0.2.1"), v4("198.51.100.2"), ports(56324, 443)), src: "192.0.2.1:56324", dst: "198.51.100.2:443"},
	{name: "v2-inet6", in: v2(0x21, 0x21, v6("2001:db8::1"), v6("2001:db8::2"), ports(1234, 8443)), src: "[2001:db8::1]:1234", dst: "[2001:db8::2]:8443"},
	{name: "v2-inet6-mapped", in: v2(0x21, 0x21, v6("::ffff:192.0.2.7"), v6("::1"), ports(1, 2)), src: "192.0.2.7:1", dst: "[::1]:2"},
	{name: "v2-inet-tlvs", in: v2(0x21, 0x11, v4("192.0.2.1"), v4("198.51.100.2"), ports(1, 2), tlv(0x01, "h2"), tlv(0x02, "example.com"), tlv(0x04, "")),
		src: "192.0.2.1:1", dst: "198.51.100.2:2"},
	{name: "v2-local", in: v2(0x20, 0x00), local: true},
	{name: "v2-local-with-addresses", in: v2(0x20, 0x11, v4("192.0.2.1"), v4("198.51.100.2"), ports(1, 2)), local: true},
	{name: "v2-local-odd-family", in: v2(0x20, 0x12, make([]byte, 12)), local: true},
	{name: "v2-local-short-family", in: v2(0x20, 0x11, make([]byte, 4)), local: true},
	{name: "v2-unspec", in: v2(0x21, 0x00), local: true},
	{name: "v2-unix", in: v2(0x21, 0x31, make([]byte, 216)), local: true},
	{name: "v2-largest", in: v2(0x21, 0x11, make([]byte, 12), tlv(0xEE, strings.Repeat("x", maxProxyHeader-16-12-3))), src: "0.0.0.0:0", dst: "0.0.0.0:0"},
}

var proxyInvalidCases = map[string][]byte{
	"http":                 []byte("GET / HTTP/1.1\r\nHost: a\r\n\r\n"),
	"empty-lines":          []byte("\r\n\r\nGET"),
	"v1-lowercase":         []byte("proxy TCP4 192.0.2.1 198.51.100.2 1 2\r\n"),
	"v1-no-space":          []byte("PROXYTCP4 192.0.2.1 198.51.100.2 1 2\r\n"),
	"v1-double-space":      []byte("PROXY  TCP4 192.0.2.1 198.51.100.2 1 2\r\n"),
	"v1-trailing-space":    []byte("PROXY TCP4 192.0.2.1 198.51.100.2 1 2 \r\n"),
	"v1-tab":               []byte("PROXY TCP4\t192.0.2.1 198.51.100.2 1 2\r\n"),
	"v1-bare-lf":           []byte("PROXY TCP4 192.0.2.1 198.51.100.2 1 2\n"),
	"v1-bare-cr":           []byte("PROXY TCP4 192.0.2.1\r198.51.100.2 1 2\r\n"),
	"v1-udp":               []byte("PROXY UDP4 192.0.2.1 198.51.100.2 1 2\r\n"),
	"v1-tcp4-with-ipv6":    []byte("PROXY TCP4 2001:db8::1 2001:db8::2 1 2\r\n"),
	"v1-tcp6-with-ipv4":    []byte("PROXY TCP6 192.0.2.1 198.51.100.2 1 2\r\n"),
	"v1-mixed-families":    []byte("PROXY TCP6 2001:db8::1 198.51.100.2 1 2\r\n"),
	"v1-leading-zero-ip":   []byte("PROXY TCP4 192.0.2.01 198.51.100.2 1 2\r\n"),
	"v1-zone":              []byte("PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n"),
	"v1-hostname":          []byte("PROXY TCP4 localhost 198.51.100.2 1 2\r\n"),
	"v1-port-too-big":      []byte("PROXY TCP4 192.0.2.1 198.51.100.2 65536 2\r\n"),
	"v1-port-leading-zero": []byte("PROXY TCP4 192.0.2.1 198.51.100.2 01 2\r\n"),
	"v1-port-sign":         []byte("PROXY TCP4 192.0.2.1 198.51.100.2 +1 2\r\n"),
	"v1-port-missing":      []byte("PROXY TCP4 192.0.2.1 198.51.100.2 1\r\n"),
	"v1-extra-field":       []byte("PROXY TCP4 192.0.2.1 198.51.100.2 1 2 3\r\n"),
	"v1-no-fields":         []byte("PROXY \r\n"),
	"v1-unknownx":          []byte("PROXY UNKNOWNX\r\n"),
	"v1-non-ascii":         []byte("PROXY TCP4 192.0.2.1\xff198.51.100.2 1 2\r\n"),
	"v1-nul":               []byte("PROXY TCP4\x00"),
	"v1-too-long":          []byte("PROXY UNKNOWN " + strings.Repeat("x", 100) + "\r\n"),
	"v2-bad-signature":     append([]byte("\r\n\r\n\x00\r\nQUIX\n"), 0x21, 0x11, 0, 12),
	"v2-version-1":         v2(0x11, 0x11, make([]byte, 12)),
	"v2-version-3":         v2(0x31, 0x11, make([]byte, 12)),
	"v2-command-2":         v2(0x22, 0x11, make([]byte, 12)),
	"v2-family-4":          v2(0x21, 0x41, make([]byte, 12)),
	"v2-transport-3":       v2(0x21, 0x13, make([]byte, 12)),
	"v2-inet-dgram":        v2(0x21, 0x12, make([]byte, 12)),
	"v2-inet-unspec-tr":    v2(0x21, 0x10, make([]byte, 12)),
	"v2-inet-short":        v2(0x21, 0x11, make([]byte, 11)),
	"v2-inet6-short":       v2(0x21, 0x21, make([]byte, 35)),
	"v2-unix-short":        v2(0x21, 0x31, make([]byte, 215)),
	"v2-tlv-cut":           v2(0x21, 0x11, make([]byte, 12), []byte{0x01, 0x00}),
	"v2-tlv-overlong":      v2(0x21, 0x11, make([]byte, 12), []byte{0x01, 0x00, 0x05, 'a'}),
	"v2-too-large":         append([]byte(proxyV2Prefix), 0x21, 0x11, 0xff, 0xff),
	"v2-just-too-large":    v2(0x21, 0x11, make([]byte, 12), tlv(0xEE, strings.Repeat("x", maxProxyHeader-16-12-3+1))),
}

func TestParseProxyHeaderValid(t *testing.T) {
	for _, tt := range proxyValidCases {
		t.Run(tt.name, func(t *testing.T) {
			rest := "GET / HTTP/1.1\r\n"
			in := append(append([]byte(nil), tt.in...), rest...)
			h, n, err := parseProxyHeader(in)
			if err != nil {
				t.Fatalf("error %v", err)
			}
			if n != len(tt.in) {
				t.Fatalf("consumed %d bytes, header has %d", n, len(tt.in))
			}
			if h.local != tt.local {
				t.Fatalf("local %v, want %v", h.local, tt.local)
			}
			if !tt.local && (h.src.String() != tt.src || h.dst.String() != tt.dst) {
				t.Errorf("src %s dst %s, want %s %s", h.src, h.dst, tt.src, tt.dst)
			}
			// Every proper prefix is incomplete, never an error: a header
			// that arrives a byte at a time is still accepted.
			for k := 0; k < len(tt.in); k++ {
				if _, _, err := parseProxyHeader(tt.in[:k]); err != errProxyIncomplete {
					t.Fatalf("prefix of %d bytes: %v, want incomplete", k, err)
				}
			}
		})
	}
}

func TestParseProxyHeaderInvalid(t *testing.T) {
	for name, in := range proxyInvalidCases {
		t.Run(name, func(t *testing.T) {
			_, _, err := parseProxyHeader(in)
			var pe proxyError
			if !errors.As(err, &pe) {
				t.Fatalf("got %v, want a proxyError", err)
			}
			if msg := strings.Split(pe.Error(), `"`)[0]; strings.ToLower(msg) != msg { // quoted values may have capitals
				t.Errorf("error %q is not lower case", pe)
			}
			// Once refused, more bytes never make it valid.
			more := append(append([]byte(nil), in...), "\r\n\r\n"...)
			if _, _, err := parseProxyHeader(more); !errors.As(err, &pe) {
				t.Errorf("with more bytes: %v", err)
			}
		})
	}
}

// Garbage is refused as soon as it cannot be a header, so a peer that
// speaks HTTP to a PROXY listener is closed at once, not after a timeout.
func TestParseProxyHeaderRefusesEarly(t *testing.T) {
	for _, in := range []string{"G", "PROXX", "PROXY TCP4 1\x01", "\r\n\r\n\x00\r\nQUIX", "\r\n\r\n\x00\r\nQUIT\n\x11", "\r\n\r\n\x00\r\nQUIT\n\x21\x51"} {
		if _, _, err := parseProxyHeader([]byte(in)); err == errProxyIncomplete || err == nil {
			t.Errorf("%q: %v, want an error", in, err)
		}
	}
}

// acceptPair returns a server-side conn for a loopback connection, and the client end.
func acceptPair(t *testing.T, s *Server) (*conn, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	nc, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return newConn(s, nc), client
}

func TestReadProxyHeader(t *testing.T) {
	opts := config.Defaults()
	opts.ProxyProtocol = true
	opts.ForwardedAllowIPs = []string{"127.0.0.1", "192.0.2.0/24"}
	opts.HeaderTimeout = 2 * time.Second
	s := testServer(t, opts)

	t.Run("v1-then-request", func(t *testing.T) {
		c, client := acceptPair(t, s)
		if !c.trusted {
			t.Fatal("loopback peer not trusted")
		}
		// Byte by byte: the header may arrive in any number of pieces.
		go func() {
			for _, b := range []byte("PROXY TCP4 203.0.113.9 198.51.100.2 40001 8443\r\nGET") {
				client.Write([]byte{b})
				time.Sleep(time.Millisecond)
			}
		}()
		if !c.readProxyHeader() {
			t.Fatal("header refused")
		}
		if c.remoteIP != "203.0.113.9" || c.remotePort != "40001" || c.localIP != "198.51.100.2" || c.localPort != "8443" {
			t.Errorf("addresses %s:%s -> %s:%s", c.remoteIP, c.remotePort, c.localIP, c.localPort)
		}
		if c.trusted {
			t.Error("the client named by the header is not in the allow list, but the connection is still trusted")
		}
		c.nc.SetReadDeadline(time.Now().Add(2 * time.Second))
		if got, err := c.br.Peek(3); err != nil || string(got) != "GET" {
			t.Errorf("what follows the header: %q, %v", got, err)
		}
	})
	t.Run("v2-trusted-client", func(t *testing.T) {
		c, client := acceptPair(t, s)
		client.Write(v2(0x21, 0x11, v4("192.0.2.77"), v4("198.51.100.2"), ports(5, 80)))
		if !c.readProxyHeader() {
			t.Fatal("header refused")
		}
		if c.remoteIP != "192.0.2.77" || !c.trusted {
			t.Errorf("remote %s trusted %v: a proxy chain inside the allow list must stay trusted", c.remoteIP, c.trusted)
		}
	})
	t.Run("local-keeps-addresses", func(t *testing.T) {
		c, client := acceptPair(t, s)
		port := c.remotePort
		client.Write(v2(0x20, 0x00))
		if !c.readProxyHeader() || c.remoteIP != "127.0.0.1" || c.remotePort != port || !c.trusted {
			t.Errorf("LOCAL changed the connection: %s:%s trusted %v", c.remoteIP, c.remotePort, c.trusted)
		}
	})
	t.Run("garbage-refused-at-once", func(t *testing.T) {
		c, client := acceptPair(t, s)
		client.Write([]byte("GET / HTTP/1.1\r\n"))
		start := time.Now()
		if c.readProxyHeader() {
			t.Fatal("accepted")
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("took %v: garbage must not wait for the timeout", d)
		}
	})
	t.Run("timeout", func(t *testing.T) {
		opts := opts
		opts.HeaderTimeout = 100 * time.Millisecond
		c, client := acceptPair(t, testServer(t, opts))
		client.Write([]byte("PROXY TCP4 "))
		start := time.Now()
		if c.readProxyHeader() {
			t.Fatal("accepted an incomplete header")
		}
		if d := time.Since(start); d < 100*time.Millisecond || d > 2*time.Second {
			t.Errorf("gave up after %v, want the header timeout", d)
		}
	})
	t.Run("client-gone", func(t *testing.T) {
		c, client := acceptPair(t, s)
		client.Write([]byte("PROXY TCP4 1.2"))
		client.Close()
		if c.readProxyHeader() {
			t.Fatal("accepted a cut header")
		}
	})
}
