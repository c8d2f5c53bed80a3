package cli

import (
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/gowsgi/gowsgi/config"
)

func TestLifecycleFlags(t *testing.T) {
	o := config.Defaults()
	f := pflag.NewFlagSet("t", pflag.ContinueOnError)
	bindLifecycleFlags(f, &o)
	err := f.Parse([]string{"--processes", "4", "--harakiri", "30", "--max-requests", "1000", "--max-requests-jitter", "50",
		"--reload-on-rss", "512", "--touch-reload", "a", "--touch-reload", "b", "--pidfile", "/run/g.pid", "--uid", "www-data", "--gid", "www-data", "--master", "--lazy-apps"})
	if err != nil {
		t.Fatal(err)
	}
	l := o.Lifecycle
	if l.Processes != 4 || l.Harakiri != 30*time.Second || l.MaxRequests != 1000 || l.MaxRequestsJitter != 50 || l.ReloadOnRSS != 512 ||
		len(l.TouchReload) != 2 || l.PidFile != "/run/g.pid" || l.UID != "www-data" || l.GID != "www-data" || !l.Master || !l.LazyApps {
		t.Errorf("parsed %+v", l)
	}
	for _, v := range []string{"1.5", "90s", "2m"} {
		if err := f.Set("harakiri", v); err != nil {
			t.Errorf("--harakiri %s: %v", v, err)
		}
	}
	if o.Harakiri != 2*time.Minute {
		t.Errorf("harakiri %v after --harakiri 2m", o.Harakiri)
	}
	if err := f.Set("harakiri", "soon"); err == nil {
		t.Errorf("--harakiri soon was accepted")
	}
	if typ := f.Lookup("harakiri").Value.Type(); typ != "duration" {
		t.Errorf("--harakiri is of type %q; configuration files convert plain seconds for duration flags", typ)
	}
}
