package engine

import (
	"math"
	"time"

	"github.com/synscope/synscope/pkg/decode"
	"github.com/synscope/synscope/pkg/ring"
	"github.com/synscope/synscope/pkg/srctable"
)

// A shard owns the sources of its share of the address space (by the hash
// of their /24 or /48, so a source and its prefix have one owner) and
// everything the engine remembers of them. It runs either on its own
// goroutine, fed through a ring, or inline on the engine's.

// srcVal is what a shard remembers of a source, 12 bytes, beside the key in
// a table slot (16 bytes a slot for IPv4, 28 for IPv6).
type srcVal struct {
	last  uint32 // last SYN, milliseconds after the generation's base, plus one; 0 marks a free slot
	first uint32 // first SYN of the episode, Unix seconds (clamped to 1970..2106)
	bits  uint32 // synsBits: SYNs of the episode mod 4096 | sketch of destinations | direction | reported
}

const (
	synsBits    = 12
	synsMask    = 1<<synsBits - 1
	sketchShift = synsBits
	sketchBits  = 16
	dirShift    = sketchShift + sketchBits
	reportedBit = 1 << 31
)

func (v srcVal) synsLow() uint32     { return v.bits & synsMask }
func (v srcVal) sketch() uint32      { return v.bits >> sketchShift & (1<<sketchBits - 1) }
func (v srcVal) dir() Direction      { return Direction(v.bits >> dirShift & 7) }
func (v srcVal) reported() bool      { return v.bits&reportedBit != 0 }
func (v *srcVal) addSketch(b uint32) { v.bits |= 1 << (sketchShift + b) }

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
}

func newGen(base int64, hint int) *gen {
	return &gen{
		base: base - mod(base, int64(time.Millisecond)),
		v4:   srctable.New[uint32, srcVal](hint),
		v6:   srctable.New[[16]byte, srcVal](0),
		p4:   srctable.New[uint32, pfxVal](hint),
		p6:   srctable.New[uint64, pfxVal](0),
	}
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

func mod(a, b int64) int64 {
	m := a % b
	if m < 0 {
		m += b
	}
	return m
}

func unixSeconds(t int64) uint32 {
	return uint32(min(max(t/int64(time.Second), 0), math.MaxUint32))
}

// shardWin is a shard's share of a window's counts.
type shardWin struct {
	active, new, returning, newPrefixes, newOutbound, newInternal, untracked, evicted uint64
}

func (a *shardWin) add(b *shardWin) {
	a.active += b.active
	a.new += b.new
	a.returning += b.returning
	a.newPrefixes += b.newPrefixes
	a.newOutbound += b.newOutbound
	a.newInternal += b.newInternal
	a.untracked += b.untracked
	a.evicted += b.evicted
}

// event is a record a shard produced, tagged with the sequence number of
// the SYN that caused it so the engine can put every shard's records back
// in capture order.
type event struct {
	seq       uint64
	scanner   bool
	returning bool // a source seen before, silent for longer than the lookback
	dir       Direction
	syn       decode.Syn
	t         int64 // PrevLastSeen of a source, FirstSeen of a scanner
	syns      uint32
	targets   int32
}

// item is what travels through a shard's ring: a SYN, or a marker.
type item struct {
	seq  uint64
	kind uint8
	syn  decode.Syn // for markers, syn.Ts is the time a rotation starts from
}

// Item kinds. A marker with syn.Flags set also rotates the generations,
// from syn.Ts, after the counts are taken.
const (
	itemSyn    = iota
	itemFlush  // hand over the records so far
	itemWindow // hand over the records and the window's counts
	itemStop   // offer everything to the top list, hand over, and stop
)

// part is what a shard hands over at a marker.
type part struct {
	events []event
	win    shardWin
}

type shard struct {
	cfg      *Config
	lookback int64
	cap      int // sources (and prefixes) this shard may remember
	cur, old *gen
	drop     *gen // a dropped generation being offered to the top list
	dropCur  [2]srctable.Cursor
	// heavy holds SYN counts of sources beyond 4095 in multiples of 4096
	// (srcVal keeps the low 12 bits); few sources ever get here.
	heavy map[[16]byte]uint32
	top   []TopSource
	win   shardWin
	tot   struct{ expired, evicted, untracked uint64 } // running totals (the window's are in win)
	// Records since the last hand-over, and the one being read by the
	// engine: the engine reads parts[1-cur] only between handing it over
	// and sending the next marker, so the two never collide.
	parts   [2]part
	curPart int

	in   *ring.Ring[item]
	done chan *part
}

func newShard(cfg *Config, capacity int, start int64) *shard {
	sh := &shard{
		cfg:      cfg,
		lookback: int64(cfg.Lookback),
		cap:      capacity,
		heavy:    map[[16]byte]uint32{},
	}
	sh.cur = newGen(start, 1024)
	sh.old = newGen(start, 0)
	return sh
}

// run is a shard worker's loop: take SYNs and markers from the ring until
// a stop marker.
func (sh *shard) run() {
	for sh.in.Wait() {
		for v := sh.in.Peek(); len(v) > 0; v = sh.in.Peek() {
			for i := range v {
				if v[i].kind == itemSyn {
					sh.syn(&v[i].syn, v[i].seq)
					continue
				}
				if stop := sh.marker(&v[i]); stop {
					sh.in.Release(i + 1)
					return
				}
			}
			sh.in.Release(len(v))
			sh.drainStep(drainBatch / 8)
		}
	}
}

// marker does what a marker says and hands over the records (and counts)
// so far. It reports whether the shard stops.
func (sh *shard) marker(it *item) bool {
	if it.syn.Flags != 0 {
		sh.rotate(it.syn.Ts)
	}
	if it.kind == itemStop {
		sh.finish()
	}
	sh.handOver(it.kind != itemFlush)
	return it.kind == itemStop
}

// handOver gives the records (and, at a window's end, the counts) to the
// engine.
func (sh *shard) handOver(window bool) {
	p := &sh.parts[sh.curPart]
	if window {
		p.win, sh.win = sh.win, shardWin{}
	} else {
		p.win = shardWin{}
	}
	if sh.done != nil {
		sh.curPart ^= 1
		sh.parts[sh.curPart].events = sh.parts[sh.curPart].events[:0]
		sh.done <- p
	}
}

// take is handOver for an inline shard: the engine reads the part at once.
func (sh *shard) take(window bool) *part {
	p := &sh.parts[0]
	if window {
		p.win, sh.win = sh.win, shardWin{}
	}
	return p
}

func (sh *shard) emit(ev event) {
	p := &sh.parts[sh.curPart]
	p.events = append(p.events, ev)
}

func (sh *shard) tracked() int { return sh.cur.sources() + sh.old.sources() }

// syn accounts one SYN of this shard's sources.
func (sh *shard) syn(s *decode.Syn, seq uint64) {
	t := s.Ts
	if sh.prefix(s, t) {
		sh.win.newPrefixes++
	}
	var v *srcVal
	var g *gen
	if s.V6 {
		v, g = lookup(sh, v6table, s.Src, srctable.Hash6(s.Src))
	} else {
		k := v4key(s.Src)
		v, g = lookup(sh, v4table, k, srctable.Hash4(k))
	}
	var lastAbs int64
	known := v != nil
	if known {
		lastAbs = g.abs(v.last)
	}
	if known && t-lastAbs <= sh.lookback {
		if lastAbs < windowStart(t, int64(sh.cfg.Window)) {
			sh.win.active++
		}
		if g != sh.cur {
			v = sh.move(s, v, g)
		}
		v.last = sh.cur.rel(t)
		if v.synsLow() == synsMask {
			sh.heavy[keyOf(s)]++
			v.bits &^= synsMask
		} else {
			v.bits++
		}
		v.addSketch(uint32(hashDst(s) & (sketchBits - 1)))
		if d := v.dir(); (d == DirOutbound || d == DirInternal) && !v.reported() {
			n := estimate16(v.sketch())
			if n >= sh.cfg.ScannerTargets {
				v.bits |= reportedBit
				sh.emit(event{seq: seq, scanner: true, dir: d, syn: *s, t: int64(v.first) * int64(time.Second),
					syns: sh.syns(keyOf(s), *v), targets: int32(n)})
			}
		}
		return
	}
	dir := direction(sh.cfg, s)
	sh.win.active++
	sh.win.new++
	switch dir {
	case DirOutbound:
		sh.win.newOutbound++
	case DirInternal:
		sh.win.newInternal++
	}
	ev := event{seq: seq, dir: dir, syn: *s}
	if known {
		sh.win.returning++
		ev.t, ev.returning = lastAbs, true
		k := keyOf(s)
		sh.offerTop(k, *v, g)
		delete(sh.heavy, k)
	}
	nv := srcVal{first: unixSeconds(t), bits: 1 | uint32(dir)<<dirShift}
	nv.addSketch(uint32(hashDst(s) & (sketchBits - 1)))
	switch {
	case known:
		nv.last = sh.cur.rel(t)
		if g != sh.cur {
			sh.remove(s, g)
		}
		sh.store(s, nv)
	case sh.tracked() < sh.cap || sh.evict(s):
		nv.last = sh.cur.rel(t)
		sh.store(s, nv)
	default:
		sh.win.untracked++
		sh.tot.untracked++
	}
	sh.emit(ev)
}

func v4key(a [16]byte) uint32 {
	return uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
}

func windowStart(t, w int64) int64 { return t - mod(t, w) }

// lookup finds a source in the current generation, then the old one.
func lookup[K comparable](sh *shard, table func(*gen) *srctable.Table[K, srcVal], k K, h uint64) (*srcVal, *gen) {
	for _, g := range [2]*gen{sh.cur, sh.old} {
		if v := table(g).Get(k, h); v != nil {
			return v, g
		}
	}
	return nil, nil
}

func v4table(g *gen) *srctable.Table[uint32, srcVal]   { return g.v4 }
func v6table(g *gen) *srctable.Table[[16]byte, srcVal] { return g.v6 }

// store puts a source's value in the current generation.
func (sh *shard) store(s *decode.Syn, v srcVal) *srcVal {
	if s.V6 {
		return sh.cur.v6.Put(s.Src, srctable.Hash6(s.Src), v)
	}
	k := v4key(s.Src)
	return sh.cur.v4.Put(k, srctable.Hash4(k), v)
}

func (sh *shard) remove(s *decode.Syn, g *gen) {
	if s.V6 {
		g.v6.Delete(s.Src, srctable.Hash6(s.Src))
		return
	}
	k := v4key(s.Src)
	g.v4.Delete(k, srctable.Hash4(k))
}

// move brings a source touched again from the old generation to the
// current one and returns where it now lives.
func (sh *shard) move(s *decode.Syn, v *srcVal, from *gen) *srcVal {
	nv := *v
	nv.last = sh.cur.rel(from.abs(v.last))
	sh.remove(s, from)
	return sh.store(s, nv)
}

// prefix notes a SYN from s's /24 or /48 and reports whether that prefix
// had none in the lookback.
func (sh *shard) prefix(s *decode.Syn, t int64) bool {
	if s.V6 {
		k := prefixOf(s)
		h := srctable.Hash64(k)
		return touchPrefix(sh, sh.cur.p6, sh.old.p6, k, h, t)
	}
	k := v4key(s.Src) >> 8
	return touchPrefix(sh, sh.cur.p4, sh.old.p4, k, srctable.Hash4(k), t)
}

func touchPrefix[K comparable](sh *shard, cur, old *srctable.Table[K, pfxVal], k K, h uint64, t int64) bool {
	if v := cur.Get(k, h); v != nil {
		isNew := t-sh.cur.abs(v.last) > sh.lookback
		v.last = sh.cur.rel(t)
		return isNew
	}
	if v := old.Get(k, h); v != nil {
		isNew := t-sh.old.abs(v.last) > sh.lookback
		old.Delete(k, h)
		cur.Put(k, h, pfxVal{sh.cur.rel(t)})
		return isNew
	}
	if sh.cur.prefixes()+sh.old.prefixes() < sh.cap {
		cur.Put(k, h, pfxVal{sh.cur.rel(t)})
	}
	return true
}

// evictProbe is how many slots near a new source's home the eviction
// policy looks at.
const evictProbe = 8

// evict makes room for a new source in a full shard and reports whether it
// did. The victim is, first, a source of the old generation (silent since
// the last rotation) near where the new one hashes; else a one-SYN source
// of the current generation there, the longest silent (a spoofed flood is
// one-SYN sources). Scanners that keep scanning stay.
func (sh *shard) evict(s *decode.Syn) bool {
	if s.V6 {
		return evictIn(sh, sh.old.v6, sh.cur.v6, s.Src, srctable.Hash6(s.Src), func(k [16]byte) [16]byte { return k })
	}
	k := v4key(s.Src)
	return evictIn(sh, sh.old.v4, sh.cur.v4, k, srctable.Hash4(k), v4mapped)
}

func v4mapped(k uint32) [16]byte {
	return [16]byte{10: 0xff, 11: 0xff, 12: byte(k >> 24), 13: byte(k >> 16), 14: byte(k >> 8), 15: byte(k)}
}

func evictIn[K comparable](sh *shard, old, cur *srctable.Table[K, srcVal], k K, h uint64, wide func(K) [16]byte) bool {
	for _, c := range []struct {
		t *srctable.Table[K, srcVal]
		g *gen
	}{{old, sh.old}, {cur, sh.cur}} {
		var victim K
		var vv srcVal
		found := false
		c.t.Probe(h, evictProbe, func(vk K, v *srcVal) bool {
			if c.g == sh.old || (v.synsLow() == 1 && (!found || v.last < vv.last)) {
				if _, heavy := sh.heavy[wide(vk)]; !heavy {
					victim, vv, found = vk, *v, true
				}
			}
			return !(found && c.g == sh.old)
		})
		if found {
			w := wide(victim)
			sh.offerTop(w, vv, c.g)
			delete(sh.heavy, w)
			c.t.Delete(victim, srctable.HashKey(victim))
			sh.win.evicted++
			sh.tot.evicted++
			return true
		}
	}
	return false
}

// rotate starts a new generation at now. Every source still in the old
// generation was last touched before the previous rotation, at least one
// lookback ago, so it is expired: the generation is dropped without a walk
// (drainStep offers it to the top list a batch at a time).
func (sh *shard) rotate(now int64) {
	// A drop not offered in full yet (a clock jump of several lookbacks)
	// gets one more batch; the rest is let go unseen: the top list may miss
	// an episode, the pause stays bounded.
	sh.drainStep(drainBatch)
	sh.tot.expired += uint64(sh.old.sources())
	sh.drop, sh.dropCur = sh.old, [2]srctable.Cursor{}
	// The new generation starts small and grows: allocating it at the old
	// one's size would be a pause here.
	sh.old, sh.cur = sh.cur, newGen(now, 1024)
}

// drainStep offers up to n entries of a dropped generation to the top list.
func (sh *shard) drainStep(n int) {
	g := sh.drop
	if g == nil {
		return
	}
	d4, d6 := false, false
	sh.dropCur[0], d4 = g.v4.Drain(sh.dropCur[0], n, func(k uint32, v *srcVal) {
		w := v4mapped(k)
		sh.offerTop(w, *v, g)
		delete(sh.heavy, w)
	})
	sh.dropCur[1], d6 = g.v6.Drain(sh.dropCur[1], n, func(k [16]byte, v *srcVal) {
		sh.offerTop(k, *v, g)
		delete(sh.heavy, k)
	})
	if d4 && d6 {
		sh.drop = nil
	}
}

// finish offers every remembered source to the top list (the end).
func (sh *shard) finish() {
	for sh.drop != nil {
		sh.drainStep(1 << 30)
	}
	for _, g := range []*gen{sh.cur, sh.old} {
		g.v4.Range(func(k uint32, v *srcVal) bool { sh.offerTop(v4mapped(k), *v, g); return true })
		g.v6.Range(func(k [16]byte, v *srcVal) bool { sh.offerTop(k, *v, g); return true })
	}
}

func (sh *shard) syns(k key, v srcVal) uint32 {
	return sh.heavy[k]<<synsBits | v.synsLow()
}

func (sh *shard) offerTop(k key, v srcVal, g *gen) {
	n := sh.cfg.TopSources
	if n == 0 {
		return
	}
	syns := v.synsLow()
	if len(sh.heavy) > 0 {
		syns = sh.syns(k, v)
	}
	if len(sh.top) == n && syns < sh.top[n-1].SynPackets {
		return // the common case: not near the top
	}
	offerTop(&sh.top, n, TopSource{
		Addr:            keyAddr(k),
		SynPackets:      syns,
		FirstSeen:       int64(v.first) * int64(time.Second),
		LastSeen:        g.abs(v.last),
		DistinctTargets: estimate16(v.sketch()),
	})
}

// estimate16 reads a 16-bit linear-counting sketch of destinations: about
// right below 20, saturating at 44.
func estimate16(bits uint32) int {
	zeros := sketchBits
	for b := bits; b != 0; b &= b - 1 {
		zeros--
	}
	if zeros == 0 {
		zeros = 1 // saturated: the estimate is a floor
	}
	return int(math.Round(-sketchBits * math.Log(float64(zeros)/sketchBits)))
}
