package engine

import (
	"github.com/synscope/synscope/pkg/decode"
	"github.com/synscope/synscope/pkg/ring"
	"github.com/synscope/synscope/pkg/sources"
)

// A shard owns the sources of its share of the address space (by the hash
// of their /24 or /48, so a source and its prefix have one owner) in a
// sources.Table. It runs either on its own goroutine, fed through a ring,
// or inline on the engine's.
type shard struct {
	tab *sources.Table
	// Records since the last hand-over, and the one being read by the
	// engine: the engine reads parts[1-cur] only between handing it over
	// and sending the next marker, so the two never collide.
	parts   [2]part
	curPart int
	ev      sources.Event // scratch for the table's answer
	watch   bool          // the table watches decoy or dark space

	in   *ring.Ring[item]
	done chan *part
}

// ringSize is the number of items a shard's ring holds.
const ringSize = 1 << 14

// flushEvery bounds the records a shard holds before handing them over.
const flushEvery = 1 << 14

// item is what travels through a shard's ring: a SYN, or a marker.
type item struct {
	seq  uint64 // the SYN's sequence number in capture order
	kind uint8
	// A marker with rotate set has the shard rotate its generations, from
	// rotateAt, after its counts are taken; with gap set too, let go of
	// them after a gap in the capture (sources.Table.Gap), the clock
	// before it in syn.Ts (a marker carries no SYN).
	rotate   bool
	gap      bool
	rotateAt int64
	syn      decode.Syn
}

// Item kinds.
const (
	itemSyn    = iota
	itemFlush  // hand over the records so far
	itemWindow // hand over the records and the window's counts
	itemStop   // offer everything to the top list, hand over, and stop
)

// event is a record a shard produced, tagged with the sequence number of
// the SYN that caused it so the engine can put every shard's records back
// in capture order.
type event struct {
	seq uint64
	ev  sources.Event
	syn decode.Syn
}

// part is what a shard hands over at a marker.
type part struct {
	events []event
	// updates are the scanner updates of a window's end (FlushScans),
	// written after its SYNs' records in an order that does not depend on
	// the shards (byUpdateOrder).
	updates []event
	win     sources.Counts
	act     sources.Activity // at a window's end: the window's activity
	seen    seen
}

// seen is a shard's totals at a hand-over: the engine reads them without
// touching a table a worker may be writing.
type seen struct {
	tot        sources.Totals
	tracked    int
	remembered int
}

// prefetchAhead is how many SYNs ahead of the one it accounts a shard asks
// for the table slots of the next (sources.Table.Prefetch).
const prefetchAhead = 8

// run is a shard worker's loop: take SYNs and markers from the ring until
// a stop marker.
func (sh *shard) run() {
	for sh.in.Wait() {
		for v := sh.in.Peek(); len(v) > 0; v = sh.in.Peek() {
			for i := range v {
				if j := i + prefetchAhead; j < len(v) && v[j].kind == itemSyn {
					sh.tab.Prefetch(&v[j].syn)
				}
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
		}
	}
}

// marker does what a marker says and hands over the records (and counts)
// so far. It reports whether the shard stops.
func (sh *shard) marker(it *item) bool {
	if it.kind == itemWindow {
		sh.flushScans()                      // before a rotation moves the window's scanners
		sh.tab.DrainStep(sources.DrainBatch) // where the inline shard takes it
	}
	switch {
	case it.rotate && it.gap:
		sh.tab.Gap(it.rotateAt, it.syn.Ts)
	case it.rotate:
		sh.tab.Rotate(it.rotateAt)
	}
	if it.kind == itemStop {
		sh.tab.Finish()
	}
	sh.handOver(it.kind != itemFlush)
	return it.kind == itemStop
}

// handOver gives the records (and, at a window's end, the counts) to the
// engine.
func (sh *shard) handOver(window bool) {
	p := sh.take(window)
	if sh.done != nil {
		sh.curPart ^= 1
		sh.parts[sh.curPart].events = sh.parts[sh.curPart].events[:0]
		sh.parts[sh.curPart].updates = sh.parts[sh.curPart].updates[:0]
		sh.done <- p
	}
}

// flushScans puts the window's scanner updates in the part in progress.
func (sh *shard) flushScans() {
	p := &sh.parts[sh.curPart]
	sh.tab.FlushScans(func(s *decode.Syn, ev *sources.Event) {
		p.updates = append(p.updates, event{ev: *ev, syn: *s})
	})
}

// take fills the part in progress with the counts (at a window's end) and
// totals; an inline shard's engine reads it at once.
func (sh *shard) take(window bool) *part {
	p := &sh.parts[sh.curPart]
	p.win = sources.Counts{}
	p.act = sources.Activity{}
	if window {
		p.win = sh.tab.TakeCounts()
		p.act = sh.tab.TakeActivity()
	}
	p.seen = sh.seen()
	return p
}

func (sh *shard) seen() seen {
	return seen{tot: sh.tab.Totals(), tracked: sh.tab.Tracked(), remembered: sh.tab.Remembered()}
}

// syn accounts one SYN of this shard's sources.
func (sh *shard) syn(s *decode.Syn, seq uint64) {
	got := sh.tab.Syn(s, &sh.ev)
	if sh.watch {
		got = sh.tab.Watch(s, &sh.ev, got)
	}
	if got {
		p := &sh.parts[sh.curPart]
		p.events = append(p.events, event{seq: seq, ev: sh.ev, syn: *s})
	}
}
