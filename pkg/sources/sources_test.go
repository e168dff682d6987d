package sources

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/synscope/synscope/pkg/decode"
)

func syn(src, dst string, ts int64) decode.Syn {
	var s decode.Syn
	a, b := netip.MustParseAddr(src), netip.MustParseAddr(dst)
	s.V6 = a.Is6()
	if s.V6 {
		s.Src, s.Dst = a.As16(), b.As16()
	} else {
		a4, b4 := a.As4(), b.As4()
		copy(s.Src[:], a4[:])
		copy(s.Dst[:], b4[:])
	}
	s.Ts, s.DstPort, s.Flags = ts, 445, 2
	return s
}

// One address type: every way into it gives the same key, and back.
func TestAddrConversions(t *testing.T) {
	for _, c := range []struct {
		addr, prefix string
	}{
		{"192.0.2.77", "192.0.2.0/24"},
		{"2001:db8:1:2::7", "2001:db8:1::/48"},
	} {
		a := netip.MustParseAddr(c.addr)
		s := syn(c.addr, c.addr, 0)
		k := SrcOf(&s)
		if k != FromNetip(a) || k != DstOf(&s) {
			t.Errorf("%s: SrcOf %v, DstOf %v, FromNetip %v", c.addr, k, DstOf(&s), FromNetip(a))
		}
		if k.Netip() != a || k.Is4() != a.Is4() {
			t.Errorf("%s: back to %v (Is4 %v)", c.addr, k.Netip(), k.Is4())
		}
		if k.Is4() && fromV4(k.V4()) != k {
			t.Errorf("%s: V4 round trip", c.addr)
		}
		if PrefixOf(&s) != k.Prefix() || !k.Prefix().valid() {
			t.Errorf("%s: PrefixOf %x, Addr.Prefix %x", c.addr, PrefixOf(&s), k.Prefix())
		}
		// Two addresses of the same /24 or /48 share the prefix; the next
		// prefix does not.
		p := netip.MustParsePrefix(c.prefix)
		last := p.Addr()
		for range 200 {
			if n := last.Next(); p.Contains(n) {
				last = n
			}
		}
		if FromNetip(last).Prefix() != k.Prefix() {
			t.Errorf("%s and %s: different prefixes", c.addr, last)
		}
	}
	if FromNetip(netip.MustParseAddr("::ffff:192.0.2.1")) != FromNetip(netip.MustParseAddr("192.0.2.1")) {
		t.Error("IPv4-mapped and IPv4 differ")
	}
}

func TestFloor(t *testing.T) {
	for _, c := range []struct{ t, w, want int64 }{{10, 5, 10}, {12, 5, 10}, {-1, 5, -5}, {-5, 5, -5}, {-6, 5, -10}} {
		if got := FloorTo(c.t, c.w); got != c.want {
			t.Errorf("FloorTo(%d, %d) = %d, want %d", c.t, c.w, got, c.want)
		}
	}
}

// synEv is Table.Syn with its event as a value (NoEvent when none).
func synEv(t *Table, s *decode.Syn) Event {
	var ev Event
	if !t.Syn(s, &ev) {
		return Event{}
	}
	return ev
}

func newTable(capacity int) *Table {
	cfg := &Config{Window: int64(time.Minute), Lookback: int64(10 * time.Minute), TopSources: 3, ScannerTargets: 5,
		HomeNet: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}
	return NewTable(cfg, capacity, 0)
}

// A source is new at its first SYN, known within the lookback, and new
// again (returning) after a longer silence, across generations.
func TestTableNewKnownReturning(t *testing.T) {
	tab := newTable(100)
	sec := int64(time.Second)
	s := syn("198.51.100.1", "192.0.2.1", 0)
	if ev := synEv(tab, &s); ev.Kind != NewSource || ev.Returning || ev.Dir != DirExternal {
		t.Fatalf("first SYN: %+v", ev)
	}
	s.Ts = 60 * sec
	if ev := synEv(tab, &s); ev.Kind != NoEvent {
		t.Fatalf("within the lookback: %+v", ev)
	}
	tab.Rotate(11 * 60 * sec) // into the old generation, still remembered
	s.Ts = 30 * 60 * sec
	ev := synEv(tab, &s)
	if ev.Kind != NewSource || !ev.Returning || ev.T != 60*sec {
		t.Fatalf("after 29 minutes of silence: %+v", ev)
	}
	c := tab.TakeCounts()
	if c.New != 2 || c.Returning != 1 || c.Active != 3 || c.NewPrefixes != 2 {
		t.Errorf("counts %+v", c)
	}
	if tab.Tracked() != 1 {
		t.Errorf("tracked %d", tab.Tracked())
	}
}

// One of our own hosts becomes a scanner once at ScannerTargets
// destinations.
func TestTableScanner(t *testing.T) {
	tab := newTable(100)
	scanners := 0
	for i := range 40 {
		s := syn("10.1.1.1", netip.AddrFrom4([4]byte{198, 51, 100, byte(i)}).String(), int64(i))
		if ev := synEv(tab, &s); ev.Kind == Scanner {
			scanners++
			if ev.Dir != DirOutbound || ev.Targets < 5 || ev.Syns != uint32(i+1) {
				t.Errorf("scanner event %+v at SYN %d", ev, i+1)
			}
		}
	}
	if scanners != 1 {
		t.Errorf("%d scanner events, want 1", scanners)
	}
}

// A full table makes room by evicting one-SYN sources and counts what it
// could not keep: every source is accounted for.
func TestTableStaysAtCap(t *testing.T) {
	tab := newTable(50)
	for i := range 1000 {
		s := syn(netip.AddrFrom4([4]byte{203, 0, byte(i >> 8), byte(i)}).String(), "192.0.2.1", int64(i))
		synEv(tab, &s)
	}
	tot := tab.Totals()
	if tab.Tracked() > 50 || uint64(tab.Tracked())+tot.Evicted+tot.Untracked != 1000 {
		t.Errorf("tracked %d, evicted %d, untracked %d: want at most 50 and 1000 in all", tab.Tracked(), tot.Evicted, tot.Untracked)
	}
}

// A spoofed flood past the cap must not leave a real scanner untracked:
// the table at its cap has free slots, and a scanner hashed where none of
// its sources lie found no victim near its home and was refused on every
// SYN, so counted new on every one (a review: 150 source records for 59
// scanners, and an exponential alert, at --max-sources 4000). The clock
// hand finds a flood's one-SYN source anywhere.
func TestFloodPastTheCapKeepsScanners(t *testing.T) {
	const capacity, scanners = 2000, 200
	tab := newTable(capacity)
	ms := int64(time.Millisecond)
	spoofed := uint32(0x0b000000)
	news := 0
	scanner := func(n int, ts int64) { // the scanners' n-th SYN, each to a new target
		src := netip.AddrFrom4([4]byte{198, 51, byte(100 + n%scanners/256), byte(n % scanners)})
		dst := netip.AddrFrom4([4]byte{192, 0, byte(2 + n/scanners/256), byte(n / scanners)})
		s := syn(src.String(), dst.String(), ts)
		if ev := synEv(tab, &s); ev.Kind == NewSource {
			news++
		}
	}
	for i := range 40 * capacity {
		ts := int64(i) * ms
		spoofed = spoofed*1664525 + 1013904223 // distinct addresses
		s := syn(netip.AddrFrom4([4]byte{byte(spoofed >> 24), byte(spoofed >> 16), byte(spoofed >> 8), byte(spoofed)}).String(), "192.0.2.1", ts)
		synEv(tab, &s)
		// Once the flood has filled the table, the scanners: two SYNs
		// each at once (scanning, not one-SYN), then one every so often.
		if j := i - 4*capacity; j >= 0 && j%20 == 0 {
			scanner(j/20, ts)
			if j/20 < scanners {
				scanner(j/20+scanners, ts)
			}
		}
	}
	tot := tab.Totals()
	if news != scanners || tot.Untracked != 0 {
		t.Errorf("%d scanners new %d times, %d sources untracked (evicted %d, tracked %d of %d)",
			scanners, news, tot.Untracked, tot.Evicted, tab.Tracked(), capacity)
	}
}

// A state record read back is the record written; impossible values are
// refused.
func TestSavedRecords(t *testing.T) {
	v := Saved{Addr: FromNetip(netip.MustParseAddr("2001:db8::1")), First: 1e18, Last: 1e18 + 5e9, Syns: 70000, Sketch: 0xbeef, Dir: DirOutbound, Reported: true}
	var b [SourceRecLen]byte
	v.Encode(b[:])
	got, err := DecodeSaved(b[:])
	if err != nil || got != v {
		t.Fatalf("%+v %v, want %+v", got, err, v)
	}
	b[38] = 9
	if _, err := DecodeSaved(b[:]); err == nil {
		t.Error("direction 9 accepted")
	}
	p := SavedPrefix{Prefix: FromNetip(netip.MustParseAddr("192.0.2.1")).Prefix(), Last: 42}
	var pb [PrefixRecLen]byte
	p.Encode(pb[:])
	if gp, err := DecodeSavedPrefix(pb[:]); err != nil || gp != p {
		t.Fatalf("%+v %v", gp, err)
	}
	pb[7] = 5 // family tag 5
	if _, err := DecodeSavedPrefix(pb[:]); err == nil {
		t.Error("family 5 accepted")
	}
}

// Sources saved from one table and restored in another come back with what
// they had.
func TestEachRestore(t *testing.T) {
	a := newTable(100)
	for i := range 5 {
		s := syn(netip.AddrFrom4([4]byte{198, 51, 100, byte(i)}).String(), "192.0.2.1", int64(i)*int64(time.Second))
		synEv(a, &s)
		synEv(a, &s)
	}
	var saved []Saved
	var prefixes []SavedPrefix
	a.Each(func(v Saved) { saved = append(saved, v) }, func(p SavedPrefix) { prefixes = append(prefixes, p) })
	if len(saved) != 5 || len(prefixes) != 1 {
		t.Fatalf("%d sources, %d prefixes", len(saved), len(prefixes))
	}
	b := newTable(100)
	b.StartRestore(10*int64(time.Second), true)
	for i := range saved {
		b.Restore(&saved[i], true)
	}
	for i := range prefixes {
		b.RestorePrefix(&prefixes[i], true)
	}
	var again []Saved
	b.Each(func(v Saved) { again = append(again, v) }, func(SavedPrefix) {})
	if len(again) != 5 {
		t.Fatalf("restored %d", len(again))
	}
	for i := range again {
		if again[i].Syns != 2 || again[i].Dir != DirExternal {
			t.Errorf("restored %+v", again[i])
		}
	}
	s := syn("198.51.100.3", "192.0.2.1", 20*int64(time.Second))
	if ev := synEv(b, &s); ev.Kind != NoEvent {
		t.Errorf("a restored source within the lookback is new: %+v", ev)
	}
}

// TestHeavyCountOfAReturningSource: a source that comes back while its
// old episode is still being let go (the dropped generation drains a few
// entries at a time) starts a new episode under the same address; once it
// passed 2047 SYNs its count's high part (kept by address) was deleted
// when the drain reached the old entry, which was offered to the top list
// with the new episode's count. Each episode keeps its own.
func TestHeavyCountOfAReturningSource(t *testing.T) {
	const L = int64(time.Hour)
	cfg := &Config{Window: int64(5 * time.Minute), Lookback: L, TopSources: 5}
	t0 := int64(1231545600) * int64(time.Second)
	tab := NewTable(cfg, 10_000_000, t0)
	var ev Event
	for i := range 1_000_000 { // enough that the drain reaches the source late
		s := syn(fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255), "198.18.0.1", t0+int64(time.Second))
		tab.Syn(&s, &ev)
	}
	const a = "203.0.113.10"
	s := syn(a, "198.18.0.1", t0+int64(time.Second))
	tab.Syn(&s, &ev)
	tab.Rotate(t0 + L)
	tab.Rotate(t0 + 2*L)
	const n = 8000
	for i := range n { // the same pair: not promoted, its count past 2047
		s := syn(a, "198.18.0.9", t0+2*L+int64(time.Second)+int64(i)*int64(time.Millisecond))
		tab.Syn(&s, &ev)
	}
	tab.Finish()
	found := false
	for _, x := range tab.Top() {
		if x.Addr.String() == a {
			found = true
			if x.FirstSeen > t0+L && x.SynPackets != n || x.FirstSeen <= t0+L && x.SynPackets != 1 {
				t.Errorf("%s: a top entry of %d SYNs first seen at +%v (the old episode sent 1, the new %d)", a, x.SynPackets, time.Duration(x.FirstSeen-t0), n)
			}
		}
	}
	if !found {
		t.Error("the returning source is not in the top list")
	}
}
