package master

import (
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"syscall"
)

// Link is a worker's side of its relationship with the master: the
// listeners it inherited and the pipe it reports on.
type Link struct {
	Index         int    // the worker's index, 0..processes-1
	Generation    int    // how many processes the master started for this index, this one included
	ControlSocket string // where to serve the control API (internal/metrics)
	Listeners     []Inherited
	// Settings is what to read instead of the configuration files
	// (EnvSettings); nil: read the files, then SendSettings.
	Settings []byte

	mu      sync.Mutex
	pipe    *os.File
	ready   bool
	retired string // the cause given to Retire, once
}

// Inherited is a listening socket received from the master.
type Inherited struct {
	Proto string   // "http" or "uwsgi"
	Addr  string   // as the master logged it
	File  *os.File // the socket; server.Inherit takes it over
}

// Attach returns this process's link to its master, or nil if the
// process is not a worker (EnvWorker is unset). It removes the master's
// variables from the environment, except EnvControlSocket, so that
// neither the application nor its subprocesses see them, and makes the
// inherited descriptors close-on-exec.
func Attach() (*Link, error) {
	idxText, ok := os.LookupEnv(EnvWorker)
	if !ok {
		return nil, nil
	}
	genText := os.Getenv(EnvGeneration)
	fdsText := os.Getenv(EnvListenFDs)
	pipeText := os.Getenv(EnvMasterFD)
	settings, hasSettings := os.LookupEnv(EnvSettings)
	for _, k := range []string{EnvWorker, EnvGeneration, EnvListenFDs, EnvMasterFD, EnvSettings} {
		os.Unsetenv(k)
	}
	l := &Link{ControlSocket: os.Getenv(EnvControlSocket)}
	if hasSettings {
		l.Settings = []byte(settings)
	}
	var err error
	if l.Index, err = strconv.Atoi(idxText); err != nil || l.Index < 0 {
		return nil, fmt.Errorf("%s=%q is not a worker index", EnvWorker, idxText)
	}
	if l.Generation, err = strconv.Atoi(genText); err != nil {
		return nil, fmt.Errorf("%s=%q is not a number", EnvGeneration, genText)
	}
	pipeFD, err := strconv.Atoi(pipeText)
	if err != nil || pipeFD < 3 {
		return nil, fmt.Errorf("%s=%q is not a file descriptor", EnvMasterFD, pipeText)
	}
	specs, err := parseListenFDs(fdsText)
	if err != nil {
		return nil, err
	}
	if len(specs) == 0 {
		return nil, errors.New("the master passed no listening socket")
	}
	for _, s := range specs {
		syscall.CloseOnExec(s.fd)
		l.Listeners = append(l.Listeners, Inherited{Proto: s.proto, Addr: s.addr, File: os.NewFile(uintptr(s.fd), "listener "+s.addr)})
	}
	syscall.CloseOnExec(pipeFD)
	l.pipe = os.NewFile(uintptr(pipeFD), "master pipe")
	return l, nil
}

// Ready tells the master that the application is imported and the
// listeners are served. The master logs "listening" on the first ready
// worker, and replaces an old worker with this one.
func (l *Link) Ready() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ready {
		return nil
	}
	l.ready = true
	return l.send(msgReady)
}

// Retire asks the master to replace this worker for cause (CauseMaxRequests,
// CauseRSS or CauseHarakiri). The worker keeps serving until its
// replacement is ready and the master sends SIGTERM. Only the first call
// sends anything; it reports whether this call did.
func (l *Link) Retire(cause string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.retired != "" {
		return false
	}
	l.retired = cause
	l.send(msgRetire + " " + cause) // a master that is gone has killed us already (Pdeathsig)
	return true
}

// Retiring returns the cause given to Retire, or "".
func (l *Link) Retiring() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.retired
}

// SendSettings tells the master what this worker, started without
// Settings, read from the configuration files (config.Report.Settings).
func (l *Link) SendSettings(settings []byte) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.send(msgSettings + " " + base64.StdEncoding.EncodeToString(settings))
}

func (l *Link) send(msg string) error {
	if l.pipe == nil {
		return errors.New("no pipe to the master")
	}
	_, err := l.pipe.WriteString(msg + "\n")
	return err
}
