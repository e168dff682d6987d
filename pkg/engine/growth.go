package engine

import (
	"encoding/binary"

	"github.com/synscope/synscope/pkg/growth"
)

// classify asks the growth classifier for its verdict after a closed
// window, with the window's flood sources taken out (a spoofed flood is not
// spread), and benign scanners' when asked (research scans come and go on
// their own schedule), and emits it.
func (e *Engine) classify(w *WindowRecord) {
	if e.growth == nil {
		return
	}
	n := w.NewSources - w.FloodSources
	if e.cfg.GrowthExcludeBenign {
		n -= min(n, w.BenignSources)
	}
	gw := growth.Window{
		Start:    w.Start,
		End:      w.End,
		New:      float64(n),
		Exposure: w.Exposure,
		Warmup:   w.Warmup,
		Gap:      w.GapBefore,
	}
	if e.aside != nil {
		e.classifyAside(w, gw)
		return
	}
	e.verdict = e.growth.Add(gw)
	e.emitVerdict(w)
}

// emitVerdict writes the latest verdict after window w, and the alert it
// raises or clears.
func (e *Engine) emitVerdict(w *WindowRecord) {
	if ge, ok := e.emit.(GrowthEmitter); ok {
		ge.Growth(w, &e.verdict)
	}
	e.alertGrowth(w, &e.verdict)
}

// Holder is implemented by emitters that can hold a place in their stream
// for records made later: Hold opens a place where the records emitted
// now would go, and the records emitted after it wait behind it; Fill
// calls f, whose records go into the oldest place open, and lets out what
// waited behind it (up to the next place open). Held is the bytes
// waiting.
type Holder interface {
	Hold()
	Fill(f func())
	Held() int
}

// aside is the growth classifier on its own goroutine: the windows go in
// (in), their verdicts come out (out), in order; wins are the windows
// waiting for theirs, each with a place held in the output stream.
type aside struct {
	in   chan growth.Window
	out  chan growth.Verdict
	wins []WindowRecord
	hold Holder
}

// asideWindows is the depth of the channels to and from the classifier's
// goroutine: the engine waits for the classifier once asideWindows windows
// are queued to it, so about twice that many (queued, being fitted, their
// verdicts queued back) wait for their verdicts at most. asideHeld is how
// many bytes of records may wait behind their places before the engine
// waits for the next verdict (a flood writes a record a source: the
// classifier's few milliseconds a window must not hold gigabytes); it is
// looked at when windows close and when the driver calls VerdictsReady, so
// a chunk's records may go past it before it is.
const (
	asideWindows = 8
	asideHeld    = 16 << 20
)

// ClassifyAside has the growth classifier run on a goroutine of its own,
// beside the engine's (an offline run on two or more cores: its per-window
// fits then no longer stop the packets): the verdict after each window is
// written where it would have been (the emitter holds its place, see
// Holder), and the records are the same byte for byte. It reports whether
// it did: not without a classifier, nor when the emitter cannot hold a
// place. Finish waits for the last verdict.
func (e *Engine) ClassifyAside() bool {
	h, ok := e.emit.(Holder)
	if e.growth == nil || !ok || e.aside != nil {
		return false
	}
	a := &aside{in: make(chan growth.Window, asideWindows), out: make(chan growth.Verdict, asideWindows), hold: h}
	go func(c *growth.Classifier) {
		for w := range a.in {
			a.out <- c.Add(w)
		}
		close(a.out)
	}(e.growth)
	e.aside = a
	return true
}

// classifyAside hands window w to the classifier's goroutine, with a place
// held for its verdict, writing the verdicts that are ready meanwhile.
func (e *Engine) classifyAside(w *WindowRecord, gw growth.Window) {
	a := e.aside
	a.wins = append(a.wins, *w)
	a.hold.Hold()
	for {
		select {
		case a.in <- gw:
			e.VerdictsReady()
			return
		case v := <-a.out:
			e.fillVerdict(v)
		}
	}
}

// VerdictsReady writes the verdicts the classifier's goroutine has made,
// and waits for more while too many bytes of records wait behind their
// places. A driver calls it now and then (the split loop, every chunk);
// without ClassifyAside it does nothing.
func (e *Engine) VerdictsReady() {
	a := e.aside
	if a == nil {
		return
	}
	for len(a.wins) > 0 {
		if a.hold.Held() > asideHeld {
			e.fillVerdict(<-a.out)
			continue
		}
		select {
		case v := <-a.out:
			e.fillVerdict(v)
		default:
			return
		}
	}
}

// fillVerdict writes v, the verdict after the oldest window waiting, in
// the place held for it.
func (e *Engine) fillVerdict(v growth.Verdict) {
	a := e.aside
	w := a.wins[0]
	a.wins = a.wins[:copy(a.wins, a.wins[1:])]
	e.verdict = v
	a.hold.Fill(func() { e.emitVerdict(&w) })
}

// drainAside waits for the verdicts of every window handed to the
// classifier's goroutine and writes them: the classifier is then idle
// until the next window (SaveState reads it).
func (e *Engine) drainAside() {
	for a := e.aside; a != nil && len(a.wins) > 0; {
		e.fillVerdict(<-a.out)
	}
}

// restoreGrowth restores the alert in force and the classifier from a
// state file's growth section, for a capture that goes on where the saved
// one stopped; its first window starts at start. A classifier of other
// windows (another --window or --growth-horizons) starts afresh.
func (e *Engine) restoreGrowth(b []byte, clock, start int64) {
	if e.growth == nil || len(b) < 13 {
		return
	}
	le := binary.LittleEndian
	// The alert in force outlives its classifier: one refused (the run
	// before fitted another --window or --growth-horizons) starts afresh,
	// and the alert is still cleared when the verdict stands down (it was
	// dropped with the classifier, left raised in the SOC's pager for
	// good: a review); the verdicts in a row it counted were the other's.
	e.alert = alertState{raised: b[0] == 1, run: int(le.Uint32(b[1:])), raisedAt: int64(le.Uint64(b[5:]))}
	if e.growth.UnmarshalState(b[13:], clock) != nil {
		e.alert.run = 0
		return
	}
	e.growth.Resume(start)
}

// closeAside waits for the last verdicts, writes them, and ends the
// classifier's goroutine.
func (e *Engine) closeAside() {
	a := e.aside
	if a == nil {
		return
	}
	close(a.in)
	for v := range a.out {
		e.fillVerdict(v)
	}
	e.aside = nil
}
