package decode

import (
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/synscope/synscope/pkg/capture"
)

// FuzzDecode feeds arbitrary frames of every link type. The decoder must
// not panic, must claim a match only for a SYN without ACK to a watched
// port, must say what its full walk says (its quick path for Ethernet
// answers alone for common frames), and on plain Ethernet/IPv4/TCP frames
// must agree with gopacket's parser about the match and the header fields.
func FuzzDecode(f *testing.F) {
	links := []capture.LinkType{capture.LinkEthernet, capture.LinkRaw, capture.LinkNull, capture.LinkLinuxSLL,
		capture.LinkLinuxSLL2, capture.LinkNFLOG, capture.LinkIPoIB, capture.LinkIPv6, capture.LinkSynRecord}
	f.Add(uint8(0), build(f, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolTCP), synTCP(445)))
	f.Add(uint8(0), build(f, eth(layers.EthernetTypeIPv6), ip6(layers.IPProtocolTCP), synTCP(445)))
	f.Add(uint8(1), build(f, ip4(layers.IPProtocol(47)), gopacket.Payload([]byte{0, 0, 8, 0}), ip4(layers.IPProtocolTCP), synTCP(445)))
	f.Add(uint8(5), append([]byte{2, 0, 0, 0, 8, 0, 9, 0}, build(f, ip4(layers.IPProtocolTCP), synTCP(445))...))
	f.Fuzz(func(t *testing.T, li uint8, frame []byte) {
		d := watched()
		link := links[int(li)%len(links)]
		var s Syn
		r := d.Decode(link, frame, &s)
		if r >= NumResults {
			t.Fatalf("result %d out of range", r)
		}
		if r == Matched {
			if s.Flags&0x12 != 0x02 || !d.Ports.Contains(s.DstPort) {
				t.Fatalf("matched flags %#x port %d", s.Flags, s.DstPort)
			}
		}
		var full Syn
		if w := d.full(link, frame, &full); w != r || r == Matched && full != s {
			t.Fatalf("Decode says %v %+v, the full walk %v %+v", r, s, w, full)
		}
		if link != capture.LinkEthernet {
			return
		}
		var (
			e   layers.Ethernet
			ip  layers.IPv4
			tcp layers.TCP
		)
		p := gopacket.NewDecodingLayerParser(layers.LayerTypeEthernet, &e, &ip, &tcp)
		p.IgnoreUnsupported = true
		var got []gopacket.LayerType
		err := p.DecodeLayers(frame, &got)
		if err != nil || len(got) != 3 || got[2] != layers.LayerTypeTCP || p.Truncated ||
			e.EthernetType != layers.EthernetTypeIPv4 || ip.Version != 4 || ip.FragOffset != 0 || ip.IHL < 5 || int(ip.Length) < int(ip.IHL)*4 ||
			ip.Length == 0 || len(tcp.Contents) < 20 {
			return
		}
		wantMatch := tcp.SYN && !tcp.ACK && d.Ports.Contains(uint16(tcp.DstPort))
		if wantMatch != (r == Matched) {
			t.Fatalf("gopacket says SYN-to-watched=%v, decoder says %v", wantMatch, r)
		}
		if r == Matched && (s.SrcPort != uint16(tcp.SrcPort) || s.Seq != tcp.Seq || s.Window != tcp.Window ||
			s.SrcAddr().String() != ip.SrcIP.String() || s.TTL != ip.TTL) {
			t.Fatalf("fields differ from gopacket: %+v vs %v %v", s, ip.SrcIP, tcp.SrcPort)
		}
	})
}
