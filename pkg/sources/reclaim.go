package sources

import "github.com/synscope/synscope/pkg/srctable"

// Taking promoted entries back when a side slab is full.
//
// The slabs of stage 1 and 2 (reach.go) are bounded, and an entry used to
// stay with its source until the source was forgotten, a lookback of
// silence later. So spoofed sources of a few pairs each, sent once, held
// the slabs for a lookback: 1.25 M sources of two pairs each (per 10 M of
// --max-sources, 2.5 M SYNs) left no later source a stage 1, so no scanner
// was reported for a day; 40,000 of eight pairs did the same to stage 2 and
// every address scan past stage 1's pairs (a review).
//
// When a slab is full, a source that needs an entry takes one from a source
// that is done with it: whose scan interval is over (it sent no SYN in the
// interval of the source asking) and that was never reported as a scanner
// (a reported scanner's reach is what its updates give, so it keeps it).
// That source goes back to stage 0, its SYN count kept and its pairs
// forgotten: if it comes back, its reach counts again from that SYN, and
// reads low, never high. An entry is found by a clock hand over the slab,
// a few entries a time; its owner's address is kept beside the slab, and
// the entry is taken only when the owner's slot still points at it.
//
// A flood whose sources are all within one interval still fills a slab
// for that interval (counted in reach_full), and a hand that found nothing
// rests until every 16th ask or the next interval, so such a flood costs a
// few cache misses a source, not sixteen.

// reclaimTries bounds the entries a hand (or reclaimHostSet) looks at for
// one source.
const reclaimTries = 16

// reclaimRest is how many asks a hand that found nothing lets go by in
// the same scan interval before it looks again.
const reclaimRest = 16

// hand is a clock hand over one slab's entries, with the owner of each.
type hand struct {
	owner    []Addr // the source each entry was given to
	at       int    // the entry looked at last
	failEp   uint32 // the scan interval of the last ask that found nothing (+1: 0 none)
	restLeft int    // asks still let go by in that interval
}

// own notes that entry i is now k's.
func (h *hand) own(i uint32, k Addr) {
	if int(i) >= len(h.owner) {
		h.owner = append(h.owner, make([]Addr, int(i)+1-len(h.owner))...)
	}
	h.owner[i] = k
}

// resting reports whether the hand skips this ask (it found nothing lately
// in interval ep).
func (h *hand) resting(ep uint32) bool {
	if h.failEp != ep+1 || h.restLeft == 0 {
		return false
	}
	h.restLeft--
	return true
}

func (h *hand) failed(ep uint32) { h.failEp, h.restLeft = ep+1, reclaimRest-1 }

// next moves the hand to the next entry of n and returns it.
func (h *hand) next(n int) uint32 {
	if h.at++; h.at >= n {
		h.at = 0
	}
	return uint32(h.at)
}

// reclaimReach frees a stage-1 entry of a source done with it (see above)
// and reports whether it did; rs.alloc then gives it out.
func (t *Table) reclaimReach(ep uint32) bool {
	return t.reclaim(&t.rsHand, t.rs.n, ep, false, func(i uint32) *scanHdr { return &t.rs.at(i).scanHdr })
}

// reclaimWide is reclaimReach for stage 2.
func (t *Table) reclaimWide(ep uint32) bool {
	return t.reclaim(&t.wHand, t.wides.n, ep, true, func(i uint32) *scanHdr { return &t.wides.at(i).scanHdr })
}

// reclaim looks, unless the hand rests, at up to reclaimTries entries of a
// slab of n from the hand on (hdr gives an entry's header) and takes back
// the first whose source is done with it and had no gap between SYNs of
// half a second or more (a flood's: its SYNs come in one burst; actPaced),
// else the first done with it: a slow scanner's activity (its sleeps) is
// lost with its entry (TestReclaimKeepsSlowScanners).
func (t *Table) reclaim(h *hand, n int, ep uint32, wide bool, hdr func(uint32) *scanHdr) bool {
	if h.resting(ep) {
		return false
	}
	n = min(n, len(h.owner))
	var second uint32
	found := false
	for range min(reclaimTries, n) {
		i := h.next(n)
		x := hdr(i)
		if x.epoch == ep || x.reported != 0 || x.queued != 0 {
			continue
		}
		if x.act.meta&actPaced != 0 {
			if !found {
				second, found = i, true
			}
			continue
		}
		if t.demote(h.owner[i], i, wide) {
			return true
		}
	}
	if found && t.demote(h.owner[second], second, wide) {
		return true
	}
	h.failed(ep)
	return false
}

// demote sends source k back to stage 0 if its slot (in any generation,
// the dropped one too) holds promoted entry i of the slab wide says,
// freeing the entry, and reports whether it did.
func (t *Table) demote(k Addr, i uint32, wide bool) bool {
	var gens [3]*gen
	gens[0], gens[1], gens[2] = t.cur, t.old, t.drop
	for gi, g := range gens {
		if g == nil {
			continue
		}
		var v *srcVal
		if k.Is4() {
			n := k.V4()
			v = g.v4.Get(n, srctable.Hash4(n))
		} else {
			v = g.v6.Get(k, srctable.Hash6(k))
		}
		if v == nil || !v.promoted() {
			continue
		}
		if j, w := v.reachIdx(); j != i || w != wide {
			continue
		}
		syns := t.hdr(*v).syns
		t.dropReach(*v)
		if hi := syns >> synsBits; hi > 0 {
			if gi < 2 {
				t.heavy[k] = hi
			} else {
				if t.dropHeavy == nil {
					t.dropHeavy = map[Addr]uint32{}
				}
				t.dropHeavy[k] = hi
			}
		}
		// Stage 0 without a fingerprint: its next SYN promotes it again
		// (seeReach), as a source restored promoted from a state file.
		v.bits = v.bits&^(synsMask|promotedBit|fpMask<<fpShift) | syns&synsMask
		return true
	}
	return false
}
