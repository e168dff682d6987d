package srctable

import (
	"encoding/binary"
	"testing"
)

// unhash64 inverts Hash64 with no seed (the murmur3 finalizer is a
// bijection: its shifts undo themselves, its odd multipliers have inverses
// modulo 2^64).
func unhash64(x uint64) uint64 {
	inv := func(c uint64) uint64 {
		y := c
		for range 6 {
			y *= 2 - c*y
		}
		return y
	}
	x ^= x >> 33
	x *= inv(0xc4ceb9fe1a85ec53)
	x ^= x >> 33
	x *= inv(0xff51afd7ed558ccd)
	x ^= x >> 33
	return x
}

// crafted are n IPv6 addresses that unkeyed Hash6 maps to one value: pick
// the low half, solve for the high.
func crafted(n int) [][16]byte {
	old := seed
	defer SetSeed(old)
	SetSeed(0)
	target := unhash64(0x5eed5eed5eed5eed)
	out := make([][16]byte, n)
	for i := range out {
		lo := 0x20010db800000000 | uint64(i)
		binary.LittleEndian.PutUint64(out[i][:8], lo)
		binary.LittleEndian.PutUint64(out[i][8:], Hash64(lo)^target)
	}
	return out
}

// TestSeedScattersCraftedAddresses: without a key anyone can make any
// number of IPv6 addresses of one hash (all in one probe run that no split
// breaks: every lookup walked it, quadratic in the flood); keyed, the same
// addresses hash apart, and a table of them keeps short runs.
func TestSeedScattersCraftedAddresses(t *testing.T) {
	addrs := crafted(20000)
	old := seed
	defer SetSeed(old)
	for _, s := range []uint64{0, 0x9e3779b97f4a7c15} {
		SetSeed(s)
		distinct := map[uint64]bool{}
		tab := New[[16]byte, uint32](0)
		for _, a := range addrs {
			h := Hash6(a)
			distinct[h] = true
			tab.Put(a, h, 1)
		}
		run := tab.longestRun()
		switch {
		case s == 0 && (len(distinct) != 1 || run < len(addrs)):
			t.Fatalf("unkeyed: %d hashes, longest run %d: the crafting does not work", len(distinct), run)
		case s != 0 && (len(distinct) != len(addrs) || run > 64):
			t.Errorf("keyed: %d distinct hashes of %d, longest probe run %d", len(distinct), len(addrs), run)
		}
	}
}

// longestRun is the longest run of used slots in any segment (tests).
func (t *Table[K, V]) longestRun() int {
	best := 0
	for _, s := range t.segs {
		n := 0
		for i := range 2 * len(s.slots) { // twice round: a run may wrap
			if s.slots[i%len(s.slots)].used() {
				n++
				best = max(best, min(n, len(s.slots)))
			} else {
				n = 0
			}
		}
	}
	return best
}
