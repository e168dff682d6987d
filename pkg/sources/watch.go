package sources

import (
	"github.com/synscope/synscope/pkg/decode"
	"github.com/synscope/synscope/pkg/srctable"
)

// touchVal is when the episode of a source that touched watched space
// began (Unix seconds, plus one: srctable wants a non-zero first word).
type touchVal struct{ first uint32 }

// Watching reports whether there is decoy or dark space to watch (Syn's
// callers then call Watch after it; without, they skip the call).
func (t *Table) Watching() bool { return t.cfg.Space != nil }

// Watch adds to a SYN's event (got: whether Syn made one) the source's
// first touch of decoy or dark space in its episode, and reports whether
// there is an event now. Only SYNs into that space get past the first
// check: the rest of the work is theirs.
func (t *Table) Watch(s *decode.Syn, ev *Event, got bool) bool {
	kind := t.cfg.Space.KindOf(s)
	if kind == NotWatched {
		return got
	}
	k := SrcOf(s)
	// The episode's start tells a new episode (first touch again) from a
	// later SYN of the same one; an untracked source has none and is told
	// once until the table of touches is cleared.
	var first uint32
	if v := t.lookupSyn(s); v != nil {
		first = v.first
	}
	h := srctable.Hash6(k)
	if x := t.touched.Get(k, h); x != nil && x.first == first+1 {
		return got
	}
	if t.touched.Len() >= t.cap {
		// Bounded like the sources: a flood of spoofed sources into dark
		// space starts the memory of touches afresh (each may be told again).
		t.touched.Clear()
	}
	t.touched.Put(k, h, touchVal{first + 1})
	if !got {
		*ev = Event{}
	}
	ev.Space = kind
	return true
}
