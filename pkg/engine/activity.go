package engine

import "github.com/synscope/synscope/pkg/sources"

// ActivityRecord answers "do they scan a while and then sleep?" for one
// activity interval (Config.ActivityInterval, aligned to the Unix epoch as
// windows are), or, with Final, for the whole run. The shards find each
// source's active periods and sleeps (sources/activity.go); the engine adds
// the interval's new sources once the flood line has decided they are not
// a flood's, and sums the windows of the interval.
type ActivityRecord struct {
	Start, End int64 // the interval (Final: the run's windows)
	Final      bool
	// Sources active in the interval (a flood's sources left out); in the
	// final record, the run's source episodes.
	Sources uint64
	// Sleepers: sources that woke from a sleep in the interval; in the
	// final record, episodes with at least one sleep.
	Sleepers      uint64
	Sleep, Active sources.Periods
}

// SleepHistBins: the published histogram of sleep lengths has a bin per
// power of two of seconds, [2^k, 2^(k+1)) s for k from SleepHistFirst on;
// the last bin also takes longer sleeps. Sleeps are at least
// sources.SleepFloor (2 min) and at most a lookback (at most 240 h, under
// 2^20 s).
const (
	SleepHistFirst = 6 // 64 s
	SleepHistBins  = 14
)

// SleepHistogram sums the fine bins into the published ones.
func (r *ActivityRecord) SleepHistogram() (h [SleepHistBins]uint64) {
	for i, c := range r.Sleep.Bins {
		k := min(max(i/sources.FinePerOctave-SleepHistFirst, 0), SleepHistBins-1)
		h[k] += c
	}
	return h
}

// ActivityEmitter is implemented by emitters that want ActivityRecords.
type ActivityEmitter interface {
	Activity(*ActivityRecord)
}

// activityState is the interval being summed and the run.
type activityState struct {
	start   int64 // the interval's start
	has     bool  // a window of it is summed
	cur     sources.Activity
	run     sources.Activity
	first   int64 // the first window's start
	started bool
	rec     ActivityRecord
}

// windowAt is the closed (not yet written) or current window that holds ts.
func (e *Engine) windowAt(ts int64) *WindowRecord {
	for i := range e.closed {
		if w := &e.closed[i]; ts >= w.Start && ts < w.End {
			return w
		}
	}
	return &e.cur
}

// activity sums a written window into its interval, and writes the
// interval's record when the window ends it.
func (e *Engine) activity(w *WindowRecord) {
	a := &e.act
	iv := int64(e.cfg.activityInterval())
	start := sources.FloorTo(w.Start, iv)
	if a.has && start != a.start { // a gap skipped the interval's end
		e.writeActivity(a.start, a.start+iv)
	}
	if !a.started {
		a.first, a.started = w.Start, true
	}
	a.start, a.has = start, true
	a.cur.Add(&w.act)
	a.run.Add(&w.act)
	if w.End == start+iv {
		e.writeActivity(start, w.End)
	}
}

// writeActivity writes the interval summed so far, [start, end).
func (e *Engine) writeActivity(start, end int64) {
	a := &e.act
	a.rec = ActivityRecord{Start: start, End: end, Sources: a.cur.Sources + a.cur.New - a.cur.Again,
		Sleepers: a.cur.Sleepers, Sleep: a.cur.Sleep, Active: a.cur.Active}
	a.cur, a.has = sources.Activity{}, false
	if ae, ok := e.emit.(ActivityEmitter); ok {
		ae.Activity(&a.rec)
	}
}

// finishActivity writes the last interval, cut at the last window's end,
// and the run's record.
func (e *Engine) finishActivity() {
	a := &e.act
	if !a.started {
		return
	}
	if a.has {
		e.writeActivity(a.start, e.last.End)
	}
	r := &a.run
	a.rec = ActivityRecord{Start: a.first, End: e.last.End, Final: true, Sources: r.New + r.RunSources,
		Sleepers: r.RunSleepers, Sleep: r.Sleep, Active: r.Active}
	if ae, ok := e.emit.(ActivityEmitter); ok {
		ae.Activity(&a.rec)
	}
}
