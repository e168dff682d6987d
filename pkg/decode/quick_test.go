package decode

import (
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/synscope/synscope/pkg/capture"
)

// agree decodes an Ethernet frame through Decode (with its quick path) and
// through full, and fails when their results differ, or their SYNs on a
// match. It reports whether the quick path answered alone: full always
// resets the SYN, so a SYN left as it was never reached it.
func agree(t *testing.T, d *Decoder, f []byte) bool {
	t.Helper()
	mark := Syn{Ts: -1, TTL: 7}
	got, want := mark, Syn{}
	r, w := d.Decode(capture.LinkEthernet, f, &got), d.full(capture.LinkEthernet, f, &want)
	if r != w {
		t.Fatalf("Decode says %v, the full walk %v, for % x", r, w, f)
	}
	if r == Matched && got != want {
		t.Fatalf("Decode's SYN %+v, the full walk's %+v, for % x", got, want, f)
	}
	return got == mark
}

// TestQuickAgreesWithFull changes every byte of the headers of frames of
// each kind the quick path answers (and a few it leaves), through values
// that matter to it, and cuts each frame at every length: Decode must
// always say what the full walk says.
func TestQuickAgreesWithFull(t *testing.T) {
	synack := synTCP(445)
	synack.ACK = true
	tagged := &layers.Dot1Q{VLANIdentifier: 7, Type: layers.EthernetTypeIPv4}
	tagged6 := &layers.Dot1Q{VLANIdentifier: 7, Type: layers.EthernetTypeIPv6}
	frames := [][]byte{
		build(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolTCP), synTCP(445)),
		build(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolTCP), synTCP(80)),
		build(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolTCP), synack),
		build(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolUDP), &layers.UDP{SrcPort: 1, DstPort: 445}, gopacket.Payload(make([]byte, 30))),
		build(t, eth(layers.EthernetTypeIPv6), ip6(layers.IPProtocolTCP), synTCP(445)),
		build(t, eth(layers.EthernetTypeIPv6), ip6(layers.IPProtocolTCP), synack),
		build(t, eth(layers.EthernetTypeDot1Q), tagged, ip4(layers.IPProtocolTCP), synTCP(445)),
		build(t, eth(layers.EthernetTypeDot1Q), tagged, ip4(layers.IPProtocolTCP), synack),
		build(t, eth(layers.EthernetTypeDot1Q), tagged6, ip6(layers.IPProtocolTCP), synTCP(139)),
		build(t, eth(layers.EthernetTypeARP), gopacket.Payload(make([]byte, 46))),
	}
	d := watched()
	values := []byte{0x00, 0x01, 0x02, 0x04, 0x05, 0x06, 0x08, 0x10, 0x12, 0x14, 0x20, 0x29, 0x2b, 0x2c, 0x2f, 0x33,
		0x3c, 0x40, 0x45, 0x46, 0x4f, 0x60, 0x81, 0x86, 0x87, 0x88, 0x91, 0xa8, 0xbd, 0xdd, 0xff}
	quick := 0
	for _, f := range frames {
		for n := range len(f) + 1 {
			if agree(t, d, f[:n]) {
				quick++
			}
		}
		for i := range min(len(f), 80) {
			for _, v := range values {
				g := append([]byte(nil), f...)
				g[i] = v
				if agree(t, d, g) {
					quick++
				}
			}
		}
	}
	if quick == 0 {
		t.Fatal("the quick path never answered")
	}
	t.Logf("%d answers from the quick path", quick)
}
