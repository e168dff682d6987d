package sources

import (
	"net/netip"
	"strings"
	"testing"
)

func TestSpace(t *testing.T) {
	pp := func(ss ...string) (out []netip.Prefix) {
		for _, s := range ss {
			out = append(out, netip.MustParsePrefix(s))
		}
		return out
	}
	sp, err := NewSpace(pp("198.18.5.7/32", "198.18.9.0/24", "2001:db8:0:d::1/128"), pp("198.18.0.0/20", "2001:db8::/48", "203.0.113.0/24"))
	if err != nil {
		t.Fatal(err)
	}
	for addr, want := range map[string]SpaceKind{
		"198.18.0.0": Dark, "198.18.5.6": Dark, "198.18.5.7": Decoy, "198.18.5.8": Dark, "198.18.15.255": Dark,
		"198.18.16.0": NotWatched, "198.18.9.200": Decoy, "203.0.113.255": Dark, "203.0.114.0": NotWatched, "10.0.0.1": NotWatched,
		"2001:db8::5": Dark, "2001:db8:0:d::1": Decoy, "2001:db8:0:d::2": Dark, "2001:db8:d::2": NotWatched, "2001:db8:1::": NotWatched, "::1": NotWatched,
	} {
		src := "192.0.2.1"
		if netip.MustParseAddr(addr).Is6() {
			src = "2001:db8:ffff::1"
		}
		s := syn(src, addr, 0)
		if got := sp.KindOf(&s); got != want {
			t.Errorf("%s: %v, want %v", addr, got, want)
		}
	}
	if _, err := NewSpace(pp("198.18.0.0/24", "198.18.0.128/25"), nil); err == nil || !strings.Contains(err.Error(), "decoys") {
		t.Errorf("overlapping decoys: %v", err)
	}
	if _, err := NewSpace(nil, pp("2001:db8::/32", "2001:db8:1::/48")); err == nil || !strings.Contains(err.Error(), "dark-net") {
		t.Errorf("overlapping dark ranges: %v", err)
	}
	if sp, err := NewSpace(nil, nil); sp != nil || err != nil {
		t.Errorf("no space: %v %v", sp, err)
	}
}

// A source's first SYN to watched space in its episode is told, once; a
// new episode is told again.
func TestWatchFirstTouch(t *testing.T) {
	sp, _ := NewSpace([]netip.Prefix{netip.MustParsePrefix("198.18.5.7/32")}, []netip.Prefix{netip.MustParsePrefix("198.18.6.0/24")})
	tab := newTable(100)
	tab.cfg.Space = sp
	sec := int64(1e9)
	var told []SpaceKind
	for i, dst := range []string{"198.18.4.1", "198.18.5.7", "198.18.5.7", "198.18.6.9", "198.18.6.10"} {
		s := syn("203.0.113.9", dst, int64(i)*sec)
		var ev Event
		if tab.Watch(&s, &ev, tab.Syn(&s, &ev)) && ev.Space != NotWatched {
			told = append(told, ev.Space)
		}
	}
	// The first touch of watched space only: decoy at the second SYN.
	if len(told) != 1 || told[0] != Decoy {
		t.Errorf("told %v", told)
	}
	s := syn("203.0.113.9", "198.18.6.11", 11*60*sec) // new episode after the lookback (10 min)
	var ev Event
	if !tab.Watch(&s, &ev, tab.Syn(&s, &ev)) || ev.Kind != NewSource || ev.Space != Dark {
		t.Errorf("new episode: %+v", ev)
	}
}
