package afpacket

import (
	"fmt"

	"golang.org/x/net/bpf"

	"github.com/synscope/synscope/pkg/ports"
)

// MaxFilterRanges is the most port ranges (a single port is a range of
// one) the classic BPF filter tests itself. Each costs two instructions at
// most and every test must reach the accept instruction with an 8-bit jump,
// so a longer list is not enumerated: the filter then passes every SYN and
// the decoder (which checks the port of every frame anyway) drops the rest.
// 100 ranges cover any list a person types; "1-1024,3389,5900-5910" is 3.
const MaxFilterRanges = 100

// Snaplen is how much of an accepted frame the kernel hands over: all of it
// (a SYN is small; options and extension headers must not be cut).
const Snaplen = 262144

// Filter is the classic BPF program the socket runs on every frame: it
// accepts TCP segments with SYN set and ACK clear to a watched port, over
// IPv4 or IPv6, untagged or behind one 802.1Q/802.1ad tag.
//
// What it does not walk, it refuses (the eBPF source does more):
//   - more than one VLAN tag (tags the NIC stripped do not count: the kernel
//     runs the filter on the frame without them, and the source puts them
//     back before decoding);
//   - IPv6 with more than one extension header before TCP (one hop-by-hop,
//     routing, destination-options, authentication or first-fragment
//     header is walked);
//   - non-first IPv4 or IPv6 fragments (never a SYN);
//   - tunnels, MPLS, PPPoE.
//
// It trusts what classic BPF cannot cheaply check (IP version nibble, IHL
// and data-offset sanity, lengths); the decoder checks all of it again, so
// such a frame costs a copy, never a wrong record.
func Filter(p *ports.Set) ([]bpf.Instruction, error) {
	if p == nil || p.Len() == 0 {
		return nil, fmt.Errorf("no ports to filter on")
	}
	var a asm
	a.emit(bpf.LoadAbsolute{Off: 12, Size: 2})
	a.jeq(0x0800, "v4_14", "")
	a.jeq(0x86dd, "v6_14", "")
	a.jeq(0x8100, "tag", "")
	a.jeq(0x88a8, "tag", "reject")
	a.label("tag")
	a.emit(bpf.LoadAbsolute{Off: 16, Size: 2})
	a.jeq(0x0800, "v4_18", "")
	a.jeq(0x86dd, "v6_18", "reject")
	for _, b := range []uint32{14, 18} {
		ipv4(&a, b)
		ipv6(&a, b)
	}
	// Header walks end here: rejects jump back at most a few dozen
	// instructions' distance, whatever the port list.
	a.label("reject")
	a.emit(bpf.RetConstant{Val: 0})

	a.label("ports") // A holds the destination port
	rs := ranges(p)
	if len(rs) > MaxFilterRanges {
		a.emit(bpf.RetConstant{Val: Snaplen})
		return a.resolve()
	}
	for i, r := range rs {
		next := fmt.Sprintf("range%d", i+1)
		if r.lo == r.hi {
			a.jeq(uint32(r.lo), "accept", "")
		} else {
			a.jif(bpf.JumpLessThan, uint32(r.lo), next, "")
			a.jif(bpf.JumpLessOrEqual, uint32(r.hi), "accept", "")
		}
		a.label(next)
	}
	a.emit(bpf.RetConstant{Val: 0})
	a.label("accept")
	a.emit(bpf.RetConstant{Val: Snaplen})
	return a.resolve()
}

// ipv4 walks IPv4 at byte b: protocol TCP, first fragment, then the TCP
// header at b + IHL.
func ipv4(a *asm, b uint32) {
	a.label(fmt.Sprintf("v4_%d", b))
	a.emit(bpf.LoadAbsolute{Off: b + 9, Size: 1})
	a.jeq(6, "", "reject")
	a.emit(bpf.LoadAbsolute{Off: b + 6, Size: 2})
	a.jif(bpf.JumpBitsSet, 0x1fff, "reject", "")
	a.emit(bpf.LoadMemShift{Off: b}) // X = IHL * 4
	syn(a, b)
}

// ipv6 walks IPv6 at byte b: TCP right after the header, or after one
// extension header.
func ipv6(a *asm, b uint32) {
	l := func(s string) string { return fmt.Sprintf("v6%s_%d", s, b) }
	a.label(fmt.Sprintf("v6_%d", b))
	a.emit(bpf.LoadAbsolute{Off: b + 6, Size: 1})
	a.jeq(6, l("tcp"), "")
	a.jeq(0, l("ext"), "")  // hop-by-hop
	a.jeq(43, l("ext"), "") // routing
	a.jeq(60, l("ext"), "") // destination options
	a.jeq(51, l("ah"), "")  // authentication header
	a.jeq(44, l("frag"), "reject")

	a.label(l("tcp"))
	a.emit(bpf.LoadConstant{Dst: bpf.RegX, Val: 0})
	syn(a, b+40)

	a.label(l("ext")) // length (n+1)*8
	a.emit(bpf.LoadAbsolute{Off: b + 40, Size: 1})
	a.jeq(6, "", "reject")
	a.emit(bpf.LoadAbsolute{Off: b + 41, Size: 1})
	a.emit(bpf.ALUOpConstant{Op: bpf.ALUOpAdd, Val: 1})
	a.emit(bpf.ALUOpConstant{Op: bpf.ALUOpShiftLeft, Val: 3})
	a.emit(bpf.TAX{})
	syn(a, b+40)

	a.label(l("ah")) // length (n+2)*4
	a.emit(bpf.LoadAbsolute{Off: b + 40, Size: 1})
	a.jeq(6, "", "reject")
	a.emit(bpf.LoadAbsolute{Off: b + 41, Size: 1})
	a.emit(bpf.ALUOpConstant{Op: bpf.ALUOpAdd, Val: 2})
	a.emit(bpf.ALUOpConstant{Op: bpf.ALUOpShiftLeft, Val: 2})
	a.emit(bpf.TAX{})
	syn(a, b+40)

	a.label(l("frag")) // 8 bytes; offset must be 0
	a.emit(bpf.LoadAbsolute{Off: b + 40, Size: 1})
	a.jeq(6, "", "reject")
	a.emit(bpf.LoadAbsolute{Off: b + 42, Size: 2})
	a.jif(bpf.JumpBitsSet, 0xfff8, "reject", "")
	a.emit(bpf.LoadConstant{Dst: bpf.RegX, Val: 0})
	syn(a, b+48)
}

// syn tests the TCP header at X + off: SYN set, ACK clear; then loads the
// destination port into A and goes to the port tests.
func syn(a *asm, off uint32) {
	a.emit(bpf.LoadIndirect{Off: off + 13, Size: 1})
	a.emit(bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: 0x12})
	a.jeq(0x02, "", "reject")
	a.emit(bpf.LoadIndirect{Off: off + 2, Size: 2})
	a.ja("ports")
}

type portRange struct{ lo, hi uint16 }

func ranges(p *ports.Set) []portRange {
	var rs []portRange
	for _, x := range p.Ports() {
		if n := len(rs); n > 0 && rs[n-1].hi+1 == x && rs[n-1].hi != 65535 {
			rs[n-1].hi = x
			continue
		}
		rs = append(rs, portRange{x, x})
	}
	return rs
}

// asm is a tiny assembler with symbolic jump targets ("" is the next
// instruction), since classic BPF jumps are relative skip counts.
type asm struct {
	ins    []bpf.Instruction
	fix    []fixup
	labels map[string]int
}

type fixup struct {
	at          int
	cond        bool
	tTrue, tFal string
}

func (a *asm) emit(i bpf.Instruction) { a.ins = append(a.ins, i) }

func (a *asm) label(name string) {
	if a.labels == nil {
		a.labels = map[string]int{}
	}
	a.labels[name] = len(a.ins)
}

func (a *asm) jif(c bpf.JumpTest, v uint32, t, f string) {
	a.fix = append(a.fix, fixup{at: len(a.ins), cond: true, tTrue: t, tFal: f})
	a.emit(bpf.JumpIf{Cond: c, Val: v})
}

func (a *asm) jeq(v uint32, t, f string) { a.jif(bpf.JumpEqual, v, t, f) }

func (a *asm) ja(t string) {
	a.fix = append(a.fix, fixup{at: len(a.ins), tTrue: t})
	a.emit(bpf.Jump{})
}

func (a *asm) resolve() ([]bpf.Instruction, error) {
	skip := func(at int, target string) (int, error) {
		if target == "" {
			return 0, nil
		}
		to, ok := a.labels[target]
		if !ok {
			return 0, fmt.Errorf("filter: no label %q", target)
		}
		if to <= at {
			return 0, fmt.Errorf("filter: backward jump to %q", target)
		}
		return to - at - 1, nil
	}
	for _, f := range a.fix {
		t, err := skip(f.at, f.tTrue)
		if err != nil {
			return nil, err
		}
		if !f.cond {
			a.ins[f.at] = bpf.Jump{Skip: uint32(t)}
			continue
		}
		fl, err := skip(f.at, f.tFal)
		if err != nil {
			return nil, err
		}
		if t > 255 || fl > 255 {
			return nil, fmt.Errorf("filter: jump of %d/%d instructions at %d does not fit", t, fl, f.at)
		}
		j := a.ins[f.at].(bpf.JumpIf)
		j.SkipTrue, j.SkipFalse = uint8(t), uint8(fl)
		a.ins[f.at] = j
	}
	if len(a.ins) > 4096 {
		return nil, fmt.Errorf("filter: %d instructions, the kernel takes 4096", len(a.ins))
	}
	return a.ins, nil
}
