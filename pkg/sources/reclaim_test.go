package sources

import (
	"net/netip"
	"testing"
	"time"

	"github.com/synscope/synscope/pkg/decode"
	"github.com/synscope/synscope/pkg/srctable"
)

// spoof sends n sources from base one SYN to each of pairs hosts (port
// 445), all within [at, at+span).
func spoof(tab *Table, base uint32, n, pairs int, at, span int64) {
	step := span / int64(n*pairs)
	for k := range n {
		feed(tab, v4(base+uint32(k)), pairs, func(i int) ([4]byte, uint16) { return v4(0xc6130000 + uint32(i)), 445 },
			func(i int) int64 { return at + int64(k*pairs+i)*step })
	}
}

// sweep is a scanner's 40 SYNs to 40 hosts on 445, a second apart from at.
func sweep(tab *Table, src uint32, at int64) []Event {
	return feed(tab, v4(src), 40, func(i int) ([4]byte, uint16) { return v4(0xc6120000 + uint32(i)), 445 },
		func(i int) int64 { return at + int64(i)*int64(time.Second) })
}

// Spoofed sources of two pairs each that fill stage 1's slab in one scan
// interval leave a scanner in a later one its stage 1 (they kept it for a
// lookback: 1.25 M sources per 10 M of --max-sources hid every scanner for
// a day, a review).
func TestScanAfterSpoofedPairs(t *testing.T) {
	tab := scanTable()
	spoof(tab, 0x0b000000, tab.rs.max+1000, 2, 0, int64(4*time.Minute))
	if tab.tot.ReachFull == 0 {
		t.Fatalf("%d sources of 2 pairs did not fill the slab of %d", tab.rs.max+1000, tab.rs.max)
	}
	full := tab.tot.ReachFull
	if evs := sweep(tab, 0xcb000009, int64(10*time.Minute)); len(evs) == 0 || evs[0].Scan != AddressScan || evs[0].Targets < 25 {
		t.Errorf("a sweep of 40 hosts after the spoofed sources: %+v (reach_full %d)", evs, tab.tot.ReachFull)
	}
	if tab.tot.ReachFull != full {
		t.Errorf("reach_full %d after the sweep, %d before", tab.tot.ReachFull, full)
	}
}

// The same for stage 2: sources of eight pairs each (40,000 per 10 M of
// --max-sources) kept their wide entries for a lookback, and no address
// scan past stage 1's pairs was seen (a review).
func TestAddressScanAfterSpoofedWideSources(t *testing.T) {
	tab := scanTable()
	spoof(tab, 0x0b000000, tab.wides.max+500, 8, 0, int64(4*time.Minute))
	if tab.tot.ReachFull == 0 {
		t.Fatalf("%d sources of 8 pairs did not fill the slab of %d", tab.wides.max+500, tab.wides.max)
	}
	if evs := sweep(tab, 0xcb000009, int64(10*time.Minute)); len(evs) == 0 || evs[0].Scan != AddressScan || evs[0].Targets < 25 {
		t.Errorf("a sweep of 40 hosts after the spoofed sources: %+v (reach_full %d)", evs, tab.tot.ReachFull)
	}
}

// What is taken back: only entries of sources whose interval is over and
// that were never reported. A reported scanner keeps its reach, a source
// in the current interval its entry; a source sent back to stage 0 keeps
// its SYN count (past 2,047: the heavy count) and counts its reach again
// when it comes back.
func TestReclaimTakesOnlyWhatIsDone(t *testing.T) {
	tab := scanTable()
	min := int64(time.Minute)
	if evs := sweep(tab, 0xcb000001, 0); len(evs) == 0 || evs[0].Scan != AddressScan {
		t.Fatalf("the scanner: %+v", evs)
	}
	quiet := v4(0xcb000002) // 3,000 SYNs to 10 hosts: wide, never a scanner
	feed(tab, quiet, 3000, func(i int) ([4]byte, uint16) { return v4(0xc6120000 + uint32(i%10)), 445 },
		func(i int) int64 { return int64(i) * int64(time.Millisecond) })
	if i, wide := mustVal(t, tab, quiet).reachIdx(); !wide {
		t.Fatalf("the quiet source is not wide (entry %d)", i)
	}
	// Interval 2 (5 to 10 min): the slab fills and is taken back from.
	spoof(tab, 0x0b000000, tab.wides.max+500, 8, 5*min, 4*min)
	if v := mustVal(t, tab, quiet); v.promoted() || tab.syns(FromNetip(netip.AddrFrom4(quiet)), *v) != 3000 {
		t.Errorf("the quiet source: promoted %v, %d SYNs, want stage 0 and 3,000", v.promoted(), tab.syns(FromNetip(netip.AddrFrom4(quiet)), *v))
	}
	if i, wide := mustVal(t, tab, v4(0xcb000001)).reachIdx(); !wide || tab.wides.at(i).nD <= exactMax {
		t.Errorf("the reported scanner lost its reach")
	}
	// The last spoofed sources (interval 2) kept theirs.
	last := v4(0x0b000000 + uint32(tab.wides.max+499))
	if v := mustVal(t, tab, last); !v.promoted() {
		t.Errorf("a source of the current interval was sent back to stage 0")
	}
	// The quiet source comes back: counted from there.
	feed(tab, quiet, 3, func(i int) ([4]byte, uint16) { return v4(0xc6120100 + uint32(i)), 80 },
		func(i int) int64 { return 11*min + int64(i) })
	v := mustVal(t, tab, quiet)
	if d, p := tab.reachOf(*v); !v.promoted() || d != 3 || p != 1 || tab.syns(FromNetip(netip.AddrFrom4(quiet)), *v) != 3003 {
		t.Errorf("the quiet source back: reach %d, %d, %d SYNs; want 3, 1 and 3,003", d, p, tab.syns(FromNetip(netip.AddrFrom4(quiet)), *v))
	}
}

func mustVal(t *testing.T, tab *Table, src [4]byte) *srcVal {
	t.Helper()
	k := FromNetip(netip.AddrFrom4(src)).V4()
	v, _ := lookup(tab, v4table, k, srctable.Hash4(k))
	if v == nil {
		t.Fatalf("%v not in the table", src)
	}
	return v
}

// A source of the dropped generation (being let go) is sent back to stage
// 0 there, its heavy count among the dropped generation's.
func TestDemoteInTheDroppedGeneration(t *testing.T) {
	tab := scanTable()
	src := v4(0xcb000002)
	feed(tab, src, 3000, func(i int) ([4]byte, uint16) { return v4(0xc6120000 + uint32(i%10)), 445 },
		func(i int) int64 { return int64(i) * int64(time.Millisecond) })
	i, wide := mustVal(t, tab, src).reachIdx()
	if !wide {
		t.Fatal("not wide")
	}
	tab.drop, tab.cur = tab.cur, newGen(int64(time.Hour), 0)
	k := FromNetip(netip.AddrFrom4(src))
	if !tab.demote(k, i, true) {
		t.Fatal("not demoted")
	}
	v := tab.drop.v4.Get(k.V4(), srctable.Hash4(k.V4()))
	if v.promoted() || tab.synsIn(k, *v, tab.dropHeavy) != 3000 || len(tab.heavy) != 0 {
		t.Errorf("promoted %v, %d SYNs, heavy %v", v.promoted(), tab.synsIn(k, *v, tab.dropHeavy), tab.heavy)
	}
	if tab.demote(k, i, true) {
		t.Error("demoted twice")
	}
}

// A state saved by a run with a longer lookback holds sources silent for
// longer than this run's: they are forgotten at restore, into the memory
// (a return is told without a last SYN), not kept with the lookback's
// start as their last SYN (a source back after 10 h was told returning
// with a prev_last_seen 1 h before the state's clock, a review).
func TestRestoreForgetsPastTheLookback(t *testing.T) {
	hour := int64(time.Hour)
	cfg := &Config{Window: int64(5 * time.Minute), Lookback: hour, Remember: 24 * hour, TopSources: 3,
		ScanHosts: 25, ScanPorts: 15, ScanInterval: int64(5 * time.Minute)}
	clock := 100 * hour
	tab := NewTable(cfg, 1<<10, clock)
	old, recent := v4(0xcb000001), v4(0xcb000002)
	tab.StartRestore(clock, true)
	for _, v := range []Saved{
		{Addr: FromNetip(netip.AddrFrom4(old)), First: clock - 11*hour, Last: clock - 10*hour, Syns: 3},
		{Addr: FromNetip(netip.AddrFrom4(recent)), First: clock - hour/2, Last: clock - hour/2 + 1234567, Syns: 3},
	} {
		tab.Restore(&v, true)
	}
	var s decode.Syn
	s.Flags, s.DstPort = 2, 445
	copy(s.Src[:], old[:])
	s.Ts = clock + int64(time.Minute)
	var ev Event
	if !tab.Syn(&s, &ev) || ev.Kind != NewSource || !ev.Returning || ev.T != 0 {
		t.Errorf("the source silent 10 h: %+v, want new, returning, no last SYN", ev)
	}
	v, g := lookup(tab, v4table, FromNetip(netip.AddrFrom4(recent)).V4(), srctable.Hash4(FromNetip(netip.AddrFrom4(recent)).V4()))
	if v == nil || g.abs(v.last) != clock-hour/2+1000000 {
		t.Errorf("the source silent 30 min: not kept as saved")
	}
}

// A full slab takes back the entries of a flood's sources (their SYNs in
// one burst: no gap of half a second) before a slow scanner's or a
// sleeper's,
// whose activity (its sleeps) would be lost with its entry (a review: a
// sweeper sleeping while 900 spoofed sources came was one sleeper twice,
// a sleep short).
func TestReclaimKeepsSlowScanners(t *testing.T) {
	tab := scanTable()
	ms := int64(time.Millisecond)
	burst := func(base uint32, n int, at int64) int64 {
		for k := range n {
			feed(tab, v4(base+uint32(k)), 8, func(i int) ([4]byte, uint16) { return v4(0xc6130000 + uint32(i)), 445 },
				func(i int) int64 { return at + int64(i)*ms })
			at += 8 * ms
		}
		return at
	}
	at := burst(0x0b000000, 5, 0)
	// A source of two bursts 9 minutes apart (asleep between them: not
	// one burst, a review) and one sending a SYN every 10 s.
	sleeper := v4(0xcb000006)
	burstOf := func(src [4]byte, from int64, hosts uint32) {
		feed(tab, src, 8, func(i int) ([4]byte, uint16) { return v4(0xc6140000 + hosts + uint32(i)), 445 },
			func(i int) int64 { return from + int64(i)*ms })
	}
	burstOf(sleeper, at, 0)
	slow := v4(0xcb000007)
	feed(tab, slow, 15, func(i int) ([4]byte, uint16) { return v4(0xc6120000 + uint32(i)), 445 },
		func(i int) int64 { return at + int64(i)*10*int64(time.Second) })
	burst(0x0b100000, tab.wides.max-7, at+150*int64(time.Second))
	if tab.wides.inUse() != tab.wides.max {
		t.Fatalf("%d of %d wide entries in use", tab.wides.inUse(), tab.wides.max)
	}
	burstOf(sleeper, at+int64(9*time.Minute), 8)
	burst(0x0c000000, 100, int64(10*time.Minute)) // a later interval: taken back
	for _, c := range []struct {
		name string
		src  [4]byte
		want int
	}{{"slow scanner", slow, 15}, {"sleeper", sleeper, 16}} {
		v := mustVal(t, tab, c.src)
		if _, wide := v.reachIdx(); !v.promoted() || !wide {
			t.Errorf("the %s lost its entry to a flood", c.name)
			continue
		}
		if d, _ := tab.reachOf(*v); d != c.want {
			t.Errorf("the %s's reach: %d destinations, want %d", c.name, d, c.want)
		}
	}
}
