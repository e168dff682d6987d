package sources

import (
	"time"

	"github.com/synscope/synscope/pkg/decode"
)

// seeReach accounts a known source's SYN in its reach and reports whether
// it made the source a scanner (or updates one), writing the event to ev.
// prevLast is the source's SYN before this one.
func (t *Table) seeReach(s *decode.Syn, v *srcVal, prevLast int64, ev *Event) bool {
	dh := dstHash(s)
	ts := s.Ts
	var r *reach
	if fp := v.fp(); fp != 0 {
		if fp == fingerprint(dh, s.DstPort) {
			return false // the same pair again (most repeat SYNs end here)
		}
		if r = t.promote(SrcOf(s), fp); r == nil {
			return false
		}
		v.setFP(0)
		// Every SYN so far went to the first pair: it is in this
		// interval when the last of them is.
		if r.epoch = FloorTo(ts, t.scanEvery); prevLast >= r.epoch {
			r.seen = 1
		}
	} else if r = t.reachIndex(SrcOf(s)); r == nil {
		// Promoted before a restart (its reach was not saved), or the
		// slab was full when it was due: start counting now.
		if r = t.promote(SrcOf(s), 0); r == nil {
			return false
		}
	}
	if ep := FloorTo(ts, t.scanEvery); ep != r.epoch {
		r.epoch, r.seen = ep, 0
		if r.big != 0 {
			b := &t.bigs[r.big-1]
			b.hosts = b.hosts[:0]
			for j := range b.hp {
				b.hp[j].used, b.hp[j].ports = false, b.hp[j].ports[:0]
			}
		}
	}
	var hosts, ports int
	if r.big == 0 {
		i := r.find(dh, s.DstPort)
		if i < 0 && int(r.n) < smallPairs {
			i = int(r.n)
			r.pairs[i] = pair{dh, s.DstPort}
			r.n++
			r.grew = true
		}
		if i >= 0 {
			r.seen |= 1 << i
			if t.smallScan {
				hosts, _ = r.distinct(r.seen)
				ports = r.portsOnOneHost(r.seen)
			}
		} else if b := t.bigOf(r); b == nil {
			return false
		}
	}
	if r.big != 0 {
		b := &t.bigs[r.big-1]
		// A SYN matching the unresolved first pair's fingerprint is taken
		// for it: counted once, never twice.
		if b.extraDst != 0 && dh&dstFPMask == b.phD {
			b.extraDst = 0
		}
		if b.extraPort != 0 && portFP(s.DstPort) == b.phP {
			b.extraPort = 0
		}
		g := b.addDst(dh)
		if b.addPort(s.DstPort) || g {
			r.grew = true
		}
		t.intervalAdd(b, dh, uint32(s.DstPort))
		hosts = len(b.hosts)
		for j := range b.hp {
			ports = max(ports, len(b.hp[j].ports))
		}
	}
	kind := NoScan
	switch {
	case hosts >= t.cfg.ScanHosts && r.reported&(1<<AddressScan) == 0:
		kind = AddressScan
	case ports >= t.cfg.ScanPorts && r.reported&(1<<PortScan) == 0:
		kind = PortScan
	}
	win := FloorTo(ts, t.window)
	update := kind == NoScan && r.reported != 0 && r.grew && win > r.lastRec
	if kind == NoScan && !update {
		return false
	}
	if kind != NoScan {
		r.reported |= 1 << kind
		r.kind = kind
	}
	r.lastRec, r.grew = win, false
	d, p := r.counts(t)
	*ev = Event{Kind: ScanSource, Dir: v.dir(), T: int64(v.first) * int64(time.Second),
		Syns: t.syns(SrcOf(s), *v), Targets: int32(d), Ports: int32(p), Scan: r.kind, Update: update}
	return true
}

// counts is a promoted source's reach.
func (r *reach) counts(t *Table) (dsts, ports int) {
	if r.big != 0 {
		return t.bigs[r.big-1].counts()
	}
	return r.distinct(uint16(1)<<r.n - 1)
}

// reachOf is a source's reach: destinations and ports.
func (t *Table) reachOf(k Addr, v srcVal) (dsts, ports int) {
	if v.fp() != 0 {
		return 1, 1
	}
	if r := t.reachIndex(k); r != nil {
		return r.counts(t)
	}
	return 1, 1 // restored promoted, not touched since: at least its first pair
}
