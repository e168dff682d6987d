package ranges

import (
	"net/netip"
	"testing"
)

func TestNestedMoreSpecificWins(t *testing.T) {
	var m Map[string]
	for _, c := range []struct{ p, v string }{
		{"10.0.0.0/8", "big"}, {"10.1.0.0/16", "mid"}, {"10.1.2.3/32", "one"},
		{"2001:db8::/32", "v6"}, {"2001:db8:0:1::/64", "v6sub"},
	} {
		m.Add(netip.MustParsePrefix(c.p), c.v)
	}
	for _, c := range []struct{ a, want string }{
		{"10.0.0.1", "big"}, {"10.1.0.0", "mid"}, {"10.1.2.2", "mid"}, {"10.1.2.3", "one"}, {"10.1.2.4", "mid"},
		{"10.2.0.0", "big"}, {"10.255.255.255", "big"}, {"11.0.0.0", ""}, {"9.255.255.255", ""},
		{"::ffff:10.1.2.3", "one"},
		{"2001:db8::1", "v6"}, {"2001:db8:0:1::5", "v6sub"}, {"2001:db8:0:2::", "v6"}, {"2001:db9::", ""},
	} {
		got, ok := m.Find(netip.MustParseAddr(c.a))
		if got != c.want || ok != (c.want != "") {
			t.Errorf("%s: %q %v, want %q", c.a, got, ok, c.want)
		}
	}
	if m.Len() != 8 { // big around mid (2), mid around one (2), one; v6 around v6sub (2), v6sub
		t.Errorf("%d intervals", m.Len())
	}
}

func TestEdges(t *testing.T) {
	var m Map[int]
	m.Add(netip.MustParsePrefix("0.0.0.0/0"), 1)
	m.Add(netip.MustParsePrefix("255.255.255.255/32"), 2)
	m.Add(netip.MustParsePrefix("::/0"), 3)
	m.Add(netip.MustParsePrefix("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128"), 4)
	for _, c := range []struct {
		a    string
		want int
	}{{"0.0.0.0", 1}, {"255.255.255.254", 1}, {"255.255.255.255", 2}, {"::", 3}, {"ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe", 3}, {"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 4}} {
		if got, _ := m.Find(netip.MustParseAddr(c.a)); got != c.want {
			t.Errorf("%s: %d, want %d", c.a, got, c.want)
		}
	}
}
