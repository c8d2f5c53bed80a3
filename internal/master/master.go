// Package master is gowsgi's process model. A master process opens the
// listening sockets once and supervises worker processes, each of which
// runs the whole server with its own Python interpreter: it starts them by
// executing its own binary with the sockets inherited, replaces those that
// die (with a back-off when they die at start-up), reloads them one at a
// time on SIGHUP or --touch-reload, recycles them on request (max-requests,
// reload-on-rss, harakiri) and drains them on SIGTERM. The master never
// starts Python. The worker's side is in link.go, recycle.go and
// harakiri.go.
package master

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gowsgi/gowsgi/internal/metrics"
)

// Listener is a listening socket the workers inherit.
type Listener struct {
	Proto string   // "http" or "uwsgi"
	Addr  string   // as logged
	File  *os.File // the master's duplicate of the socket; Run closes it
}

// Config describes the master. Zero tuning fields take their defaults.
type Config struct {
	Processes int
	Listeners []Listener
	// CloseListeners closes the master's own listeners (removing unix
	// socket files) when shutdown begins, so that, once the workers have
	// closed theirs, new connections are refused instead of queued.
	CloseListeners func()

	// Exe is the worker binary: default /proc/self/exe, this very binary
	// even if the file was replaced since. Argv0 and Args are the worker's
	// command line: default os.Args. Env is the worker's environment
	// before the master's variables are added: default os.Environ().
	Exe   string
	Argv0 string
	Args  []string
	Env   []string
	// Dir is the workers' starting directory: default the master's.
	Dir string
	// Settings is what workers read instead of the configuration files
	// (EnvSettings); nil: the master had no files, nor have the workers.
	Settings []byte
	// Stdout and Stderr of the workers: default the master's.
	Stdout, Stderr io.Writer

	GracefulTimeout time.Duration // what a stopping worker has to finish its requests
	StartTimeout    time.Duration // a worker not ready this long after its start is killed; 0: never
	TouchReload     []string      // files whose modification reloads the workers
	PidFile         string
	UID, GID        string // switch to these after the sockets are bound (which they are)
	// Signals makes Run handle SIGHUP (reload), SIGTERM and SIGINT
	// (graceful stop; a second one stops at once) and SIGQUIT (stop at once).
	Signals bool
	Log     *slog.Logger

	BackoffBase   time.Duration // first delay after a failed start; default 100ms
	BackoffMax    time.Duration // longest delay; default 10s
	StableAfter   time.Duration // a worker ready this long resets the back-off; default 5s
	TouchInterval time.Duration // --touch-reload polling; default 1s
	KillAfter     time.Duration // beyond GracefulTimeout before a stopping worker is killed; default 10s
}

// Master supervises the worker processes. It implements
// metrics.WorkerSource for the stats server.
type Master struct {
	cfg Config
	log *slog.Logger

	events chan func() // run one at a time on Run's goroutine, with mu held
	done   chan struct{}
	ready  chan struct{}

	spawner    *spawner
	controlDir string

	// mu guards everything below; Run's goroutine holds it while it
	// handles an event, so Workers and friends see consistent states.
	mu        sync.Mutex
	slots     []*slot
	live      map[*proc]struct{}
	restarts  map[string]uint64
	everReady bool // a worker has been ready: start-up failures are no longer fatal
	stopping  bool
	killed    bool // stopping at once
	exitCode  int
	reload    *reloadState
	settings  []byte // Config.Settings, then what the first new worker of each reload read
}

// slot is one worker index.
type slot struct {
	index    int
	gen      int         // processes started for this index
	active   *proc       // the worker serving (or, if none is ready, starting) for this index
	next     *proc       // a replacement starting; it takes over when ready
	failures int         // consecutive failed starts, for the back-off
	retry    *time.Timer // a back-off in progress
}

// reloadState is a rolling reload: slot by slot, a worker started before
// since is replaced by a new one, which must be ready before the old one
// is stopped.
type reloadState struct {
	since  time.Time
	reason string
	pos    int  // the slot being reloaded
	reread bool // the next new worker reads the configuration files, not Master.settings
}

// New makes a master; Run starts it.
func New(cfg Config) *Master {
	if cfg.Processes < 1 {
		cfg.Processes = 1
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	if len(cfg.Settings) > maxSettings {
		cfg.Log.Warn("configuration too large to hand to the workers in their environment; each worker reads the files itself", "bytes", len(cfg.Settings), "max", maxSettings)
		cfg.Settings = nil
	}
	if cfg.Exe == "" {
		cfg.Exe = "/proc/self/exe"
		if _, err := os.Stat(cfg.Exe); err != nil {
			cfg.Exe, _ = os.Executable()
		}
	}
	if cfg.Argv0 == "" && len(os.Args) > 0 {
		cfg.Argv0 = os.Args[0]
	}
	if cfg.Args == nil && len(os.Args) > 1 {
		cfg.Args = os.Args[1:]
	}
	if cfg.Env == nil {
		cfg.Env = os.Environ()
	}
	if cfg.Stdout == nil {
		cfg.Stdout = os.Stdout
	}
	if cfg.Stderr == nil {
		cfg.Stderr = os.Stderr
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.BackoffBase, 100*time.Millisecond)
	def(&cfg.BackoffMax, 10*time.Second)
	def(&cfg.StableAfter, 5*time.Second)
	def(&cfg.TouchInterval, time.Second)
	def(&cfg.KillAfter, 10*time.Second)
	m := &Master{
		cfg:      cfg,
		log:      cfg.Log,
		events:   make(chan func(), 64),
		done:     make(chan struct{}),
		ready:    make(chan struct{}),
		live:     map[*proc]struct{}{},
		restarts: map[string]uint64{},
		settings: cfg.Settings,
	}
	for i := 0; i < cfg.Processes; i++ {
		m.slots = append(m.slots, &slot{index: i})
	}
	return m
}

// Ready is closed when the first worker is ready (and "listening" logged).
func (m *Master) Ready() <-chan struct{} { return m.ready }

// Workers lists the worker processes alive, by index, then generation:
// during a replacement an index has two.
func (m *Master) Workers() []metrics.WorkerInfo {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]metrics.WorkerInfo, 0, len(m.live))
	for p := range m.live {
		out = append(out, metrics.WorkerInfo{
			Index:         p.index,
			PID:           p.pid,
			Generation:    p.gen,
			StartedAt:     p.started,
			Ready:         p.ready,
			ControlSocket: p.control,
		})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Index != out[j].Index {
			return out[i].Index < out[j].Index
		}
		return out[i].Generation < out[j].Generation
	})
	return out
}

// Restarts counts the workers started to replace another, by cause:
// crash, max-requests, rss, harakiri, reload (always all five).
func (m *Master) Restarts() map[string]uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[string]uint64{CauseCrash: 0, CauseMaxRequests: 0, CauseRSS: 0, CauseHarakiri: 0, CauseReload: 0}
	for k, v := range m.restarts {
		out[k] = v
	}
	return out
}

// Draining reports whether the master is shutting down.
func (m *Master) Draining() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.stopping
}

// Reload starts a graceful rolling reload, as SIGHUP does.
func (m *Master) Reload(reason string) { m.post(func() { m.beginReload(reason) }) }

// Stop shuts the workers down: gracefully, or at once (SIGKILL).
func (m *Master) Stop(immediate bool) {
	m.post(func() { m.beginStop(immediate, "requested") })
}

// post runs fn on Run's goroutine; after Run it does nothing.
func (m *Master) post(fn func()) {
	select {
	case m.events <- fn:
	case <-m.done:
	}
}

// Run starts the workers and supervises them until they are all stopped,
// and returns the process exit code: 0 after a requested stop, 1 if no
// worker could start or the master could not set itself up.
func (m *Master) Run() int {
	defer close(m.done)
	cfg := &m.cfg
	defer m.closeListeners()
	if cfg.PidFile != "" {
		if err := writePidFile(cfg.PidFile, os.Getpid()); err != nil {
			m.log.Error("cannot write the pid file", "err", err)
			return 1
		}
		defer func() {
			if err := removePidFile(cfg.PidFile, os.Getpid()); err != nil {
				m.log.Warn("cannot remove the pid file", "pidfile", cfg.PidFile, "err", err)
			}
		}()
	}
	if cfg.UID != "" {
		creds, err := lookupCredentials(cfg.UID, cfg.GID)
		if err == nil {
			err = dropPrivileges(creds)
		}
		if err != nil {
			m.log.Error("cannot drop privileges", "uid", cfg.UID, "gid", cfg.GID, "err", err)
			return 1
		}
		m.log.Info("running as", "user", creds.name, "uid", creds.uid, "gid", creds.gid)
	}
	// Made after the switch of user, so the workers can create their sockets in it.
	dir, err := os.MkdirTemp("", fmt.Sprintf("gowsgi-%d-", os.Getpid()))
	if err != nil {
		m.log.Error("cannot create the control socket directory", "err", err)
		return 1
	}
	m.controlDir = dir
	defer os.RemoveAll(dir)

	m.spawner = newSpawner()
	defer m.spawner.close()

	var sigs chan os.Signal
	if cfg.Signals {
		sigs = make(chan os.Signal, 8)
		signal.Notify(sigs, syscall.SIGHUP, syscall.SIGTERM, syscall.SIGINT, syscall.SIGQUIT)
		defer signal.Stop(sigs)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if len(cfg.TouchReload) > 0 {
		go watchTouch(ctx, cfg.TouchReload, cfg.TouchInterval, m.log, func(file string) {
			m.Reload("touch-reload " + file)
		})
	}

	m.mu.Lock()
	m.log.Debug("starting workers", "processes", cfg.Processes)
	for _, s := range m.slots {
		if !m.stopping {
			m.startWorker(s, "")
		}
	}
	m.mu.Unlock()
	for {
		m.mu.Lock()
		finished := m.stopping && len(m.live) == 0
		m.mu.Unlock()
		if finished {
			break
		}
		select {
		case fn := <-m.events:
			m.mu.Lock()
			fn()
			m.mu.Unlock()
		case sig := <-sigs:
			m.mu.Lock()
			m.onSignal(sig.(syscall.Signal))
			m.mu.Unlock()
		}
	}
	m.mu.Lock()
	code := m.exitCode
	m.mu.Unlock()
	if code == 0 {
		m.log.Info("stopped")
	}
	return code
}

func (m *Master) onSignal(sig syscall.Signal) {
	switch sig {
	case syscall.SIGHUP:
		m.beginReload("signal " + signalName(sig))
	case syscall.SIGTERM, syscall.SIGINT:
		// A second one (an impatient operator) stops at once.
		m.beginStop(m.stopping, "signal "+signalName(sig))
	case syscall.SIGQUIT:
		m.beginStop(true, "signal "+signalName(sig))
	}
}

func (m *Master) closeListeners() {
	for _, l := range m.cfg.Listeners {
		if l.File != nil {
			l.File.Close()
		}
	}
	if m.cfg.CloseListeners != nil {
		m.cfg.CloseListeners()
		m.cfg.CloseListeners = nil
	}
}

// startWorker starts a process for s: its worker if it has none, else
// its replacement. cause is why ("" for the first start).
func (m *Master) startWorker(s *slot, cause string) {
	p, err := m.spawn(s, cause)
	if err != nil {
		m.log.Error("cannot start a worker", "worker", s.index, "err", err)
		if !m.everReady {
			m.fatal("no worker could start")
			return
		}
		s.failures++
		if s.active == nil || s.active.retiring != "" {
			m.retryLater(s)
		}
		return
	}
	if cause != "" {
		m.restarts[cause]++
	}
	if s.active == nil {
		s.active = p
	} else {
		s.next = p
	}
}

// ensure starts what s lacks, unless a back-off is running: a worker, or
// the replacement its worker asked for.
func (m *Master) ensure(s *slot) {
	if m.stopping || s.retry != nil {
		return
	}
	switch {
	case s.active == nil:
		m.startWorker(s, CauseCrash)
	case s.next == nil && s.active.ready && s.active.retiring != "" && !s.active.stopping:
		m.startWorker(s, CauseCrash) // the first replacement failed
	}
}

// retryLater runs ensure(s) after the back-off for s.failures.
func (m *Master) retryLater(s *slot) {
	d := backoff(s.failures, m.cfg.BackoffBase, m.cfg.BackoffMax)
	if d == 0 {
		m.ensure(s)
		return
	}
	m.log.Warn("starting the worker again after a back-off", "worker", s.index, "failures", s.failures, "delay", d)
	if s.retry != nil {
		s.retry.Stop()
	}
	var t *time.Timer
	t = time.AfterFunc(d, func() {
		m.post(func() {
			if s.retry == t {
				s.retry = nil
				m.ensure(s)
			}
		})
	})
	s.retry = t
}

func (m *Master) onMessage(p *proc, line string) {
	switch {
	case line == msgReady:
		m.onReady(p)
	case strings.HasPrefix(line, msgRetire+" "):
		m.onRetire(p, line[len(msgRetire)+1:])
	case strings.HasPrefix(line, msgSettings+" "):
		m.onSettings(p, line[len(msgSettings)+1:])
	default:
		m.log.Warn("unknown message from a worker", "worker", p.index, "pid", p.pid, "message", line)
	}
}

func (m *Master) onReady(p *proc) {
	if p.ready || p.exited {
		return
	}
	p.ready = true
	p.readyAt = time.Now()
	m.log.Info("worker ready", "worker", p.index, "pid", p.pid, "generation", p.gen, "startup", p.readyAt.Sub(p.started).Round(time.Millisecond))
	time.AfterFunc(m.cfg.StableAfter, func() {
		m.post(func() {
			if !p.exited {
				p.stable = true
				if s := m.slots[p.index]; s.active == p {
					s.failures = 0
				}
			}
		})
	})
	if !m.everReady {
		m.everReady = true
		for _, l := range m.cfg.Listeners {
			m.log.Info("listening", "addr", l.Addr, "proto", l.Proto)
		}
		close(m.ready)
	}
	if m.stopping {
		return
	}
	if p.readsFor != nil && p.settings != nil {
		if !bytes.Equal(p.settings, m.settings) {
			m.log.Info("configuration files changed: workers started from now on take the new options", "worker", p.index, "pid", p.pid)
		}
		m.settings = p.settings
		// Only for its own reload: after a second SIGHUP, the files are
		// read again by that reload's first worker.
		if m.reload == p.readsFor {
			m.reload.reread = false
		}
	}
	s := m.slots[p.index]
	if p == s.next {
		old := s.active
		s.active, s.next = p, nil
		if old != nil {
			m.log.Info("worker replaced", "worker", p.index, "pid", p.pid, "old_pid", old.pid, "cause", p.cause)
			m.stopProc(old, syscall.SIGTERM)
		}
	}
	m.advanceReload()
}

// onSettings keeps what a worker started without EnvSettings read from the
// configuration files; it becomes the master's when the worker is ready.
func (m *Master) onSettings(p *proc, text string) {
	if p.readsFor == nil {
		return // the master has no settings to replace (no files, or too large to pass)
	}
	b, err := base64.StdEncoding.DecodeString(text)
	if err != nil {
		m.log.Warn("bad settings from a worker", "worker", p.index, "pid", p.pid, "err", err)
		return
	}
	p.settings = b
}

func (m *Master) onRetire(p *proc, cause string) {
	if !retireCauses[cause] {
		m.log.Warn("unknown retire cause from a worker", "worker", p.index, "pid", p.pid, "cause", cause)
		return
	}
	s := m.slots[p.index]
	if m.stopping || p.exited || p != s.active || p.retiring != "" || p.stopping {
		return // stopping anyway, or already being replaced
	}
	p.retiring = cause
	if s.next != nil || s.retry != nil {
		return // a replacement is on its way (a reload)
	}
	m.log.Info("replacing worker", "worker", p.index, "pid", p.pid, "cause", cause)
	m.startWorker(s, cause)
}

func (m *Master) onExit(p *proc, ps *os.ProcessState) {
	p.exited = true
	delete(m.live, p)
	os.Remove(p.control) // left behind by a worker that could not clean up
	status := describeExit(ps)
	clean := ps != nil && ps.Success()
	s := m.slots[p.index]
	wasActive, wasNext := p == s.active, p == s.next
	if wasActive {
		s.active, s.next = s.next, nil
	} else if wasNext {
		s.next = nil
	}
	attrs := []any{"worker", p.index, "pid", p.pid, "generation", p.gen, "status", status, "uptime", time.Since(p.started).Round(time.Millisecond)}
	switch {
	case m.stopping || (!wasActive && !wasNext):
		// Shutting down, or an old worker stopped after its replacement was ready.
		if clean {
			m.log.Info("worker exited", attrs...)
		} else {
			m.log.Warn("worker exited", attrs...)
		}
	case p.stopping || (p.ready && p.retiring != ""):
		// It asked to be replaced and left on its own (harakiri).
		m.log.Info("worker exited", append(attrs, "cause", p.retiring)...)
		m.ensure(s)
	case !m.everReady:
		m.log.Error("worker failed to start", attrs...)
		m.fatal("a worker failed to start; see its log above")
	default:
		failed := !p.ready || !p.stable
		if failed {
			s.failures++
		} else {
			s.failures = 0
		}
		if p.ready {
			m.log.Error("worker died", attrs...)
		} else {
			m.log.Error("worker failed to start", append(attrs, "failures", s.failures)...)
		}
		if wasNext && p.cause == CauseReload && m.reload != nil {
			m.log.Error("reload aborted: the new worker failed to start; the old workers keep serving", "worker", p.index, "reason", m.reload.reason)
			m.reload = nil
			return
		}
		if s.active == nil || wasNext {
			m.retryLater(s)
		}
	}
	m.advanceReload()
}

// fatal stops the master with exit code 1.
func (m *Master) fatal(why string) {
	if m.stopping {
		return
	}
	m.log.Error("stopping the master: " + why)
	m.exitCode = 1
	m.beginStop(false, "failure")
}

func (m *Master) beginReload(reason string) {
	if m.stopping {
		return
	}
	m.log.Info("reloading workers one at a time", "reason", reason, "processes", len(m.slots))
	m.reload = &reloadState{since: time.Now(), reason: reason, reread: m.settings != nil}
	m.advanceReload()
}

// advanceReload moves the rolling reload on: it replaces the first worker
// started before the reload, waiting for each replacement to be ready.
// Called after every change of the workers; it does nothing while a
// replacement is starting.
func (m *Master) advanceReload() {
	r := m.reload
	if r == nil || m.stopping {
		return
	}
	for r.pos < len(m.slots) {
		s := m.slots[r.pos]
		switch {
		case s.next != nil:
			return // wait for it; once ready it is looked at again
		case s.active == nil:
			// In a back-off: the operator may have fixed what failed.
			if s.retry != nil {
				s.retry.Stop()
				s.retry = nil
			}
			m.startWorker(s, CauseReload)
			return
		case !s.active.ready:
			return
		case !s.active.started.Before(r.since) && !s.active.staleSettings:
			r.pos++
		default:
			m.startWorker(s, CauseReload)
			if s.next == nil {
				m.log.Error("reload aborted: cannot start a new worker; the old workers keep serving", "worker", s.index, "reason", r.reason)
				m.reload = nil
			}
			return
		}
	}
	m.log.Info("reload complete", "reason", r.reason, "duration", time.Since(r.since).Round(time.Millisecond))
	m.reload = nil
}

// beginStop stops every worker: with SIGTERM, so each finishes its
// requests within the graceful timeout (then SIGKILL), or at once.
func (m *Master) beginStop(immediate bool, why string) {
	first := !m.stopping
	if first {
		m.stopping = true
		m.reload = nil
		for _, s := range m.slots {
			if s.retry != nil {
				s.retry.Stop()
				s.retry = nil
			}
		}
		// New connections are refused from now on (once the workers have
		// closed their copies, which SIGTERM makes them do).
		m.closeListeners()
	}
	if immediate {
		if !m.killed {
			m.killed = true
			m.log.Warn("stopping workers at once", "reason", why, "workers", len(m.live))
		}
		for p := range m.live {
			m.stopProc(p, syscall.SIGKILL)
		}
		return
	}
	if !first {
		return
	}
	if why != "failure" {
		m.log.Info("shutting down gracefully", "reason", why, "graceful_timeout", m.cfg.GracefulTimeout, "workers", len(m.live))
	}
	for p := range m.live {
		if !p.stopping {
			m.stopProc(p, syscall.SIGTERM)
		}
	}
	time.AfterFunc(m.cfg.GracefulTimeout+m.cfg.KillAfter, func() {
		m.post(func() {
			if len(m.live) > 0 {
				m.log.Warn("workers still running after the graceful timeout; killing them", "workers", len(m.live))
				m.beginStop(true, "graceful timeout")
			}
		})
	})
}

// stopProc signals p: SIGTERM to drain and exit, SIGKILL to end it.
func (m *Master) stopProc(p *proc, sig syscall.Signal) {
	if p.exited {
		return
	}
	p.stopping = true
	if err := p.cmd.Process.Signal(sig); err != nil {
		m.log.Warn("cannot signal a worker", "worker", p.index, "pid", p.pid, "signal", signalName(sig), "err", err)
	}
}
