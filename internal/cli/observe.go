package cli

import (
	"fmt"
	"io"
	"os"
	"os/user"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gowsgi/gowsgi/config"
	"github.com/gowsgi/gowsgi/internal/accesslog"
	"github.com/gowsgi/gowsgi/internal/logging"
	"github.com/gowsgi/gowsgi/internal/master"
	"github.com/gowsgi/gowsgi/internal/metrics"
	"github.com/gowsgi/gowsgi/internal/server"
	"github.com/gowsgi/gowsgi/pyembed"
)

// envControlSocket is where a worker serves its control API, as its
// master says (internal/master).
const envControlSocket = "GOWSGI_CONTROL_SOCKET"

// openLogs opens the logs of a process that runs Python (a worker, or a
// process serving on its own): records carry its worker index, and what
// the application writes to stdout and stderr becomes records.
func openLogs(o config.Options, stderr io.Writer, worker int) (*logging.Logs, error) {
	lg, err := logging.Open(logging.Config{JSON: o.LogJSON, LogTo: o.LogTo, Stderr: stderr, Capture: true, Worker: worker})
	if err != nil {
		return nil, err
	}
	lg.WatchSignals()
	return lg, nil
}

// openMasterLogs opens the logs of a master: the same destination and
// format, no worker index, and no capture (the workers' output is theirs
// to mark).
func openMasterLogs(o config.Options, stderr io.Writer) (*logging.Logs, error) {
	lg, err := logging.Open(logging.Config{JSON: o.LogJSON, LogTo: o.LogTo, Stderr: stderr, Worker: -1})
	if err != nil {
		return nil, err
	}
	if o.LogTo != "" && o.UID != "" && os.Geteuid() == 0 {
		// The workers run as --uid and open the file themselves.
		if err := chownLogTo(o.LogTo, o.UID, o.GID); err != nil {
			lg.Close()
			return nil, err
		}
	}
	lg.WatchSignals()
	return lg, nil
}

// chownLogTo gives the --logto file to the --uid user (and --gid group, or
// the user's own), names or numbers.
func chownLogTo(path, uidSpec, gidSpec string) error {
	uid, gid := -1, -1
	if n, err := strconv.Atoi(uidSpec); err == nil {
		uid = n
		if u, err := user.LookupId(uidSpec); err == nil {
			gid, _ = strconv.Atoi(u.Gid)
		}
	} else if u, err := user.Lookup(uidSpec); err == nil {
		uid, _ = strconv.Atoi(u.Uid)
		gid, _ = strconv.Atoi(u.Gid)
	} else {
		return fmt.Errorf("--logto %s: --uid %q: %v", path, uidSpec, err)
	}
	if gidSpec != "" {
		if n, err := strconv.Atoi(gidSpec); err == nil {
			gid = n
		} else if g, err := user.LookupGroup(gidSpec); err == nil {
			gid, _ = strconv.Atoi(g.Gid)
		} else {
			return fmt.Errorf("--logto %s: --gid %q: %v", path, gidSpec, err)
		}
	}
	if err := os.Chown(path, uid, gid); err != nil {
		return fmt.Errorf("--logto: giving %s to --uid %s: %w", path, uidSpec, err)
	}
	return nil
}

// forwardReopen passes SIGUSR1 on to the ready workers of m after the
// master re-opened its own log file, so that theirs follow (logrotate
// signals only the master). Workers still starting have not yet
// installed their handler, and SIGUSR1 would kill them; they opened the
// file after the rotation anyway, or reopen on the next one.
func forwardReopen(m *master.Master) func() {
	return func() {
		for _, w := range m.Workers() {
			if w.Ready && w.PID > 0 {
				syscall.Kill(w.PID, syscall.SIGUSR1)
			}
		}
	}
}

// observe connects srv to the access log and, when anyone can read them,
// to the metrics: a worker serves its control socket (the master's stats
// listener reads it), a process on its own serves --stats itself. stop
// ends both; call it after the server has drained, so /readyz answers 503
// meanwhile.
func observe(o config.Options, srv *server.Server, lg *logging.Logs, app pyembed.App, worker int) (stop func(), err error) {
	var access *accesslog.Logger
	if !o.DisableLogging {
		access = accesslog.New(o.AccessFormat(), o.LogJSON, lg.Sink, worker)
	}
	if o.Stats == "" {
		srv.Observe(nil, access) // no one reads metrics: not a cycle is spent on them
		return func() {}, nil
	}
	control := os.Getenv(envControlSocket)
	rec := metrics.NewRecorder(o.Threads)
	srv.Observe(rec, access)
	w := &metrics.Worker{
		Rec:       rec,
		Index:     worker,
		StartedAt: time.Now(),
		Version:   Version,
		Python:    strings.Fields(pyembed.PythonVersion())[0],
		App:       app.String(),
		Ready:     func() bool { return !srv.Draining() },
		Draining:  srv.Draining,
		Queue:     srv.QueueDepth,
		Admission: srv.AdmissionLimit,
		GC:        pyembed.GCCollections,
	}
	var stops []func()
	stopAll := func() {
		for i := len(stops) - 1; i >= 0; i-- {
			stops[i]()
		}
		w.Close()
	}
	if control != "" {
		s, err := metrics.ServeControl(control, w, lg.Logger)
		if err != nil {
			return nil, err
		}
		stops = append(stops, s)
	} else {
		s, err := metrics.ServeLocal(o.Stats, w, lg.Logger)
		if err != nil {
			return nil, err
		}
		stops = append(stops, s)
	}
	return stopAll, nil
}
