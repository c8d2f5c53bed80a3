package server

import (
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/gowsgi/gowsgi/config"
)

// nonblocking reports whether the listening socket is in non-blocking mode.
func nonblocking(t *testing.T, ln net.Listener) bool {
	t.Helper()
	rc, err := ln.(syscall.Conn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var flags int
	rc.Control(func(fd uintptr) {
		r, _, _ := syscall.Syscall(syscall.SYS_FCNTL, fd, syscall.F_GETFL, 0)
		flags = int(r)
	})
	return flags&syscall.O_NONBLOCK != 0
}

func TestListenerFileAndInherit(t *testing.T) {
	o := config.Defaults()
	o.Processes = 2
	unixPath := filepath.Join(t.TempDir(), "s.sock")
	for _, c := range []struct{ network, addr string }{{"tcp", "127.0.0.1:0"}, {"unix", unixPath}} {
		ln, err := net.Listen(c.network, c.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		l := &Listener{Listener: ln, Proto: ProtoHTTP, Addr: ln.Addr().String()}
		f, err := l.File()
		if err != nil {
			t.Fatal(err)
		}
		// net.TCPListener.File would have made the shared socket blocking.
		if !nonblocking(t, ln) {
			t.Errorf("%s: File left the socket in blocking mode", c.network)
		}
		in, err := Inherit(&o, ProtoHTTP, l.Addr, f, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := in.Listener.(*pacedListener); !ok {
			t.Errorf("%s: a listener shared by several workers is not paced", c.network)
		}
		got := make(chan error, 1)
		go func() {
			nc, err := in.Accept()
			if err == nil {
				nc.Close()
			}
			got <- err
		}()
		nc, err := net.DialTimeout(c.network, ln.Addr().String(), time.Second)
		if err != nil {
			t.Fatal(err)
		}
		nc.Close()
		if err := <-got; err != nil {
			t.Errorf("%s: accept on the inherited listener: %v", c.network, err)
		}
		in.Close()
		if c.network == "unix" {
			if _, err := os.Stat(unixPath); err != nil {
				t.Errorf("closing a worker's listener removed the socket file, which is the master's: %v", err)
			}
		}
	}
}

// fakeAccepter accepts at once.
type fakeAccepter struct{ net.Listener }

func (fakeAccepter) Accept() (net.Conn, error) { return nil, nil }

func TestPacedListener(t *testing.T) {
	long := 0
	l := &pacedListener{Listener: fakeAccepter{}}
	l.long.Store(func() *func() int { f := func() int { return long }; return &f }())
	for _, c := range []struct {
		long     int
		min, max time.Duration
	}{
		{0, 0, 5 * time.Millisecond},
		{freeConns, 0, 5 * time.Millisecond},
		{freeConns + 10, 10 * pausePerConn, 50 * time.Millisecond},
		{freeConns + 100000, maxAcceptPause, 50 * time.Millisecond},
	} {
		long = c.long
		start := time.Now()
		l.Accept()
		if d := time.Since(start); d < c.min || d > c.max {
			t.Errorf("with %d long-lived connections Accept took %v, want %v to %v", c.long, d, c.min, c.max)
		}
	}
	var one Listener
	one.Listener = fakeAccepter{}
	one.PaceBy(func() int { return 0 }) // not paced: nothing happens
}
