package static

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// tcpPair returns both ends of a loopback TCP connection.
func tcpPair(t *testing.T) (server, client net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server, err = ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { server.Close(); client.Close() })
	return server, client
}

func patternFile(t *testing.T, size int) (*os.File, []byte) {
	t.Helper()
	data := make([]byte, size)
	for i := range data {
		data[i] = byte(i*7 + i/251)
	}
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f, data
}

func TestSendFileSendsTheRange(t *testing.T) {
	// One size per path: a small file (io.CopyN) and one past sendStep (sendfile loop).
	for _, size := range []int{10_000, 3<<20 + 4321} {
		f, data := patternFile(t, size)
		srv, cli := tcpPair(t)
		off, n := int64(1234), int64(size-1234-99)
		got := make(chan []byte, 1)
		go func() {
			b, _ := io.ReadAll(cli)
			got <- b
		}()
		sent, err := SendFile(srv, f, off, n, 5*time.Second)
		srv.Close()
		if err != nil || sent != n {
			t.Fatalf("size %d: sent %d of %d, err %v", size, sent, n, err)
		}
		if b := <-got; !bytes.Equal(b, data[off:off+n]) {
			t.Fatalf("size %d: client got %d bytes that differ from the file's range", size, len(b))
		}
	}
}

func TestSendFileLeavesNoDelayOn(t *testing.T) {
	f, _ := patternFile(t, 3<<20)
	srv, cli := tcpPair(t)
	go io.Copy(io.Discard, cli)
	if _, err := SendFile(srv, f, 0, 3<<20, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	rc, err := srv.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var v int
	rc.Control(func(fd uintptr) { v, err = unix.GetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_NODELAY) })
	if err != nil || v == 0 {
		t.Fatalf("TCP_NODELAY is %d after a big file (err %v): the next response would wait for Nagle", v, err)
	}
}

func TestSendFileReportsAShrunkFile(t *testing.T) {
	for _, size := range []int{5000, 2<<20 + 17} {
		f, _ := patternFile(t, size)
		srv, cli := tcpPair(t)
		go io.Copy(io.Discard, cli)
		sent, err := SendFile(srv, f, 0, int64(size)+1000, 5*time.Second)
		if !errors.Is(err, ErrFileShrank) || sent != int64(size) {
			t.Fatalf("size %d: sent %d, err %v; want %d and ErrFileShrank", size, sent, err, size)
		}
	}
}

func TestSendFileGivesUpOnAClientThatStopsReading(t *testing.T) {
	p := filepath.Join(t.TempDir(), "sparse")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(256 << 20); err != nil {
		t.Fatal(err)
	}
	srv, _ := tcpPair(t) // the client never reads
	start := time.Now()
	sent, err := SendFile(srv, f, 0, 256<<20, 300*time.Millisecond)
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("sent %d, err %v; want a deadline error", sent, err)
	}
	if sent >= 256<<20 {
		t.Fatalf("sent everything to a client that reads nothing")
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("took %v to give up", d)
	}
}
