package fleet

import (
	"math"
	"net/netip"
	"slices"
	"time"
)

// Counts are one sensor's own counts of a window, from its progress record.
type Counts struct {
	SynPackets    uint64 `json:"syn_packets"`
	ActiveSources uint64 `json:"active_sources"`
	NewSources    uint64 `json:"new_sources"`
	FloodSources  uint64 `json:"flood_new_sources"`
}

// add adds o's counts to c; sub takes them away.
func (c *Counts) add(o Counts) {
	c.SynPackets += o.SynPackets
	c.ActiveSources += o.ActiveSources
	c.NewSources += o.NewSources
	c.FloodSources += o.FloodSources
}

func (c *Counts) sub(o Counts) {
	c.SynPackets -= o.SynPackets
	c.ActiveSources -= o.ActiveSources
	c.NewSources -= o.NewSources
	c.FloodSources -= o.FloodSources
}

// Partial is one partition's share of a window: the sources it owns that
// were active and new in it, and the SYNs and own counts of the sensors
// whose home it is (PartitionOf their id), so every sensor's counts are
// added in exactly one partition.
type Partial struct {
	Partition  int    `json:"partition"`
	Partitions int    `json:"partitions"`
	Start      int64  `json:"window_start"`
	End        int64  `json:"window_end"`
	Active     uint64 `json:"active_sources"`
	New        uint64 `json:"new_sources"`
	SynPackets uint64 `json:"syn_packets"`
	Flood      uint64 `json:"flood_new_sources"` // the sensors' own, added
	// Coverage: the largest fraction of the window any of the sensors
	// covered (their progress records' coverage; below 1 in the first and
	// last windows of their captures and around gaps); 0 in partials
	// written before it was kept, and where no sensor's counts were added.
	Coverage float64           `json:"coverage,omitempty"`
	Sensors  map[string]Counts `json:"sensors,omitempty"`
	Silent   []string          `json:"silent,omitempty"` // sensors not waited for
	Behind   []string          `json:"behind,omitempty"` // sensors not waited for: more than a lookback behind the median
	Late     uint64            `json:"late_records"`     // records for windows already closed
	// SkippedFrom: the partition skipped the windows from this time up to
	// Start (it had nothing of them: no sensor had passed them, no record
	// of its own fell in them) rather than close them one by one; its
	// share of each is empty. 0: none skipped.
	SkippedFrom int64 `json:"skipped_from,omitempty"`
}

// sight is what a window knows of one source: its first SYN there (across
// the sensors) and the latest previous SYN they reported.
type sight struct{ first, last, prev int64 }

// winBuf holds one window's records in a partition until it closes.
type winBuf struct {
	srcs    map[netip.Addr]sight
	sensors map[string]Counts
	// runs: each run's progress counts taken into sensors, by sensor, run
	// and the sensor's own window: one delivered again (a spool's
	// redelivery, the same capture published again) replaces itself
	// instead of adding up (a review: every count of a window doubled).
	runs map[runWindow]runShare
	// covers: each sensor's coverage of the window, its runs' added (a
	// sensor restarted within the window covered it in two runs; the same
	// run's record again replaces its share); see coverage.
	covers map[string]float64
}

// runShare is what one run's progress record added to a window.
type runShare struct {
	counts Counts
	cover  float64
}

// coverage is the fraction of the window the fleet covered: as far as the
// sensor that covered most of it (0 when no sensor's counts were added).
func (w *winBuf) coverage() float64 {
	var c float64
	for _, v := range w.covers {
		c = max(c, min(v, 1))
	}
	return c
}

// runWindow is one run's window of one sensor.
type runWindow struct {
	sensor     string
	run, start int64
}

// sensorState is how far one sensor has got in a partition.
type sensorState struct {
	progress int64 // the end of the latest window it has passed (or where its run ended within one: covered_to)
	reach    int64 // the end of the latest window it wrote, passed or not: past progress when its run ended within that window
	heard    int64 // wall clock of its latest progress record here
	silent   bool
	// behind: heard from, but more than a lookback behind the median
	// sensor in event time (a clock set a day back, a capture of
	// yesterday published beside today's): not waited for either, or it
	// held every window of the fleet back for as long (a review).
	behind bool
}

// part is one partition's fleet-wide state. The collector that owns the
// partition feeds it the partition's records in order.
type part struct {
	id, n            int
	window, lookback int64
	maxLag           int64
	restartWait      int64           // how long a sensor whose run ended within a window is waited for (Config.RestartWait)
	home             map[string]bool // sensors whose counts this partition adds (cached PartitionOf)
	last             map[netip.Addr]int64
	pending          map[int64]*winBuf
	// passed holds the open windows some sensor's progress record named:
	// the windows a sensor wrote. Progress goes to every partition, so
	// every partition knows the same ones; a window none names lies in a
	// gap of every sensor's capture and is skipped, not closed.
	passed   map[int64]bool
	skipFrom int64 // the first window skipped since the last partial (0: none): the next says so
	sensors  map[string]*sensorState
	first    int64 // the earliest window start seen; 0 before any
	closed   int64 // windows ending at or before this are closed
	late     uint64
	swept    int64
	now      func() int64 // the wall clock, ns
	slot     int          // the snapshot slot written last
	saved    int64        // closed as of the last snapshot
	next     int64        // the offset of the next record to read
	caughtUp bool         // read to its end once: windows may close
}

func newPart(id, n int, window, lookback, maxLag int64) *part {
	return &part{id: id, n: n, window: window, lookback: lookback, maxLag: maxLag, restartWait: maxLag,
		home: map[string]bool{}, last: map[netip.Addr]int64{}, pending: map[int64]*winBuf{}, passed: map[int64]bool{}, sensors: map[string]*sensorState{},
		now: func() int64 { return time.Now().UnixNano() }}
}

func (p *part) buf(start int64) *winBuf {
	w := p.pending[start]
	if w == nil {
		w = &winBuf{srcs: map[netip.Addr]sight{}}
		p.pending[start] = w
	}
	return w
}

// add takes one record of the partition; it reports false for a record of
// a window already closed (counted as late).
func (p *part) add(r *rec) bool {
	start := r.windowStart - r.windowStart%p.window
	if start+p.window <= p.closed {
		p.late++
		return false
	}
	if p.first == 0 || start < p.first {
		p.first = start
	}
	switch r.kind {
	case kindProgress:
		st := p.sensors[r.sensor]
		if st == nil {
			st = &sensorState{}
			p.sensors[r.sensor] = st
		}
		// A run that ended within the window (covered_to) has not
		// passed it: a restart may add the rest, and the window waits
		// for it (or for the sensor to go silent) instead of closing
		// and taking the restarted run's records as late (a review: a
		// live collector's window read 128 SYNs of 133).
		end := r.windowEnd
		if r.coveredTo != 0 {
			end = r.coveredTo
		}
		st.progress = max(st.progress, end)
		st.reach = max(st.reach, r.windowEnd)
		// The collector's windows the sensor's spans (the same length
		// when both run the same --window; a longer one spans several,
		// at most maxPassed of them).
		for s, n := start, 0; s < r.windowEnd && n < maxPassed; s, n = s+p.window, n+1 {
			if s+p.window > p.closed {
				p.passed[s] = true
			}
		}
		st.heard = p.now()
		st.silent = false
		home, ok := p.home[r.sensor]
		if !ok {
			home = PartitionOf(r.sensor, p.n) == p.id
			p.home[r.sensor] = home
		}
		if home {
			w := p.buf(start)
			if w.sensors == nil {
				w.sensors = map[string]Counts{}
			}
			c := w.sensors[r.sensor]
			// A sensor restarted within a window reports it twice, each
			// run its own SYNs: they add up. The same run's record again
			// replaces what it added (records without the run add up).
			now := Counts{SynPackets: r.syns, ActiveSources: r.active, NewSources: r.newSrc, FloodSources: r.flood}
			// A sensor's window shorter than the collector's (another
			// --window) covers its share of it.
			cover := r.cover * min(1, float64(r.windowEnd-r.windowStart)/float64(p.window))
			if w.covers == nil {
				w.covers = map[string]float64{}
			}
			if r.run != 0 {
				k := runWindow{r.sensor, r.run, r.windowStart}
				if w.runs == nil {
					w.runs = map[runWindow]runShare{}
				}
				if was, ok := w.runs[k]; ok {
					c.sub(was.counts)
					w.covers[r.sensor] -= was.cover
				}
				w.runs[k] = runShare{now, cover}
			}
			c.add(now)
			w.sensors[r.sensor] = c
			if r.run != 0 {
				w.covers[r.sensor] += cover
			} else {
				// Records without a run are an older sensor's, without
				// coverage either: whole, as they were taken before.
				w.covers[r.sensor] = max(w.covers[r.sensor], r.cover)
			}
		}
	case kindSource, kindSighting:
		w := p.buf(start)
		ts := r.ts - r.ts%1e6 // the table's millisecond, as one sensor keeps it
		s, ok := w.srcs[r.src]
		if !ok || r.ts < s.first {
			s.first = r.ts
		}
		s.last = max(s.last, ts)
		s.prev = max(s.prev, r.prev)
		w.srcs[r.src] = s
	}
	return true
}

// closable reports the windows that may close now: every live sensor has
// passed them. A sensor behind the most advanced one that has not been
// heard from (a progress record) for maxLag of wall-clock time is silent:
// reported, not waited for, until it is heard from again. Wall clock, not
// event time: sensors replaying captures race through hours of packet time
// in seconds, and a live sensor is heard from once a window. force closes
// every window seen (--once at the end of the topic).
func (p *part) closable(force bool) int64 {
	if p.first == 0 || len(p.sensors) == 0 {
		return p.closed
	}
	// The lead: the end of the latest window any sensor wrote. A sensor
	// whose run ended within it holds it back for maxLag (a restart may
	// add the rest), then is silent, not waited for.
	var lead int64
	for _, s := range p.sensors {
		lead = max(lead, s.reach)
	}
	if force {
		return lead
	}
	upTo := lead
	now := p.now()
	var heard []int64 // the progress of the sensors not silent
	for id, s := range p.sensors {
		wait := p.maxLag
		if s.progress < s.reach { // its run ended within its latest window
			wait = p.restartWait
		}
		s.silent = s.progress < lead && now-s.heard > wait
		if s.silent && now-s.heard > int64(sensorForget) {
			// Gone for a day: forgotten (heard from again, it is
			// waited for again). Made-up ids, or a fleet's retired
			// sensors, were named in every partial for good (100,000
			// of them made a partial over Kafka's 1 MB record limit).
			delete(p.sensors, id)
			delete(p.home, id)
			continue
		}
		if !s.silent {
			heard = append(heard, s.progress)
		}
	}
	// Behind: more than a lookback behind the median of the sensors heard
	// from (the lower one), not the most advanced, whose clock may be the
	// wrong one: one sensor a day ahead made every other behind, and the
	// fleet's windows closed without them (a review). With two sensors a
	// day apart neither is behind: there is no telling which is right.
	slices.Sort(heard)
	var median int64
	if len(heard) > 0 {
		median = heard[(len(heard)-1)/2]
	}
	for _, s := range p.sensors {
		s.behind = !s.silent && median-s.progress > p.lookback
		if !s.silent && !s.behind {
			upTo = min(upTo, s.progress)
		}
	}
	return upTo
}

// sensorForget is how long a silent sensor, not heard from, is named
// silent before it is forgotten.
const sensorForget = 24 * time.Hour

// maxPassed bounds the collector's windows one progress record marks
// passed: a sensor's window as long as the collector's, or a few times
// longer. A longer span is not a sensor's window (one record from 1971 to
// 2009 marked 4,096 windows, each then written).
const maxPassed = 16

// close closes every window ending at or before upTo, in order, and hands
// each one's partial to emit. A window no sensor passed, and no record
// named, lies in a gap of every sensor's capture: it is skipped, with the
// windows after it up to the next one a record named, at once, and the
// next partial says from where (the combiner takes this partition's
// share of the windows skipped as empty: a partition that judged a sensor
// silent skips what another, still waiting for it, closes).
func (p *part) close(upTo int64, emit func(*Partial)) {
	start := max(p.closed, p.first)
	var named []int64 // the windows named from start on, in order: made at the first skip
	for ; start+p.window <= upTo; start += p.window {
		w := p.pending[start]
		if w == nil && !p.passed[start] {
			if named == nil {
				named = p.namedFrom(start)
			}
			i, _ := slices.BinarySearch(named, start+1)
			next := int64(math.MaxInt64)
			if i < len(named) {
				next = named[i]
			}
			// Windows from start to next (or to upTo) are skipped.
			last := start + (upTo-start)/p.window*p.window // the end of the last window upTo closes
			if next < last {
				last = next
			}
			if p.skipFrom == 0 {
				p.skipFrom = start
			}
			p.closed = last
			start = last - p.window
			continue
		}
		delete(p.pending, start)
		delete(p.passed, start)
		pa := &Partial{Partition: p.id, Partitions: p.n, Start: start, End: start + p.window, Late: p.late, SkippedFrom: p.skipFrom}
		p.skipFrom = 0
		for name, s := range p.sensors {
			if s.silent {
				pa.Silent = append(pa.Silent, name)
			}
			if s.behind {
				pa.Behind = append(pa.Behind, name)
			}
		}
		slices.Sort(pa.Silent)
		slices.Sort(pa.Behind)
		if w != nil {
			p.count(w, pa)
		}
		p.closed = start + p.window
		p.late = 0
		emit(pa)
		if p.closed-p.swept >= p.lookback {
			p.sweep()
		}
	}
}

// namedFrom is the windows from start on that a record named (a sensor
// passed them, or a source was sighted in them), in order.
func (p *part) namedFrom(start int64) []int64 {
	named := make([]int64, 0, len(p.pending)+len(p.passed))
	for s := range p.pending {
		if s >= start {
			named = append(named, s)
		}
	}
	for s := range p.passed {
		if s >= start && p.pending[s] == nil {
			named = append(named, s)
		}
	}
	slices.Sort(named)
	return named
}

// count decides which of the window's sources are new: no SYN in the
// lookback before its first SYN in the window, by the latest SYN known
// before it (earlier windows' and the previous SYNs the sensors reported).
func (p *part) count(w *winBuf, pa *Partial) {
	for a, s := range w.srcs {
		before := max(p.last[a], s.prev)
		pa.Active++
		if before == 0 || s.first-before > p.lookback {
			pa.New++
		}
		p.last[a] = max(before, s.last)
	}
	pa.Sensors = w.sensors
	pa.Coverage = w.coverage()
	for _, c := range w.sensors {
		pa.SynPackets += c.SynPackets
		pa.Flood += c.FloodSources
	}
}

// sweep forgets sources silent for longer than the lookback (they are new
// when they return whether remembered or not), so the state stays bounded.
func (p *part) sweep() {
	p.swept = p.closed
	for a, t := range p.last {
		if p.closed-t > p.lookback {
			delete(p.last, a)
		}
	}
}
