package afpacket

import (
	"encoding/binary"
	"fmt"
	"testing"

	"golang.org/x/net/bpf"

	"github.com/synscope/synscope/internal/captest"
	"github.com/synscope/synscope/pkg/capture"
	"github.com/synscope/synscope/pkg/decode"
	"github.com/synscope/synscope/pkg/ports"
)

// The filter runs here in x/net/bpf's interpreter, which follows the
// kernel's rules (a load past the end of the frame rejects it); the live
// tests run it in the kernel.

func vm(t testing.TB, p *ports.Set) *bpf.VM {
	t.Helper()
	prog, err := Filter(p)
	if err != nil {
		t.Fatal(err)
	}
	v, err := bpf.NewVM(prog)
	if err != nil {
		t.Fatalf("filter does not load: %v", err)
	}
	if _, err := bpf.Assemble(prog); err != nil {
		t.Fatalf("filter does not assemble: %v", err)
	}
	return v
}

// inScope says whether the frame's encapsulation is one the filter walks:
// at most one tag, IPv4 carrying TCP, or IPv6 with TCP at most one
// extension header deep.
func inScope(f []byte) bool {
	be := binary.BigEndian
	if len(f) < 14 {
		return true
	}
	et, l3 := be.Uint16(f[12:]), 14
	if et == 0x8100 || et == 0x88a8 {
		if len(f) < 18 {
			return true
		}
		et, l3 = be.Uint16(f[16:]), 18
	}
	switch et {
	case 0x0800:
		return len(f) < l3+10 || f[l3+9] == 6
	case 0x86dd:
		if len(f) < l3+7 {
			return true
		}
		switch f[l3+6] {
		case 6:
			return true
		case 0, 43, 60, 51, 44:
			return len(f) < l3+41 || f[l3+40] == 6
		case 135, 139, 140: // extension headers the filter does not know
			return false
		}
		return true // not TCP: refused by both
	}
	return et != 0x8847 && et != 0x8848 && et != 0x8864 && et != 0x8100 && et != 0x88a8 && et != 0x9100
}

// The filter never refuses a SYN the decoder would report (within its
// scope), and never passes what the decoder says is not a SYN to a watched
// port; it may pass frames the decoder then finds malformed or truncated.
func checkFilter(t *testing.T, v *bpf.VM, dec *decode.Decoder, name string, f []byte, scope bool, allSyns bool) bool {
	t.Helper()
	n, err := v.Run(f)
	if err != nil {
		t.Fatalf("%s: vm: %v", name, err)
	}
	accepted := n > 0
	if accepted && n != Snaplen {
		t.Errorf("%s: accepted %d bytes, want %d", name, n, Snaplen)
	}
	var s decode.Syn
	r := dec.Decode(capture.LinkEthernet, f, &s)
	switch {
	case r == decode.Matched && scope && s.Tunnel == 0 && !accepted:
		t.Errorf("%s (%d bytes): decoder matched, filter refused", name, len(f))
	case accepted && r == decode.OtherPort && allSyns:
	case accepted && r != decode.Matched && r != decode.Malformed && r != decode.Truncated:
		t.Errorf("%s (%d bytes): filter accepted, decoder says %v", name, len(f), r)
	}
	return accepted
}

func TestFilterCorpus(t *testing.T) {
	p, _ := ports.Parse(captest.Ports)
	v, dec := vm(t, p), &decode.Decoder{Ports: p}
	accepted := 0
	for _, f := range captest.Corpus() {
		scope := !f.BeyondCBPF && !f.DecoderOnly
		if checkFilter(t, v, dec, f.Name, f.Data, scope, false) {
			accepted++
		}
		for l := range len(f.Data) {
			checkFilter(t, v, dec, fmt.Sprintf("%s[:%d]", f.Name, l), f.Data[:l], scope, false)
		}
	}
	if accepted < 25 {
		t.Errorf("only %d corpus frames accepted", accepted)
	}
}

func TestFilterGarbage(t *testing.T) {
	p, _ := ports.Parse(captest.Ports)
	v, dec := vm(t, p), &decode.Decoder{Ports: p}
	n := 0
	for i, g := range captest.Garbage(2, 5000) {
		if checkFilter(t, v, dec, fmt.Sprintf("garbage %d", i), g, inScope(g), false) {
			n++
		}
	}
	t.Logf("%d random frames accepted", n)
}

func TestFilterPortLists(t *testing.T) {
	syn := func(port uint16) []byte {
		s := captest.Syn445()
		s.DstPort = port
		return captest.V4SYN(s)
	}
	for _, c := range []struct {
		list    string
		in, out []uint16
	}{
		{"445", []uint16{445}, []uint16{0, 444, 446, 65535}},
		{"0", []uint16{0}, []uint16{1, 445}},
		{"65535", []uint16{65535}, []uint16{0, 65534}},
		{"0-65535", []uint16{0, 1, 445, 65535}, nil},
		{"1-1024,3389,5900-5910", []uint16{1, 22, 1024, 3389, 5900, 5910}, []uint16{0, 1025, 3388, 3390, 5899, 5911}},
	} {
		p, err := ports.Parse(c.list)
		if err != nil {
			t.Fatal(err)
		}
		v := vm(t, p)
		for _, port := range c.in {
			if n, _ := v.Run(syn(port)); n == 0 {
				t.Errorf("%s: port %d refused", c.list, port)
			}
		}
		for _, port := range c.out {
			if n, _ := v.Run(syn(port)); n != 0 {
				t.Errorf("%s: port %d accepted", c.list, port)
			}
		}
	}

	// Past MaxFilterRanges every SYN passes (and only SYNs).
	var list []byte
	for i := range MaxFilterRanges + 1 {
		if i > 0 {
			list = append(list, ',')
		}
		list = fmt.Appendf(list, "%d", 1000+2*i)
	}
	p, _ := ports.Parse(string(list))
	v, dec := vm(t, p), &decode.Decoder{Ports: p}
	for _, port := range []uint16{1000, 1001, 445, 80} {
		if n, _ := v.Run(syn(port)); n == 0 {
			t.Errorf("long list: port %d refused", port)
		}
	}
	for _, f := range captest.Corpus() {
		checkFilter(t, v, dec, f.Name, f.Data, !f.BeyondCBPF && !f.DecoderOnly, true)
	}
	// Exactly at the limit the ports are still tested in the kernel.
	list = list[:len(list)-len(",1200")]
	p, _ = ports.Parse(string(list))
	if n, _ := vm(t, p).Run(syn(1001)); n != 0 {
		t.Errorf("%d ranges: port 1001 accepted", MaxFilterRanges)
	}
}

func TestFilterNoPorts(t *testing.T) {
	if _, err := Filter(nil); err == nil {
		t.Error("nil set accepted")
	}
	if _, err := Filter(&ports.Set{}); err == nil {
		t.Error("empty set accepted")
	}
}
