package sources

import (
	"fmt"
	"net/netip"

	"github.com/synscope/synscope/pkg/decode"
	"github.com/synscope/synscope/pkg/ranges"
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

// Space is the decoy and dark address ranges, searched per SYN (only when
// some are set) without allocating.
type Space struct {
	m ranges.Map[SpaceKind]
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
		sp.m.Add(p, Dark)
	}
	for _, p := range decoys {
		sp.m.Add(p, Decoy)
	}
	return sp, nil
}

// KindOf is the space a SYN's destination is in.
func (sp *Space) KindOf(s *decode.Syn) SpaceKind {
	var k SpaceKind
	if s.V6 {
		k, _ = sp.m.Find16(s.Dst)
	} else {
		k, _ = sp.m.Find4(v4num(s.Dst[:4]))
	}
	return k
}
