package sources

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"net/netip"
	"slices"

	"github.com/synscope/synscope/pkg/decode"
)

// SpaceKind is what a watched address range is.
type SpaceKind uint8

// Kinds of watched space.
const (
	NotWatched SpaceKind = iota
	Decoy                // an address where nothing listens (--decoys)
	Dark                 // an unused range (--dark-net)
)

var spaceNames = [...]string{"", "decoy", "dark"}

// String is the kind's name in records.
func (k SpaceKind) String() string { return spaceNames[k] }

// Space is the decoy and dark address ranges, as sorted disjoint intervals
// searched per SYN (only when some are set) without allocating.
type Space struct {
	v4 []span4
	v6 []span6
}

type span4 struct {
	lo, hi uint32
	kind   SpaceKind
}

type span6 struct {
	lo, hi [2]uint64
	kind   SpaceKind
}

// NewSpace builds the watched space. Ranges of one list must not overlap
// (a typo, most likely: the error names both); a decoy inside a dark range
// is a decoy.
func NewSpace(decoys, dark []netip.Prefix) (*Space, error) {
	if len(decoys)+len(dark) == 0 {
		return nil, nil
	}
	for _, l := range []struct {
		key string
		ps  []netip.Prefix
	}{{"decoys", decoys}, {"dark-net", dark}} {
		for i, a := range l.ps {
			for _, b := range l.ps[:i] {
				if a.Overlaps(b) {
					return nil, fmt.Errorf("%s: %s overlaps %s: give each range once", l.key, a, b)
				}
			}
		}
	}
	sp := &Space{}
	// Dark first, then decoys cut out of it.
	for _, p := range dark {
		sp.add(p.Masked(), Dark)
	}
	for _, p := range decoys {
		sp.add(p.Masked(), Decoy)
	}
	return sp, nil
}

func (sp *Space) add(p netip.Prefix, kind SpaceKind) {
	if p.Addr().Is4() {
		lo := binary.BigEndian.Uint32(p.Addr().AsSlice())
		hi := lo | uint32(uint64(1)<<(32-p.Bits())-1)
		sp.v4 = insert4(sp.v4, span4{lo, hi, kind})
		return
	}
	b := p.Addr().As16()
	lo := [2]uint64{binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])}
	hi := lo
	if n := p.Bits(); n < 64 {
		hi[0] |= uint64(1)<<(64-n) - 1
		hi[1] = ^uint64(0)
	} else if n < 128 {
		hi[1] |= uint64(1)<<(128-n) - 1
	}
	sp.v6 = insert6(sp.v6, span6{lo, hi, kind})
}

// insert4 puts s in, cutting what it covers out of the spans there
// (prefixes nest or are apart: a later one lies inside an earlier one or
// outside it).
func insert4(spans []span4, s span4) []span4 {
	var out []span4
	for _, o := range spans {
		if o.hi < s.lo || o.lo > s.hi {
			out = append(out, o)
			continue
		}
		if o.lo < s.lo {
			out = append(out, span4{o.lo, s.lo - 1, o.kind})
		}
		if o.hi > s.hi {
			out = append(out, span4{s.hi + 1, o.hi, o.kind})
		}
	}
	out = append(out, s)
	slices.SortFunc(out, func(a, b span4) int { return cmp.Compare(a.lo, b.lo) })
	return out
}

func less6(a, b [2]uint64) bool { return a[0] < b[0] || a[0] == b[0] && a[1] < b[1] }

func dec6(a [2]uint64) [2]uint64 {
	if a[1] == 0 {
		return [2]uint64{a[0] - 1, ^uint64(0)}
	}
	return [2]uint64{a[0], a[1] - 1}
}

func inc6(a [2]uint64) [2]uint64 {
	if a[1] == ^uint64(0) {
		return [2]uint64{a[0] + 1, 0}
	}
	return [2]uint64{a[0], a[1] + 1}
}

func insert6(spans []span6, s span6) []span6 {
	var out []span6
	for _, o := range spans {
		if less6(o.hi, s.lo) || less6(s.hi, o.lo) {
			out = append(out, o)
			continue
		}
		if less6(o.lo, s.lo) {
			out = append(out, span6{o.lo, dec6(s.lo), o.kind})
		}
		if less6(s.hi, o.hi) {
			out = append(out, span6{inc6(s.hi), o.hi, o.kind})
		}
	}
	out = append(out, s)
	slices.SortFunc(out, func(a, b span6) int {
		if less6(a.lo, b.lo) {
			return -1
		}
		return 1
	})
	return out
}

// KindOf is the space a SYN's destination is in.
func (sp *Space) KindOf(s *decode.Syn) SpaceKind {
	if !s.V6 {
		d := v4num(s.Dst[:4])
		i, _ := slices.BinarySearchFunc(sp.v4, d, func(x span4, d uint32) int { return cmp.Compare(x.hi, d) })
		if i < len(sp.v4) && sp.v4[i].lo <= d {
			return sp.v4[i].kind
		}
		return NotWatched
	}
	d := [2]uint64{binary.BigEndian.Uint64(s.Dst[:8]), binary.BigEndian.Uint64(s.Dst[8:])}
	i, _ := slices.BinarySearchFunc(sp.v6, d, func(x span6, d [2]uint64) int {
		if less6(x.hi, d) {
			return -1
		}
		if x.hi == d {
			return 0
		}
		return 1
	})
	if i < len(sp.v6) && !less6(d, sp.v6[i].lo) {
		return sp.v6[i].kind
	}
	return NotWatched
}
