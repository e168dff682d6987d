package decode

import (
	"net/netip"
	"strings"
)

// Syn is the fixed-size record of one SYN. It holds no pointers, so records
// can be copied through rings and arrays without touching the garbage
// collector.
type Syn struct {
	Ts      int64    // packet time, ns since the Unix epoch (UTC)
	Src     [16]byte // source address; IPv4 in the first 4 bytes
	Dst     [16]byte // destination address; IPv4 in the first 4 bytes
	SrcPort uint16
	DstPort uint16
	Seq     uint32 // TCP sequence number
	IPID    uint32 // IPv4 identification; IPv6 flow label
	Window  uint16 // TCP window, unscaled
	MSS     uint16 // MSS option value, 0 when absent
	VLAN    uint16 // outermost 802.1Q VLAN id, 0 when untagged
	TTL     uint8  // IPv4 TTL or IPv6 hop limit
	WScale  uint8  // window-scale option value, 0xff when absent
	Flags   uint8  // TCP flags byte (CWR ECE URG ACK PSH RST SYN FIN)
	V6      bool   // addresses are IPv6
	Tunnel  uint8  // encapsulation levels peeled (0: plain)
	Dir     uint8  // DirUnknown, DirIngress or DirEgress: where a live capture saw it
	NOpts   uint8  // number of option kinds in Opts
	Opts    [12]uint8
}

// Directions a capture may know.
const (
	DirUnknown = 0 // files, AF_PACKET
	DirIngress = 1 // arriving at the interface
	DirEgress  = 2 // leaving it
)

// SrcAddr returns the source as a netip.Addr (no allocation).
func (s *Syn) SrcAddr() netip.Addr { return addr(&s.Src, s.V6) }

// DstAddr returns the destination as a netip.Addr (no allocation).
func (s *Syn) DstAddr() netip.Addr { return addr(&s.Dst, s.V6) }

func addr(b *[16]byte, v6 bool) netip.Addr {
	if v6 {
		return netip.AddrFrom16(*b)
	}
	return netip.AddrFrom4([4]byte{b[0], b[1], b[2], b[3]})
}

// TCP option kinds worth naming in a layout.
const (
	optEOL       = 0
	optNOP       = 1
	optMSS       = 2
	optWScale    = 3
	optSACKPerm  = 4
	optSACK      = 5
	optTimestamp = 8
)

// OptionLayout prints the option kinds in wire order, p0f style:
// "mss,nop,ws,nop,nop,sok". Unknown kinds print as their number. It
// allocates; call it on the control path (when a record is written).
func (s *Syn) OptionLayout() string {
	var b strings.Builder
	for i := 0; i < int(s.NOpts) && i < len(s.Opts); i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		switch k := s.Opts[i]; k {
		case optEOL:
			b.WriteString("eol")
		case optNOP:
			b.WriteString("nop")
		case optMSS:
			b.WriteString("mss")
		case optWScale:
			b.WriteString("ws")
		case optSACKPerm:
			b.WriteString("sok")
		case optSACK:
			b.WriteString("sack")
		case optTimestamp:
			b.WriteString("ts")
		default:
			var d [3]byte
			n := len(d)
			for {
				n--
				d[n] = '0' + k%10
				k /= 10
				if k == 0 {
					break
				}
			}
			b.Write(d[n:])
		}
	}
	return b.String()
}
