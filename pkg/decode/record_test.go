package decode

import (
	"encoding/binary"
	"testing"

	"github.com/gopacket/gopacket/layers"

	"github.com/synscope/synscope/pkg/capture"
)

// putRecord lays s out as the eBPF program would (struct syn_record).
func putRecord(s *Syn, ts uint64, pktLen uint32, dir uint8) []byte {
	b := make([]byte, RecordSize)
	le := binary.LittleEndian
	le.PutUint64(b[RecordOffTs:], ts)
	copy(b[RecordOffSrc:], s.Src[:])
	copy(b[RecordOffDst:], s.Dst[:])
	le.PutUint16(b[RecordOffSrcPort:], s.SrcPort)
	le.PutUint16(b[RecordOffDstPort:], s.DstPort)
	le.PutUint32(b[RecordOffSeq:], s.Seq)
	le.PutUint32(b[RecordOffIPID:], s.IPID)
	le.PutUint32(b[RecordOffPktLen:], pktLen)
	le.PutUint16(b[RecordOffWindow:], s.Window)
	le.PutUint16(b[RecordOffMSS:], s.MSS)
	le.PutUint16(b[RecordOffVLAN:], s.VLAN)
	b[RecordOffTTL] = s.TTL
	b[RecordOffWScale] = s.WScale
	b[RecordOffFlags] = s.Flags
	b[RecordOffIPVersion] = 4
	if s.V6 {
		b[RecordOffIPVersion] = 6
	}
	b[RecordOffDirection] = dir
	b[RecordOffNOpts] = s.NOpts
	copy(b[RecordOffOpts:], s.Opts[:s.NOpts])
	return b
}

// A record made from what the frame decoder found decodes to the same Syn.
func TestRecordRoundTrip(t *testing.T) {
	v4 := ip4(layers.IPProtocolTCP)
	v4.Options = []layers.IPv4Option{{OptionType: 1}, {OptionType: 1}, {OptionType: 1}, {OptionType: 0}}
	ts := synTCP(445)
	ts.Options = append(ts.Options, layers.TCPOption{OptionType: layers.TCPOptionKindTimestamps, OptionLength: 10, OptionData: make([]byte, 8)})
	frames := map[string][]byte{
		"ipv4":        build(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolTCP), synTCP(445)),
		"ipv4-opts":   build(t, eth(layers.EthernetTypeIPv4), v4, ts),
		"ipv6":        build(t, eth(layers.EthernetTypeIPv6), ip6(layers.IPProtocolTCP), synTCP(139)),
		"ipv4-vlan":   build(t, eth(layers.EthernetTypeDot1Q), &layers.Dot1Q{VLANIdentifier: 42, Type: layers.EthernetTypeIPv4}, ip4(layers.IPProtocolTCP), synTCP(445)),
		"ipv4-noopts": build(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolTCP), &layers.TCP{SrcPort: 4000, DstPort: 445, SYN: true, ECE: true, CWR: true}),
	}
	d := watched()
	for name, f := range frames {
		var want, got Syn
		if r := d.Decode(capture.LinkEthernet, f, &want); r != Matched {
			t.Fatalf("%s: frame decodes to %v", name, r)
		}
		rec := putRecord(&want, 123456789, uint32(len(f)), 1)
		if r := d.Decode(capture.LinkSynRecord, rec, &got); r != Matched {
			t.Fatalf("%s: record decodes to %v", name, r)
		}
		if got.Dir != DirEgress { // putRecord wrote direction 1: egress
			t.Errorf("%s: direction %d, want egress", name, got.Dir)
		}
		got.Dir = DirUnknown // a frame from a file has none
		if got != want {
			t.Errorf("%s: record gives\n%+v\nframe gives\n%+v", name, got, want)
		}
	}
}

// The byte layout pinned down literally, independent of putRecord.
func TestRecordLiteral(t *testing.T) {
	rec := []byte{
		0x15, 0xcd, 0x5b, 0x07, 0, 0, 0, 0, // ts
		203, 0, 113, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // src
		198, 18, 0, 10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // dst
		0x24, 0x04, // sport 1060
		0xbd, 0x01, // dport 445
		0x39, 0xa8, 0xe3, 0x61, // seq
		0x34, 0x12, 0, 0, // ip id
		66, 0, 0, 0, // pkt len
		0xf0, 0xfa, // window 64240
		0xb4, 0x05, // mss 1460
		42, 0, // vlan
		113,                                // ttl
		2,                                  // wscale
		0x02,                               // flags
		4,                                  // version
		0,                                  // direction
		6,                                  // nopts
		2, 1, 3, 1, 1, 4, 0, 0, 0, 0, 0, 0, // opts
	}
	if len(rec) != RecordSize {
		t.Fatalf("literal is %d bytes", len(rec))
	}
	var s Syn
	if r := watched().Decode(capture.LinkSynRecord, rec, &s); r != Matched {
		t.Fatalf("result %v", r)
	}
	if s.SrcAddr().String() != "203.0.113.7" || s.DstAddr().String() != "198.18.0.10" || s.SrcPort != 1060 ||
		s.DstPort != 445 || s.Seq != 0x61e3a839 || s.IPID != 0x1234 || s.Window != 64240 || s.MSS != 1460 ||
		s.VLAN != 42 || s.TTL != 113 || s.WScale != 2 || s.Flags != 2 || s.V6 || s.Ts != 0 {
		t.Errorf("fields wrong: %+v", s)
	}
	if got := s.OptionLayout(); got != "mss,nop,ws,nop,nop,sok" {
		t.Errorf("layout %q", got)
	}
}

func TestRecordRefused(t *testing.T) {
	var base Syn
	d := watched()
	frame := build(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolTCP), synTCP(445))
	if r := d.Decode(capture.LinkEthernet, frame, &base); r != Matched {
		t.Fatal(r)
	}
	good := putRecord(&base, 1, 60, 0)
	mod := func(f func(b []byte)) []byte {
		b := append([]byte(nil), good...)
		f(b)
		return b
	}
	cases := []struct {
		name string
		b    []byte
		want Result
	}{
		{"empty", nil, Truncated},
		{"short", good[:RecordSize-1], Truncated},
		{"long", append(append([]byte(nil), good...), 0), Malformed},
		{"version", mod(func(b []byte) { b[RecordOffIPVersion] = 5 }), Malformed},
		{"direction", mod(func(b []byte) { b[RecordOffDirection] = 2 }), Malformed},
		{"nopts", mod(func(b []byte) { b[RecordOffNOpts] = RecordMaxOpts + 1 }), Malformed},
		{"synack", mod(func(b []byte) { b[RecordOffFlags] = 0x12 }), NotSyn},
		{"other port", mod(func(b []byte) { binary.LittleEndian.PutUint16(b[RecordOffDstPort:], 80) }), OtherPort},
		{"max opts", mod(func(b []byte) { b[RecordOffNOpts] = RecordMaxOpts }), Matched},
	}
	for _, c := range cases {
		var s Syn
		if r := d.Decode(capture.LinkSynRecord, c.b, &s); r != c.want {
			t.Errorf("%s: %v, want %v", c.name, r, c.want)
		}
	}
}

func TestRecordAllocs(t *testing.T) {
	var s Syn
	frame := build(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolTCP), synTCP(445))
	d := watched()
	d.Decode(capture.LinkEthernet, frame, &s)
	rec := putRecord(&s, 1, 60, 0)
	if n := testing.AllocsPerRun(100, func() { d.Decode(capture.LinkSynRecord, rec, &s) }); n != 0 {
		t.Errorf("%v allocations per record", n)
	}
}

// Any bytes: no panic; a match re-encodes to the same record (the fields
// the decoder does not keep, time, length and direction, aside).
func FuzzRecord(f *testing.F) {
	var s Syn
	d := watched()
	d.Decode(capture.LinkEthernet, build(f, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolTCP), synTCP(445)), &s)
	f.Add(putRecord(&s, 1, 66, 0))
	f.Add(make([]byte, RecordSize))
	f.Fuzz(func(t *testing.T, b []byte) {
		var got Syn
		if d.Decode(capture.LinkSynRecord, b, &got) != Matched {
			return
		}
		again := putRecord(&got, binary.LittleEndian.Uint64(b), binary.LittleEndian.Uint32(b[RecordOffPktLen:]), b[RecordOffDirection])
		var back Syn
		if d.Decode(capture.LinkSynRecord, again, &back) != Matched || back != got {
			t.Fatalf("re-encoded record decodes to %+v, want %+v", back, got)
		}
	})
}
