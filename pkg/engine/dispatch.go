package engine

import (
	"bytes"
	"cmp"
	"runtime"
	"slices"

	"github.com/synscope/synscope/pkg/decode"
	"github.com/synscope/synscope/pkg/fingerprint"
	"github.com/synscope/synscope/pkg/sources"
)

// handOver collects every shard's records since the last hand-over (and,
// for itemWindow, its counts of the window), writes the records in capture
// order, and has the shards rotate their generations at rotateAt when
// rotate is set.
func (e *Engine) handOver(kind uint8, rotate bool, rotateAt int64) {
	if e.inline {
		sh := e.shards[0]
		if kind == itemWindow {
			sh.flushScans()
		}
		e.apply(0, sh.take(kind != itemFlush))
		if kind == itemWindow {
			// A step of a dropped generation at each window's end, where
			// a worker takes it (at the window's marker; Flush markers
			// come when a live sensor's timer says, so they take none).
			sh.tab.DrainStep(sources.DrainBatch)
		}
		switch {
		case rotate && e.gapFrom != nil:
			sh.tab.Gap(rotateAt, *e.gapFrom)
		case rotate:
			sh.tab.Rotate(rotateAt)
		}
		if kind == itemStop {
			sh.tab.Finish()
			e.seen[0] = sh.seen()
		}
		return
	}
	if e.stopped {
		return
	}
	for _, sh := range e.shards {
		s := sh.in.Slot()
		if s == nil {
			sh.in.WaitSpace() // a marker is never dropped
			s = sh.in.Slot()
		}
		s.seq, s.kind, s.rotate, s.rotateAt, s.gap = e.seq, kind, rotate, rotateAt, e.gapFrom != nil
		if s.gap {
			s.syn.Ts = *e.gapFrom
		}
		sh.in.Commit()
		sh.in.Publish()
	}
	e.parts = e.parts[:0]
	for _, sh := range e.shards {
		e.parts = append(e.parts, <-sh.done)
	}
	e.merge(e.parts)
	e.pending = 0
	if kind == itemStop {
		for range e.shards {
			<-e.wg
		}
		e.stopped = true
	}
}

// apply writes an inline shard's records and takes its counts.
func (e *Engine) apply(i int, p *part) {
	for j := range p.events {
		e.event(&p.events[j])
	}
	p.events = p.events[:0]
	e.writeUpdates(p)
	e.win.Add(&p.win)
	e.winAct.Add(&p.act)
	e.seen[i] = p.seen
}

// merge writes the shards' records in the order of the SYNs that caused
// them (each shard's are in that order already) and takes their counts.
func (e *Engine) merge(parts []*part) {
	e.heads = e.heads[:0]
	for i, p := range parts {
		e.heads = append(e.heads, 0)
		e.win.Add(&p.win)
		e.winAct.Add(&p.act)
		e.seen[i] = p.seen
	}
	for {
		best := -1
		var bs uint64
		for i, p := range parts {
			if h := e.heads[i]; h < len(p.events) && (best < 0 || p.events[h].seq < bs) {
				best, bs = i, p.events[h].seq
			}
		}
		if best < 0 {
			break
		}
		e.event(&parts[best].events[e.heads[best]])
		e.heads[best]++
	}
	e.writeUpdates(parts...)
}

// writeUpdates writes the scanner updates of the parts' window end (none
// but at one), in an order that does not depend on the shards.
func (e *Engine) writeUpdates(parts ...*part) {
	e.updates = e.updates[:0]
	for _, p := range parts {
		e.updates = append(e.updates, p.updates...)
		p.updates = p.updates[:0]
	}
	slices.SortFunc(e.updates, byUpdateOrder)
	for j := range e.updates {
		e.event(&e.updates[j])
	}
}

// byUpdateOrder orders a window's scanner updates by the time of the SYN
// each is as of, then by source: the same order whatever the shards.
func byUpdateOrder(a, b event) int {
	if c := cmp.Compare(a.syn.Ts, b.syn.Ts); c != 0 {
		return c
	}
	if a.syn.V6 != b.syn.V6 {
		if !a.syn.V6 {
			return -1
		}
		return 1
	}
	return bytes.Compare(a.syn.Src[:], b.syn.Src[:])
}

// event writes the records of one event a shard produced.
func (e *Engine) event(ev *event) {
	x := &ev.ev
	if x.Kind == sources.Sighting || x.Sighted {
		if se, ok := e.emit.(SightingEmitter); ok {
			e.sightRec = SightingRecord{Syn: ev.syn, WindowStart: e.cur.Start, PrevSeen: x.Prev}
			se.Sighting(&e.sightRec)
		}
	}
	switch x.Kind {
	case sources.ScanSource:
		if se, ok := e.emit.(ScanEmitter); ok {
			se.Scan(&ScanRecord{Syn: ev.syn, Kind: x.Scan, Direction: x.Dir, FirstSeen: x.T, SynPackets: x.Syns,
				Targets: int(x.Targets), Ports: int(x.Ports), Update: x.Update})
		}
	case sources.Scanner:
		if se, ok := e.emit.(ScannerEmitter); ok {
			se.Scanner(&ScannerRecord{Syn: ev.syn, Direction: ev.ev.Dir, FirstSeen: ev.ev.T, SynPackets: ev.ev.Syns, DistinctTargets: int(ev.ev.Targets)})
		}
	case sources.NewSource:
		e.c.NewSources++
		if ev.ev.Returning {
			e.c.Returning++
		}
		e.cur.NewByTool[fingerprint.ToolOf(&ev.syn)]++
		if e.cfg.Benign != nil && e.cfg.Benign.Source(&ev.syn) != "" {
			e.cur.BenignSources++
		}
		e.srcRec = SourceRecord{Syn: ev.syn, WindowStart: e.cur.Start, Direction: ev.ev.Dir, PrevLastSeen: ev.ev.T,
			Returning: ev.ev.Returning}
		e.newSource(&e.srcRec) // written now, held for a flood decision, or summed into a flood record
	}
	if ev.ev.Space != sources.NotWatched {
		e.c.DecoyTouches++
		if e.cur.decoyAlerts >= decoyAlertsMax {
			// A spoofed flood into decoy or dark space: every source is
			// new and touches it, and wrote an alert each (100,000 lines,
			// and as many runs of the hooks, beside one flood record).
			e.c.DecoyDropped++
			return
		}
		e.cur.decoyAlerts++
		e.c.Alerts++
		if ae, ok := e.emit.(AlertEmitter); ok {
			e.alert.rec = AlertRecord{Kind: AlertDecoy, Ts: ev.syn.Ts, Syn: ev.syn, Space: ev.ev.Space}
			ae.Alert(&e.alert.rec)
		}
	}
}

// decoyAlertsMax bounds the decoy alerts of a window; the touches past it
// are counted (the stats record's drops.decoy_alerts).
const decoyAlertsMax = 64

// syn hands one matched SYN, stamped by the clock, to its shard.
func (e *Engine) syn(s *decode.Syn) {
	e.c.SynPackets++
	e.cur.SynPackets++
	if !e.targets.add(s, e.targets.len() < e.cfg.MaxTargets) {
		e.cur.TargetsCapped = true
	}
	e.seq++
	sh := e.shards[e.shardOf(s)]
	if e.inline {
		// Inline, a record is written at once: nothing to put in order.
		got := sh.tab.Syn(s, &e.inl.ev)
		if sh.watch {
			got = sh.tab.Watch(s, &e.inl.ev, got)
		}
		if got {
			e.inl.seq, e.inl.syn = e.seq, *s
			e.event(&e.inl)
		}
		return
	}
	slot := sh.in.Slot()
	if slot == nil {
		if e.cfg.DropWhenFull {
			runtime.Gosched() // with one P the worker runs only when we yield
			if slot = sh.in.Slot(); slot == nil {
				e.c.ShardDrops++
				return
			}
		} else {
			sh.in.WaitSpace()
			slot = sh.in.Slot()
		}
	}
	slot.seq, slot.kind, slot.syn = e.seq, itemSyn, *s
	sh.in.Commit()
	if e.pending++; e.pending >= flushEvery {
		e.handOver(itemFlush, false, 0)
	}
}

// shardOf picks the shard of a SYN's source by its /24 or /48.
func (e *Engine) shardOf(s *decode.Syn) int {
	if len(e.shards) == 1 {
		return 0
	}
	return e.shardOfPrefix(sources.PrefixOf(s))
}

// shardOfPrefix picks the shard of a prefix.
func (e *Engine) shardOfPrefix(p sources.Prefix) int {
	if len(e.shards) == 1 {
		return 0
	}
	h := p.Hash(shardSeed)
	return int(uint64(uint32(h)) * uint64(len(e.shards)) >> 32)
}

// shardSeed makes the shard hash differ from the tables' own.
const shardSeed = 0x9e3779b97f4a7c15
