package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/gowsgi/gowsgi/config"
	"github.com/gowsgi/gowsgi/internal/master"
)

// bindConfigFlags binds the options that locate the configuration and
// shape the Python environment (config/pyenv.go).
func bindConfigFlags(f *pflag.FlagSet, o *config.Options) {
	f.String(config.FlagConfig, "", "read options from a YAML, TOML or JSON file whose keys are the flag names (or GOWSGI_CONFIG)")
	f.String(config.FlagIni, "", "read options from a uWSGI ini file, FILE or FILE:SECTION (default section [uwsgi]; or GOWSGI_INI)")
	f.Bool(config.FlagPrintConfig, false, "print the merged options and where each value came from, then exit")
	f.StringArrayVar(&o.Env, "env", o.Env, "set KEY=VALUE in the environment before Python starts (repeatable)")
	f.StringVar(&o.Home, "home", o.Home, "virtualenv to run in, as its bin/python would (relative to --chdir)")
	f.StringVar(&o.Home, "virtualenv", o.Home, "alias of --home")
	f.StringVar(&o.Home, "venv", o.Home, "alias of --home")
}

// configArgs accepts, like uWSGI, one configuration file as a positional
// argument: `gowsgi app.ini` or `gowsgi gowsgi.yaml`.
func configArgs(cmd *cobra.Command, args []string) error {
	switch {
	case len(args) > 1:
		return fmt.Errorf("too many arguments %q: give one configuration file", args)
	case len(args) == 1 && !config.IsIniFile(args[0]) && !config.IsConfigFile(args[0]):
		err := fmt.Errorf("unknown command or file %q (a file must end in .ini, .yaml, .yml, .toml or .json)", args[0])
		if cmd.SuggestionsMinimumDistance <= 0 {
			cmd.SuggestionsMinimumDistance = 2 // cobra's own default, applied only on its paths
		}
		if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
			err = fmt.Errorf("%w; did you mean %s?", err, s[0])
		}
		return err
	}
	return nil
}

// loadConfig applies the environment, the configuration file and the ini
// file to the flags the command line left alone (config.Load). The files
// come from --config and --ini, else a positional argument, else
// GOWSGI_CONFIG and GOWSGI_INI. A worker passes the settings its master
// read from them (master.Link.Settings), which stand in for the files.
func loadConfig(fs *pflag.FlagSet, args []string, settings []byte) (*config.Report, error) {
	src := config.Sources{Settings: settings}
	src.ConfigFile, _ = fs.GetString(config.FlagConfig)
	src.Ini, _ = fs.GetString(config.FlagIni)
	if len(args) == 1 {
		arg := args[0]
		if config.IsIniFile(arg) {
			if src.Ini != "" {
				return nil, fmt.Errorf("two ini files: --ini %q and %q", src.Ini, arg)
			}
			src.Ini = arg
		} else {
			if src.ConfigFile != "" {
				return nil, fmt.Errorf("two configuration files: --config %q and %q", src.ConfigFile, arg)
			}
			src.ConfigFile = arg
		}
	}
	if src.ConfigFile == "" && !fs.Changed(config.FlagConfig) {
		src.ConfigFile = os.Getenv(config.EnvName(config.FlagConfig))
	}
	if src.Ini == "" && !fs.Changed(config.FlagIni) {
		src.Ini = os.Getenv(config.EnvName(config.FlagIni))
	}
	// The master passes its workers these; they are not options. (A
	// worker's master.Attach has removed most of them by now.)
	src.Internal = []string{master.EnvWorker, master.EnvGeneration, master.EnvListenFDs, master.EnvMasterFD, master.EnvControlSocket, master.EnvSettings}
	return config.Load(fs, src)
}

// configure is the root command's configuration step: load every source,
// print the result for --print-config (done), else log the options that
// set nothing (unless worker: a worker runs with its master's arguments,
// and the master has listed them), then normalize and validate. Errors
// are usage errors. It returns what the configuration files set
// (config.Report.Settings), for the workers.
func configure(fs *pflag.FlagSet, o *config.Options, args []string, worker bool, settings []byte, stdout, stderr io.Writer) (fromFiles []byte, done bool, err error) {
	rep, err := loadConfig(fs, args, settings)
	if err != nil {
		return nil, false, usageError{err}
	}
	if p, _ := fs.GetBool(config.FlagPrintConfig); p {
		rep.Print(stdout)
		return nil, true, nil
	}
	if !worker {
		logNotes(rep, noteLogger(o, stderr))
	}
	// Before Normalize, which rewrites values (module "app:create" becomes
	// module "app" and callable "create"): a worker normalizes what it
	// reads itself.
	fromFiles = rep.Settings()
	o.Normalize()
	if err := o.Validate(); err != nil {
		return nil, false, usageError{rep.Explain(err)}
	}
	return fromFiles, false, nil
}

// noteLogger is a logger for the start-up notes in the format of the
// server's log (--log-json), which opens only later, in serve.
func noteLogger(o *config.Options, stderr io.Writer) *slog.Logger {
	hopts := &slog.HandlerOptions{Level: slog.LevelInfo}
	if o.LogJSON {
		return slog.New(slog.NewJSONHandler(stderr, hopts))
	}
	return slog.New(slog.NewTextHandler(stderr, hopts))
}

// logNotes lists, once at start-up, the options that were read but set
// nothing: ignored ones at info level, the rest as warnings.
func logNotes(rep *config.Report, log *slog.Logger) {
	for _, n := range rep.Notes {
		lvl, msg := slog.LevelWarn, "option not used"
		switch n.Kind {
		case config.NoteIgnored:
			lvl, msg = slog.LevelInfo, "option ignored"
		case config.NoteUnknown:
			msg = "unknown option"
		case config.NoteUnsupported:
			msg = "option not supported"
		}
		log.Log(context.Background(), lvl, msg, "option", n.Key, "at", n.Where, "why", n.Reason)
	}
}
