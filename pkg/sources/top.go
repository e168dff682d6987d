package sources

import (
	"math"
	"net/netip"
	"slices"
	"time"

	"github.com/synscope/synscope/pkg/decode"
)

// TopSource is one entry of the busiest sources: one episode of a source
// (from its first SYN after a silence longer than the lookback).
type TopSource struct {
	Addr            netip.Addr
	SynPackets      uint32
	FirstSeen       int64
	LastSeen        int64
	DistinctTargets int // estimated
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
	if len(t.heavy) > 0 {
		syns = t.syns(k, v)
	}
	if len(t.top) == n && syns < t.top[n-1].SynPackets {
		return // the common case: not near the top
	}
	OfferTop(&t.top, n, TopSource{
		Addr:            k.Netip(),
		SynPackets:      syns,
		FirstSeen:       int64(v.first) * int64(time.Second),
		LastSeen:        g.abs(v.last),
		DistinctTargets: estimate16(v.sketch()),
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

// sketchBit is the bit of a SYN's destination in its source's 16-bit
// sketch.
func sketchBit(s *decode.Syn) uint32 {
	k := DstOf(s)
	var h uint64 = 0x9e3779b97f4a7c15
	for i := 0; i < 16; i += 8 {
		h ^= uint64(k[i]) | uint64(k[i+1])<<8 | uint64(k[i+2])<<16 | uint64(k[i+3])<<24 |
			uint64(k[i+4])<<32 | uint64(k[i+5])<<40 | uint64(k[i+6])<<48 | uint64(k[i+7])<<56
		h *= 0xbf58476d1ce4e5b9
		h ^= h >> 31
	}
	return uint32(h >> 58 & (sketchBits - 1))
}

// estimate16 reads a 16-bit linear-counting sketch of destinations: about
// right below 20, saturating at 44.
func estimate16(bits uint32) int {
	zeros := sketchBits
	for b := bits; b != 0; b &= b - 1 {
		zeros--
	}
	if zeros == 0 {
		zeros = 1 // saturated: the estimate is a floor
	}
	return int(math.Round(-sketchBits * math.Log(float64(zeros)/sketchBits)))
}

// MaxScannerTargets is the most destinations the per-source sketch tells
// apart (it saturates at 44).
const MaxScannerTargets = 40
