package pcapfile

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"

	"github.com/synscope/synscope/pkg/capture"
)

// pcapng block types.
const (
	blockSHB = 0x0A0D0D0A // Section Header
	blockIDB = 1          // Interface Description
	blockOPB = 2          // Packet (obsolete)
	blockSPB = 3          // Simple Packet
	blockEPB = 6          // Enhanced Packet
)

const (
	byteOrderMagic = 0x1A2B3C4D
	maxInterfaces  = 1 << 16 // per section
	optEndOfOpt    = 0
	optTsresol     = 9
	optTsoffset    = 14
)

// ngIface is one Interface Description Block.
type ngIface struct {
	link    capture.LinkType
	snaplen uint32
	ts      tsConv
}

func isPacketBlock(typ uint32) bool {
	return typ == blockEPB || typ == blockSPB || typ == blockOPB
}

// nextPcapng reads blocks until a packet block, skipping others.
func (in *input) nextPcapng() error {
	for {
		start := in.off
		b, err := in.read(8)
		if len(b) < 8 {
			if len(b) == 0 && err == io.EOF {
				return io.EOF // clean end between blocks
			}
			return in.fail(start, false, in.shortError(8, len(b), err, "block header"))
		}
		copy(in.hdr[:], b)
		typ := in.bo.u32(in.hdr[0:]) // the SHB type reads the same in both orders
		hdrLen := 8
		if typ == blockSHB {
			// The byte order of the length is given by the magic after it.
			bom, err := in.readFull(4, "section header")
			if err != nil {
				return in.fail(start, false, err)
			}
			switch binary.BigEndian.Uint32(bom) {
			case byteOrderMagic:
				in.bo = bigEndian
			case 0x4D3C2B1A:
				in.bo = littleEndian
			default:
				return in.fail(start, false, fmt.Errorf("bad byte-order magic 0x%08x in section header", binary.BigEndian.Uint32(bom)))
			}
			hdrLen = 12
		}
		pkt := isPacketBlock(typ)
		blen := in.bo.u32(in.hdr[4:])
		switch {
		case blen < 12 || blen%4 != 0:
			return in.fail(start, pkt, fmt.Errorf("invalid block length %d (block type 0x%08x): must be a multiple of 4, at least 12", blen, typ))
		case blen > MaxBlockLen:
			return in.fail(start, pkt, fmt.Errorf("block length %d exceeds the %d-byte limit (block type 0x%08x)", blen, MaxBlockLen, typ))
		case int(blen) < hdrLen+4:
			return in.fail(start, pkt, fmt.Errorf("section header block too short (%d bytes)", blen))
		}
		if typ != blockSHB && typ != blockIDB && !pkt {
			// Not needed (NRB, ISB, DSB, custom...): skip the body, check the trailer.
			if err := in.skip(int(blen)-hdrLen-4, "block"); err != nil {
				return in.fail(start, false, err)
			}
			t, err := in.readFull(4, "block")
			if err != nil {
				return in.fail(start, false, err)
			}
			if tl := in.bo.u32(t); tl != blen {
				return in.fail(start, false, lengthMismatch(blen, tl, typ))
			}
			continue
		}
		if pkt && blen > maxPacketBlock {
			if err := in.bigPacketBlock(typ, blen); err != nil {
				return in.fail(start, true, err)
			}
			return nil
		}
		rest, err := in.readFull(int(blen)-hdrLen, "block")
		if err != nil {
			return in.fail(start, pkt, err)
		}
		body := rest[:len(rest)-4]
		if tl := in.bo.u32(rest[len(rest)-4:]); tl != blen {
			return in.fail(start, pkt, lengthMismatch(blen, tl, typ))
		}
		if in.mm == nil && len(rest) > in.br.Size() {
			in.buf = nil // a long section header or interface: not kept for the file's every input
		}
		switch typ {
		case blockSHB:
			err = in.sectionHeader(body)
		case blockIDB:
			err = in.interfaceDescription(body)
		default:
			err = in.packetBlock(typ, body)
			if err == nil {
				return nil
			}
		}
		if err != nil {
			return in.fail(start, pkt, err)
		}
	}
}

// maxPacketBlock is the longest packet block read whole: longer ones are
// read by bigPacketBlock.
const maxPacketBlock = 8 + 20 + MaxRecordLen + 4

// bigPacketBlock reads a packet block longer than maxPacketBlock (its
// header read already) without holding it whole: its fixed fields, its
// data when at most MaxRecordLen bytes are captured (options make up the
// rest; pcap refuses longer records), else none, so the packet is passed
// on without its bytes (the decoder counts it truncated); the rest is
// skipped and the trailer checked. Every input held its pending packet
// whole, up to 16 MiB: 64 gzip files of 72 KB each took 1.4 GB (a review).
// A mapped file's packet blocks that long come here too (ngBlock leaves
// them), so every way of reading gives the same packets.
func (in *input) bigPacketBlock(typ, blen uint32) error {
	fixed := 20
	if typ == blockSPB {
		fixed = 4
	}
	f, err := in.readFull(fixed, "block")
	if err != nil {
		return err
	}
	in.big = append(in.big[:0], f...)
	bodyLen := int(blen) - 8 - 4
	room := uint64(bodyLen - fixed) // data and options
	var keep uint64
	if typ == blockSPB {
		keep = min(uint64(in.bo.u32(in.big[0:])), room)
		if len(in.ifaces) > 0 && in.ifaces[0].snaplen != 0 {
			keep = min(keep, uint64(in.ifaces[0].snaplen))
		}
	} else {
		keep = uint64(in.bo.u32(in.big[12:]))
		if keep > room {
			name := "enhanced packet block"
			if typ == blockOPB {
				name = "packet block"
			}
			return fmt.Errorf("%s: captured length %d exceeds the block body (%d bytes)", name, keep, room)
		}
	}
	if keep > MaxRecordLen {
		keep = 0
	}
	for n := int(keep); n > 0; {
		c, err := in.readFull(min(n, 64<<10), "block")
		if err != nil {
			return err
		}
		in.big = append(in.big, c...)
		n -= len(c)
	}
	if err := in.skip(int(room-keep), "block"); err != nil {
		return err
	}
	t, err := in.readFull(4, "block")
	if err != nil {
		return err
	}
	if tl := in.bo.u32(t); tl != blen {
		return lengthMismatch(blen, tl, typ)
	}
	if typ != blockSPB {
		in.bo.put32(in.big[12:], uint32(keep))
	}
	return in.packetBlock(typ, in.big)
}

func lengthMismatch(head, tail, typ uint32) error {
	return fmt.Errorf("block length mismatch: header says %d, trailer says %d (block type 0x%08x)", head, tail, typ)
}

// sectionHeader starts a new section; body follows the byte-order magic.
func (in *input) sectionHeader(body []byte) error {
	if len(body) < 12 {
		return fmt.Errorf("section header block too short (%d body bytes)", len(body))
	}
	major, minor := in.bo.u16(body[0:]), in.bo.u16(body[2:])
	if major != 1 {
		return fmt.Errorf("unsupported pcapng version %d.%d (want 1.x)", major, minor)
	}
	in.ifaces = in.ifaces[:0]
	in.sectionTS = 0
	return nil
}

func (in *input) interfaceDescription(body []byte) error {
	if len(body) < 8 {
		return fmt.Errorf("interface description block too short (%d body bytes)", len(body))
	}
	if len(in.ifaces) >= maxInterfaces {
		return fmt.Errorf("more than %d interfaces in one section", maxInterfaces)
	}
	ifc := ngIface{
		link:    fileLink(in.bo.u16(body[0:])),
		snaplen: in.bo.u32(body[4:]),
	}
	resol, offset := uint8(6), int64(0)
	opts := body[8:]
	for len(opts) > 0 {
		if len(opts) < 4 {
			return fmt.Errorf("interface %d: truncated option header", len(in.ifaces))
		}
		code, olen := in.bo.u16(opts[0:]), int(in.bo.u16(opts[2:]))
		if code == optEndOfOpt {
			break
		}
		padded := (olen + 3) &^ 3
		if padded > len(opts)-4 {
			return fmt.Errorf("interface %d: option %d length %d overruns the block", len(in.ifaces), code, olen)
		}
		val := opts[4 : 4+olen]
		switch code {
		case optTsresol:
			if olen != 1 {
				return fmt.Errorf("interface %d: if_tsresol option length %d, want 1", len(in.ifaces), olen)
			}
			resol = val[0]
		case optTsoffset:
			if olen != 8 {
				return fmt.Errorf("interface %d: if_tsoffset option length %d, want 8", len(in.ifaces), olen)
			}
			offset = int64(in.bo.u64(val))
		}
		opts = opts[4+padded:]
	}
	ifc.ts = newTSConv(resol, offset)
	in.ifaces = append(in.ifaces, ifc)
	return nil
}

func (in *input) iface(id uint32) (*ngIface, error) {
	if uint64(id) >= uint64(len(in.ifaces)) {
		return nil, fmt.Errorf("packet references interface %d, but this section defines %d", id, len(in.ifaces))
	}
	return &in.ifaces[id], nil
}

// packetBlock fills in.pkt from an EPB, SPB or OPB body.
func (in *input) packetBlock(typ uint32, body []byte) error {
	var (
		ifc        *ngIface
		err        error
		ts         int64
		caplen     uint64
		orig       uint32
		dataOffset int
	)
	switch typ {
	case blockEPB, blockOPB:
		name := "enhanced packet block"
		if typ == blockOPB {
			name = "packet block"
		}
		if len(body) < 20 {
			return fmt.Errorf("%s too short (%d body bytes)", name, len(body))
		}
		var id uint32
		if typ == blockEPB {
			id = in.bo.u32(body[0:])
		} else {
			id = uint32(in.bo.u16(body[0:])) // then a 16-bit drops count
		}
		if ifc, err = in.iface(id); err != nil {
			return err
		}
		raw := uint64(in.bo.u32(body[4:]))<<32 | uint64(in.bo.u32(body[8:]))
		ts = ifc.ts.nanos(raw)
		caplen = uint64(in.bo.u32(body[12:]))
		orig = in.bo.u32(body[16:])
		dataOffset = 20
		if caplen > uint64(len(body)-dataOffset) {
			return fmt.Errorf("%s: captured length %d exceeds the block body (%d bytes)", name, caplen, len(body)-dataOffset)
		}
	case blockSPB:
		if len(body) < 4 {
			return errors.New("simple packet block too short")
		}
		if ifc, err = in.iface(0); err != nil {
			return err
		}
		ts = in.sectionTS
		orig = in.bo.u32(body[0:])
		dataOffset = 4
		caplen = min(uint64(orig), uint64(len(body)-dataOffset))
		if ifc.snaplen != 0 {
			caplen = min(caplen, uint64(ifc.snaplen))
		}
	}
	data := body[dataOffset : dataOffset+int(caplen)]
	in.sectionTS = ts
	in.pkt = capture.Packet{
		Timestamp: ts,
		LinkType:  ifc.link,
		CapLen:    len(data),
		OrigLen:   int(orig),
		Data:      data[:len(data):len(data)],
	}
	return nil
}

// tsConv converts pcapng timestamp units to nanoseconds for one interface.
type tsConv struct {
	kind   uint8  // tsMul, tsDiv or tsShift
	factor uint64 // tsMul: ns per unit; tsDiv: units per ns (0: always 0 ns)
	shift  uint8  // tsShift: units are 2^-shift s
	offset int64  // if_tsoffset in ns, saturated
}

const (
	tsMul uint8 = iota
	tsDiv
	tsShift
)

func newTSConv(resol uint8, offsetSec int64) tsConv {
	var c tsConv
	n := resol & 0x7f
	switch {
	case resol&0x80 != 0:
		c.kind, c.shift = tsShift, n
	case n <= 9:
		c.kind, c.factor = tsMul, pow10(9-n)
	default:
		c.kind = tsDiv
		if n-9 <= 19 { // 10^19 is the largest power of ten in a uint64
			c.factor = pow10(n - 9)
		}
	}
	switch {
	case offsetSec > math.MaxInt64/1_000_000_000:
		c.offset = math.MaxInt64
	case offsetSec < math.MinInt64/1_000_000_000:
		c.offset = math.MinInt64
	default:
		c.offset = offsetSec * 1e9
	}
	return c
}

func pow10(n uint8) uint64 {
	p := uint64(1)
	for range n {
		p *= 10
	}
	return p
}

// nanos converts a raw timestamp. A value beyond tsLimit saturates there
// (whatever the offset); adding the offset saturates too, at ±tsLimit.
func (c *tsConv) nanos(t uint64) int64 {
	var ns uint64
	switch c.kind {
	case tsMul:
		hi, lo := bits.Mul64(t, c.factor)
		if hi != 0 {
			return tsLimit
		}
		ns = lo
	case tsDiv:
		if c.factor != 0 {
			ns = t / c.factor
		}
	case tsShift:
		// t * 1e9 / 2^shift, exact (rounded down), through 128 bits.
		hi, lo := bits.Mul64(t, 1e9)
		s := uint(c.shift)
		switch {
		case s == 0:
			if hi != 0 {
				return tsLimit
			}
			ns = lo
		case s < 64:
			if hi>>s != 0 {
				return tsLimit
			}
			ns = hi<<(64-s) | lo>>s
		default:
			ns = hi >> (s - 64)
		}
	}
	if ns > tsLimit {
		return tsLimit
	}
	return min(max(satAdd(int64(ns), c.offset), -tsLimit), tsLimit)
}

// tsLimit bounds a pcapng timestamp (2^62 ns either side of 1970: the
// years 1823 to 2116, beyond every classic pcap timestamp): a corrupt or
// hostile timestamp that saturated at the int64 range left the engine no
// room to align a window to it (its end overflowed, a window record went
// out ending in 1677).
const tsLimit = 1 << 62

// satAdd adds a (>= 0) and b, saturating at math.MaxInt64 (a >= 0 cannot
// underflow).
func satAdd(a, b int64) int64 {
	if b > 0 && a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}
