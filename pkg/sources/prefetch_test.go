package sources

import (
	"net/netip"
	"reflect"
	"testing"
	"time"

	"github.com/synscope/synscope/pkg/srctable"
)

// A promoted source gets a hint of where its reach entry is, in both its
// stages; hints are only prefetched from, so a table told every SYN ahead,
// with stale and out-of-range hints among them, makes the same events and
// counts as one never told.
func TestReachHintsChangeNothing(t *testing.T) {
	srcs := []string{"198.51.100.1", "198.51.100.2", "2001:db8::7"}
	stream := func() []struct{ src, dst string } {
		var out []struct{ src, dst string }
		for i := range 300 {
			src := srcs[i%len(srcs)]
			n := 3 // the first source stays at stage 1 (3 pairs), the others widen
			if i%len(srcs) != 0 {
				n = 250
			}
			d := byte(i / len(srcs) % n)
			dst := netip.AddrFrom4([4]byte{192, 0, 2, d}).String()
			if netip.MustParseAddr(src).Is6() {
				dst = netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 15: d}).String()
			}
			out = append(out, struct{ src, dst string }{src, dst})
		}
		return out
	}()
	run := func(ahead bool) ([]Event, Counts, *Table) {
		tab := newTable(100)
		var evs []Event
		for i, x := range stream {
			s := syn(x.src, x.dst, int64(i)*int64(time.Second))
			if ahead {
				if i%50 == 49 && tab.hints != nil {
					// hints pointing past the slabs, and at entry 0 of
					// the other slab (another source's, or none in
					// use): wasted prefetches, nothing more
					for j := range tab.hints {
						if i%100 == 49 {
							tab.hints[j].idx ^= 1 << 20
						} else {
							tab.hints[j].idx = tab.hints[j].idx&wideBit ^ wideBit
						}
					}
				}
				tab.Prefetch(&s)
			}
			evs = append(evs, synEv(tab, &s))
		}
		return evs, tab.TakeCounts(), tab
	}
	want, wantC, tab := run(false)
	got, gotC, _ := run(true)
	if !reflect.DeepEqual(got, want) || gotC != wantC {
		t.Errorf("events or counts differ when told ahead: %+v against %+v", gotC, wantC)
	}
	// every source ended promoted, its hint where its entry is
	for _, src := range srcs {
		s := syn(src, "192.0.2.1", 0)
		var v *srcVal
		var h uint64
		if s.V6 {
			h = srctable.Hash6(s.Src)
			v, _ = lookup(tab, v6table, s.Src, h)
		} else {
			k := v4num(s.Src[:4])
			h = srctable.Hash4(k)
			v, _ = lookup(tab, v4table, k, h)
		}
		if v == nil || !v.promoted() {
			t.Fatalf("%s: not promoted", src)
		}
		i, wide := v.reachIdx()
		if wide {
			i |= wideBit
		}
		if e := tab.hints[h&(reachHints-1)]; e.tag != uint32(h>>32)|1 || e.idx != i {
			t.Errorf("%s: hint %+v, entry %d", src, e, i)
		}
		if wantWide := src != srcs[0]; wide != wantWide {
			t.Errorf("%s: wide %v", src, wide)
		}
	}
}

// TestReachSlabsWithinTheIndex: the side slabs of the largest table a
// shard may have (--max-sources 2^31, one shard) stay within the index a
// promoted source's value holds: an entry at wideBit would read back as a
// wide one.
func TestReachSlabsWithinTheIndex(t *testing.T) {
	tab := newTable(1 << 31)
	if tab.rs.max > wideBit || tab.wides.max > wideBit {
		t.Errorf("slab bounds %d and %d, past the index's %d", tab.rs.max, tab.wides.max, wideBit)
	}
	var v srcVal
	v.setReach(wideBit-1, false)
	if i, wide := v.reachIdx(); i != wideBit-1 || wide {
		t.Errorf("the last index reads back as %d (wide %v)", i, wide)
	}
}

// TestMemorySinceRoundTrips: a restored memory's current generation goes
// on from when it began (it was restarted at the load, so a sensor
// restarted more often than --remember never let its old fingerprints
// go); one older than a span is the old generation, and the current one
// began a span after it.
func TestMemorySinceRoundTrips(t *testing.T) {
	cfg := &Config{Window: int64(time.Minute), Lookback: int64(10 * time.Minute), Remember: int64(time.Hour), TopSources: 3}
	span := int64(time.Hour)
	for _, c := range []struct{ age, want int64 }{
		{20 * int64(time.Minute), 0},
		{span + 20*int64(time.Minute), span},
	} {
		since := int64(1000) * int64(time.Second)
		now := since + c.age
		tab := NewTable(cfg, 100, now)
		tab.RestoreMemory(now, since, []uint32{7, 9}, []uint32{11})
		got, old, cur := tab.Memory(now)
		if got != since+c.want {
			t.Errorf("age %v: the current generation began at %v, want %v", time.Duration(c.age), got, since+c.want)
		}
		if len(old)+len(cur) == 0 {
			t.Errorf("age %v: nothing restored", time.Duration(c.age))
		}
		// A second part, saved later, does not move it on.
		tab.RestoreMemory(now, since+int64(time.Minute), nil, []uint32{13})
		if again, _, _ := tab.Memory(now); again != got {
			t.Errorf("age %v: a later part moved the start from %v to %v", time.Duration(c.age), got, again)
		}
	}
}
