package engine

import (
	"github.com/synscope/synscope/pkg/decode"
	"github.com/synscope/synscope/pkg/growth"
	"github.com/synscope/synscope/pkg/sources"
)

// Alert kinds.
const (
	AlertExponential = "exponential" // the verdict turned exponential
	AlertCleared     = "cleared"     // it stood down
	AlertFlood       = "flood"       // a flood started
	// A source's first SYN in its episode to decoy or dark space, where
	// nothing listens: any SYN there is a scan.
	AlertDecoy = "decoy"
)

// alertConfirm exponential verdicts in a row raise the alert: two windows
// more of delay (10 min by default) against a verdict that flickers. (With
// 2, the harness, 60 seeds, saw an exponential alert in 1 to 2 of 60 runs of
// steady, bursty and step scenarios, from two-window false alarms.) Where
// the classifier merges short windows into bins, it is that many bins:
// with one-minute windows three verdicts in a row are three minutes (a
// rate stepping from 24 to 48 new sources an hour alerted in 14 of 100
// runs with three windows, in 5 with three bins: growtheval -set variants
// -seeds 100 -scenario step-2-4-w1; 4.5 % of runs at five-minute windows).
const alertConfirm = 3

// AlertRecord is a change an operator acts on, written once per change
// with its evidence.
type AlertRecord struct {
	Kind   string
	Ts     int64
	Window *WindowRecord // the window after which the verdict changed (exponential, cleared)
	// Verdict is the verdict that raised or cleared the alert.
	Verdict *growth.Verdict
	// RaisedAt is when the exponential alert being cleared was raised.
	RaisedAt int64
	// A flood's start: the target, when it was judged a flood, and its
	// window's flood record so far.
	Target        sources.Addr
	TargetPort    uint16
	TargetSources uint64 // the flood sources aimed at Target in the window (when listed in Flood.Targets)
	Flood         *FloodRecord
	// A decoy touch: the SYN, and whether the space is a decoy or dark.
	Syn   decode.Syn
	Space sources.SpaceKind
}

// AlertEmitter is implemented by emitters that want alert records.
type AlertEmitter interface {
	Alert(*AlertRecord)
}

// alertState is the alert in force.
type alertState struct {
	raised   bool
	run      int // exponential verdicts in a row
	raisedAt int64
	rec      AlertRecord
}

// alertGrowth raises or clears the exponential alert after a verdict:
// raised after alertConfirm exponential verdicts in a row, cleared by the
// first linear or declining verdict (insufficient data, an undecided step
// and saturating keep it: a window of saturation amid an epidemic that
// goes on growing cleared the alert and raised it again three windows
// later, a page each time; a plateau that holds is called linear).
func (e *Engine) alertGrowth(w *WindowRecord, v *growth.Verdict) {
	a := &e.alert
	ae, ok := e.emit.(AlertEmitter)
	switch {
	case v.Model == growth.Exponential:
		a.run++
		if a.raised || a.run < alertConfirm*e.growth.Merge() {
			return
		}
		a.raised, a.raisedAt = true, w.End
		a.rec = AlertRecord{Kind: AlertExponential, Ts: w.End, Window: w, Verdict: v}
	case v.Model == growth.Insufficient || v.Model == growth.Step || v.Model == growth.Saturating:
		// Undecided, a step the regime after which is not yet
		// decided, or growth that stopped (not yet a steady rate): an
		// alert in force is kept.
		a.run = 0
		return
	default:
		a.run = 0
		if !a.raised {
			return
		}
		a.raised = false
		a.rec = AlertRecord{Kind: AlertCleared, Ts: w.End, Window: w, Verdict: v, RaisedAt: a.raisedAt}
	}
	e.c.Alerts++
	if ok {
		ae.Alert(&a.rec)
	}
}

// alertFlood writes a flood alert for each flood that started in the
// window being written, before its flood record: its target, when it was
// recognized, and the flood sources aimed at that target in the window.
func (e *Engine) alertFlood(fr *FloodRecord) {
	ae, ok := e.emit.(AlertEmitter)
	for _, st := range fr.starts {
		e.c.Alerts++
		if !ok {
			continue
		}
		var n uint64
		for _, t := range fr.Targets {
			if t.Addr == st.target && t.Port == st.port {
				n = t.Sources
			}
		}
		e.alert.rec = AlertRecord{Kind: AlertFlood, Ts: st.at, Target: st.target, TargetPort: st.port, TargetSources: n, Flood: fr}
		ae.Alert(&e.alert.rec)
	}
}
