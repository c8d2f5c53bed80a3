package main

import (
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"syscall"
)

// nginxWorkers is nginx's worker_processes: the same two processes the
// Python servers get.
const nginxWorkers = 2

// nginxRoute is what one nginx run serves: a location block's argument
// ("/static/", or "= /file" for exactly one path) and the alias it maps to.
type nginxRoute struct {
	location, alias string
}

// staticRoute maps mount/ onto dir/ (the static file scenarios).
func staticRoute(mount, dir string) nginxRoute {
	return nginxRoute{strings.TrimSuffix(mount, "/") + "/", strings.TrimSuffix(dir, "/") + "/"}
}

// fileRoute maps exactly urlPath onto file (the file_wrapper scenario: the
// same file the app hands to wsgi.file_wrapper, served as a static file).
func fileRoute(urlPath, file string) nginxRoute {
	return nginxRoute{"= " + urlPath, file}
}

// nginxConfig is the configuration of a bare static file server: nginx
// serves route on 127.0.0.1:port, with every path it writes (pid,
// temporary files) under prefix, so nothing outside it is touched. The
// settings are the usual ones for static files: sendfile and tcp_nopush
// (head and first body bytes in one packet), no access log, and keep-alive
// connections that last the whole load (h2load reuses its 64 connections).
// asRoot keeps the workers root when benchrun runs as root: otherwise they
// would run as nobody and could not read a file under a private temporary
// directory.
func nginxConfig(prefix string, port int, route nginxRoute, asRoot bool) string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	p("# written by benchrun for one run; removed with its temporary directory")
	if asRoot {
		p("user root;")
	}
	p("worker_processes %d;", nginxWorkers)
	p("pid %s;", filepath.Join(prefix, "nginx.pid"))
	p("lock_file %s;", filepath.Join(prefix, "nginx.lock"))
	p("error_log stderr warn;")
	p("events {")
	p("    worker_connections 1024;")
	p("}")
	p("http {")
	p("    default_type application/octet-stream;")
	p("    access_log off;")
	p("    sendfile on;")
	p("    tcp_nopush on;")
	p("    keepalive_requests 1000000;")
	p("    keepalive_timeout 75s;")
	for _, t := range []string{"client_body", "proxy", "fastcgi", "uwsgi", "scgi"} {
		p("    %s_temp_path %s;", t, filepath.Join(prefix, t))
	}
	p("    server {")
	p("        listen 127.0.0.1:%d;", port)
	p("        location %s {", route.location)
	p("            alias %s;", route.alias)
	p("        }")
	p("    }")
	p("}")
	return b.String()
}

// nginxLaunch writes the configuration of one nginx run into its own
// directory and returns the command: in the foreground (daemon off) so it
// is our child and its process group is the one we measure and stop, with
// the error log on stderr (our log file), stopped by SIGQUIT (graceful
// shutdown; SIGKILL follows after the grace period like for every server).
func (b *bench) nginxLaunch(sc Scenario, port, runIdx int) (launch, error) {
	l := launch{stop: syscall.SIGQUIT}
	if _, err := exec.LookPath(b.cfg.nginx); err != nil {
		return l, statusError{statusMissing, "nginx not installed (apt-get install nginx-light): " + err.Error()}
	}
	var route nginxRoute
	switch {
	case sc.StaticBytes > 0:
		dir, err := b.staticDir(sc)
		if err != nil {
			return l, err
		}
		route = staticRoute(path.Dir(sc.Path), dir)
	case sc.FileBytes > 0:
		file, err := b.bigFile(sc.FileBytes)
		if err != nil {
			return l, err
		}
		route = fileRoute(sc.Path, file)
	default:
		return l, fmt.Errorf("nginx serves only the file scenarios, not %s", sc.Name)
	}
	prefix := filepath.Join(b.tmp, fmt.Sprintf("nginx-%s-%d", sc.Name, runIdx))
	if err := os.MkdirAll(prefix, 0o755); err != nil {
		return l, err
	}
	conf := filepath.Join(prefix, "nginx.conf")
	if err := os.WriteFile(conf, []byte(nginxConfig(prefix, port, route, os.Geteuid() == 0)), 0o644); err != nil {
		return l, err
	}
	l.argv = []string{b.cfg.nginx, "-e", "stderr", "-p", prefix + "/", "-c", conf, "-g", "daemon off;"}
	l.note = fmt.Sprintf("no Python; %d worker processes, sendfile, tcp_nopush", nginxWorkers)
	return l, nil
}
