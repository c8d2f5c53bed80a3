package master

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// How the master and a worker talk. The master starts a worker by running
// its own binary with the same arguments and these environment variables;
// the listening sockets and a pipe back to the master are inherited file
// descriptors. The worker writes one line per message to the pipe.
const (
	// EnvWorker holds the worker's index; it is what makes a process a worker.
	EnvWorker = "GOWSGI_WORKER"
	// EnvGeneration holds how many processes the master has started for this index, this one included.
	EnvGeneration = "GOWSGI_WORKER_GENERATION"
	// EnvListenFDs lists the inherited listeners: "fd:proto:addr" joined by
	// ";", the address query-escaped.
	EnvListenFDs = "GOWSGI_LISTEN_FDS"
	// EnvMasterFD is the descriptor of the pipe to the master.
	EnvMasterFD = "GOWSGI_MASTER_PIPE"
	// EnvControlSocket is the path of the unix socket the worker serves its
	// control API on (internal/metrics), in a directory the master owns.
	EnvControlSocket = "GOWSGI_CONTROL_SOCKET"
	// EnvSettings holds the options the master read from its configuration
	// files (config.Report.Settings), which the worker reads instead of the
	// files. A worker started without it reads the files and sends back
	// msgSettings: the first new worker of a reload does, so a reload takes
	// the files as they are then, and everything started after it gets
	// what that worker read; a crashed worker comes back with its
	// siblings' options even if the files were edited meanwhile.
	EnvSettings = "GOWSGI_SETTINGS"
)

// maxSettings is the largest settings passed in EnvSettings: Linux refuses
// to execute a program with one environment string over 128 KiB (E2BIG).
const maxSettings = 96 << 10

// Messages from a worker.
const (
	// msgReady: the application is imported and the worker accepts requests.
	msgReady = "ready"
	// msgRetire, followed by a space and a cause: the worker should be
	// replaced; it keeps serving until its replacement is ready and the
	// master sends SIGTERM.
	msgRetire = "retire"
	// msgSettings, followed by a space and the base64 of the settings: the
	// options a worker started without EnvSettings read from the files.
	msgSettings = "settings"
)

// Restart causes, as the master counts them (Restarts).
const (
	CauseCrash       = "crash"        // the worker died or failed to start
	CauseMaxRequests = "max-requests" // it served --max-requests
	CauseRSS         = "rss"          // it grew past --reload-on-rss
	CauseHarakiri    = "harakiri"     // a request ran past --harakiri
	CauseReload      = "reload"       // SIGHUP or --touch-reload
)

// retireCauses are the causes a worker may give for retiring.
var retireCauses = map[string]bool{CauseMaxRequests: true, CauseRSS: true, CauseHarakiri: true}

// inheritedSpec is one inherited listener as EnvListenFDs describes it.
type inheritedSpec struct {
	fd    int
	proto string
	addr  string
}

func formatListenFDs(specs []inheritedSpec) string {
	parts := make([]string, len(specs))
	for i, s := range specs {
		parts[i] = strconv.Itoa(s.fd) + ":" + s.proto + ":" + url.QueryEscape(s.addr)
	}
	return strings.Join(parts, ";")
}

func parseListenFDs(v string) ([]inheritedSpec, error) {
	if v == "" {
		return nil, nil
	}
	var specs []inheritedSpec
	for _, part := range strings.Split(v, ";") {
		fdText, rest, ok1 := strings.Cut(part, ":")
		proto, addrText, ok2 := strings.Cut(rest, ":")
		fd, err := strconv.Atoi(fdText)
		if !ok1 || !ok2 || err != nil || fd < 3 || proto == "" {
			return nil, fmt.Errorf("%s: malformed entry %q", EnvListenFDs, part)
		}
		addr, err := url.QueryUnescape(addrText)
		if err != nil {
			return nil, fmt.Errorf("%s: malformed address in %q: %v", EnvListenFDs, part, err)
		}
		specs = append(specs, inheritedSpec{fd: fd, proto: proto, addr: addr})
	}
	return specs, nil
}
