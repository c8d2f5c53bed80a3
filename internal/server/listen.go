package server

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/gowsgi/gowsgi/config"
)

// Proto is the protocol a listener speaks.
type Proto string

const (
	ProtoHTTP  Proto = "http"  // HTTP/1.1 (--http)
	ProtoUwsgi Proto = "uwsgi" // the uwsgi binary protocol, one request per connection (--socket)
)

// Listener is an open listening socket and what it speaks.
type Listener struct {
	net.Listener
	Proto Proto
	// Addr is the address to show in logs: HOST:PORT with the port
	// actually bound, unix:/path, or @name.
	Addr string
}

// Listen opens every --http and --socket listener, or none: on an error
// the ones already open are closed (and their files removed).
func Listen(o *config.Options, log *slog.Logger) ([]*Listener, error) {
	var out []*Listener
	fail := func(err error) ([]*Listener, error) {
		CloseListeners(out)
		return nil, err
	}
	for _, a := range o.HTTP {
		l, err := listenOne(o, ProtoHTTP, a, log)
		if err != nil {
			return fail(fmt.Errorf("--http %s: %w", a, err))
		}
		out = append(out, l)
	}
	for _, a := range o.Socket {
		l, err := listenOne(o, ProtoUwsgi, a, log)
		if err != nil {
			return fail(fmt.Errorf("--socket %s: %w", a, err))
		}
		out = append(out, l)
	}
	if len(out) == 0 {
		return nil, errors.New("no listener: give --http HOST:PORT or --socket ADDR")
	}
	return out, nil
}

// CloseListeners closes ls; unix socket files go with them unless --vacuum=false.
func CloseListeners(ls []*Listener) {
	for _, l := range ls {
		l.Close()
	}
}

func listenOne(o *config.Options, proto Proto, spec string, log *slog.Logger) (*Listener, error) {
	addr, err := config.ParseListenAddr(spec)
	if err != nil {
		return nil, err
	}
	if addr.Network == "unix" {
		return listenUnix(o, proto, addr, log)
	}
	ln, err := net.Listen("tcp", addr.Address)
	if err != nil {
		return nil, err
	}
	l := &Listener{Listener: ln, Proto: proto, Addr: ln.Addr().String()}
	if proto == ProtoUwsgi {
		allow, err := o.UwsgiAllowPeers()
		if err != nil {
			ln.Close()
			return nil, err
		}
		l.Listener = &allowListener{Listener: ln, allow: allow, log: log, addr: l.Addr}
	}
	return l, nil
}

// listenUnix creates a unix socket. A socket file that nothing listens on
// any more (its process died) is replaced; anything else at the path is
// left alone and is an error.
func listenUnix(o *config.Options, proto Proto, addr config.ListenAddr, log *slog.Logger) (*Listener, error) {
	path := addr.Address
	if !addr.Abstract() {
		// Absolute, so the file is removed from the right place on exit
		// whatever the application does to the working directory.
		abs, err := filepath.Abs(path)
		if err != nil {
			return nil, err
		}
		if len(abs) > 107 {
			return nil, fmt.Errorf("unix socket path %s is %d bytes; the system limit is 107 (use a shorter or relative path)", abs, len(abs))
		}
		path = abs
		addr.Address = abs
		if err := removeStaleSocket(path, log); err != nil {
			return nil, err
		}
	}
	mode, chmod, _ := o.SocketMode() // validated already
	var ln net.Listener
	var err error
	if chmod && !addr.Abstract() {
		// Create the file with no permissions and then set the mode, so
		// no one can connect in between under a looser mode. The umask is
		// process-wide; listeners are opened at start-up, before any
		// other goroutine creates files.
		old := syscall.Umask(0o777)
		ln, err = net.Listen("unix", path)
		syscall.Umask(old)
		if err == nil {
			if cerr := os.Chmod(path, fs.FileMode(mode)); cerr != nil {
				ln.Close()
				return nil, fmt.Errorf("chmod-socket %o: %w", mode, cerr)
			}
		}
	} else {
		ln, err = net.Listen("unix", path)
	}
	if err != nil {
		return nil, err
	}
	// Go removes the file when the listener is closed; --vacuum=false keeps it.
	ln.(*net.UnixListener).SetUnlinkOnClose(o.Vacuum && !addr.Abstract())
	return &Listener{Listener: ln, Proto: proto, Addr: addr.String()}, nil
}

// removeStaleSocket removes a socket file at path when a connection to it
// is refused, which means its listener is gone.
func removeStaleSocket(path string, log *slog.Logger) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if fi.Mode().Type() != fs.ModeSocket {
		return fmt.Errorf("%s exists and is not a socket; not replacing it", path)
	}
	c, err := net.DialTimeout("unix", path, time.Second)
	if err == nil {
		c.Close()
		return fmt.Errorf("%s is in use: another process listens on it", path)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		return fmt.Errorf("cannot tell whether %s is still in use: %w", path, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("cannot remove the stale socket file: %w", err)
	}
	log.Info("removed a stale socket file", "path", path)
	return nil
}

// allowListener closes, at accept, connections from addresses outside
// --uwsgi-allow-ips: a uwsgi peer chooses every CGI variable, so only the
// front end may connect.
type allowListener struct {
	net.Listener
	allow *config.PeerSet
	log   *slog.Logger
	addr  string

	mu         sync.Mutex
	lastLog    time.Time
	suppressed int
}

func (l *allowListener) Accept() (net.Conn, error) {
	for {
		nc, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		ip := peerIP(nc.RemoteAddr())
		if l.allow.Contains(ip) {
			return nc, nil
		}
		nc.Close()
		l.logRefusal(ip)
	}
}

// logRefusal logs refused connections, at most one line a second so a
// scanner cannot flood the log; the line counts those left out.
func (l *allowListener) logRefusal(ip netip.Addr) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	if now.Sub(l.lastLog) < time.Second {
		l.suppressed++
		return
	}
	l.log.Warn("uwsgi connection refused: address not in --uwsgi-allow-ips", "remote", ip.String(), "listener", l.addr, "refused_unlogged", l.suppressed)
	l.lastLog, l.suppressed = now, 0
}

func peerIP(a net.Addr) netip.Addr {
	if ta, ok := a.(*net.TCPAddr); ok {
		ip, _ := netip.AddrFromSlice(ta.IP)
		return ip.Unmap()
	}
	return netip.Addr{}
}
