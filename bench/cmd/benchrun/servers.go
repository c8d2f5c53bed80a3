package main

import (
	"fmt"
	"os"
	"os/exec"
	"path"
	"slices"
	"strconv"
	"syscall"
)

// Server is one contender.
type Server struct {
	Name  string `json:"name"`
	Label string `json:"label"`
	// Python servers run the WSGI apps; the bare ones are ceilings.
	Python bool `json:"python"`
	// Base is the server a variant runs with Args added to its command
	// line (uwsgi-nodelay is uwsgi with --tcp-nodelay); "" for a server of
	// its own.
	Base string   `json:"base,omitempty"`
	Args []string `json:"args,omitempty"`
	// Extra servers run only in the scenarios that name them
	// (Scenario.Servers).
	Extra bool `json:"-"`
}

var servers = []Server{
	{Name: "gowsgi", Label: "gowsgi", Python: true},
	{Name: "gowsgi-stats", Label: "gowsgi --stats", Python: true, Base: "gowsgi",
		Args: []string{"--stats", "127.0.0.1:0"}, Extra: true},
	{Name: "uwsgi", Label: "uWSGI", Python: true},
	// Without TCP_NODELAY a uWSGI response written in two pieces (head,
	// then a sendfile body) waits for the client's delayed ACK: about
	// 40 ms per response on Linux.
	{Name: "uwsgi-nodelay", Label: "uWSGI --tcp-nodelay", Python: true, Base: "uwsgi",
		Args: []string{"--tcp-nodelay"}, Extra: true},
	{Name: "gunicorn", Label: "gunicorn", Python: true},
	{Name: "waitress", Label: "waitress", Python: true},
	{Name: "nethttp", Label: "bare net/http", Python: false},
	{Name: "fasthttp", Label: "bare fasthttp", Python: false},
	{Name: "nginx", Label: "nginx", Python: false, Extra: true},
}

// base is the server whose command line s uses.
func (s Server) base() string {
	if s.Base != "" {
		return s.Base
	}
	return s.Name
}

// bare reports whether s is one of the no-Python ceilings built from bare/.
func (s Server) bare() bool { return s.Name == "nethttp" || s.Name == "fasthttp" }

// withVariants adds to picked, in the canonical order, the variants of the
// servers it names: asking for uwsgi also runs uwsgi-nodelay where a
// scenario has it.
func withVariants(picked []Server) []Server {
	var out []Server
	for _, s := range servers {
		if slices.ContainsFunc(picked, func(p Server) bool { return p.Name == s.Name || p.Name == s.Base }) {
			out = append(out, s)
		}
	}
	return out
}

func serverByName(name string) Server {
	for _, s := range servers {
		if s.Name == name {
			return s
		}
	}
	return Server{Name: name, Label: name}
}

// launch is how to start one server for one scenario.
type launch struct {
	argv []string
	dir  string
	// env is added to the servers' environment.
	env []string
	// stop is the signal that asks the server to stop (SIGTERM unless the
	// server wants another).
	stop syscall.Signal
	// note is shown next to the result ("1 process", ...).
	note string
}

// command builds the command line for server s running scenario sc on port.
// It returns an error with a status (errMissing, errNotBuilt) when the server
// cannot be run at all.
func (b *bench) command(s Server, sc Scenario, port int, runIdx int) (launch, error) {
	addr := "127.0.0.1:" + strconv.Itoa(port)
	procs, threads := strconv.Itoa(sc.Procs), strconv.Itoa(sc.Threads)
	module := sc.App + ":application"
	l := launch{stop: syscall.SIGTERM}
	var static []string // --static-map MOUNT=DIR for the servers that have it
	if sc.StaticBytes > 0 {
		dir, err := b.staticDir(sc)
		if err != nil {
			return l, err
		}
		static = []string{"--static-map", path.Dir(sc.Path) + "=" + dir}
	}
	if sc.FileBytes > 0 {
		file, err := b.bigFile(sc.FileBytes)
		if err != nil {
			return l, err
		}
		l.env = append(l.env, fileWrapperEnv+"="+file)
	}
	switch s.base() {
	case "gowsgi":
		if _, err := os.Stat(b.cfg.gowsgi); err != nil {
			return l, statusError{statusNotBuilt, fmt.Sprintf("no binary at %s", b.cfg.gowsgi)}
		}
		// --disable-logging as for every uWSGI row: both servers write an
		// access line per request by default, and the comparison is of serving.
		l.argv = []string{b.cfg.gowsgi, "--module", module, "--chdir", b.appsDir, "--http", addr, "--disable-logging"}
		l.argv = append(l.argv, "--processes", procs, "--threads", threads)
		l.argv = append(l.argv, static...)
		l.argv = append(l.argv, sc.GowsgiArgs...)
	case "uwsgi":
		if _, err := exec.LookPath(b.cfg.uwsgi); err != nil {
			return l, statusError{statusMissing, err.Error()}
		}
		// --die-on-term: a uWSGI 2.0 master takes SIGTERM as "reload";
		// --need-app: exit instead of answering 500 when the app fails to load.
		l.argv = []string{b.cfg.uwsgi, "--plugin", "python3", "--http11-socket", addr, "--master",
			"--processes", procs, "--threads", threads, "--chdir", b.appsDir,
			"--module", module, "--disable-logging", "--die-on-term", "--need-app"}
		l.argv = append(l.argv, static...)
	case "gunicorn":
		args := []string{"-k", "gthread", "-w", procs, "--threads", threads,
			"--chdir", b.appsDir, "-b", addr, module}
		if _, err := exec.LookPath(b.cfg.gunicorn); err == nil {
			l.argv = append([]string{b.cfg.gunicorn}, args...)
		} else if b.pythonHas("gunicorn") {
			l.argv = append([]string{b.cfg.python, "-m", "gunicorn"}, args...)
		} else {
			return l, statusError{statusMissing, "gunicorn not installed (apt-get install gunicorn)"}
		}
	case "waitress":
		if !b.pythonHas("waitress") {
			return l, statusError{statusMissing, "waitress not installed (apt-get install python3-waitress)"}
		}
		// waitress has one process: it gets processes × threads threads.
		l.argv = []string{b.cfg.python, "-m", "waitress", "--threads", strconv.Itoa(sc.Procs * sc.Threads),
			"--listen", addr, module}
		l.dir = b.appsDir
		if sc.Procs > 1 {
			l.note = fmt.Sprintf("1 process × %d threads (waitress has no workers)", sc.Procs*sc.Threads)
		}
	case "nethttp", "fasthttp":
		bin, ok := b.bare[s.Name]
		if !ok {
			return l, statusError{statusFailed, "bare server was not built: " + b.bareErr[s.Name]}
		}
		l.argv = []string{bin, "-addr", addr, "-mode", sc.Mode}
		l.note = "no Python; GOMAXPROCS = cores"
		if sc.Pinned {
			l.note = "no Python; GOMAXPROCS = 1"
		}
	case "nginx":
		var err error
		if l, err = b.nginxLaunch(sc, port, runIdx); err != nil {
			return l, err
		}
	default:
		return l, fmt.Errorf("unknown server %q", s.Name)
	}
	l.argv = append(l.argv, s.Args...)
	if sc.Pinned {
		l.argv = append([]string{"taskset", "-c", "1"}, l.argv...)
	}
	return l, nil
}

// pythonHas reports whether the Debian Python can import module (cached).
func (b *bench) pythonHas(module string) bool {
	if v, ok := b.pyModules[module]; ok {
		return v
	}
	err := exec.Command(b.cfg.python, "-c", "import "+module).Run()
	b.pyModules[module] = err == nil
	return err == nil
}
