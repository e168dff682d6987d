package engine

import (
	"slices"
	"time"

	"github.com/synscope/synscope/pkg/decode"
	"github.com/synscope/synscope/pkg/growth"
	"github.com/synscope/synscope/pkg/ring"
	"github.com/synscope/synscope/pkg/sources"
)

// Engine is the front of the analysis, owned by one goroutine (the one that
// reads the capture): it keeps the clock and the windows, counts what every
// frame adds, and hands each SYN to the shard that owns its source. With
// Shards > 0 each shard runs on its own goroutine behind a lock-free ring;
// at every window's end (and every flushEvery SYNs) a marker goes down each
// ring and the engine waits for every shard's records and counts, then
// puts the records back in capture order: the output is the same whatever
// the scheduling, and the same as with Shards == 0, where the one shard
// runs inline (but for what Config.Shards says).
type Engine struct {
	cfg      Config
	window   int64
	lookback int64
	emit     Emitter
	tcfg     *sources.Config

	started bool
	now     int64 // latest packet time; the clock
	cur     WindowRecord
	win     sources.Counts // the shards' counts of the window in progress, once handed over
	winAct  sources.Activity
	act     activityState
	targets targetSet
	tune    prefetchTuner // whether the inline shard's table hints pay (prefetch.go)
	// Sources live in two generations per shard: rotating once per lookback
	// drops a generation whose every entry is older than the lookback, so
	// forgetting costs no walk over the table, and no pause.
	rotatedAt int64
	// gapFrom, while a gap's marker is handed over, is the clock before
	// the gap (skipTo); nil otherwise.
	gapFrom  *int64
	c        Counters
	top      []sources.TopSource
	srcRec   SourceRecord
	sightRec SightingRecord

	shards  []*shard
	inline  bool     // Shards == 0: the one shard runs on this goroutine
	inl     event    // scratch for an inline shard's record
	stopped bool     // the workers have stopped (after Finish)
	seq     uint64   // SYNs handed to shards
	pending int      // SYNs handed over since the last marker
	parts   []*part  // scratch for a hand-over
	updates []event  // scratch: the shards' scanner updates at a window's end (merge)
	seen    []seen   // per shard, its totals at the last hand-over
	heads   []int    // scratch for the merge
	wg      chan int // a worker's stop

	flood    floodState
	alert    alertState
	closed   []WindowRecord // windows closed but held back (flood.go)
	out      WindowRecord   // the window being written
	floodOut FloodRecord    // the flood record being written
	restored *restored      // a loaded state, applied at Start
	// stateAhead: the loaded state's clock and the first packet's, when the
	// state was saved after it (StateAhead)
	stateAhead [2]int64
	early      []earlyFrame // a capture's first frames, until anchor sets the clock
	// jumped holds the frames in a row stamped beyond MaxGap, until
	// jumpConfirm of them make the jump real (resume) or a frame within
	// MaxGap shows them bad timestamps (dropJumps).
	jumped []earlyFrame
	// strays are frames stamped more than strayGap ahead of the clock
	// (and within MaxGap), held until a frame nearer the clock shows them
	// bad timestamps, or strayConfirm in a row (or the end) the capture's
	// step (settleStrays).
	strays    []earlyFrame
	replaying bool  // settleStray hands its frame to frame: not held again
	fastEnd   int64 // see arm
	warmFrom  int64 // warm-up counts from here: the first packet, or the end of a gap

	growth  *growth.Classifier // nil: no verdicts
	verdict growth.Verdict     // the latest
	aside   *aside             // the classifier on its own goroutine (ClassifyAside), or nil
	last    WindowRecord       // the last window closed
}

// New builds an engine that sends its records to emit.
func New(cfg Config, emit Emitter) (*Engine, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Sightings > 0 {
		// A fleet sensor: the collector counts new sources across sensors
		// by address, so every new source gets its source record, flood
		// sources too (beside the flood records), as --flood-sources does.
		cfg.FloodSourceRecords = true
	}
	e := &Engine{
		cfg:      cfg,
		window:   int64(cfg.Window),
		lookback: int64(cfg.Lookback),
		emit:     emit,
		targets:  newTargetSet(),
		inline:   cfg.Shards == 0,
	}
	e.tcfg = e.cfg.tableConfig()
	if cfg.Growth != nil {
		g, err := growth.New(*cfg.Growth, cfg.Window)
		if err != nil {
			return nil, err
		}
		e.growth = g
	}
	return e, nil
}

// windowOf is the start of the window that holds ts.
func (e *Engine) windowOf(ts int64) int64 { return sources.FloorTo(ts, e.window) }

// Start sets the clock before any packet: a live sensor starts its first
// window at its start time, so an idle link still yields its windows.
// It does nothing once the clock runs.
func (e *Engine) Start(ts int64) {
	e.disarm()
	if e.started {
		return
	}
	e.started = true
	e.now = ts
	e.c.FirstPacket = ts
	e.warmFrom = ts
	r := e.restored
	if r != nil && r.first <= ts && ts-r.clock <= e.lookback {
		// The capture goes on where the saved one stopped: warm-up counts
		// from the first packet before the restart. (After a gap longer
		// than the lookback the saved sources are all stale and warm-up
		// starts again.) This run's first packet stays its own: the
		// summary's first_packet, and where its first window's coverage
		// begins (a restart mid-window covered it whole, half its
		// new sources read as a dip).
		e.warmFrom = r.first
		// The classifier goes on too: its windows, regimes and the
		// alert in force (without them, hours of insufficient_data and
		// a second alert after every restart).
		e.restoreGrowth(r.growth, r.clock, e.windowOf(ts))
	}
	e.rotatedAt = ts
	start := e.windowOf(ts)
	e.cur = WindowRecord{Start: start, End: start + e.window}
	e.startShards(ts)
}

// earlyFrame is one of a capture's first frames, held until the clock is
// set (anchor).
type earlyFrame struct {
	ts    int64
	wire  int
	isSyn bool
	syn   decode.Syn
}

// anchor sets the clock for a capture whose clock was not started (an
// offline one) from its first jumpConfirm frames, held until now, and
// analyses them: at the first of them stamped within --max-gap of their
// median. The first frame's time was taken as it came: one stamped in 2030
// before a capture of 2009 put the clock in 2030 for good (the clock never
// goes back: the whole capture was analysed at that time, in one window,
// every frame out of order), and one stamped 0 started it in 1970. Such a
// frame is now analysed at the clock like any other bad timestamp (a time
// jump, or out of order); a capture whose first frame is good starts at it
// as before, every record the same.
func (e *Engine) anchor() {
	fr := e.early
	e.early = nil
	e.Start(e.agreed(fr))
	e.replay(fr)
}

// Settle starts the clock with the frames held so far, when fewer came
// than it takes to confirm it (anchor): an offline stream that idles (a
// capture of a quiet link, still running: `tcpdump -w - | sensor -r -`)
// wrote nothing until its 64th frame. A capture's records are the same
// either way unless its first frames disagree (a bad first timestamp among
// the few held).
func (e *Engine) Settle() {
	if !e.started && len(e.early) > 0 && agree(e.early, int64(e.cfg.MaxGap)) {
		e.disarm()
		e.anchor()
	}
	if len(e.strays) > 0 {
		// Nothing came after them: taken as the capture's step, as at
		// the end (held, the windows of a quiet link's silence waited
		// for the next frame, hours on).
		e.settleStrays(false)
	}
}

// agree says whether the frames lie within d of each other: a clock set
// from them cannot be set by one bad timestamp among few (a first frame
// of 2030 and an idle pipe put a capture of 2009 in one window of 2030).
func agree(fr []earlyFrame, d int64) bool {
	lo, hi := fr[0].ts, fr[0].ts
	for i := range fr {
		lo, hi = min(lo, fr[i].ts), max(hi, fr[i].ts)
	}
	return uint64(hi)-uint64(lo) <= uint64(d)
}

// agreed is the time held frames agree on: that of the first of them
// stamped within MaxGap of their median.
func (e *Engine) agreed(fr []earlyFrame) int64 {
	times := make([]int64, len(fr))
	for i := range fr {
		times[i] = fr[i].ts
	}
	slices.Sort(times)
	med := times[len(times)/2]
	for i := range fr {
		if d := fr[i].ts - med; d <= int64(e.cfg.MaxGap) && d >= -int64(e.cfg.MaxGap) {
			return fr[i].ts
		}
	}
	return fr[0].ts
}

func (e *Engine) startShards(ts int64) {
	n := max(e.cfg.Shards, 1)
	e.shards = make([]*shard, n)
	e.seen = make([]seen, n)
	for i := range e.shards {
		// --max-sources split exactly (rounded up for each, it was
		// exceeded by up to one a shard).
		per := e.cfg.MaxSources / n
		if i < e.cfg.MaxSources%n {
			per++
		}
		e.shards[i] = &shard{tab: sources.NewTable(e.tcfg, max(per, 1), ts)}
		e.shards[i].watch = e.shards[i].tab.Watching()
	}
	if r := e.restored; r != nil {
		e.restore(r, ts)
		e.restored = nil
		// The restored totals, read before any worker runs: Counters
		// reads e.seen, which a shard fills at its first hand-over, and a
		// quiet sensor's stats and metrics said 0 sources tracked after
		// each restart until a SYN came (a review).
		for i, sh := range e.shards {
			e.seen[i] = sh.seen()
		}
	}
	if e.inline {
		return
	}
	e.wg = make(chan int, n)
	for i, sh := range e.shards {
		sh.in = ring.New[item](ringSize)
		sh.done = make(chan *part, 1)
		go func() {
			sh.run()
			e.wg <- i
		}()
	}
}

// Frame accounts one captured frame of wireLen bytes stamped ts: it moves
// the clock (closing and emitting every window the clock leaves, empty ones
// included) and, when syn is not nil (the frame is a SYN to a watched
// port), accounts the SYN at the time the frame is analysed at: ts, or the
// latest time already seen when ts runs backwards. It sets syn.Ts to it
// (not for a capture's first frames, held on a copy until the clock is
// set: see anchor).
// (The clock is written out here, not in a function of its own: this is
// the per-frame path.)
func (e *Engine) Frame(ts int64, wireLen int, syn *decode.Syn) {
	if syn == nil && e.Tick(ts, wireLen) {
		return
	}
	e.frame(ts, wireLen, syn)
}

// Tick is Frame for a frame that is no SYN, in its common case, small
// enough to be inlined into the packet loops: in order and before fastEnd
// (see arm), it moves the clock, counts the frame and returns true; else
// it does nothing and returns false, and the caller calls Frame.
func (e *Engine) Tick(ts int64, wireLen int) bool {
	if ts < e.now || ts >= e.fastEnd {
		return false
	}
	e.now = ts
	e.c.Packets++
	e.c.Bytes += uint64(wireLen)
	e.cur.Packets++
	return true
}

// arm sets fastEnd, the time before which a frame that is no SYN and not
// out of order only moves the clock and counts (Frame's fast path): the
// end of the window in progress, when no closed window is held back, no
// run of jumps is being counted, and the window is no longer than MaxGap
// (so no step within it is a jump); else 0. Every other entry point that changes the engine's state calls
// disarm first, and only frame, after every case, arms it again.
func (e *Engine) arm() {
	e.fastEnd = 0
	if fastPath && e.started && len(e.closed) == 0 && len(e.jumped) == 0 && len(e.strays) == 0 && e.now >= e.cur.Start && e.cur.End-e.cur.Start <= int64(e.cfg.MaxGap) {
		e.fastEnd = e.cur.End
	}
}

func (e *Engine) disarm() { e.fastEnd = 0 }

// fastPath is false in tests that compare Frame with and without Tick.
var fastPath = true

// frame is Frame's every case.
func (e *Engine) frame(ts int64, wireLen int, syn *decode.Syn) {
	if !e.started {
		e.early = append(e.early, earlyFrame{ts: ts, wire: wireLen, isSyn: syn != nil})
		if syn != nil {
			e.early[len(e.early)-1].syn = *syn
		}
		if len(e.early) == jumpConfirm {
			e.anchor()
		}
		return
	}
	if len(e.strays) > 0 && !e.replaying && e.backFromStrays(ts) {
		e.settleStrays(true)
	}
	if e.beyond(ts, int64(e.cfg.MaxGap)) {
		if len(e.strays) > 0 && !e.replaying {
			e.settleStrays(false) // followed by frames further still: steps of the capture
		}
		// Held until the run confirms the jump or is broken: a capture
		// that resumes after a gap has its first frames analysed at
		// their own times (they were taken at the clock, before the gap,
		// as bad timestamps: 63 frames a gap in the wrong window, a new
		// source dated before it had sent anything).
		e.jumped = append(e.jumped, earlyFrame{ts: ts, wire: wireLen, isSyn: syn != nil})
		if syn != nil {
			e.jumped[len(e.jumped)-1].syn = *syn
		}
		if len(e.jumped) == jumpConfirm {
			e.resume()
		} else {
			e.disarm() // every frame goes through here until the run ends
		}
		return
	}
	if len(e.jumped) > 0 {
		e.dropJumps()
	}
	if !e.replaying && (len(e.strays) > 0 || e.beyond(ts, e.strayGap())) {
		// A frame well ahead, or one that follows those: held (one frame
		// stamped 3 days ahead moved the clock there, and the next 2,900
		// SYNs of the capture were out of order, in one window after 863
		// empty ones).
		e.strays = append(e.strays, earlyFrame{ts: ts, wire: wireLen, isSyn: syn != nil})
		if syn != nil {
			e.strays[len(e.strays)-1].syn = *syn
		}
		if len(e.strays) == strayConfirm {
			e.settleStrays(false)
		} else {
			e.disarm()
		}
		return
	}
	if ts < e.now {
		ts = e.now
		e.c.OutOfOrder++
		e.cur.OutOfOrder++
	} else {
		if ts >= e.cur.End || len(e.closed) > 0 {
			e.Advance(ts) // windows to close, or held ones to release
		} else if ts > e.now { // Advance's common case, without the call
			e.now = ts
		}
	}
	e.c.Packets++
	e.c.Bytes += uint64(wireLen)
	e.cur.Packets++
	if syn != nil {
		syn.Ts = ts
		e.syn(syn)
	}
	e.arm()
}

// strayGap is how far ahead of the clock a frame is held for the next
// to confirm: an hour, or a window when longer.
func (e *Engine) strayGap() int64 { return max(int64(time.Hour), e.window) }

// strayConfirm frames in a row well ahead make a step of the capture.
const strayConfirm = 4

// backFromStrays says whether a frame at next (or a live sensor's clock)
// is back near the clock, nearer it than the first held stray: they were
// bad timestamps.
func (e *Engine) backFromStrays(next int64) bool {
	f := e.strays[0].ts
	return next < f && (uint64(f)-uint64(next) > uint64(e.strayGap()) || (next >= e.now && next-e.now < f-next))
}

// settleStrays analyses the held strays: bad timestamps at the clock,
// counted (time_jumps), or the capture's step at their own times.
func (e *Engine) settleStrays(bad bool) {
	fr := e.strays
	e.strays = nil
	for i := range fr {
		if bad {
			fr[i].ts = e.now
			e.c.TimeJumps++
			e.cur.TimeJumps++
		}
	}
	e.replaying = true
	e.replay(fr)
	e.replaying = false
}

// beyond says whether ts is more than d after the clock, without the
// overflow of ts - now (timestamps are clamped to ±2^62: one at 2^62
// after a clock at -2^62 wrapped negative, was no jump, and the windows
// between were closed one by one without end; review).
func (e *Engine) beyond(ts, d int64) bool {
	return ts > e.now && uint64(ts)-uint64(e.now) > uint64(d)
}

// resume makes a confirmed jump real, and the frames held are analysed in
// order at their own times: the clock skips to the first of them when they
// run in order without a step over MaxGap (a sparse capture resuming), else
// to the first stamped within MaxGap of their median (as anchor chooses a
// capture's start: one of them stamped further still is a bad timestamp of
// its own).
func (e *Engine) resume() {
	fr := e.jumped
	e.jumped = nil
	at := fr[0].ts
	for i := 1; i < len(fr); i++ {
		if fr[i].ts < fr[i-1].ts || uint64(fr[i].ts)-uint64(fr[i-1].ts) > uint64(e.cfg.MaxGap) {
			at = e.agreed(fr)
			break
		}
	}
	e.skipTo(at)
	e.replay(fr)
}

// dropJumps analyses the frames held as a jump that a frame within MaxGap
// has shown to be bad timestamps: at the clock, counted.
func (e *Engine) dropJumps() {
	fr := e.jumped
	e.jumped = nil
	for i := range fr {
		f := &fr[i]
		f.ts = e.now
		e.c.TimeJumps++
		e.cur.TimeJumps++
	}
	e.replay(fr)
}

// replay analyses held frames in order.
func (e *Engine) replay(fr []earlyFrame) {
	for i := range fr {
		f := &fr[i]
		var s *decode.Syn
		if f.isSyn {
			s = &f.syn
		}
		e.frame(f.ts, f.wire, s)
	}
}

// skipTo resumes after a confirmed gap: the window in progress closes, and
// the next one is the window of ts, marked; a gap longer than the lookback
// starts warm-up again (nothing was watched in it) and lets every source
// before it go (they are all stale: sources.Table.Gap).
func (e *Engine) skipTo(ts int64) {
	last := e.now
	e.closeWindow()
	if e.beyond(ts, e.lookback) {
		e.warmFrom = ts
		// Every source before the gap is stale: the shards let go of
		// both generations (one rotation kept the one before the gap,
		// whose sources came back returning after any gap).
		e.gapFrom = &last
		e.handOver(itemFlush, true, ts)
		e.gapFrom = nil
		e.rotatedAt = ts
	}
	e.now = ts
	start := e.windowOf(ts)
	e.cur = WindowRecord{Start: start, End: start + e.window, GapBefore: true, resumed: ts}
	e.c.Gaps++
}

// Advance moves the clock to ts without a packet (a live sensor's timer
// uses it so idle links still close their windows). It never moves the clock
// backwards and does nothing before the first packet.
//
// A step of the clock longer than MaxGap (a wall clock set forward by
// days: the timer's only way to get one) is a gap, as after a packet
// stamped that far ahead: the window in progress closes and the windows
// resume at ts, without writing one per window of the step.
func (e *Engine) Advance(ts int64) {
	e.disarm()
	if len(e.strays) > 0 && !e.replaying {
		e.settleStrays(e.backFromStrays(ts)) // a live sensor's clock: they were ahead of it, or not
	}
	if !e.started || ts <= e.now {
		return
	}
	if len(e.jumped) > 0 {
		// The clock steps to where they are (a wall clock set forward):
		// the jump is real; else they are bad timestamps, and the clock
		// moves on past them (a step of its own is a gap of its own).
		if at := e.agreed(e.jumped); !e.beyond(ts, int64(e.cfg.MaxGap)) || at-ts > int64(e.cfg.MaxGap) || ts-at > int64(e.cfg.MaxGap) {
			e.dropJumps()
		} else {
			e.resume()
		}
		if ts <= e.now {
			return
		}
	}
	if e.beyond(ts, int64(e.cfg.MaxGap)) {
		e.skipTo(ts)
		e.releaseDue(ts)
		return
	}
	e.now = ts
	released := false
	for ts >= e.cur.End {
		e.closeWindow()
		if !released {
			// Every held new source came before the first window this
			// loop closes, so once that one is closed the held ones due
			// by ts go out, and the windows after them as they close:
			// the records and their order are those of a release after
			// the loop, without the windows of a long pause piling up
			// (a record each, copied along at every write).
			released = e.releaseDue(ts)
		}
	}
	if !released {
		e.releaseDue(ts)
	}
}

// releaseDue releases the held new sources due by ts, and the windows
// after them, when the oldest window held back ended floodSpan before ts,
// and reports whether it did. The shards first hand over the new sources
// so far, so that it is written with every flood decision made. (Once per
// window: a hand-over per second cost the sharded engine a third more per
// SYN, measured.)
func (e *Engine) releaseDue(ts int64) bool {
	if len(e.closed) == 0 || e.closed[0].End+floodSpan > ts {
		return false
	}
	if !e.inline && e.pending > 0 {
		e.handOver(itemFlush, false, 0)
	}
	e.release(ts)
	return true
}

// Finish ends the run: it closes the window in progress, stops the shards
// and gathers the busiest sources. Call it once, at the end.
func (e *Engine) Finish() {
	defer e.closeAside() // the last verdicts, after every other record of the windows
	e.disarm()
	if !e.started && len(e.early) > 0 {
		e.anchor() // a capture of fewer frames than it takes to confirm the clock
	}
	if !e.started {
		return
	}
	if len(e.jumped) > 0 {
		e.dropJumps() // fewer than it takes to confirm a jump: bad timestamps
	}
	if len(e.strays) > 0 {
		e.settleStrays(false) // the last frames: nothing says otherwise
	}
	e.closeWindow()
	e.handOver(itemStop, false, 0)
	e.releaseAll()
	e.finishActivity()
	e.top = e.top[:0]
	for _, sh := range e.shards {
		for _, t := range sh.tab.Top() {
			sources.OfferTop(&e.top, e.cfg.TopSources, t)
		}
	}
}

// Flush has every shard hand over the records it holds, so they are
// emitted now (a live sensor calls it before flushing its output, and
// before reading Counters mid-window). It is cheap when no SYN came since
// the last hand-over.
func (e *Engine) Flush() {
	e.disarm()
	switch {
	case !e.started:
	case e.inline: // its records are out already; its totals are read here
		e.seen[0] = e.shards[0].seen()
	case e.pending > 0:
		e.handOver(itemFlush, false, 0)
	}
	if e.started {
		e.release(e.now) // every new source so far is merged: what is due goes out
	}
}

// Counters returns the running totals as of the last hand-over (a window's
// end, Flush or Finish): call Flush first for figures current to the last
// SYN.
func (e *Engine) Counters() Counters {
	c := e.c
	for _, s := range e.seen {
		c.TrackedSources += uint64(s.tracked)
		c.Expired += s.tot.Expired
		c.Evicted += s.tot.Evicted
		c.Untracked += s.tot.Untracked
		c.ReachFull += s.tot.ReachFull
		c.RememberFull += s.tot.RememberFull
		c.Recalled += s.tot.Recalled
		c.Remembered += uint64(s.remembered)
	}
	c.LastPacket = e.now
	c.StartedAnything = e.started
	return c
}

// Top returns the busiest source episodes seen, most SYNs first; complete
// only after Finish.
func (e *Engine) Top() []sources.TopSource { return e.top }

// Verdict is the latest growth verdict (zero before the first window, or
// without Config.Growth).
func (e *Engine) Verdict() growth.Verdict { return e.verdict }

// LastWindow is the last window closed (zero before the first).
func (e *Engine) LastWindow() WindowRecord { return e.last }
