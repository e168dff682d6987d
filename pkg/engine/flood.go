package engine

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/synscope/synscope/pkg/sources"
	"github.com/synscope/synscope/pkg/srctable"
)

// A spoofed SYN flood is many new sources, one SYN each, aimed at few
// targets within seconds. A scanning population, however fast it grows,
// spreads its first SYNs over many targets. So the flood test is made per
// target: a target that receives FloodThreshold or more first SYNs of new
// sources within floodSpan is flooded, and the new sources aimed at it in
// that span (its first seconds included) and after it, while the rate
// holds at half the threshold, are flood sources.
//
// The decision for a new source can depend on the new sources of the
// floodSpan after it, so every new source waits in a delay line for
// floodSpan of packet time before its record is written (or, as a flood
// source, summarized), and a window's record waits until every new source
// in it has left the line. The delay line is fed in capture order and
// drained by packet time alone, so the output is the same whatever the
// number of shards and whenever their records are handed over.

// floodSpan is the span a flood is judged over, and the hold it costs.
const floodSpan = 10 * int64(time.Second)

// floodQueueMax bounds the delay line: past it the oldest new source is
// decided at once (a flood found later cannot take it back). Only more
// than floodQueueMax new sources per floodSpan spread over many targets
// get there: a flood's own sources skip the line.
const floodQueueMax = 1 << 14

// floodLineMax bounds the delay line with the flood sources that wait in
// it for their records' turn (--flood-sources, and Kafka's sightings: a
// record for every new source): they are decided already, so they do not
// count towards floodQueueMax, which would otherwise let a fast flood
// push out, undecided, the first seconds of a second flood (counted as
// ordinary new sources); past floodLineMax (29 MB of records, a
// flood of 26,000 new sources a second) the oldest goes all the same.
const floodLineMax = 16 * floodQueueMax

// floodSlots is the size of the table of watched targets. A target hashes
// to two slots; a new target takes a free slot, a stale one, or else one
// whose target had a single new source in the span: a flooded target
// keeps its slot, and an attacker spreading first SYNs over the space
// only churns the singletons. A flood aimed at more targets at once than
// the table holds is, for the targets that find no slot, ordinary new
// sources: with 8,192 slots a flood over 8,000 targets was a third
// undetected, over 20,000 three quarters (a review); 131,072 (8 MiB,
// allocated at a run's first new source, a page resident for each 64
// slots its targets touch) leave 6 % of a flood over 16,000 targets
// unwatched (TestFloodOverManyTargets).
const floodSlots = 1 << 17

// floodEpoch is added to the seconds a target counts in, so that every
// time an int64 of nanoseconds can hold (before 1970 too: a pcapng
// interface's negative offset) is a second above 0, the mark of a free
// slot. (It was max(seconds, 1): every source before 1970 counted in one
// second that never ended, and a slow scanner's targets became floods.)
const floodEpoch = 1 << 40

// target is the first SYNs of new sources aimed at one destination over
// the last floodSpan, by second (count[sec%10] for the seconds up to sec).
// It is 64 bytes, one cache line of the slots (a large allocation, so
// page-aligned): under a spoofed flood at many targets every new source
// looks up two slots at random, and a 72-byte target made that three or
// four lines.
type target struct {
	addr  sources.Addr
	stamp int64 // the latest second counted (0: a free slot), with floodingBit while flooded
	count [10]uint32
}

// floodingBit marks a flooded target in its stamp (seconds, with
// floodEpoch added, stay below 2^41).
const floodingBit = 1 << 62

func (t *target) sec() int64     { return t.stamp &^ floodingBit }
func (t *target) flooding() bool { return t.stamp&floodingBit != 0 }

func (t *target) setFlooding(on bool) {
	if on {
		t.stamp |= floodingBit
	} else {
		t.stamp &^= floodingBit
	}
}

// advance moves the target's seconds on to now, clearing those it skips.
func (t *target) advance(now int64) {
	last := t.sec()
	if now-last >= 10 {
		t.count = [10]uint32{}
	} else {
		for s := last + 1; s <= now; s++ {
			t.count[sources.FloorMod(s, 10)] = 0
		}
	}
	t.stamp = now | t.stamp&floodingBit
}

// inSpan counts the new sources of the last floodSpan up to second now.
func (t *target) inSpan(now int64) uint32 {
	if now-t.sec() >= 10 {
		return 0
	}
	c := &t.count // written out: a spoofed flood's every SYN asks, for up to three targets
	return c[0] + c[1] + c[2] + c[3] + c[4] + c[5] + c[6] + c[7] + c[8] + c[9]
}

// held is a new source waiting in the delay line.
type held struct {
	rec   SourceRecord
	flood bool // judged a flood source (then already summarized)
}

// floodState is the delay line, the watched targets and the flood
// summaries of the windows not yet written.
type floodState struct {
	line      []held // a ring of a power-of-two size: n records from head
	head, n   int
	decided   int // of the n, flood sources (held only for their records' turn)
	slots     []target
	sums      []FloodRecord
	spareSums []FloodRecord
}

func (f *floodState) at(i int) *held { return &f.line[(f.head+i)&(len(f.line)-1)] }

// slot finds dst's slot, or gives it one; nil when none can be had.
func (f *floodState) slot(dst sources.Addr, sec int64) *target {
	if f.slots == nil {
		f.slots = make([]target, floodSlots)
	}
	h := srctable.Hash64(binary.LittleEndian.Uint64(dst[:8]) ^ binary.LittleEndian.Uint64(dst[8:])*0x9e3779b97f4a7c15)
	a, b := &f.slots[h&(floodSlots-1)], &f.slots[h>>32&(floodSlots-1)]
	switch {
	case a.stamp != 0 && a.addr == dst:
		return a
	case b.stamp != 0 && b.addr == dst:
		return b
	}
	for _, t := range [2]*target{a, b} {
		if t.stamp == 0 || t.inSpan(sec) <= 1 {
			*t = target{addr: dst, stamp: sec}
			return t
		}
	}
	return nil
}

// newSource takes a new source's record (in capture order): it decides it
// at once when its target is already flooded, or puts it in the delay
// line, and writes out what has waited floodSpan.
func (e *Engine) newSource(r *SourceRecord) {
	f := &e.flood
	now := r.Syn.Ts
	e.release(now)
	sec := sources.FloorTo(now, int64(time.Second))/int64(time.Second) + floodEpoch
	dst := sources.DstOf(&r.Syn)
	if t := f.slot(dst, sec); t != nil {
		t.advance(sec)
		t.count[sources.FloorMod(sec, 10)]++
		n := t.inSpan(sec)
		flood, wasFlooding := false, t.flooding()
		switch {
		case wasFlooding && n >= uint32(max(e.cfg.FloodThreshold/2, 1)):
			flood = true
		case wasFlooding:
			t.setFlooding(false)
		case n >= uint32(e.cfg.FloodThreshold):
			// A flood starts: the new sources aimed at this target in the
			// span, still in the line, were its first seconds.
			t.setFlooding(true)
			flood = true
			e.flagHeld(dst, now-floodSpan)
		}
		if flood {
			e.floodSource(r)
			if !wasFlooding {
				e.floodStarts(r)
			}
			if e.cfg.FloodSourceRecords {
				e.hold(r, true)
			}
			return
		}
	}
	e.hold(r, false)
}

// hold appends a record to the delay line, deciding the oldest at once
// when the line is full.
func (e *Engine) hold(r *SourceRecord, flood bool) {
	f := &e.flood
	for f.n-f.decided >= floodQueueMax || f.n >= floodLineMax {
		e.releaseOne()
	}
	if f.n == len(f.line) {
		grown := make([]held, max(2*len(f.line), 256))
		for i := range f.n {
			grown[i] = *f.at(i)
		}
		f.line, f.head = grown, 0
	}
	*f.at(f.n) = held{rec: *r, flood: flood}
	f.n++
	if flood {
		f.decided++
	}
}

// flagHeld marks the held new sources aimed at dst after since as flood
// sources, oldest first, and summarizes them.
func (e *Engine) flagHeld(dst sources.Addr, since int64) {
	f := &e.flood
	i := f.n
	for i > 0 && f.at(i-1).rec.Syn.Ts > since {
		i--
	}
	for ; i < f.n; i++ {
		h := f.at(i)
		if !h.flood && sources.DstOf(&h.rec.Syn) == dst {
			h.flood = true
			f.decided++
			e.floodSource(&h.rec)
		}
	}
}

// release writes out, in order, the held new sources that no new source
// up to now can change any more (those older than floodSpan), and the
// closed windows no held source belongs to. Every new source stamped
// before now has been seen when it is called.
func (e *Engine) release(now int64) {
	f := &e.flood
	for f.n > 0 && f.at(0).rec.Syn.Ts+floodSpan < now {
		e.releaseOne()
	}
	e.flushClosed()
}

// flushClosed writes the closed windows that hold no new source still in
// the line: every new source before a closed window's end has been
// handed over, so their counts are final. (A window whose last floodSpan
// brought no new source is written at once.)
func (e *Engine) flushClosed() {
	f := &e.flood
	for len(e.closed) > 0 && (f.n == 0 || f.at(0).rec.Syn.Ts >= e.closed[0].End) {
		e.emitWindow()
	}
}

// releaseOne writes out the oldest held new source, after the windows
// that ended before it.
func (e *Engine) releaseOne() {
	f := &e.flood
	h := f.at(0)
	for len(e.closed) > 0 && e.closed[0].End <= h.rec.Syn.Ts {
		e.emitWindow()
	}
	if !h.flood {
		a := &e.windowAt(h.rec.Syn.Ts).act
		a.New++ // active in its interval; a flood's sources are not
		if p := h.rec.PrevLastSeen; p != 0 && p >= sources.FloorTo(h.rec.Syn.Ts, int64(e.cfg.activityInterval())) {
			// A new episode of a source active in this interval already
			// (an interval longer than the lookback): one source of the
			// interval, two episodes of the run.
			a.Again++
		}
	}
	if !h.flood || e.cfg.FloodSourceRecords {
		h.rec.Flood = h.flood
		e.emit.Source(&h.rec)
	}
	if h.flood {
		f.decided--
	}
	f.head = (f.head + 1) & (len(f.line) - 1)
	f.n--
}

// releaseAll writes out everything held (the end of the run).
func (e *Engine) releaseAll() {
	f := &e.flood
	for f.n > 0 {
		e.releaseOne()
	}
	for len(e.closed) > 0 {
		e.emitWindow()
	}
}

// targetRecLen is a target's size in a state file: its address, latest
// second (with floodingBit) and the counts of its seconds.
const targetRecLen = 16 + 8 + 10*4

// marshalTargets appends the targets counted within floodSpan of now (the
// others can say nothing a new source would read) to b, as the state
// file's flood section: their number u32, then each target.
func (f *floodState) marshalTargets(b []byte, now int64) []byte {
	le := binary.LittleEndian
	sec := sources.FloorTo(now, int64(time.Second))/int64(time.Second) + floodEpoch
	at := len(b)
	b = le.AppendUint32(b, 0)
	n := uint32(0)
	for i := range f.slots {
		t := &f.slots[i]
		if d := sec - t.sec(); t.stamp == 0 || d < 0 || d >= 10 {
			continue // free, or of a second no new source at now can count in
		}
		b = append(b, t.addr[:]...)
		b = le.AppendUint64(b, uint64(t.stamp))
		for _, c := range t.count {
			b = le.AppendUint32(b, c)
		}
		n++
	}
	le.PutUint32(b[at:], n)
	return b
}

// readTargets reads a state file's flood section, which must be exactly
// the room bytes left before the checksum; clock is the file's (its
// targets are those counted in the 10 seconds up to it).
func readTargets(read func([]byte) error, room uint64, clock int64) ([]target, error) {
	le := binary.LittleEndian
	var b [targetRecLen]byte
	if room < 4 || read(b[:4]) != nil {
		return nil, errors.New("truncated")
	}
	n := uint64(le.Uint32(b[:4]))
	if n > floodSlots || 4+n*targetRecLen != room {
		return nil, fmt.Errorf("it says %d targets, which do not fit its %d bytes (at most %d targets; truncated or corrupt)", n, room-4, floodSlots)
	}
	last := sources.FloorTo(clock, int64(time.Second))/int64(time.Second) + floodEpoch
	out := make([]target, n)
	for i := range out {
		if err := read(b[:]); err != nil {
			return nil, fmt.Errorf("target %d: %v", i, err)
		}
		t := &out[i]
		copy(t.addr[:], b[:16])
		t.stamp = int64(le.Uint64(b[16:]))
		if d := last - t.sec(); d < 0 || d >= 10 || t.stamp&^(floodingBit|(floodingBit-1)) != 0 {
			return nil, fmt.Errorf("target %d: its second is not within the 10 s before the file's clock (corrupt)", i)
		}
		for j := range t.count {
			t.count[j] = le.Uint32(b[24+4*j:])
		}
	}
	return out, nil
}

// restoreTargets puts a state file's targets, saved at clock, back in their
// slots when the clock starts at ts, unless their seconds are over by then
// or ts is before the file's clock (a capture's later part run first: its
// targets' seconds lie ahead, and a target ahead of the clock is never
// cleared, so a flood saved as going on would swallow the new sources an
// hour before it). A target that finds no slot (both taken by targets
// restored before it) is let go.
func (f *floodState) restoreTargets(ts []target, clock, at int64) {
	if at < clock || at-clock >= floodSpan {
		return
	}
	sec := sources.FloorTo(at, int64(time.Second))/int64(time.Second) + floodEpoch
	for i := range ts {
		if t := f.slot(ts[i].addr, sec); t != nil {
			*t = ts[i]
		}
	}
}
