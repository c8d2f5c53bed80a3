package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/gowsgi/gowsgi/config"
	"github.com/gowsgi/gowsgi/internal/logging"
	"github.com/gowsgi/gowsgi/internal/master"
	"github.com/gowsgi/gowsgi/internal/metrics"
	"github.com/gowsgi/gowsgi/internal/server"
	"github.com/gowsgi/gowsgi/pyembed"
)

// serve runs gowsgi and returns the exit code. A process started from the
// command line is the master: it binds the sockets and runs the workers
// (internal/master), even a single one, so gowsgi behaves the same at
// every size. A process the master started (link is not nil) is a
// worker: it imports the application itself (uWSGI's lazy-apps) and
// serves the sockets it inherited (serveApp). fromFiles is what the
// configuration files set (config.Report.Settings): the master hands it
// to its workers, and a worker that read the files itself (the first of
// a reload) sends it to the master.
func serve(o config.Options, fromFiles []byte, link *master.Link, linkErr error, stderr io.Writer) int {
	if os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(o.GoMaxProcsFor())
	}
	// A client that goes away must give EPIPE, not kill the process, whatever thread (Go or C) writes.
	signal.Ignore(syscall.SIGPIPE)
	if linkErr != nil {
		fmt.Fprintf(stderr, "gowsgi: this worker cannot use what its master passed: %v\n", linkErr)
		return ExitError
	}
	if link == nil {
		return runMaster(o, fromFiles, stderr)
	}
	if link.Settings == nil && fromFiles != nil {
		if err := link.SendSettings(fromFiles); err != nil {
			fmt.Fprintf(stderr, "gowsgi: worker %d: cannot send the master its configuration: %v\n", link.Index, err)
			return ExitError
		}
	}
	return serveWorker(o, link, stderr)
}

// runMaster binds the listeners, drops privileges and supervises the
// workers until it is told to stop.
func runMaster(o config.Options, settings []byte, stderr io.Writer) int {
	// --log-json, --logto, re-opened on SIGUSR1; no worker index (observe.go).
	lg, err := openMasterLogs(o, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "gowsgi: %v\n", err)
		return ExitError
	}
	defer lg.Close()
	log := lg.Logger

	// The workers start where the master was started, each applying
	// --chdir itself (a relative one must not be applied twice). The
	// master applies it too, so the paths it opens (unix sockets, the pid
	// file, --touch-reload files) are relative to the project, as the
	// workers' are.
	startDir, err := os.Getwd()
	if err != nil {
		log.Error("cannot read the working directory", "err", err)
		return ExitError
	}
	if o.Chdir != "" {
		if err := os.Chdir(o.Chdir); err != nil {
			log.Error("cannot change directory", "chdir", o.Chdir, "err", err)
			return ExitError
		}
	}
	listeners, err := server.Listen(&o, log)
	if err != nil {
		log.Error("cannot listen", "err", err)
		return ExitError
	}
	// On every way out, so unix socket files never outlive the master (--vacuum).
	defer server.CloseListeners(listeners)
	inherited := make([]master.Listener, 0, len(listeners))
	for _, l := range listeners {
		f, err := l.File()
		if err != nil {
			log.Error("cannot pass a listener to the workers", "addr", l.Addr, "err", err)
			return ExitError
		}
		inherited = append(inherited, master.Listener{Proto: string(l.Proto), Addr: l.Addr, File: f})
	}
	m := master.New(master.Config{
		Processes:       o.Processes,
		Listeners:       inherited,
		CloseListeners:  func() { server.CloseListeners(listeners) },
		Dir:             startDir,
		Settings:        settings,
		Stdout:          os.Stdout,
		Stderr:          stderr,
		GracefulTimeout: o.GracefulTimeout,
		StartTimeout:    o.WorkerStartTimeout,
		TouchReload:     o.TouchReload,
		PidFile:         o.PidFile,
		UID:             o.UID,
		GID:             o.GID,
		Signals:         true,
		Log:             log,
	})
	// With --stats, the stats listener runs here, reading m as its
	// metrics.WorkerSource; each worker serves its own numbers on its
	// control socket (observe in serveApp). It outlives the drain, so
	// /readyz answers 503 meanwhile.
	lg.AfterReopen(forwardReopen(m)) // SIGUSR1: the workers re-open their --logto too (observe.go)
	if o.Stats != "" {
		stopStats, err := metrics.ServeStats(o.Stats, m, log)
		if err != nil {
			log.Error("cannot serve stats", "err", err)
			return ExitError
		}
		defer stopStats()
	}
	return m.Run()
}

// serveWorker turns the inherited sockets into listeners and serves them.
func serveWorker(o config.Options, link *master.Link, stderr io.Writer) int {
	// --log-json, --logto (re-opened on SIGUSR1), the application's stdout and stderr as records (observe.go).
	lg, err := openLogs(o, stderr, link.Index)
	if err != nil {
		fmt.Fprintf(stderr, "gowsgi: worker %d: %v\n", link.Index, err)
		return ExitError
	}
	defer lg.Close()
	listeners := make([]*server.Listener, 0, len(link.Listeners))
	for _, in := range link.Listeners {
		l, err := server.Inherit(&o, server.Proto(in.Proto), in.Addr, in.File, lg.Logger)
		if err != nil {
			lg.Logger.Error("cannot use a listener from the master", "addr", in.Addr, "err", err)
			return ExitError
		}
		listeners = append(listeners, l)
	}
	defer server.CloseListeners(listeners)
	return serveApp(o, listeners, link, lg)
}

// exitHarakiri is a worker's exit code after a forced harakiri stop.
const exitHarakiri = 3

// serveApp is the serving path of one process: it imports the
// application, serves listeners until SIGTERM or SIGINT (graceful: no
// new connections, requests in flight finish within --graceful-timeout)
// or SIGQUIT (at once), and returns the exit code. It tells link (the
// master; may be nil) when it is ready and when it should be replaced.
func serveApp(o config.Options, listeners []*server.Listener, link *master.Link, lg *logging.Logs) int {
	log := lg.Logger
	stderr := lg.Direct() // fd 2 is the capture pipe now
	worker := 0
	if link != nil {
		worker = link.Index
	}
	retire := func(cause string) bool { return link != nil && link.Retire(cause) }

	// Stop signals are taken from the start: told to stop while it
	// imports the application (a reload or shutdown meanwhile), the worker
	// leaves at once; it has nothing to drain.
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGQUIT, syscall.SIGHUP)
	defer signal.Stop(sigs)
	importing := make(chan struct{})
	go exitIfStoppedBefore(importing, sigs, log)

	// --env, --chdir, --home and sys.path (pyenv.go).
	paths, err := preparePython(&o)
	if err != nil {
		log.Error("cannot prepare python", "err", err)
		return ExitError
	}

	staticMap, ok := openStaticMap(o, log) // after --chdir: relative paths are the project's (flags_static.go)
	if !ok {
		return ExitError
	}

	program, _ := os.Executable()
	if program == "" {
		program = os.Args[0]
	}
	pyembed.LogFunc = func(thread, level int, msg string) {
		lvl := slog.LevelError
		switch level {
		case pyembed.LogInfo:
			lvl = slog.LevelInfo
		case pyembed.LogWarn:
			lvl = slog.LevelWarn
		}
		// One record per line keeps tracebacks readable and greppable.
		for _, line := range strings.Split(msg, "\n") {
			log.Log(context.Background(), lvl, line, "thread", thread)
		}
	}
	app := pyembed.App{Module: o.Module, Callable: o.Callable, WSGIFile: o.WSGIFile}
	interp, err := pyembed.Start(pyembed.Options{
		Program:      program,
		PythonExe:    o.PythonExe,
		Paths:        paths,
		Threads:      o.Threads,
		Multiprocess: o.Processes > 1,
	}, app)
	if err != nil {
		if errors.Is(err, pyembed.ErrApp) {
			fmt.Fprintf(stderr, "gowsgi: %v\n", err)
		} else {
			log.Error("cannot start python", "err", err)
		}
		return ExitError
	}

	srv := server.New(o, log)
	srv.UseSlots(pyembed.Slots())
	srv.UseStatic(staticMap)
	stopObserving, err := observe(o, srv, lg, app, worker) // observe.go: access log, metrics, --stats
	if err != nil {
		log.Error("cannot serve stats", "err", err)
		return ExitError
	}
	defer stopObserving() // after the drain: /readyz says 503 while it lasts
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := recycle(ctx, o, srv, retire, lg); err != nil {
		log.Error("cannot set up the worker's recycling", "err", err)
		return ExitError
	}
	log.Info("python ready", "version", strings.Fields(pyembed.PythonVersion())[0], "app", app.String(), "threads", o.Threads)
	serveErr := make(chan error, len(listeners))
	for _, l := range listeners {
		l.PaceBy(srv.LongConns) // workers sharing a socket share its long-lived connections evenly (server/inherit.go)
		log.Info("serving", "addr", l.Addr, "proto", string(l.Proto))
		go func(l *server.Listener) { serveErr <- srv.ServeListener(l) }(l)
	}
	close(importing)
	if link != nil {
		if err := link.Ready(); err != nil {
			log.Error("cannot tell the master this worker is ready", "err", err)
			return ExitError
		}
	}

	drained := make(chan bool, 1)
	draining := false
	for {
		select {
		case sig := <-sigs:
			switch {
			case sig == syscall.SIGQUIT:
				log.Warn("stopping at once", "signal", sig.String())
				lg.Close()
				os.Exit(ExitError)
			case sig == syscall.SIGHUP || draining:
				// Reloads are the master's business; a second SIGTERM changes nothing.
			default:
				draining = true
				log.Info("shutting down", "signal", sig.String(), "graceful_timeout", o.GracefulTimeout)
				go func() { drained <- shutdown(srv, interp, o.GracefulTimeout, log) }()
			}
		case err := <-serveErr:
			if draining {
				continue
			}
			log.Error("listener failed", "err", err)
			shutdown(srv, interp, o.GracefulTimeout, log)
			return ExitError
		case ok := <-drained:
			if !ok {
				return ExitError
			}
			log.Info("stopped")
			return ExitOK
		}
	}
}

// exitIfStoppedBefore ends the process if a stop signal arrives before
// done is closed (while the application is imported).
func exitIfStoppedBefore(done <-chan struct{}, sigs chan os.Signal, log *slog.Logger) {
	for {
		select {
		case <-done:
			return
		case sig := <-sigs:
			if sig == syscall.SIGHUP {
				continue
			}
			log.Info("stopped while starting", "signal", sig.String())
			os.Exit(ExitOK)
		}
	}
}

// recycle starts the worker's lifecycle checks: --max-requests and
// --reload-on-rss ask the master for a replacement through retire, and
// --harakiri stops requests that run too long (internal/master).
func recycle(ctx context.Context, o config.Options, srv *server.Server, retire func(cause string) bool, lg *logging.Logs) error {
	log := lg.Logger
	limit := master.RequestLimit(o.MaxRequests, o.MaxRequestsJitter)
	if limit > 0 || o.Harakiri > 0 {
		srv.TrackRequests(limit, func() {
			if retire(master.CauseMaxRequests) {
				log.Info("served its --max-requests; asking the master for a replacement", "requests", limit)
			}
		})
	}
	if o.ReloadOnRSS > 0 {
		limitBytes := uint64(o.ReloadOnRSS) << 20
		go master.WatchRSS(ctx, limitBytes, time.Second, master.ResidentBytes, func(rss uint64) {
			if retire(master.CauseRSS) {
				log.Warn("resident memory above --reload-on-rss; asking the master for a replacement", "rss_mib", rss>>20, "reload_on_rss", o.ReloadOnRSS)
			}
		})
	}
	if o.Harakiri > 0 {
		py, err := pyembed.SetupHarakiri()
		if err != nil {
			return err
		}
		w := &master.Watchdog{
			Timeout:  o.Harakiri,
			Requests: srv,
			Python:   py,
			Log:      log,
			Retire:   func(cause string) { retire(cause) },
			Exit: func() {
				lg.Close()
				os.Exit(exitHarakiri)
			},
		}
		go w.Run(ctx)
	}
	return nil
}

// shutdown drains the server and finalizes Python; false if requests were cut off.
func shutdown(srv *server.Server, interp *pyembed.Interpreter, grace time.Duration, log *slog.Logger) bool {
	ctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		log.Warn("graceful timeout reached with requests in flight; exiting", "graceful_timeout", grace)
		return false
	}
	done := make(chan struct{})
	go func() {
		interp.Finalize()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		log.Warn("python finalization did not finish in 5s (a non-daemon thread?); exiting")
	}
	return true
}

func goVersion() string { return "go " + strings.TrimPrefix(runtime.Version(), "go") }

func pythonVersion() string { return strings.Fields(pyembed.PythonVersion())[0] }
