package cli

import (
	"github.com/spf13/pflag"

	"github.com/gowsgi/gowsgi/config"
)

// bindObserveFlags binds the logging and stats options
// (config/observe.go), named as in uWSGI where it has them.
func bindObserveFlags(f *pflag.FlagSet, o *config.Options) {
	f.StringVar(&o.Stats, "stats", o.Stats, "stats listener: /metrics, /stats, /healthz, /readyz and a live page at /; PORT or :PORT (127.0.0.1), HOST:PORT, or unix:/path")
	f.StringVar(&o.LogFormat, "log-format", o.LogFormat, "access log format: %(atom) names, %{Header}i request and %{Header}o response headers (docs/LOGGING.md)")
	f.StringVar(&o.LogFormat, "logformat", o.LogFormat, "alias of --log-format")
	f.BoolVar(&o.LogJSON, "log-json", o.LogJSON, "write every log record, access lines included, as one JSON object per line")
	f.BoolVar(&o.DisableLogging, "disable-logging", o.DisableLogging, "no access log (server messages and application output are still logged)")
	f.StringVar(&o.LogTo, "logto", o.LogTo, "append the log to this file instead of stderr; SIGUSR1 re-opens it (logrotate)")
}
