package sources

import (
	"encoding/binary"
	"errors"
	"time"

	"github.com/synscope/synscope/pkg/srctable"
)

// The state file's records of this package (the engine writes the header,
// the counts and the checksum around them), little-endian:
//
//	source  key [16]byte, first i64, last i64, syns u32, reach fingerprint u16
//	        (0: promoted; the promoted reach itself is not saved),
//	        direction u8, flags u8 (1: reported as a scanner)
//	prefix  prefix u64, last i64
//
// Times are ns since the Unix epoch, as the table keeps them (first to the
// second, last to the millisecond).
const (
	SourceRecLen = 16 + 8 + 8 + 4 + 2 + 1 + 1
	PrefixRecLen = 8 + 8
)

// Saved is one source as a state file keeps it.
type Saved struct {
	Addr        Addr
	First, Last int64
	Syns        uint32
	Sketch      uint16
	Dir         Direction
	Reported    bool
}

// SavedPrefix is one prefix as a state file keeps it.
type SavedPrefix struct {
	Prefix Prefix
	Last   int64
}

// ErrCorrupt is a state record with impossible values.
var ErrCorrupt = errors.New("impossible values (corrupt)")

// Encode writes v into b (SourceRecLen bytes).
func (v *Saved) Encode(b []byte) {
	le := binary.LittleEndian
	copy(b[:16], v.Addr[:])
	le.PutUint64(b[16:], uint64(v.First))
	le.PutUint64(b[24:], uint64(v.Last))
	le.PutUint32(b[32:], v.Syns)
	le.PutUint16(b[36:], v.Sketch)
	b[38], b[39] = byte(v.Dir), 0
	if v.Reported {
		b[39] = 1
	}
}

// DecodeSaved reads a source record, refusing impossible values.
func DecodeSaved(b []byte) (Saved, error) {
	le := binary.LittleEndian
	v := Saved{
		Addr:     Addr(b[:16]),
		First:    int64(le.Uint64(b[16:])),
		Last:     int64(le.Uint64(b[24:])),
		Syns:     le.Uint32(b[32:]),
		Sketch:   le.Uint16(b[36:]),
		Dir:      Direction(b[38]),
		Reported: b[39]&1 != 0,
	}
	if v.Dir > DirExternal || b[39] > 1 || v.Syns == 0 {
		return v, ErrCorrupt
	}
	return v, nil
}

// Encode writes p into b (PrefixRecLen bytes).
func (p *SavedPrefix) Encode(b []byte) {
	binary.LittleEndian.PutUint64(b, uint64(p.Prefix))
	binary.LittleEndian.PutUint64(b[8:], uint64(p.Last))
}

// DecodeSavedPrefix reads a prefix record, refusing impossible values.
func DecodeSavedPrefix(b []byte) (SavedPrefix, error) {
	p := SavedPrefix{Prefix: Prefix(binary.LittleEndian.Uint64(b)), Last: int64(binary.LittleEndian.Uint64(b[8:]))}
	if !p.Prefix.valid() {
		return p, ErrCorrupt
	}
	return p, nil
}

// Each calls f for every source the table remembers and p for every
// prefix, current generation first.
func (t *Table) Each(f func(Saved), p func(SavedPrefix)) {
	for _, g := range []*gen{t.cur, t.old} {
		conv := func(k Addr, v *srcVal) {
			f(Saved{Addr: k, First: int64(v.first) * int64(time.Second), Last: g.abs(v.last),
				Syns: t.syns(k, *v), Sketch: uint16(v.fp()), Dir: v.dir(), Reported: v.reported()})
		}
		g.v4.Range(func(k uint32, v *srcVal) bool { conv(fromV4(k), v); return true })
		g.v6.Range(func(k [16]byte, v *srcVal) bool { conv(k, v); return true })
		g.p4.Range(func(k uint32, v *pfxVal) bool { p(SavedPrefix{4<<56 | Prefix(k), g.abs(v.last)}); return true })
		g.p6.Range(func(k uint64, v *pfxVal) bool { p(SavedPrefix{Prefix(k), g.abs(v.last)}); return true })
	}
}

// StartRestore readies the table to take a saved state's sources and
// prefixes, whose clock was clock: into the current generation when the
// capture goes on within the lookback (intoCur), else into the old one
// (stale, but a source that comes back is then told as returning).
func (t *Table) StartRestore(clock int64, intoCur bool) {
	t.restoreFloor = clock - t.lookback
	g := newGen(clock-t.lookback, 0)
	if intoCur {
		t.cur = g
	} else {
		t.old = g
	}
}

func (t *Table) restoreGen(intoCur bool) *gen {
	if intoCur {
		return t.cur
	}
	return t.old
}

// Restore puts a saved source in the generation StartRestore chose. One
// silent for longer than this run's lookback at the state's clock (saved
// by a run with a longer one) is forgotten, into the memory of forgotten
// sources: the generation would have held its last SYN as the lookback's
// start, and a return was told with that as its prev_last_seen (a review).
func (t *Table) Restore(v *Saved, intoCur bool) {
	if v.Last < t.restoreFloor {
		if v.Addr.Is4() {
			t.remember(srctable.Hash4(v.Addr.V4()))
		} else {
			t.remember(srctable.Hash6(v.Addr))
		}
		return
	}
	g := t.restoreGen(intoCur)
	val := srcVal{last: g.rel(v.Last), first: unixSeconds(v.First),
		bits: v.Syns&synsMask | uint32(v.Sketch)<<fpShift | uint32(v.Dir)<<dirShift}
	if v.Reported {
		val.bits |= reportedBit
	}
	if v.Syns > synsMask {
		t.heavy[v.Addr] = v.Syns >> synsBits
	}
	if v.Addr.Is4() {
		k := v.Addr.V4()
		g.v4.Put(k, srctable.Hash4(k), val)
	} else {
		g.v6.Put(v.Addr, srctable.Hash6(v.Addr), val)
	}
}

// RestorePrefix puts a saved prefix in the generation StartRestore chose.
func (t *Table) RestorePrefix(p *SavedPrefix, intoCur bool) {
	g := t.restoreGen(intoCur)
	if p.Prefix.v6() {
		g.p6.Put(uint64(p.Prefix), srctable.Hash64(uint64(p.Prefix)), pfxVal{g.rel(p.Last)})
		return
	}
	k := p.Prefix.v4()
	g.p4.Put(k, srctable.Hash4(k), pfxVal{g.rel(p.Last)})
}

// Memory is the memory of forgotten sources (remember.go) as a state file
// keeps it, at now: when its current generation began, and the
// fingerprints of both generations. The current one also gets the
// sources the table still holds but that are forgotten by now (silent
// longer than the lookback: the state file leaves them out) and those of
// a dropped generation not yet offered to the top list. Nothing when the
// memory is off.
func (t *Table) Memory(now int64) (since int64, old, cur []uint32) {
	m := &t.mem
	if m.span == 0 {
		return 0, nil, nil
	}
	m.flush()
	m.gens[m.cur^1].each(func(f uint32) { old = append(old, f) })
	m.gens[m.cur].each(func(f uint32) { cur = append(cur, f) })
	for _, g := range []*gen{t.cur, t.old, t.drop} {
		if g == nil {
			continue
		}
		stale := func(last uint32) bool { return g == t.drop || now-g.abs(last) > t.lookback }
		g.v4.Range(func(k uint32, v *srcVal) bool {
			if stale(v.last) {
				cur = append(cur, fpOf(srctable.Hash4(k)))
			}
			return true
		})
		g.v6.Range(func(k [16]byte, v *srcVal) bool {
			if stale(v.last) {
				cur = append(cur, fpOf(srctable.Hash6(k)))
			}
			return true
		})
	}
	return m.since, old, cur
}

// RestoreMemory adds a saved memory's fingerprints to the table's, when
// the clock starts at now (the engine may give every table the union of
// several saved tables', when the number of shards changed). Generations
// a rotation would have let go by now are left out: a saved current
// generation more than a span old is the old one now.
func (t *Table) RestoreMemory(now, since int64, old, cur []uint32) {
	m := &t.mem
	if m.span == 0 {
		return
	}
	m.flush()
	start := since // when the current generation began
	switch age := now - since; {
	case age >= 2*m.span || age < 0:
		return
	case age >= m.span:
		old, cur = cur, nil
		start = since + m.span
	}
	// The current generation goes on from when it began (it rotates a
	// span after that, not a span after every restart); of several saved
	// parts, from the earliest: every fingerprint is still kept at least a
	// span, and at most two.
	if !m.restored || start < m.since {
		m.since, m.restored = start, true
	}
	for _, x := range [2]struct {
		g   *fpSet
		fps []uint32
	}{{&m.gens[m.cur^1], old}, {&m.gens[m.cur], cur}} {
		x.g.reserve(min(len(x.fps), m.max))
		for _, f := range x.fps {
			if f != 0 && !x.g.add(f, m.max) {
				t.tot.RememberFull++
			}
		}
	}
}
