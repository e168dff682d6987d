package decode

import (
	"encoding/binary"
	"net"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/synscope/synscope/pkg/capture"
	"github.com/synscope/synscope/pkg/ports"
)

var (
	mac1 = net.HardwareAddr{0x02, 0, 0, 0, 0, 1}
	mac2 = net.HardwareAddr{0x02, 0, 0, 0, 0, 2}
	src4 = net.IP{203, 0, 113, 7}
	dst4 = net.IP{198, 18, 0, 10}
	src6 = net.ParseIP("2001:db8::7")
	dst6 = net.ParseIP("2001:db8:1::10")
)

func watched() *Decoder {
	p, _ := ports.Parse("139,445")
	return &Decoder{Ports: p}
}

// synTCP is a Windows-XP-like SYN to port.
func synTCP(port uint16) *layers.TCP {
	return &layers.TCP{
		SrcPort: 1060, DstPort: layers.TCPPort(port), Seq: 0x61e3a839, SYN: true, Window: 64240,
		Options: []layers.TCPOption{
			{OptionType: layers.TCPOptionKindMSS, OptionLength: 4, OptionData: []byte{0x05, 0xb4}},
			{OptionType: layers.TCPOptionKindNop},
			{OptionType: layers.TCPOptionKindWindowScale, OptionLength: 3, OptionData: []byte{2}},
			{OptionType: layers.TCPOptionKindNop},
			{OptionType: layers.TCPOptionKindNop},
			{OptionType: layers.TCPOptionKindSACKPermitted, OptionLength: 2},
		},
	}
}

func ip4(proto layers.IPProtocol) *layers.IPv4 {
	return &layers.IPv4{Version: 4, IHL: 5, TTL: 113, Id: 0x1234, Protocol: proto, SrcIP: src4, DstIP: dst4}
}

func ip6(next layers.IPProtocol) *layers.IPv6 {
	return &layers.IPv6{Version: 6, HopLimit: 57, FlowLabel: 0xabcde, NextHeader: next, SrcIP: src6, DstIP: dst6}
}

func eth(t layers.EthernetType) *layers.Ethernet {
	return &layers.Ethernet{SrcMAC: mac1, DstMAC: mac2, EthernetType: t}
}

// build serialises layers, wiring checksums to the IP layer when there is one.
func build(t testing.TB, ls ...gopacket.SerializableLayer) []byte {
	t.Helper()
	var nl gopacket.NetworkLayer = ip4(layers.IPProtocolTCP) // for a bare TCP header
	for _, l := range ls {
		switch x := l.(type) {
		case gopacket.NetworkLayer:
			nl = x
		case *layers.TCP:
			_ = x.SetNetworkLayerForChecksum(nl)
		case *layers.UDP:
			_ = x.SetNetworkLayerForChecksum(nl)
		}
	}
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
		t.Fatalf("serialise: %v", err)
	}
	return append([]byte(nil), buf.Bytes()...)
}

func TestDecodeEthernetIPv4SYN(t *testing.T) {
	frame := build(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolTCP), synTCP(445))
	var s Syn
	if r := watched().Decode(capture.LinkEthernet, frame, &s); r != Matched {
		t.Fatalf("result %v, want matched", r)
	}
	if got := s.SrcAddr().String(); got != "203.0.113.7" {
		t.Errorf("src %s", got)
	}
	if got := s.DstAddr().String(); got != "198.18.0.10" {
		t.Errorf("dst %s", got)
	}
	if s.SrcPort != 1060 || s.DstPort != 445 || s.Seq != 0x61e3a839 || s.Window != 64240 ||
		s.TTL != 113 || s.IPID != 0x1234 || s.MSS != 1460 || s.WScale != 2 || s.V6 || s.VLAN != 0 || s.Flags != 0x02 {
		t.Errorf("fields wrong: %+v", s)
	}
	if got := s.OptionLayout(); got != "mss,nop,ws,nop,nop,sok" {
		t.Errorf("option layout %q", got)
	}
}

func TestDecodeResults(t *testing.T) {
	synack := synTCP(445)
	synack.ACK = true
	rst := synTCP(445)
	rst.SYN, rst.RST = false, true
	ecn := synTCP(445)
	ecn.ECE, ecn.CWR = true, true
	hop := &layers.IPv6HopByHop{}
	hop.NextHeader = layers.IPProtocolIPv6Destination
	hop.Options = []*layers.IPv6HopByHopOption{{OptionType: 1, OptionLength: 4, OptionData: []byte{0, 0, 0, 0}}}
	dest := &layers.IPv6Destination{}
	dest.NextHeader = layers.IPProtocolTCP
	dest.Options = []*layers.IPv6DestinationOption{{OptionType: 1, OptionLength: 4, OptionData: []byte{0, 0, 0, 0}}}
	opts4 := ip4(layers.IPProtocolTCP)
	opts4.Options = []layers.IPv4Option{{OptionType: 1}, {OptionType: 1}, {OptionType: 1}, {OptionType: 0}}
	v6 := ip6(layers.IPProtocolTCP)
	v6hop := ip6(layers.IPProtocolIPv6HopByHop)

	cases := []struct {
		name string
		link capture.LinkType
		b    []byte
		want Result
	}{
		{"syn-ack", capture.LinkEthernet, build(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolTCP), synack), NotSyn},
		{"rst", capture.LinkEthernet, build(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolTCP), rst), NotSyn},
		{"syn with ECE and CWR", capture.LinkEthernet, build(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolTCP), ecn), Matched},
		{"other port", capture.LinkEthernet, build(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolTCP), synTCP(80)), OtherPort},
		{"second watched port", capture.LinkEthernet, build(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolTCP), synTCP(139)), Matched},
		{"udp", capture.LinkEthernet, build(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolUDP), &layers.UDP{SrcPort: 1, DstPort: 445}), NotTCP},
		{"arp", capture.LinkEthernet, build(t, eth(layers.EthernetTypeARP), gopacket.Payload(make([]byte, 28))), NotIP},
		{"ipv4 options", capture.LinkEthernet, build(t, eth(layers.EthernetTypeIPv4), opts4, synTCP(445)), Matched},
		{"ipv6", capture.LinkEthernet, build(t, eth(layers.EthernetTypeIPv6), v6, synTCP(445)), Matched},
		{"ipv6 extension headers", capture.LinkEthernet, build(t, eth(layers.EthernetTypeIPv6), v6hop, hop, dest, synTCP(445)), Matched},
		{"raw ipv4", capture.LinkRaw, build(t, ip4(layers.IPProtocolTCP), synTCP(445)), Matched},
		{"raw ipv6", capture.LinkRaw, build(t, ip6(layers.IPProtocolTCP), synTCP(445)), Matched},
		{"linktype ipv4", capture.LinkIPv4, build(t, ip4(layers.IPProtocolTCP), synTCP(445)), Matched},
		{"linktype ipv6", capture.LinkIPv6, build(t, ip6(layers.IPProtocolTCP), synTCP(445)), Matched},
		{"unsupported link", capture.LinkType(147), build(t, ip4(layers.IPProtocolTCP), synTCP(445)), UnsupportedLink},
		{"empty ethernet", capture.LinkEthernet, nil, Truncated},
	}
	for _, c := range cases {
		var s Syn
		if r := watched().Decode(c.link, c.b, &s); r != c.want {
			t.Errorf("%s: %v, want %v", c.name, r, c.want)
		}
	}
}

// rawSyn4 is an IPv4 SYN to 445 as bytes, for wrapping in hand-built headers.
func rawSyn4(t *testing.T) []byte { return build(t, ip4(layers.IPProtocolTCP), synTCP(445)) }
func rawSyn6(t *testing.T) []byte { return build(t, ip6(layers.IPProtocolTCP), synTCP(445)) }

func cat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func u16(v uint16) []byte { return binary.BigEndian.AppendUint16(nil, v) }

func TestDecodeEncapsulations(t *testing.T) {
	macs := cat(mac2, mac1)
	sll := cat(u16(0), u16(1), u16(6), mac1, []byte{0, 0}, u16(0x0800))
	sll2 := cat(u16(0x86dd), u16(0), []byte{0, 0, 0, 2}, u16(1), []byte{0, 6}, mac1, []byte{0, 0})
	le := func(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }
	bev := func(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }
	ipv4in := func(inner []byte, proto byte) []byte {
		outer := build(t, &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocol(proto), SrcIP: net.IP{192, 0, 2, 1}, DstIP: net.IP{192, 0, 2, 2}}, gopacket.Payload(inner))
		return outer
	}
	mpls := func(label uint32, bottom bool) []byte {
		v := label << 12
		if bottom {
			v |= 1 << 8
		}
		return bev(v | 64)
	}
	cases := []struct {
		name      string
		link      capture.LinkType
		b         []byte
		want      Result
		vlan      uint16
		v6        bool
		tunnelled uint8
	}{
		{"802.1Q", capture.LinkEthernet, cat(macs, u16(0x8100), u16(943), u16(0x0800), rawSyn4(t)), Matched, 943, false, 0},
		{"QinQ", capture.LinkEthernet, cat(macs, u16(0x88a8), u16(100), u16(0x8100), u16(200), u16(0x86dd), rawSyn6(t)), Matched, 100, true, 0},
		{"five tags", capture.LinkEthernet, cat(macs, u16(0x8100), u16(1), u16(0x8100), u16(2), u16(0x8100), u16(3), u16(0x8100), u16(4), u16(0x8100), u16(5), u16(0x0800), rawSyn4(t)), Malformed, 0, false, 0},
		{"SLL", capture.LinkLinuxSLL, cat(sll, rawSyn4(t)), Matched, 0, false, 0},
		{"SLL2", capture.LinkLinuxSLL2, cat(sll2, rawSyn6(t)), Matched, 0, true, 0},
		{"NULL little-endian", capture.LinkNull, cat(le(2), rawSyn4(t)), Matched, 0, false, 0},
		{"NULL big-endian v6", capture.LinkNull, cat(bev(30), rawSyn6(t)), Matched, 0, true, 0},
		{"LOOP", capture.LinkLoop, cat(bev(2), rawSyn4(t)), Matched, 0, false, 0},
		{"NULL other family", capture.LinkNull, cat(le(7), rawSyn4(t)), NotIP, 0, false, 0},
		{"MPLS two labels", capture.LinkEthernet, cat(macs, u16(0x8847), mpls(16, false), mpls(17, true), rawSyn4(t)), Matched, 0, false, 0},
		{"PPPoE", capture.LinkEthernet, cat(macs, u16(0x8864), []byte{0x11, 0, 0, 1}, u16(uint16(len(rawSyn4(t))+2)), u16(0x0021), rawSyn4(t)), Matched, 0, false, 0},
		{"IP in IP", capture.LinkRaw, ipv4in(rawSyn4(t), 4), Matched, 0, false, 1},
		{"6in4", capture.LinkRaw, ipv4in(rawSyn6(t), 41), Matched, 0, true, 1},
		{"GRE", capture.LinkRaw, ipv4in(cat(u16(0), u16(0x0800), rawSyn4(t)), 47), Matched, 0, false, 1},
		{"GRE with key and sequence", capture.LinkRaw, ipv4in(cat(u16(0x3000), u16(0x86dd), bev(7), bev(9), rawSyn6(t)), 47), Matched, 0, true, 1},
		{"GRE ethernet", capture.LinkRaw, ipv4in(cat(u16(0), u16(0x6558), macs, u16(0x0800), rawSyn4(t)), 47), Matched, 0, false, 1},
		{"tunnels too deep", capture.LinkRaw, ipv4in(ipv4in(ipv4in(ipv4in(rawSyn4(t), 4), 4), 4), 4), Malformed, 0, false, 0},
		{"IPoIB", capture.LinkIPoIB, cat(make([]byte, 40), u16(0x0800), u16(0), rawSyn4(t)), Matched, 0, false, 0},
		// A tag on the tunnelled frame is not the capture link's (it was
		// reported as the record's vlan, a review); a priority tag's 0 is
		// passed over for the next.
		{"GRE ethernet tagged inside", capture.LinkRaw, ipv4in(cat(u16(0), u16(0x6558), macs, u16(0x8100), u16(300), u16(0x0800), rawSyn4(t)), 47), Matched, 0, false, 1},
		{"priority tag then a VLAN", capture.LinkEthernet, cat(macs, u16(0x8100), u16(0), u16(0x8100), u16(200), u16(0x0800), rawSyn4(t)), Matched, 200, false, 0},
		// NFLOG: TLVs in the host's byte order; a capture cut at its snap
		// length ends inside the payload TLV (every SYN was malformed, a
		// review); a bridge's family carries either IP version.
		{"NFLOG little-endian", capture.LinkNFLOG, nflog(2, false, len(rawSyn4(t)), rawSyn4(t)), Matched, 0, false, 0},
		{"NFLOG big-endian v6", capture.LinkNFLOG, nflog(10, true, len(rawSyn6(t)), rawSyn6(t)), Matched, 0, true, 0},
		{"NFLOG cut at the snap length", capture.LinkNFLOG, nflog(2, false, len(rawSyn4(t))+200, rawSyn4(t)), Matched, 0, false, 0},
		{"NFLOG cut in the TCP header", capture.LinkNFLOG, nflog(2, false, 60, rawSyn4(t)[:30]), Truncated, 0, false, 0},
		{"NFLOG bridge v6", capture.LinkNFLOG, nflog(7, false, len(rawSyn6(t)), rawSyn6(t)), Matched, 0, true, 0},
		{"NFLOG a TLV before the payload longer than the record", capture.LinkNFLOG, nflog(2, false, 10, nil)[:12], Malformed, 0, false, 0},
	}
	for _, c := range cases {
		var s Syn
		r := watched().Decode(c.link, c.b, &s)
		if r != c.want {
			t.Errorf("%s: %v, want %v", c.name, r, c.want)
			continue
		}
		if r != Matched {
			continue
		}
		if s.VLAN != c.vlan || s.V6 != c.v6 || s.Tunnel != c.tunnelled || s.DstPort != 445 {
			t.Errorf("%s: vlan %d v6 %v tunnel %d port %d", c.name, s.VLAN, s.V6, s.Tunnel, s.DstPort)
		}
		// The inner packet's addresses are the ones reported.
		want := "203.0.113.7"
		if c.v6 {
			want = "2001:db8::7"
		}
		if got := s.SrcAddr().String(); got != want {
			t.Errorf("%s: src %s, want %s", c.name, got, want)
		}
	}
}

// nflog builds an NFLOG record of family: a prefix TLV, then a payload
// TLV that says it holds logged bytes and holds payload (fewer when the
// capture cut it), lengths and types in the host's byte order (bigEndian).
func nflog(family byte, bigEndian bool, logged int, payload []byte) []byte {
	var o binary.AppendByteOrder = binary.LittleEndian
	if bigEndian {
		o = binary.BigEndian
	}
	tlv := func(typ uint16, n int) []byte {
		b := o.AppendUint16(nil, uint16(4+n))
		return o.AppendUint16(b, typ)
	}
	b := []byte{family, 0, 0, 5}
	b = append(append(b, tlv(10, 5)...), 't', 'e', 's', 't', 0, 0, 0, 0) // NFULA_PREFIX, padded to 4
	return append(append(b, tlv(9, logged)...), payload...)
}

func TestDecodeFragments(t *testing.T) {
	first := ip4(layers.IPProtocolTCP)
	first.Flags = layers.IPv4MoreFragments
	later := ip4(layers.IPProtocolTCP)
	later.FragOffset = 3
	fragHdr := func(offset uint16) []byte { // next header TCP
		return cat([]byte{6, 0}, u16(offset<<3|1), []byte{0, 0, 0, 42})
	}
	v6 := ip6(layers.IPProtocolIPv6Fragment)
	tcp := build(t, synTCP(445))
	cases := []struct {
		name string
		b    []byte
		want Result
	}{
		{"ipv4 first fragment", build(t, first, synTCP(445)), Matched},
		{"ipv4 later fragment", build(t, later, synTCP(445)), Fragment},
		{"ipv6 first fragment", build(t, v6, gopacket.Payload(cat(fragHdr(0), tcp))), Matched},
		{"ipv6 later fragment", build(t, v6, gopacket.Payload(cat(fragHdr(185), tcp))), Fragment},
	}
	for _, c := range cases {
		var s Syn
		if r := watched().Decode(capture.LinkRaw, c.b, &s); r != c.want {
			t.Errorf("%s: %v, want %v", c.name, r, c.want)
		}
	}
}

func TestDecodeHostile(t *testing.T) {
	good := rawSyn4(t)
	mut := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), good...)) }
	// 9 hop-by-hop headers in a row: more than the decoder walks.
	var chain []byte
	for i := 0; i < 9; i++ {
		chain = append(chain, 0, 0, 1, 4, 0, 0, 0, 0)
	}
	loop := build(t, ip6(layers.IPProtocolIPv6HopByHop), gopacket.Payload(cat(chain, build(t, synTCP(445)))))
	cases := []struct {
		name string
		b    []byte
		want Result
	}{
		{"IHL below 5", mut(func(b []byte) []byte { b[0] = 0x44; return b }), Malformed},
		{"IHL past the end", mut(func(b []byte) []byte { b[0] = 0x4f; return b[:40] }), Truncated},
		{"total length below IHL", mut(func(b []byte) []byte { b[2], b[3] = 0, 10; return b }), Malformed},
		{"total length lies short", mut(func(b []byte) []byte { b[2], b[3] = 0, 30; return b }), Truncated},
		{"total length lies long", mut(func(b []byte) []byte { b[2], b[3] = 0xff, 0xff; return b }), Matched},
		{"TCP data offset below 5", mut(func(b []byte) []byte { b[32] = 0x40; return b }), Malformed},
		{"TCP cut before flags", good[:30], Truncated},
		{"TCP cut before window", good[:36], Truncated},
		{"TCP options cut", good[:42], Matched},
		{"wrong version", mut(func(b []byte) []byte { b[0] = 0x55; return b }), NotIP},
		{"ipv6 header loop", loop, Malformed},
		{"ipv6 truncated", rawSyn6(t)[:39], Truncated},
	}
	for _, c := range cases {
		var s Syn
		if r := watched().Decode(capture.LinkRaw, c.b, &s); r != c.want {
			t.Errorf("%s: %v, want %v", c.name, r, c.want)
		}
	}
	// A lying option length stops the walk without losing what came first.
	b := mut(func(b []byte) []byte { b[45] = 40; return b }) // the window-scale option's length
	var s Syn
	if r := watched().Decode(capture.LinkRaw, b, &s); r != Matched || s.MSS != 1460 || s.WScale != 0xff {
		t.Errorf("lying option: %v mss %d ws %d", r, s.MSS, s.WScale)
	}
}

func TestDecodeAllocatesNothing(t *testing.T) {
	d := watched()
	frames := [][]byte{
		build(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolTCP), synTCP(445)),
		build(t, eth(layers.EthernetTypeIPv6), ip6(layers.IPProtocolTCP), synTCP(445)),
		build(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolUDP), &layers.UDP{}),
	}
	var s Syn
	for _, f := range frames {
		if n := testing.AllocsPerRun(100, func() { d.Decode(capture.LinkEthernet, f, &s) }); n != 0 {
			t.Errorf("%v allocations per frame", n)
		}
	}
}

func BenchmarkDecodeSYN(b *testing.B) {
	d := watched()
	f := build(b, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolTCP), synTCP(445))
	var s Syn
	b.ReportAllocs()
	for b.Loop() {
		d.Decode(capture.LinkEthernet, f, &s)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/pkt")
}

// BenchmarkGopacketParserSYN is the peer: gopacket's DecodingLayerParser
// over preallocated layers, on the same frame.
func BenchmarkGopacketParserSYN(b *testing.B) {
	f := build(b, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolTCP), synTCP(445))
	var (
		e   layers.Ethernet
		ip  layers.IPv4
		ip6 layers.IPv6
		tcp layers.TCP
	)
	p := gopacket.NewDecodingLayerParser(layers.LayerTypeEthernet, &e, &ip, &ip6, &tcp)
	p.IgnoreUnsupported = true
	decoded := make([]gopacket.LayerType, 0, 4)
	b.ReportAllocs()
	for b.Loop() {
		_ = p.DecodeLayers(f, &decoded)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/pkt")
}
