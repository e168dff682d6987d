package engine

import (
	"github.com/synscope/synscope/pkg/decode"
	"github.com/synscope/synscope/pkg/srctable"
)

// targetSet is the window's distinct destinations.
type targetSet struct {
	v4 *srctable.Table[uint32, mark]
	v6 *srctable.Table[[16]byte, mark]
}

type mark struct{ set uint32 }

func newTargetSet() targetSet {
	return targetSet{srctable.New[uint32, mark](1024), srctable.New[[16]byte, mark](0)}
}

func (t targetSet) len() int { return t.v4.Len() + t.v6.Len() }

// add notes s's destination, if room; it reports false when the
// destination is new and there was no room.
func (t targetSet) add(s *decode.Syn, room bool) bool {
	if s.V6 {
		h := srctable.Hash6(s.Dst)
		if room {
			t.v6.Add(s.Dst, h, mark{1})
			return true
		}
		return t.v6.Get(s.Dst, h) != nil
	}
	k := uint32(s.Dst[0])<<24 | uint32(s.Dst[1])<<16 | uint32(s.Dst[2])<<8 | uint32(s.Dst[3])
	h := srctable.Hash4(k)
	if room {
		t.v4.Add(k, h, mark{1})
		return true
	}
	return t.v4.Get(k, h) != nil
}

// prefetch asks for the slot of s's destination (see Engine.Prefetch).
func (t targetSet) prefetch(s *decode.Syn) {
	if s.V6 {
		t.v6.Prefetch(srctable.Hash6(s.Dst))
		return
	}
	t.v4.Prefetch(srctable.Hash4(uint32(s.Dst[0])<<24 | uint32(s.Dst[1])<<16 | uint32(s.Dst[2])<<8 | uint32(s.Dst[3])))
}

func (t targetSet) clear() {
	t.v4.Clear()
	t.v6.Clear()
}
