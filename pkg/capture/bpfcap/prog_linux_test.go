//go:build linux

package bpfcap

import (
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/synscope/synscope/bpf"
	"github.com/synscope/synscope/internal/captest"
	"github.com/synscope/synscope/pkg/capture"
	"github.com/synscope/synscope/pkg/decode"
	"github.com/synscope/synscope/pkg/ports"
)

// Verdicts: the programs must always give these.
const (
	xdpPass  = 2          // XDP_PASS
	tcxNext  = 0xffffffff // TC_ACT_UNSPEC == TCX_NEXT (-1)
	runLimit = 5 * time.Second
)

func corpusPorts(t testing.TB) *ports.Set {
	p, err := ports.Parse(captest.Ports)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// loaded is a Source with its programs loaded but attached nowhere, for
// BPF_PROG_TEST_RUN.
func loaded(t testing.TB, p *ports.Set) *Source {
	t.Helper()
	if err := Supported(); err != nil {
		captest.Need(t, "needs CAP_BPF and a kernel with BPF ring buffers: %v", err)
	}
	s, err := newSource("test", p, 1<<20)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// drain returns every record waiting in the ring, without blocking.
func drain(t testing.TB, s *Source) [][]byte {
	t.Helper()
	var out [][]byte
	s.rd.SetDeadline(time.Now())
	for {
		if err := s.rd.ReadInto(&s.rec); err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				return out
			}
			t.Fatalf("read ring: %v", err)
		}
		out = append(out, append([]byte(nil), s.rec.RawSample...))
	}
}

type program struct {
	name    string
	prog    *ebpf.Program
	verdict uint32
	dir     byte
	minLen  func(frame []byte) int // shortest frame BPF_PROG_TEST_RUN accepts
}

// xdpMin: the XDP test runner wants at least an Ethernet header.
func xdpMin([]byte) int { return 14 }

// tcMin: the skb test runner also wants the whole IP header when the
// EtherType announces IPv4 or IPv6 (it fills in socket addresses from it).
func tcMin(frame []byte) int {
	if len(frame) < 14 {
		return 14
	}
	switch uint16(frame[12])<<8 | uint16(frame[13]) {
	case 0x0800:
		return 14 + 20
	case 0x86dd:
		return 14 + 40
	}
	return 14
}

func programs(s *Source) []program {
	return []program{
		{"xdp_ingress", s.objs.XdpIngress, xdpPass, 0, xdpMin},
		{"tc_ingress", s.objs.TcIngress, tcxNext, 0, tcMin},
		{"tc_egress", s.objs.TcEgress, tcxNext, 1, tcMin},
	}
}

// check runs frame through every program and holds the records to what
// pkg/decode makes of the same bytes. inScope says the kernel is meant to
// walk this frame's encapsulation; outside it the kernel must stay silent.
func check(t *testing.T, s *Source, name string, frame []byte, inScope bool) (matched bool) {
	t.Helper()
	dec := decode.Decoder{Ports: corpusPorts(t)}
	var want decode.Syn
	res := dec.Decode(capture.LinkEthernet, frame, &want)
	expect := res == decode.Matched && inScope && want.Tunnel == 0
	for _, pr := range programs(s) {
		ret, err := pr.prog.Run(&ebpf.RunOptions{Data: frame})
		if len(frame) < pr.minLen(frame) {
			// The kernel's test runner refuses such frames: they never
			// reach the program.
			if !errors.Is(err, unix.EINVAL) {
				t.Errorf("%s: %s, %d bytes: run: %v, want EINVAL", name, pr.name, len(frame), err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %s: run: %v", name, pr.name, err)
		}
		if ret != pr.verdict {
			t.Errorf("%s: %s: verdict %#x, want %#x", name, pr.name, ret, pr.verdict)
		}
		recs := drain(t, s)
		if !expect {
			if len(recs) != 0 {
				t.Errorf("%s (%d bytes): %s wrote %d records; the decoder says %v", name, len(frame), pr.name, len(recs), res)
			}
			continue
		}
		if len(recs) != 1 {
			t.Errorf("%s (%d bytes): %s wrote %d records, want 1", name, len(frame), pr.name, len(recs))
			continue
		}
		rec := recs[0]
		var got decode.Syn
		if r := dec.Decode(capture.LinkSynRecord, rec, &got); r != decode.Matched {
			t.Errorf("%s: %s: record decodes to %v", name, pr.name, r)
			continue
		}
		if wantDir := decode.DirIngress + pr.dir; got.Dir != wantDir {
			t.Errorf("%s: %s: direction %d, want %d", name, pr.name, got.Dir, wantDir)
		}
		got.Dir = decode.DirUnknown
		if got != want {
			t.Errorf("%s (%d bytes): %s: kernel and decoder disagree\nkernel  %+v\ndecoder %+v", name, len(frame), pr.name, got, want)
		}
		if d := rec[decode.RecordOffDirection]; d != pr.dir {
			t.Errorf("%s: %s: direction %d, want %d", name, pr.name, d, pr.dir)
		}
		if l := le32(rec[decode.RecordOffPktLen:]); int(l) != len(frame) {
			t.Errorf("%s: %s: packet length %d, want %d", name, pr.name, l, len(frame))
		}
		if le64(rec[decode.RecordOffTs:]) == 0 {
			t.Errorf("%s: %s: no timestamp", name, pr.name)
		}
	}
	return expect
}

func le32(b []byte) uint32 {
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}
func le64(b []byte) uint64 { return uint64(le32(b)) | uint64(le32(b[4:]))<<32 }

func TestProgramsCorpus(t *testing.T) {
	s := loaded(t, corpusPorts(t))
	n := 0
	for _, f := range captest.Corpus() {
		if check(t, s, f.Name, f.Data, !f.DecoderOnly) {
			n++
		}
	}
	// Guard against a corpus (or decoder) that matches nothing.
	if n < 30 {
		t.Errorf("only %d corpus frames produced records", n)
	}
}

// Every prefix of every corpus frame: truncation at each byte.
func TestProgramsTruncated(t *testing.T) {
	s := loaded(t, corpusPorts(t))
	for _, f := range captest.Corpus() {
		for l := 0; l <= len(f.Data); l++ {
			check(t, s, fmt.Sprintf("%s[:%d]", f.Name, l), f.Data[:l], !f.DecoderOnly)
		}
	}
}

func TestProgramsGarbage(t *testing.T) {
	s := loaded(t, corpusPorts(t))
	matched := 0
	for i, g := range captest.Garbage(1, 3000) {
		if check(t, s, fmt.Sprintf("garbage %d", i), g, true) {
			matched++
		}
	}
	t.Logf("%d random frames matched", matched)
}

// The counters count what the programs saw, and the watched ports can be
// changed without reloading.
func TestProgramsCountersAndPorts(t *testing.T) {
	s := loaded(t, corpusPorts(t))
	syn := captest.V4SYN(captest.Syn445())
	other := captest.V4SYN(captest.T{SrcPort: 1, DstPort: 22, Flags: captest.SYN})
	bad := captest.V4SYN(captest.T{SrcPort: 1, DstPort: 445, Flags: captest.SYN, DataOff: 16})
	for _, f := range [][]byte{syn, syn, other, bad, syn[:30]} {
		if _, err := s.objs.XdpIngress.Run(&ebpf.RunOptions{Data: f}); err != nil {
			t.Fatal(err)
		}
	}
	c, err := s.Counters()
	if err != nil {
		t.Fatal(err)
	}
	if want := (Counters{Packets: 5, Matched: 2, ParseErrors: 2}); c != want {
		t.Errorf("counters %+v, want %+v", c, want)
	}
	st, err := s.CaptureStats()
	if err != nil || st.Packets != 5 || st.Matched != 2 || st.RingFull != 0 {
		t.Errorf("stats %+v, %v", st, err)
	}
	if n := len(drain(t, s)); n != 2 {
		t.Errorf("%d records, want 2", n)
	}

	p22, _ := ports.Parse("22")
	if err := s.SetPorts(p22); err != nil {
		t.Fatal(err)
	}
	for _, f := range [][]byte{syn, other} {
		if _, err := s.objs.TcEgress.Run(&ebpf.RunOptions{Data: f}); err != nil {
			t.Fatal(err)
		}
	}
	recs := drain(t, s)
	if len(recs) != 1 || recs[0][decode.RecordOffDstPort] != 22 {
		t.Errorf("after SetPorts(22): %d records %v", len(recs), recs)
	}
}

// A full ring loses records and counts them; the program still passes.
func TestProgramsRingFull(t *testing.T) {
	if err := Supported(); err != nil {
		captest.Need(t, "needs CAP_BPF: %v", err)
	}
	s, err := newSource("test", corpusPorts(t), os.Getpagesize())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	syn := captest.V4SYN(captest.Syn445())
	per := os.Getpagesize() / (decode.RecordSize + 8) // 8: ring record header
	ret, err := s.objs.XdpIngress.Run(&ebpf.RunOptions{Data: syn, Repeat: uint32(per + 10)})
	if err != nil || ret != xdpPass {
		t.Fatalf("run: %d, %v", ret, err)
	}
	c, _ := s.Counters()
	if c.Matched != uint64(per+10) || c.RingFull < 10 || c.RingFull+uint64(len(drain(t, s))) != c.Matched {
		t.Errorf("counters %+v with room for %d records", c, per)
	}
}

// Next turns a record into a Packet: wall-clock time, original length.
func TestNextPacket(t *testing.T) {
	s := loaded(t, corpusPorts(t))
	syn := captest.V4SYN(captest.Syn445())
	before := time.Now().UnixNano()
	if _, err := s.objs.XdpIngress.Run(&ebpf.RunOptions{Data: syn}); err != nil {
		t.Fatal(err)
	}
	after := time.Now().UnixNano()
	var p capture.Packet
	if err := s.Next(&p); err != nil {
		t.Fatal(err)
	}
	if p.LinkType != capture.LinkSynRecord || p.CapLen != decode.RecordSize || len(p.Data) != decode.RecordSize || p.OrigLen != len(syn) {
		t.Errorf("packet %+v", p)
	}
	// The conversion error is the width of the clock bracket: microseconds.
	if p.Timestamp < before-int64(time.Millisecond) || p.Timestamp > after+int64(time.Millisecond) {
		t.Errorf("timestamp %d not within [%d, %d]", p.Timestamp, before, after)
	}
	// Records are submitted without waking the reader (below the wakeup
	// threshold), so the read above ended its poll interval: its timeout
	// comes now, and the next empty poll waits the whole interval.
	if err := s.Next(&p); err != capture.ErrTimeout {
		t.Errorf("after the record: %v, want the poll's ErrTimeout", err)
	}
	start := time.Now()
	if err := s.Next(&p); err != capture.ErrTimeout {
		t.Errorf("empty ring: %v, want ErrTimeout", err)
	}
	if d := time.Since(start); d < PollInterval/2 || d > 100*PollInterval { // the upper bound catches a hang, not a slow scheduler
		t.Errorf("timeout after %v, want about %v", d, PollInterval)
	}
	for range 101 { // AllocsPerRun calls once more to warm up
		s.objs.XdpIngress.Run(&ebpf.RunOptions{Data: syn})
	}
	if n := testing.AllocsPerRun(100, func() {
		if err := s.Next(&p); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("Next allocates %v times per record", n)
	}
	s.Close()
	if err := s.Next(&p); err != io.EOF {
		t.Errorf("Next after Close: %v, want io.EOF", err)
	}
}

// The verifier's work stays far from its limit of a million instructions,
// so a kernel that explores a little differently still loads the program.
func TestVerifierBudget(t *testing.T) {
	if err := Supported(); err != nil {
		captest.Need(t, "needs CAP_BPF: %v", err)
	}
	spec, err := bpf.LoadSynscope()
	if err != nil {
		t.Fatal(err)
	}
	spec.Maps[bpf.SynscopeMapEvents].MaxEntries = uint32(os.Getpagesize())
	coll, err := ebpf.NewCollectionWithOptions(spec, ebpf.CollectionOptions{Programs: ebpf.ProgramOptions{LogLevel: ebpf.LogLevelStats}})
	if err != nil {
		t.Fatal(err)
	}
	defer coll.Close()
	re := regexp.MustCompile(`processed (\d+) insns`)
	for name, p := range coll.Programs {
		m := re.FindStringSubmatch(p.VerifierLog)
		if m == nil {
			t.Fatalf("%s: no statistics in %q", name, p.VerifierLog)
		}
		n, _ := strconv.Atoi(m[1])
		t.Logf("%s: verifier processed %d instructions", name, n)
		if n > 250000 {
			t.Errorf("%s: verifier processed %d instructions: a quarter of its budget", name, n)
		}
	}
}

// kernelScope says whether the kernel filters are meant to walk frame:
// Ethernet, then VLAN tags, then IPv4 or IPv6 (not MPLS, PPPoE or another
// EtherType, which the decoder walks alone; tunnels the check leaves out
// by the decoder's depth).
func kernelScope(frame []byte) bool {
	for off := 12; off+2 <= len(frame); off += 4 {
		switch uint16(frame[off])<<8 | uint16(frame[off+1]) {
		case 0x8100, 0x88a8, 0x9100:
			continue
		case 0x0800, 0x86dd:
			return true
		}
		return false
	}
	return false
}

// FuzzPrograms: any frame, through the XDP and TC programs under
// BPF_PROG_TEST_RUN and through pkg/decode, gives the same SYN record or
// none (check), and never a record the decoder would not match. (The
// kernel's parser reads untrusted bytes as the decoder does; the tests
// above try chosen frames, this any.)
func FuzzPrograms(f *testing.F) {
	for _, c := range captest.Corpus() {
		f.Add(c.Data)
	}
	s := loaded(f, corpusPorts(f))
	f.Fuzz(func(t *testing.T, frame []byte) {
		if len(frame) > 3000 {
			return // a test run puts more of a frame in frags, which XDP reads within its first buffer only (README)
		}
		check(t, s, "fuzz", frame, kernelScope(frame))
	})
}
