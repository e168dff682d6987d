package pcapfile

import (
	"fmt"
	"io"

	"github.com/synscope/synscope/pkg/capture"
)

const (
	pcapHeaderLen = 24
	pcapRecordLen = 16
)

// pcapHeader reads the 24-byte global header of a classic pcap file.
func (in *input) pcapHeader() error {
	h, err := in.readFull(pcapHeaderLen, "file header")
	if err != nil {
		return in.fail(0, false, err)
	}
	major, minor := in.bo.u16(h[4:]), in.bo.u16(h[6:])
	if major != 2 {
		return in.fail(0, false, fmt.Errorf("unsupported pcap version %d.%d (want 2.x)", major, minor))
	}
	// The link-type field's low 16 bits are the link type; bit 26 says
	// the frames end in a frame check sequence whose length (in 16-bit
	// words) is the top 4 bits (libpcap's LT_FCS_*, written by captures on
	// links that keep the FCS: tcpdump reads them, and so must this);
	// bits 16 to 25 and 27 are reserved.
	field := in.bo.u32(h[20:])
	if field&0x0BFF0000 != 0 {
		return in.fail(0, false, fmt.Errorf("invalid link type %d (header field 0x%08x)", field&0x0BFFFFFF, field))
	}
	in.link = fileLink(uint16(field))
	return nil
}

// fileLink is the link type of a capture file's frames: DLT_RAW's
// platform values (12, and 14 on OpenBSD), which old captures carry for
// raw IP, are raw IP (as tcpdump reads them); synscope's private eBPF
// record type is never a file's (its frames would be taken for records
// the kernel made, direction and all), so it counts as unsupported.
func fileLink(v uint16) capture.LinkType {
	switch lt := capture.LinkType(v); lt {
	case 12, 14:
		return capture.LinkRaw
	case capture.LinkSynRecord:
		return linkNotOurs
	default:
		return lt
	}
}

// linkNotOurs stands for a file's frames of the private record type: no
// capture uses it (65535 is reserved), so the decoder counts them as
// unsupported.
const linkNotOurs capture.LinkType = 0xFFFF

// nextPcap reads one record.
func (in *input) nextPcap() error {
	start := in.off
	h, err := in.read(pcapRecordLen)
	if len(h) < pcapRecordLen {
		if len(h) == 0 && err == io.EOF {
			return io.EOF // clean end between records
		}
		return in.fail(start, true, in.shortError(pcapRecordLen, len(h), err, "record header"))
	}
	sec := in.bo.u32(h[0:])
	frac := in.bo.u32(h[4:])
	incl := in.bo.u32(h[8:])
	orig := in.bo.u32(h[12:])
	if incl > MaxRecordLen {
		return in.fail(start, true, fmt.Errorf("record length %d exceeds the %d-byte limit", incl, MaxRecordLen))
	}
	if orig == 0 && in.shrank() {
		return in.fail(start, true, shrankError(len(in.mm)))
	}
	if orig == 0 {
		// No packet is 0 bytes long: a record header of zeros is where a
		// file cut short while being written (a crash, a preallocated
		// file) was zero-filled. Read as packets, such a tail stamped
		// 1970 on every record of a run (a review).
		return in.fail(start, true, fmt.Errorf("record header with an original length of 0 (captured %d, time %d.%d): not a packet; the file is damaged from here (zero-filled after a crash?); the packets before it were read", incl, sec, frac))
	}
	// A fraction of a second >= 1 s (invalid, but seen in the wild) carries
	// into the seconds: sec*1e9 + frac*unit does exactly that, and cannot
	// overflow (< 2^32 * (1e9 + 1e3)).
	unit := int64(1000)
	if in.nano {
		unit = 1
	}
	ts := int64(sec)*1e9 + int64(frac)*unit

	data, err := in.readFull(int(incl), "record")
	if err != nil {
		return in.fail(start, true, err)
	}
	in.pkt = capture.Packet{
		Timestamp: ts,
		LinkType:  in.link,
		CapLen:    len(data),
		OrigLen:   int(orig),
		Data:      data[:len(data):len(data)],
	}
	return nil
}

// fastPcap is nextPcap for a mapped file, with every check of nextPcap but
// none of the general read path: it makes *p (in.pkt, or the caller's
// packet when in.pkt is set later) the next record and returns true, or
// returns false, changing nothing, when the record is not whole in the
// mapping or is too long (nextPcap then reports why), or at the boundary
// of a Tail.
func (in *input) fastPcap(p *capture.Packet) bool {
	pos := in.mpos
	in.ahead(&in.cur, pos)
	if in.tail != nil && pos >= in.tail.start {
		return false // NextBatch tells the boundary from a step over it
	}
	end, ok := in.record(pos, p)
	if !ok {
		return false
	}
	in.mpos = end
	in.off += int64(end - pos)
	in.passed(&in.cur, end)
	in.n++
	return true
}

// fastBatch is fastPcap for as many records as ps holds, written straight
// into ps: it returns how many it read, stopping where fastPcap would
// return false. It reads the records from the mapping or through the
// input's window, as decide chose for this stretch of the file.
func (in *input) fastBatch(ps []capture.Packet) int {
	stop := len(in.mm)
	if in.tail != nil {
		stop = in.tail.start // NextBatch tells the boundary from a step over it
	}
	pos := in.mpos
	n, end := in.walkFrom(&in.cur, &in.win, &in.wk, pos, stop, ps)
	in.wk = walked{}
	if n > 0 {
		in.mpos = end
		in.off += int64(end - pos)
		in.n += uint64(n)
		if int64(end)-in.cur.reported >= 1<<20 {
			in.passed(&in.cur, end)
		}
	}
	return n
}

// walk reads records from pos on into ps, as many as it holds, through
// window w, with the state it keeps in registers; none that starts at or
// past stop. It returns how many it read and where the last ends. A window
// is filled anew only before the first record, since the packets point
// into it, so the batch ends early at a window's end; a record not whole
// in a fresh window (longer, cut short) or too long ends it too, and is
// left to the mapped path.
func (in *input) walk(w *window, pos, stop int, ps []capture.Packet) (n, end int) {
	size := len(in.mm)
	unit := int64(1000)
	if in.nano {
		unit = 1
	}
	bo, link := in.bo, in.link
	filled := false
	for n < len(ps) {
		if pos >= stop || size-pos < pcapRecordLen {
			break
		}
		if !w.has(pos, pos+pcapRecordLen) {
			if n > 0 || filled {
				break
			}
			w.fill(in.f, pos, size)
			filled = true
			continue
		}
		h := w.buf[pos-w.off:][:pcapRecordLen:pcapRecordLen]
		incl := bo.u32(h[8:])
		if incl > MaxRecordLen || uint64(size-pos-pcapRecordLen) < uint64(incl) || bo.u32(h[12:]) == 0 {
			break
		}
		start := pos + pcapRecordLen
		end := start + int(incl)
		if !w.has(pos, end) {
			// Not whole in the window: read it anew from this record on
			// (a record longer than a window, or cut short, is left to
			// the mapped path).
			if n > 0 || filled {
				break
			}
			w.fill(in.f, pos, size)
			filled = true
			continue
		}
		p := &ps[n]
		p.Timestamp = int64(bo.u32(h[0:]))*1e9 + int64(bo.u32(h[4:]))*unit
		p.LinkType = link
		p.CapLen = int(incl)
		p.OrigLen = int(bo.u32(h[12:]))
		p.Data = w.buf[start-w.off : end-w.off : end-w.off]
		pos = end
		n++
	}
	return n, pos
}

// walkFrom reads records from pos on into ps the way decide chose for this
// stretch of the file: straight from the mapping (walkMapped, noting its
// progress in wk) or through the window w (walk).
func (in *input) walkFrom(c *mapCursor, w *window, wk *walked, pos, stop int, ps []capture.Packet) (n, end int) {
	if pos >= c.until {
		in.decide(c, pos)
	}
	if c.mapped {
		*wk = walked{start: pos, pos: pos}
		return in.walkMapped(c, pos, stop, ps, wk)
	}
	return in.walk(w, pos, stop, ps)
}

// walked is a mapped walk's progress, record by record: a fault part way
// (a file that shrank under the mapping) keeps the records before it.
type walked struct{ start, pos, n int }

// walkMapped is walk straight from the mapping (each record by record,
// the records of ps pointing into the mapping), with the prefetch kept
// ahead of the parse point (see ahead). It stops where walk would (at
// stop, at the end, at a record that is not whole or is too long, which is
// left to the general path) and notes its progress in wk after each
// record. (record's call costs nothing measurable here: one core, bench
// capture, five rounds alternating with the loop written out, 0.50 to
// 0.52 s either way.)
func (in *input) walkMapped(c *mapCursor, pos, stop int, ps []capture.Packet, wk *walked) (n, end int) {
	for n < len(ps) && pos < stop {
		if pos >= c.next {
			in.prefetchAt(c, pos)
		}
		end, ok := in.record(pos, &ps[n])
		if !ok {
			break
		}
		pos = end
		n++
		wk.pos, wk.n = pos, n
	}
	return n, pos
}

// record makes p the record of the mapping at pos and returns where it
// ends, or returns false when it is not whole in the mapping or is too
// long.
func (in *input) record(pos int, p *capture.Packet) (end int, ok bool) {
	mm := in.mm
	if len(mm)-pos < pcapRecordLen {
		return 0, false
	}
	h := mm[pos : pos+pcapRecordLen : pos+pcapRecordLen]
	incl := in.bo.u32(h[8:])
	if incl > MaxRecordLen || uint64(len(mm)-pos-pcapRecordLen) < uint64(incl) || in.bo.u32(h[12:]) == 0 {
		return 0, false
	}
	unit := int64(1000)
	if in.nano {
		unit = 1
	}
	start := pos + pcapRecordLen
	end = start + int(incl)
	// Field by field: a composite literal would be built on the stack and
	// copied, a store and a load more per packet.
	p.Timestamp = int64(in.bo.u32(h[0:]))*1e9 + int64(in.bo.u32(h[4:]))*unit
	p.LinkType = in.link
	p.CapLen = int(incl)
	p.OrigLen = int(in.bo.u32(h[12:]))
	p.Data = mm[start:end:end]
	return end, true
}
