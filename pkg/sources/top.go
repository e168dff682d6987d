package sources

import (
	"encoding/binary"
	"net/netip"
	"slices"
	"time"
)

// TopSource is one entry of the busiest sources: one episode of a source
// (from its first SYN after a silence longer than the lookback).
type TopSource struct {
	Addr            netip.Addr
	SynPackets      uint32
	FirstSeen       int64
	LastSeen        int64
	DistinctTargets int // estimated
	DistinctPorts   int // estimated
}

// Top returns the table's busiest episodes, most SYNs first; complete only
// after Finish.
func (t *Table) Top() []TopSource { return t.top }

func (t *Table) offerTop(k Addr, v srcVal, g *gen) { t.offerTopIn(k, v, g, t.heavy) }

// offerTopIn is offerTop with the heavy counts of heavy (the dropped
// generation's for its sources).
func (t *Table) offerTopIn(k Addr, v srcVal, g *gen, heavy map[Addr]uint32) {
	n := t.cfg.TopSources
	if n == 0 {
		return
	}
	syns := v.synsLow()
	if len(heavy) > 0 || v.promoted() {
		syns = t.synsIn(k, v, heavy)
	}
	if len(t.top) == n && !better(syns, k, &t.top[n-1]) {
		// The common case: not near the top. (Tied with the last, as every
		// one-SYN source of a flood is, it is the address that decides:
		// compared here, before the entry is built.)
		return
	}
	d, p := t.reachOf(v)
	OfferTop(&t.top, n, TopSource{
		Addr:            k.Netip(),
		SynPackets:      syns,
		FirstSeen:       int64(v.first) * int64(time.Second),
		LastSeen:        g.abs(v.last),
		DistinctTargets: d,
		DistinctPorts:   p,
	})
}

// OfferTop keeps the n largest episodes in *top, ordered by SYN count and
// then address, so the list is the same on every run.
func OfferTop(top *[]TopSource, n int, t TopSource) {
	if n == 0 {
		return
	}
	k := FromNetip(t.Addr)
	if len(*top) == n && !better(t.SynPackets, k, &(*top)[n-1]) {
		return
	}
	i, _ := slices.BinarySearchFunc(*top, t, func(a, b TopSource) int {
		if better(b.SynPackets, FromNetip(b.Addr), &a) {
			return 1
		}
		return -1
	})
	*top = slices.Insert(*top, i, t)
	if len(*top) > n {
		*top = (*top)[:n]
	}
}

func better(syns uint32, k Addr, than *TopSource) bool {
	if syns != than.SynPackets {
		return syns > than.SynPackets
	}
	tk := FromNetip(than.Addr)
	// k[:] before tk[:] in byte order, as slices.Compare has it, a word
	// at a time.
	if a, b := binary.BigEndian.Uint64(k[:8]), binary.BigEndian.Uint64(tk[:8]); a != b {
		return a < b
	}
	return binary.BigEndian.Uint64(k[8:]) < binary.BigEndian.Uint64(tk[8:])
}
