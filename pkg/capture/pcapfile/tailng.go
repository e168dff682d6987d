package pcapfile

import (
	"slices"

	"github.com/synscope/synscope/pkg/capture"
)

// Tails of a pcapng file. A large mapped pcapng file is split like a
// classic pcap file (tail.go), with what a pcapng walk needs on top: the
// section's byte order and interfaces, which a Tail takes from the Reader
// at the split (ngState) and the Reader compares with its own when it
// reaches the boundary: if an interface or a section began in between, the
// Tail is void and the Reader reads on alone. A Tail takes Enhanced Packet
// Blocks and skips the blocks the Reader skips (statistics, name
// resolution, custom: checked the same way); it stops, leaving the rest to
// the Reader, at anything else: a section header, an interface
// description, a Simple or obsolete Packet Block (their times or snap
// lengths depend on what came before), a block that is not whole or not
// well formed, a packet of an interface it does not know. A boundary is a
// 4-aligned offset where an Enhanced Packet Block ends (its length read
// back from its trailer and again at its start) and tailCheck blocks chain
// from, the first of them an Enhanced Packet Block: the Reader's read of
// that packet block ends on the boundary, so it stops there.

// ngState is what a Tail of a pcapng file assumes of the section it reads.
type ngState struct {
	bo     byteOrder
	ifaces []ngIface
}

func ngStateOf(in *input) *ngState {
	return &ngState{bo: in.bo, ifaces: slices.Clone(in.ifaces)}
}

// same tells whether the Reader stands in the section st describes.
func (st *ngState) same(in *input) bool {
	return in.bo == st.bo && slices.Equal(in.ifaces, st.ifaces)
}

// ngMinEPB is the shortest Enhanced Packet Block: header, body, trailer.
const ngMinEPB = 8 + 20 + 4

// ngBlock reads the block of the mapping at pos as nextPcapng would in the
// section st: it returns where the block ends and, for an Enhanced Packet
// Block, fills p and reports pkt; ok is false for a block it leaves to the
// Reader (see above).
func (in *input) ngBlock(pos int, st *ngState, p *capture.Packet) (end int, pkt, ok bool) {
	mm := in.mm
	if len(mm)-pos < 12 {
		return 0, false, false
	}
	bo := st.bo
	typ, blen := bo.u32(mm[pos:]), bo.u32(mm[pos+4:])
	if typ == blockSHB || typ == blockIDB || typ == blockSPB || typ == blockOPB ||
		blen < 12 || blen%4 != 0 || blen > MaxBlockLen || uint64(len(mm)-pos) < uint64(blen) ||
		(typ == blockEPB && blen > maxPacketBlock) {
		return 0, false, false
	}
	end = pos + int(blen)
	if bo.u32(mm[end-4:]) != blen {
		return 0, false, false
	}
	if typ != blockEPB {
		return end, false, true // skipped, as nextPcapng skips it
	}
	body := mm[pos+8 : end-4]
	if len(body) < 20 {
		return 0, false, false
	}
	id := bo.u32(body[0:])
	if uint64(id) >= uint64(len(st.ifaces)) {
		return 0, false, false
	}
	ifc := &st.ifaces[id]
	caplen := uint64(bo.u32(body[12:]))
	if caplen > uint64(len(body)-20) {
		return 0, false, false
	}
	data := body[20 : 20+caplen]
	p.Timestamp = ifc.ts.nanos(uint64(bo.u32(body[4:]))<<32 | uint64(bo.u32(body[8:])))
	p.LinkType = ifc.link
	p.CapLen = len(data)
	p.OrigLen = int(bo.u32(body[16:]))
	p.Data = data[:len(data):len(data)]
	return end, true, true
}

// walkNG reads the packets of blocks from pos on into ps, as many as it
// holds, none from a block that starts at or past stop, with the prefetch
// of c kept ahead. It returns how many it read and where the last block it
// took ends (skipped blocks included).
func (in *input) walkNG(c *mapCursor, st *ngState, pos, stop int, ps []capture.Packet, wk *walked) (n, end int) {
	for n < len(ps) && pos < stop {
		if pos+prefetchAhead > c.pf {
			in.ahead(c, pos)
		}
		e, pkt, ok := in.ngBlock(pos, st, &ps[n])
		if !ok {
			break
		}
		pos = e
		if pkt {
			n++
			if wk != nil {
				wk.pos, wk.n = pos, n
			}
		}
	}
	return n, pos
}

// fastNG is fastBatch for a mapped pcapng file read alone: the packets of
// the Enhanced Packet Blocks from the Reader's position on, through
// walkNG in the section as the Reader knows it (a block walkNG leaves,
// such as an interface description, is read by Next and changes it); none
// past a Tail's boundary. It returns how many it read; skipped blocks
// after the last are taken too.
func (in *input) fastNG(ps []capture.Packet) int {
	stop := len(in.mm)
	if in.tail != nil {
		stop = in.tail.start // NextBatch tells the boundary from a step over it
	}
	st := ngState{bo: in.bo, ifaces: in.ifaces}
	pos := in.mpos
	in.wk = walked{start: pos, pos: pos}
	n, end := in.walkNG(&in.cur, &st, pos, stop, ps, &in.wk)
	in.wk = walked{}
	if end > pos {
		in.mpos = end
		in.off += int64(end - pos)
		if int64(end)-in.cur.reported >= 1<<20 {
			in.passed(&in.cur, end)
		}
	}
	if n > 0 {
		in.n += uint64(n)
		in.sectionTS = ps[n-1].Timestamp
	}
	return n
}

// chainsNG tells whether o is a boundary of a pcapng file in section st
// (see above).
func (in *input) chainsNG(o int, st *ngState) bool {
	mm := in.mm
	if o&3 != 0 || o < ngMinEPB || o > len(mm) {
		return false
	}
	back := int(st.bo.u32(mm[o-4:]))
	if back < ngMinEPB || back%4 != 0 || back > o || st.bo.u32(mm[o-back:]) != blockEPB || int(st.bo.u32(mm[o-back+4:])) != back {
		return false
	}
	var p capture.Packet
	for i := range tailCheck {
		if o == len(mm) {
			return i > 0
		}
		end, pkt, ok := in.ngBlock(o, st, &p)
		if !ok || (i == 0 && !pkt) {
			return false
		}
		o = end
	}
	return true
}

// boundaryNG is boundary for a pcapng file in section st.
func (in *input) boundaryNG(from int, st *ngState) (int, bool) {
	for o := (from + 3) &^ 3; o < from+tailSearch && o+ngMinEPB <= len(in.mm); o += 4 {
		if in.chainsNG(o, st) {
			return o, true
		}
	}
	return 0, false
}
