package config

import (
	"net/netip"
	"strings"
	"testing"
)

func TestPeerSet(t *testing.T) {
	tests := []struct {
		list []string
		in   []string
		out  []string
	}{
		{[]string{"127.0.0.1", "::1"}, []string{"127.0.0.1", "::1", "::ffff:127.0.0.1"}, []string{"127.0.0.2", "::2", "10.0.0.1"}},
		{[]string{"10.0.0.0/8, 192.168.1.0/24"}, []string{"10.1.2.3", "192.168.1.255", "::ffff:10.0.0.1"}, []string{"11.0.0.0", "192.168.2.1", "::1"}},
		{[]string{"2001:db8::/32"}, []string{"2001:db8::1", "2001:db8:ffff::1", "2001:db8::2%eth0"}, []string{"2001:db9::1", "10.0.0.1"}},
		{[]string{"::ffff:10.0.0.0/104"}, []string{"10.9.9.9"}, []string{"11.0.0.1"}},
		{[]string{"10.1.2.3/8"}, []string{"10.200.0.1"}, []string{"9.255.255.255"}}, // host bits are masked off
		{[]string{"*"}, []string{"1.2.3.4", "::1", "2001:db8::1"}, nil},
		{[]string{}, nil, []string{"127.0.0.1", "::1"}},
		{[]string{""}, nil, []string{"127.0.0.1"}},
		{[]string{" 127.0.0.1 ,, "}, []string{"127.0.0.1"}, []string{"127.0.0.2"}},
	}
	for _, tt := range tests {
		set, err := ParsePeerSet(tt.list)
		if err != nil {
			t.Fatalf("%q: %v", tt.list, err)
		}
		for _, s := range tt.in {
			if !set.Contains(netip.MustParseAddr(s)) {
				t.Errorf("%q does not contain %s", tt.list, s)
			}
		}
		for _, s := range tt.out {
			if set.Contains(netip.MustParseAddr(s)) {
				t.Errorf("%q contains %s", tt.list, s)
			}
		}
	}
	if set, _ := ParsePeerSet(nil); !set.Empty() || set.Contains(netip.Addr{}) {
		t.Error("an empty list must trust nobody")
	}
	if set, _ := ParsePeerSet([]string{"*"}); set.Contains(netip.Addr{}) {
		t.Error("* must not match an invalid address")
	}
}

func TestPeerSetRejects(t *testing.T) {
	for _, s := range []string{"localhost", "127.0.0.256", "10.0.0.0/33", "::1/129", "fe80::1%eth0", "1.2.3.4/", "01.2.3.4", "**", "1.2.3.4 5.6.7.8"} {
		if _, err := ParsePeerSet([]string{s}); err == nil || !strings.Contains(err.Error(), "--forwarded-allow-ips") {
			t.Errorf("%q: got %v, want an error naming the flag", s, err)
		}
	}
}

func TestProxyOptions(t *testing.T) {
	o := Defaults()
	o.Module = "hello"
	if got := strings.Join(o.ForwardedAllowIPs, ","); got != "127.0.0.1,::1" {
		t.Errorf("default --forwarded-allow-ips %q", got)
	}
	if o.ProxyProtocol {
		t.Error("--proxy-protocol must be off by default")
	}
	// Not validated yet: parsed on demand.
	if !o.TrustedPeers().Contains(netip.MustParseAddr("::1")) {
		t.Error("the default must trust ::1")
	}
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	if !o.TrustedPeers().Contains(netip.MustParseAddr("127.0.0.1")) || o.TrustedPeers().Contains(netip.MustParseAddr("10.0.0.1")) {
		t.Error("the validated default must trust exactly loopback")
	}
	o.ForwardedAllowIPs = []string{"10.0.0.0/8", "bogus"}
	err := o.Validate()
	if err == nil || !strings.Contains(err.Error(), `"bogus"`) {
		t.Fatalf("got %v, want an error about bogus", err)
	}
	if o.TrustedPeers().Contains(netip.MustParseAddr("10.0.0.1")) {
		t.Error("an invalid list must trust nobody")
	}
}
