package main

import (
	"fmt"
	"slices"
	"strings"
)

// Scenario is one load pattern, run against every server with the same app
// and the same processes x threads.
type Scenario struct {
	Name  string `json:"name"`
	Title string `json:"title"`
	// App is the Python module in bench/apps that serves it (MODULE:application).
	App string `json:"app"`
	// Mode is what the bare ceilings serve instead (see internal/bareapp).
	Mode   string `json:"bare_mode"`
	Method string `json:"method"`
	Path   string `json:"path"`
	// BodyBytes is the size of the POST body h2load sends (0: GET).
	BodyBytes int `json:"request_body_bytes,omitempty"`
	// ExpectBytes is the response body size the readiness probe checks.
	ExpectBytes int `json:"response_body_bytes"`
	Conns       int `json:"connections"`
	Procs       int `json:"processes"`
	Threads     int `json:"threads"`
	// Pinned runs the server on core 1 and h2load on core 0 (taskset).
	Pinned bool `json:"pinned,omitempty"`
	// LimitRPS is the theoretical ceiling where one exists (sleepy:
	// connections / 10 ms).
	LimitRPS float64 `json:"limit_req_per_s,omitempty"`

	// Servers lists the servers that run this scenario (nil: every server
	// that is not a variant or nginx, see Server.Extra). -servers still
	// selects among them.
	Servers []string `json:"servers,omitempty"`
	// Labels renames servers in this scenario's table and chart.
	Labels map[string]string `json:"labels,omitempty"`
	// Baseline is the server the ratios are taken against: "" means uWSGI,
	// the faster of the uWSGI rows when there are several (static4k).
	Baseline string `json:"baseline,omitempty"`
	// StaticBytes > 0: benchrun creates a file of that size at Path below a
	// static directory, served by --static-map MOUNT=DIR (MOUNT is Path's
	// directory) and by nginx.
	StaticBytes int `json:"static_file_bytes,omitempty"`
	// FileBytes > 0: benchrun creates a file of that size for the app to
	// send; its path is in BENCH_FILEWRAPPER_FILE.
	FileBytes int64 `json:"file_bytes,omitempty"`
	// Clients > 0: the load is that many concurrent downloads looping with
	// Go's net/http (internal/download) instead of h2load; the figure is
	// MB/s.
	Clients int `json:"download_clients,omitempty"`
	// GowsgiArgs are added to every gowsgi command line of the scenario.
	GowsgiArgs []string `json:"gowsgi_args,omitempty"`
	// CPUColumn adds "req per CPU-s" (requests per CPU-second of the
	// server's process tree) to the table: steadier than req/s when other
	// jobs share the machine.
	CPUColumn bool `json:"cpu_column,omitempty"`
	// Notes are printed under the scenario's table.
	Notes []string `json:"notes,omitempty"`
}

// downloads reports whether the load is the download client.
func (s Scenario) downloads() bool { return s.Clients > 0 }

// unit is what the scenario's rate counts.
func (s Scenario) unit() string {
	if s.downloads() {
		return "MB/s"
	}
	return "req/s"
}

// runs reports whether server srv takes part in the scenario.
func (s Scenario) runs(srv Server) bool {
	if s.Servers == nil {
		return !srv.Extra
	}
	return slices.Contains(s.Servers, srv.Name)
}

// label is srv's name in this scenario.
func (s Scenario) label(srv Server) string {
	if l, ok := s.Labels[srv.Name]; ok {
		return l
	}
	return srv.Label
}

// Shape describes connections and workers in a few words.
func (s Scenario) Shape() string {
	out := fmt.Sprintf("%d conns, %d×%d", s.Conns, s.Procs, s.Threads)
	if s.downloads() {
		out = fmt.Sprintf("%d downloads, %d×%d", s.Clients, s.Procs, s.Threads)
	}
	if s.Pinned {
		out += ", 1 core"
	}
	return out
}

var scenarios = []Scenario{
	{
		Name: "hello", Title: "Hello world, 64 connections, 2 processes × 32 threads",
		App: "hello", Mode: "hello", Method: "GET", Path: "/", ExpectBytes: 13,
		Conns: 64, Procs: 2, Threads: 32,
	},
	{
		Name: "hello-pinned", Title: "Hello world on one core: server (1 process × 64 threads) pinned to core 1, h2load to core 0",
		App: "hello", Mode: "hello", Method: "GET", Path: "/", ExpectBytes: 13,
		Conns: 64, Procs: 1, Threads: 64, Pinned: true,
	},
	{
		Name: "echo", Title: "Echo: 4 KiB POST body read from wsgi.input and returned, 64 connections, 2 × 32",
		App: "echo", Mode: "echo", Method: "POST", Path: "/echo", BodyBytes: 4096, ExpectBytes: 4096,
		Conns: 64, Procs: 2, Threads: 32,
	},
	{
		Name: "big", Title: "Big: 1 MiB response as 16 × 64 KiB chunks from a generator, 64 connections, 2 × 32",
		App: "big", Mode: "big", Method: "GET", Path: "/big", ExpectBytes: 1 << 20,
		Conns: 64, Procs: 2, Threads: 32,
	},
	{
		Name: "sleepy64", Title: "Sleepy: time.sleep(0.010) per request, 64 connections, 2 × 32 (limit 6,400 req/s)",
		App: "sleepy", Mode: "sleepy", Method: "GET", Path: "/sleepy", ExpectBytes: 12,
		Conns: 64, Procs: 2, Threads: 32, LimitRPS: 6400,
	},
	{
		Name: "sleepy256", Title: "Sleepy: time.sleep(0.010) per request, 256 connections, 2 × 128 (limit 25,600 req/s)",
		App: "sleepy", Mode: "sleepy", Method: "GET", Path: "/sleepy", ExpectBytes: 12,
		Conns: 256, Procs: 2, Threads: 128, LimitRPS: 25600,
	},
	{
		Name: "flask", Title: "Flask: one JSON route (jsonify of a small dict), 64 connections, 2 × 32",
		App: "flaskjson", Mode: "json", Method: "GET", Path: "/json", ExpectBytes: 70,
		Conns: 64, Procs: 2, Threads: 32,
	},
	{
		Name: "static4k", Title: "Static file: 4 KiB from a static map (nginx: the same file), 64 connections, 2 × 32",
		App: "hello", Method: "GET", Path: "/static/4k.bin", ExpectBytes: 4096, StaticBytes: 4096,
		Conns: 64, Procs: 2, Threads: 32,
		Servers:   []string{"gowsgi", "uwsgi", "uwsgi-nodelay", "nginx"},
		CPUColumn: true,
		Notes: []string{
			"gowsgi and uWSGI: `--static-map /static=DIR`; nginx: `location /static/ { alias DIR/; }` with 2 worker processes, sendfile, tcp_nopush, access_log off, keepalive_requests 1000000",
			"uWSGI runs twice: as elsewhere, and with `--tcp-nodelay`; without it a static response (head, then the file by sendfile) waits for the client's delayed ACK, about 40 ms. Ratios and targets use the faster uWSGI row",
			"req per CPU-s: requests served per CPU-second (user + system) of the server's whole process tree during the load; steadier than req/s on a shared machine",
		},
	},
	{
		Name: "filewrapper256m", Title: "wsgi.file_wrapper: a 256 MiB file with Content-Length, 4 concurrent downloads, 2 × 32",
		App: "filewrapper", Method: "GET", Path: "/file", ExpectBytes: 256 << 20, FileBytes: 256 << 20,
		Clients: 4, Conns: 4, Procs: 2, Threads: 32,
		Servers: []string{"gowsgi", "uwsgi", "nginx"},
		Notes: []string{
			"app: `apps/filewrapper.py` returns `environ['wsgi.file_wrapper'](open(path, 'rb'), 65536)` for a 256 MiB file benchrun writes to its temporary directory",
			"nginx: the same file as a static file (`location = /file { alias FILE; }`, 2 worker processes, sendfile, tcp_nopush): what an event-driven sendfile server reaches here with no Python in the path",
			"MB = 10^6 bytes, counting every body byte received, including the downloads cut off by the end of the run; downloads must arrive whole (Content-Length and length checked)",
			"RSS growth: peak minus idle RSS of the server's process tree, sampled every 100 ms during warm-up and load",
		},
	},
	{
		Name: "hello-metrics", Title: "Cost of metrics: gowsgi hello with --disable-logging, without and with --stats, 64 connections, 2 × 32",
		App: "hello", Mode: "hello", Method: "GET", Path: "/", ExpectBytes: 13,
		Conns: 64, Procs: 2, Threads: 32,
		Servers:    []string{"gowsgi", "gowsgi-stats"},
		Baseline:   "gowsgi",
		GowsgiArgs: []string{"--disable-logging"},
		Labels:     map[string]string{"gowsgi": "gowsgi, metrics off", "gowsgi-stats": "gowsgi, metrics on (--stats)"},
		CPUColumn:  true,
		Notes: []string{
			"both rows run with `--disable-logging`: gowsgi's default, like uWSGI's, writes an access log line per request (both servers turn it off with the same flag in every row of this benchmark)",
			"metrics off: `--disable-logging`; metrics on: `--disable-logging --stats 127.0.0.1:0` (the metrics recorder and the stats listener); runs alternate, each row going first in every other run",
		},
	},
}

// pick returns the named items of all, in all's order; "" or "all" means
// every item.
func pick[T any](list string, all []T, name func(T) string) ([]T, error) {
	if list == "" || list == "all" {
		return all, nil
	}
	want := map[string]bool{}
	for n := range strings.SplitSeq(list, ",") {
		if n = strings.TrimSpace(n); n != "" {
			want[n] = true
		}
	}
	var out []T
	var names []string
	for _, x := range all {
		names = append(names, name(x))
		if want[name(x)] {
			out = append(out, x)
			delete(want, name(x))
		}
	}
	if len(want) > 0 {
		var unknown []string
		for n := range want {
			unknown = append(unknown, n)
		}
		return nil, fmt.Errorf("unknown %v (known: %s)", unknown, strings.Join(names, ","))
	}
	return out, nil
}
