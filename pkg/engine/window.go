package engine

import "github.com/synscope/synscope/pkg/sources"

// closeWindow ends the window in progress: every shard hands over its
// records and counts, and the window is emitted. The generations rotate at
// its end when a lookback has passed since the last rotation (a gap lets
// them go: skipTo).
func (e *Engine) closeWindow() {
	w := &e.cur
	next := w.End
	rotate := next-e.rotatedAt >= e.lookback
	e.handOver(itemWindow, rotate, next)
	// Covered: from the first packet, or where the capture resumed after
	// a gap (the window after one was counted whole: the growth fit took
	// a window of 30 s of packets for 5 minutes of them), to the clock.
	from, to := max(w.Start, e.c.FirstPacket), min(w.End, e.now)
	if w.GapBefore { // (resumed is 0 otherwise, which is after every window before 1970)
		from = max(from, w.resumed)
	}
	w.Exposure = 1
	if from > w.Start || to < w.End {
		w.Exposure = max(float64(to-from), 1) / float64(e.window)
	}
	if to < w.End {
		w.CoveredTo = max(to, w.Start+1)
	}
	w.ActiveSources = e.win.Active
	w.NewSources = e.win.New
	w.ReturningSources = e.win.Returning
	w.NewPrefixes = e.win.NewPrefixes
	w.NewOutbound = e.win.NewOutbound
	w.NewInternal = e.win.NewInternal
	w.Untracked = e.win.Untracked
	w.Evicted = e.win.Evicted
	e.win = sources.Counts{}
	w.act.Add(&e.winAct) // (its new sources are added as they leave the flood line)
	e.winAct = sources.Activity{}
	w.DistinctTargets = uint64(e.targets.len())
	w.Warmup = w.Start < e.warmFrom+e.lookback
	w.RunFirst = e.c.FirstPacket
	e.closed = append(e.closed, *w) // written once no flood can claim its new sources (flood.go)
	e.targets.clear()
	e.cur = WindowRecord{Start: next, End: next + e.window}
	if rotate {
		e.rotatedAt = next
	}
	e.flushClosed()
}

// emitWindow writes the oldest closed window: its flood record, if it
// holds flood sources, then the window and the verdict after it.
func (e *Engine) emitWindow() {
	w := &e.out
	*w = e.closed[0]
	e.closed = e.closed[:copy(e.closed, e.closed[1:])]
	if fr := e.takeFlood(w.Start); fr != nil {
		w.FloodSources = fr.Sources
		e.alertFlood(fr)
		if fe, ok := e.emit.(FloodEmitter); ok {
			fe.Flood(fr)
		}
	}
	e.emit.Window(w)
	e.last = *w
	e.classify(w)
	e.c.Windows++
	e.activity(w)
}
