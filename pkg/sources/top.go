package sources

import (
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

func (t *Table) offerTop(k Addr, v srcVal, g *gen) {
	n := t.cfg.TopSources
	if n == 0 {
		return
	}
	syns := v.synsLow()
	if len(t.heavy) > 0 || v.promoted() {
		syns = t.syns(k, v)
	}
	if len(t.top) == n && syns < t.top[n-1].SynPackets {
		return // the common case: not near the top
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
	if len(*top) == n && !better(t.SynPackets, k, (*top)[n-1]) {
		return
	}
	i, _ := slices.BinarySearchFunc(*top, t, func(a, b TopSource) int {
		if better(b.SynPackets, FromNetip(b.Addr), a) {
			return 1
		}
		return -1
	})
	*top = slices.Insert(*top, i, t)
	if len(*top) > n {
		*top = (*top)[:n]
	}
}

func better(syns uint32, k Addr, than TopSource) bool {
	if syns != than.SynPackets {
		return syns > than.SynPackets
	}
	tk := FromNetip(than.Addr)
	return slices.Compare(k[:], tk[:]) < 0
}
