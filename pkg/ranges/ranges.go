// Package ranges maps addresses to values by CIDR prefix: the decoy and dark
// space a source touches, the benign scanner a source belongs to. The
// prefixes are kept as sorted, disjoint intervals, so a lookup is one binary
// search that allocates nothing; a prefix added inside one added before cuts
// its part out of it (the more specific wins).
//
// It imports only the standard library.
package ranges

import (
	"cmp"
	"encoding/binary"
	"net/netip"
	"slices"
)

// Map is a set of address intervals, each with a value.
type Map[V any] struct {
	v4 []span[uint32, V]
	v6 []span[u128, V]
}

type span[A any, V any] struct {
	lo, hi A
	v      V
}

// u128 is an IPv6 address as two big-endian halves, ordered as numbers.
type u128 [2]uint64

func (a u128) cmp(b u128) int {
	if c := cmp.Compare(a[0], b[0]); c != 0 {
		return c
	}
	return cmp.Compare(a[1], b[1])
}

func (a u128) prev() u128 {
	if a[1] == 0 {
		return u128{a[0] - 1, ^uint64(0)}
	}
	return u128{a[0], a[1] - 1}
}

func (a u128) next() u128 {
	if a[1] == ^uint64(0) {
		return u128{a[0] + 1, 0}
	}
	return u128{a[0], a[1] + 1}
}

func v6of(b [16]byte) u128 {
	return u128{binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])}
}

// Unmap is p masked, an IPv4-mapped IPv6 prefix as the IPv4 one it maps
// (::ffff:192.0.2.0/120 is 192.0.2.0/24): addresses are compared unmapped.
// Every list of prefixes read from a user goes through it before it is
// sorted or compared (a mapped prefix matched no IPv4 source, and sorted
// by its IPv6 length it overrode the narrower IPv4 ranges inside it).
func Unmap(p netip.Prefix) netip.Prefix {
	p = p.Masked()
	if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
		return netip.PrefixFrom(a.Unmap(), p.Bits()-96)
	}
	return p
}

// Len is the number of intervals (not of the prefixes added).
func (m *Map[V]) Len() int { return len(m.v4) + len(m.v6) }

// Add maps every address of p to v. Add prefixes larger ones first: one
// added inside another cuts its own part out of it, and so overrides it.
func (m *Map[V]) Add(p netip.Prefix, v V) {
	p = Unmap(p)
	if p.Addr().Is4() {
		lo := binary.BigEndian.Uint32(p.Addr().AsSlice())
		hi := lo | uint32(uint64(1)<<(32-p.Bits())-1)
		m.v4 = insert(m.v4, span[uint32, V]{lo, hi, v}, cmp.Compare[uint32],
			func(a uint32) uint32 { return a - 1 }, func(a uint32) uint32 { return a + 1 })
		return
	}
	lo := v6of(p.Addr().As16())
	hi := lo
	if n := p.Bits(); n < 64 {
		hi[0] |= uint64(1)<<(64-n) - 1
		hi[1] = ^uint64(0)
	} else if n < 128 {
		hi[1] |= uint64(1)<<(128-n) - 1
	}
	m.v6 = insert(m.v6, span[u128, V]{lo, hi, v}, u128.cmp, u128.prev, u128.next)
}

// insert puts s in, cutting what it covers out of the intervals there:
// those that overlap it are found by binary search and replaced by s and
// what is left of the first and last of them, the rest untouched (it
// sorted the whole slice on every call: a benign list of 20,000 ranges
// took 10 s to load).
func insert[A any, V any](spans []span[A, V], s span[A, V], c func(a, b A) int, prev, next func(A) A) []span[A, V] {
	i, _ := slices.BinarySearchFunc(spans, s.lo, func(x span[A, V], a A) int { return c(x.hi, a) }) // first ending at or after s.lo
	j := i
	for j < len(spans) && c(spans[j].lo, s.hi) <= 0 {
		j++
	}
	var mid [3]span[A, V]
	n := 0
	if i < j && c(spans[i].lo, s.lo) < 0 {
		mid[n] = span[A, V]{spans[i].lo, prev(s.lo), spans[i].v}
		n++
	}
	mid[n] = s
	n++
	if i < j && c(s.hi, spans[j-1].hi) < 0 {
		mid[n] = span[A, V]{next(s.hi), spans[j-1].hi, spans[j-1].v}
		n++
	}
	return slices.Replace(spans, i, j, mid[:n]...)
}

func find[A any, V any](spans []span[A, V], a A, c func(a, b A) int) (V, bool) {
	i, _ := slices.BinarySearchFunc(spans, a, func(x span[A, V], a A) int { return c(x.hi, a) })
	if i < len(spans) && c(spans[i].lo, a) <= 0 {
		return spans[i].v, true
	}
	var zero V
	return zero, false
}

// Find4 is the value of an IPv4 address given as a number.
func (m *Map[V]) Find4(a uint32) (V, bool) { return find(m.v4, a, cmp.Compare[uint32]) }

// Find16 is the value of an IPv6 address.
func (m *Map[V]) Find16(a [16]byte) (V, bool) { return find(m.v6, v6of(a), u128.cmp) }

// Find is the value of a (IPv4-mapped IPv6 read as IPv4).
func (m *Map[V]) Find(a netip.Addr) (V, bool) {
	a = a.Unmap()
	if !a.IsValid() {
		var zero V
		return zero, false // the zero Addr is in no range (As16 would read it as ::)
	}
	if a.Is4() {
		return m.Find4(binary.BigEndian.Uint32(a.AsSlice()))
	}
	return m.Find16(a.As16())
}
