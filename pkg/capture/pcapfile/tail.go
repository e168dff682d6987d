package pcapfile

import (
	"sync/atomic"

	"github.com/synscope/synscope/pkg/capture"
)

// A large single mapped classic pcap file can be read by several goroutines
// at once: the Reader walks the file from its start to a boundary while a
// Tail walks it from the boundary on, and a Tail can split off the part
// ahead of it again (Split), so that a goroutine that is done with its part
// takes a part ahead of the others: a chain of Tails, each stopping at the
// boundary of the next. Records carry no marker, so a boundary is a guess:
// an offset from which tailCheck headers chain plausibly. The walk before
// it checks it: when it lands exactly on the boundary, everything the next
// Tail read is what the walk would have read from there; if it steps over
// the boundary instead, the next Tail (and every one split off after it) is
// void and the walk goes on alone. A Tail stops at its successor's
// boundary, at the end of the file or at the first record it does not take
// whole (too long, cut short); the Reader resumes after the last Tail whose
// records were used (ResumeAfter) and reads a record left to it itself:
// every error, and every count, is the one a plain walk makes.

const (
	tailCheck  = 32      // headers that must chain from a boundary
	tailSearch = 4 << 20 // bytes searched for one after the middle
)

// tailMinSize: smaller files are walked by one goroutine (a variable so
// tests can split small files).
var tailMinSize = 64 << 20

// splitMin is the least a Tail's Split leaves on either side of the new
// boundary (a variable so tests can split small files often).
var splitMin = 4 << 20

// Tail is a part of a file being split (see SplitTail and Split).
type Tail struct {
	in    *input
	start int // the boundary
	pos   int // the next record
	n     uint64
	cur   mapCursor
	win   window
	wk    walked      // walkMapped's progress (a fault voids the whole batch)
	void  atomic.Bool // set by the goroutine of the walk before it, or by ResumeAfter
	// limit is the boundary of the Tail split off this one (0: none): Next
	// stops there. next is that Tail (guarded by in.chain).
	limit atomic.Int64
	next  *Tail
	// at and atN are pos and n as of the last MiB crossed, for Split on
	// another goroutine; per is the record size Split assumes until the
	// Tail has read enough to measure its own.
	at, atN atomic.Int64
	per     int
	ended   atomic.Bool // Next or NextBatch returned its end
	// ng: the section a Tail of a pcapng file assumes (tailng.go), nil for
	// classic pcap; lastTS is its last packet's time (the Reader's
	// sectionTS after it).
	ng     *ngState
	lastTS int64
}

var _ capture.Tail = (*Tail)(nil)

// SplitTail splits the one input left, when it is a large mapped classic
// pcap file the Reader has started on and not yet near its middle, and
// returns the Tail for another goroutine to read; nil otherwise. The
// boundary lies about ahead records past the Reader's position (at its
// average record size so far), or at the middle of the file when that is
// nearer or ahead is 0. From then on the Reader stops at the boundary:
// NextBatch returns capture.ErrAtTail there, until ResumeAfter.
func (r *Reader) SplitTail(ahead int) (tail capture.Tail) {
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
		in.mm == nil || in.state != stateOpen || in.tail != nil ||
		len(in.mm) < tailMinSize || in.mpos > len(in.mm)/4 {
		return nil
	}
	var ng *ngState
	switch {
	case in.kind == kindPcapng && in.n > 0 && len(in.ifaces) > 0:
		ng = ngStateOf(in)
	case in.kind != kindPcap:
		return nil
	}
	per := pcapRecordLen + 64
	if in.n > 0 {
		per = max(1, (in.mpos-pcapHeaderLen)/int(in.n))
	}
	from := len(in.mm) / 2
	if ahead > 0 {
		from = min(from, in.mpos+max(splitMin, min(ahead, len(in.mm))*per))
	}
	o, ok := in.boundaryOf(from, ng)
	if !ok {
		return nil
	}
	t := newTail(in, o, per)
	t.ng = ng
	in.tail = t
	in.split = true
	return t
}

// boundaryOf is boundary, or boundaryNG for a pcapng file in section ng.
func (in *input) boundaryOf(from int, ng *ngState) (int, bool) {
	if ng != nil {
		return in.boundaryNG(from, ng)
	}
	return in.boundary(from)
}

// newTail makes a Tail from boundary o on, with a window a Tail that ended
// gave back if there is one (in.chain held, or no other goroutine yet).
func newTail(in *input, o, per int) *Tail {
	t := &Tail{in: in, start: o, pos: o, per: per, cur: mapCursor{pf: o, released: o &^ (pageSize - 1), reported: int64(o)}}
	t.at.Store(int64(o))
	if k := len(in.spare); k > 0 {
		t.win.buf, in.spare = in.spare[k-1], in.spare[:k-1]
	}
	return t
}

// done marks the Tail ended, lets go of the pages it mapped (a part
// shorter than releaseEvery would otherwise keep them all: a chain of such
// parts kept most of a mapped 840 MB flood capture resident) and gives its
// window back for a Tail split off later (a file split many times would
// otherwise hold one per part).
func (t *Tail) done() {
	t.ended.Store(true)
	t.in.letGo(&t.cur, t.pos)
	if t.win.buf == nil {
		return
	}
	t.in.chain.Lock()
	t.in.spare = append(t.in.spare, t.win.buf[:0])
	t.in.chain.Unlock()
	t.win = window{}
}

// boundary returns the first offset from which headers chain, searching
// tailSearch bytes from from.
func (in *input) boundary(from int) (int, bool) {
	for o := from; o < from+tailSearch && o+pcapRecordLen <= len(in.mm); o++ {
		if in.chains(o) {
			return o, true
		}
	}
	return 0, false
}

// Split splits off the part of the file ahead of t: from a boundary about
// ahead records past where t is reading (at t's average record size), or
// the middle of what t has left when that is nearer, to the end of the file.
// t stops at the boundary (or, when it has already passed it, voids the new
// Tail and reads on). It returns nil when t is void, already split, ended
// (at the end of the file, or at a record it leaves to the Reader), or has
// too little left. It may be called from any goroutine.
func (t *Tail) Split(ahead int) (tail capture.Tail) {
	in := t.in
	defer func() {
		if v := recover(); v != nil {
			if _, fault := v.(interface{ Addr() uintptr }); !fault {
				panic(v)
			}
			tail = nil
		}
	}()
	in.chain.Lock()
	defer in.chain.Unlock()
	if t.void.Load() || t.next != nil || t.ended.Load() {
		return nil
	}
	at, n := int(t.at.Load()), int(t.atN.Load())
	per := t.per
	if n >= 1024 {
		per = max(1, (at-t.start)/n)
	}
	// at lags the Tail by up to a MiB: the boundary is searched from
	// splitMin past it, and the Tail voids the new one if it got there first.
	left := len(in.mm) - at
	if left < 3*splitMin {
		return nil
	}
	from := at + max(splitMin, min(left/2, min(ahead, left)*per))
	o, ok := in.boundaryOf(from, t.ng)
	if !ok || len(in.mm)-o < splitMin {
		return nil
	}
	nt := newTail(in, o, per)
	nt.ng = t.ng
	t.next = nt
	t.limit.Store(int64(o))
	return nt
}

// stepOver is told by t that it read past its limit: the Tail split off
// at the limit, and every one split off after it, are void.
func (in *input) stepOver(t *Tail) {
	in.chain.Lock()
	voidFrom(t.next)
	t.next = nil
	t.limit.Store(0)
	in.chain.Unlock()
}

// voidFrom voids t and the Tails split off after it (in.chain held).
func voidFrom(t *Tail) {
	for ; t != nil; t = t.next {
		t.void.Store(true)
	}
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

// Ahead is Reader.Ahead for the Tail's part of the file: called on the
// goroutine that reads the Tail, as its packets are analysed.
func (t *Tail) Ahead() {
	if !t.void.Load() {
		t.cur.lazy = true
		t.in.step(&t.cur, t.pos)
	}
}

// Next makes p the Tail's next record and returns true, or returns false
// at the boundary of the Tail split off it, at the end of the file, or at
// a record it leaves to the Reader: NextBatch for one record. p.Data is
// valid until the next call.
func (t *Tail) Next(p *capture.Packet) bool {
	var ps [1]capture.Packet
	if t.NextBatch(ps[:]) == 0 {
		return false
	}
	*p = ps[0]
	return true
}

// NextBatch reads as many records as ps holds, through the Tail's own
// window (see walk), and returns how many: 0 at the boundary of the Tail
// split off it, at the end of the file, or at a record it leaves to the
// Reader. The packets' data are valid until the next call.
func (t *Tail) NextBatch(ps []capture.Packet) int {
	in := t.in
	if t.void.Load() {
		return 0
	}
	stop := len(in.mm)
	if lim := int(t.limit.Load()); lim != 0 {
		switch {
		case t.pos == lim:
			t.done() // the next Tail reads on from here
			return 0
		case t.pos > lim:
			in.stepOver(t)
		default:
			stop = lim
		}
	}
	var n, end int
	if t.ng != nil {
		n, end = in.walkNG(&t.cur, t.ng, t.pos, stop, ps, nil)
		if n == 0 && end > t.pos {
			// Blocks skipped up to the next Tail's boundary or the end
			// of the file: taken, and the next call says which.
			t.pos = end
			return t.NextBatch(ps)
		}
		if n > 0 {
			t.lastTS = ps[n-1].Timestamp
		}
	} else {
		n, end = in.walkFrom(&t.cur, &t.win, &t.wk, t.pos, stop, ps)
	}
	if n == 0 { // the end of the file, or a record left to the Reader
		t.done()
		return 0
	}
	t.pos = end
	t.n += uint64(n)
	if int64(end)-t.cur.reported >= 1<<20 {
		in.passed(&t.cur, end)
		t.atN.Store(int64(t.n))
		t.at.Store(int64(end))
	}
	return n
}

// Void tells whether the walk before the Tail stepped over its boundary
// (or the Reader resumed before it): what the Tail read is then not the
// file's, and it should stop.
func (t *Tail) Void() bool { return t.void.Load() }

// Start is the Tail's boundary; Pos the offset of its next record, and N
// the records it read.
func (t *Tail) Start() int { return t.start }
func (t *Tail) Pos() int   { return t.pos }
func (t *Tail) N() uint64  { return t.n }

// ResumeAfter makes the Reader, stopped at the boundary of its Tail, go on
// from where the first n records of the chain of Tails up to ct end (at
// offset pos, in ct): the caller has used those n and no more. Tails split
// off after ct are void.
func (r *Reader) ResumeAfter(ct capture.Tail, pos int, n uint64) {
	t := ct.(*Tail)
	in := t.in
	in.chain.Lock()
	voidFrom(t.next)
	if t.ng != nil {
		// A Simple Packet Block after the chain takes the time of its
		// last packet.
		for x := in.tail; x != nil; x = x.next {
			if x.n > 0 {
				in.sectionTS = x.lastTS
			}
			if x == t {
				break
			}
		}
	}
	in.chain.Unlock()
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
	// On the boundary, in the section the Tails assumed (pcapng: no
	// interface or section began before it), the Tails' packets follow;
	// past it, or in another section, they are void.
	if in.mpos == t.start && (t.ng == nil || t.ng.same(in)) {
		return true
	}
	if in.mpos >= t.start {
		in.chain.Lock()
		voidFrom(t)
		in.chain.Unlock()
		in.tail = nil
	}
	return false
}
