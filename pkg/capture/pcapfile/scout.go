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
// record starts in each (the first offset from which scoutCheck headers
// chain whose times are near the stretch's first: see guess), and follows the
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
	if recs, size, missed := in.scoutAhead(c, pos); recs > 0 && size/recs <= scoutDense || missed > scoutChains/4 {
		c.dense = pos + decideEvery
		c.next = pos
		c.st = scoutRun{} // the stretch it took next is not followed: the walk takes one after the dense stretch
		return
	}
	c.next = c.mark
}

// scoutDense: the mean record length, in bytes, at or under which a
// stretch is dense (see prefetchAt). Measured on two captures, one core:
// with 536-byte records the scout halves the walk's time (the bench
// capture, reading alone 0.48 to 0.36 s), with 109-byte ones (snap128) it
// makes the whole run a quarter slower (0.44 to 0.56 s). A stretch where
// more than a quarter of the guesses found no record start is taken for
// dense too: its records are longer than its parts (jumbo frames, a TSO or
// GRO capture's 64 KiB ones) or its times are out of order, and the scout
// would cost its guesses' scans for little.
const scoutDense = 320

// scoutAhead is called by a walk that reached pos ≥ c.mark, the start of
// the stretch the scout took last (c.st): the walk is entering it. The
// scout finishes following it if it has not yet, and takes the next one,
// which it follows as the packets are analysed (step) or, at the latest,
// when the walk reaches it. A walk that did not land on the mark exactly
// (the first call, a wrong guess, a record the scout could not follow)
// has the scout follow the stretch from pos at once, then take the next.
//
// The scout reads the mapping ahead of the walk, so in a file that shrank
// under it the scout faults first: it then stops for good, and the walk
// goes on to the fault itself, returning every record before it (see
// NextBatch).
//
// It returns how many records the scout followed in the stretch the walk
// enters, its length in bytes, and in how many of its parts no start was
// found; 0 records when it could not follow it to its end.
func (in *input) scoutAhead(c *mapCursor, pos int) (recs, size, missed int) {
	defer func() {
		if v := recover(); v != nil {
			if _, fault := v.(interface{ Addr() uintptr }); !fault {
				panic(v)
			}
			c.mark, c.dense, c.st = math.MaxInt, 0, scoutRun{}
			recs, missed = 0, 0
		}
	}()
	st := &c.st
	if pos == c.mark && st.live > 0 {
		in.follow(st, -1) // the rest of the stretch the walk enters
	}
	end, recs, missed := st.last, st.recs, st.missed
	if pos != c.mark || !st.begun || end < 0 {
		end, recs, missed = in.scout(pos)
		if end < 0 {
			// Not followed to the end of the stretch: try again from
			// wherever the walk is past it.
			c.mark, *st = pos+scoutBlock, scoutRun{}
			return 0, 0, missed
		}
	}
	size = end - pos
	c.mark = end
	in.begin(st, end)
	if !c.lazy {
		in.follow(st, -1)
	}
	return recs, size, missed
}

// step has the scout follow the stretch it took (four records of its
// chains), if it has one to follow, for a walk at pos, or, in a dense
// stretch, prefetch the lines the walk reads next: called as the packets
// are analysed, its loads then wait for memory while other work runs (see
// Reader.Ahead).
func (in *input) step(c *mapCursor, pos int) {
	if !c.mapped {
		// Read through windows here (see decide): the mapping's pages
		// would be mapped 4 KiB at a time, what the windows avoid. The
		// stretch the scout took is left; the mapped walk takes another.
		return
	}
	if c.st.live == 0 {
		if pos < c.dense { // the lines the next batch will read
			in.aheadBy(c, pos, denseLead, denseStep)
		}
		return
	}
	defer func() {
		if v := recover(); v != nil {
			if _, fault := v.(interface{ Addr() uintptr }); !fault {
				panic(v)
			}
			c.mark, c.next, c.dense, c.st = math.MaxInt, math.MaxInt, 0, scoutRun{}
		}
	}()
	in.follow(&c.st, scoutStep)
}

// denseLead and denseStep: how far ahead of the walk step prefetches a
// dense stretch, and how much at a call (more than the packets between two
// calls take: four of a header-only capture's, some 450 bytes).
const (
	denseLead = 64 << 10
	denseStep = 512
)

// scoutStep: the records step follows at a call. Its loads and prefetches
// wait for memory while the packets are analysed; a call that asked for
// many more lines than the core can have in flight at once would wait
// itself.
const scoutStep = 4

// scoutRun is a stretch the scout follows: its chains' next records
// (cur) and where each stops (stop), how many are still followed (live),
// how many records they followed (recs) and, when the last chain got to
// its stop, where the record after the stretch starts (last, else -1).
type scoutRun struct {
	cur, stop [scoutChains]int
	n, live   int
	at        int // the chain follow moves on next
	missed    int // parts where no start was guessed
	recs      int
	last      int
	begun     bool
}

// scout follows the records in [from, from+scoutBlock) at once (begin and
// follow) and returns where the record after them starts, or -1 when the
// last chain it followed stopped short (a record too long or not whole in
// the mapping, where the walk leaves the general path to say why), how
// many records it followed, and in how many parts it found no start.
func (in *input) scout(from int) (last, recs, missed int) {
	var st scoutRun
	in.begin(&st, from)
	in.follow(&st, -1)
	return st.last, st.recs, st.missed
}

// begin sets st to follow the records in [from, from+scoutBlock): one
// chain from from, and one from the start guessed in each further part.
func (in *input) begin(st *scoutRun, from int) {
	mm := in.mm
	*st = scoutRun{last: -1, begun: true}
	if from >= len(mm) {
		st.last = len(mm)
		return
	}
	end := min(from+scoutBlock, len(mm))
	part := (end - from) / scoutChains
	st.cur[0] = from
	n := 1
	if part >= scoutMinPart && len(mm)-from >= pcapRecordLen { // a short stretch is one chain
		// The guesses read from each part's start on: a record's length
		// or so, on average (more where a frame's bytes look like a
		// record's time).
		for k := 1; k < scoutChains; k++ {
			prefetch.Range(unsafe.Pointer(&mm[from+k*part]), uintptr(min(scoutScan, part)))
		}
		ts := in.bo.u32(mm[from:])
		for k := 1; k < scoutChains; k++ {
			// A part where no start is found is the chain's before it.
			if o, ok := in.guess(from+k*part, from+(k+1)*part, ts); ok {
				st.cur[n] = o
				n++
			} else {
				st.missed++
			}
		}
	}
	for i := range n - 1 {
		st.stop[i] = st.cur[i+1]
	}
	st.stop[n-1] = end
	st.n = n
	for i := range n {
		if st.cur[i] < st.stop[i] { // always: the starts rise, each within its part
			st.live++
		}
	}
}

// follow moves st's chains on, a record at a time, one chain after the
// other, steps records in all (-1: until every chain is at its stop),
// prefetching the lines of each record it gets to.
func (in *input) follow(st *scoutRun, steps int) {
	mm, bo, n, i := in.mm, in.bo, st.n, st.at
	for ; st.live > 0 && steps != 0; i++ {
		if i == n {
			i = 0
		}
		o := st.cur[i]
		if o >= st.stop[i] {
			continue
		}
		steps--
		if len(mm)-o < pcapRecordLen {
			st.cur[i] = len(mm) + 1 // stopped
			st.live--
			continue
		}
		incl := bo.u32(mm[o+8:])
		next := o + pcapRecordLen + int(incl)
		if incl > MaxRecordLen || next > len(mm) {
			st.cur[i] = len(mm) + 1
			st.live--
			continue
		}
		st.cur[i] = next
		st.recs++
		if next >= st.stop[i] {
			st.live--
			if i == n-1 {
				st.last = next
			}
		}
		if next+128 <= len(mm) {
			prefetch.Lines2(unsafe.Pointer(&mm[next]), unsafe.Pointer(&mm[next+64]))
		}
	}
	st.at = i
}

// guess returns the first offset in [from, to) from which scoutCheck
// record headers chain whose times are within scoutSlack seconds of ts and
// whose lengths the walk takes (see plausible). The search looks first for
// the bytes all such times share, with bytes.Index (a vector loop), and
// checks the offsets it finds: the upper 16 bits of ts, or, within
// scoutSlack of a multiple of 2^16 s, the upper 8; within it of a multiple
// of 2^24 s (twice a year) it checks every offset.
func (in *input) guess(from, to int, ts uint32) (int, bool) {
	to = min(to, len(in.mm)-pcapRecordLen)
	if from >= to {
		return 0, false
	}
	lo, hi := ts-scoutSlack, ts+scoutSlack
	var pat [2]byte
	var at, n int // where the shared bytes sit in a time's four, how many
	switch {
	case lo>>16 == hi>>16:
		n = 2
		if in.bo == bigEndian {
			binary.BigEndian.PutUint16(pat[:], uint16(ts>>16))
		} else {
			binary.LittleEndian.PutUint16(pat[:], uint16(ts>>16))
			at = 2
		}
	case lo>>24 == hi>>24:
		n, pat[0] = 1, byte(ts>>24)
		if in.bo == littleEndian {
			at = 3
		}
	}
	mm := in.mm
	for o := from; o < to; o++ {
		if n > 0 {
			i := bytes.Index(mm[o+at:to+at+n-1], pat[:n])
			if i < 0 {
				return 0, false
			}
			o += i
		}
		if in.plausible(o, ts) {
			return o, true
		}
	}
	return 0, false
}

// plausible tells whether scoutCheck record headers chain from o whose
// times are within scoutSlack seconds of ts and whose lengths the walk
// takes (no more than MaxRecordLen, whole in the mapping), or such headers
// reach the end of the mapping. It asks no more of a record than the walk
// does (a Tail's boundary asks more, see chains), so that the records of
// a capture the walk reads are found.
func (in *input) plausible(o int, ts uint32) bool {
	mm, bo := in.mm, in.bo
	for range scoutCheck {
		if o == len(mm) {
			return true
		}
		if len(mm)-o < pcapRecordLen || bo.u32(mm[o:])-ts+scoutSlack > 2*scoutSlack {
			return false
		}
		incl := bo.u32(mm[o+8:])
		if incl > MaxRecordLen || uint64(len(mm)-o-pcapRecordLen) < uint64(incl) {
			return false
		}
		o += pcapRecordLen + int(incl)
	}
	return true
}

// scoutScan: the bytes of each part's start prefetched for its guess.
const scoutScan = 512

// scoutMinPart: a stretch whose parts would be shorter is followed as one
// chain (a variable so tests can split small files).
var scoutMinPart = 4 << 10

// scoutSlack bounds how far a guessed record's time may be from the
// stretch's first: a capture's records are near enough in time order.
const scoutSlack = 3600

var scoutOn = os.Getenv("SENSOR_PCAP_SCOUT") != "0"
