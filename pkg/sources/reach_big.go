package sources

import "slices"

// Stage 2 of a source's reach (see reach.go): a wide entry. Its first cache
// line holds what a SYN needs and the destination HyperLogLog follows it,
// both found from the slot's index, so the two loads go out together
// instead of one after the other. The exact lists (before the HyperLogLog
// takes over), the hosts past the seventh in an interval, the port
// HyperLogLog and the per-host port lists are touched only by the sources
// that need them: a sweep on one port, the common scan, never pays for
// ports.
const (
	exactMax  = 16 // distinct destinations and ports counted exactly
	hostSlots = 4  // hosts whose ports are counted at once, per interval
	hostsHot  = 1  // the interval's first host, in the first cache line
	// MaxScanThreshold bounds --scan-hosts and --scan-ports: the
	// interval's exact lists are that long.
	MaxScanThreshold = 64
)

type wide struct {
	scanHdr                   // 24 bytes
	dstSum             hllSum // the destinations' HyperLogLog, once exactD overflowed
	nD, nP             uint8  // entries in exactD and exactP; exactMax+1: overflowed to a HyperLogLog
	nHosts             uint8  // the interval's distinct hosts so far (up to ScanHosts)
	lastSlot           uint8  // the hp slot of the last SYN's host
	hpUsed             uint8  // hp slots in use this interval (bit j)
	extraDst, extraPrt bool   // an unresolved first pair's destination and port, counted on top
	phD                uint8  // its fingerprints
	lastPort           uint16 // the last SYN's port: a repeat adds nothing
	phP                uint16
	portH              uint32 // index+1 in Table.hlls, once exactP overflowed
	hpI                uint32 // index+1 in Table.hps, once the source used two ports
	hosts              [hostsHot]uint32
	dst                hllReg // the first cache line ends above
	hostsMore          [MaxScanThreshold - hostsHot]uint32
	exactD             [exactMax]uint32
	exactP             [exactMax]uint16
}

// hostSet is the interval's ports of the hosts a source probes most.
type hostSet [hostSlots]hostPorts

type hostPorts struct {
	d    uint32
	ph   bool // the unresolved first pair's port is one of this host's
	n    uint8
	port [MaxScanThreshold]uint16
}

func (h *hostPorts) count() int {
	if h.ph {
		return int(h.n) + 1
	}
	return int(h.n)
}

// freeWide releases stage 2 and its parts.
func (t *Table) freeWide(i uint32) {
	w := t.wides.at(i)
	if w.portH != 0 {
		t.hlls.release(w.portH - 1)
	}
	if w.hpI != 0 {
		t.hps.release(w.hpI - 1)
	}
	t.wides.release(i)
}

// widen moves source k from stage 1 to 2, seeded with its pairs, or
// reports that the slab is full (and nothing could be taken back in scan
// interval ep).
func (t *Table) widen(k Addr, v *srcVal, r *reach, ep uint32) *wide {
	i, ok := t.wides.alloc()
	if !ok {
		if !t.reclaimWide(ep) {
			t.tot.ReachFull++
			return nil
		}
		i, _ = t.wides.alloc()
	}
	t.wHand.own(i, k)
	w := t.wides.at(i)
	w.scanHdr = r.scanHdr
	ph := false
	for j := range int(r.n) {
		if j == 0 && r.ph {
			// Counted on top unless another pair shares its fingerprint.
			d, p := true, true
			for o := 1; o < int(r.n); o++ {
				d = d && !r.sameDst(0, o)
				p = p && !r.samePort(0, o)
			}
			w.extraDst, w.extraPrt = d, p
			w.phD, w.phP = uint8(r.pd[0]), r.pp[0]
			if r.seen&1 != 0 {
				if d {
					// In the interval's hosts by its fingerprint (a
					// real hash that small is one in 16 million).
					w.hosts[0], w.nHosts = r.pd[0], 1
				} else if p {
					ph = true // a port of a host among the pairs: marked below
				}
			}
			continue
		}
		t.addDst(w, r.pd[j])
		t.addPort(w, r.pp[j])
	}
	// The interval's pairs once the port count is known (intervalAdd
	// skips ports per host while it is one).
	for j := range int(r.n) {
		if (j != 0 || !r.ph) && r.seen&(1<<j) != 0 {
			t.intervalAdd(w, i, r.pd[j], r.pp[j])
		}
	}
	if ph && w.hpI != 0 {
		// The first pair's port, on the host its fingerprint names.
		hs := t.hps.at(w.hpI - 1)
		for o := 1; o < int(r.n); o++ {
			if r.seen&(1<<o) != 0 && r.sameDst(0, o) {
				for j := range hs {
					if w.used(j) && hs[j].d == r.pd[o] {
						hs[j].ph = true
					}
				}
				break
			}
		}
	}
	ri, _ := v.reachIdx()
	t.rs.release(ri)
	v.setReach(i, true)
	return w
}

// resetInterval starts a scan interval: the slots are marked free, not
// cleared (a tail source's every SYN may start an interval).
func (w *wide) resetInterval() { w.nHosts, w.hpUsed = 0, 0 }

func (w *wide) used(j int) bool { return w.hpUsed&(1<<j) != 0 }

// hasHost reports whether dh is among the interval's hosts.
func (w *wide) hasHost(dh uint32) bool {
	n := int(w.nHosts)
	if slices.Contains(w.hosts[:min(n, hostsHot)], dh) {
		return true
	}
	return n > hostsHot && slices.Contains(w.hostsMore[:n-hostsHot], dh)
}

// intervalAdd notes a pair in the scan interval's host list and per-host
// port lists of w (wide entry wi), for the kinds not reported yet (bounded
// by the thresholds: past them the answer is known).
func (t *Table) intervalAdd(w *wide, wi uint32, dh uint32, port uint16) {
	if w.nHosts > 0 && w.hosts[0] <= dstFPMask && dh&dstFPMask == w.hosts[0] {
		// The first pair's host, known only by its fingerprint when the
		// source was widened (see widen), in full now: it is that host,
		// not another (it was counted twice, and a sweep of 24 hosts that
		// came back to its first reported an address scan of 25: a
		// review). Another host of the same fingerprint is taken for it:
		// the count reads low by one, never high.
		w.hosts[0] = dh
	}
	if w.reported&(1<<AddressScan) == 0 && int(w.nHosts) < t.cfg.ScanHosts && !w.hasHost(dh) {
		if w.nHosts < hostsHot {
			w.hosts[w.nHosts] = dh
		} else {
			w.hostsMore[w.nHosts-hostsHot] = dh
		}
		w.nHosts++
	}
	// Ports per host only matter once the source has used two ports: a
	// sweep on one port skips this. (A host swept before the second port
	// shows up then has its first port missed: a port scan of it is
	// reported one port late.)
	if w.reported&(1<<PortScan) != 0 || (w.nP < 2 && !w.extraPrt) {
		return
	}
	if w.hpI == 0 {
		i, ok := t.hps.alloc()
		if !ok {
			if i, ok = t.reclaimHostSet(w.epoch); !ok {
				t.tot.ReachFull++
				return
			}
		}
		if int(i) >= len(t.hpOwner) {
			t.hpOwner = append(t.hpOwner, make([]uint32, int(i)+1-len(t.hpOwner))...)
		}
		t.hpOwner[i] = wi
		w.hpI, w.hpUsed = i+1, 0
	}
	hs := t.hps.at(w.hpI - 1)
	slot := int(w.lastSlot)
	if !w.used(slot) || hs[slot].d != dh {
		slot = -1
		for j := range hs {
			if w.used(j) && hs[j].d == dh {
				slot = j
				break
			}
		}
	}
	if slot < 0 {
		// A free slot, else the host with the fewest ports: a port scan
		// keeps its host, a sweep across hosts churns the rest.
		slot = 0
		for j := range hs {
			if !w.used(j) {
				slot = j
				break
			}
			if hs[j].n < hs[slot].n {
				slot = j
			}
		}
		h := &hs[slot]
		h.d, h.ph, h.n = dh, false, 0
		w.hpUsed |= 1 << slot
	}
	w.lastSlot = uint8(slot)
	h := &hs[slot]
	if h.ph && portFP(port) == w.phP {
		// The first pair's port, counted on top by its fingerprint, in
		// full now: in the list instead (it was counted twice).
		h.ph = false
		if slices.Contains(h.port[:h.n], port) {
			return
		}
	}
	if h.count() < t.cfg.ScanPorts && !slices.Contains(h.port[:h.n], port) {
		h.port[h.n] = port
		h.n++
	}
}

// portsOnOneHost is the interval's most ports on one host.
func (t *Table) portsOnOneHost(w *wide) int {
	if w.hpI == 0 {
		return 0
	}
	hs := t.hps.at(w.hpI - 1)
	n := 0
	for j := range hs {
		if w.used(j) {
			n = max(n, hs[j].count())
		}
	}
	return n
}

// addDst notes a destination hash and reports whether the count may have
// grown.
func (t *Table) addDst(w *wide, dh uint32) bool {
	if w.nD > exactMax {
		return w.dstSum.add(&w.dst, dh)
	}
	if slices.Contains(w.exactD[:w.nD], dh) {
		return false
	}
	if w.nD < exactMax {
		w.exactD[w.nD] = dh
	} else {
		w.dstSum.reset(&w.dst)
		for _, x := range w.exactD {
			w.dstSum.add(&w.dst, x)
		}
		w.dstSum.add(&w.dst, dh)
	}
	w.nD++
	return true
}

func (t *Table) addPort(w *wide, p uint16) bool {
	if w.nP > 0 && p == w.lastPort {
		return false
	}
	w.lastPort = p
	if w.portH != 0 {
		return t.hlls.at(w.portH - 1).add(portHash(p))
	}
	if slices.Contains(w.exactP[:w.nP], p) {
		return false
	}
	if w.nP < exactMax {
		w.exactP[w.nP] = p
		w.nP++
		return true
	}
	i, ok := t.hlls.alloc()
	if !ok {
		t.tot.ReachFull++ // stays at exactMax: reads low
		return false
	}
	h := t.hlls.at(i)
	h.reset()
	for _, x := range w.exactP {
		h.add(portHash(x))
	}
	h.add(portHash(p))
	w.portH, w.nP = i+1, exactMax+1
	return true
}

// counts is stage 2's reach.
func (t *Table) wideCounts(w *wide) (dsts, ports int) {
	dsts, ports = int(w.nD), int(w.nP)
	if w.nD > exactMax {
		dsts = w.dstSum.estimate()
	}
	if w.portH != 0 {
		ports = t.hlls.at(w.portH - 1).estimate()
	}
	if w.extraDst {
		dsts++
	}
	if w.extraPrt {
		ports++
	}
	return dsts, ports
}

// reclaimHostSet takes back, when the slab of per-host port lists is full,
// the lists of a source whose scan interval is over (its epoch is not
// epoch, the interval of the source asking): they only count the ports of
// an interval, and the source starts new ones if it comes back. They were
// kept until the source was forgotten, so 12,000 spoofed sources of 10
// ports each, 120,000 SYNs, left no lists for a lookback and no port scan
// was reported in that time (a review). A flood of such sources within
// one interval still fills the slab for that interval (counted in
// reach_full).
func (t *Table) reclaimHostSet(epoch uint32) (uint32, bool) {
	n := len(t.hpOwner)
	for range min(reclaimTries, n) {
		t.hpHand++
		if t.hpHand >= n {
			t.hpHand = 0
		}
		i := uint32(t.hpHand)
		if o := t.wides.at(t.hpOwner[i]); o.hpI == i+1 && o.epoch != epoch {
			o.hpI, o.hpUsed = 0, 0
			*t.hps.at(i) = hostSet{}
			return i, true
		}
	}
	return 0, false
}
