package pcapfile

import (
	"sync/atomic"

	"github.com/synscope/synscope/pkg/capture"
)

// A large single mapped classic pcap file can be read by two goroutines at
// once: the Reader walks the file from its start to a boundary near the
// middle while a Tail walks it from the boundary on. Records carry no
// marker, so the boundary is a guess: an offset from which tailCheck
// headers chain plausibly. The Reader's own walk checks it: when it lands
// exactly on the boundary, everything the Tail read is what the Reader
// would have read from there, and the Reader resumes where the Tail
// stopped (ResumeAfter); if it steps over the boundary instead, the Tail is
// void and the Reader goes on alone. The Tail stops at the end of the file
// or at the first record it does not take whole (too long, cut short), and
// the Reader reads that one itself: every error, and every count, is the
// one a plain walk makes.

const (
	tailCheck  = 32      // headers that must chain from a boundary
	tailSearch = 4 << 20 // bytes searched for one after the middle
)

// tailMinSize: smaller files are walked by one goroutine (a variable so
// tests can split small files).
var tailMinSize = 64 << 20

// Tail is the second part of a file being split (see SplitTail).
type Tail struct {
	in    *input
	start int // the boundary
	pos   int // the next record
	n     uint64
	cur   mapCursor
	win   window
	void  atomic.Bool // set by the Reader's goroutine
}

var _ capture.Tail = (*Tail)(nil)

// SplitTail splits the one input left, when it is a large mapped classic
// pcap file the Reader has started on and not yet near its middle, and
// returns the Tail for another goroutine to read; nil otherwise. From then
// on the Reader stops at the boundary: NextBatch returns
// capture.ErrAtTail there, until ResumeAfter.
func (r *Reader) SplitTail() (tail capture.Tail) {
	// A file that shrank faults in the search: no split then, and the
	// Reader meets the fault where a plain walk would.
	defer func() {
		if v := recover(); v != nil {
			if _, fault := v.(interface{ Addr() uintptr }); !fault {
				panic(v)
			}
			tail = nil
		}
	}()
	in := r.last
	if r.closed || in == nil || len(r.inputs) != 1 || r.prime != 1 || len(r.heap) != 1 ||
		in.mm == nil || in.kind != kindPcap || in.state != stateOpen || in.tail != nil ||
		len(in.mm) < tailMinSize || in.mpos > len(in.mm)/4 {
		return nil
	}
	mid := len(in.mm) / 2
	for o := mid; o < mid+tailSearch && o+pcapRecordLen <= len(in.mm); o++ {
		if in.chains(o) {
			t := &Tail{in: in, start: o, pos: o, cur: mapCursor{pf: o, released: o &^ (pageSize - 1), reported: int64(o)}}
			in.tail = t
			return t
		}
	}
	return nil
}

// chains tells whether tailCheck plausible record headers follow one
// another from offset o, or plausible ones reach the end of the file.
func (in *input) chains(o int) bool {
	limit := uint32(1000000)
	if in.nano {
		limit = 1000000000
	}
	for range tailCheck {
		if o == len(in.mm) {
			return true
		}
		if len(in.mm)-o < pcapRecordLen {
			return false
		}
		h := in.mm[o : o+pcapRecordLen]
		incl, orig := in.bo.u32(h[8:]), in.bo.u32(h[12:])
		if in.bo.u32(h[4:]) >= limit || incl == 0 || incl > orig || orig > MaxRecordLen ||
			uint64(len(in.mm)-o-pcapRecordLen) < uint64(incl) {
			return false
		}
		o += pcapRecordLen + int(incl)
	}
	return true
}

// Next makes p the Tail's next record and returns true, or returns false
// at the end of the file or at a record it leaves to the Reader. The
// records are read through a window of the Tail's own (see window), so
// p.Data is valid until the next call.
func (t *Tail) Next(p *capture.Packet) bool {
	in := t.in
	if t.void.Load() {
		return false
	}
	end, ok := in.windowRecord(&t.win, t.pos, p)
	if !ok {
		return false
	}
	t.pos = end
	t.n++
	in.passed(&t.cur, end)
	return true
}

// Void tells whether the Reader stepped over the boundary: what the Tail
// read is then not the file's, and it should stop.
func (t *Tail) Void() bool { return t.void.Load() }

// Pos is the offset of the Tail's next record, and N the records it read.
func (t *Tail) Pos() int  { return t.pos }
func (t *Tail) N() uint64 { return t.n }

// ResumeAfter makes the Reader, stopped at the boundary, go on from where
// the Tail's first n records end (at offset pos): the caller has used
// those n and no more.
func (r *Reader) ResumeAfter(ct capture.Tail, pos int, n uint64) {
	t := ct.(*Tail)
	in := t.in
	in.progress.Add(int64(pos) - t.cur.reported)
	in.tail = nil
	in.mpos, in.off = pos, int64(pos)
	in.n += n
	in.delivered += n
	in.cur.pf = max(in.cur.pf, pos)
	in.cur.reported = int64(pos)
	in.cur.released = max(in.cur.released, min(t.cur.released, pos&^(pageSize-1)))
}

// atTail tells whether the Reader stands on the boundary of a Tail, and
// voids the Tail when it has stepped over it.
func (in *input) atTail() bool {
	t := in.tail
	if t == nil {
		return false
	}
	if in.mpos == t.start {
		return true
	}
	if in.mpos > t.start {
		t.void.Store(true)
		in.tail = nil
	}
	return false
}
