package sources

import (
	"math"
	"math/bits"
	"time"
)

// Activity: does a source scan a while and then sleep? Each source with a
// promoted reach (reach.go: it has sent SYNs to two different pairs; a
// one-SYN source, a spoofed flood's, never gets here and pays nothing)
// keeps, in 8 bytes of its reach entry, when its current active period
// began and an estimate of the 90th percentile of its own gaps between
// SYNs (on the log scale, moved up or down a step per gap: a quantile, so
// one long gap moves it little; gaps far shorter than it, retransmissions
// seconds after their probe, are left out). A silence is a sleep
// when it is longer than SleepFloor and than SleepFactor times that
// percentile, widened while few gaps are known (a source's first gaps say
// little about it). A sleep ends at the SYN after it: the sleep and the
// active period before it (when that one began at a wake seen too) are
// counted then, in the interval of that SYN. A sleep is measured from the
// SYN before it to the SYN after it, so it is at most the lookback (a
// longer silence makes the source new again).
const (
	// SleepFloor is the shortest silence taken for a sleep, whatever the
	// source's rate: a busy scanner's pause of a few seconds is not one.
	SleepFloor = 2 * time.Minute
	// SleepFactor times a source's 90th-percentile gap is the shortest
	// sleep beyond the floor. For a steady random scanner (exponential
	// gaps; the percentile of those over an eighth of it is 2.6 times the
	// mean gap) it is, with the widening below, about 13 mean gaps: a
	// false sleep about once in 500,000 gaps once settled. So a scanner
	// at one SYN a minute cannot be told to have slept less than about
	// 13 minutes; docs/schema.md (activity) has the measured accuracy.
	SleepFactor = 3.5
	// gapsFull: the percentile's step shrinks over the first gapsFull
	// gaps, then stays at 1/8 of a power of two.
	gapsFull = 31
	// firstGapSkip: a source's first gap longer than this is left out of
	// its percentile (see). Four times SleepFloor: a scanner at one SYN a
	// minute has such a first gap once in 3,000 (left out at SleepFloor,
	// one in seven was, and the second gap, often short, set the
	// percentile low: a population that never sleeps had 5.3 % sleepers,
	// measured, 5 % allowed), while a sleep before the scan, or across a
	// restart, is mostly longer.
	firstGapSkip = 4 * SleepFloor
)

// actState is a promoted source's activity, 8 bytes in its scanHdr.
type actState struct {
	wake uint32 // start of the current active period, Unix seconds
	lgap uint16 // log2 of the 90th-percentile gap in ms, in 1/1024
	// meta: gaps seen (5 bits, up to gapsFull) | bounded (the current
	// active period began at a wake seen, so its length is known) |
	// slept (a sleep was seen in this episode)
	meta uint16
}

const (
	actGapsMask = 31
	actBounded  = 1 << 5
	actSlept    = 1 << 6
	actSkipped  = 1 << 7  // a first gap beyond firstGapSkip was left out (see)
	actPaced    = 1 << 15 // a gap of runFloor or more was seen: not all of its SYNs came in one burst (reclaim.go)
	actRunShift = 8       // gaps left out in a row since the last one that was not (6 bits)
	actRunMask  = 63 << actRunShift
	lgOne       = 1024 // log2 units of lgap
	// leftRun gaps left out in a row take the percentile down a power of
	// two (see).
	leftRun = 32
)

// sleepBar[n] is how far above the percentile (log2 units) a silence must
// be to be a sleep after n gaps: log2(SleepFactor) and a widening of 3/√n
// (a factor 8 after one gap, 1.45 from 31 on, which also covers the
// percentile's own noise). gapUp[n] and gapDown[n] are the percentile's
// steps after n gaps: 9 tenths and one tenth of 4/(n+1) log2 units, at
// least of 1/8.
var sleepBar, gapUp, gapDown = func() (bar, up, down [gapsFull + 1]int32) {
	for n := 1; n <= gapsFull; n++ {
		bar[n] = int32(math.Round((math.Log2(SleepFactor) + 3/math.Sqrt(float64(n))) * lgOne))
		st := int32(max(4*lgOne/(n+1), lgOne/8))
		up[n], down[n] = st*9/10, st/10
	}
	return bar, up, down
}()

// lgInit is the least first estimate, log2 of 16 s in ms.
var lgInit = log2ms(16000)

// runFloor: gaps shorter (log2 of 500 ms) are a burst's: left out of the
// runs that take the percentile down (see), and a source with none longer
// came in one burst (actPaced).
var runFloor = log2ms(500)

// log2ms is log2(ms) in 1/1024, from the position of the top bit and the
// ten bits under it read as a fraction (within 0.09 of the truth, and the
// same on every machine). ms 0 counts as 1.
func log2ms(ms uint64) int32 {
	if ms <= 1 {
		return 0
	}
	e := bits.Len64(ms) - 1
	var frac uint64
	if e >= 10 {
		frac = ms >> (e - 10) & (lgOne - 1)
	} else {
		frac = ms << (10 - e) & (lgOne - 1)
	}
	return int32(e)*lgOne + int32(frac)
}

// Periods are the lengths of the sleeps (or active periods) of an
// interval: how many, their sum, and fine bins (8 per power of two of
// seconds, from 1 s) for the median.
type Periods struct {
	N     uint64
	SumMs uint64
	Bins  [FineBins]uint64
}

// FineBins cover 1 s to 2^21 s (24 days) in 8 bins per power of two; bin 0
// also takes shorter periods, the last longer ones.
const (
	FinePerOctave = 8
	FineBins      = 21 * FinePerOctave
)

func (p *Periods) add(ms uint64) {
	p.N++
	p.SumMs += ms
	b := 0
	if ms >= 1000 { // once per period, never per SYN: exact logarithms
		b = min(int(math.Log2(float64(ms)/1000)*FinePerOctave), FineBins-1)
	}
	p.Bins[b]++
}

// Add adds q to p.
func (p *Periods) Add(q *Periods) {
	p.N += q.N
	p.SumMs += q.SumMs
	for i := range p.Bins {
		p.Bins[i] += q.Bins[i]
	}
}

// MeanS is the mean length in seconds (0 when none).
func (p *Periods) MeanS() float64 {
	if p.N == 0 {
		return 0
	}
	return float64(p.SumMs) / float64(p.N) / 1000
}

// MedianS is the median length in seconds, read from the fine bins and
// interpolated within the median's bin on the log scale (within 4.5 % of
// the exact median); 0 when none.
func (p *Periods) MedianS() float64 {
	if p.N == 0 {
		return 0
	}
	half := float64(p.N) / 2
	var cum float64
	for i, c := range p.Bins {
		if c == 0 {
			continue
		}
		if cum+float64(c) >= half {
			f := (half - cum) / float64(c)
			return math.Exp2((float64(i) + f) / FinePerOctave)
		}
		cum += float64(c)
	}
	return math.Exp2(float64(FineBins) / FinePerOctave)
}

// Activity is a table's share of an interval's activity.
type Activity struct {
	// Sources: known sources whose first SYN in the interval this is (the
	// engine adds the new sources, once it knows they are not a flood's).
	Sources uint64
	// New: new sources of the interval not in a flood (the engine's).
	New uint64
	// Again: of those, new episodes of sources active in the interval
	// before (silent for longer than the lookback within it: counted
	// once in the interval's sources; the engine's).
	Again uint64
	// RunSources: sources known from a saved state whose first SYN in
	// this run this is (the run's other sources are new ones).
	RunSources uint64
	// Sleepers: sources that woke from a sleep in the interval (once
	// each); RunSleepers: sources whose first sleep in their episode
	// ended in the interval.
	Sleepers, RunSleepers uint64
	Sleep, Active         Periods
}

// Add adds b to a.
func (a *Activity) Add(b *Activity) {
	a.Sources += b.Sources
	a.New += b.New
	a.Again += b.Again
	a.RunSources += b.RunSources
	a.Sleepers += b.Sleepers
	a.RunSleepers += b.RunSleepers
	a.Sleep.Add(&b.Sleep)
	a.Active.Add(&b.Active)
}

// TakeActivity returns the activity so far and starts anew.
func (t *Table) TakeActivity() Activity {
	a := t.act
	t.act = Activity{}
	return a
}

// see accounts a promoted source's SYN at ts, its previous SYN at
// prevLast, in its activity; fresh says the entry was made for this SYN
// (first is then the episode's first SYN, seconds).
func (t *Table) see(a *actState, prevLast, ts int64, fresh bool, first uint32) {
	if fresh {
		*a = actState{wake: first}
	}
	gap := uint64(max(ts-prevLast, 0))
	lg := log2ms(gap / uint64(time.Millisecond))
	n := a.meta & actGapsMask
	est := int32(a.lgap)
	if lg >= runFloor {
		a.meta |= actPaced
	}
	if gap > uint64(SleepFloor) && n > 0 && lg > est+sleepBar[n] {
		t.sleep(a, prevLast, ts, gap)
		return
	}
	// The 90th percentile: up 9 tenths of a step when the gap is above
	// it, down one tenth when not. The first gap (a first one over
	// firstGapSkip left out) sets it at twice itself, at least 16 s: a first gap is a poor guide (a tenth of a
	// steady scanner's first gaps are under a tenth of its mean), and too
	// high errs towards missing a sleep, not inventing one.
	// Once it has settled, gaps under an eighth of it are left out: a
	// retransmission seconds after its probe, a burst's gaps, would
	// otherwise pull it down, and with it the threshold (a run of them
	// does: see below).
	switch {
	case n == gapsFull:
		if lg < est-3*lgOne {
			// A run of leftRun gaps left out says the percentile itself
			// is too high: set by a first gap of a few minutes (a pause
			// before the scan, or the gap across a restart), it came
			// down too slowly in the first gaps and then left out every
			// gap of a source at one SYN a second, and none of its
			// sleeps was seen again (a review). A probe's retransmissions
			// are a run of two or three. A burst's gaps (under runFloor:
			// a scanner's SYNs milliseconds apart) neither count nor
			// break a run: counted, they took a bursty scanner's
			// percentile down to the burst's pace, and its every pause
			// past 2 minutes was a sleep (a review: 100 % sleepers).
			if lg < runFloor {
				return
			}
			if r := a.meta>>actRunShift&63 + 1; r < leftRun {
				a.meta = a.meta&^actRunMask | r<<actRunShift
			} else {
				a.meta &^= actRunMask
				a.lgap = uint16(max(est-lgOne, 0))
			}
			return
		}
		a.meta &^= actRunMask
	case n == 0:
		if gap > uint64(firstGapSkip) && a.meta&actSkipped == 0 {
			// A first gap this long is more likely a sleep than the
			// source's pace (one SYN, then silence, then a scan; or the
			// gap across a restart, the reach not being saved): set at
			// twice it, the percentile stayed above every later gap for
			// good, and no sleep of the source was seen again. Left out,
			// once: the next gap sets it.
			a.meta |= actSkipped
			return
		}
		a.lgap = uint16(min(max(lg+lgOne, lgInit), math.MaxUint16))
		a.meta++
		return
	default:
		a.meta++
	}
	d := -gapDown[n]
	if lg > est {
		d = gapUp[n]
	}
	a.lgap = uint16(min(max(est+d, 0), math.MaxUint16))
}

// sleep accounts a sleep of gap ns that ended at ts (the SYN before it at
// prevLast).
func (t *Table) sleep(a *actState, prevLast, ts int64, gap uint64) {
	t.act.Sleep.add(gap / uint64(time.Millisecond))
	wakeNs := int64(a.wake) * int64(time.Second)
	if a.meta&actBounded != 0 {
		t.act.Active.add(uint64(max(prevLast-wakeNs, 0) / int64(time.Millisecond)))
	}
	if a.meta&actBounded == 0 || wakeNs < t.as.startOf(ts, t.actEvery) {
		t.act.Sleepers++ // its first wake in this interval
	}
	if a.meta&actSlept == 0 {
		t.act.RunSleepers++
	}
	a.meta = a.meta&^actRunMask | actBounded | actSlept
	a.wake = unixSeconds(ts)
}
