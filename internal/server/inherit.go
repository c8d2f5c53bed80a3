package server

import (
	"fmt"
	"log/slog"
	"net"
	"os"
	"runtime"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gowsgi/gowsgi/config"
)

// Listening sockets cross from the master to its workers (internal/master):
// the master opens them once with Listen and hands each worker a
// duplicate; the worker turns it back into a Listener with Inherit.

// File returns a duplicate of the listening socket for a worker process
// to inherit. Unlike net.TCPListener.File it leaves the socket in
// non-blocking mode: blocking mode belongs to the open socket, which every
// worker shares, and a blocking accept could neither be woken by Shutdown
// nor lose the race for a connection without stalling a thread.
func (l *Listener) File() (*os.File, error) {
	ln := l.Listener
	if al, ok := ln.(*allowListener); ok {
		ln = al.Listener
	}
	sc, ok := ln.(syscall.Conn)
	if !ok {
		return nil, fmt.Errorf("listener %s (%T) has no file descriptor", l.Addr, ln)
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil, err
	}
	dup := -1
	var dupErr error
	if err := rc.Control(func(fd uintptr) {
		dup, dupErr = dupCloexec(int(fd))
	}); err != nil {
		return nil, err
	}
	if dupErr != nil {
		return nil, fmt.Errorf("duplicating listener %s: %w", l.Addr, dupErr)
	}
	return os.NewFile(uintptr(dup), "listener "+l.Addr), nil
}

func dupCloexec(fd int) (int, error) {
	for {
		nfd, _, errno := syscall.Syscall(syscall.SYS_FCNTL, uintptr(fd), syscall.F_DUPFD_CLOEXEC, 0)
		if errno == syscall.EINTR {
			continue
		}
		if errno != 0 {
			return -1, errno
		}
		return int(nfd), nil
	}
}

// Inherit makes a Listener of a listening socket received from the master,
// speaking proto, with the same protections Listen gives a new one (the
// allow-list of tcp uwsgi sockets). It takes f over and closes it. Closing
// the result never removes a unix socket file: that is the master's job.
func Inherit(o *config.Options, proto Proto, addr string, f *os.File, log *slog.Logger) (*Listener, error) {
	ln, err := net.FileListener(f) // a duplicate, close-on-exec, in Go's poller
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("inherited listener %s: %w", addr, err)
	}
	_, isTCP := ln.(*net.TCPListener)
	if o.Processes > 1 {
		ln = &pacedListener{Listener: ln}
	}
	l := &Listener{Listener: ln, Proto: proto, Addr: addr}
	if isTCP && proto == ProtoUwsgi {
		allow, err := o.UwsgiAllowPeers()
		if err != nil {
			ln.Close()
			return nil, err
		}
		l.Listener = &allowListener{Listener: ln, allow: allow, log: log, addr: addr}
	}
	return l, nil
}

const (
	// pausePerConn is how long a worker waits before accepting, for each
	// long-lived connection it holds beyond freeConns.
	pausePerConn = 20 * time.Microsecond
	// maxAcceptPause bounds that wait.
	maxAcceptPause = time.Millisecond
	// freeConns long-lived connections cost no wait, so that the few
	// connections on their way to their first request head never slow
	// accepting down when each carries one request.
	freeConns = 4
)

// pacedListener spreads long-lived connections over the workers that
// share a listening socket. The kernel wakes every worker for a new
// connection and the first to call accept takes it, which is a matter of
// luck: with two workers and 64 keep-alive connections opened at once,
// splits from 64/0 to 10/54 were measured, and a worker keeps its
// connections as long as they live. So a worker waits a moment before
// each accept, longer the more long-lived connections it holds, and a
// worker holding fewer takes the connection meanwhile (nginx's
// accept_disabled works alike). Connections that carry one request each
// (uwsgi_pass, nginx's default HTTP/1.0 proxy_pass) stop counting as
// soon as their request head says so, so they are never slowed down.
type pacedListener struct {
	net.Listener
	long atomic.Pointer[func() int] // the worker's long-lived connections; set by PaceBy
}

func (l *pacedListener) Accept() (net.Conn, error) {
	// Let the goroutine of the connection accepted last start (and count
	// itself) first: with GOMAXPROCS=1 it would not run before the next
	// accept otherwise, and a burst would be judged by a stale count.
	runtime.Gosched()
	if long := l.long.Load(); long != nil {
		if n := (*long)() - freeConns; n > 0 {
			time.Sleep(min(time.Duration(n)*pausePerConn, maxAcceptPause))
		}
	}
	return l.Listener.Accept()
}

// PaceBy makes a listener from Inherit that is shared with other workers
// judge the worker's load by long (Server.LongConns); see pacedListener.
// Other listeners ignore it.
func (l *Listener) PaceBy(long func() int) {
	ln := l.Listener
	if al, ok := ln.(*allowListener); ok {
		ln = al.Listener
	}
	if p, ok := ln.(*pacedListener); ok {
		p.long.Store(&long)
	}
}

// LongConns is how many open HTTP connections may carry more than one
// request: all of them, until a request head asks for the connection to
// close.
func (s *Server) LongConns() int { return int(s.long.Load()) }

// longCount counts one connection in Server.long until done.
type longCount struct {
	s       *Server
	counted bool
}

func (s *Server) countLong() longCount {
	s.long.Add(1)
	return longCount{s: s, counted: true}
}

func (l *longCount) done() {
	if l.counted {
		l.counted = false
		l.s.long.Add(-1)
	}
}
