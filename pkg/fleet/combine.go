package fleet

import (
	"slices"

	"github.com/synscope/synscope/pkg/engine"
	"github.com/synscope/synscope/pkg/growth"
	"github.com/synscope/synscope/pkg/output"
)

// combiner adds every partition's partial of a window, each exactly once
// (a partial seen again, after a rebalance replayed its partition, is the
// same and is skipped), and writes the fleet's window when every partition
// has given its share, windows in order.
type combiner struct {
	w        *output.Writer
	lookback int64
	growth   *growth.Classifier // nil: no verdicts
	verdict  growth.Verdict
	wins     map[int64]*combined
	next     int64 // the next window to write; 0 before the first
	first    int64 // the first window written, or after a gap longer than the lookback: for warm-up
	end      int64 // the end of the last window written
	// skips are the windows each partition skipped (a partial's
	// skipped_from to its start): its share of each is empty.
	skips  map[int][]span
	gaveUp bool // a window was given up on since the last written
	// done is the end of the last window written before a restart (its
	// checkpoint): windows up to it are fed to the classifier, not written.
	done    int64
	written uint64
	dupes   uint64 // partials seen again and skipped
	// incomplete: windows given up on, some partitions' partials never to
	// come (see flush)
	incomplete uint64
}

type combined struct {
	parts   map[int]bool
	n       int
	Partial // the sums
}

func newCombiner(w *output.Writer, lookback int64, g *growth.Classifier, done int64) *combiner {
	return &combiner{w: w, lookback: lookback, growth: g, wins: map[int64]*combined{}, skips: map[int][]span{}, done: done}
}

// span is a stretch of windows [from, to) one partition skipped.
type span struct{ from, to int64 }

// skipped says whether partition p skipped the window starting at s.
func (c *combiner) skipped(p int, s int64) bool {
	for _, sp := range c.skips[p] {
		if sp.from <= s && s < sp.to {
			return true
		}
	}
	return false
}

// wellFormed says whether a partial read from the partials topic can be
// one of this topic's n partitions' (one naming partition 7 of 2 was
// counted as a share: the window was written without the real partition's
// counts, which then came as a duplicate).
func (pa *Partial) wellFormed(n int) bool {
	return pa.Partitions == n && pa.Partition >= 0 && pa.Partition < pa.Partitions && pa.End > pa.Start
}

// add takes one partition's partial and writes every window it completes.
func (c *combiner) add(pa *Partial) {
	if c.next != 0 && pa.Start < c.next {
		c.dupes++ // its window is written already: a replay
		return
	}
	if pa.SkippedFrom > 0 && pa.SkippedFrom < pa.Start {
		// The partition's share of the windows it skipped is empty: the
		// ones held now, and the ones other partitions give later.
		c.skips[pa.Partition] = append(c.skips[pa.Partition], span{pa.SkippedFrom, pa.Start})
		for s, held := range c.wins {
			if s >= pa.SkippedFrom && s < pa.Start {
				held.parts[pa.Partition] = true
			}
		}
	}
	cw := c.wins[pa.Start]
	if cw == nil {
		cw = &combined{parts: map[int]bool{}, n: pa.Partitions, Partial: Partial{Start: pa.Start, End: pa.End, Sensors: map[string]Counts{}}}
		for p := range c.skips {
			if c.skipped(p, pa.Start) {
				cw.parts[p] = true
			}
		}
		c.wins[pa.Start] = cw
	}
	if cw.parts[pa.Partition] {
		c.dupes++
		return
	}
	cw.parts[pa.Partition] = true
	cw.Active += pa.Active
	cw.New += pa.New
	cw.SynPackets += pa.SynPackets
	cw.Flood += pa.Flood
	cover := pa.Coverage
	if cover == 0 && len(pa.Sensors) > 0 {
		cover = 1 // a partial of a collector before coverage was kept: whole, as it then was
	}
	cw.Coverage = max(cw.Coverage, cover)
	cw.Late += pa.Late
	for s, v := range pa.Sensors {
		x := cw.Sensors[s]
		x.add(v)
		cw.Sensors[s] = x
	}
	for _, s := range pa.Silent {
		if !slices.Contains(cw.Silent, s) {
			cw.Silent = append(cw.Silent, s)
		}
	}
	for _, s := range pa.Behind {
		if !slices.Contains(cw.Behind, s) {
			cw.Behind = append(cw.Behind, s)
		}
	}
	c.flush()
}

func (c *combiner) lowest() int64 {
	lo := int64(0)
	for s := range c.wins {
		if lo == 0 || s < lo {
			lo = s
		}
	}
	return lo
}

// flush writes the complete windows from next on, in order; the first is
// the lowest window any partition has given (every partition starts at the
// same window: each has read every sensor's progress before it closes one).
//
// A partition gives its partials in window order, so a window it has not
// given while it has given a later one it will never give: retention cut
// the oldest partials out of the partials topic before a collector
// started (or a window no sensor reported). Such a window is given up on
// (counted) and the next one written: waiting for it, a new combiner wrote
// no window again and held every later one in memory.
func (c *combiner) flush() {
	for {
		at := c.next
		if at == 0 {
			at = c.lowest()
		}
		cw := c.wins[at]
		if cw == nil || len(cw.parts) < cw.n {
			later := c.completeAfter(at)
			if later == 0 {
				return
			}
			if cw != nil {
				delete(c.wins, at)
				c.incomplete++
				c.gaveUp = true
			}
			c.next = later
			continue
		}
		delete(c.wins, at)
		c.write(cw)
		c.next = cw.End
	}
}

// completeAfter is the first window after at that every partition has
// given its partial of, or 0 when none has. Windows between at and it
// that are held are given up on by flush one by one.
func (c *combiner) completeAfter(at int64) int64 {
	first := int64(0)
	for s, cw := range c.wins {
		if s > at && len(cw.parts) == cw.n && (first == 0 || s < first) {
			first = s
		}
	}
	if first == 0 {
		return 0
	}
	// The lowest held window after at (complete or not) comes next, so
	// the ones between are given up on in order.
	next := first
	for s := range c.wins {
		if s > at && s < next {
			next = s
		}
	}
	return next
}

// write emits one fleet window: a `window` record with the engine's
// meanings over the whole fleet (fields only one sensor can know, such as
// packets or distinct targets, are 0), a `fleet` record with each sensor's
// own counts and the silent sensors, and the growth verdict.
func (c *combiner) write(cw *combined) {
	// After a gap in every sensor's capture (every partition skipped the
	// windows since the last one written, and none was given up on), as
	// after a sensor's own: warm-up starts again when the gap was longer
	// than the lookback, and the classifier starts again.
	gap := c.end != 0 && cw.Start > c.end && !c.gaveUp
	for p := 0; gap && p < cw.n; p++ {
		gap = c.skipped(p, c.end)
	}
	if c.first == 0 || (gap && cw.Start-c.end > c.lookback) {
		c.first = cw.Start
	}
	c.end, c.gaveUp = cw.End, false
	for p, sps := range c.skips { // the spans before it are done with
		c.skips[p] = slices.DeleteFunc(sps, func(sp span) bool { return sp.to <= c.end })
	}
	// The fleet covered a window as far as the sensor that covered most of
	// it (a partial before coverage was kept says 0: taken as whole).
	cover := cw.Coverage
	if cover <= 0 || cover > 1 {
		cover = 1
	}
	wr := engine.WindowRecord{Start: cw.Start, End: cw.End, SynPackets: cw.SynPackets, ActiveSources: cw.Active,
		NewSources: cw.New, Exposure: cover, Warmup: cw.Start < c.first+c.lookback, FloodSources: min(cw.Flood, cw.New), GapBefore: gap}
	if c.growth != nil {
		// Floods are taken out, as one sensor does: the sensors' own
		// flood counts, added (a spoofed address seen by two sensors
		// counts twice, so this takes out at least the flood).
		c.verdict = c.growth.Add(growth.Window{Start: wr.Start, End: wr.End, New: float64(wr.NewSources - wr.FloodSources), Exposure: cover, Warmup: wr.Warmup, Gap: gap})
	}
	if cw.End <= c.done {
		return // written before the restart
	}
	c.w.Window(&wr)
	c.w.Fleet(&output.FleetWindow{Start: cw.Start, End: cw.End, Sensors: sensorList(cw.Sensors), Silent: cw.Silent, Behind: cw.Behind, Late: cw.Late})
	if c.growth != nil {
		c.w.Growth(&wr, &c.verdict)
	}
	c.written++
}

func sensorList(m map[string]Counts) []output.FleetSensor {
	out := make([]output.FleetSensor, 0, len(m))
	for id, v := range m {
		out = append(out, output.FleetSensor{ID: id, SynPackets: v.SynPackets, ActiveSources: v.ActiveSources, NewSources: v.NewSources, FloodSources: v.FloodSources})
	}
	slices.SortFunc(out, func(a, b output.FleetSensor) int {
		if a.ID < b.ID {
			return -1
		}
		if a.ID > b.ID {
			return 1
		}
		return 0
	})
	return out
}
