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
// slots too, which a new source is looked for in. It changes nothing else.
func (t *Table) Prefetch(s *decode.Syn) {
	if s.V6 {
		h := srctable.Hash6(s.Src)
		t.cur.v6.Prefetch(h)
		t.old.v6.Prefetch(h)
		p := uint64(prefix6(&s.Src))
		hp := srctable.Hash64(p)
		t.cur.p6.Prefetch(hp)
		t.old.p6.Prefetch(hp)
		t.mem.prefetch(h)
		return
	}
	k := v4num(s.Src[:4])
	h := srctable.Hash4(k)
	t.cur.v4.Prefetch(h)
	t.old.v4.Prefetch(h)
	hp := srctable.Hash4(k >> 8)
	t.cur.p4.Prefetch(hp)
	t.old.p4.Prefetch(hp)
	t.mem.prefetch(h)
}

// prefetchReach asks for the lines a promoted source's SYN will touch in
// its reach: the entry's first line and, for a wide one, the destination
// HyperLogLog's register line of this SYN's destination.
func (t *Table) prefetchReach(s *decode.Syn, v *srcVal) {
	i, wide := v.reachIdx()
	if !wide {
		prefetch.Line(unsafe.Pointer(t.rs.at(i)))
		return
	}
	w := t.wides.at(i)
	prefetch.Line(unsafe.Pointer(w))
	j := dstHash(s) >> (32 - hllBits)
	prefetch.Line(unsafe.Pointer(&w.dst[j>>1]))
}
