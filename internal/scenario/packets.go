package scenario

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net/netip"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// Protocols of a pktSpec (IP protocol numbers, and one pseudo value for ARP).
const (
	protoICMP uint8 = 1
	protoTCP  uint8 = 6
	protoUDP  uint8 = 17
	protoARP  uint8 = 255
)

// TCP flag bits, in wire order.
const (
	flagFIN uint8 = 1 << iota
	flagSYN
	flagRST
	flagPSH
	flagACK
	flagURG
	flagECE
	flagCWR
)

// origin says which part of the generator produced a frame (for totals
// only: the truth counts never look at it).
type origin uint8

const (
	originScan origin = iota
	originRetransmit
	originFlood
	originBackground
)

// optLayout is a TCP SYN option layout.
type optLayout uint8

const (
	optNone  optLayout = iota
	optXP              // Windows XP: MSS, NOP, NOP, SACK-permitted
	optVista           // Windows Vista/2008: MSS, NOP, WS, NOP, NOP, SACK-permitted
	optLinux           // Linux: MSS, SACK-permitted, timestamps, NOP, WS
)

// pktSpec is everything needed to serialise one frame; the tracker reads
// the same fields, so the truth describes exactly what is written.
type pktSpec struct {
	ts       int64
	origin   origin
	outbound bool // from one of "our" hosts (MACs swap sides)
	v6       bool
	proto    uint8
	src, dst netip.Addr
	sport    uint16
	dport    uint16
	flags    uint8
	seq, ack uint32
	window   uint16
	opts     optLayout
	mss      uint16
	wscale   uint8
	tsval    uint32
	payload  int    // payload bytes after the transport header
	ttl      uint8  // TTL or hop limit
	ipid     uint16 // IPv4 identification
	flow     uint32 // IPv6 flow label
	df       bool
	fragOff  uint16 // IPv4 fragment offset in 8-byte units; non-zero = non-first fragment
	icmpID   uint16
	vlan     uint16 // 802.1Q VLAN id of the (inner) tag; 0 = untagged
	outer    uint16 // 802.1ad service VLAN id (QinQ); 0 = single tag
}

var routerMAC = [6]byte{0x02, 0x00, 0x00, 0x00, 0x00, 0x01}

func hostMAC(a netip.Addr) [6]byte {
	b := a.As16()
	return [6]byte{0x02, 0x00, b[12], b[13], b[14], b[15]}
}

// builder serialises pktSpecs with gopacket layers, reusing its buffers.
type builder struct {
	buf     gopacket.SerializeBuffer
	sopts   gopacket.SerializeOptions
	eth     layers.Ethernet
	outer   layers.Dot1Q
	inner   layers.Dot1Q
	ip4     layers.IPv4
	ip6     layers.IPv6
	tcp     layers.TCP
	udp     layers.UDP
	icmp    layers.ICMPv4
	arp     layers.ARP
	stack   []gopacket.SerializableLayer
	tcpOpts []layers.TCPOption
	srcMAC  [6]byte
	dstMAC  [6]byte
	src     [16]byte
	dst     [16]byte
	optData [16]byte
	fake    [20]byte // TCP-looking bytes carried by non-first fragments
	table   []byte   // payload bytes: a fixed pseudo-random table
}

func newBuilder() *builder {
	b := &builder{
		buf:     gopacket.NewSerializeBuffer(),
		sopts:   gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
		stack:   make([]gopacket.SerializableLayer, 0, 8),
		tcpOpts: make([]layers.TCPOption, 0, 8),
		table:   make([]byte, 4096),
	}
	r := rand.New(rand.NewPCG(0x5eed, 0x7ab1e))
	for i := range b.table {
		// Mostly text-like bytes with runs of zeros, like SMB/HTTP payloads.
		if i%64 < 16 {
			b.table[i] = 0
		} else {
			b.table[i] = byte(0x20 + r.IntN(0x5f))
		}
	}
	return b
}

// build returns the serialised frame; it is valid until the next call.
func (b *builder) build(p *pktSpec) ([]byte, error) {
	b.stack = b.stack[:0]
	if p.outbound {
		b.srcMAC, b.dstMAC = hostMAC(p.src), routerMAC
	} else {
		b.srcMAC, b.dstMAC = routerMAC, hostMAC(p.dst)
	}
	b.eth = layers.Ethernet{SrcMAC: b.srcMAC[:], DstMAC: b.dstMAC[:]}
	b.stack = append(b.stack, &b.eth)

	var l3 layers.EthernetType
	switch {
	case p.proto == protoARP:
		l3 = layers.EthernetTypeARP
	case p.v6:
		l3 = layers.EthernetTypeIPv6
	default:
		l3 = layers.EthernetTypeIPv4
	}
	switch {
	case p.outer != 0:
		b.eth.EthernetType = layers.EthernetTypeQinQ
		b.outer = layers.Dot1Q{VLANIdentifier: p.outer, Type: layers.EthernetTypeDot1Q}
		b.inner = layers.Dot1Q{VLANIdentifier: p.vlan, Type: l3}
		b.stack = append(b.stack, &b.outer, &b.inner)
	case p.vlan != 0:
		b.eth.EthernetType = layers.EthernetTypeDot1Q
		b.inner = layers.Dot1Q{VLANIdentifier: p.vlan, Type: l3}
		b.stack = append(b.stack, &b.inner)
	default:
		b.eth.EthernetType = l3
	}

	if p.proto == protoARP {
		b.src, b.dst = p.src.As16(), p.dst.As16()
		b.arp = layers.ARP{
			AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4,
			HwAddressSize: 6, ProtAddressSize: 4, Operation: layers.ARPRequest,
			SourceHwAddress: b.srcMAC[:], SourceProtAddress: b.src[12:16],
			DstHwAddress: make([]byte, 6), DstProtAddress: b.dst[12:16],
		}
		b.eth.DstMAC = []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
		b.stack = append(b.stack, &b.arp)
		return b.serialize()
	}

	var netLayer gopacket.NetworkLayer
	if p.v6 {
		b.src, b.dst = p.src.As16(), p.dst.As16()
		b.ip6 = layers.IPv6{
			Version: 6, FlowLabel: p.flow & 0xfffff, NextHeader: layers.IPProtocol(p.proto),
			HopLimit: p.ttl, SrcIP: b.src[:], DstIP: b.dst[:],
		}
		netLayer = &b.ip6
		b.stack = append(b.stack, &b.ip6)
	} else {
		b.src, b.dst = p.src.As16(), p.dst.As16()
		b.ip4 = layers.IPv4{
			Version: 4, Id: p.ipid, TTL: p.ttl, Protocol: layers.IPProtocol(p.proto),
			FragOffset: p.fragOff, SrcIP: b.src[12:16], DstIP: b.dst[12:16],
		}
		if p.df {
			b.ip4.Flags = layers.IPv4DontFragment
		}
		netLayer = &b.ip4
		b.stack = append(b.stack, &b.ip4)
		if p.fragOff != 0 {
			// A non-first fragment: its bytes look like a TCP SYN to the
			// destination port, but there is no transport header here.
			f := b.fake[:]
			binary.BigEndian.PutUint16(f[0:], p.sport)
			binary.BigEndian.PutUint16(f[2:], p.dport)
			binary.BigEndian.PutUint32(f[4:], p.seq)
			binary.BigEndian.PutUint32(f[8:], 0)
			f[12], f[13] = 5<<4, flagSYN
			binary.BigEndian.PutUint16(f[14:], p.window)
			f[16], f[17], f[18], f[19] = 0, 0, 0, 0
			b.stack = append(b.stack, gopacket.Payload(append(f, b.payloadBytes(p)...)))
			return b.serialize()
		}
	}

	switch p.proto {
	case protoTCP:
		b.tcp = layers.TCP{
			SrcPort: layers.TCPPort(p.sport), DstPort: layers.TCPPort(p.dport),
			Seq: p.seq, Ack: p.ack, Window: p.window,
			FIN: p.flags&flagFIN != 0, SYN: p.flags&flagSYN != 0, RST: p.flags&flagRST != 0,
			PSH: p.flags&flagPSH != 0, ACK: p.flags&flagACK != 0, URG: p.flags&flagURG != 0,
			ECE: p.flags&flagECE != 0, CWR: p.flags&flagCWR != 0,
			Options: b.options(p),
		}
		if err := b.tcp.SetNetworkLayerForChecksum(netLayer); err != nil {
			return nil, err
		}
		b.stack = append(b.stack, &b.tcp)
	case protoUDP:
		b.udp = layers.UDP{SrcPort: layers.UDPPort(p.sport), DstPort: layers.UDPPort(p.dport)}
		if err := b.udp.SetNetworkLayerForChecksum(netLayer); err != nil {
			return nil, err
		}
		b.stack = append(b.stack, &b.udp)
	case protoICMP:
		b.icmp = layers.ICMPv4{
			TypeCode: layers.CreateICMPv4TypeCode(layers.ICMPv4TypeEchoRequest, 0),
			Id:       p.icmpID, Seq: uint16(p.seq),
		}
		b.stack = append(b.stack, &b.icmp)
	default:
		return nil, fmt.Errorf("scenario: cannot build protocol %d", p.proto)
	}
	if p.payload > 0 {
		b.stack = append(b.stack, gopacket.Payload(b.payloadBytes(p)))
	}
	return b.serialize()
}

func (b *builder) payloadBytes(p *pktSpec) []byte {
	n := min(p.payload, len(b.table))
	off := int(p.seq % uint32(len(b.table)-n+1))
	return b.table[off : off+n]
}

func (b *builder) serialize() ([]byte, error) {
	if err := gopacket.SerializeLayers(b.buf, b.sopts, b.stack...); err != nil {
		return nil, err
	}
	return b.buf.Bytes(), nil
}

// options lays out the SYN options of p's profile.
func (b *builder) options(p *pktSpec) []layers.TCPOption {
	o := b.tcpOpts[:0]
	d := b.optData[:]
	binary.BigEndian.PutUint16(d[0:2], p.mss)
	d[2] = p.wscale
	binary.BigEndian.PutUint32(d[4:8], p.tsval)
	binary.BigEndian.PutUint32(d[8:12], 0)
	mss := layers.TCPOption{OptionType: layers.TCPOptionKindMSS, OptionData: d[0:2]}
	nop := layers.TCPOption{OptionType: layers.TCPOptionKindNop}
	sack := layers.TCPOption{OptionType: layers.TCPOptionKindSACKPermitted}
	ws := layers.TCPOption{OptionType: layers.TCPOptionKindWindowScale, OptionData: d[2:3]}
	ts := layers.TCPOption{OptionType: layers.TCPOptionKindTimestamps, OptionData: d[4:12]}
	switch p.opts {
	case optXP:
		o = append(o, mss, nop, nop, sack)
	case optVista:
		o = append(o, mss, nop, ws, nop, nop, sack)
	case optLinux:
		o = append(o, mss, sack, ts, nop, ws)
	default:
		return nil
	}
	b.tcpOpts = o
	return o
}
