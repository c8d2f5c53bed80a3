package pyembed

/*
#include <stdlib.h>
#include "bridge.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"unsafe"
)

// Write flags and results shared with C (bridge.h).
const (
	WriteFinal = int(C.GW_WRITE_FINAL) // no more body follows
	WriteAbort = int(C.GW_WRITE_ABORT) // the response is broken: close the connection

	OK   = int(C.GW_OK)   // go on
	Wait = int(C.GW_WAIT) // too much output is buffered: Exchange.Wait will be called
	Gone = int(C.GW_GONE) // the client is gone

	LogInfo  = int(C.GW_LOG_INFO)
	LogWarn  = int(C.GW_LOG_WARN)
	LogError = int(C.GW_LOG_ERROR)
)

// Exchange is the server's side of one request, as the Python thread sees it.
type Exchange interface {
	// Write takes the response head (the first time only, else nil: the
	// status line and the application's headers, CRLF-terminated) and body
	// pieces, which are valid only during the call. It runs with the GIL
	// held, so it must not block. It returns OK, Wait or Gone.
	Write(head []byte, body [][]byte, flags int) int
	// Wait blocks, with the GIL released, until buffered output drained. It returns OK or Gone.
	Wait() int
	// ReadBody reads the streamed request body, with the GIL released. It returns 0, io.EOF at the end.
	ReadBody(p []byte) (int, error)
}

// Options configure the interpreter.
type Options struct {
	Program      string   // sys.argv[0]
	PythonExe    string   // sys.executable; also decides the prefix and site-packages (a virtualenv's python works)
	Paths        []string // put first on sys.path, in order
	Threads      int      // request slots: how many requests may run Python at once
	Multiprocess bool     // wsgi.multiprocess
}

// App names the WSGI callable.
type App struct {
	Module   string // "pkg.mod"; ignored when WSGIFile is set
	Callable string // attribute name
	WSGIFile string // a Python file to load instead of a module
}

// LogFunc receives Python's log lines (wsgi.errors, tracebacks). It must be set before Start.
var LogFunc = func(thread, level int, msg string) { fmt.Fprintln(os.Stderr, msg) }

// Interpreter is the process's single embedded CPython.
type Interpreter struct {
	finalize chan chan struct{}
}

// slots is indexed by request slot; written once by Start, then read by
// the callbacks.
var slots []*Slot

// ErrApp is wrapped by errors from loading the application.
var ErrApp = errors.New("cannot load the wsgi application")

// Start initializes the interpreter and imports the application on an OS
// thread kept for the life of the process (the interpreter's main thread).
func Start(o Options, app App) (*Interpreter, error) {
	if o.Threads < 1 {
		return nil, fmt.Errorf("threads must be at least 1, got %d", o.Threads)
	}
	slots = make([]*Slot, o.Threads)
	for i := range slots {
		slots[i] = &Slot{idx: i, out: make([]byte, stageSize)}
	}
	in := &Interpreter{finalize: make(chan chan struct{})}
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: Python's main thread state lives here
		if err := initPython(o); err != nil {
			errc <- err
			return
		}
		errc <- loadApp(app)
		done := <-in.finalize
		C.gw_finalize()
		close(done)
	}()
	if err := <-errc; err != nil {
		return nil, err
	}
	return in, nil
}

// Finalize runs Python's atexit handlers and shuts the interpreter down.
// No request may be running or start afterwards.
func (in *Interpreter) Finalize() {
	stopGCStats() // gcstats.go: no GIL-taking reads from other threads from here on
	done := make(chan struct{})
	in.finalize <- done
	<-done
}

func initPython(o Options) error {
	exe := o.PythonExe
	if exe == "" {
		exe = DefaultPythonExe()
	}
	cstrs := []*C.char{}
	cstr := func(s string) *C.char {
		p := C.CString(s)
		cstrs = append(cstrs, p)
		return p
	}
	defer func() {
		for _, p := range cstrs {
			C.free(unsafe.Pointer(p))
		}
	}()
	paths := C.malloc(C.size_t(len(o.Paths)+1) * C.size_t(unsafe.Sizeof(uintptr(0))))
	defer C.free(paths)
	pathv := unsafe.Slice((**C.char)(paths), len(o.Paths)+1)
	for i, p := range o.Paths {
		pathv[i] = cstr(p)
	}
	multi := 0
	if o.Multiprocess {
		multi = 1
	}
	opts := C.gw_init_options{
		program:      cstr(o.Program),
		python_exe:   cstr(exe),
		paths:        (**C.char)(paths),
		npaths:       C.int(len(o.Paths)),
		threads:      C.int(o.Threads),
		multiprocess: C.int(multi),
	}
	var cerr *C.char
	if C.gw_init(&opts, &cerr) != 0 {
		return errors.New(takeCString(cerr))
	}
	return nil
}

func loadApp(a App) error {
	m, c, f := C.CString(a.Module), C.CString(a.Callable), C.CString(a.WSGIFile)
	defer C.free(unsafe.Pointer(m))
	defer C.free(unsafe.Pointer(c))
	defer C.free(unsafe.Pointer(f))
	var cerr *C.char
	if C.gw_load_app(m, c, f, &cerr) != 0 {
		return fmt.Errorf("%w %s: %s", ErrApp, a, takeCString(cerr))
	}
	return nil
}

func (a App) String() string {
	if a.WSGIFile != "" {
		return fmt.Sprintf("%q (wsgi-file) callable %q", a.WSGIFile, a.Callable)
	}
	return fmt.Sprintf("%s:%s", a.Module, a.Callable)
}

func takeCString(p *C.char) string {
	if p == nil {
		return "unknown error"
	}
	s := C.GoString(p)
	C.free(unsafe.Pointer(p))
	return s
}

// PythonVersion is the embedded interpreter's sys.version.
func PythonVersion() string { return C.GoString(C.gw_python_version()) }

// DefaultPythonExe finds the python executable that matches the linked
// libpython, so the interpreter computes the same prefix and
// site-packages as that python (Debian's /usr/bin/python3.11), whatever
// "python3" on PATH is.
func DefaultPythonExe() string {
	v := PythonVersion()
	parts := strings.SplitN(strings.Fields(v)[0], ".", 3)
	if len(parts) < 2 {
		return "python3"
	}
	name := "python" + parts[0] + "." + parts[1]
	for _, dir := range []string{"/usr/bin", "/usr/local/bin"} {
		p := filepath.Join(dir, name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	return name
}

// Slot is one of the Options.Threads request slots: at most that many
// requests run Python at once. A request runs on the OS thread of the
// goroutine that calls Run; each such OS thread gets one persistent Python
// thread state the first time, so no request is handed between threads.
type Slot struct {
	idx  int
	ex   Exchange
	iovs [][]byte // reused by go_write

	// C stages the end of a response in out (see gw_run in bridge.h) and
	// describes it in res; Run hands it to the Exchange after C returns.
	out []byte
	res C.gw_result

	writeCallbacks int // go_write calls, so tests can tell staged writes from callbacks
}

// stageSize is each slot's staging buffer: a response of up to about this
// size crosses from C to Go without a callback.
const stageSize = 32 << 10

// unstage performs the write gw_run staged, as go_write would have, but
// with the GIL released.
func (s *Slot) unstage(ex Exchange) {
	hl, bl := int(s.res.head_len), int(s.res.body_len)
	var head []byte
	if hl > 0 {
		head = s.out[:hl]
	}
	s.iovs = append(s.iovs[:0], s.out[hl:hl+bl])
	ex.Write(head, s.iovs, int(s.res.flags))
	clear(s.iovs)
}

// Slots returns the request slots, indexes 0..Options.Threads-1. A slot
// must be used by one goroutine at a time.
func Slots() []*Slot {
	out := make([]*Slot, len(slots))
	copy(out, slots)
	return out
}

// Index is the slot's index.
func (s *Slot) Index() int { return s.idx }

// ThreadsStarted is how many OS threads have run requests (each has a Python thread state).
func ThreadsStarted() int { return int(C.gw_threads_started()) }

// ErrNoThreadState means Python could not create a thread state (out of memory).
var ErrNoThreadState = errors.New("cannot create a python thread state")

// Run serves one request on the calling goroutine's OS thread. env is the
// packed environ; body is the request body when it is held in memory, or
// nil with stream set when ReadBody supplies it. It returns the number of
// Python errors logged.
func (s *Slot) Run(ex Exchange, env []byte, body []byte, stream, https bool) (int, error) {
	flags := 0
	if stream {
		flags |= int(C.GW_RUN_BODY_STREAM)
	}
	if https {
		flags |= int(C.GW_RUN_HTTPS)
	}
	s.ex = ex
	var envp, bodyp *C.char
	if len(env) > 0 {
		envp = (*C.char)(unsafe.Pointer(&env[0]))
	}
	if len(body) > 0 {
		bodyp = (*C.char)(unsafe.Pointer(&body[0]))
	}
	n := C.gw_run(C.int(s.idx), envp, C.size_t(len(env)), bodyp, C.size_t(len(body)), C.int(flags),
		(*C.char)(unsafe.Pointer(&s.out[0])), C.size_t(len(s.out)), &s.res)
	if n >= 0 && (s.res.flags != 0 || s.res.head_len+s.res.body_len > 0) {
		s.unstage(ex)
	}
	s.ex = nil
	if n < 0 {
		return 0, ErrNoThreadState
	}
	return int(n), nil
}
