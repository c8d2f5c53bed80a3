package cli

import (
	"github.com/spf13/pflag"

	"github.com/gowsgi/gowsgi/config"
)

// bindListenersFlags binds the uwsgi-protocol and unix-socket options
// (config/listeners.go), named as in uWSGI.
func bindListenersFlags(f *pflag.FlagSet, o *config.Options) {
	f.StringArrayVar(&o.Socket, "socket", o.Socket, "uwsgi-protocol listen address for nginx uwsgi_pass: HOST:PORT, unix:/path, a path or @abstract (repeatable)")
	f.StringArrayVar(&o.Socket, "uwsgi-socket", o.Socket, "alias of --socket")
	f.StringVar(&o.ChmodSocket, "chmod-socket", o.ChmodSocket, "octal mode of unix socket files, e.g. 660 or 666")
	f.BoolVar(&o.Vacuum, "vacuum", o.Vacuum, "remove unix socket files on exit")
	f.StringSliceVar(&o.UwsgiAllowIPs, "uwsgi-allow-ips", o.UwsgiAllowIPs, "IPs or CIDR prefixes allowed to connect to tcp --socket listeners (comma list)")
	f.IntVar(&o.BufferSize, "buffer-size", o.BufferSize, "largest vars block of a uwsgi packet in bytes (uWSGI's default of 4096 causes nginx 502s with big cookies)")
}
