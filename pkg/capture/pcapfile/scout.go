package pcapfile

import (
	"bytes"
	"encoding/binary"
	"math"
	"os"
	"unsafe"

	"github.com/synscope/synscope/pkg/prefetch"
)

// A mapped walk needs a record's header and its frame's first bytes, two
// cache lines of the eight or so a full-sized record spans; but it cannot
// know where the next record starts before it has read this one's length,
// so prefetching ahead (ahead) asks for every line of the file, and the
// walk runs at the memory's bandwidth for all its bytes. The scout asks
// for the lines the walk will read and little else: it splits the stretch
// of the file ahead of the walk into scoutChains parts, guesses where a
// record starts in each (the first offset from which scoutCheck plausible
// headers chain, the way a Tail's boundary is found), and follows the
// parts' chains of records side by side, each step prefetching the lines
// of the next record of every chain, so that scoutChains loads that miss
// the caches are in flight at once instead of one.
//
// The scout only prefetches: the walk follows the records itself, checks
// every one as before, and reads the same bytes whatever the scout guessed.
// A wrong guess (a payload that looks like a chain of records) costs the
// walk the misses of the lines it did not get; the walk notices when it
// does not land on the start of the stretch the scout took next (mark) and
// the scout starts again from where the walk is.
const (
	scoutChains = 16
	scoutBlock  = 512 << 10 // bytes a scout takes at a time, one block ahead of the walk
	scoutCheck  = 2         // headers that must chain from a guessed start
)

// prefetchAt is called by a mapped walk that reached pos ≥ c.next: in a
// stretch of small records (dense) it prefetches every line ahead (ahead),
// elsewhere it has the scout take the next stretch; c.next is where it
// is needed again. A stretch of records scoutDense bytes long on average
// or shorter is dense for the next decideEvery bytes: there the lines the
// walk reads are most of the file's, and asking for each costs less than
// finding them.
func (in *input) prefetchAt(c *mapCursor, pos int) {
	if pos < c.dense || !scoutOn {
		in.ahead(c, pos)
		c.next = c.pf - prefetchAhead + 1
		if scoutOn {
			c.next = min(c.next, c.dense)
		}
		return
	}
	if recs := in.scoutAhead(c, pos); recs > 0 && (c.sc-c.mark)/recs <= scoutDense {
		c.dense = pos + decideEvery
		c.next = pos
		return
	}
	c.next = c.mark
}

// scoutDense: the mean record length, in bytes, at or under which a
// stretch is dense (see prefetchAt). Measured on two captures, one core:
// with 536-byte records the scout halves the walk's time (the bench
// capture, reading alone 0.48 to 0.36 s), with 109-byte ones (snap128) it
// makes the whole run a quarter slower (0.44 to 0.56 s).
const scoutDense = 320

// scoutAhead is called by a walk that reached pos ≥ c.mark, the start of
// the stretch the scout took last: it takes the next one. A walk that
// did not land on the mark exactly (the first call, a wrong guess, a
// record the scout could not follow) has the scout start again from pos.
//
// The scout reads the mapping ahead of the walk, so in a file that shrank
// under it the scout faults first: it then stops for good, and the walk
// goes on to the fault itself, returning every record before it (see
// NextBatch).
//
// It returns how many records the scout followed in the stretch it took
// last, 0 when it could not follow it to its end.
func (in *input) scoutAhead(c *mapCursor, pos int) (recs int) {
	defer func() {
		if v := recover(); v != nil {
			if _, fault := v.(interface{ Addr() uintptr }); !fault {
				panic(v)
			}
			c.mark, c.sc, c.dense = math.MaxInt, -1, 0
			recs = 0
		}
	}()
	if pos != c.mark || c.sc < 0 {
		c.sc, _ = in.scout(pos)
		if c.sc < 0 {
			// Not followed to the end of the stretch: try again from
			// wherever the walk is past it.
			c.mark = pos + scoutBlock
			return 0
		}
	}
	c.mark = c.sc
	c.sc, recs = in.scout(c.sc)
	if c.sc < 0 {
		return 0
	}
	return recs
}

// scout prefetches the lines of the records in [from, from+scoutBlock)
// and returns where the record after them starts, or -1 when the last
// chain it followed stopped short (a record too long or not whole in the
// mapping, where the walk leaves the general path to say why), and how
// many records it followed.
func (in *input) scout(from int) (last, recs int) {
	mm := in.mm
	if from >= len(mm) {
		return len(mm), 0
	}
	end := min(from+scoutBlock, len(mm))
	part := (end - from) / scoutChains
	var cur, stop [scoutChains]int
	cur[0] = from
	n := 1
	if part >= scoutMinPart && len(mm)-from >= pcapRecordLen { // a short stretch is one chain
		for k := 1; k < scoutChains; k++ {
			prefetch.Line(unsafe.Pointer(&mm[from+k*part]))
		}
		ts := in.bo.u32(mm[from:])
		for k := 1; k < scoutChains; k++ {
			// A part where no start is found is the chain's before it.
			if o, ok := in.guess(from+k*part, from+(k+1)*part, ts); ok {
				cur[n] = o
				n++
			}
		}
	}
	for i := range n - 1 {
		stop[i] = cur[i+1]
	}
	stop[n-1] = end
	bo := in.bo
	last = -1
	live := 0
	for i := range n {
		if cur[i] < stop[i] { // always: the starts rise, each within its part
			live++
		}
	}
	for live > 0 {
		for i := range n {
			o := cur[i]
			if o >= stop[i] {
				continue
			}
			if len(mm)-o < pcapRecordLen {
				cur[i] = len(mm) + 1 // stopped
				live--
				continue
			}
			incl := bo.u32(mm[o+8:])
			next := o + pcapRecordLen + int(incl)
			if incl > MaxRecordLen || next > len(mm) {
				cur[i] = len(mm) + 1
				live--
				continue
			}
			cur[i] = next
			recs++
			if next >= stop[i] {
				live--
				if i == n-1 {
					last = next
				}
			}
			if next+128 <= len(mm) {
				prefetch.Lines2(unsafe.Pointer(&mm[next]), unsafe.Pointer(&mm[next+64]))
			}
		}
	}
	return last, recs
}

// guess returns the first offset in [from, to) whose record's time is
// within scoutSlack seconds of ts and from which scoutCheck plausible
// record headers chain (see chains). Such a time's upper 16 bits are
// those of ts (or of a neighbour), so the search looks for them first
// (bytes.Index, a vector loop) and checks the offsets it finds.
func (in *input) guess(from, to int, ts uint32) (int, bool) {
	mm := in.mm
	to = min(to, len(mm)-pcapRecordLen)
	if from >= to {
		return 0, false
	}
	lo, hi := ts-scoutSlack, ts+scoutSlack
	if lo > ts || hi < ts || lo>>16 != hi>>16 {
		return in.guessEach(from, to, ts) // near a 2^16 s boundary: offset by offset
	}
	var pat [2]byte
	at := 2 // where the upper half sits in the time's four bytes
	if in.bo == bigEndian {
		binary.BigEndian.PutUint16(pat[:], uint16(ts>>16))
		at = 0
	} else {
		binary.LittleEndian.PutUint16(pat[:], uint16(ts>>16))
	}
	for o := from; o < to; {
		i := bytes.Index(mm[o+at:to+at+1], pat[:])
		if i < 0 {
			return 0, false
		}
		o += i
		if in.bo.u32(mm[o:])-lo <= hi-lo && in.chainsN(o, scoutCheck) {
			return o, true
		}
		o++
	}
	return 0, false
}

// guessEach is guess, offset by offset.
func (in *input) guessEach(from, to int, ts uint32) (int, bool) {
	mm, bo := in.mm, in.bo
	for o := from; o < to; o++ {
		if bo.u32(mm[o:])-ts+scoutSlack > 2*scoutSlack {
			continue
		}
		if in.chainsN(o, scoutCheck) {
			return o, true
		}
	}
	return 0, false
}

// scoutMinPart: a stretch whose parts would be shorter is followed as one
// chain (a variable so tests can split small files).
var scoutMinPart = 4 << 10

// scoutSlack bounds how far a guessed record's time may be from the
// stretch's first: a capture's records are near enough in time order.
const scoutSlack = 3600

var scoutOn = os.Getenv("SENSOR_PCAP_SCOUT") != "0"
