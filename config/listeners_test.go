package config

import (
	"net/netip"
	"strings"
	"testing"
)

func TestParseListenAddr(t *testing.T) {
	for _, c := range []struct {
		in, network, address, shown string
	}{
		{"127.0.0.1:8000", "tcp", "127.0.0.1:8000", "127.0.0.1:8000"},
		{":8000", "tcp", ":8000", ":8000"},
		{"[::1]:0", "tcp", "[::1]:0", "[::1]:0"},
		{"localhost:080", "tcp", "localhost:80", "localhost:80"},
		{"unix:/run/app.sock", "unix", "/run/app.sock", "unix:/run/app.sock"},
		{"/run/app.sock", "unix", "/run/app.sock", "unix:/run/app.sock"},
		{"./app.sock", "unix", "./app.sock", "unix:./app.sock"},
		{"unix:app.sock", "unix", "app.sock", "unix:app.sock"},
		{"@gowsgi", "unix", "@gowsgi", "@gowsgi"},
	} {
		a, err := ParseListenAddr(c.in)
		if err != nil || a.Network != c.network || a.Address != c.address || a.String() != c.shown {
			t.Errorf("%q: got %+v (%q), %v; want %s %s (%q)", c.in, a, a.String(), err, c.network, c.address, c.shown)
		}
	}
	for in, want := range map[string]string{
		"":                             "empty address",
		"8000":                         "want HOST:PORT",
		"127.0.0.1:http":               "not a number",
		"127.0.0.1:70000":              "not a number",
		"127.0.0.1:+80":                "not a number",
		"unix:":                        "empty unix socket path",
		"@":                            "empty unix socket path",
		"/run/dir/":                    "names a directory",
		"/" + strings.Repeat("x", 107): "the system limit is 107",
		"unix:/a\x00b":                 "NUL",
		"bad host:80":                  "blanks",
	} {
		if _, err := ParseListenAddr(in); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want one mentioning %q", in, err, want)
		}
	}
}

func TestListenerDefaults(t *testing.T) {
	o := Defaults()
	o.Module = "app"
	o.Normalize()
	if len(o.HTTP) != 1 || o.HTTP[0] != DefaultHTTP {
		t.Errorf("no listener given: HTTP %q, want the default", o.HTTP)
	}
	// --socket alone: only the uwsgi socket listens, as with uWSGI.
	o = Defaults()
	o.Module = "app"
	o.Socket = []string{"/run/app.sock"}
	o.Normalize()
	if len(o.HTTP) != 0 {
		t.Errorf("with --socket only: HTTP %q, want none", o.HTTP)
	}
	if err := o.Validate(); err != nil {
		t.Errorf("valid options: %v", err)
	}
	if !o.Vacuum || o.BufferSize != 65535 {
		t.Errorf("defaults: vacuum %v, buffer-size %d", o.Vacuum, o.BufferSize)
	}
}

func TestValidateListeners(t *testing.T) {
	o := Defaults()
	o.Module = "app"
	o.HTTP = []string{"nope"}
	o.Socket = []string{"127.0.0.1:99999"}
	o.ChmodSocket = "888"
	o.UwsgiAllowIPs = []string{"10.0.0.0/33"}
	o.BufferSize = 0
	err := o.Validate()
	if err == nil {
		t.Fatal("want an error")
	}
	for _, want := range []string{`--http "nope"`, `--socket "127.0.0.1:99999"`, `--chmod-socket "888"`, `--uwsgi-allow-ips: "10.0.0.0/33"`, "--buffer-size 0"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}

	o = Defaults()
	o.Module = "app"
	o.Socket = []string{"127.0.0.1:3031"}
	o.UwsgiAllowIPs = []string{""}
	if err := o.Validate(); err == nil || !strings.Contains(err.Error(), "--uwsgi-allow-ips is empty") {
		t.Errorf("an empty allow-list with a tcp socket: %v", err)
	}
	o.Socket = []string{"/run/app.sock"} // unix sockets do not use the list
	if err := o.Validate(); err != nil {
		t.Errorf("an empty allow-list with a unix socket only: %v", err)
	}
}

func TestSocketMode(t *testing.T) {
	for in, want := range map[string]uint32{"666": 0o666, "0660": 0o660, "600": 0o600, "0": 0} {
		l := Listeners{ChmodSocket: in}
		if m, set, err := l.SocketMode(); err != nil || !set || m != want {
			t.Errorf("%q: %o %v %v, want %o", in, m, set, err, want)
		}
	}
	if _, set, err := (&Listeners{}).SocketMode(); set || err != nil {
		t.Errorf("unset: %v %v", set, err)
	}
	for _, in := range []string{"8", "1777", "rw", "+666", "-1"} {
		if _, _, err := (&Listeners{ChmodSocket: in}).SocketMode(); err == nil {
			t.Errorf("%q: want an error", in)
		}
	}
}

func TestUwsgiAllowPeers(t *testing.T) {
	l := Listeners{UwsgiAllowIPs: []string{"127.0.0.0/8, ::1", "192.0.2.7"}}
	set, err := l.UwsgiAllowPeers()
	if err != nil {
		t.Fatal(err)
	}
	for ip, want := range map[string]bool{
		"127.0.0.1": true, "127.9.9.9": true, "::1": true, "::ffff:127.0.0.1": true,
		"192.0.2.7": true, "192.0.2.8": false, "10.0.0.1": false, "::2": false,
	} {
		if got := set.Contains(netip.MustParseAddr(ip)); got != want {
			t.Errorf("%s: allowed %v, want %v", ip, got, want)
		}
	}
	all, err := (&Listeners{UwsgiAllowIPs: []string{"*"}}).UwsgiAllowPeers()
	if err != nil || !all.Contains(netip.MustParseAddr("198.51.100.1")) {
		t.Errorf("*: %v", err)
	}
}
