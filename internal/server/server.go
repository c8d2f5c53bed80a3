// Package server is gowsgi's HTTP/1.1 front end: it accepts connections,
// parses requests with httpwire, holds slow clients, and hands complete
// requests to the Python request threads of pyembed.
package server

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gowsgi/gowsgi/config"
	"github.com/gowsgi/gowsgi/internal/httpwire"
	"github.com/gowsgi/gowsgi/internal/static"
	"github.com/gowsgi/gowsgi/pyembed"
)

// Server serves one process's listeners with one pool of Python threads.
type Server struct {
	opts   config.Options // immutable after New
	log    *slog.Logger
	limits httpwire.Limits

	// pool holds the free request slots: a request takes one before it
	// runs Python and gives it back after (admission.go), or waits in its
	// queue, bounded by Options.Queue.
	pool          *slotPool
	stopAdmission chan struct{}

	draining atomic.Bool

	static *static.Handler // the static file map, or nil (static.go); set before Serve

	requests *requestTable // requests running Python, or nil (inflight.go); set before Serve
	long     atomic.Int64  // open connections that may carry many requests (inherit.go)

	obs observer // access log and metrics (observe.go); set before Serve

	mu        sync.Mutex
	listeners []net.Listener
	acceptWG  sync.WaitGroup // accept loops; Shutdown waits for them so every accepted connection is tracked
	conns     map[*conn]struct{}
	connsWG   sync.WaitGroup
}

// New makes a server; StartThreads and Serve start it.
func New(opts config.Options, log *slog.Logger) *Server {
	return &Server{
		opts: opts,
		log:  log,
		limits: httpwire.Limits{
			MaxRequestLine: opts.MaxRequestLine,
			MaxHeaderCount: opts.MaxHeaderCount,
			MaxFieldSize:   opts.MaxFieldSize,
			MaxHeadBytes:   opts.MaxHeadBytes,
		},
		conns: map[*conn]struct{}{},
	}
}

// UseSlots makes the interpreter's request slots available to requests.
// It starts the admission control, which Shutdown stops.
func (s *Server) UseSlots(slots []*pyembed.Slot) {
	s.pool = newSlotPool(slots)
	s.stopAdmission = make(chan struct{})
	go s.runAdmission(s.stopAdmission)
}

// acquireSlot waits for a free request slot, or returns nil when
// Options.Queue requests are already waiting (the caller answers 503).
// wait is the caller's own channel for the hand-over.
func (s *Server) acquireSlot(wait chan *pyembed.Slot) *pyembed.Slot {
	sl, ok := s.pool.take(wait, s.opts.Queue)
	if sl != nil || !ok {
		return sl
	}
	return <-wait
}

func (s *Server) releaseSlot(sl *pyembed.Slot) { s.pool.give(sl) }

// Serve accepts connections on ln until Shutdown.
func (s *Server) Serve(ln net.Listener) error { return s.serveProto(ln, ProtoHTTP) }

// ServeListener accepts connections on l, speaking its protocol, until Shutdown.
func (s *Server) ServeListener(l *Listener) error { return s.serveProto(l.Listener, l.Proto) }

func (s *Server) serveProto(ln net.Listener, proto Proto) error {
	s.mu.Lock()
	if s.draining.Load() {
		s.mu.Unlock()
		ln.Close()
		return nil
	}
	s.listeners = append(s.listeners, ln)
	s.acceptWG.Add(1)
	s.mu.Unlock()
	defer s.acceptWG.Done()
	var delay time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if s.draining.Load() {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, errTooManyFiles) {
				// Out of descriptors: back off instead of spinning, as net/http does.
				delay = min(max(delay*2, 5*time.Millisecond), time.Second)
				s.log.Warn("accept failed; retrying", "err", err, "delay", delay)
				time.Sleep(delay)
				continue
			}
			return err
		}
		delay = 0
		c := newConn(s, nc)
		if !s.track(c) {
			nc.Close()
			continue
		}
		if proto == ProtoUwsgi {
			go c.serveUwsgi() // uwsgi.go
		} else {
			go c.serve()
		}
	}
}

func (s *Server) track(c *conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	// A connection accepted as Shutdown begins is still served: its client
	// has likely sent its request already, and closing it would fail that
	// request (during a rolling reload, too). waitForRequest gives it a
	// short grace; Shutdown waits for the accept loops, so it is counted.
	s.conns[c] = struct{}{}
	s.connsWG.Add(1)
	return true
}

func (s *Server) untrack(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	s.connsWG.Done()
}

// Shutdown stops accepting, closes idle connections and lets requests in
// flight finish until ctx ends. It returns ctx.Err() if requests were
// still running when ctx ended.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	if !s.draining.Swap(true) && s.stopAdmission != nil {
		close(s.stopAdmission)
	}
	for _, ln := range s.listeners {
		ln.Close()
	}
	for c := range s.conns {
		c.closeIfIdle()
	}
	s.mu.Unlock()
	done := make(chan struct{})
	go func() {
		s.acceptWG.Wait() // after this, no connection is tracked any more
		s.connsWG.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Draining reports whether Shutdown has begun.
func (s *Server) Draining() bool { return s.draining.Load() }
