package sources

import (
	"github.com/synscope/synscope/pkg/decode"
	"github.com/synscope/synscope/pkg/srctable"
)

// evictProbe is how many slots near a new source's home the eviction
// policy looks at.
const evictProbe = 8

// evict makes room for a new source in a full table and reports whether it
// did. The victim is, first, a source of the old generation (silent since
// the last rotation) near where the new one hashes; else a one-SYN source
// of the current generation there, the longest silent (a spoofed flood is
// one-SYN sources). Scanners that keep scanning stay. When none lies
// there (a table at its cap can have many free slots, and a neighbourhood
// with none of its sources: a source hashed there would be refused on
// every SYN, and counted new on every one), a clock hand of each
// generation sweeps on from where it stopped for such sources anywhere,
// and the longest silent of the few it meets goes (sweepIn). h is the new
// source's hash (Hash4 or Hash6).
func (t *Table) evict(s *decode.Syn, h uint64) bool {
	if s.V6 {
		return evictIn(t, t.old.v6, t.cur.v6, h, &t.old.hand[1], &t.cur.hand[1], func(k [16]byte) Addr { return k })
	}
	return evictIn(t, t.old.v4, t.cur.v4, h, &t.old.hand[0], &t.cur.hand[0], fromV4)
}

// sweepSlots bounds the slots a hand looks at for one new source: a table
// whose sources all keep scanning costs a new source that many slots, and
// a table at its cap under a flood holds a one-SYN source every few. It
// looks in sweepLooks stretches, each to its first candidate.
const (
	sweepSlots = 64
	sweepLooks = 4
)

func evictIn[K comparable](t *Table, old, cur *srctable.Table[K, srcVal], h uint64, oldHand, curHand *srctable.Cursor, addr func(K) Addr) bool {
	// The old generation: its first source among evictProbe slots from
	// the new source's home.
	if old.Len() > 0 {
		run := old.Run(h, evictProbe)
		for i := range run.Len() {
			if run.Val(i) != nil && !heavyAt(t, run, i, addr) {
				evictAt(t, old, t.old, run, i, addr)
				return true
			}
		}
	}
	// Else the current generation's longest silent one-SYN source there.
	if cur.Len() > 0 {
		run := cur.Run(h, evictProbe)
		at, last := -1, uint32(0)
		for i := range run.Len() {
			v := run.Val(i)
			if v == nil || v.bits&(promotedBit|synsMask) != 1 || (at >= 0 && v.last >= last) {
				continue // free, promoted, more than one SYN, or less silent
			}
			if !heavyAt(t, run, i, addr) {
				at, last = i, v.last
			}
		}
		if at >= 0 {
			evictAt(t, cur, t.cur, run, at, addr)
			return true
		}
	}
	// None near its home: the hands, the old generation's first.
	if sweepIn(t, old, t.old, oldHand, addr, func(*srcVal) bool { return true }) {
		return true
	}
	return sweepIn(t, cur, t.cur, curHand, addr, func(v *srcVal) bool { return v.bits&(promotedBit|synsMask) == 1 })
}

// sweepIn moves hand on over tab (generation g), sweepSlots slots at most
// in sweepLooks stretches, for the sources that ok accepts and that have
// no heavy count, and lets the longest silent of those it met go (a
// source just stored ahead of the hand, a scanner's first SYN, is not
// the one to go); it reports whether it found one. The hand stays where
// the sweep stopped.
func sweepIn[K comparable](t *Table, tab *srctable.Table[K, srcVal], g *gen, hand *srctable.Cursor, addr func(K) Addr, ok func(*srcVal) bool) bool {
	if tab.Len() == 0 {
		return false
	}
	accept := func(k K, v *srcVal) bool {
		if !ok(v) {
			return false
		}
		if len(t.heavy) > 0 {
			if _, heavy := t.heavy[addr(k)]; heavy {
				return false
			}
		}
		return true
	}
	var best srctable.Cursor
	var bestLast uint32
	found := false
	c := *hand
	for range sweepLooks {
		at, hit := tab.Sweep(c, sweepSlots/sweepLooks, accept)
		c = at
		if !hit {
			continue
		}
		if _, v := tab.At(at); !found || v.last < bestLast {
			best, bestLast, found = at, v.last, true
		}
		c = at + 1 // on past it (Sweep brings a slot past a segment's end into the next)
	}
	*hand = c
	if !found {
		return false
	}
	k, v := tab.At(best)
	let(t, g, k, *v, addr)
	tab.DeleteAtCursor(best)
	return true
}

// heavyAt says whether the source in run's i-th slot has a heavy count
// (more SYNs than its slot counts): such a source is not evicted.
func heavyAt[K comparable](t *Table, run srctable.Run[K, srcVal], i int, addr func(K) Addr) bool {
	if len(t.heavy) == 0 { // a flood's table has none: no lookup
		return false
	}
	_, heavy := t.heavy[addr(run.Key(i))]
	return heavy
}

// evictAt lets the source in run's i-th slot of tab (generation g) go.
func evictAt[K comparable](t *Table, tab *srctable.Table[K, srcVal], g *gen, run srctable.Run[K, srcVal], i int, addr func(K) Addr) {
	let(t, g, run.Key(i), *run.Val(i), addr)
	tab.DeleteAt(run, i)
}

// let is what evicting the source victim (value vv, generation g) does
// besides removing it from its table: offered to the top list, its reach
// freed, into the memory of forgotten sources, counted evicted.
func let[K comparable](t *Table, g *gen, victim K, vv srcVal, addr func(K) Addr) {
	a := addr(victim)
	t.offerTop(a, vv, g)
	if len(t.heavy) > 0 {
		delete(t.heavy, a)
	}
	t.dropReach(vv)
	t.remember(srctable.HashKey(victim))
	t.win.Evicted++
	t.tot.Evicted++
}

// DrainBatch bounds the work one step spends offering a dropped
// generation to the top list: about a millisecond.
const DrainBatch = 1 << 13

// While a dropped generation remains, every drainEvery-th SYN the table
// accounts first lets drainSyn entries of it go (128 a SYN). The steps are
// set by the table's own SYNs, never by when its owner runs: how far the
// drop has gone into the memory of forgotten sources decides whether a new
// source whose fingerprint matches a dropped source's is told returning
// (the drop itself is looked up by address), and so does the room its
// reach frees in the side slabs, so a shard worker, whatever its batches,
// must take the steps the inline shard takes on the same SYNs.
const (
	drainEvery = 8
	drainSyn   = DrainBatch / 8
)

// Rotate starts a new generation at now. Every source still in the old
// generation was last touched before the previous rotation, at least one
// lookback ago, so it is expired: the generation is dropped without a walk
// (Syn lets it go a step every few SYNs, DrainStep at each window's end).
func (t *Table) Rotate(now int64) {
	// A drop not offered in full yet (a clock jump of several lookbacks)
	// gets one more batch; the rest goes to the memory without being
	// offered to the top list (which may miss an episode): a walk, but no
	// more than the memory needs.
	t.DrainStep(DrainBatch)
	for t.drop != nil {
		t.drainStep(1<<30, false)
	}
	t.mem.rotate(now)
	t.mem.reserve(t.old.sources())
	t.tot.Expired += uint64(t.old.sources())
	t.drop, t.dropCur, t.dropSyns = t.old, [2]srctable.Cursor{}, 0
	t.dropHeavy = nil
	for k, n := range t.heavy { // few: sources past 2047 SYNs not promoted
		var in bool
		if k.Is4() {
			in = t.drop.v4.Get(k.V4(), srctable.Hash4(k.V4())) != nil
		} else {
			in = t.drop.v6.Get(k, srctable.Hash6(k)) != nil
		}
		if in {
			if t.dropHeavy == nil {
				t.dropHeavy = map[Addr]uint32{}
			}
			t.dropHeavy[k] = n
			delete(t.heavy, k)
		}
	}
	// The new generation starts small and grows: allocating it at the old
	// one's size would be a pause here.
	t.old, t.cur = t.cur, newGen(now, 1024)
}

// Gap resumes at now after a gap in the capture longer than the lookback,
// last being the clock before it. No Rotate came in the gap, so every
// source known before it is stale: both generations are let go at once
// (offered to the top list, counted expired), into the memory of
// forgotten sources, unless the gap alone outlasts the memory's span (or
// there is no memory): then the memory forgets them and everything it
// held. A source back after a month's gap was told returning, with its
// last SYN of a month before, even with --remember 0, where an unbroken
// capture of the same packets had let it go (review).
//
// The generation after the gap takes, emptied, the larger of each kind's
// tables before it (reuseGen): grown from empty instead, its tables split
// and rehash every entry two or three times over, which, after a gap, is
// work done again for sources the table had room for already (a stream
// of forged timestamps that jumps a year back and forth makes the engine
// regrow its tables at every jump), and fresh tables fault their pages in
// again: together about a third of a hostile SYN's cost in BenchmarkMix.
// Emptying them is a part of the gap's pause, which walks both
// generations anyway.
// A table keeps its segments' layout, so once it is full the sources a
// new one evicts can differ from those it would have evicted in a table
// grown from empty.
func (t *Table) Gap(now, last int64) {
	keep := t.mem.span > 0 && now-last < t.mem.span
	before := [2]*gen{t.cur, t.old}
	for range 2 {
		for t.drop != nil {
			t.drainInto(1<<30, true, keep)
		}
		t.Rotate(now)
	}
	for t.drop != nil {
		t.drainInto(1<<30, true, keep)
	}
	if !keep && t.mem.span > 0 {
		t.mem.forget(now)
	}
	t.cur = reuseGen(now, before) // empty, as Rotate made it, at the same base
}

// DrainStep offers up to n entries of a dropped generation to the top list.
// The engine calls it at each window's end, in the same place for an
// inline shard and a worker (a point of the packet stream); Syn takes its
// own steps.
func (t *Table) DrainStep(n int) {
	if t.drop != nil {
		t.drainStep(n, true)
	}
}

// drainTick counts a SYN while a dropped generation remains, and takes a
// step every drainEvery of them.
func (t *Table) drainTick() {
	if t.dropSyns++; t.dropSyns%drainEvery == 0 {
		t.drainStep(drainSyn, true)
	}
}

// drainStep lets go of up to n entries of the dropped generation, into
// the memory of forgotten sources, offering them to the top list first
// when offer is set.
func (t *Table) drainStep(n int, offer bool) { t.drainInto(n, offer, true) }

// drainInto is drainStep, the sources put in the memory of forgotten
// sources only when keep is set.
func (t *Table) drainInto(n int, offer, keep bool) {
	g := t.drop
	d4, d6 := false, false
	t.dropCur[0], d4 = g.v4.Drain(t.dropCur[0], n, func(k uint32, v *srcVal) {
		a := fromV4(k)
		if offer {
			t.offerTopIn(a, *v, g, t.dropHeavy)
		}
		if len(t.dropHeavy) > 0 {
			delete(t.dropHeavy, a)
		}
		t.dropReach(*v)
		if keep {
			t.remember(srctable.Hash4(k))
		}
	})
	t.dropCur[1], d6 = g.v6.Drain(t.dropCur[1], n, func(k [16]byte, v *srcVal) {
		if offer {
			t.offerTopIn(k, *v, g, t.dropHeavy)
		}
		if len(t.dropHeavy) > 0 {
			delete(t.dropHeavy, k)
		}
		t.dropReach(*v)
		if keep {
			t.remember(srctable.Hash6(k))
		}
	})
	if d4 && d6 {
		t.drop = nil
	}
}

// Finish offers every remembered source to the top list (the end).
func (t *Table) Finish() {
	for t.drop != nil {
		t.DrainStep(1 << 30)
	}
	for _, g := range []*gen{t.cur, t.old} {
		g.v4.Range(func(k uint32, v *srcVal) bool { t.offerTop(fromV4(k), *v, g); return true })
		g.v6.Range(func(k [16]byte, v *srcVal) bool { t.offerTop(k, *v, g); return true })
	}
}
