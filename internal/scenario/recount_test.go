package scenario

import (
	"compress/gzip"
	"errors"
	"io"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// synEvent is one watched SYN as decoded from a capture file.
type synEvent struct {
	ts       int64
	src, dst netip.Addr
}

// fileSummary is what recountFile reads back from a capture.
type fileSummary struct {
	packets     int64
	first, last int64
	syns        []synEvent
	vlanFrames  int64
	maxCapLen   int
	truncated   int64 // frames with CapLen < OrigLen
	decodeFails int64
	badSums     int64 // untruncated TCP segments whose checksum does not verify
}

type packetSource interface {
	ReadPacketData() ([]byte, gopacket.CaptureInfo, error)
}

// readCapture decodes every frame of path with gopacket layers and keeps the
// watched SYNs (TCP, SYN set, ACK clear, watched destination port; a
// non-first IPv4 fragment never decodes as TCP).
func readCapture(t *testing.T, path string, ports []uint16) fileSummary {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var r io.Reader = f
	if strings.HasSuffix(path, ".gz") {
		gz, err := gzip.NewReader(f)
		if err != nil {
			t.Fatal(err)
		}
		defer gz.Close()
		r = gz
	}
	var src packetSource
	if strings.Contains(path, ".pcapng") {
		ng, err := pcapgo.NewNgReader(r, pcapgo.DefaultNgReaderOptions)
		if err != nil {
			t.Fatal(err)
		}
		if ng.LinkType() != layers.LinkTypeEthernet {
			t.Fatalf("link type %v", ng.LinkType())
		}
		src = ng
	} else {
		pr, err := pcapgo.NewReader(r)
		if err != nil {
			t.Fatal(err)
		}
		if pr.LinkType() != layers.LinkTypeEthernet {
			t.Fatalf("link type %v", pr.LinkType())
		}
		src = pr
	}

	var (
		eth     layers.Ethernet
		dot1q   layers.Dot1Q
		ip4     layers.IPv4
		ip6     layers.IPv6
		tcp     layers.TCP
		udp     layers.UDP
		payload gopacket.Payload
	)
	parser := gopacket.NewDecodingLayerParser(layers.LayerTypeEthernet, &eth, &dot1q, &ip4, &ip6, &tcp, &udp, &payload)
	parser.IgnoreUnsupported = true
	var decoded []gopacket.LayerType
	var s fileSummary
	for {
		data, ci, err := src.ReadPacketData()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("%s: packet %d: %v", path, s.packets+1, err)
		}
		ts := ci.Timestamp.UnixNano()
		if s.packets == 0 {
			s.first = ts
		}
		if ts < s.last {
			t.Fatalf("%s: packet %d goes back in time", path, s.packets+1)
		}
		s.last = ts
		s.packets++
		s.maxCapLen = max(s.maxCapLen, ci.CaptureLength)
		if ci.CaptureLength < ci.Length {
			s.truncated++
		}
		if err := parser.DecodeLayers(data, &decoded); err != nil {
			s.decodeFails++
			continue
		}
		var isTCP, v4, v6, tagged bool
		for _, lt := range decoded {
			switch lt {
			case layers.LayerTypeTCP:
				isTCP = true
			case layers.LayerTypeIPv4:
				v4 = true
			case layers.LayerTypeIPv6:
				v6 = true
			case layers.LayerTypeDot1Q:
				tagged = true
			}
		}
		if tagged {
			s.vlanFrames++
		}
		if isTCP && ci.CaptureLength == ci.Length {
			if v4 {
				_ = tcp.SetNetworkLayerForChecksum(&ip4)
			} else {
				_ = tcp.SetNetworkLayerForChecksum(&ip6)
			}
			if sum, err := tcp.ComputeChecksum(); err != nil || sum != 0 {
				s.badSums++
			}
		}
		if !isTCP || !tcp.SYN || tcp.ACK || !slices.Contains(ports, uint16(tcp.DstPort)) {
			continue
		}
		var e synEvent
		e.ts = ts
		switch {
		case v4:
			if ip4.FragOffset != 0 {
				continue
			}
			e.src, _ = netip.AddrFromSlice(ip4.SrcIP.To4())
			e.dst, _ = netip.AddrFromSlice(ip4.DstIP.To4())
		case v6:
			e.src, _ = netip.AddrFromSlice(ip6.SrcIP)
			e.dst, _ = netip.AddrFromSlice(ip6.DstIP)
		default:
			t.Fatalf("TCP without IP in packet %d", s.packets)
		}
		s.syns = append(s.syns, e)
	}
	return s
}

// recWindow is a window recomputed from a file.
type recWindow struct {
	start                      int64
	syn, active, news, targets int64
	warmup                     bool
}

// recount applies the counting contract to the decoded SYNs, written
// separately from the generator's tracker: per window sets of sources,
// new sources and targets.
func recount(s fileSummary, w, l int64) []recWindow {
	if s.packets == 0 {
		return nil
	}
	fl := func(ts int64) int64 { return floorDiv(ts, w) * w }
	firstWin, lastWin := fl(s.first), fl(s.last)
	n := int((lastWin-firstWin)/w) + 1
	out := make([]recWindow, n)
	active := make([]map[netip.Addr]bool, n)
	news := make([]map[netip.Addr]bool, n)
	targets := make([]map[netip.Addr]bool, n)
	for i := range out {
		out[i].start = firstWin + int64(i)*w
		out[i].warmup = out[i].start < s.first+l
		active[i], news[i], targets[i] = map[netip.Addr]bool{}, map[netip.Addr]bool{}, map[netip.Addr]bool{}
	}
	prev := map[netip.Addr]int64{}
	for _, e := range s.syns {
		i := int((fl(e.ts) - firstWin) / w)
		out[i].syn++
		active[i][e.src] = true
		targets[i][e.dst] = true
		p, seen := prev[e.src]
		if !seen || e.ts-p > l {
			news[i][e.src] = true
		}
		prev[e.src] = e.ts
	}
	for i := range out {
		out[i].active = int64(len(active[i]))
		out[i].news = int64(len(news[i]))
		out[i].targets = int64(len(targets[i]))
	}
	return out
}

// checkTruth compares a Truth with the recount of its capture file.
func checkTruth(t *testing.T, path string, tr *Truth) fileSummary {
	t.Helper()
	s := readCapture(t, path, tr.Ports)
	if s.decodeFails > 0 {
		t.Errorf("%d frames failed to decode", s.decodeFails)
	}
	if s.badSums > 0 {
		t.Errorf("%d TCP checksums do not verify", s.badSums)
	}
	if s.packets != tr.Totals.Packets {
		t.Errorf("packets: file %d, truth %d", s.packets, tr.Totals.Packets)
	}
	if int64(len(s.syns)) != tr.Totals.SYNPackets {
		t.Errorf("watched SYNs: file %d, truth %d", len(s.syns), tr.Totals.SYNPackets)
	}
	if s.vlanFrames != tr.Totals.VLANFrames {
		t.Errorf("VLAN frames: file %d, truth %d", s.vlanFrames, tr.Totals.VLANFrames)
	}
	if s.packets > 0 && (s.first != tr.FirstPacketNS || s.last != tr.LastPacketNS) {
		t.Errorf("first/last: file %d/%d, truth %d/%d", s.first, s.last, tr.FirstPacketNS, tr.LastPacketNS)
	}
	rw := recount(s, tr.WindowNS, tr.LookbackNS)
	if len(rw) != len(tr.Windows) {
		t.Fatalf("windows: file %d, truth %d", len(rw), len(tr.Windows))
	}
	var news int64
	for i, r := range rw {
		w := tr.Windows[i]
		got := recWindow{w.StartNS, w.SYNPackets, w.ActiveSources, w.NewSources, w.DistinctTargets, w.Warmup}
		if got != r {
			t.Fatalf("window %d (%s): truth %+v, recount %+v", i, w.WindowStart, got, r)
		}
		news += r.news
	}
	if news != tr.Totals.NewSources {
		t.Errorf("new sources: recount %d, truth %d", news, tr.Totals.NewSources)
	}
	return s
}
