package cli

import (
	"github.com/spf13/pflag"

	"github.com/gowsgi/gowsgi/config"
)

// bindProxyFlags binds the trusted-proxy options (gunicorn's names: uWSGI
// has no equivalent, it relies on the uwsgi protocol's variables).
func bindProxyFlags(f *pflag.FlagSet, o *config.Options) {
	f.StringSliceVar(&o.ForwardedAllowIPs, "forwarded-allow-ips", o.ForwardedAllowIPs,
		"peers (comma list of IPs and CIDR prefixes, * for all, empty for none) whose X-Forwarded-*, Forwarded and PROXY protocol headers are trusted")
	f.BoolVar(&o.ProxyProtocol, "proxy-protocol", o.ProxyProtocol,
		"require a PROXY protocol v1/v2 header at the start of every connection from a --forwarded-allow-ips peer")
}
