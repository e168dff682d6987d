//go:build linux

package afpacket

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	gpafpacket "github.com/gopacket/gopacket/afpacket"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"

	"github.com/synscope/synscope/pkg/capture"
	"github.com/synscope/synscope/pkg/ports"
)

// Defaults and fixed settings.
const (
	// Many small blocks rather than a few large ones: the kernel hands a
	// block over when it is full or blockTimeout after its first frame,
	// so at the trickle of a SYN stream most blocks carry a handful of
	// frames, and what bounds a stalled reader is the number of blocks.
	DefaultBlockSize = 1 << 16 // bytes per ring block
	DefaultNumBlocks = 128     // blocks: an 8 MiB ring, 2.5 s of stall at a trickle
	// PollInterval is how long Next waits before it returns
	// capture.ErrTimeout.
	PollInterval = 100 * time.Millisecond
	// blockTimeout bounds how long a partly filled block waits before the
	// kernel hands it over: the latency of a lone SYN.
	blockTimeout = 20 * time.Millisecond
	frameSize    = 4096
)

// Config says where to capture and what.
type Config struct {
	Iface     string     // an Ethernet (or loopback) interface, in the caller's network namespace
	Ports     *ports.Set // watched TCP destination ports
	Promisc   bool       // receive frames not addressed to the interface (span ports, taps)
	BlockSize int        // ring block bytes, a multiple of 4096; 0: DefaultBlockSize
	NumBlocks int        // ring blocks; 0: DefaultNumBlocks
	// IgnoreOutgoing leaves out the frames the host sends (--egress=false:
	// only what arrives is watched, as with eBPF without its egress
	// program); by default both directions are captured, but on a
	// loopback interface, where every frame sent is received too.
	IgnoreOutgoing bool
	// FanoutID, when not 0, joins the socket to the PACKET_FANOUT group
	// of that id (hashed by flow), so several sources share one
	// interface's load.
	FanoutID uint16
}

// Source is an AF_PACKET capture source. Next and Close may be called from
// different goroutines; Next from one at a time.
type Source struct {
	mu      sync.Mutex // held by Next while it reads the ring; Close waits for it
	tp      *gpafpacket.TPacket
	iface   string
	promisc bool
	closed  bool
	fd      int // the socket (its pending error is read when a poll fails)
	// AllSyns is set when the port list was too long to enumerate in the
	// filter: every SYN is copied and the decoder filters by port.
	allSyns bool
	// The socket's counters, kept wide (see CaptureStats).
	packets, drops wideCount
}

// wideCount keeps a 32-bit running count as a 64-bit one: gopacket sums
// the socket's reset-on-read statistics in 32-bit fields, which wrapped
// after 4.3 billion frames (half a day at 100 k frames a second, minutes
// of a flood's drops) and then went down, a false reset to Prometheus and
// a stats record at odds with the packets counted (a review). Each read
// adds what the narrow count moved since the last, modulo 2^32: right
// while reads come less than 2^32 frames apart (a live run reads them
// every second, whatever its stats interval: pipeline's tick).
type wideCount struct {
	last  uint32
	total uint64
}

func (w *wideCount) read(cur uint32) uint64 {
	w.total += uint64(cur - w.last)
	w.last = cur
	return w.total
}

// Open opens the socket, sets the filter and, if asked, promiscuous mode.
func Open(cfg Config) (*Source, error) {
	if cfg.Iface == "" {
		return nil, errors.New("afpacket: no interface given")
	}
	if cfg.Ports == nil || cfg.Ports.Len() == 0 {
		return nil, errors.New("afpacket: no ports to watch")
	}
	ifc, err := net.InterfaceByName(cfg.Iface)
	if err != nil {
		return nil, fmt.Errorf("afpacket: no such network interface %q (see `ip link`): %w", cfg.Iface, err)
	}
	// What the host sends on a loopback interface it also receives there:
	// its outgoing copies counted every SYN twice, each source as outbound
	// too (a review). Left out when the kernel can (4.20 and later).
	loopback := ifc.Flags&net.FlagLoopback != 0 && !cfg.IgnoreOutgoing
	if err := capture.EthernetFramed(cfg.Iface, "afpacket"); err != nil {
		return nil, err
	}
	prog, err := Filter(cfg.Ports)
	if err != nil {
		return nil, fmt.Errorf("afpacket: %w", err)
	}
	raw, err := bpf.Assemble(prog)
	if err != nil {
		return nil, fmt.Errorf("afpacket: assemble filter: %w", err)
	}
	blockSize, numBlocks := cfg.BlockSize, cfg.NumBlocks
	if blockSize <= 0 {
		blockSize = DefaultBlockSize
	}
	if numBlocks <= 0 {
		numBlocks = DefaultNumBlocks
	}
	if blockSize%frameSize != 0 {
		return nil, fmt.Errorf("afpacket: block size %d is not a multiple of %d", blockSize, frameSize)
	}
	tp, err := gpafpacket.NewTPacket(
		gpafpacket.OptInterface(cfg.Iface),
		// Protocol 0: bound to the interface but hooked to no protocol, so
		// the kernel puts nothing in the ring until arm rebinds the socket,
		// after the filter is attached. With ETH_P_ALL here, whatever the
		// link carried in between (a new link's MLD reports and DAD
		// solicitations, any traffic on a busy one) would be delivered and
		// counted unfiltered.
		gpafpacket.OptProtocol(0),
		gpafpacket.OptTPacketVersion(gpafpacket.TPacketVersion3),
		gpafpacket.OptFrameSize(frameSize),
		gpafpacket.OptBlockSize(blockSize),
		gpafpacket.OptNumBlocks(numBlocks),
		gpafpacket.OptBlockTimeout(blockTimeout),
		gpafpacket.OptPollTimeout(PollInterval),
		// Tags the NIC stripped go back into the frame, so the decoder
		// sees the VLAN id (one allocation per such frame).
		gpafpacket.OptAddVLANHeader(true),
	)
	if err != nil {
		return nil, explain("open AF_PACKET socket on "+cfg.Iface, err)
	}
	s := &Source{tp: tp, iface: cfg.Iface, allSyns: len(ranges(cfg.Ports)) > MaxFilterRanges}
	fd, ifindex, err := socketOf(tp)
	if err != nil {
		tp.Close()
		return nil, fmt.Errorf("afpacket: open AF_PACKET socket on %s: %w", cfg.Iface, err)
	}
	s.fd = fd
	// gopacket's socket lacks close-on-exec: a child the process starts
	// would keep it, and with it the ring and promiscuous mode, after the
	// sensor is gone.
	unix.CloseOnExec(fd)
	if cfg.IgnoreOutgoing || loopback {
		// Linux 4.20 and later; --egress=false was ignored here before.
		if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_IGNORE_OUTGOING, 1); err != nil && !loopback {
			tp.Close()
			return nil, explain("leave out outgoing frames (--egress=false)", err)
		}
	}
	if testHookBeforeFilter != nil {
		testHookBeforeFilter()
	}
	if err := tp.SetBPF(raw); err != nil {
		tp.Close()
		return nil, explain("attach filter", err)
	}
	if err := arm(fd, ifindex); err != nil {
		tp.Close()
		return nil, explain("bind AF_PACKET socket to "+cfg.Iface, err)
	}
	if cfg.FanoutID != 0 {
		if err := tp.SetFanout(gpafpacket.FanoutHashWithDefrag, cfg.FanoutID); err != nil {
			tp.Close()
			return nil, explain(fmt.Sprintf("join fanout group %d", cfg.FanoutID), err)
		}
	}
	if cfg.Promisc {
		// A membership of this socket: promiscuity is a kernel reference
		// held by the open socket, so if the sensor is killed the kernel
		// closes the socket and the count drops; the interface's own
		// setting is never left changed.
		if err := tp.SetPromiscuous(true); err != nil {
			tp.Close()
			return nil, explain("set promiscuous mode on "+cfg.Iface, err)
		}
		s.promisc = true
	}
	return s, nil
}

func explain(op string, err error) error {
	if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
		return fmt.Errorf("afpacket: %s: %w (AF_PACKET capture needs CAP_NET_RAW, or root)", op, err)
	}
	return fmt.Errorf("afpacket: %s: %w", op, err)
}

// Iface is the interface the source captures on.
func (s *Source) Iface() string { return s.iface }

// AllSyns reports whether the filter passes every SYN because the port list
// has more than MaxFilterRanges ranges (the decoder then filters by port).
func (s *Source) AllSyns() bool { return s.allSyns }

// Next waits up to PollInterval for the next frame that passed the filter.
// p.Data aliases the ring and is valid until the next call. It returns
// capture.ErrTimeout when nothing came, io.EOF after Close.
func (s *Source) Next(p *capture.Packet) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return io.EOF
	}
	data, ci, err := s.tp.ZeroCopyReadPacketData()
	if err != nil {
		if errors.Is(err, gpafpacket.ErrTimeout) {
			// A removed interface raises ENETDOWN when it goes down, and
			// nothing more when it is unregistered (the socket unbound) if
			// that error was read meanwhile: a poll that times out looks
			// too (a review: a deleted veth captured on, silently, for
			// ever). A getsockname at most every PollInterval.
			if s.unbound() {
				return s.removedErr()
			}
			return capture.ErrTimeout
		}
		if errors.Is(err, gpafpacket.ErrPoll) {
			// The socket has an error pending: the link went down
			// (ENETDOWN) and it stays reported, every poll failing even
			// once the link is up again, until it is read. Reading it
			// clears it; a link that goes down and up is a pause, not the
			// end of the capture. An interface that is gone is.
			soErr, gerr := unix.GetsockoptInt(s.fd, unix.SOL_SOCKET, unix.SO_ERROR)
			switch {
			case gerr != nil:
				return fmt.Errorf("afpacket: read %s: %w (and its error could not be read: %v)", s.iface, err, gerr)
			case soErr == 0 || unix.Errno(soErr) == unix.ENETDOWN:
				// Down, or removed: the kernel unbinds the socket of a
				// removed interface (its index reads -1) and it never
				// receives again.
				if s.unbound() {
					return s.removedErr()
				}
				return capture.ErrTimeout
			default:
				return fmt.Errorf("afpacket: read %s: %w", s.iface, unix.Errno(soErr))
			}
		}
		return fmt.Errorf("afpacket: read %s: %w", s.iface, err)
	}
	p.Timestamp = ci.Timestamp.UnixNano()
	p.LinkType = capture.LinkEthernet
	p.CapLen = len(data)
	p.OrigLen = ci.Length
	p.Data = data
	return nil
}

// unbound says whether the kernel unbound the socket: its interface was
// removed (its index reads -1), and it never receives again.
func (s *Source) unbound() bool {
	sa, err := unix.Getsockname(s.fd)
	if err != nil {
		return false
	}
	ll, ok := sa.(*unix.SockaddrLinklayer)
	return ok && ll.Ifindex <= 0
}

func (s *Source) removedErr() error {
	return fmt.Errorf("afpacket: %s was removed (or moved to another network namespace; capture it again once it is back: restart the sensor)", s.iface)
}

// CaptureStats implements capture.StatsSource: Packets are frames that
// passed the filter (delivered or dropped), KernelDrops those the ring had
// no room for. Counted since Open.
func (s *Source) CaptureStats() (capture.Stats, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return capture.Stats{}, errors.New("afpacket: source closed")
	}
	_, v3, err := s.tp.SocketStats()
	if err != nil {
		return capture.Stats{}, fmt.Errorf("afpacket: socket statistics: %w", err)
	}
	return capture.Stats{Packets: s.packets.read(uint32(v3.Packets())), KernelDrops: s.drops.read(uint32(v3.Drops()))}, nil
}

// Stop has the socket take no more frames (a filter that refuses every
// one; the counters stop with it): what the ring holds stays readable
// (capture.Stopper).
func (s *Source) Stop() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	none, err := bpf.Assemble([]bpf.Instruction{bpf.RetConstant{Val: 0}})
	if err == nil {
		err = s.tp.SetBPF(none)
	}
	if err != nil {
		return fmt.Errorf("afpacket: stop %s: %w", s.iface, err)
	}
	return nil
}

// Close leaves promiscuous mode and closes the socket. It waits for a Next
// in progress (at most PollInterval); Next then returns io.EOF.
func (s *Source) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	var err error
	if s.promisc {
		if e := s.tp.SetPromiscuous(false); e != nil {
			err = fmt.Errorf("afpacket: leave promiscuous mode on %s: %w", s.iface, e)
		}
	}
	s.tp.Close()
	return err
}

var (
	_ capture.Source      = (*Source)(nil)
	_ capture.StatsSource = (*Source)(nil)
	_ capture.Stopper     = (*Source)(nil)
)
