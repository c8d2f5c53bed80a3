package config

import (
	"strings"
	"testing"
	"time"
)

func TestParseSeconds(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"30":    30 * time.Second,
		"2.5":   2500 * time.Millisecond,
		"0":     0,
		"500ms": 500 * time.Millisecond,
		"1m":    time.Minute,
		" 7 ":   7 * time.Second,
	} {
		got, err := ParseSeconds(in)
		if err != nil || got != want {
			t.Errorf("ParseSeconds(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "-1", "-5s", "NaN", "Inf", "1e30", "soon", "5 s"} {
		if d, err := ParseSeconds(bad); err == nil {
			t.Errorf("ParseSeconds(%q) = %v, want an error", bad, d)
		}
	}
}

func TestLifecycleValidate(t *testing.T) {
	valid := func() Options {
		o := Defaults()
		o.Module = "app"
		o.Normalize()
		return o
	}
	if o := valid(); o.Processes != 1 {
		t.Errorf("default processes %d, want 1", o.Processes)
	}
	for name, c := range map[string]struct {
		set  func(o *Options)
		want string // "" for valid
	}{
		"defaults":           {func(o *Options) {}, ""},
		"4 processes":        {func(o *Options) { o.Processes = 4 }, ""},
		"no processes":       {func(o *Options) { o.Processes = 0 }, "--processes 0"},
		"too many":           {func(o *Options) { o.Processes = 5000 }, "--processes 5000"},
		"max-requests":       {func(o *Options) { o.MaxRequests, o.MaxRequestsJitter = 1000, 50 }, ""},
		"negative requests":  {func(o *Options) { o.MaxRequests = -1 }, "--max-requests -1"},
		"jitter alone":       {func(o *Options) { o.MaxRequestsJitter = 10 }, "needs --max-requests"},
		"negative jitter":    {func(o *Options) { o.MaxRequests, o.MaxRequestsJitter = 10, -1 }, "--max-requests-jitter -1"},
		"rss":                {func(o *Options) { o.ReloadOnRSS = 512 }, ""},
		"negative rss":       {func(o *Options) { o.ReloadOnRSS = -1 }, "--reload-on-rss -1"},
		"harakiri":           {func(o *Options) { o.Harakiri = 30 * time.Second }, ""},
		"harakiri too short": {func(o *Options) { o.Harakiri = 10 * time.Millisecond }, "at least 1s"},
		"empty touch file":   {func(o *Options) { o.TouchReload = []string{""} }, "--touch-reload: empty"},
		"gid alone":          {func(o *Options) { o.GID = "www-data" }, "--gid \"www-data\" needs --uid"},
		"uid and gid":        {func(o *Options) { o.UID, o.GID = "www-data", "www-data" }, ""},
	} {
		o := valid()
		c.set(&o)
		err := o.Validate()
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", name, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: error %v, want one about %q", name, err, c.want)
		}
	}
}
