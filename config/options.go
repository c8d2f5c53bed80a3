// Package config holds gowsgi's options: their defaults, and validation.
// Every field's comment states its default; Defaults returns them.
package config

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// UnderscoreHeaders policies for request header names containing '_'.
const (
	UnderscoreDrop   = "drop"   // drop the header (default): X_User must never pose as X-User
	UnderscoreRefuse = "refuse" // answer 400
	UnderscoreAllow  = "allow"  // pass it on as HTTP_X_USER, like a hyphen
)

// Options is everything that decides how gowsgi serves.
type Options struct {
	// Module is the WSGI application as "package.module" or
	// "package.module:callable". One of Module and WSGIFile is required.
	Module string
	// WSGIFile is a Python file holding the application. Default: none.
	WSGIFile string
	// Callable is the application's attribute name; a ":callable" suffix
	// on Module wins. Default "application".
	Callable string
	// Chdir is the directory to change to before the app is imported; the
	// working directory is put first on sys.path. Default: stay.
	Chdir string
	// PythonPath lists directories to put on sys.path after the working
	// directory, in order. Default none.
	PythonPath []string
	// PythonExe is the python whose prefix and site-packages the embedded
	// interpreter uses, and sys.executable. Default: the system python
	// matching the linked libpython (/usr/bin/python3.11 on Debian bookworm).
	PythonExe string

	// HTTP lists the HTTP listen addresses: HOST:PORT (port 0 picks a free
	// port), unix:/path or a path (listeners.go). Default ["127.0.0.1:8000"]
	// when no --socket is given either, else none.
	HTTP []string
	// Threads is the number of Python request threads. Default 1.
	Threads int
	// GoMaxProcs is how many OS threads run Go code at once in a serving
	// process (runtime.GOMAXPROCS); the GOMAXPROCS environment variable
	// wins. 0 picks by Threads (GoMaxProcsFor): Python runs one thread at a
	// time per process, and a second Go thread mostly adds GIL contention
	// (hello-world measured twice as fast with 1), so more cores are used
	// with more processes; but a request blocked in C keeps the only Go P
	// until the runtime takes it back, which caps many-thread I/O-bound
	// apps. Default 0 (1 up to 64 threads, else 2).
	GoMaxProcs int
	// Queue is how many complete requests may wait for a free Python
	// thread; past it new requests get a fast 503. Default 1024.
	Queue int

	// PostBuffering is the request body size held in memory before the app
	// is called; larger bodies are received into an unlinked temporary
	// file first, so slow uploads never hold a Python thread. Default 1 MiB.
	PostBuffering int64
	// LimitPost is the largest request body accepted, in bytes, checked
	// before the body is read (413). 0 means no limit. Default 0.
	LimitPost int64
	// MaxRequestLine is the longest request line (414). Default 8190.
	MaxRequestLine int
	// MaxHeaderCount is the most header fields in a request (431). Default 100.
	MaxHeaderCount int
	// MaxFieldSize is the longest single header line (431). Default 8190.
	MaxFieldSize int
	// MaxHeadBytes is the largest request head (431). Default 65536.
	MaxHeadBytes int
	// UnderscoreHeaders decides what happens to header names with '_':
	// "drop", "refuse" or "allow". Default "drop".
	UnderscoreHeaders string

	// HeaderTimeout is the time allowed to receive a whole request head,
	// counted from its first byte (408 after it). Default 30s.
	HeaderTimeout time.Duration
	// KeepAliveTimeout is how long an idle keep-alive connection is kept.
	// Default 60s.
	KeepAliveTimeout time.Duration
	// BodyTimeout is the longest wait for the next piece of a request body.
	// Default 30s.
	BodyTimeout time.Duration
	// WriteTimeout is the longest wait for a client to accept the next
	// piece of a response. Default 60s.
	WriteTimeout time.Duration
	// GracefulTimeout is how long in-flight requests may run after SIGTERM
	// or SIGINT before the process exits anyway. Default 30s.
	GracefulTimeout time.Duration

	Proxy // trusted proxies and the PROXY protocol (proxy.go)

	Static // the static file map (static.go)

	Listeners // uwsgi sockets, unix sockets, allow-lists (listeners.go)

	Lifecycle // processes, reloads, recycling, harakiri, pid file, privileges (lifecycle.go)

	PythonEnv // --env and the virtualenv (pyenv.go)

	Observe // access log, log destination, stats listener (observe.go)
}

// Defaults returns the options with every default filled in.
func Defaults() Options {
	return Options{
		Callable:          "application",
		Threads:           1,
		GoMaxProcs:        0,
		Queue:             1024,
		PostBuffering:     1 << 20,
		MaxRequestLine:    8190,
		MaxHeaderCount:    100,
		MaxFieldSize:      8190,
		MaxHeadBytes:      65536,
		UnderscoreHeaders: UnderscoreDrop,
		HeaderTimeout:     30 * time.Second,
		KeepAliveTimeout:  60 * time.Second,
		BodyTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		GracefulTimeout:   30 * time.Second,
		Proxy:             proxyDefaults(),
		Static:            staticDefaults(),
		Listeners:         listenersDefaults(),
		Lifecycle:         lifecycleDefaults(),
		Observe:           observeDefaults(),
	}
}

// Normalize splits "module:callable" into Module and Callable.
func (o *Options) Normalize() {
	if mod, callable, ok := strings.Cut(o.Module, ":"); ok {
		o.Module = mod
		if callable != "" {
			o.Callable = callable
		}
	}
	if o.Callable == "" {
		o.Callable = "application"
	}
	o.normalizeListeners()
}

// Validate reports every invalid option at once.
func (o *Options) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	switch {
	case o.Module == "" && o.WSGIFile == "":
		bad("no application: give --module pkg.mod[:callable] or --wsgi-file FILE")
	case o.Module != "" && o.WSGIFile != "":
		bad("--module %q and --wsgi-file %q are exclusive", o.Module, o.WSGIFile)
	}
	if o.Module != "" && !validDotted(o.Module) {
		bad("--module %q is not a dotted Python module name", o.Module)
	}
	if !validIdentifier(o.Callable) {
		bad("--callable %q is not a Python identifier", o.Callable)
	}
	errs = append(errs, o.validateListeners()...)
	if o.Threads < 1 || o.Threads > 4096 {
		bad("--threads %d: want 1 to 4096", o.Threads)
	}
	if o.GoMaxProcs < 0 {
		bad("--go-maxprocs %d: want 0 (automatic) or more", o.GoMaxProcs)
	}
	if o.Queue < 1 {
		bad("--queue %d: want at least 1", o.Queue)
	}
	if o.PostBuffering < 0 {
		bad("--post-buffering %d: want 0 or more bytes", o.PostBuffering)
	}
	if o.LimitPost < 0 {
		bad("--limit-post %d: want 0 (no limit) or more bytes", o.LimitPost)
	}
	for name, v := range map[string]int{"--max-request-line": o.MaxRequestLine, "--max-header-count": o.MaxHeaderCount, "--max-field-size": o.MaxFieldSize, "--max-head-bytes": o.MaxHeadBytes} {
		if v < 1 {
			bad("%s %d: want at least 1", name, v)
		}
	}
	if o.MaxHeadBytes < o.MaxRequestLine+2 {
		bad("--max-head-bytes %d must be larger than --max-request-line %d", o.MaxHeadBytes, o.MaxRequestLine)
	}
	switch o.UnderscoreHeaders {
	case UnderscoreDrop, UnderscoreRefuse, UnderscoreAllow:
	default:
		bad("--underscore-headers %q: want drop, refuse or allow", o.UnderscoreHeaders)
	}
	for name, d := range map[string]time.Duration{"--header-timeout": o.HeaderTimeout, "--keepalive-timeout": o.KeepAliveTimeout, "--body-timeout": o.BodyTimeout, "--write-timeout": o.WriteTimeout} {
		if d <= 0 {
			bad("%s %v: want a positive duration", name, d)
		}
	}
	if o.GracefulTimeout < 0 {
		bad("--graceful-timeout %v: want 0 or more", o.GracefulTimeout)
	}
	errs = append(errs, o.Proxy.validate()...)
	errs = append(errs, o.Static.validate()...)
	errs = append(errs, o.Lifecycle.validate()...)
	errs = append(errs, o.PythonEnv.validate(o.PythonExe)...)
	errs = append(errs, o.Observe.validate()...)
	return errors.Join(errs...)
}

func validIdentifier(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		if r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r > 127 || i > 0 && r >= '0' && r <= '9' {
			continue
		}
		return false
	}
	return true
}

func validDotted(s string) bool {
	for _, part := range strings.Split(s, ".") {
		if !validIdentifier(part) {
			return false
		}
	}
	return true
}

// GoMaxProcsFor is the GOMAXPROCS a serving process uses: GoMaxProcs, or
// when it is 0, one Go P up to 64 Python threads and two above. Each
// request that blocks in Python (time.sleep, a database call) keeps its P
// until sysmon takes it back, 20 µs or more later, and meanwhile no other
// request of the process starts or finishes. With many threads that
// stall dominates: 2 processes x 128 threads of a 10 ms sleeping app at
// 256 connections served 12.3k req/s with 1 P and 16.3k with 2 (median of
// 3, same run), while at 32 threads 1 P was faster for every app measured.
func (o Options) GoMaxProcsFor() int {
	if o.GoMaxProcs > 0 {
		return o.GoMaxProcs
	}
	if o.Threads > 64 {
		return 2
	}
	return 1
}
