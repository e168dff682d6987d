//go:build linux

package afpacket

import (
	"encoding/binary"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/synscope/synscope/internal/captest"
	"github.com/synscope/synscope/pkg/capture"
	"github.com/synscope/synscope/pkg/decode"
	"github.com/synscope/synscope/pkg/ports"
)

// Live tests: two network namespaces joined by a veth pair, the source on
// the sensor's end, real scanners or crafted frames from the other, and
// tcpdump on the same interface at the same time.

func TestMain(m *testing.M) {
	captest.RunHolder(func(iface string) (io.Closer, error) {
		watched, _ := ports.Parse("445")
		return Open(Config{Iface: iface, Ports: watched, Promisc: true})
	})
	os.Exit(m.Run())
}

func openIn(t *testing.T, p *captest.Pair, cfg Config) *Source {
	t.Helper()
	src, err := captest.OpenIn(t, p, func(iface string) (*Source, error) {
		cfg.Iface = iface
		return Open(cfg)
	})
	if err != nil {
		captest.Need(t, "needs CAP_NET_RAW: %v", err)
	}
	return src
}

func TestLiveScanners(t *testing.T) {
	p := captest.NeedLive(t, "nmap", "hping3", "masscan")
	watched, _ := ports.Parse("139,445")
	src := openIn(t, p, Config{Ports: watched})
	collect := captest.Collect(t, src, watched, nil)
	file := filepath.Join(t.TempDir(), "all.pcap")
	stop := captest.Tcpdump(t, p.SensorNS, p.SensorIf, "inout", file)

	captest.Nmap(t, p.ScanNS, captest.SensorAddr, "22,80,139,445,3389")
	captest.Hping(t, p.ScanNS, captest.SensorAddr, 445, 20, true)
	captest.Masscan(t, p.ScanNS, p.ScanIf, captest.ScanAddr, p.SensorMAC, "198.18.0.2-198.18.0.9", "139,445")
	time.Sleep(100 * time.Millisecond)
	stop()

	got := collect()
	want := captest.FromPcap(t, file, watched)
	if want.Len() < 2+20+16 {
		t.Errorf("tcpdump saw only %d SYNs", want.Len())
	}
	captest.Equal(t, "AF_PACKET source vs tcpdump", got, want)
	st, err := src.CaptureStats()
	if err != nil {
		t.Fatal(err)
	}
	// The filter passed SYNs to watched ports only: the socket is bound
	// after the filter is attached, so nothing slips in unfiltered.
	if st.Packets != uint64(want.Len()) || st.KernelDrops != 0 {
		t.Errorf("stats %+v for %d SYNs", st, want.Len())
	}
	t.Logf("%d SYNs; stats %+v", want.Len(), st)
}

// stripOuterTag is what the receiving stack does before packet sockets see
// a frame: an outer 802.1Q/802.1ad tag moves out of the data.
func stripOuterTag(f []byte) []byte {
	if len(f) >= 18 {
		if et := binary.BigEndian.Uint16(f[12:]); et == 0x8100 || et == 0x88a8 {
			return append(append([]byte(nil), f[:12]...), f[16:]...)
		}
	}
	return f
}

// The corpus, its truncations and random frames through the veth: the
// kernel runs the filter; what passes must be what the decoder matches
// among the frames in the filter's scope, and what tcpdump saw of them.
func TestLiveCorpus(t *testing.T) {
	p := captest.NeedLive(t)
	watched, _ := ports.Parse(captest.Ports)
	src := openIn(t, p, Config{Ports: watched, Promisc: true})
	collect := captest.Collect(t, src, watched, nil)
	frames := append(captest.Truncations(nil), captest.Garbage(4, 2000)...)
	file := filepath.Join(t.TempDir(), "in.pcap")
	stop := captest.Tcpdump(t, p.SensorNS, p.SensorIf, "in", file)
	sent := captest.Inject(t, p.ScanNS, p.ScanIf, frames)
	time.Sleep(100 * time.Millisecond)
	stop()

	want := captest.Decoded(frames, watched, func(f []byte) bool { return inScope(stripOuterTag(f)) })
	got := collect()
	captest.Equal(t, "AF_PACKET vs frames in the filter's scope", got, want)

	// tcpdump has everything; restricted to the scope it is the same set.
	all := captest.FromPcap(t, file, watched)
	for syn, n := range got {
		if all[syn] < n {
			t.Errorf("source has a SYN tcpdump did not see: %+v", syn)
		}
	}
	st, _ := src.CaptureStats()
	t.Logf("%d frames sent, %d SYNs passed (tcpdump decoded %d); stats %+v", sent, got.Len(), all.Len(), st)
	if st.KernelDrops != 0 {
		t.Errorf("kernel drops: %+v", st)
	}
}

// Promiscuous mode is held while the source is open and given back after,
// also when the process holding it is killed.
func TestLivePromisc(t *testing.T) {
	p := captest.NeedLive(t)
	watched, _ := ports.Parse("445")
	if got := captest.Promiscuity(t, p.SensorNS, p.SensorIf); got != 0 {
		t.Fatalf("promiscuity %d before Open", got)
	}
	src := openIn(t, p, Config{Ports: watched, Promisc: true})
	if got := captest.Promiscuity(t, p.SensorNS, p.SensorIf); got != 1 {
		t.Errorf("promiscuity %d while open, want 1", got)
	}
	src.Close()
	if got := captest.Promiscuity(t, p.SensorNS, p.SensorIf); got != 0 {
		t.Errorf("promiscuity %d after Close, want 0", got)
	}
	var pk capture.Packet
	if err := src.Next(&pk); err == nil || err == capture.ErrTimeout {
		t.Errorf("Next after Close: %v", err)
	}

	kill := captest.StartHolder(t, p.SensorNS, p.SensorIf)
	if got := captest.Promiscuity(t, p.SensorNS, p.SensorIf); got != 1 {
		t.Errorf("promiscuity %d while a child holds the source, want 1", got)
	}
	kill()
	if got := captest.Promiscuity(t, p.SensorNS, p.SensorIf); got != 0 {
		t.Errorf("promiscuity %d after the holder was SIGKILLed, want 0", got)
	}
}

// Frames that reach the interface while Open runs, before the filter is
// attached, are neither delivered nor counted: the socket takes nothing
// in until it is bound after the filter. (Bound first, it delivered them:
// a new link's MLD and DAD frames made TestLiveTimeout fail at random.)
func TestLiveNothingBeforeFilter(t *testing.T) {
	p := captest.NeedLive(t)
	watched, _ := ports.Parse("445")
	syn := captest.Syn445()
	synTo80 := syn
	synTo80.DstPort = 80
	synAck := syn
	synAck.Flags |= captest.SYN | captest.ACK
	icmp6 := captest.Ether(nil, 0x86dd, captest.IPv6(captest.V6{Src: captest.Src6, Dst: captest.Dst6, Hop: 255, Next: 58, PayloadLen: -1}, []byte{143, 0, 0, 0, 0, 0, 0, 0}))
	arp := captest.Ether(nil, 0x0806, make([]byte, 28))
	early := [][]byte{captest.V4SYN(synTo80), captest.V4SYN(synAck), icmp6, arp, icmp6, arp}

	before := captest.RxPackets(t, p.SensorNS, p.SensorIf)
	var sent int
	var injectErr error
	testHookBeforeFilter = func() {
		sent, injectErr = captest.InjectErr(p.ScanNS, p.ScanIf, early)
		// Past the veth's backlog and into whichever sockets listen.
		time.Sleep(50 * time.Millisecond)
	}
	t.Cleanup(func() { testHookBeforeFilter = nil })
	src := openIn(t, p, Config{Ports: watched})
	testHookBeforeFilter = nil
	if injectErr != nil {
		t.Fatalf("inject: %v", injectErr)
	}
	if got := captest.RxPackets(t, p.SensorNS, p.SensorIf) - before; got < uint64(sent) {
		t.Fatalf("only %d of the %d early frames reached %s: the test proves nothing", got, sent, p.SensorIf)
	}
	// Then SYNs the filter passes: the source is live, and they are all
	// that it delivers and counts.
	captest.Inject(t, p.ScanNS, p.ScanIf, [][]byte{captest.V4SYN(syn), captest.V4SYN(syn), captest.V4SYN(syn)})
	delivered := 0
	for {
		var pk capture.Packet
		err := src.Next(&pk)
		if err == capture.ErrTimeout {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		delivered++
		if delivered > 3 {
			t.Errorf("frame delivered beyond the 3 SYNs: % x", pk.Data[:min(len(pk.Data), 60)])
		}
	}
	if delivered != 3 {
		t.Errorf("%d frames delivered, want the 3 SYNs", delivered)
	}
	st, err := src.CaptureStats()
	if err != nil {
		t.Fatal(err)
	}
	if st.Packets != 3 || st.KernelDrops != 0 {
		t.Errorf("stats %+v, want 3 packets (the SYNs) and no drops", st)
	}
}

// Two sources in one fanout group share the SYNs: together they see each
// exactly once.
func TestLiveFanout(t *testing.T) {
	p := captest.NeedLive(t, "hping3")
	watched, _ := ports.Parse("445")
	a := openIn(t, p, Config{Ports: watched, FanoutID: 0x5c5c})
	b := openIn(t, p, Config{Ports: watched, FanoutID: 0x5c5c})
	ca, cb := captest.Collect(t, a, watched, nil), captest.Collect(t, b, watched, nil)
	captest.Hping(t, p.ScanNS, captest.SensorAddr, 445, 30, true)
	sa, sb := ca(), cb()
	if sa.Len()+sb.Len() != 30 {
		t.Errorf("fanout: %d + %d SYNs, want 30 in all", sa.Len(), sb.Len())
	}
	for s := range sa {
		if sb[s] > 0 {
			t.Errorf("SYN delivered to both members: %+v", s)
		}
	}
	t.Logf("fanout split %d/%d", sa.Len(), sb.Len())
}

func TestLiveTimeout(t *testing.T) {
	p := captest.NeedLive(t)
	watched, _ := ports.Parse("445")
	src := openIn(t, p, Config{Ports: watched})
	var pk capture.Packet
	start := time.Now()
	if err := src.Next(&pk); err != capture.ErrTimeout {
		t.Fatalf("idle Next: %v, want ErrTimeout", err)
	}
	if d := time.Since(start); d < PollInterval/2 || d > 100*PollInterval { // the upper bound catches a hang, not a slow scheduler
		t.Errorf("timeout after %v, want about %v", d, PollInterval)
	}
}

func TestOpenErrors(t *testing.T) {
	watched, _ := ports.Parse("445")
	if _, err := Open(Config{Iface: "synscope-none0", Ports: watched}); err == nil || !strings.Contains(err.Error(), `no such network interface "synscope-none0"`) {
		t.Errorf("missing interface: %v", err)
	}
	if _, err := Open(Config{Iface: "lo"}); err == nil {
		t.Error("no ports accepted")
	}
	if _, err := Open(Config{Iface: "lo", Ports: watched, BlockSize: 1000}); err == nil {
		t.Error("bad block size accepted")
	}
}

// TestLiveLinkFlap: the link going down and up again pauses the capture
// (its socket reports ENETDOWN, once read, then delivers again); it ended
// it, every later poll failing. An interface that is removed ends it with
// an error that says so.
func TestLiveLinkFlap(t *testing.T) {
	p := captest.NewPair(t)
	watched, _ := ports.Parse("445")
	src := openIn(t, p, Config{Ports: watched})
	next := func() error {
		var pk capture.Packet
		var err error
		for range 10 {
			if err = src.Next(&pk); err != capture.ErrTimeout {
				return err
			}
		}
		return err
	}
	frame := [][]byte{captest.V4SYN(captest.Syn445())}
	captest.Inject(t, p.ScanNS, p.ScanIf, frame)
	if err := next(); err != nil {
		t.Fatalf("before the flap: %v", err)
	}
	captest.Run(t, p.SensorNS, 5*time.Second, "ip", "link", "set", p.SensorIf, "down")
	if err := next(); err != capture.ErrTimeout {
		t.Fatalf("while down: %v, want a timeout", err)
	}
	captest.Run(t, p.SensorNS, 5*time.Second, "ip", "link", "set", p.SensorIf, "up")
	var err error
	for range 20 { // the veth pair takes a moment to carry frames again
		captest.Inject(t, p.ScanNS, p.ScanIf, frame)
		if err = next(); err == nil {
			break
		}
		if err != capture.ErrTimeout {
			t.Fatalf("after the link came back: %v", err)
		}
	}
	if err != nil {
		t.Fatalf("no SYN captured after the link came back: %v", err)
	}
	captest.Run(t, p.SensorNS, 5*time.Second, "ip", "link", "del", p.SensorIf)
	if err := next(); err == nil || err == capture.ErrTimeout || !strings.Contains(err.Error(), "removed") {
		t.Errorf("after the interface was removed: %v", err)
	}
}

// TestLiveLinkRemovedWhilePolling: the veth's peer deleted while a poll
// waits (which deletes the captured end too) ends the capture with an
// error that says so: the poll reads the link's ENETDOWN, and its removal
// that follows raises nothing more, so the capture went on for ever,
// silent (a review, four runs of four).
func TestLiveLinkRemovedWhilePolling(t *testing.T) {
	p := captest.NewPair(t)
	watched, _ := ports.Parse("445")
	src := openIn(t, p, Config{Ports: watched})
	done := make(chan error, 1)
	go func() {
		var pk capture.Packet
		for {
			if err := src.Next(&pk); err != nil && err != capture.ErrTimeout {
				done <- err
				return
			}
		}
	}()
	time.Sleep(300 * time.Millisecond) // polls under way
	captest.Run(t, p.ScanNS, 5*time.Second, "ip", "link", "del", p.ScanIf)
	select {
	case err := <-done:
		if !strings.Contains(err.Error(), "removed") {
			t.Errorf("after the interface was removed: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("still capturing 10 s after the interface was removed")
	}
}

// TestOpenRefusesIPFramedInterfaces: a tun device's packets start at the
// IP header, which the filter's offsets do not expect: refused, saying
// what to do (its message sent users to eBPF capture, which read those
// packets wrong too and now refuses them as well).
func TestOpenRefusesIPFramedInterfaces(t *testing.T) {
	captest.NeedRoot(t)
	captest.NeedTools(t, "ip")
	ns := "synscope-aftun-" + strconv.Itoa(os.Getpid())
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	captest.Run(t, ns, 5*time.Second, "ip", "tuntap", "add", "dev", "syntun0", "mode", "tun")
	captest.Run(t, ns, 5*time.Second, "ip", "link", "set", "syntun0", "up")
	watched, _ := ports.Parse("445")
	err := captest.InNS(ns, func() error {
		s, err := Open(Config{Iface: "syntun0", Ports: watched})
		if err == nil {
			s.Close()
		}
		return err
	})
	if err == nil || !strings.Contains(err.Error(), "not Ethernet") || strings.Contains(err.Error(), "eBPF") {
		t.Errorf("a tun device: %v", err)
	}
}

// TestLiveIgnoreOutgoing: --egress=false (IgnoreOutgoing) leaves out the
// SYNs the sensor's own host sends, as eBPF without its egress program
// does; AF_PACKET took no notice of the flag and counted them.
func TestLiveIgnoreOutgoing(t *testing.T) {
	p := captest.NeedLive(t, "hping3")
	watched, _ := ports.Parse("445")
	for _, ignore := range []bool{false, true} {
		src := openIn(t, p, Config{Ports: watched, IgnoreOutgoing: ignore})
		collect := captest.Collect(t, src, watched, nil)
		captest.Hping(t, p.ScanNS, captest.SensorAddr, 445, 3, false) // in
		captest.Hping(t, p.SensorNS, captest.ScanAddr, 445, 5, false) // out
		time.Sleep(100 * time.Millisecond)
		got := collect()
		src.Close()
		out := 0
		for s, n := range got {
			if netip.AddrFrom4([4]byte(s.Src[:4])).String() == captest.SensorAddr {
				out += n
			}
		}
		if want := map[bool]int{false: 5, true: 0}[ignore]; out != want || got.Len()-out != 3 {
			t.Errorf("ignore outgoing %v: %d SYNs out (want %d), %d in (want 3)", ignore, out, want, got.Len()-out)
		}
	}
}

// TestLoopbackCountsEachSYNOnce: on a loopback interface every frame the
// host sends it also receives; the outgoing copies counted each SYN twice
// (a review: 100 SYNs, syn_matched 200).
func TestLoopbackCountsEachSYNOnce(t *testing.T) {
	p := captest.NewPair(t)
	watched, _ := ports.Parse("445")
	src := captest.LoopbackSYNs(t, p, 3, 445, func(iface string) (*Source, error) {
		return Open(Config{Iface: iface, Ports: watched})
	})
	dec := decode.Decoder{Ports: watched}
	syns, end := 0, time.Now().Add(2*time.Second)
	for time.Now().Before(end) {
		var pk capture.Packet
		if err := src.Next(&pk); err == nil {
			var s decode.Syn
			if dec.Decode(pk.LinkType, pk.Data, &s) == decode.Matched {
				syns++
			}
		}
	}
	if syns != 3 {
		t.Errorf("%d SYNs captured on lo for 3 sent", syns)
	}
}

// TestLiveStopCountsAddUp: under a flood, Stop has the socket take no more
// frames and the ring is then read to its end: every frame the kernel
// counted is one read or one counted dropped. Read while the flood went
// on, the counters held frames neither read nor dropped (a review: 8,949
// of 919,553).
func TestLiveStopCountsAddUp(t *testing.T) {
	p := captest.NeedLive(t, "hping3", "timeout")
	watched, _ := ports.Parse("445")
	src := openIn(t, p, Config{Ports: watched, IgnoreOutgoing: true})
	captest.Flood(t, p.ScanNS, captest.SensorAddr, 445, 3*time.Second)
	read := captest.ReadThroughStop(t, src, src.Stop, 1500*time.Millisecond)
	time.Sleep(200 * time.Millisecond) // the flood goes on: nothing more is counted
	st, err := src.CaptureStats()
	if err != nil {
		t.Fatal(err)
	}
	if read == 0 || st.Packets != read+st.KernelDrops {
		t.Errorf("packets %d, read %d, kernel drops %d: %d unaccounted", st.Packets, read, st.KernelDrops, int64(st.Packets)-int64(read+st.KernelDrops))
	}
	t.Logf("packets %d = read %d + kernel drops %d", st.Packets, read, st.KernelDrops)
}
