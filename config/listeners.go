package config

import (
	"fmt"
	"net"
	"strconv"
	"strings"
)

// DefaultHTTP is the HTTP listener used when neither --http nor --socket is given.
const DefaultHTTP = "127.0.0.1:8000"

// maxUnixPath is the longest socket path Linux accepts: sun_path holds 108
// bytes including the terminating NUL.
const maxUnixPath = 107

// Listeners are the uwsgi-protocol sockets (for nginx uwsgi_pass) and the
// settings of every listening socket; the HTTP addresses are Options.HTTP.
type Listeners struct {
	// Socket lists the uwsgi-protocol listen addresses (nginx uwsgi_pass):
	// HOST:PORT (":PORT" for every interface), unix:/path, a path containing
	// '/', or @name for a Linux abstract socket. Each connection carries one
	// request. Default none.
	Socket []string
	// ChmodSocket is the octal mode, such as "660", given to unix socket
	// files right after they are created (before anyone can connect).
	// Default "": the mode the umask gives.
	ChmodSocket string
	// Vacuum removes the unix socket files on exit. A socket file left by a
	// process that died is removed at start either way, once a connection
	// attempt shows that nothing listens on it. Default true (uWSGI's
	// default is false, which only ever leaves stale files behind).
	Vacuum bool
	// UwsgiAllowIPs lists the client addresses (IPs or CIDR prefixes, "*"
	// for every address) that may connect to TCP uwsgi sockets; others are
	// closed at accept. The
	// uwsgi protocol has no authentication and the front end chooses every
	// CGI variable, REMOTE_ADDR included, so only the front end may speak
	// it. Unix sockets are guarded by their file mode instead. Default
	// ["127.0.0.0/8", "::1"].
	UwsgiAllowIPs []string
	// BufferSize is the largest vars block accepted in a uwsgi packet, in
	// bytes (uWSGI's buffer-size). Larger packets are refused. Default
	// 65535, the protocol's own limit: uWSGI's 4096 turns every request
	// with a few large cookies into an nginx 502, and the block comes only
	// from the trusted front end and is held only while the request head
	// is turned into the environ.
	BufferSize int
}

func listenersDefaults() Listeners {
	return Listeners{
		Vacuum:        true,
		UwsgiAllowIPs: []string{"127.0.0.0/8", "::1"},
		BufferSize:    65535,
	}
}

// normalizeListeners applies the default HTTP listener when no listener
// at all is configured: with --socket alone, as with uWSGI, only the
// uwsgi socket listens.
func (o *Options) normalizeListeners() {
	if len(o.HTTP) == 0 && len(o.Socket) == 0 {
		o.HTTP = []string{DefaultHTTP}
	}
}

func (o *Options) validateListeners() []error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	// No listener at all is fine here: Normalize puts DefaultHTTP in.
	for _, a := range o.HTTP {
		if _, err := ParseListenAddr(a); err != nil {
			bad("--http %q: %v", a, err)
		}
	}
	for _, a := range o.Socket {
		if _, err := ParseListenAddr(a); err != nil {
			bad("--socket %q: %v", a, err)
		}
	}
	if _, _, err := o.SocketMode(); err != nil {
		bad("--chmod-socket %q: %v", o.ChmodSocket, err)
	}
	if allow, err := o.UwsgiAllowPeers(); err != nil {
		bad("--uwsgi-allow-ips: %v", err)
	} else if allow.Empty() && hasTCP(o.Socket) {
		bad("--uwsgi-allow-ips is empty: no client could use the tcp --socket (* allows every address)")
	}
	if o.BufferSize < 1 {
		bad("--buffer-size %d: want at least 1 byte (at most 65535 is meaningful)", o.BufferSize)
	}
	return errs
}

func hasTCP(addrs []string) bool {
	for _, a := range addrs {
		if la, err := ParseListenAddr(a); err == nil && la.Network == "tcp" {
			return true
		}
	}
	return false
}

// ListenAddr is a parsed listen address.
type ListenAddr struct {
	// Network is "tcp" or "unix".
	Network string
	// Address is HOST:PORT for tcp; for unix a file path, or "@name" for
	// a Linux abstract socket (no file).
	Address string
}

// Abstract reports whether a is a Linux abstract unix socket, which has no file.
func (a ListenAddr) Abstract() bool { return a.Network == "unix" && strings.HasPrefix(a.Address, "@") }

func (a ListenAddr) String() string {
	if a.Network == "unix" && !a.Abstract() {
		return "unix:" + a.Address
	}
	return a.Address
}

// ParseListenAddr reads a listen address the way uWSGI users write them:
// "unix:/path", a path containing '/', "@name", or HOST:PORT with a
// numeric port (an empty host means every interface).
func ParseListenAddr(s string) (ListenAddr, error) {
	switch {
	case s == "":
		return ListenAddr{}, fmt.Errorf("empty address")
	case strings.HasPrefix(s, "unix:"):
		return unixAddr(strings.TrimPrefix(s, "unix:"))
	case strings.HasPrefix(s, "@"), strings.Contains(s, "/"):
		return unixAddr(s)
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return ListenAddr{}, fmt.Errorf("want HOST:PORT, unix:/path or a path (%v)", err)
	}
	n, err := strconv.ParseUint(port, 10, 16)
	if err != nil || port[0] == '+' {
		return ListenAddr{}, fmt.Errorf("port %q is not a number from 0 to 65535", port)
	}
	if strings.ContainsAny(host, " \t") {
		return ListenAddr{}, fmt.Errorf("host %q contains blanks", host)
	}
	return ListenAddr{Network: "tcp", Address: net.JoinHostPort(host, strconv.FormatUint(n, 10))}, nil
}

func unixAddr(path string) (ListenAddr, error) {
	switch {
	case path == "" || path == "@":
		return ListenAddr{}, fmt.Errorf("empty unix socket path")
	case strings.IndexByte(path, 0) >= 0:
		return ListenAddr{}, fmt.Errorf("unix socket path contains a NUL byte")
	case len(path) > maxUnixPath:
		return ListenAddr{}, fmt.Errorf("unix socket path is %d bytes; the system limit is %d", len(path), maxUnixPath)
	case strings.HasSuffix(path, "/"):
		return ListenAddr{}, fmt.Errorf("unix socket path names a directory")
	}
	return ListenAddr{Network: "unix", Address: path}, nil
}

// SocketMode returns the mode for unix socket files and whether one was given.
func (l *Listeners) SocketMode() (mode uint32, set bool, err error) {
	s := l.ChmodSocket
	if s == "" {
		return 0, false, nil
	}
	v, err := strconv.ParseUint(s, 8, 32)
	if err != nil || s[0] == '+' || v > 0o777 {
		return 0, false, fmt.Errorf("want an octal mode from 000 to 777, such as 660")
	}
	return uint32(v), true, nil
}

// UwsgiAllowPeers parses UwsgiAllowIPs (each entry may itself be a comma
// list; "*" allows every address) into a set shared with the trusted-proxy
// option's parser, so both lists read the same way.
func (l *Listeners) UwsgiAllowPeers() (*PeerSet, error) {
	set := &PeerSet{}
	for _, entry := range l.UwsgiAllowIPs {
		for _, s := range strings.Split(entry, ",") {
			s = strings.TrimSpace(s)
			switch s {
			case "":
				continue
			case "*":
				set.all = true
				continue
			}
			p, err := parsePeer(s)
			if err != nil {
				return nil, fmt.Errorf("%q: want an IP address, a CIDR prefix or *", s)
			}
			set.prefixes = append(set.prefixes, p)
		}
	}
	return set, nil
}
