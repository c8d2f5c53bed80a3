package config

import (
	"fmt"
	"net/netip"
	"strings"
)

// Proxy holds the options about what stands in front of gowsgi: which
// peers are trusted to say who the client is, and how they say it.
type Proxy struct {
	// ForwardedAllowIPs lists the peers (IP addresses or CIDR prefixes,
	// "*" for every peer) whose X-Forwarded-For/-Proto/-Host, Forwarded
	// and PROXY protocol headers are believed. From any other peer those
	// headers are ordinary request headers that change nothing. An empty
	// list trusts nobody. Default ["127.0.0.1", "::1"].
	ForwardedAllowIPs []string
	// ProxyProtocol makes every connection from a trusted peer start with
	// a PROXY protocol v1 or v2 header, which then gives the client's
	// address. Connections from other peers are served as plain HTTP.
	// Default false.
	ProxyProtocol bool

	// peers is ForwardedAllowIPs parsed by validate.
	peers *PeerSet
}

// proxyDefaults returns the Proxy defaults (called from Defaults).
func proxyDefaults() Proxy {
	return Proxy{ForwardedAllowIPs: []string{"127.0.0.1", "::1"}}
}

func (p *Proxy) validate() []error {
	set, err := ParsePeerSet(p.ForwardedAllowIPs)
	if err != nil {
		p.peers = nil
		return []error{err}
	}
	p.peers = set
	return nil
}

// TrustedPeers returns the parsed ForwardedAllowIPs. Validate parses the
// list once; Options that were never validated are parsed on every call
// (slow, but never wrong), and an invalid list trusts nobody.
func (p *Proxy) TrustedPeers() *PeerSet {
	if p.peers != nil {
		return p.peers
	}
	set, err := ParsePeerSet(p.ForwardedAllowIPs)
	if err != nil {
		return &PeerSet{}
	}
	return set
}

// PeerSet is a set of addresses given as single addresses and prefixes.
// It is read-only once made, so connections share it freely.
type PeerSet struct {
	all      bool
	prefixes []netip.Prefix
}

// ParsePeerSet parses a --forwarded-allow-ips list. Elements may carry
// spaces around them and may themselves be comma lists (as in
// "127.0.0.1, 10.0.0.0/8"); empty elements are ignored.
func ParsePeerSet(list []string) (*PeerSet, error) {
	set := &PeerSet{}
	for _, item := range list {
		for _, s := range strings.Split(item, ",") {
			s = strings.TrimSpace(s)
			switch {
			case s == "":
				continue
			case s == "*":
				set.all = true
				continue
			}
			p, err := parsePeer(s)
			if err != nil {
				return nil, fmt.Errorf("--forwarded-allow-ips %q: want an IP address, a CIDR prefix or *", s)
			}
			set.prefixes = append(set.prefixes, p)
		}
	}
	return set, nil
}

func parsePeer(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		// An IPv4-mapped prefix (::ffff:10.0.0.0/104) matches the IPv4
		// addresses it names, since peers are unmapped before matching.
		if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	if a.Zone() != "" {
		return netip.Prefix{}, fmt.Errorf("zoned address")
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// Contains reports whether ip is trusted. An IPv4 peer seen on a dual-stack
// socket as ::ffff:a.b.c.d matches a.b.c.d, and an IPv6 zone is ignored.
func (s *PeerSet) Contains(ip netip.Addr) bool {
	if s.all {
		return ip.IsValid()
	}
	ip = ip.Unmap().WithZone("")
	for _, p := range s.prefixes {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// Empty reports whether the set trusts nobody.
func (s *PeerSet) Empty() bool { return !s.all && len(s.prefixes) == 0 }
