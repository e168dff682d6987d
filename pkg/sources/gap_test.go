package sources

import (
	"testing"
	"time"

	"github.com/synscope/synscope/pkg/decode"
)

// size is how many entries each of g's tables (v4, v6, p4, p6) holds.
func (g *gen) size() [4]int { return [4]int{g.v4.Len(), g.v6.Len(), g.p4.Len(), g.p6.Len()} }

// TestGapKeepsTheTablesSize: after a gap the current generation has room,
// per kind, for as many sources and prefixes as the larger generation
// before it held (its tables, emptied), so that a stream whose clock
// jumps back and forth (forged timestamps) does not regrow its tables
// from empty at every jump; and what the tables say is the same as
// before: every source and prefix after the gap is new, and a source's
// second SYN is not.
func TestGapKeepsTheTablesSize(t *testing.T) {
	cfg := &Config{Window: int64(5 * time.Minute), Lookback: int64(24 * time.Hour), TopSources: 3}
	tab := NewTable(cfg, 1<<20, 0)
	var s decode.Syn
	s.Flags, s.DstPort = 2, 445
	copy(s.Dst[:], []byte{198, 18, 0, 1})
	const n4, n6 = 20000, 5000
	send := func(i int, v6 bool, ts int64) {
		s.V6, s.Ts = v6, ts
		s.Src = [16]byte{}
		if v6 {
			s.Src = [16]byte{0x20, 0x01, 0x0d, 0xb8, byte(i >> 8), byte(i), 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}
		} else {
			copy(s.Src[:], []byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		}
		var ev Event
		tab.Syn(&s, &ev)
	}
	fill := func(at int64) {
		for i := range n4 {
			send(i, false, at+int64(i)*int64(time.Millisecond))
		}
		for i := range n6 {
			send(i, true, at+int64(n4+i)*int64(time.Millisecond))
		}
	}
	// n4 IPv4 sources in n4/256 /24s, n6 IPv6 sources each in its own /48.
	want := [4]int{n4, n6, (n4 + 255) / 256, n6}
	fill(0)
	if got := tab.cur.size(); got != want {
		t.Fatalf("before the gap the tables hold %v, want %v", got, want)
	}
	later := int64(40 * 24 * time.Hour)
	tab.Gap(later, int64(time.Minute))
	if got := tab.cur.size(); got != ([4]int{}) {
		t.Fatalf("after the gap the current generation holds %v, want nothing", got)
	}
	// Room for what it held: no segment splits until it holds as many.
	for i, slots := range []int{tab.cur.v4.Slots(), tab.cur.v6.Slots(), tab.cur.p4.Slots(), tab.cur.p6.Slots()} {
		if slots*13/16 < want[i] {
			t.Errorf("table %d after the gap: %d slots, room for %d entries before it splits; %d before the gap", i, slots, slots*13/16, want[i])
		}
	}
	w0 := tab.win
	fill(later)
	fill(later + int64(time.Hour)) // the same sources again: none new
	if n, p := tab.win.New-w0.New, tab.win.NewPrefixes-w0.NewPrefixes; n != n4+n6 || p != uint64(want[2]+want[3]) {
		t.Errorf("after the gap, twice the sources of before: %d new sources, %d new prefixes; want %d and %d",
			n, p, n4+n6, want[2]+want[3])
	}
}
