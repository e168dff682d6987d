package sources

import (
	"slices"

	"github.com/synscope/synscope/pkg/decode"
	"github.com/synscope/synscope/pkg/srctable"
)

// Reach is how many distinct destination addresses and destination ports a
// source has sent SYNs to in its episode. It is kept in three stages so a
// source that sends one SYN (most of them: spoofed floods, one-off
// clients) costs nothing beyond its slot:
//
//  0. In the slot's 16 bits: a fingerprint of the first (destination,
//     port) pair, 8 bits of the destination's hash and 8 of the port's.
//     Zero means "promoted".
//  1. At the first SYN to another pair: an exact list of up to smallPairs
//     pairs in a side slab found by address. The first pair is known only
//     by its fingerprint until a SYN that matches it gives it in full, so
//     counts can be one short, never more.
//  2. At the next distinct pair: HyperLogLog counts of destinations and
//     ports (±10 % well past 100,000), with the scan interval's exact host
//     list and per-host port lists for the scanner thresholds.
//
// The side slabs are bounded (a cap derived from the table's); a source
// that finds them full stays at its stage, counted in Totals.ReachFull.
const (
	smallPairs = 8
	hostSlots  = 4 // hosts whose ports are counted at once, per interval
	exactMax   = 32
	dstFPMask  = 1<<8 - 1
)

type pair struct {
	d uint32 // destination hash (the placeholder: its 8-bit fingerprint)
	p uint16 // port (the placeholder: its 8-bit fingerprint)
}

// reach is a promoted source's stage 1 (and the link to its stage 2).
type reach struct {
	pairs    [smallPairs]pair
	n        uint8
	ph       bool   // pairs[0] is the first pair known only by fingerprint
	seen     uint16 // pairs touched in the current scan interval (bit i)
	reported uint8  // scan kinds already reported (1 << kind)
	kind     ScanKind
	grew     bool   // reach grew since the last scanner record
	big      uint32 // stage 2: index+1 into Table.bigs
	epoch    int64  // start of the scan interval the interval counts are of
	lastRec  int64  // window start of the last scanner record
}

// bigReach is stage 2.
type bigReach struct {
	dst, port           hll
	extraDst, extraPort int // an unresolved first pair, counted on top
	phD                 uint32
	phP                 uint16
	// exactD and exactP list the distinct destination hashes and ports
	// while there are at most exactMax: the HyperLogLog's small range
	// loses one to a register collision now and then, and the counts
	// there must be right to one.
	exactD []uint32
	exactP []uint16
	hosts  []uint32
	hp     [hostSlots]hostPorts
}

type hostPorts struct {
	d     uint32
	used  bool
	ports []uint32 // ports, and 1<<16 | an unresolved first pair's port fingerprint
}

type ridx struct{ i uint32 } // index+1 (srctable needs a non-zero first word)

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
		return r.pairs[i].d&dstFPMask == r.pairs[j].d&dstFPMask
	}
	return r.pairs[i].d == r.pairs[j].d
}

func (r *reach) samePort(i, j int) bool {
	if r.ph && (i == 0 || j == 0) {
		a, b := r.pairs[i].p, r.pairs[j].p
		if i != 0 {
			a = portFP(a)
		} else {
			b = portFP(b)
		}
		return a == b
	}
	return r.pairs[i].p == r.pairs[j].p
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
			if dh&dstFPMask == r.pairs[0].d && portFP(port) == r.pairs[0].p {
				r.pairs[0], r.ph = pair{dh, port}, false
				return 0
			}
			continue
		}
		if r.pairs[i].d == dh && r.pairs[i].p == port {
			return i
		}
	}
	return -1
}

// reachIndex finds a source's promoted state.
func (t *Table) reachIndex(k Addr) *reach {
	var x *ridx
	if k.Is4() {
		v := k.V4()
		x = t.rIdx4.Get(v, srctable.Hash4(v))
	} else {
		x = t.rIdx6.Get(k, srctable.Hash6(k))
	}
	if x == nil {
		return nil
	}
	return &t.rs[x.i-1]
}

// dropReach forgets a source's promoted state (it left the table or
// starts a new episode).
func (t *Table) dropReach(k Addr) {
	if t.rIdx4.Len()+t.rIdx6.Len() == 0 {
		return
	}
	var x *ridx
	if k.Is4() {
		v := k.V4()
		if x = t.rIdx4.Get(v, srctable.Hash4(v)); x != nil {
			i := x.i
			t.rIdx4.Delete(v, srctable.Hash4(v))
			t.freeReach(i - 1)
		}
		return
	}
	if x = t.rIdx6.Get(k, srctable.Hash6(k)); x != nil {
		i := x.i
		t.rIdx6.Delete(k, srctable.Hash6(k))
		t.freeReach(i - 1)
	}
}

func (t *Table) freeReach(i uint32) {
	if b := t.rs[i].big; b != 0 {
		t.bfree = append(t.bfree, b-1)
	}
	t.rs[i] = reach{}
	t.rfree = append(t.rfree, i)
}

// promote gives a source its stage 1, seeded with its stage-0
// fingerprint (0: none, a source restored promoted from a state file),
// or reports that the slab is full.
func (t *Table) promote(k Addr, fp uint32) *reach {
	r := t.reachIndex(k)
	if r == nil {
		var i uint32
		switch {
		case len(t.rfree) > 0:
			i = t.rfree[len(t.rfree)-1]
			t.rfree = t.rfree[:len(t.rfree)-1]
		case len(t.rs) < t.maxReach:
			t.rs = append(t.rs, reach{})
			i = uint32(len(t.rs) - 1)
		default:
			t.tot.ReachFull++
			return nil
		}
		if k.Is4() {
			v := k.V4()
			t.rIdx4.Put(v, srctable.Hash4(v), ridx{i + 1})
		} else {
			t.rIdx6.Put(k, srctable.Hash6(k), ridx{i + 1})
		}
		r = &t.rs[i]
	} else if r.big != 0 {
		t.bfree = append(t.bfree, r.big-1)
	}
	*r = reach{epoch: -1 << 63}
	if fp != 0 {
		r.pairs[0] = pair{fp & dstFPMask, uint16(fp >> 8)}
		r.n, r.ph = 1, true
	}
	return r
}

// bigOf gives r its stage 2, seeded with its pairs, or nil when the slab is
// full.
func (t *Table) bigOf(r *reach) *bigReach {
	var i uint32
	switch {
	case len(t.bfree) > 0:
		i = t.bfree[len(t.bfree)-1]
		t.bfree = t.bfree[:len(t.bfree)-1]
	case len(t.bigs) < t.maxBig:
		t.bigs = append(t.bigs, bigReach{})
		i = uint32(len(t.bigs) - 1)
	default:
		t.tot.ReachFull++
		return nil
	}
	b := &t.bigs[i]
	b.dst.reset()
	b.port.reset()
	b.extraDst, b.extraPort = 0, 0
	b.hosts, b.exactD, b.exactP = b.hosts[:0], b.exactD[:0], b.exactP[:0]
	for j := range b.hp {
		b.hp[j].used, b.hp[j].ports = false, b.hp[j].ports[:0]
	}
	all := uint16(1)<<r.n - 1
	ph := false
	for j := range int(r.n) {
		if j == 0 && r.ph {
			// Counted on top unless another pair shares its fingerprint.
			d, p := 1, 1
			for o := 1; o < int(r.n); o++ {
				if r.sameDst(0, o) {
					d = 0
				}
				if r.samePort(0, o) {
					p = 0
				}
			}
			b.extraDst, b.extraPort = d, p
			b.phD, b.phP = r.pairs[0].d, r.pairs[0].p
			if r.seen&1 != 0 {
				if d == 1 {
					// In the interval's hosts by its fingerprint (a
					// real hash that small is one in 16 million).
					b.hosts = append(b.hosts, r.pairs[0].d)
				} else if p == 1 {
					ph = true // a port of a host among the pairs: added below
				}
			}
			continue
		}
		b.addDst(r.pairs[j].d)
		b.addPort(r.pairs[j].p)
		if r.seen&all&(1<<j) != 0 {
			t.intervalAdd(b, r.pairs[j].d, uint32(r.pairs[j].p))
		}
	}
	if ph {
		// The first pair's port, on the host its fingerprint names, as a
		// value no real port has: the port scan threshold counts it.
		for o := 1; o < int(r.n); o++ {
			if r.seen&(1<<o) != 0 && r.sameDst(0, o) {
				t.intervalAdd(b, r.pairs[o].d, 1<<16|uint32(r.pairs[0].p))
				break
			}
		}
	}
	r.big = i + 1
	return b
}

// intervalAdd notes a pair in the scan interval's host list and per-host
// port lists (bounded by the thresholds: past them the answer is known).
func (t *Table) intervalAdd(b *bigReach, dh uint32, port uint32) {
	if len(b.hosts) < t.cfg.ScanHosts {
		found := false
		for _, h := range b.hosts {
			if h == dh {
				found = true
				break
			}
		}
		if !found {
			b.hosts = append(b.hosts, dh)
		}
	}
	slot := -1
	for j := range b.hp {
		if b.hp[j].used && b.hp[j].d == dh {
			slot = j
			break
		}
	}
	if slot < 0 {
		// A free slot, else the host with the fewest ports: a port scan
		// keeps its host, a sweep across hosts churns the rest.
		slot = 0
		for j := range b.hp {
			if !b.hp[j].used {
				slot = j
				break
			}
			if len(b.hp[j].ports) < len(b.hp[slot].ports) {
				slot = j
			}
		}
		b.hp[slot] = hostPorts{d: dh, used: true, ports: b.hp[slot].ports[:0]}
	}
	hp := &b.hp[slot]
	if len(hp.ports) >= t.cfg.ScanPorts {
		return
	}
	for _, p := range hp.ports {
		if p == port {
			return
		}
	}
	hp.ports = append(hp.ports, port)
}

// MaxScannerTargets bounds --scanner-targets: the reach estimate reads far
// beyond it, but a threshold past a million destinations would never be
// reached by a host worth reporting.
const MaxScannerTargets = 1 << 20

// MaxScanThreshold bounds --scan-hosts and --scan-ports: the interval's
// exact lists are that long at most.
const MaxScanThreshold = 4096

// addDst notes a destination hash and reports whether the count may have
// grown.
func (b *bigReach) addDst(dh uint32) bool {
	g := b.dst.add(dh)
	if len(b.exactD) <= exactMax && !slices.Contains(b.exactD, dh) {
		b.exactD = append(b.exactD, dh) // one past exactMax marks "overflowed"
		g = true
	}
	return g
}

func (b *bigReach) addPort(p uint16) bool {
	g := b.port.add(portHash(p))
	if len(b.exactP) <= exactMax && !slices.Contains(b.exactP, p) {
		b.exactP = append(b.exactP, p)
		g = true
	}
	return g
}

// counts is stage 2's reach.
func (b *bigReach) counts() (dsts, ports int) {
	dsts, ports = len(b.exactD), len(b.exactP)
	if dsts > exactMax {
		dsts = b.dst.estimate()
	}
	if ports > exactMax {
		ports = b.port.estimate()
	}
	return dsts + b.extraDst, ports + b.extraPort
}
