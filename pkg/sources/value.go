package sources

import (
	"math"
	"time"

	"github.com/synscope/synscope/pkg/srctable"
)

// srcVal is what a table remembers of a source, 12 bytes, beside the key in
// a slot (16 bytes a slot for IPv4, 28 for IPv6).
type srcVal struct {
	last  uint32 // last SYN, milliseconds after the generation's base, plus one; 0 marks a free slot
	first uint32 // first SYN of the episode, Unix seconds (clamped to 1970..2106)
	// bits: SYNs of the episode mod 2048 | promoted | reach fingerprint
	// (reach.go) | direction | reported. A promoted source keeps its SYN
	// count in its reach and the index of its reach in the SYN and
	// fingerprint bits, so finding it costs no lookup.
	bits uint32
}

const (
	synsBits    = 11
	synsMask    = 1<<synsBits - 1
	promotedBit = 1 << synsBits
	fpShift     = synsBits + 1
	fpBits      = 16
	fpMask      = 1<<fpBits - 1
	dirShift    = fpShift + fpBits
	reportedBit = 1 << 31
)

func (v srcVal) synsLow() uint32 { return v.bits & synsMask }
func (v srcVal) promoted() bool  { return v.bits&promotedBit != 0 }
func (v srcVal) dir() Direction  { return Direction(v.bits >> dirShift & 7) }
func (v srcVal) reported() bool  { return v.bits&reportedBit != 0 }

// fp is the stage-0 fingerprint; 0 when promoted (or restored from a
// state file saved after its promotion).
func (v srcVal) fp() uint32 {
	if v.promoted() {
		return 0
	}
	return v.bits >> fpShift & fpMask
}

func (v *srcVal) setFP(f uint32) { v.bits = v.bits&^(fpMask<<fpShift) | f<<fpShift }

// A promoted source's 27 bits of index: the top one says which slab
// (Table.wides or Table.rs).
const wideBit = 1 << 26

// reachIdx is a promoted source's index into Table.rs, or Table.wides when
// wide.
func (v srcVal) reachIdx() (i uint32, wide bool) {
	i = v.bits&synsMask | (v.bits>>fpShift&fpMask)<<synsBits
	return i &^ wideBit, i&wideBit != 0
}

func (v *srcVal) setReach(i uint32, wide bool) {
	if wide {
		i |= wideBit
	}
	v.bits = v.bits&^(synsMask|fpMask<<fpShift) | promotedBit | i&synsMask | (i>>synsBits)<<fpShift
}

// pfxVal is a prefix's last SYN, as srcVal.last.
type pfxVal struct{ last uint32 }

// gen is one generation of the tables: sources and prefixes touched since
// a rotation (or, for the old generation, between the two rotations before).
type gen struct {
	base int64 // ns, a whole millisecond; stored times count from here
	v4   *srctable.Table[uint32, srcVal]
	v6   *srctable.Table[[16]byte, srcVal]
	p4   *srctable.Table[uint32, pfxVal]
	p6   *srctable.Table[uint64, pfxVal]
	// hand: where the eviction's clock hands of v4 and v6 stopped
	// (evict.go, sweepIn).
	hand [2]srctable.Cursor
}

func newGen(base int64, hint int) *gen {
	return &gen{
		base: genBase(base),
		v4:   srctable.New[uint32, srcVal](hint),
		v6:   srctable.New[[16]byte, srcVal](0),
		p4:   srctable.New[uint32, pfxVal](hint),
		p6:   srctable.New[uint64, pfxVal](0),
	}
}

// genBase is a generation's base at base: the whole millisecond.
func genBase(base int64) int64 { return base - FloorMod(base, int64(time.Millisecond)) }

// reuseGen is an empty generation at base made of the larger of each
// kind's tables in from (let go: their entries are removed), keeping
// their segments.
func reuseGen(base int64, from [2]*gen) *gen {
	a, b := from[0], from[1]
	return &gen{
		base: genBase(base),
		v4:   emptied(a.v4, b.v4),
		v6:   emptied(a.v6, b.v6),
		p4:   emptied(a.p4, b.p4),
		p6:   emptied(a.p6, b.p6),
	}
}

// emptied is the larger of a and b, cleared.
func emptied[K comparable, V any](a, b *srctable.Table[K, V]) *srctable.Table[K, V] {
	if b.Slots() > a.Slots() {
		a = b
	}
	a.Clear()
	return a
}

func (g *gen) sources() int  { return g.v4.Len() + g.v6.Len() }
func (g *gen) prefixes() int { return g.p4.Len() + g.p6.Len() }

// rel stores a time as milliseconds after base, plus one. Lookback is at
// most 240 h and a generation spans at most about three lookbacks and a
// window, far inside 2^32 ms (49 days); rel clamps all the same.
func (g *gen) rel(t int64) uint32 {
	d := (t - g.base) / int64(time.Millisecond)
	return uint32(min(max(d, 0), math.MaxUint32-2)) + 1 // never 0 (free) nor all ones (srctable's tombstone)
}

// abs is the time rel stored (to the millisecond).
func (g *gen) abs(r uint32) int64 { return g.base + int64(r-1)*int64(time.Millisecond) }

// FloorMod is a mod b in [0, b), for times before 1970 too: windows and
// generations stay aligned to multiples of their length.
func FloorMod(a, b int64) int64 {
	m := a % b
	if m < 0 {
		m += b
	}
	return m
}

// FloorTo is t rounded down to a multiple of w.
func FloorTo(t, w int64) int64 { return t - FloorMod(t, w) }

func unixSeconds(t int64) uint32 {
	return uint32(min(max(t/int64(time.Second), 0), math.MaxUint32))
}
