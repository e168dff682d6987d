// Package captest is test support for the capture backends and the sensor's
// end-to-end tests. Only _test.go files import it; no product code may. It
// may import the stages its checks are written against (capture,
// capture/pcapfile, decode, ports) but must not import a backend (afpacket,
// bpfcap), the pipeline, the engine or cmd, so every backend's tests can use
// it without an import running back up the flow. It owns:
//   - frames.go builds Ethernet frames byte by byte and holds one corpus of
//     frames that bpfcap's BPF_PROG_TEST_RUN tests and afpacket's
//     classic-BPF filter tests both run, so the kernel filters and
//     pkg/decode are held to the same cases;
//   - syns.go collects the SYNs a source yields (live or from a file) as a
//     multiset and compares two such sets;
//   - netns.go makes network namespaces joined by a veth pair, runs tools
//     inside them, and applies the rule that privileged tests skip locally
//     but fail under CI=true;
//   - holder.go runs the test binary again as a child that keeps a source
//     open until it is killed, for what must hold after a crash.
package captest

import (
	"encoding/binary"
	"math/rand/v2"
)

// Ports is the watched set the corpus is written for.
const Ports = "139,445,8000-8100"

var be = binary.BigEndian

// Tag is one 802.1Q/802.1ad tag.
type Tag struct {
	TPID uint16 // 0x8100, 0x88a8 or 0x9100
	TCI  uint16 // priority, DEI and VLAN id
}

// Ether builds an Ethernet II frame with the given tags, EtherType and
// payload.
func Ether(tags []Tag, et uint16, payload []byte) []byte {
	b := []byte{0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1}
	for _, t := range tags {
		b = be.AppendUint16(b, t.TPID)
		b = be.AppendUint16(b, t.TCI)
	}
	b = be.AppendUint16(b, et)
	return append(b, payload...)
}

// V4 is an IPv4 header.
type V4 struct {
	Src, Dst [4]byte
	TTL      uint8
	ID       uint16
	Proto    uint8
	Frag     uint16 // flags and fragment offset field
	Options  []byte // padded to 4 bytes with EOL
	TotalLen int    // -1: computed; otherwise written as is (0: TSO)
	Version  uint8  // 0: 4
}

// IPv4 builds an IPv4 packet.
func IPv4(h V4, payload []byte) []byte {
	opts := pad4(h.Options)
	ihl := 20 + len(opts)
	ver := h.Version
	if ver == 0 {
		ver = 4
	}
	b := []byte{ver<<4 | uint8(ihl/4), 0}
	total := h.TotalLen
	if total < 0 {
		total = ihl + len(payload)
	}
	b = be.AppendUint16(b, uint16(total))
	b = be.AppendUint16(b, h.ID)
	b = be.AppendUint16(b, h.Frag)
	b = append(b, h.TTL, h.Proto, 0, 0)
	b = append(b, h.Src[:]...)
	b = append(b, h.Dst[:]...)
	b = append(b, opts...)
	return append(b, payload...)
}

// V6 is an IPv6 header.
type V6 struct {
	Src, Dst   [16]byte
	Hop        uint8
	Flow       uint32
	Next       uint8
	PayloadLen int // -1: computed; otherwise as is (0: jumbogram/TSO)
}

// IPv6 builds an IPv6 packet; payload includes any extension headers.
func IPv6(h V6, payload []byte) []byte {
	b := be.AppendUint32(nil, 6<<28|h.Flow&0xfffff)
	pl := h.PayloadLen
	if pl < 0 {
		pl = len(payload)
	}
	b = be.AppendUint16(b, uint16(pl))
	b = append(b, h.Next, h.Hop)
	b = append(b, h.Src[:]...)
	b = append(b, h.Dst[:]...)
	return append(b, payload...)
}

// ExtOpts is a hop-by-hop, routing or destination-options style header
// (kind 0, 43, 60, ...) of (units+1)*8 bytes.
func ExtOpts(next uint8, units uint8) []byte {
	b := make([]byte, (int(units)+1)*8)
	b[0], b[1] = next, units
	if len(b) > 2 {
		b[2] = 1 // PadN option covering the rest
		b[3] = byte(len(b) - 4)
	}
	return b
}

// ExtFrag is an IPv6 fragment header; offset in 8-byte units.
func ExtFrag(next uint8, offset uint16, more bool) []byte {
	f := offset << 3
	if more {
		f |= 1
	}
	b := []byte{next, 0}
	b = be.AppendUint16(b, f)
	return be.AppendUint32(b, 0xdeadbeef)
}

// ExtAH is an authentication header with a 12-byte ICV: (4+2)*4 bytes.
func ExtAH(next uint8) []byte {
	b := []byte{next, 4, 0, 0}
	b = be.AppendUint32(b, 0x100) // SPI
	b = be.AppendUint32(b, 1)     // sequence
	return append(b, make([]byte, 12)...)
}

// TCP flags.
const (
	FIN = 0x01
	SYN = 0x02
	RST = 0x04
	PSH = 0x08
	ACK = 0x10
	URG = 0x20
	ECE = 0x40
	CWR = 0x80
)

// T is a TCP header.
type T struct {
	SrcPort, DstPort uint16
	Seq, Ack         uint32
	Flags            uint8
	Window           uint16
	Options          []byte // padded to 4 bytes with EOL unless DataOff is set
	DataOff          int    // header length in bytes written in the header; 0: computed
}

// TCP builds a TCP segment without payload (checksum left 0: the code
// under test never checks it).
func TCP(h T) []byte {
	opts := h.Options
	doff := h.DataOff
	if doff == 0 {
		opts = pad4(opts)
		doff = 20 + len(opts)
	}
	b := be.AppendUint16(nil, h.SrcPort)
	b = be.AppendUint16(b, h.DstPort)
	b = be.AppendUint32(b, h.Seq)
	b = be.AppendUint32(b, h.Ack)
	b = append(b, uint8(doff/4)<<4, h.Flags)
	b = be.AppendUint16(b, h.Window)
	b = append(b, 0, 0, 0, 0) // checksum, urgent pointer
	return append(b, opts...)
}

func pad4(o []byte) []byte {
	o = append([]byte(nil), o...)
	for len(o)%4 != 0 {
		o = append(o, 0)
	}
	return o
}

// Option layouts seen in the wild.
var (
	// Windows: mss,nop,ws,nop,nop,sok
	OptsWindows = []byte{2, 4, 0x05, 0xb4, 1, 3, 3, 8, 1, 1, 4, 2}
	// Linux: mss,sok,ts,nop,ws
	OptsLinux = []byte{2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7}
)

// Addresses used by the corpus.
var (
	Src4 = [4]byte{203, 0, 113, 7}
	Dst4 = [4]byte{198, 18, 0, 10}
	Src6 = [16]byte{0x20, 0x01, 0x0d, 0xb8, 15: 7}
	Dst6 = [16]byte{0x20, 0x01, 0x0d, 0xb8, 0, 1, 15: 0x10}
)

// Frame is one corpus entry.
type Frame struct {
	Name string
	Data []byte
	// DecoderOnly: the user-space decoder walks this encapsulation
	// (tunnels, MPLS, PPPoE) but the kernel filters do not.
	DecoderOnly bool
	// BeyondCBPF: more than one VLAN tag or IPv6 extension header, which
	// the AF_PACKET classic-BPF filter does not walk.
	BeyondCBPF bool
}

// V4SYN is an Ethernet/IPv4 SYN with the given TCP header.
func V4SYN(t T) []byte {
	return Ether(nil, 0x0800, IPv4(V4{Src: Src4, Dst: Dst4, TTL: 113, ID: 0x1234, Proto: 6, TotalLen: -1}, TCP(t)))
}

// V6SYN is an Ethernet/IPv6 SYN behind the given extension headers; next
// is the first header's type.
func V6SYN(next uint8, exts []byte, t T) []byte {
	return Ether(nil, 0x86dd, IPv6(V6{Src: Src6, Dst: Dst6, Hop: 57, Flow: 0xabcde, Next: next, PayloadLen: -1}, append(exts, TCP(t)...)))
}

// Syn445 is the usual probe: Windows options to 445.
func Syn445() T {
	return T{SrcPort: 1060, DstPort: 445, Seq: 0x61e3a839, Flags: SYN, Window: 64240, Options: OptsWindows}
}

func chain(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

// Corpus is the shared list of frames: what a SYN looks like in every
// encapsulation the kernel filters handle, what must not match, and the
// edges (lengths, option walks, header counts).
func Corpus() []Frame {
	syn := Syn445()
	with := func(f func(*T)) T { t := Syn445(); f(&t); return t }
	v4 := func(h V4, t T) []byte { return Ether(nil, 0x0800, IPv4(h, TCP(t))) }
	base4 := V4{Src: Src4, Dst: Dst4, TTL: 113, ID: 0x1234, Proto: 6, TotalLen: -1}
	h4 := func(f func(*V4)) V4 { h := base4; f(&h); return h }
	tagged := func(tags []Tag, t T) []byte {
		return Ether(tags, 0x0800, IPv4(base4, TCP(t)))
	}
	tags := func(n int) []Tag {
		var ts []Tag
		for i := range n {
			ts = append(ts, Tag{0x8100, uint16(10 + i)})
		}
		return ts
	}
	exts := func(n int) []byte {
		var b []byte
		for i := range n {
			next := uint8(60)
			if i == n-1 {
				next = 6
			}
			b = append(b, ExtOpts(next, 0)...)
		}
		return b
	}
	manyNops := append(bytesOf(1, 14), OptsWindows...) // 20 kinds: more than a record holds

	fs := []Frame{
		{Name: "v4 syn windows opts", Data: V4SYN(syn)},
		{Name: "v4 syn linux opts", Data: V4SYN(with(func(t *T) { t.Options = OptsLinux }))},
		{Name: "v4 syn no opts", Data: V4SYN(with(func(t *T) { t.Options = nil }))},
		{Name: "v4 syn ecn", Data: V4SYN(with(func(t *T) { t.Flags = SYN | ECE | CWR }))},
		{Name: "v4 syn fin psh urg", Data: V4SYN(with(func(t *T) { t.Flags = SYN | FIN | PSH | URG }))},
		{Name: "v4 syn-ack", Data: V4SYN(with(func(t *T) { t.Flags = SYN | ACK }))},
		{Name: "v4 rst", Data: V4SYN(with(func(t *T) { t.Flags = RST }))},
		{Name: "v4 ack", Data: V4SYN(with(func(t *T) { t.Flags = ACK }))},
		{Name: "v4 syn port 80", Data: V4SYN(with(func(t *T) { t.DstPort = 80 }))},
		{Name: "v4 syn port 139", Data: V4SYN(with(func(t *T) { t.DstPort = 139 }))},
		{Name: "v4 syn port 8000", Data: V4SYN(with(func(t *T) { t.DstPort = 8000 }))},
		{Name: "v4 syn port 8100", Data: V4SYN(with(func(t *T) { t.DstPort = 8100 }))},
		{Name: "v4 syn port 8101", Data: V4SYN(with(func(t *T) { t.DstPort = 8101 }))},
		{Name: "v4 syn port 0", Data: V4SYN(with(func(t *T) { t.DstPort = 0 }))},
		{Name: "v4 syn port 65535", Data: V4SYN(with(func(t *T) { t.DstPort = 65535 }))},
		{Name: "v4 ip options", Data: v4(h4(func(h *V4) { h.Options = []byte{1, 1, 1, 0x94, 4, 0, 0} }), syn)},
		{Name: "v4 ip options max", Data: v4(h4(func(h *V4) { h.Options = make([]byte, 40) }), syn)},
		{Name: "v4 first fragment", Data: v4(h4(func(h *V4) { h.Frag = 0x2000 }), syn)},
		{Name: "v4 dont fragment", Data: v4(h4(func(h *V4) { h.Frag = 0x4000 }), syn)},
		{Name: "v4 non-first fragment", Data: v4(h4(func(h *V4) { h.Frag = 0x2001 }), syn)},
		{Name: "v4 last fragment", Data: v4(h4(func(h *V4) { h.Frag = 0x00b9 }), syn)},
		{Name: "v4 total length 0 (tso)", Data: v4(h4(func(h *V4) { h.TotalLen = 0 }), syn)},
		{Name: "v4 total length cuts options", Data: v4(h4(func(h *V4) { h.TotalLen = 20 + 20 + 5 }), syn)},
		{Name: "v4 total length cuts tcp", Data: v4(h4(func(h *V4) { h.TotalLen = 20 + 19 }), syn)},
		{Name: "v4 total length below ihl", Data: v4(h4(func(h *V4) { h.TotalLen = 19 }), syn)},
		{Name: "v4 ethernet padding", Data: append(V4SYN(with(func(t *T) { t.Options = nil })), 0, 0, 0, 0, 0, 0)},
		{Name: "v4 padding after options", Data: append(V4SYN(syn), 2, 4, 0xff, 0xff, 3, 3, 9)},
		{Name: "v4 bad version", Data: v4(h4(func(h *V4) { h.Version = 5 }), syn)},
		{Name: "v4 ihl 4", Data: func() []byte { b := V4SYN(syn); b[14] = 0x44; return b }()},
		{Name: "v4 udp", Data: v4(h4(func(h *V4) { h.Proto = 17 }), syn)},
		{Name: "v4 icmp", Data: v4(h4(func(h *V4) { h.Proto = 1 }), syn)},
		{Name: "tcp data offset 4", Data: V4SYN(with(func(t *T) { t.Options = nil; t.DataOff = 16 }))},
		{Name: "tcp data offset past frame", Data: V4SYN(with(func(t *T) { t.DataOff = 60 }))},
		{Name: "tcp options eol first", Data: V4SYN(with(func(t *T) { t.Options = []byte{0, 2, 4, 5, 0xb4} }))},
		{Name: "tcp options 14 nops", Data: V4SYN(with(func(t *T) { t.Options = manyNops }))},
		{Name: "tcp options 40 nops", Data: V4SYN(with(func(t *T) { t.Options = bytesOf(1, 40) }))},
		{Name: "tcp option length 0", Data: V4SYN(with(func(t *T) { t.Options = []byte{2, 0, 5, 0xb4} }))},
		{Name: "tcp option length 1", Data: V4SYN(with(func(t *T) { t.Options = []byte{1, 3, 1, 7} }))},
		{Name: "tcp option past end", Data: V4SYN(with(func(t *T) { t.Options = []byte{1, 1, 8, 10, 0, 0, 0, 1} }))},
		{Name: "tcp mss wrong length", Data: V4SYN(with(func(t *T) { t.Options = []byte{2, 6, 5, 0xb4, 0, 0, 3, 3, 2} }))},
		{Name: "tcp ws wrong length", Data: V4SYN(with(func(t *T) { t.Options = []byte{3, 4, 2, 0, 2, 4, 1, 0} }))},
		{Name: "tcp unknown options", Data: V4SYN(with(func(t *T) { t.Options = []byte{30, 4, 0, 0, 253, 2, 254, 6, 1, 2, 3, 4} }))},
		{Name: "vlan 1 tag", Data: tagged([]Tag{{0x8100, 42}}, syn)},
		{Name: "vlan qinq", Data: tagged([]Tag{{0x88a8, 100}, {0x8100, 200}}, syn), BeyondCBPF: true},
		{Name: "vlan 9100 outer", Data: tagged([]Tag{{0x9100, 0x2000 | 7}, {0x8100, 8}}, syn), BeyondCBPF: true},
		{Name: "vlan priority tag then id", Data: tagged([]Tag{{0x8100, 0x6000}, {0x8100, 77}}, syn), BeyondCBPF: true},
		{Name: "vlan 4 tags", Data: tagged(tags(4), syn), BeyondCBPF: true},
		{Name: "vlan 5 tags", Data: tagged(tags(5), syn), BeyondCBPF: true},
		{Name: "vlan 1 tag syn-ack", Data: tagged([]Tag{{0x8100, 42}}, with(func(t *T) { t.Flags = SYN | ACK }))},
		{Name: "vlan 1 tag ipv6", Data: Ether([]Tag{{0x8100, 43}}, 0x86dd, IPv6(V6{Src: Src6, Dst: Dst6, Hop: 64, Next: 6, PayloadLen: -1}, TCP(syn)))},
		{Name: "v6 syn", Data: V6SYN(6, nil, syn)},
		{Name: "v6 syn port 80", Data: V6SYN(6, nil, with(func(t *T) { t.DstPort = 80 }))},
		{Name: "v6 syn-ack", Data: V6SYN(6, nil, with(func(t *T) { t.Flags = SYN | ACK }))},
		{Name: "v6 hop-by-hop", Data: V6SYN(0, ExtOpts(6, 0), syn)},
		{Name: "v6 hop-by-hop long", Data: V6SYN(0, ExtOpts(6, 3), syn)},
		{Name: "v6 dest opts", Data: V6SYN(60, ExtOpts(6, 0), syn)},
		{Name: "v6 routing", Data: V6SYN(43, ExtOpts(6, 2), syn)},
		{Name: "v6 hop dest routing", Data: V6SYN(0, chain(ExtOpts(60, 0), ExtOpts(43, 1), ExtOpts(6, 0)), syn), BeyondCBPF: true},
		{Name: "v6 first fragment", Data: V6SYN(44, ExtFrag(6, 0, true), syn)},
		{Name: "v6 non-first fragment", Data: V6SYN(44, ExtFrag(6, 10, false), syn)},
		{Name: "v6 ah", Data: V6SYN(51, ExtAH(6), syn)},
		{Name: "v6 hop ah", Data: V6SYN(0, chain(ExtOpts(51, 0), ExtAH(6)), syn), BeyondCBPF: true},
		{Name: "v6 mobility shim", Data: V6SYN(135, chain(ExtOpts(140, 0), ExtOpts(6, 0)), syn), BeyondCBPF: true},
		{Name: "v6 8 ext headers", Data: V6SYN(60, exts(8), syn), BeyondCBPF: true},
		{Name: "v6 9 ext headers", Data: V6SYN(60, exts(9), syn), BeyondCBPF: true},
		{Name: "v6 no next header", Data: V6SYN(59, nil, syn)},
		{Name: "v6 udp", Data: V6SYN(17, nil, syn)},
		{Name: "v6 payload length 0", Data: Ether(nil, 0x86dd, IPv6(V6{Src: Src6, Dst: Dst6, Hop: 64, Next: 6, PayloadLen: 0}, TCP(syn)))},
		{Name: "v6 payload length cuts tcp", Data: Ether(nil, 0x86dd, IPv6(V6{Src: Src6, Dst: Dst6, Hop: 64, Next: 6, PayloadLen: 19}, TCP(syn)))},
		{Name: "v6 payload length cuts ext", Data: Ether(nil, 0x86dd, IPv6(V6{Src: Src6, Dst: Dst6, Hop: 64, Next: 0, PayloadLen: 7}, append(ExtOpts(6, 0), TCP(syn)...)))},
		{Name: "v6 bad version", Data: func() []byte { b := V6SYN(6, nil, syn); b[14] = 0x45; return b }()},
		{Name: "arp", Data: Ether(nil, 0x0806, make([]byte, 28))},
		{Name: "lldp", Data: Ether(nil, 0x88cc, make([]byte, 40))},
		{Name: "ipv4 in ipv4", Data: Ether(nil, 0x0800, IPv4(h4(func(h *V4) { h.Proto = 4 }), IPv4(base4, TCP(syn)))), DecoderOnly: true},
		{Name: "ipv6 in ipv4", Data: Ether(nil, 0x0800, IPv4(h4(func(h *V4) { h.Proto = 41 }), IPv6(V6{Src: Src6, Dst: Dst6, Hop: 9, Next: 6, PayloadLen: -1}, TCP(syn)))), DecoderOnly: true},
		{Name: "mpls", Data: Ether(nil, 0x8847, append([]byte{0, 0x01, 0x01, 64}, IPv4(base4, TCP(syn))...)), DecoderOnly: true},
		{Name: "pppoe", Data: Ether(nil, 0x8864, append([]byte{0x11, 0, 0, 1, 0, 0, 0, 0x21}, IPv4(base4, TCP(syn))...)), DecoderOnly: true},
	}
	return fs
}

func bytesOf(v byte, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = v
	}
	return b
}

// Truncations returns every frame of the corpus that keep accepts (all of
// them if keep is nil) cut at every length from the end of the Ethernet
// header to the whole frame.
func Truncations(keep func(Frame) bool) [][]byte {
	var out [][]byte
	for _, f := range Corpus() {
		if keep != nil && !keep(f) {
			continue
		}
		for l := 14; l <= len(f.Data); l++ {
			out = append(out, f.Data[:l])
		}
	}
	return out
}

// Garbage makes n frames of random bytes, biased towards the paths that
// matter: most get an IP EtherType, many a TCP protocol number, a SYN and a
// watched port, so the random bytes land in the headers' length fields and
// option walks rather than being refused at the EtherType.
func Garbage(seed uint64, n int) [][]byte {
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	out := make([][]byte, 0, n)
	for range n {
		b := make([]byte, 14+r.IntN(160))
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		l3 := 14
		switch r.IntN(8) {
		case 0: // as is
		case 1:
			be.PutUint16(b[12:], 0x8100)
			if len(b) >= 18 {
				be.PutUint16(b[16:], 0x0800)
				l3 = 18
			}
		case 2, 3, 4:
			be.PutUint16(b[12:], 0x0800)
			if len(b) >= l3+20 {
				b[l3] = 0x40 | b[l3]&0x0f
				if r.IntN(2) == 0 {
					b[l3] = 0x45
				}
				b[l3+9] = 6
				if r.IntN(2) == 0 {
					be.PutUint16(b[l3+6:], 0)
				}
				ihl := int(b[l3]&0x0f) * 4
				setTCP(r, b, l3+ihl)
			}
		default:
			be.PutUint16(b[12:], 0x86dd)
			if len(b) >= l3+40 {
				b[l3] = 0x60 | b[l3]&0x0f
				nexts := []byte{6, 6, 0, 43, 44, 51, 60}
				b[l3+6] = nexts[r.IntN(len(nexts))]
				if b[l3+6] == 6 {
					setTCP(r, b, l3+40)
				}
			}
		}
		out = append(out, b)
	}
	return out
}

func setTCP(r *rand.Rand, b []byte, l4 int) {
	if len(b) < l4+20 {
		return
	}
	if r.IntN(4) != 0 {
		b[l4+13] = b[l4+13]&^ACK | SYN
	}
	if r.IntN(4) != 0 {
		be.PutUint16(b[l4+2:], 445)
	}
}
