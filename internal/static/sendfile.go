package static

import (
	"errors"
	"io"
	"net"
	"os"
	"time"
)

// sendStep is how much is sent under one write deadline: a client must
// take this much within the write timeout (1 MiB in 60 s is 17 KiB/s), and
// a slow client that keeps reading is never cut off.
const sendStep = 1 << 20

// ErrFileShrank means the file ended before the length already promised
// in Content-Length: the connection must be closed.
var ErrFileShrank = errors.New("file is shorter than the length being sent")

// SendFile writes n bytes of f from offset off to w and returns how many
// went out. io.CopyN from an *os.File to a *net.TCPConn is sendfile(2):
// the bytes go from the page cache to the socket without passing through
// this process's memory. It moves f's offset, so f must not be shared.
func SendFile(w net.Conn, f *os.File, off, n int64, timeout time.Duration) (int64, error) {
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		return 0, err
	}
	var sent int64
	for sent < n {
		w.SetWriteDeadline(time.Now().Add(timeout))
		m, err := io.CopyN(w, f, min(n-sent, sendStep))
		sent += m
		if err == io.EOF {
			return sent, ErrFileShrank
		}
		if err != nil {
			return sent, err
		}
	}
	return sent, nil
}
