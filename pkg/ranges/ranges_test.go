package ranges

import (
	"cmp"
	"net/netip"
	"slices"
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

// FuzzAgreesWithTheMostSpecific: prefixes from the fuzzer's bytes (IPv4
// and IPv6, nested or not, some repeated), added larger first as callers
// do; every address looked up gets the value of the most specific prefix
// that holds it (of equal ones, the last added), as a brute-force search
// says, or none. The intervals stay sorted and disjoint.
func FuzzAgreesWithTheMostSpecific(f *testing.F) {
	f.Add([]byte{10, 0, 0, 0, 8, 10, 1, 0, 0, 16, 10, 1, 2, 3, 32, 192, 0, 2, 0, 24})
	f.Add([]byte{0, 0, 0, 0, 0, 255, 255, 255, 255, 32, 128, 0, 0, 0, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		type entry struct {
			p netip.Prefix
			v int
		}
		var es []entry
		for i := 0; i+5 <= len(b) && len(es) < 64; i += 5 {
			var a netip.Addr
			if b[i+4]&0x80 != 0 { // IPv6: the four bytes at the top, a 2001:db8::/32-like spread
				var x [16]byte
				copy(x[:4], b[i:i+4])
				a = netip.AddrFrom16(x)
			} else {
				a = netip.AddrFrom4([4]byte(b[i : i+4]))
			}
			bits := int(b[i+4]&0x7f) % (a.BitLen() + 1)
			es = append(es, entry{netip.PrefixFrom(a, bits).Masked(), len(es)})
		}
		slices.SortStableFunc(es, func(x, y entry) int { return cmp.Compare(x.p.Bits(), y.p.Bits()) })
		var m Map[int]
		for _, e := range es {
			m.Add(e.p, e.v)
		}
		for k := 1; k < len(m.v4); k++ {
			if m.v4[k-1].hi >= m.v4[k].lo || m.v4[k].lo > m.v4[k].hi {
				t.Fatalf("IPv4 intervals overlap or are out of order: %v", m.v4)
			}
		}
		probe := func(a netip.Addr) {
			want, found := 0, false
			for _, e := range es { // larger first: a later match is as or more specific
				if e.p.Contains(a) {
					want, found = e.v, true
				}
			}
			got, ok := m.Find(a)
			if ok != found || got != want {
				t.Fatalf("%v: %d %v, want %d %v (prefixes %v)", a, got, ok, want, found, es)
			}
		}
		for _, e := range es {
			a := e.p.Addr()
			probe(a)
			probe(a.Prev())
			probe(a.Next())
			last := netipLast(e.p)
			probe(last)
			probe(last.Next())
		}
	})
}

// netipLast is the last address of p.
func netipLast(p netip.Prefix) netip.Addr {
	a := p.Masked().Addr().AsSlice()
	for i := p.Bits(); i < len(a)*8; i++ {
		a[i/8] |= 0x80 >> (i % 8)
	}
	last, _ := netip.AddrFromSlice(a)
	return last
}

// TestMappedPrefixIsIPv4: an IPv4-mapped IPv6 prefix in a list (a benign
// list's ::ffff:192.0.2.0/120) holds the IPv4 addresses it maps; it was
// kept as IPv6 and matched no IPv4 source.
func TestMappedPrefixIsIPv4(t *testing.T) {
	var m Map[string]
	m.Add(netip.MustParsePrefix("::ffff:192.0.2.0/120"), "x")
	for a, want := range map[string]bool{"192.0.2.7": true, "::ffff:192.0.2.7": true, "192.0.3.1": false} {
		if _, ok := m.Find(netip.MustParseAddr(a)); ok != want {
			t.Errorf("%s: found %v, want %v", a, ok, want)
		}
	}
}
