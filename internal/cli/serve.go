package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/gowsgi/gowsgi/config"
	"github.com/gowsgi/gowsgi/internal/server"
	"github.com/gowsgi/gowsgi/pyembed"
)

// serve runs the server until SIGINT or SIGTERM and returns the exit code.
func serve(o config.Options, stderr io.Writer) int {
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	if os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(o.GoMaxProcs)
	}
	// A client that goes away must give EPIPE, not kill the process, whatever thread (Go or C) writes.
	signal.Ignore(syscall.SIGPIPE)

	if o.Chdir != "" {
		if err := os.Chdir(o.Chdir); err != nil {
			log.Error("cannot change directory", "chdir", o.Chdir, "err", err)
			return ExitError
		}
	}
	cwd, err := os.Getwd()
	if err != nil {
		log.Error("cannot read the working directory", "err", err)
		return ExitError
	}
	// The working directory comes first on sys.path, as with gunicorn and
	// uWSGI, so "--module myproj.wsgi" works from the project root.
	paths := []string{cwd}
	for _, p := range o.PythonPath {
		abs, err := filepath.Abs(p)
		if err != nil {
			abs = p
		}
		paths = append(paths, abs)
	}

	listeners := make([]net.Listener, 0, len(o.HTTP))
	for _, addr := range o.HTTP {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			log.Error("cannot listen", "addr", addr, "err", err)
			return ExitError
		}
		listeners = append(listeners, ln)
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
		Program:   program,
		PythonExe: o.PythonExe,
		Paths:     paths,
		Threads:   o.Threads,
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
	log.Info("python ready", "version", strings.Fields(pyembed.PythonVersion())[0], "app", app.String(), "threads", o.Threads, "pid", os.Getpid())
	serveErr := make(chan error, len(listeners))
	for _, ln := range listeners {
		log.Info("listening", "addr", ln.Addr().String(), "proto", "http")
		go func(ln net.Listener) { serveErr <- srv.Serve(ln) }(ln)
	}

	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	select {
	case sig := <-sigs:
		log.Info("shutting down", "signal", sig.String(), "graceful_timeout", o.GracefulTimeout)
	case err := <-serveErr:
		log.Error("listener failed", "err", err)
		shutdown(srv, interp, o.GracefulTimeout, log)
		return ExitError
	}
	if !shutdown(srv, interp, o.GracefulTimeout, log) {
		return ExitError
	}
	log.Info("stopped")
	return ExitOK
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
