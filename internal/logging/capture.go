package logging

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

const (
	// maxLine is the longest line logged as one record; longer output is
	// split into records of this size.
	maxLine = 16 << 10
	// drainWait bounds how long Close waits for captured output: a child
	// process of the application may keep the pipe open.
	drainWait = time.Second
)

// capture turns what is written to one file descriptor into log records.
type capture struct {
	fd    int
	saved *os.File // the descriptor's original file, put back by stop
	done  chan struct{}
}

// startCapture points fd at a pipe and logs every line read from it with
// source set. Everything that writes to the descriptor is caught:
// print(), sys.stderr, the logging module's StreamHandler, C extensions,
// child processes that inherit it.
func startCapture(fd int, source string, log *slog.Logger) (*capture, error) {
	saved, err := dupCloexec(fd, source)
	if err != nil {
		return nil, err
	}
	r, w, err := os.Pipe()
	if err != nil {
		saved.Close()
		return nil, err
	}
	// dup3 clears close-on-exec on fd, so child processes write into the
	// log too, as they would have written to the original.
	if err := unix.Dup3(int(w.Fd()), fd, 0); err != nil {
		saved.Close()
		r.Close()
		w.Close()
		return nil, err
	}
	w.Close() // fd holds the write end now
	c := &capture{fd: fd, saved: saved, done: make(chan struct{})}
	go func() {
		defer close(c.done)
		defer r.Close()
		readLines(r, func(line []byte) {
			log.LogAttrs(context.Background(), slog.LevelInfo, string(line), slog.String("source", source))
		})
	}()
	return c, nil
}

// stop puts the original descriptor back, which closes the pipe's write
// end, and waits until what was written before has been logged.
func (c *capture) stop() {
	unix.Dup3(int(c.saved.Fd()), c.fd, 0)
	c.saved.Close()
	select {
	case <-c.done:
	case <-time.After(drainWait):
	}
}

// readLines calls emit for every non-empty line read from r, without its line end;
// a line longer than maxLine comes in pieces, and a last line without a
// newline comes at EOF.
func readLines(r io.Reader, emit func([]byte)) {
	br := bufio.NewReaderSize(r, maxLine)
	for {
		line, err := br.ReadSlice('\n')
		line = bytes.TrimSuffix(line, []byte("\n"))
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(line) > 0 { // blank lines carry nothing worth a record
			emit(line)
		}
		if err != nil && err != bufio.ErrBufferFull {
			return
		}
	}
}

// dupCloexec duplicates fd as a new file that child processes do not inherit.
func dupCloexec(fd int, name string) (*os.File, error) {
	nfd, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 3)
	if err != nil {
		return nil, &os.PathError{Op: "dup", Path: name, Err: err}
	}
	return os.NewFile(uintptr(nfd), name), nil
}
