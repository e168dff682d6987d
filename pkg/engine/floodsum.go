package engine

import "github.com/synscope/synscope/pkg/sources"

// FloodRecord summarizes one window's flood sources: they get no source
// record each (a spoofed flood would otherwise write one per packet, a
// disk-filling lever for any attacker), so this says what they looked like.
type FloodRecord struct {
	WindowStart, WindowEnd int64
	Sources                uint64 // flood sources first seen in this window
	First, Last            int64  // their first SYNs' times, earliest and latest
	Targets                []FloodTarget
	OtherTargets           uint64 // sources aimed at targets beyond the listed ones
	// The pattern: spoofing tools often stamp every packet alike.
	TTLMin, TTLMax, TTLMode uint8
	TTLModeSources          uint64
	IPIDZero                uint64 // sources whose IP ID (IPv6: flow label) is 0
	IPIDMode                uint32
	IPIDModeSources         uint64 // at least this many share IPIDMode (a bounded count)
	WindowMode              uint16
	WindowModeSources       uint64 // at least this many share WindowMode (a bounded count)
	Sample                  []sources.Addr
	// the floods judged to start in this window, each a flood alert (at
	// most floodTargetsListed: past it, a target's flood is in the
	// record, not alerted again in the window)
	starts []floodStart
	ttl    [256]uint32
	ipid   heavy
	win    heavy
}

// floodStart is a flood judged to start: when, and on which target.
type floodStart struct {
	at     int64
	target sources.Addr
	port   uint16
}

// FloodTarget is one flooded destination and the flood sources aimed at it.
type FloodTarget struct {
	Addr    sources.Addr
	Port    uint16
	Sources uint64
}

// FloodEmitter is implemented by emitters that want a flood record for
// each window that holds flood sources (written just before the window's).
type FloodEmitter interface {
	Flood(*FloodRecord)
}

// floodTargetsListed and floodSampleLen bound a flood record.
const (
	floodTargetsListed = 8
	floodSampleLen     = 10
)

// heavy finds a stream's most frequent value in bounded memory
// (Misra-Gries with heavyK counters): a value held by more than 1/(heavyK+1)
// of the stream is among the counters, and its count there falls short of
// the truth by at most n/(heavyK+1).
type heavy struct {
	v [heavyK]uint32
	n [heavyK]uint64
}

const heavyK = 8

func (h *heavy) add(v uint32) {
	free := -1
	for i := range h.v {
		if h.n[i] > 0 && h.v[i] == v {
			h.n[i]++
			return
		}
		if h.n[i] == 0 && free < 0 {
			free = i
		}
	}
	if free >= 0 {
		h.v[free], h.n[free] = v, 1
		return
	}
	for i := range h.n {
		h.n[i]--
	}
}

// top is the value with the largest count, the smallest value on a tie.
func (h *heavy) top() (uint32, uint64) {
	var v uint32
	var n uint64
	for i := range h.v {
		if h.n[i] > n || (h.n[i] == n && n > 0 && h.v[i] < v) {
			v, n = h.v[i], h.n[i]
		}
	}
	return v, n
}

// floodSource counts one new source as a flood source, in its window's
// summary.
func (e *Engine) floodSource(r *SourceRecord) {
	f := &e.flood
	var sum *FloodRecord
	for i := range f.sums {
		if f.sums[i].WindowStart == r.WindowStart {
			sum = &f.sums[i]
			break
		}
	}
	if sum == nil {
		f.sums = append(f.sums, FloodRecord{})
		sum = &f.sums[len(f.sums)-1]
		if n := len(f.spareSums); n > 0 { // reuse a summary's slices
			sp := &f.spareSums[n-1]
			sum.Targets, sum.Sample, sum.starts = sp.Targets[:0], sp.Sample[:0], sp.starts[:0]
			f.spareSums = f.spareSums[:n-1]
		}
		sum.WindowStart, sum.WindowEnd = r.WindowStart, r.WindowStart+e.window
		sum.First, sum.Last, sum.TTLMin = r.Syn.Ts, r.Syn.Ts, 255
	}
	s := &r.Syn
	sum.Sources++
	// Not in time order: the sources held back when a flood is recognized
	// (its first seconds) are counted after later ones.
	sum.First, sum.Last = min(sum.First, s.Ts), max(sum.Last, s.Ts)
	dst := sources.DstOf(s)
	listed := false
	for i := range sum.Targets {
		if t := &sum.Targets[i]; t.Addr == dst && t.Port == s.DstPort {
			t.Sources++
			listed = true
			break
		}
	}
	if !listed {
		if len(sum.Targets) < floodTargetsListed {
			sum.Targets = append(sum.Targets, FloodTarget{Addr: dst, Port: s.DstPort, Sources: 1})
		} else {
			sum.OtherTargets++
		}
	}
	sum.ttl[s.TTL]++
	sum.TTLMin, sum.TTLMax = min(sum.TTLMin, s.TTL), max(sum.TTLMax, s.TTL)
	if s.IPID == 0 {
		sum.IPIDZero++
	}
	sum.ipid.add(s.IPID)
	sum.win.add(uint32(s.Window))
	if len(sum.Sample) < floodSampleLen {
		sum.Sample = append(sum.Sample, sources.SrcOf(s))
	}
	e.c.FloodSources++
}

// floodStarts notes, in the window of r (its first flood source judged
// so), that a flood on r's target starts now.
func (e *Engine) floodStarts(r *SourceRecord) {
	f := &e.flood
	for i := range f.sums {
		if s := &f.sums[i]; s.WindowStart == r.WindowStart {
			if len(s.starts) < floodTargetsListed {
				s.starts = append(s.starts, floodStart{at: r.Syn.Ts, target: sources.DstOf(&r.Syn), port: r.Syn.DstPort})
			}
			return
		}
	}
}

// takeFlood removes the flood summary of the window starting at start and
// returns it finished (nil when the window had no flood source). It is
// valid until the next call.
func (e *Engine) takeFlood(start int64) *FloodRecord {
	f := &e.flood
	for i := range f.sums {
		if f.sums[i].WindowStart != start {
			continue
		}
		e.floodOut = f.sums[i]
		f.spareSums = append(f.spareSums, f.sums[i])
		f.sums = append(f.sums[:i], f.sums[i+1:]...)
		r := &e.floodOut
		for v, n := range r.ttl {
			if uint64(n) > r.TTLModeSources {
				r.TTLMode, r.TTLModeSources = uint8(v), uint64(n)
			}
		}
		v, n := r.ipid.top()
		r.IPIDMode, r.IPIDModeSources = v, n
		v, n = r.win.top()
		r.WindowMode, r.WindowModeSources = uint16(v), n
		// Most sources first; ties in the order first seen (a stable sort
		// of at most eight).
		for i := 1; i < len(r.Targets); i++ {
			for j := i; j > 0 && r.Targets[j].Sources > r.Targets[j-1].Sources; j-- {
				r.Targets[j], r.Targets[j-1] = r.Targets[j-1], r.Targets[j]
			}
		}
		return r
	}
	return nil
}
