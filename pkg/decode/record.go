package decode

import "encoding/binary"

// Layout of the record the eBPF program writes for each matched SYN (struct
// syn_record in bpf/synscope.c, capture.LinkSynRecord). Integers are
// little-endian (the program is built for little-endian targets only);
// addresses are network byte order, IPv4 in the first 4 bytes. The offsets
// are exported so that a test in pkg/capture/bpfcap can hold them against
// the Go struct bpf2go generates from the C: C, generated Go and this parser
// cannot drift apart unnoticed.
const (
	RecordSize         = 80
	RecordOffTs        = 0  // u64, kernel clock (bpfcap converts it to wall clock)
	RecordOffSrc       = 8  // [16]byte
	RecordOffDst       = 24 // [16]byte
	RecordOffSrcPort   = 40 // u16
	RecordOffDstPort   = 42 // u16
	RecordOffSeq       = 44 // u32
	RecordOffIPID      = 48 // u32: IPv4 identification or IPv6 flow label
	RecordOffPktLen    = 52 // u32: packet length on the wire
	RecordOffWindow    = 56 // u16
	RecordOffMSS       = 58 // u16
	RecordOffVLAN      = 60 // u16
	RecordOffTTL       = 62 // u8
	RecordOffWScale    = 63 // u8, 0xff when absent
	RecordOffFlags     = 64 // u8: TCP flags
	RecordOffIPVersion = 65 // u8: 4 or 6
	RecordOffDirection = 66 // u8: 0 ingress, 1 egress
	RecordOffNOpts     = 67 // u8: option kinds in Opts
	RecordOffOpts      = 68 // [12]u8
	RecordMaxOpts      = 12
)

// record parses the fixed-size record the eBPF program writes for each
// matched SYN. The kernel already checked everything; what is checked again
// is what a different program version or a corrupt buffer could get wrong,
// and the watched port, since the caller's set is the one that counts.
func (d *Decoder) record(b []byte, out *Syn) Result {
	if len(b) < RecordSize {
		return Truncated
	}
	if len(b) > RecordSize {
		return Malformed
	}
	b = b[:RecordSize]
	le := binary.LittleEndian
	ver, nopts := b[RecordOffIPVersion], b[RecordOffNOpts]
	if (ver != 4 && ver != 6) || b[RecordOffDirection] > 1 || nopts > RecordMaxOpts {
		return Malformed
	}
	flags := b[RecordOffFlags]
	if flags&0x12 != 0x02 {
		return NotSyn
	}
	dport := le.Uint16(b[RecordOffDstPort:])
	if !d.Ports.Contains(dport) {
		return OtherPort
	}
	if ver == 6 {
		out.V6 = true
		copy(out.Src[:], b[RecordOffSrc:RecordOffSrc+16])
		copy(out.Dst[:], b[RecordOffDst:RecordOffDst+16])
	} else {
		copy(out.Src[:4], b[RecordOffSrc:RecordOffSrc+4])
		copy(out.Dst[:4], b[RecordOffDst:RecordOffDst+4])
	}
	out.SrcPort = le.Uint16(b[RecordOffSrcPort:])
	out.DstPort = dport
	out.Seq = le.Uint32(b[RecordOffSeq:])
	out.IPID = le.Uint32(b[RecordOffIPID:])
	out.Window = le.Uint16(b[RecordOffWindow:])
	out.MSS = le.Uint16(b[RecordOffMSS:])
	out.VLAN = le.Uint16(b[RecordOffVLAN:])
	out.TTL = b[RecordOffTTL]
	out.WScale = b[RecordOffWScale]
	out.Flags = flags
	out.Dir = DirIngress + b[RecordOffDirection]
	out.NOpts = nopts
	copy(out.Opts[:nopts], b[RecordOffOpts:RecordOffOpts+int(nopts)])
	return Matched
}
