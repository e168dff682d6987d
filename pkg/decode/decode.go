package decode

import (
	"encoding/binary"

	"github.com/synscope/synscope/pkg/capture"
	"github.com/synscope/synscope/pkg/ports"
)

// Result says what a frame turned out to be. The caller keeps one counter
// per Result, so nothing is lost silently.
type Result uint8

// Results, from the one that matters to the ones that are counted only.
const (
	Matched         Result = iota // TCP SYN (ACK clear) to a watched port: out is filled
	OtherPort                     // TCP SYN to a port that is not watched
	NotSyn                        // TCP, but not SYN && !ACK
	NotTCP                        // IP carrying something other than TCP
	NotIP                         // a link payload that is not IP (ARP, LLDP, ...)
	Fragment                      // a non-first IP fragment: never a SYN
	Truncated                     // the frame ends inside a header that was needed
	Malformed                     // header fields that contradict each other
	UnsupportedLink               // a link type this decoder does not walk
	NumResults
)

var resultNames = [NumResults]string{
	"matched", "other_port", "not_syn", "not_tcp", "not_ip",
	"fragment", "truncated", "malformed", "unsupported_link",
}

// String is the snake_case name used in stats records.
func (r Result) String() string {
	if r < NumResults {
		return resultNames[r]
	}
	return "unknown"
}

// IsError reports whether the result is a decode error (as opposed to a
// frame that is simply not of interest).
func (r Result) IsError() bool { return r == Truncated || r == Malformed || r == UnsupportedLink }

// Bounds on loops driven by packet bytes, so a hostile frame cannot make the
// decoder spin: tags, labels, extension headers and tunnels.
const (
	maxVLANTags   = 4
	maxMPLSLabels = 8
	maxExtHeaders = 8
	maxTunnels    = 3
	maxNFLOGTLVs  = 32
)

// Decoder holds the watched ports. It keeps no per-packet state, so one
// Decoder may serve one goroutine at a time and costs nothing to copy.
type Decoder struct {
	Ports *ports.Set
}

var be = binary.BigEndian

// Decode inspects one frame of link type lt. On Matched it fills every field
// of out except Ts, which the caller sets from the capture; on any other
// result out may be left as it was.
//
// The common case of an Ethernet frame that is not a match is answered
// here, in as few loads and branches as it takes (one call per frame):
// untagged or 802.1Q tagged once, IPv4 without options or IPv6 without
// extension headers, carrying something other than TCP, a TCP segment
// that is not a SYN, a SYN to a port not watched, a non-first IPv4
// fragment, or no IP at all, and a match in such a frame is filled here.
// Anything else (tunnels, IPv4 options, IPv6 extension headers, short or
// odd headers, other link types) goes to full, whose result and fields
// this must equal (TestQuickAgreesWithFull, FuzzDecode).
func (d *Decoder) Decode(lt capture.LinkType, b []byte, out *Syn) Result {
	if lt != capture.LinkEthernet || len(b) < 18 {
		return d.full(lt, b, out)
	}
	et, ip := be.Uint16(b[12:]), b[14:]
	var vlan uint16
	if et == 0x8100 {
		vlan = be.Uint16(b[14:]) & 0x0fff
		et, ip = be.Uint16(b[16:]), b[18:]
	}
	var tcp []byte
	switch et {
	case 0x0800:
		if len(ip) < 20 || ip[0] != 0x45 {
			return d.full(lt, b, out)
		}
		end := len(ip)
		if total := int(be.Uint16(ip[2:])); total != 0 {
			if total < 20 {
				return d.full(lt, b, out)
			}
			end = min(end, total)
		}
		if be.Uint16(ip[6:])&0x1fff != 0 {
			return Fragment
		}
		switch ip[9] {
		case 6:
		case 4, 41, 47:
			return d.full(lt, b, out)
		default:
			return NotTCP
		}
		tcp = ip[20:end]
	case 0x86dd:
		if len(ip) < 40 || ip[0]>>4 != 6 {
			return d.full(lt, b, out)
		}
		end := len(ip)
		if plen := int(be.Uint16(ip[4:])); plen != 0 {
			end = min(end, 40+plen)
		}
		switch ip[6] {
		case 6:
		case 0, 4, 41, 43, 44, 47, 51, 60, 135, 139, 140:
			return d.full(lt, b, out)
		default:
			return NotTCP
		}
		tcp = ip[40:end]
	case 0x8100, 0x88a8, 0x9100, 0x8847, 0x8848, 0x8864:
		return d.full(lt, b, out)
	default:
		return NotIP
	}
	if len(tcp) < 20 {
		return d.full(lt, b, out)
	}
	if tcp[13]&0x12 != 0x02 {
		return NotSyn
	}
	dport := be.Uint16(tcp[2:])
	if !d.Ports.Contains(dport) {
		return OtherPort
	}
	// A match is filled here too, as full would fill it (its walk to this
	// point is the checks above): the addresses, TTL and IP ID come from
	// the IP header, the rest from tcp's.
	doff := int(tcp[12]>>4) * 4
	if doff < 20 {
		return Malformed
	}
	*out = Syn{WScale: 0xff, VLAN: vlan}
	if et == 0x0800 {
		copy(out.Src[:4], ip[12:16])
		copy(out.Dst[:4], ip[16:20])
		out.TTL = ip[8]
		out.IPID = uint32(be.Uint16(ip[4:]))
	} else {
		out.V6 = true
		copy(out.Src[:], ip[8:24])
		copy(out.Dst[:], ip[24:40])
		out.TTL = ip[7]
		out.IPID = be.Uint32(ip) & 0x000fffff
	}
	out.SrcPort = be.Uint16(tcp)
	out.DstPort = dport
	out.Seq = be.Uint32(tcp[4:])
	out.Flags = tcp[13]
	out.Window = be.Uint16(tcp[14:])
	parseOptions(tcp[20:min(doff, len(tcp))], out)
	return Matched
}

// full is Decode for every link type and every frame.
func (d *Decoder) full(lt capture.LinkType, b []byte, out *Syn) Result {
	*out = Syn{WScale: 0xff}
	switch lt {
	case capture.LinkEthernet:
		if len(b) < 14 {
			return Truncated
		}
		return d.etherType(be.Uint16(b[12:]), b[14:], out, 0)
	case capture.LinkRaw:
		return d.ip(b, out, 0)
	case capture.LinkIPv4:
		return d.ipv4(b, out, 0)
	case capture.LinkIPv6:
		return d.ipv6(b, out, 0)
	case capture.LinkNull, capture.LinkLoop:
		if len(b) < 4 {
			return Truncated
		}
		fam := binary.LittleEndian.Uint32(b)
		if lt == capture.LinkLoop || fam&0xffff0000 != 0 {
			fam = be.Uint32(b)
		}
		switch fam {
		case 2:
			return d.ipv4(b[4:], out, 0)
		case 10, 24, 28, 30: // AF_INET6 on Linux, BSDs, FreeBSD, Darwin
			return d.ipv6(b[4:], out, 0)
		}
		return NotIP
	case capture.LinkLinuxSLL:
		if len(b) < 16 {
			return Truncated
		}
		return d.etherType(be.Uint16(b[14:]), b[16:], out, 0)
	case capture.LinkLinuxSLL2:
		if len(b) < 20 {
			return Truncated
		}
		return d.etherType(be.Uint16(b), b[20:], out, 0)
	case capture.LinkIPoIB:
		// 20-byte destination and source hardware addresses, then the
		// 4-byte encapsulation header of RFC 4391: type and reserved.
		if len(b) < 44 {
			return Truncated
		}
		return d.etherType(be.Uint16(b[40:]), b[44:], out, 0)
	case capture.LinkNFLOG:
		return d.nflog(b, out)
	case capture.LinkSynRecord:
		return d.record(b, out)
	}
	return UnsupportedLink
}

// etherType dispatches on an EtherType, peeling VLAN tags, MPLS labels and
// PPPoE session headers on the way.
func (d *Decoder) etherType(et uint16, b []byte, out *Syn, depth int) Result {
	for i := 0; et == 0x8100 || et == 0x88a8 || et == 0x9100; i++ {
		if i == maxVLANTags {
			return Malformed
		}
		if len(b) < 4 {
			return Truncated
		}
		if out.VLAN == 0 && depth == 0 { // the capture link's, not a tunnelled frame's (a review)
			out.VLAN = be.Uint16(b) & 0x0fff
		}
		et, b = be.Uint16(b[2:]), b[4:]
	}
	switch et {
	case 0x0800:
		return d.ipv4(b, out, depth)
	case 0x86dd:
		return d.ipv6(b, out, depth)
	case 0x8847, 0x8848: // MPLS unicast, multicast
		for i := 0; ; i++ {
			if i == maxMPLSLabels {
				return Malformed
			}
			if len(b) < 4 {
				return Truncated
			}
			bottom := b[2]&1 == 1
			b = b[4:]
			if bottom {
				break
			}
		}
		return d.ip(b, out, depth)
	case 0x8864: // PPPoE session: 6-byte header, then PPP
		if len(b) < 6 {
			return Truncated
		}
		return d.ppp(b[6:], out, depth)
	}
	return NotIP
}

// ppp reads a PPP header (address/control optional, protocol 1 or 2 bytes).
func (d *Decoder) ppp(b []byte, out *Syn, depth int) Result {
	if len(b) >= 2 && b[0] == 0xff && b[1] == 0x03 {
		b = b[2:]
	}
	if len(b) < 1 {
		return Truncated
	}
	proto := uint16(b[0])
	if proto&1 == 1 {
		b = b[1:]
	} else {
		if len(b) < 2 {
			return Truncated
		}
		proto, b = be.Uint16(b), b[2:]
	}
	switch proto {
	case 0x21:
		return d.ipv4(b, out, depth)
	case 0x57:
		return d.ipv6(b, out, depth)
	}
	return NotIP
}

// ip chooses IPv4 or IPv6 by the version nibble.
func (d *Decoder) ip(b []byte, out *Syn, depth int) Result {
	if len(b) < 1 {
		return Truncated
	}
	switch b[0] >> 4 {
	case 4:
		return d.ipv4(b, out, depth)
	case 6:
		return d.ipv6(b, out, depth)
	}
	return NotIP
}

func (d *Decoder) ipv4(b []byte, out *Syn, depth int) Result {
	if len(b) < 20 {
		return Truncated
	}
	if b[0]>>4 != 4 {
		return Malformed
	}
	ihl := int(b[0]&0x0f) * 4
	if ihl < 20 {
		return Malformed
	}
	if len(b) < ihl {
		return Truncated
	}
	end := len(b)
	// A total length of 0 is what TSO-offloaded packets look like when
	// captured on the sending host: trust the capture length then.
	if total := int(be.Uint16(b[2:])); total != 0 {
		if total < ihl {
			return Malformed
		}
		end = min(end, total)
	}
	if be.Uint16(b[6:])&0x1fff != 0 {
		return Fragment
	}
	r := d.transport(b[9], b[ihl:end], out, depth)
	if r == Matched && out.Tunnel == uint8(depth) {
		copy(out.Src[:4], b[12:16])
		copy(out.Dst[:4], b[16:20])
		out.TTL = b[8]
		out.IPID = uint32(be.Uint16(b[4:]))
	}
	return r
}

func (d *Decoder) ipv6(b []byte, out *Syn, depth int) Result {
	if len(b) < 40 {
		return Truncated
	}
	if b[0]>>4 != 6 {
		return Malformed
	}
	end := len(b)
	if plen := int(be.Uint16(b[4:])); plen != 0 { // 0: jumbogram or TSO
		end = min(end, 40+plen)
	}
	next, off := b[6], 40
	for i := 0; ; i++ {
		var hlen int
		switch next {
		case 0, 43, 60, 135, 139, 140: // hop-by-hop, routing, dest opts, mobility, HIP, shim6
			if end < off+8 {
				return Truncated
			}
			hlen = (int(b[off+1]) + 1) * 8
		case 44: // fragment
			if end < off+8 {
				return Truncated
			}
			if be.Uint16(b[off+2:])&0xfff8 != 0 {
				return Fragment
			}
			hlen = 8
		case 51: // authentication header
			if end < off+8 {
				return Truncated
			}
			hlen = (int(b[off+1]) + 2) * 4
		default:
			r := d.transport(next, b[off:end], out, depth)
			if r == Matched && out.Tunnel == uint8(depth) {
				out.V6 = true
				copy(out.Src[:], b[8:24])
				copy(out.Dst[:], b[24:40])
				out.TTL = b[7]
				out.IPID = be.Uint32(b) & 0x000fffff
			}
			return r
		}
		if i == maxExtHeaders {
			return Malformed
		}
		next = b[off]
		off += hlen
		if off > end {
			return Truncated
		}
	}
}

// transport dispatches on the IP protocol number: TCP, or a tunnel. An
// IPv4 packet whose TCP follows an IPsec AH header is not read (the IPv6
// walk reads through AH): the live captures' kernel filters (eBPF's and
// AF_PACKET's) take IPv4 TCP right after the IP header only, and offline
// the records must be those a live run makes of the same packets.
func (d *Decoder) transport(proto uint8, b []byte, out *Syn, depth int) Result {
	switch proto {
	case 6:
		return d.tcp(b, out)
	case 4, 41, 47:
		if depth == maxTunnels {
			return Malformed
		}
		out.Tunnel = uint8(depth + 1)
		switch proto {
		case 4:
			return d.ipv4(b, out, depth+1)
		case 41:
			return d.ipv6(b, out, depth+1)
		default:
			return d.gre(b, out, depth+1)
		}
	}
	return NotTCP
}

// gre reads a GRE header, version 0 (RFC 2784/2890) or 1 (PPTP), and
// decodes what it carries.
func (d *Decoder) gre(b []byte, out *Syn, depth int) Result {
	if len(b) < 4 {
		return Truncated
	}
	flags, proto := be.Uint16(b), be.Uint16(b[2:])
	off := 4
	switch flags & 7 {
	case 0:
		if flags&0x4000 != 0 { // source routing: obsolete, not walked
			return NotIP
		}
		if flags&0x8000 != 0 {
			off += 4
		}
		if flags&0x2000 != 0 {
			off += 4
		}
		if flags&0x1000 != 0 {
			off += 4
		}
	case 1:
		off += 4 // key: payload length and call id
		if flags&0x1000 != 0 {
			off += 4
		}
		if flags&0x0080 != 0 {
			off += 4
		}
	default:
		return Malformed
	}
	if len(b) < off {
		return Truncated
	}
	b = b[off:]
	switch proto {
	case 0x6558: // transparent Ethernet bridging
		if len(b) < 14 {
			return Truncated
		}
		return d.etherType(be.Uint16(b[12:]), b[14:], out, depth)
	case 0x880b:
		return d.ppp(b, out, depth)
	}
	return d.etherType(proto, b, out, depth)
}

// nflog walks the TLVs of a Linux NFLOG record to its payload, which is an
// IP packet of the family in the header. TLV lengths and types are in the
// capturing host's byte order, told by the type: the types are small
// numbers (NFULA_*), read the other way round they are not. The payload
// TLV's length is what the kernel logged, and a capture cut at its snap
// length (tcpdump -i nflog:N -s 96) ends inside it: the payload is then
// what was captured, as behind any other link (every SYN of such a
// capture was malformed: a review).
func (d *Decoder) nflog(b []byte, out *Syn) Result {
	if len(b) < 4 {
		return Truncated
	}
	family := b[0]
	off := 4
	for i := 0; i < maxNFLOGTLVs; i++ {
		if len(b) < off+4 {
			return Truncated
		}
		ln, typ := int(binary.LittleEndian.Uint16(b[off:])), binary.LittleEndian.Uint16(b[off+2:])&nlaTypeMask
		if typ >= nflogTypes {
			ln, typ = int(be.Uint16(b[off:])), be.Uint16(b[off+2:])&nlaTypeMask
		}
		if ln < 4 || typ >= nflogTypes {
			return Malformed
		}
		if typ == 9 { // NFULA_PAYLOAD
			p := b[off+4 : min(off+ln, len(b))]
			switch family {
			case 2: // AF_INET
				return d.ipv4(p, out, 0)
			case 10: // AF_INET6
				return d.ipv6(p, out, 0)
			}
			return d.ip(p, out, 0) // a bridge's (7) or another family's: by the version
		}
		if off+ln > len(b) {
			return Malformed // (a TLV before the payload, longer than the record: the record is bad)
		}
		off += (ln + 3) &^ 3
	}
	return Malformed
}

// nflogTypes bounds the NFULA_* attribute types (20 in Linux 6.x), with
// room for more; nlaTypeMask leaves out a type's flags (NLA_F_NESTED,
// NLA_F_NET_BYTEORDER).
const (
	nflogTypes  = 64
	nlaTypeMask = 0x3fff
)

// tcp checks flags and port first, so the common non-SYN packet costs a few
// loads; only a match pays for the options walk.
func (d *Decoder) tcp(b []byte, out *Syn) Result {
	if len(b) < 14 {
		return Truncated
	}
	flags := b[13]
	if flags&0x12 != 0x02 { // SYN set, ACK clear
		return NotSyn
	}
	if len(b) < 20 {
		return Truncated
	}
	dport := be.Uint16(b[2:])
	if !d.Ports.Contains(dport) {
		return OtherPort
	}
	doff := int(b[12]>>4) * 4
	if doff < 20 {
		return Malformed
	}
	out.SrcPort = be.Uint16(b)
	out.DstPort = dport
	out.Seq = be.Uint32(b[4:])
	out.Flags = flags
	out.Window = be.Uint16(b[14:])
	parseOptions(b[20:min(doff, len(b))], out)
	return Matched
}

// parseOptions records the option layout and the MSS and window-scale
// values. A truncated or lying option ends the walk; what was read stays.
func parseOptions(o []byte, out *Syn) {
	for i := 0; i < len(o); {
		kind := o[i]
		if int(out.NOpts) < len(out.Opts) {
			out.Opts[out.NOpts] = kind
			out.NOpts++
		}
		if kind == optEOL {
			return
		}
		if kind == optNOP {
			i++
			continue
		}
		if i+1 >= len(o) {
			return
		}
		ln := int(o[i+1])
		if ln < 2 || i+ln > len(o) {
			return
		}
		switch {
		case kind == optMSS && ln == 4:
			out.MSS = be.Uint16(o[i+2:])
		case kind == optWScale && ln == 3:
			out.WScale = o[i+2]
		}
		i += ln
	}
}
