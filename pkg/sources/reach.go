package sources

import (
	"github.com/synscope/synscope/pkg/decode"
)

// Reach is how many distinct destination addresses and destination ports a
// source has sent SYNs to in its episode. It is kept in three stages so a
// source that sends one SYN (most of them: spoofed floods, one-off
// clients) costs nothing beyond its slot, and a scanner's SYN costs two
// cache lines, loaded at once:
//
//  0. In the slot's 16 bits: a fingerprint of the first (destination,
//     port) pair, 8 bits of the destination's hash and 8 of the port's.
//  1. At the first SYN to another pair: an exact list of up to smallPairs
//     pairs in a 64-byte entry of a side slab, its index in the slot (the
//     SYN count moves there too). The first pair is known only by its
//     fingerprint until a SYN that matches it gives it in full, so counts
//     can be one short, never more.
//  2. At the next distinct pair: a wide entry (reach_big.go): exact lists of
//     16 destinations and ports, then HyperLogLogs (±10 % well past
//     100,000), and the scan interval's exact host list and per-host port
//     lists for the scanner thresholds.
//
// The side slabs are bounded (derived from the table's cap); a source that
// finds them full stays at its stage, counted in Totals.ReachFull.
const (
	smallPairs = 6
	dstFPMask  = 1<<8 - 1
)

// scanHdr is what both promoted stages keep for the scanner records.
type scanHdr struct {
	syns     uint32 // the episode's SYNs (the slot's bits hold the index)
	epoch    uint32 // number of the scan interval the interval counts are of (Table.epochOf)
	queued   uint32 // 1 + its index in Table.grown while it waits for an update at the window's end, else 0
	reported uint8  // scan kinds already reported (1 << kind)
	kind     ScanKind
	grew     bool     // reach grew since the last scanner record
	act      actState // active periods and sleeps (activity.go)
}

// reach is stage 1: 64 bytes, one cache line.
type reach struct {
	scanHdr
	n    uint8
	ph   bool  // pair 0 is the first pair known only by fingerprint
	seen uint8 // pairs touched in the current scan interval (bit i)
	// The pairs: destination hashes and ports (the placeholder's: their
	// 8-bit fingerprints).
	pp [smallPairs]uint16
	pd [smallPairs]uint32
}

// ScanKind is what made a source a scanner.
type ScanKind uint8

// Scan kinds.
const (
	NoScan      ScanKind = iota
	AddressScan          // ScanHosts distinct hosts within a scan interval
	PortScan             // ScanPorts distinct ports on one host within a scan interval
)

var scanNames = [...]string{"", "address_scan", "port_scan"}

// String is the kind's name in records.
func (k ScanKind) String() string { return scanNames[k] }

// mix64 is SplitMix64's finaliser: every input bit reaches every output
// bit, which the HyperLogLog and the fingerprints need.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

// dstHash is a SYN's destination as a 32-bit hash.
func dstHash(s *decode.Syn) uint32 {
	if !s.V6 {
		return uint32(mix64(uint64(v4num(s.Dst[:4]))|1<<40) >> 32)
	}
	return dstHash6(s)
}

// dstHash6 is dstHash of an IPv6 destination (apart, so dstHash inlines).
func dstHash6(s *decode.Syn) uint32 {
	a := uint64(s.Dst[0])<<56 | uint64(s.Dst[1])<<48 | uint64(s.Dst[2])<<40 | uint64(s.Dst[3])<<32 |
		uint64(s.Dst[4])<<24 | uint64(s.Dst[5])<<16 | uint64(s.Dst[6])<<8 | uint64(s.Dst[7])
	b := uint64(s.Dst[8])<<56 | uint64(s.Dst[9])<<48 | uint64(s.Dst[10])<<40 | uint64(s.Dst[11])<<32 |
		uint64(s.Dst[12])<<24 | uint64(s.Dst[13])<<16 | uint64(s.Dst[14])<<8 | uint64(s.Dst[15])
	return uint32(mix64(mix64(a)^b) >> 32)
}

// portHash is a port as a 32-bit hash (the port HyperLogLog needs spread
// bits; ports themselves cluster).
func portHash(p uint16) uint32 { return uint32(mix64(uint64(p)|2<<40) >> 32) }

func portFP(p uint16) uint16 { return uint16(portHash(p) >> 24) }

// fingerprint is stage 0: never 0, which marks a promoted source.
func fingerprint(dh uint32, port uint16) uint32 {
	f := dh&dstFPMask | uint32(portFP(port))<<8
	if f == 0 {
		f = 1 << 8
	}
	return f
}

// sameDst says whether pairs i and j have the same destination; against
// the placeholder only its fingerprint can be compared.
func (r *reach) sameDst(i, j int) bool {
	if r.ph && (i == 0 || j == 0) {
		return r.pd[i]&dstFPMask == r.pd[j]&dstFPMask
	}
	return r.pd[i] == r.pd[j]
}

func (r *reach) samePort(i, j int) bool {
	if r.ph && (i == 0 || j == 0) {
		a, b := r.pp[i], r.pp[j]
		if i != 0 {
			a = portFP(a)
		} else {
			b = portFP(b)
		}
		return a == b
	}
	return r.pp[i] == r.pp[j]
}

// distinct counts the destinations and ports among the pairs whose bit is
// set in mask.
func (r *reach) distinct(mask uint16) (dsts, ports int) {
	for i := range int(r.n) {
		if mask&(1<<i) == 0 {
			continue
		}
		newD, newP := true, true
		for j := range i {
			if mask&(1<<j) == 0 {
				continue
			}
			newD = newD && !r.sameDst(i, j)
			newP = newP && !r.samePort(i, j)
		}
		if newD {
			dsts++
		}
		if newP {
			ports++
		}
	}
	return dsts, ports
}

// portsOnOneHost is the most distinct ports among masked pairs to one
// destination.
func (r *reach) portsOnOneHost(mask uint16) int {
	best := 0
	for i := range int(r.n) {
		if mask&(1<<i) == 0 {
			continue
		}
		n := 0
		for j := range int(r.n) {
			if mask&(1<<j) != 0 && r.sameDst(i, j) {
				n++
			}
		}
		best = max(best, n)
	}
	return best
}

// find returns the index of (dh, port) among the pairs, resolving the
// placeholder when they match its fingerprint; -1 when it is new.
func (r *reach) find(dh uint32, port uint16) int {
	for i := range int(r.n) {
		if i == 0 && r.ph {
			if dh&dstFPMask == r.pd[0] && uint16(portFP(port)) == r.pp[0] {
				r.pd[0], r.pp[0], r.ph = dh, port, false
				return 0
			}
			continue
		}
		if r.pd[i] == dh && r.pp[i] == port {
			return i
		}
	}
	return -1
}

// hdr is a promoted source's scanner header.
func (t *Table) hdr(v srcVal) *scanHdr {
	if i, wide := v.reachIdx(); wide {
		return &t.wides.at(i).scanHdr
	} else {
		return &t.rs.at(i).scanHdr
	}
}

// dropReach frees a leaving source's promoted state (it left the table or
// starts a new episode).
func (t *Table) dropReach(v srcVal) {
	if !v.promoted() {
		return
	}
	if i, wide := v.reachIdx(); wide {
		t.freeWide(i)
	} else {
		t.rs.release(i)
	}
}

// promote gives a source its stage 1, seeded with its stage-0 fingerprint
// (0: none, a source restored promoted from a state file, or sent back to
// stage 0 by reclaim.go) and its SYN count, or reports that the slab is
// full (and nothing could be taken back in scan interval ep).
func (t *Table) promote(k Addr, v *srcVal, fp uint32, ep uint32) *reach {
	i, ok := t.rs.alloc()
	if !ok {
		if !t.reclaimReach(ep) {
			t.tot.ReachFull++
			return nil
		}
		i, _ = t.rs.alloc()
	}
	t.rsHand.own(i, k)
	r := t.rs.at(i)
	r.syns = t.syns(k, *v)
	if len(t.heavy) > 0 {
		delete(t.heavy, k)
	}
	if fp != 0 {
		r.pd[0], r.pp[0] = fp&dstFPMask, uint16(fp>>8)
		r.n, r.ph = 1, true
	}
	v.setReach(i, false)
	return r
}

// MaxScannerTargets bounds --scanner-targets: the reach estimate reads far
// beyond it, but a threshold past a million destinations would never be
// reached by a host worth reporting.
const MaxScannerTargets = 1 << 20
