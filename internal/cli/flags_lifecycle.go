package cli

import (
	"time"

	"github.com/spf13/pflag"

	"github.com/gowsgi/gowsgi/config"
)

// bindLifecycleFlags binds the master and worker lifecycle options
// (config/lifecycle.go), named as in uWSGI (--max-requests-jitter is
// gunicorn's).
func bindLifecycleFlags(f *pflag.FlagSet, o *config.Options) {
	f.IntVar(&o.Processes, "processes", o.Processes, "worker processes, each with --threads Python threads and its own interpreter")
	f.Var(secondsFlag{&o.Harakiri}, "harakiri", "stop a request running Python longer than this (seconds, or a duration like 90s); the client gets 504 and the worker is replaced (0: off)")
	f.Var(secondsFlag{&o.WorkerStartTimeout}, "worker-start-timeout", "kill a worker not ready this long after it started (seconds or a duration): a reload is abandoned, a replacement retried (0: wait forever)")
	f.IntVar(&o.MaxRequests, "max-requests", o.MaxRequests, "replace a worker after it served this many requests, without failing any (0: never)")
	f.IntVar(&o.MaxRequestsJitter, "max-requests-jitter", o.MaxRequestsJitter, "add a random 0..N to each worker's --max-requests so they are not replaced together")
	f.IntVar(&o.ReloadOnRSS, "reload-on-rss", o.ReloadOnRSS, "replace a worker whose resident memory exceeds this many MiB (0: never)")
	f.StringArrayVar(&o.TouchReload, "touch-reload", o.TouchReload, "reload the workers gracefully, like SIGHUP, when this file is modified (repeatable)")
	f.StringVar(&o.PidFile, "pidfile", o.PidFile, "write the master's pid to this file; removed on exit")
	f.StringVar(&o.UID, "uid", o.UID, "user (name or number) to run as once the sockets are bound")
	f.StringVar(&o.GID, "gid", o.GID, "group (name or number) to run as once the sockets are bound (default: the --uid user's group)")
	f.BoolVar(&o.Master, "master", o.Master, "accepted for uWSGI compatibility: gowsgi always runs a master process")
	f.BoolVar(&o.LazyApps, "lazy-apps", o.LazyApps, "accepted for uWSGI compatibility: every worker always imports the application itself")
}

// secondsFlag is a duration flag that also takes a plain number of
// seconds, as uWSGI's --harakiri 30 does. Its type name is "duration" so
// configuration files treat it like every other duration.
type secondsFlag struct{ d *time.Duration }

func (s secondsFlag) String() string {
	if s.d == nil {
		return "0s"
	}
	return s.d.String()
}

func (s secondsFlag) Set(v string) error {
	d, err := config.ParseSeconds(v)
	if err != nil {
		return err
	}
	*s.d = d
	return nil
}

func (s secondsFlag) Type() string { return "duration" }
