package sources

import (
	"time"

	"github.com/synscope/synscope/pkg/decode"
)

// seeReach accounts a known source's SYN in its reach and reports whether
// it made the source a scanner (or updates one), writing the event to ev.
// prevLast is the source's SYN before this one.
// A promoted source's SYN is counted here (Syn leaves it: the entry is
// found here anyway).
func (t *Table) seeReach(s *decode.Syn, v *srcVal, prevLast int64, ev *Event) bool {
	dh := dstHash(s)
	ts := s.Ts
	counted := false
	fp := v.fp()
	if fp != 0 && fp == fingerprint(dh, s.DstPort) {
		return false // the same pair again (most repeat SYNs end here)
	}
	ep := t.epochOf(ts)
	if fp != 0 {
		r := t.promote(SrcOf(s), v, fp, ep)
		if r == nil {
			return false
		}
		// Every SYN so far went to the first pair: it is in this
		// interval when the last of them is.
		if r.epoch = ep; prevLast >= t.ep.start {
			r.seen = 1
		}
		counted = true // promote took the count, this SYN's included
	} else if !v.promoted() {
		// Promoted before a restart (its reach was not saved), or sent
		// back to stage 0 (reclaim.go): counting starts again now, unless
		// the slab is full.
		if t.promote(SrcOf(s), v, 0, ep) == nil {
			return false
		}
		counted = true
	}
	var w *wide
	var h *scanHdr
	var hosts, ports int
	if i, isWide := v.reachIdx(); isWide {
		w = t.wides.at(i)
		t.see(&w.act, prevLast, ts, counted, v.first) // counted: the entry was made for this SYN
		if !counted {
			w.syns++
		}
		if ep != w.epoch {
			w.epoch = ep
			w.resetInterval()
		}
	} else {
		r := t.rs.at(i)
		t.see(&r.act, prevLast, ts, counted, v.first)
		if !counted {
			r.syns++
		}
		if ep != r.epoch {
			r.epoch, r.seen = ep, 0
		}
		j := r.find(dh, s.DstPort)
		if j < 0 && int(r.n) < smallPairs {
			j = int(r.n)
			r.pd[j], r.pp[j] = dh, s.DstPort
			r.n++
			r.grew = true
		}
		if j >= 0 {
			r.seen |= 1 << j
			if t.smallScan {
				hosts, _ = r.distinct(uint16(r.seen))
				ports = r.portsOnOneHost(uint16(r.seen))
			}
			h = &r.scanHdr
		} else if w = t.widen(SrcOf(s), v, r, ep); w == nil {
			return false
		}
	}
	if w != nil {
		// A SYN matching the unresolved first pair's fingerprint is taken
		// for it: counted once, never twice.
		if w.extraDst && uint8(dh) == w.phD {
			w.extraDst = false
		}
		if w.extraPrt && portFP(s.DstPort) == w.phP {
			w.extraPrt = false
		}
		g := t.addDst(w, dh)
		if t.addPort(w, s.DstPort) || g {
			w.grew = true
		}
		wi, _ := v.reachIdx()
		t.intervalAdd(w, wi, dh, s.DstPort)
		hosts, ports = int(w.nHosts), t.portsOnOneHost(w)
		h = &w.scanHdr
	}
	kind := NoScan
	switch {
	case hosts >= t.cfg.ScanHosts && h.reported&(1<<AddressScan) == 0:
		kind = AddressScan
	case ports >= t.cfg.ScanPorts && h.reported&(1<<PortScan) == 0:
		kind = PortScan
	}
	if kind == NoScan {
		if h.reported != 0 && h.grew {
			// A reported scanner whose reach grew since its last record:
			// updated at the window's end (FlushScans), with this SYN,
			// its latest, unless a later one comes.
			t.queueScan(h, s, false)
		}
		return false
	}
	h.reported |= 1 << kind
	h.kind = kind
	h.grew = false
	d, p := t.reachOf(*v)
	// The interval's exact counts are a floor of the episode's estimates.
	d, p = max(d, hosts), max(p, ports)
	*ev = Event{Kind: ScanSource, Dir: v.dir(), T: int64(v.first) * int64(time.Second),
		Syns: h.syns, Targets: int32(d), Ports: int32(p), Scan: h.kind}
	return true
}

// grownScan is a scanner waiting for its record at the window's end: its
// latest SYN, and whether the record is the threshold's (its event gave way
// to another of the same SYN) rather than an update.
type grownScan struct {
	syn       decode.Syn
	threshold bool
}

// queueScan lists the scanner of header h for a record at the window's end
// as of SYN s (once: a later SYN replaces s).
func (t *Table) queueScan(h *scanHdr, s *decode.Syn, threshold bool) {
	if h.queued == 0 {
		t.grown = append(t.grown, grownScan{syn: *s, threshold: threshold})
		h.queued = uint32(len(t.grown))
		return
	}
	g := &t.grown[h.queued-1]
	g.syn, g.threshold = *s, g.threshold || threshold
}

// FlushScans writes, through emit, an update of every reported scanner
// whose reach grew since its last record, as of its latest SYN (which emit
// is given), and starts the next window's list. The engine calls it at each
// window's end: a scan that ended in the window it was reported in (nmap's
// thousand ports in seconds) had its reach at the threshold for its only
// record; updates came only with a SYN in a later window.
func (t *Table) FlushScans(emit func(s *decode.Syn, ev *Event)) {
	for i := range t.grown {
		s := &t.grown[i].syn
		v := t.lookupSyn(s)
		if v == nil || !v.promoted() {
			continue // gone since (evicted, or a new episode not yet promoted)
		}
		h := t.hdr(*v)
		if h.queued != uint32(i+1) {
			continue // another episode's entry, or one listed again later
		}
		h.queued = 0
		threshold := t.grown[i].threshold
		if (!h.grew && !threshold) || h.reported == 0 {
			continue
		}
		h.grew = false
		d, p := t.scanCounts(*v)
		ev := Event{Kind: ScanSource, Dir: v.dir(), T: int64(v.first) * int64(time.Second),
			Syns: h.syns, Targets: int32(d), Ports: int32(p), Scan: h.kind, Update: !threshold}
		emit(s, &ev)
	}
	t.grown = t.grown[:0]
}

// scanCounts is a promoted source's reach as its scanner records give it:
// the episode's estimates, floored by the current interval's exact counts.
func (t *Table) scanCounts(v srcVal) (dsts, ports int) {
	d, p := t.reachOf(v)
	i, wide := v.reachIdx()
	if wide {
		w := t.wides.at(i)
		return max(d, int(w.nHosts)), max(p, t.portsOnOneHost(w))
	}
	if t.smallScan {
		r := t.rs.at(i)
		hosts, _ := r.distinct(uint16(r.seen))
		return max(d, hosts), max(p, r.portsOnOneHost(uint16(r.seen)))
	}
	return d, p
}

// reachOf is a source's reach: destinations and ports.
func (t *Table) reachOf(v srcVal) (dsts, ports int) {
	if !v.promoted() {
		return 1, 1
	}
	i, wide := v.reachIdx()
	if wide {
		w := t.wides.at(i)
		dsts, ports = t.wideCounts(w)
		// An estimate is never more than the SYNs (a HyperLogLog read
		// 101 destinations of 100 SYNs).
		if n := int(w.syns); n > 0 {
			dsts, ports = min(dsts, n), min(ports, n)
		}
		// Nor more ports than there are (it read 67,471 of 5 M SYNs to
		// random ports: a review).
		return dsts, min(ports, 1<<16)
	}
	r := t.rs.at(i)
	if r.n == 0 {
		return 1, 1 // restored promoted and not touched since: at least one
	}
	return r.distinct(uint16(1)<<r.n - 1)
}

// span caches the bounds of the interval (or window) the last SYN fell in:
// SYNs come in time order, mostly, and a division per SYN is measurable.
type span struct {
	start, end int64
	num        uint32
}

// of is the number of ts's interval of length d (+1, so 0 means none; it
// wraps after 2^32 intervals, centuries of seconds).
func (c *span) of(ts, d int64) uint32 {
	if ts < c.start || ts >= c.end {
		c.start = FloorTo(ts, d)
		c.end, c.num = c.start+d, uint32(c.start/d)+1
	}
	return c.num
}

// startOf is the start of ts's interval of length d.
func (c *span) startOf(ts, d int64) int64 {
	c.of(ts, d)
	return c.start
}

func (t *Table) epochOf(ts int64) uint32  { return t.ep.of(ts, t.scanEvery) }
func (t *Table) windowOf(ts int64) uint32 { return t.wn.of(ts, t.window) }
