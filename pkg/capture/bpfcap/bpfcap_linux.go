//go:build linux

package bpfcap

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"time"
	"unsafe"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/features"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/ringbuf"
	"github.com/cilium/ebpf/rlimit"
	"golang.org/x/sys/unix"

	"github.com/synscope/synscope/bpf"
	"github.com/synscope/synscope/pkg/capture"
	"github.com/synscope/synscope/pkg/ports"
)

// Hook names a place a program is attached.
type Hook string

const (
	HookNone       Hook = ""
	HookXDPNative  Hook = "xdp-native"  // XDP in the driver, before any skb exists
	HookXDPGeneric Hook = "xdp-generic" // XDP on the skb (drivers without native XDP)
	HookTCX        Hook = "tcx"         // TCX bpf_link (Linux 6.6+)
	HookTC         Hook = "tc"          // clsact qdisc and tc bpf filter (older kernels)
)

// IngressMode chooses where the ingress program goes.
type IngressMode int

const (
	// IngressAuto attaches at TCX ingress, which passes every packet on as
	// it came and changes nothing on the interface; on a kernel without
	// TCX (before 6.6) it tries native XDP, then generic XDP, then the
	// legacy clsact filter (which would stay behind after a stop under
	// --user): the first that attaches wins. XDP is not the default
	// because attaching it changes how the host handles traffic: native
	// XDP on a veth turns off segmentation offload on its peer while it
	// is attached (a container's TCP throughput halved, a review), on
	// many NICs it reconfigures the rings (a short link reset) and turns
	// off LRO, and generic XDP turns off LRO and hardware GRO for good
	// and copies every GSO packet to read it. For a passive sensor that
	// passes every packet on, TCX costs less too: XDP's early hook saves
	// nothing when the skb is built anyway. Choose IngressXDPNative or
	// IngressXDPGeneric explicitly where those costs are known and taken.
	IngressAuto IngressMode = iota
	IngressXDPNative
	IngressXDPGeneric
	IngressTC
)

// Defaults.
const (
	DefaultRingSize = 4 << 20 // bytes: about 50,000 records
	// PollInterval is how long Next waits for a record before it returns
	// capture.ErrTimeout.
	PollInterval = 100 * time.Millisecond
)

// Config says where to capture and what.
type Config struct {
	Iface    string     // interface name, in the caller's network namespace
	Ports    *ports.Set // watched TCP destination ports
	Egress   bool       // also attach the egress program (outbound SYNs; not on a loopback interface)
	RingSize int        // ring buffer bytes, rounded up to a power of two; 0: DefaultRingSize
	Ingress  IngressMode
	// Promisc holds the interface in promiscuous mode while the source is
	// open (span ports, taps), as a socket membership the kernel drops
	// when the source is closed or the process dies.
	Promisc bool
	// Warn, when set, is told (once a hook, from Next's goroutine) that
	// another program went ahead of the sensor's in the interface's TCX
	// chain: if its verdict ends the chain, the sensor does not see the
	// packets.
	Warn func(msg string)

	legacyTC bool // tests: skip TCX, use the clsact fallback
}

// Source is an eBPF capture source on one interface. Next and Close may be
// called from different goroutines; Next from one goroutine at a time.
type Source struct {
	iface   string
	ifindex int      // in the sensor's network namespace
	ns      *nsLinks // that namespace's interfaces (nil: not asked)
	objs    bpf.SynscopeObjects
	links   []link.Link
	idle    int // quiet polls, for the look at detached
	recs    int // records since the last look at detached
	checked time.Time
	filters []*tcFilter
	rd      *ringbuf.Reader
	rec     ringbuf.Record
	clock   wallClock
	ingress Hook
	egress  Hook
	promisc *promiscHold // nil unless Config.Promisc
	warn    func(msg string)
	ahead   [2]bool // another program was said to be ahead of ours: ingress, egress
	unasked bool    // the chain cannot be asked (no CAP_NET_ADMIN: dropped to --user)

	closeOnce sync.Once
	closeErr  error
	stopOnce  sync.Once
	stopErr   error
}

// Offsets in the record that the source itself reads (the rest is the
// decoder's business); taken from the generated struct so they follow it.
const (
	recSize      = int(unsafe.Sizeof(bpf.SynscopeSynRecord{}))
	recOffTs     = int(unsafe.Offsetof(bpf.SynscopeSynRecord{}.TsNs))
	recOffPktLen = int(unsafe.Offsetof(bpf.SynscopeSynRecord{}.PktLen))
)

// Counter indexes: enum counter in bpf/synscope.c.
const (
	counterPackets = iota
	counterMatched
	counterRingFull
	counterParseErrors
	numCounters
)

// Counters are the kernel program's own counters, summed over CPUs.
type Counters struct {
	Packets     uint64 // packets the programs saw (ingress and egress)
	Matched     uint64 // SYNs to a watched port
	RingFull    uint64 // of those, records lost because the ring was full
	ParseErrors uint64 // frames with truncated or malformed headers
}

var memlockOnce sync.Once

// removeMemlock lifts RLIMIT_MEMLOCK for kernels before 5.11, which charge
// BPF memory to it. Failure is not fatal: newer kernels do not need it, and
// a load that does will say so.
func removeMemlock() { memlockOnce.Do(func() { _ = rlimit.RemoveMemlock() }) }

// Supported reports whether eBPF capture can work here: the kernel has BPF
// ring buffers, this process may load BPF programs, and the verifier accepts
// synscope's. A caller that gets an error can fall back to AF_PACKET.
func Supported() error {
	removeMemlock()
	if err := features.HaveMapType(ebpf.RingBuf); err != nil {
		return explain("probe BPF ring buffer maps", err)
	}
	var objs bpf.SynscopeObjects
	if err := load(&objs, os.Getpagesize()); err != nil {
		return err
	}
	return objs.Close()
}

// Open loads the program, attaches it to cfg.Iface and starts reading.
func Open(cfg Config) (*Source, error) {
	if cfg.Iface == "" {
		return nil, errors.New("bpfcap: no interface given")
	}
	if cfg.Ports == nil || cfg.Ports.Len() == 0 {
		return nil, errors.New("bpfcap: no ports to watch")
	}
	ifc, err := net.InterfaceByName(cfg.Iface)
	if err != nil {
		return nil, fmt.Errorf("bpfcap: no such network interface %q (see `ip link`): %w", cfg.Iface, err)
	}
	// The programs read an Ethernet header at offset 0: on a tun device
	// they missed every SYN and read a sender's chosen bytes as one (a UDP
	// datagram from 8.0.x.x has EtherType 0x0800 where its source address
	// is: its payload became a SYN).
	if err := capture.EthernetFramed(cfg.Iface, "bpfcap"); err != nil {
		return nil, err
	}
	s, err := newSource(cfg.Iface, cfg.Ports, ringSize(cfg.RingSize))
	if err != nil {
		return nil, err
	}
	s.warn = cfg.Warn
	s.ifindex, s.checked = ifc.Index, time.Now()
	s.ns, _ = openNSLinks() // without it, only a removal is seen
	if err := s.attachIngress(ifc.Index, cfg); err != nil {
		s.Close()
		return nil, err
	}
	// On a loopback interface every frame sent is received too: its
	// egress program counted every SYN twice, each source as outbound
	// too (a review). Ingress sees them all.
	if cfg.Egress && ifc.Flags&net.FlagLoopback == 0 {
		if s.egress, err = s.attachTC(ifc.Index, true, cfg.legacyTC); err != nil {
			s.Close()
			return nil, fmt.Errorf("bpfcap: attach egress program to %s: %w", cfg.Iface, err)
		}
	}
	if cfg.Promisc {
		if s.promisc, err = holdPromisc(ifc.Index); err != nil {
			s.Close()
			return nil, explainPromisc(cfg.Iface, err)
		}
	}
	return s, nil
}

// newSource loads the objects, sets the ports and opens the ring reader:
// everything but attaching.
func newSource(iface string, p *ports.Set, ringBytes int) (*Source, error) {
	removeMemlock()
	s := &Source{iface: iface}
	if err := load(&s.objs, ringBytes); err != nil {
		return nil, err
	}
	var err error
	if err = s.SetPorts(p); err == nil {
		if s.rd, err = ringbuf.NewReader(s.objs.Events); err != nil {
			err = explain("open ring buffer reader", err)
		}
	}
	if err != nil {
		s.Close()
		return nil, err
	}
	s.clock.refresh()
	return s, nil
}

// ringSize rounds n up to a power of two of at least one page.
func ringSize(n int) int {
	if n <= 0 {
		n = DefaultRingSize
	}
	size := os.Getpagesize()
	for size < n && size < 1<<30 {
		size <<= 1
	}
	return size
}

func load(objs *bpf.SynscopeObjects, ringBytes int) error {
	spec, err := bpf.LoadSynscope()
	if err != nil {
		return fmt.Errorf("bpfcap: %w", err)
	}
	spec.Maps[bpf.SynscopeMapEvents].MaxEntries = uint32(ringBytes)
	if err := spec.LoadAndAssign(objs, nil); err != nil {
		var ve *ebpf.VerifierError
		if errors.As(err, &ve) {
			return fmt.Errorf("bpfcap: the kernel's verifier refused synscope's program (report this with the kernel version): %w", err)
		}
		return explain("load BPF objects", err)
	}
	return nil
}

// explain wraps err with what to do about it.
func explain(op string, err error) error {
	switch {
	case errors.Is(err, unix.EPERM), errors.Is(err, unix.EACCES):
		// The errno alone: the library's own text suggests raising
		// MEMLOCK, which is not it (removeMemlock did; a review).
		errno := unix.EPERM
		if !errors.Is(err, unix.EPERM) {
			errno = unix.EACCES
		}
		return fmt.Errorf("bpfcap: %s: %w (eBPF capture needs CAP_BPF and CAP_NET_ADMIN, or root; or use AF_PACKET capture)", op, errno)
	case errors.Is(err, ebpf.ErrNotSupported):
		return fmt.Errorf("bpfcap: %s: %w (this kernel lacks it: eBPF capture needs Linux 5.18+ (BPF ring buffers, bpf_xdp_load_bytes); use AF_PACKET capture)", op, err)
	}
	return fmt.Errorf("bpfcap: %s: %w", op, err)
}

// SetPorts replaces the watched ports; the programs see the new set at
// once, without reloading.
func (s *Source) SetPorts(p *ports.Set) error {
	var bm bpf.SynscopePortBitmap
	for _, port := range p.Ports() {
		bm.Bits[port>>6] |= 1 << (port & 63)
	}
	if err := s.objs.WatchedPorts.Put(uint32(0), &bm); err != nil {
		return explain("set watched ports", err)
	}
	return nil
}

func (s *Source) attachIngress(ifindex int, cfg Config) error {
	xdp := func(flags link.XDPAttachFlags) error {
		l, err := link.AttachXDP(link.XDPOptions{Program: s.objs.XdpIngress, Interface: ifindex, Flags: flags})
		if err != nil {
			return err
		}
		s.links = append(s.links, l)
		return nil
	}
	var err error
	switch cfg.Ingress {
	case IngressXDPNative:
		if err = xdp(link.XDPDriverMode); err == nil {
			s.ingress = HookXDPNative
		}
	case IngressXDPGeneric:
		if err = xdp(link.XDPGenericMode); err == nil {
			s.ingress = HookXDPGeneric
		}
	case IngressTC:
		s.ingress, err = s.attachTC(ifindex, false, cfg.legacyTC)
	default:
		var tcx error = ebpf.ErrNotSupported
		if !cfg.legacyTC {
			if tcx = s.attachTCX(ifindex, false); tcx == nil {
				s.ingress = HookTCX
				return nil
			}
		}
		native := xdp(link.XDPDriverMode)
		if native == nil {
			s.ingress = HookXDPNative
			return nil
		}
		if permission(native) {
			err = native
			break
		}
		generic := xdp(link.XDPGenericMode)
		if generic == nil {
			s.ingress = HookXDPGeneric
			return nil
		}
		var tc error
		if s.ingress, tc = s.attachTC(ifindex, false, cfg.legacyTC); tc == nil {
			return nil
		}
		err = errors.Join(fmt.Errorf("TCX: %w", tcx), fmt.Errorf("native XDP: %w", native), fmt.Errorf("generic XDP: %w", generic), fmt.Errorf("TC: %w", tc))
	}
	if err != nil {
		if errors.Is(err, unix.EBUSY) || errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("bpfcap: attach ingress program to %s: %w (another XDP program is attached there; "+
				"attach at TC ingress instead: --ingress-hook tc)", cfg.Iface, err)
		}
		return explain("attach ingress program to "+cfg.Iface, err)
	}
	return nil
}

func permission(err error) bool { return errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) }

// attachTC attaches the ingress or egress TC program: as a TCX link at the
// head of the chain (so it sees packets before other programs can take
// them; it returns TCX_NEXT, so they all still run), or, where TCX does not
// exist, as a legacy clsact filter.
func (s *Source) attachTC(ifindex int, egress, legacy bool) (Hook, error) {
	if !legacy {
		err := s.attachTCX(ifindex, egress)
		if err == nil {
			return HookTCX, nil
		}
		if !errors.Is(err, ebpf.ErrNotSupported) {
			return HookNone, explain("attach TCX", err)
		}
	}
	prog := s.objs.TcIngress
	if egress {
		prog = s.objs.TcEgress
	}
	f, err := attachLegacyTC(ifindex, s.iface, prog.FD(), egress)
	if err != nil {
		return HookNone, explain("attach tc filter", err)
	}
	s.filters = append(s.filters, f)
	return HookTC, nil
}

// attachTCX attaches the ingress or egress TC program as a TCX link at the
// head of the chain.
func (s *Source) attachTCX(ifindex int, egress bool) error {
	prog, at := s.objs.TcIngress, ebpf.AttachTCXIngress
	if egress {
		prog, at = s.objs.TcEgress, ebpf.AttachTCXEgress
	}
	l, err := link.AttachTCX(link.TCXOptions{Interface: ifindex, Program: prog, Attach: at, Anchor: link.Head()})
	if err != nil {
		return err
	}
	s.links = append(s.links, l)
	return nil
}

// Iface is the interface the source captures on.
func (s *Source) Iface() string { return s.iface }

// detachCheckEvery is how many quiet polls (PollInterval each) go by
// between two looks at whether the programs are still attached.
const detachCheckEvery = 16

// detached reports an error when the interface the programs were attached
// to is gone: the kernel detaches an XDP or TCX link from an interface
// being removed (its interface index then reads 0), and the ring would
// stay quiet for good while the sensor wrote empty windows. (A TC filter
// attached the legacy way has no link to ask.)
func (s *Source) detached() error {
	for _, l := range s.links {
		info, err := l.Info()
		if err != nil {
			continue
		}
		var ifindex uint32 = 1
		if x := info.XDP(); x != nil {
			ifindex = x.Ifindex
		} else if x := info.TCX(); x != nil {
			ifindex = x.Ifindex
		}
		if ifindex == 0 {
			return fmt.Errorf("bpfcap: %s was removed: its programs are detached (capture it again once it is back: restart the sensor)", s.iface)
		}
	}
	s.checkChain()
	// Moved to another network namespace, the interface keeps the
	// programs, and they go on counting its traffic there: the sensor
	// counted another namespace's SYNs as its own (a review).
	if s.ns != nil {
		if there, err := s.ns.has(s.ifindex); err == nil && !there {
			return fmt.Errorf("bpfcap: %s is gone from the sensor's network namespace (removed, or moved to another): its traffic is no longer this sensor's (capture it again once it is back: restart the sensor)", s.iface)
		}
	}
	return nil
}

// checkChain tells Config.Warn when another program goes ahead of the
// sensor's in the interface's TCX chain (again after the sensor's was
// first again): attached later at the head, one whose verdict ends the
// chain (TC_ACT_OK, TC_ACT_SHOT) hid every packet from the sensor without
// a word (a review). The kernel answers the query only with
// CAP_NET_ADMIN: after the drop to --user it is not asked again.
func (s *Source) checkChain() {
	if s.warn == nil || s.unasked {
		return
	}
	for i, c := range [2]struct {
		hook Hook
		at   ebpf.AttachType
		prog *ebpf.Program
		dir  string
	}{{s.ingress, ebpf.AttachTCXIngress, s.objs.TcIngress, "ingress"}, {s.egress, ebpf.AttachTCXEgress, s.objs.TcEgress, "egress"}} {
		if c.hook != HookTCX || c.prog == nil {
			continue
		}
		q, err := link.QueryPrograms(link.QueryOptions{Target: s.ifindex, Attach: c.at})
		if permission(err) {
			s.unasked = true
			return
		}
		if err != nil || len(q.Programs) == 0 {
			continue
		}
		info, err := c.prog.Info()
		if err != nil {
			continue
		}
		ours, _ := info.ID()
		if first := q.Programs[0].ID; first == ours {
			s.ahead[i] = false
		} else if !s.ahead[i] {
			s.ahead[i] = true
			s.warn(fmt.Sprintf("another program (id %d) is ahead of the sensor's in the TCX %s chain of %s: if its verdict ends the chain, the sensor does not see those packets (bpftool net show dev %s)",
				first, c.dir, s.iface, s.iface))
		}
	}
}

// detachCheckAfter is how long records may come without a look at
// detached: an interface moved to another namespace keeps sending them.
const detachCheckAfter = time.Second

// IngressHook says where the ingress program is attached.
func (s *Source) IngressHook() Hook { return s.ingress }

// EgressHook says where the egress program is attached (HookNone without
// Config.Egress). With HookTC the filter survives a killed process (not a
// clean Close): remove it with `tc filter del dev IFACE egress prio 23644`.
func (s *Source) EgressHook() Hook { return s.egress }

// Next waits up to PollInterval for the next SYN record. p.Data is the raw
// record (capture.LinkSynRecord), valid until the next call. It returns
// capture.ErrTimeout when nothing came, io.EOF after Close.
func (s *Source) Next(p *capture.Packet) error {
	s.rd.SetDeadline(time.Now().Add(PollInterval))
	if err := s.rd.ReadInto(&s.rec); err != nil {
		switch {
		case errors.Is(err, os.ErrDeadlineExceeded):
			s.clock.refresh()
			if s.idle++; s.idle%detachCheckEvery == 0 {
				if err := s.detached(); err != nil {
					return err
				}
			}
			return capture.ErrTimeout
		case errors.Is(err, ringbuf.ErrClosed):
			return io.EOF
		}
		return fmt.Errorf("bpfcap: read ring buffer: %w", err)
	}
	if s.recs++; s.recs >= 1<<14 {
		s.recs = 0
		if now := time.Now(); now.Sub(s.checked) >= detachCheckAfter {
			s.checked = now
			if err := s.detached(); err != nil {
				return err
			}
		}
	}
	b := s.rec.RawSample
	p.LinkType = capture.LinkSynRecord
	p.Data = b
	p.CapLen = len(b)
	if len(b) < recSize {
		// Not ours to judge: the decoder counts it as truncated.
		p.Timestamp, p.OrigLen = time.Now().UnixNano(), len(b)
		return nil
	}
	p.Timestamp = s.clock.wall(binary.LittleEndian.Uint64(b[recOffTs:]))
	p.OrigLen = int(binary.LittleEndian.Uint32(b[recOffPktLen:]))
	return nil
}

// Counters reads the kernel counters (control path: it allocates).
func (s *Source) Counters() (Counters, error) {
	var sum [numCounters]uint64
	var vals []uint64
	for i := range sum {
		if err := s.objs.Counters.Lookup(uint32(i), &vals); err != nil {
			return Counters{}, fmt.Errorf("bpfcap: read counters: %w", err)
		}
		for _, v := range vals {
			sum[i] += v
		}
	}
	return Counters{Packets: sum[counterPackets], Matched: sum[counterMatched], RingFull: sum[counterRingFull], ParseErrors: sum[counterParseErrors]}, nil
}

// CaptureStats implements capture.StatsSource.
func (s *Source) CaptureStats() (capture.Stats, error) {
	c, err := s.Counters()
	if err != nil {
		return capture.Stats{}, err
	}
	return capture.Stats{Packets: c.Packets, Matched: c.Matched, RingFull: c.RingFull, ParseErrors: c.ParseErrors}, nil
}

// Stop detaches every program: nothing more comes into the ring, and what
// is in it stays readable (capture.Stopper). The counters stop with it.
func (s *Source) Stop() error {
	s.stopOnce.Do(func() {
		var errs []error
		for _, l := range s.links {
			errs = append(errs, l.Close())
		}
		// Last attached first: the first made the qdisc, and removes it
		// only when no filter is left on it, ours included.
		for i := len(s.filters) - 1; i >= 0; i-- {
			errs = append(errs, s.filters[i].Close())
		}
		s.stopErr = errors.Join(errs...)
	})
	return s.stopErr
}

// Close leaves promiscuous mode, detaches every program (Stop) and frees
// the maps. Next then returns io.EOF. It is safe to call more than once and
// concurrently with Next.
func (s *Source) Close() error {
	s.closeOnce.Do(func() {
		var errs []error
		errs = append(errs, s.promisc.release())
		if s.rd != nil {
			errs = append(errs, s.rd.Close())
		}
		errs = append(errs, s.Stop())
		errs = append(errs, s.objs.Close())
		s.ns.close()
		if err := errors.Join(errs...); err != nil {
			s.closeErr = fmt.Errorf("bpfcap: close %s: %w", s.iface, err)
		}
	})
	return s.closeErr
}

var (
	_ capture.Source      = (*Source)(nil)
	_ capture.StatsSource = (*Source)(nil)
	_ capture.Stopper     = (*Source)(nil)
)
