package engine

import (
	"time"

	"github.com/synscope/synscope/pkg/decode"
)

// Prefetch tells the engine a SYN it will be given a few frames from now,
// so that its table slots are on their way into the caches by then (see
// sources.Table.Prefetch), and the window's set of destinations. Of the
// source tables, only the inline shard's, on the caller's goroutine, take
// the hint; shard workers look ahead in their own rings. It changes
// nothing but speed.
//
// Whether the source table's hints pay depends on where its lines are: a
// table the caches hold (a few thousand sources and nothing else running
// through them) pays about 10 ns a SYN for hints that find the line there
// already, while in the pipeline, where the capture's bytes stream through
// the same caches, they save about 4 % of a run. So the engine measures:
// the hints are given or not block by block (prefetchTuner), and the
// cheaper way per SYN is kept, the other tried again now and then.
func (e *Engine) Prefetch(s *decode.Syn) {
	if e.targets.v4 != nil {
		e.targets.prefetch(s)
	}
	if e.inline && len(e.shards) > 0 { // none before the first frame
		if e.tune.tick() {
			e.shards[0].tab.Prefetch(s)
		}
	}
}

// prefetchTuner decides, by measuring, whether the source table's hints
// make the engine faster. Time is taken per block of tuneBlock hints (a
// clock read per block, nothing per SYN): every tuneProbe-th block runs
// the way not chosen, and each way's cost per block is kept as a moving
// average; the cheaper is chosen for the other blocks.
type prefetchTuner struct {
	n        uint32
	blocks   uint32
	off      bool         // the current block gives no hints (the zero value gives them)
	t0       int64        // the current block's start
	cost     [2]float64   // moving average of a block's ns, without [0] and with [1] the hints
	measured [2]bool      // cost[i] holds a measurement
	now      func() int64 // the clock, ns (tests); nil: the monotonic clock
}

// monoStart anchors the monotonic clock the tuner reads.
var monoStart = time.Now()

const (
	tuneBlock = 4096 // hints a block
	tuneProbe = 8    // every eighth block runs the way not chosen
)

// tick counts one hint and says whether to give it.
func (p *prefetchTuner) tick() bool {
	if p.n++; p.n >= tuneBlock {
		p.next()
	}
	return !p.off
}

// next ends a block: its cost goes to its way's average, and the next
// block's way is chosen.
func (p *prefetchTuner) next() {
	var t int64
	if p.now != nil {
		t = p.now()
	} else {
		t = int64(time.Since(monoStart))
	}
	dt := float64(t - p.t0)
	p.t0 = t
	p.n = 0
	p.blocks++
	if p.blocks > 1 { // the first block began before the clock was read
		i := 1
		if p.off {
			i = 0
		}
		if !p.measured[i] {
			p.cost[i], p.measured[i] = dt, true
		} else {
			p.cost[i] += (dt - p.cost[i]) / 4
		}
	}
	// With the hints until they are measured, then once without; then the
	// cheaper, and the other every tuneProbe-th block.
	best := !p.measured[1] || (p.measured[0] && p.cost[1] <= p.cost[0])
	if p.blocks%tuneProbe == 0 {
		best = !best
	}
	p.off = !best
}
