// Package logging sets up a serving process's logs: structured server
// messages (log/slog, text or JSON), the destination shared with the
// access log (stderr or a --logto file, re-opened on SIGUSR1), and the
// capture of everything the application writes to stdout and stderr,
// which becomes log records marked with the worker.
package logging

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"sync/atomic"
	"syscall"
)

// Config says where and how a process logs.
type Config struct {
	JSON  bool   // one JSON object per line instead of key=value text
	LogTo string // append to this file instead of Stderr
	// Stderr is the destination without LogTo. When it is os.Stderr and
	// Capture is set, the real stderr is kept (dup) for the log and file
	// descriptors 1 and 2 become pipes read into the log.
	Stderr  io.Writer
	Capture bool
	// Worker is added to every record as worker=N; -1 for a process that
	// is no worker (the master).
	Worker int
}

// Logs is a process's logging, from Open to Close.
type Logs struct {
	// Logger is for server messages; each record is written at once.
	Logger *slog.Logger
	// Sink is the destination, for the access log's buffered lines.
	Sink *Sink
	// JSON is whether records are JSON objects.
	JSON bool

	appLog      *slog.Logger // application output, buffered
	captures    []*capture
	sigs        chan os.Signal
	sigDone     chan struct{}
	afterReopen atomic.Pointer[func()]
}

// Open sets up logging as c says. Nothing is redirected if it fails.
func Open(c Config) (*Logs, error) {
	dest := c.Stderr
	if dest == nil {
		dest = os.Stderr
	}
	capture := c.Capture && dest == io.Writer(os.Stderr)
	var realStderr *os.File
	if capture {
		f, err := dupCloexec(2, "stderr")
		if err != nil {
			return nil, fmt.Errorf("cannot keep stderr for the log: %w", err)
		}
		realStderr = f
		dest = f
	}
	var sink *Sink
	if c.LogTo != "" {
		s, err := OpenSink(c.LogTo)
		if err != nil {
			if realStderr != nil {
				realStderr.Close()
			}
			return nil, fmt.Errorf("--logto: %w", err)
		}
		sink = s
	} else {
		sink = NewSink(dest)
	}
	l := &Logs{Sink: sink, JSON: c.JSON}
	var tail []slog.Attr
	if c.Worker >= 0 {
		tail = append(tail, slog.Int("worker", c.Worker))
	}
	tail = append(tail, slog.Int("pid", os.Getpid()))
	l.Logger = slog.New(&tailHandler{inner: newHandler(sink.Now(), c.JSON), tail: tail})
	l.appLog = slog.New(&tailHandler{inner: newHandler(sink, c.JSON), tail: tail})

	if capture {
		// A fatal Go error must reach the real stderr even though fd 2
		// is a pipe whose reader dies with the process.
		debug.SetCrashOutput(realStderr, debug.CrashOptions{})
		for _, fd := range []int{1, 2} {
			source := map[int]string{1: "stdout", 2: "stderr"}[fd]
			cp, err := startCapture(fd, source, l.appLog)
			if err != nil {
				l.stopCaptures()
				return nil, fmt.Errorf("cannot capture %s: %w", source, err)
			}
			l.captures = append(l.captures, cp)
		}
	}
	return l, nil
}

func newHandler(w io.Writer, json bool) slog.Handler {
	opts := &slog.HandlerOptions{Level: slog.LevelInfo}
	if json {
		return slog.NewJSONHandler(w, opts)
	}
	return slog.NewTextHandler(w, opts)
}

// Direct is a writer to the log destination that bypasses both the
// records and the capture, for plain messages such as "gowsgi: ...".
func (l *Logs) Direct() io.Writer { return l.Sink.Now() }

// WatchSignals re-opens the log file on SIGUSR1 (logrotate's
// postrotate). Without --logto it only flushes; either way SIGUSR1 no
// longer kills the process.
func (l *Logs) WatchSignals() {
	if l.sigs != nil {
		return
	}
	l.sigs = make(chan os.Signal, 1)
	l.sigDone = make(chan struct{})
	signal.Notify(l.sigs, syscall.SIGUSR1)
	go func() {
		defer close(l.sigDone)
		for range l.sigs {
			l.Reopen()
		}
	}()
}

// AfterReopen sets what runs after each SIGUSR1 re-open: a master passes
// the signal on to its workers, which write to the file themselves.
func (l *Logs) AfterReopen(fn func()) { l.afterReopen.Store(&fn) }

// Reopen re-opens the --logto file, logging the outcome.
func (l *Logs) Reopen() {
	if fn := l.afterReopen.Load(); fn != nil {
		defer (*fn)()
	}
	if err := l.Sink.Reopen(); err != nil {
		l.Logger.Error("cannot reopen the log file; still writing to the old one", "logto", l.Sink.Path(), "err", err)
		return
	}
	if l.Sink.Path() != "" {
		l.Logger.Info("log file reopened", "logto", l.Sink.Path())
	}
}

// Close restores stdout and stderr, logs what the application wrote
// until then, stops watching signals and flushes.
func (l *Logs) Close() {
	if l.sigs != nil {
		signal.Stop(l.sigs)
		close(l.sigs)
		<-l.sigDone
		l.sigs = nil
	}
	l.stopCaptures()
	l.Sink.Close()
}

func (l *Logs) stopCaptures() {
	for _, cp := range l.captures {
		cp.stop()
	}
	l.captures = nil
}

// tailHandler adds attributes at the end of every record, after the
// record's own, so "msg=listening addr=..." reads the same with or
// without them.
type tailHandler struct {
	inner slog.Handler
	tail  []slog.Attr
}

func (h *tailHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.inner.Enabled(ctx, level)
}

func (h *tailHandler) Handle(ctx context.Context, r slog.Record) error {
	r = r.Clone()
	for _, a := range h.tail {
		if !hasAttr(r, a.Key) { // a record that names its pid already keeps it
			r.AddAttrs(a)
		}
	}
	return h.inner.Handle(ctx, r)
}

func hasAttr(r slog.Record, key string) bool {
	found := false
	r.Attrs(func(a slog.Attr) bool {
		found = a.Key == key
		return !found
	})
	return found
}

func (h *tailHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &tailHandler{inner: h.inner.WithAttrs(as), tail: h.tail}
}

func (h *tailHandler) WithGroup(name string) slog.Handler {
	return &tailHandler{inner: h.inner.WithGroup(name), tail: h.tail}
}
