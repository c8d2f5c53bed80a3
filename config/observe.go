package config

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/gowsgi/gowsgi/internal/accesslog"
	"github.com/gowsgi/gowsgi/internal/metrics"
)

// Observe holds the options about seeing inside a running server: the
// access log, where logs go, and the stats listener (docs/LOGGING.md,
// docs/METRICS.md).
type Observe struct {
	// Stats is the stats listener's address: /metrics (Prometheus),
	// /stats (JSON), /healthz, /readyz and a live page at /. "PORT" or
	// ":PORT" listen on 127.0.0.1 only; "HOST:PORT" as given (0.0.0.0:PORT
	// for every interface); "unix:/path" or a path is a unix socket.
	// Default "" (no stats listener).
	Stats string
	// LogFormat is the access log line format, made of %(name) atoms,
	// %{Header}i / %{Header}o header values and literal text. Default
	// accesslog.DefaultFormat (combined log format plus the request time).
	LogFormat string
	// LogJSON writes every log record, access lines included, as one JSON
	// object per line. Default false (key=value text, access lines as
	// LogFormat says).
	LogJSON bool
	// DisableLogging turns the access log off; server messages and the
	// application's output are still logged. Default false.
	DisableLogging bool
	// LogTo appends the log to this file instead of stderr; SIGUSR1
	// re-opens it (for logrotate). Default "" (stderr).
	LogTo string

	format *accesslog.Format // LogFormat compiled by validate
}

func observeDefaults() Observe {
	return Observe{LogFormat: accesslog.DefaultFormat}
}

func (o *Observe) validate() []error {
	var errs []error
	if o.Stats != "" {
		if _, _, err := metrics.StatsNetwork(o.Stats); err != nil {
			errs = append(errs, fmt.Errorf("--stats %w", err))
		}
	}
	f, err := accesslog.Compile(o.LogFormat)
	if err != nil {
		errs = append(errs, fmt.Errorf("--log-format: %w", err))
	}
	o.format = f
	if o.LogTo != "" {
		if st, err := os.Stat(o.LogTo); err == nil && st.IsDir() {
			errs = append(errs, fmt.Errorf("--logto %q is a directory", o.LogTo))
		} else if st, err := os.Stat(filepath.Dir(o.LogTo)); err != nil || !st.IsDir() {
			errs = append(errs, fmt.Errorf("--logto %q: directory %q does not exist", o.LogTo, filepath.Dir(o.LogTo)))
		}
	}
	return errs
}

// AccessFormat returns the compiled LogFormat (the default format if it
// does not compile; Validate reports that).
func (o *Observe) AccessFormat() *accesslog.Format {
	if o.format != nil && o.format.String() == o.LogFormat {
		return o.format
	}
	if f, err := accesslog.Compile(o.LogFormat); err == nil {
		return f
	}
	return accesslog.MustCompile(accesslog.DefaultFormat)
}
