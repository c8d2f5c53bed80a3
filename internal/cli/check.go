package cli

import (
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/gowsgi/gowsgi/config"
	"github.com/gowsgi/gowsgi/pyembed"
)

// checkCommand is `gowsgi check`, for deploy pipelines: the same options
// as serving, but it stops after importing the application. It shares
// root's flags (the same *pflag.Flag values), so every option, whoever
// defines it, works here too.
func checkCommand(root *cobra.Command, o *config.Options, code *int, stdout, stderr io.Writer) *cobra.Command {
	c := &cobra.Command{
		Use:   "check [flags] [FILE.ini|FILE.yaml]",
		Short: "load the configuration, import the application, print what would run; exit 0 when it would",
		Long: "check reads the configuration exactly as serving does, imports the application in the embedded\n" +
			"interpreter, prints what would run and exits 0; or prints the problem and exits 1 (2 for bad options).\n" +
			"It binds no socket, so it can run next to the server it is about to replace.",
		Args: configArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			*code = runCheck(cmd.Flags(), o, args, stdout, stderr)
			return nil
		},
	}
	c.Flags().AddFlagSet(root.Flags())
	c.Flags().SortFlags = false
	return c
}

// finalizeTimeout bounds Python's finalization after the import: an
// application that started a non-daemon thread would otherwise hang check.
const finalizeTimeout = 5 * time.Second

func runCheck(fs *pflag.FlagSet, o *config.Options, args []string, stdout, stderr io.Writer) int {
	fail := func(code int, err error) int {
		fmt.Fprintf(stderr, "gowsgi check: %v\n", err)
		return code
	}
	rep, err := loadConfig(fs, args, nil)
	if err != nil {
		return fail(ExitUsage, err)
	}
	if p, _ := fs.GetBool(config.FlagPrintConfig); p {
		rep.Print(stdout)
		return ExitOK
	}
	o.Normalize()
	if err := o.Validate(); err != nil {
		return fail(ExitUsage, rep.Explain(err))
	}
	paths, err := preparePython(o)
	if err != nil {
		return fail(ExitError, err)
	}
	program, _ := os.Executable()
	if program == "" {
		program = os.Args[0]
	}
	// What the application prints while it is imported goes to stderr,
	// so that stdout is only the summary.
	pyembed.LogFunc = func(_, _ int, msg string) { fmt.Fprintln(stderr, msg) }
	app := pyembed.App{Module: o.Module, Callable: o.Callable, WSGIFile: o.WSGIFile}
	interp, err := pyembed.Start(pyembed.Options{Program: program, PythonExe: o.PythonExe, Paths: paths, Threads: 1}, app)
	if err != nil {
		return fail(ExitError, err)
	}
	finalized := make(chan struct{})
	go func() {
		interp.Finalize()
		close(finalized)
	}()
	select {
	case <-finalized:
	case <-time.After(finalizeTimeout):
		fmt.Fprintf(stderr, "gowsgi check: python finalization did not finish in %v (a non-daemon thread started at import?)\n", finalizeTimeout)
	}
	printCheck(stdout, fs, o, app, paths, rep)
	return ExitOK
}

// printCheck writes the summary of what gowsgi would run.
func printCheck(w io.Writer, fs *pflag.FlagSet, o *config.Options, app pyembed.App, paths []string, rep *config.Report) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	row := func(k, format string, args ...any) { fmt.Fprintf(tw, "%s\t"+format+"\n", append([]any{k}, args...)...) }
	row("app", "%s", app)
	exe := o.PythonExe
	if exe == "" {
		exe = pyembed.DefaultPythonExe()
	}
	row("python", "%s (%s)", strings.Fields(pyembed.PythonVersion())[0], exe)
	if o.Home != "" {
		row("virtualenv", "%s", o.Home)
	}
	row("directory", "%s", paths[0])
	row("sys.path", "%s first", strings.Join(paths, " "))
	var ls []string
	for _, a := range o.HTTP {
		ls = append(ls, "http "+a)
	}
	for _, a := range o.Socket {
		ls = append(ls, "uwsgi "+a)
	}
	row("listeners", "%s", strings.Join(ls, ", "))
	processes := "1"
	if fl := fs.Lookup("processes"); fl != nil {
		processes = fl.Value.String()
	}
	row("workers", "%s processes x %d threads", processes, o.Threads)
	for _, n := range rep.Notes {
		row(n.Kind, "%s", n)
	}
	tw.Flush()
	fmt.Fprintln(w, "ok: the application imported")
}
