package logging

import (
	"io"
	"os"
	"sync"
	"time"
)

const (
	// flushEvery is the longest a buffered line waits to be written.
	flushEvery = 100 * time.Millisecond
	// flushAt makes a Write flush at once (unless a flush is already under
	// way), so the buffer stays small and writes are large.
	flushAt = 64 << 10
	// blockAt makes Write wait for the destination (back-pressure): a log
	// destination slower than the traffic must not grow memory forever.
	blockAt = 4 << 20
	// fileMode is the mode of a --logto file gowsgi creates.
	fileMode = 0o644
)

// Sink is the log destination shared by every record of a process: the
// access log writes to it buffered, flushed at least every flushEvery;
// server messages write through Now, which also writes out what is
// buffered before them, so the order of lines is kept. Each Write must
// be whole lines.
type Sink struct {
	wmu  sync.Mutex // serializes writes to out and Reopen
	out  io.Writer
	file *os.File // out, when the sink opened it (--logto); nil otherwise
	path string

	mu      sync.Mutex // guards the fields below
	buf     []byte
	spare   []byte
	timer   *time.Timer
	armed   bool // the timer will flush
	closed  bool
	lastErr error
}

// NewSink makes a sink writing to w.
func NewSink(w io.Writer) *Sink {
	s := &Sink{out: w}
	s.timer = time.AfterFunc(time.Hour, s.timedFlush)
	s.timer.Stop()
	return s
}

// OpenSink makes a sink appending to the file at path, created if needed.
func OpenSink(path string) (*Sink, error) {
	f, err := openLogFile(path)
	if err != nil {
		return nil, err
	}
	s := NewSink(f)
	s.file, s.path = f, path
	return s, nil
}

func openLogFile(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, fileMode)
}

// Write buffers p; it is written within flushEvery.
func (s *Sink) Write(p []byte) (int, error) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return s.writeDirect(p)
	}
	s.buf = append(s.buf, p...)
	n := len(s.buf)
	if !s.armed && n < flushAt {
		s.armed = true
		s.timer.Reset(flushEvery)
	}
	s.mu.Unlock()
	switch {
	case n >= blockAt:
		s.Flush() // wait for the destination
	case n >= flushAt && s.wmu.TryLock():
		// This writer writes the buffer out; others go on filling the
		// spare meanwhile instead of waiting.
		s.flushLocked()
		s.wmu.Unlock()
	}
	return len(p), nil
}

func (s *Sink) timedFlush() {
	s.mu.Lock()
	s.armed = false
	s.mu.Unlock()
	s.Flush()
}

// Flush writes out everything buffered.
func (s *Sink) Flush() error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	return s.flushLocked()
}

// flushLocked writes the buffer out (wmu held).
func (s *Sink) flushLocked() error {
	s.mu.Lock()
	buf := s.buf
	s.buf = s.spare[:0]
	s.spare = nil
	s.mu.Unlock()
	var err error
	if len(buf) > 0 {
		_, err = s.out.Write(buf)
	}
	s.mu.Lock()
	if cap(buf) <= 2*blockAt {
		s.spare = buf[:0]
	}
	if err != nil {
		s.lastErr = err
	}
	s.mu.Unlock()
	return err
}

// writeDirect writes p after what is buffered, at once.
func (s *Sink) writeDirect(p []byte) (int, error) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.flushLocked()
	return s.out.Write(p)
}

// Now is a writer that writes at once, after what is buffered.
func (s *Sink) Now() io.Writer { return nowWriter{s} }

type nowWriter struct{ s *Sink }

func (w nowWriter) Write(p []byte) (int, error) { return w.s.writeDirect(p) }

// Reopen re-opens a --logto file at its path (after logrotate moved it),
// writing what is buffered to the old one first. Without a file it only
// flushes.
func (s *Sink) Reopen() error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.flushLocked()
	if s.file == nil {
		return nil
	}
	f, err := openLogFile(s.path)
	if err != nil {
		return err // keep writing to the old file rather than nowhere
	}
	old := s.file
	s.file, s.out = f, f
	old.Close()
	return nil
}

// Path is the --logto file, "" for another destination.
func (s *Sink) Path() string { return s.path }

// Err is the last error writing to the destination, if any.
func (s *Sink) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastErr
}

// Close flushes and stops buffering: later writes go out at once. A file
// the sink opened stays open, since stray records may still come from
// goroutines that outlive serving; the process exits soon after.
func (s *Sink) Close() error {
	s.mu.Lock()
	s.closed = true
	s.timer.Stop()
	s.mu.Unlock()
	return s.Flush()
}
