// Package cli is gowsgi's command line: the commands are data (name, help,
// run function), each run returns an exit code.
package cli

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/gowsgi/gowsgi/config"
	"github.com/gowsgi/gowsgi/internal/master"
)

// Exit codes.
const (
	ExitOK    = 0
	ExitError = 1 // the server could not start or failed
	ExitUsage = 2 // bad flags or options
)

// Version is gowsgi's version, set at build time with -ldflags "-X ...cli.Version=...".
var Version = "0.1.0-dev"

type usageError struct{ error }

// Main runs the command line and returns the process exit code.
func Main(args []string, stdout, stderr io.Writer) int {
	// In a worker, take the master's private GOWSGI_ variables out of the
	// environment before options are read from it (internal/master).
	link, linkErr := master.Attach()
	opts := config.Defaults()
	code := ExitOK
	root := &cobra.Command{
		Use:   "gowsgi [flags] [FILE.ini|FILE.yaml]",
		Short: "gowsgi serves a WSGI application from an embedded CPython",
		Long: "gowsgi is a WSGI application server: a Go HTTP/1.1 front end and an embedded CPython\n" +
			"interpreter that calls your application(environ, start_response).\n\n" +
			"  gowsgi --module myproj.wsgi:application --http 127.0.0.1:8000 --threads 8",
		Args:          configArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			// A worker reads the master's configuration again, quietly,
			// with what the master read from the files (flags_config.go).
			var settings []byte
			if link != nil {
				settings = link.Settings
			}
			fromFiles, done, err := configure(cmd.Flags(), &opts, args, link != nil || linkErr != nil, settings, stdout, stderr)
			if done || err != nil {
				return err
			}
			code = serve(opts, fromFiles, link, linkErr, stderr)
			return nil
		},
	}
	bindFlags(root.Flags(), &opts)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(checkCommand(root, &opts, &code, stdout, stderr))
	root.AddCommand(topCommand(&code, stdout, stderr)) // top.go
	for _, c := range commands {
		cc := c
		root.AddCommand(&cobra.Command{
			Use:   cc.name,
			Short: cc.short,
			Args:  cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				code = cc.run(stdout, stderr)
				return nil
			},
		})
	}
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	if err := root.Execute(); err != nil {
		// Serving reports through code, so every error here is about the command line.
		fmt.Fprintf(stderr, "gowsgi: %v\n", oneLine(err))
		return ExitUsage
	}
	return code
}

// oneLine joins a multi-error into one line.
func oneLine(err error) string {
	s := err.Error()
	out := make([]rune, 0, len(s))
	for _, r := range s {
		if r == '\n' {
			out = append(out, ';', ' ')
			continue
		}
		out = append(out, r)
	}
	return string(out)
}

// command is one subcommand, as data.
type command struct {
	name  string
	short string
	run   func(stdout, stderr io.Writer) int
}

var commands = []command{
	{name: "version", short: "print the gowsgi, Go and Python versions", run: runVersion},
}

func bindFlags(f *pflag.FlagSet, o *config.Options) {
	f.StringVar(&o.Module, "module", o.Module, "WSGI application as package.module[:callable]")
	f.StringVar(&o.WSGIFile, "wsgi-file", o.WSGIFile, "load the WSGI application from this Python file")
	f.StringVar(&o.Callable, "callable", o.Callable, "name of the WSGI callable")
	f.StringVar(&o.Chdir, "chdir", o.Chdir, "change to this directory before loading the application")
	f.StringArrayVar(&o.PythonPath, "pythonpath", o.PythonPath, "add a directory to sys.path (repeatable)")
	f.StringVar(&o.PythonExe, "python-exe", o.PythonExe, "python whose prefix and site-packages to use (default: the system python matching libpython)")
	f.StringArrayVar(&o.HTTP, "http", o.HTTP, "HTTP listen address HOST:PORT (port 0 for a free one), unix:/path or a path (repeatable; default 127.0.0.1:8000 unless --socket is given)")
	f.StringArrayVar(&o.HTTP, "http-socket", o.HTTP, "alias of --http")
	f.IntVar(&o.Threads, "threads", o.Threads, "Python request threads")
	f.IntVar(&o.GoMaxProcs, "go-maxprocs", o.GoMaxProcs, "OS threads running Go code at once per serving process; 0: 1 up to 64 --threads, else 2 (GOMAXPROCS env wins)")
	f.IntVar(&o.Queue, "queue", o.Queue, "requests that may wait for a free Python thread before 503")
	f.Int64Var(&o.PostBuffering, "post-buffering", o.PostBuffering, "request body bytes held in memory; larger bodies go to a temporary file")
	f.Int64Var(&o.LimitPost, "limit-post", o.LimitPost, "largest request body in bytes (413 above it); 0 for no limit")
	f.IntVar(&o.MaxRequestLine, "max-request-line", o.MaxRequestLine, "longest request line in bytes (414 above it)")
	f.IntVar(&o.MaxHeaderCount, "max-header-count", o.MaxHeaderCount, "most header fields in a request (431 above it)")
	f.IntVar(&o.MaxFieldSize, "max-field-size", o.MaxFieldSize, "longest header field line in bytes (431 above it)")
	f.IntVar(&o.MaxHeadBytes, "max-head-bytes", o.MaxHeadBytes, "largest request head in bytes (431 above it)")
	f.StringVar(&o.UnderscoreHeaders, "underscore-headers", o.UnderscoreHeaders, "request header names with '_': drop, refuse (400) or allow")
	f.DurationVar(&o.HeaderTimeout, "header-timeout", o.HeaderTimeout, "time to receive a request head (408 after it)")
	f.DurationVar(&o.KeepAliveTimeout, "keepalive-timeout", o.KeepAliveTimeout, "idle time before a keep-alive connection is closed")
	f.DurationVar(&o.BodyTimeout, "body-timeout", o.BodyTimeout, "longest wait for the next piece of a request body")
	f.DurationVar(&o.WriteTimeout, "write-timeout", o.WriteTimeout, "longest wait for the client to accept response data")
	f.DurationVar(&o.GracefulTimeout, "graceful-timeout", o.GracefulTimeout, "time in-flight requests get to finish on SIGTERM/SIGINT")
	bindProxyFlags(f, o)
	bindStaticFlags(f, o)
	bindListenersFlags(f, o)
	bindConfigFlags(f, o)
	bindLifecycleFlags(f, o)
	bindObserveFlags(f, o)
	f.SortFlags = false
}

func runVersion(stdout, _ io.Writer) int {
	fmt.Fprintf(stdout, "gowsgi %s\n%s\npython %s\n", Version, goVersion(), pythonVersion())
	return ExitOK
}
