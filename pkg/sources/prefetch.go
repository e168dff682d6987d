package sources

import (
	"unsafe"

	"github.com/synscope/synscope/pkg/decode"
	"github.com/synscope/synscope/pkg/prefetch"
	"github.com/synscope/synscope/pkg/srctable"
)

// Prefetch asks the CPU for the slots a later Syn of s will read first (its
// source's and its prefix's home slots, in both generations), without
// waiting: called a few SYNs ahead, it turns the table lookups of a stream
// of new sources (a flood, a telescope) from cache misses one after the
// other into misses that overlap; the memory of forgotten sources' home
// slots too, which a new source is looked for in; and, for a source with a
// promoted reach, the lines its SYN will touch there (hintedAddrs). It
// changes nothing else.
func (t *Table) Prefetch(s *decode.Syn) {
	t.told = true
	// The eight lines in one call (a call costs about what a hint does).
	var a [8]unsafe.Pointer
	var h uint64
	if s.V6 {
		h = srctable.Hash6(s.Src)
		hp := srctable.Hash64(uint64(prefix6(&s.Src)))
		a[0], a[1] = t.cur.v6.HomeAddr(h), t.old.v6.HomeAddr(h)
		a[2], a[3] = t.cur.p6.HomeAddr(hp), t.old.p6.HomeAddr(hp)
	} else {
		k := v4num(s.Src[:4])
		h = srctable.Hash4(k)
		hp := srctable.Hash4(k >> 8)
		a[0], a[1] = t.cur.v4.HomeAddr(h), t.old.v4.HomeAddr(h)
		a[2], a[3] = t.cur.p4.HomeAddr(hp), t.old.p4.HomeAddr(hp)
	}
	a[4], a[5] = t.mem.homeAddrs(h)
	a[6], a[7] = t.hintedAddrs(s, h)
	prefetch.Lines8(&a)
}

// reachHints is the size of the table of hints (8 bytes each).
const reachHints = 1 << 13

// reachHint says where a promoted source's reach entry was at its last
// SYN: tag is the top half of the source's hash (low bit set: 0 is an
// empty hint), idx its reachIdx with wideBit. Hints are never believed,
// only prefetched from, so a stale or colliding one costs a wasted hint.
type reachHint struct{ tag, idx uint32 }

// hint notes where a promoted source's reach entry is.
func (t *Table) hint(h uint64, v srcVal) {
	if t.hints == nil {
		t.hints = make([]reachHint, reachHints)
	}
	i, wide := v.reachIdx()
	if wide {
		i |= wideBit
	}
	e := &t.hints[h&(reachHints-1)]
	if want := (reachHint{uint32(h>>32) | 1, i}); *e != want {
		*e = want
	}
}

// hintedAddrs are the reach lines of a source that had a promoted reach
// at its last SYN, known from its hint without the slot (which is only on
// its way): a scanner's SYN would otherwise wait for its slot, then for
// its reach entry and its destination's HyperLogLog line. Without a hint
// both are the table's header (in the caches already); a stage-1 entry
// has one line.
func (t *Table) hintedAddrs(s *decode.Syn, h uint64) (a, b unsafe.Pointer) {
	a, b = unsafe.Pointer(t), unsafe.Pointer(t)
	if t.hints == nil {
		return a, b
	}
	e := t.hints[h&(reachHints-1)]
	if e.tag != uint32(h>>32)|1 {
		return a, b
	}
	if e.idx&wideBit == 0 {
		if e.idx < uint32(t.rs.n) {
			a = unsafe.Pointer(t.rs.at(e.idx))
		}
		return a, b
	}
	if i := e.idx &^ wideBit; i < uint32(t.wides.n) {
		w := t.wides.at(i)
		j := dstHash(s) >> (32 - hllBits)
		a, b = unsafe.Pointer(w), unsafe.Pointer(&w.dst[j>>1])
	}
	return a, b
}
