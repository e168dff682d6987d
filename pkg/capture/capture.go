// Package capture defines the one interface every packet source implements
// (capture files in pcapfile, AF_PACKET in afpacket, eBPF in bpfcap), so tests
// drive the very pipeline production runs. It owns the Packet type, the
// link-type numbers, the per-input error and the optional interfaces a source
// may add (its own counters, memory-mapped faults).
// It must not import the decoder, the engine or any logger.
package capture

import (
	"errors"
	"fmt"
)

// LinkType is a pcap/pcapng LINKTYPE_ value (https://www.tcpdump.org/linktypes.html).
type LinkType uint16

// Link types the decoder understands. Others are passed through and counted
// as unsupported by the decoder, never treated as an error by a reader.
const (
	LinkNull      LinkType = 0   // BSD loopback: 4-byte host-order address family
	LinkEthernet  LinkType = 1   // Ethernet II, with 802.1Q/802.1ad tags
	LinkRaw       LinkType = 101 // raw IPv4 or IPv6, version nibble decides
	LinkLoop      LinkType = 108 // OpenBSD loopback: 4-byte network-order family
	LinkLinuxSLL  LinkType = 113 // Linux cooked capture v1
	LinkIPv4      LinkType = 228 // raw IPv4
	LinkIPv6      LinkType = 229 // raw IPv6
	LinkNFLOG     LinkType = 239 // Linux netfilter log messages
	LinkIPoIB     LinkType = 242 // IP over InfiniBand: two 20-byte addresses, then type
	LinkLinuxSLL2 LinkType = 276 // Linux cooked capture v2

	// LinkSynRecord is private to synscope: Data is not a frame but the
	// fixed-size SYN record the eBPF program already extracted in the
	// kernel (see bpf/ and decode's record parser).
	LinkSynRecord LinkType = 65000
)

// ErrTimeout is returned by a live Source's Next when no packet arrived
// within its poll interval (at most a fraction of a second), so the caller
// can close idle windows on time and notice cancellation. It is not an
// error: call Next again.
var ErrTimeout = errors.New("capture: no packet within the poll interval")

// Stats are a live source's own counters, read on the control path.
type Stats struct {
	Packets     uint64 // packets the capture saw (kernel side for eBPF)
	Matched     uint64 // SYNs matched in the kernel (eBPF), 0 otherwise
	KernelDrops uint64 // packets the kernel dropped before we could read them
	RingFull    uint64 // records lost because the kernel-to-user ring was full
	ParseErrors uint64 // frames the kernel's parser found truncated or malformed (eBPF), 0 otherwise
}

// BatchSource is implemented by sources that can hand out several packets
// per call. NextBatch fills ps[:n] with n >= 1 packets and returns n, or
// returns 0 and the error Next would return. The packets' Data stay valid
// until the next call to Next or NextBatch. A source may fill fewer than
// len(ps) at any time (and Next stays usable in between).
type BatchSource interface {
	NextBatch(ps []Packet) (int, error)
}

// AheadSource is implemented by sources that can use the moments their
// caller spends on the packets: Ahead, called by the capture loop every
// few packets it analyses (aheadEvery in the pipeline), has the source
// bring what it will read next into the CPU's caches meanwhile, so that
// its loads wait for memory while other work runs. It returns quickly,
// changes nothing a packet handed out holds, and is called on the
// goroutine that calls Next and NextBatch.
type AheadSource interface {
	Ahead()
}

// ErrAtTail is returned by a Splitter's NextBatch when it has read up to
// the boundary of the Tail it split off: call ResumeAfter once the Tail's
// packets are used.
var ErrAtTail = errors.New("capture: at the boundary of the split-off tail")

// Splitter is implemented by sources that can let other goroutines read
// parts of a large input ahead of them (offline). SplitTail returns the
// part from a boundary about ahead packets on (0: the middle), or nil when
// it cannot split; after it, only NextBatch may be called until
// ResumeAfter. ResumeAfter makes the source go on after the first n
// packets of the chain of Tails up to t (the first, and each split off the
// one before), which end at pos in t; Tails split off after t are void.
type Splitter interface {
	SplitTail(ahead int) Tail
	ResumeAfter(t Tail, pos int, n uint64)
}

// Tail is a part of an input split off by a Splitter, or by another Tail.
// Next returns its packets one at a time (false at its end; it may fault
// like the source's own reads), NextBatch as many as ps holds (0 at its
// end); Split splits off the part from a boundary
// about ahead packets past the Tail's position to the end (nil when it
// cannot), after which the Tail ends at that boundary if it lands on it;
// Void becomes true when the guess of its boundary was found wrong (or the
// source resumed before it), and its packets must then be dropped; Start
// is its boundary, Pos and N the offset after its last packet and how many
// it returned. Split and Void may be called from any goroutine.
type Tail interface {
	Next(p *Packet) bool
	NextBatch(ps []Packet) int
	Split(ahead int) Tail
	Void() bool
	Start() int
	Pos() int
	N() uint64
}

// FaultSource is implemented by sources that hand out slices of memory
// mapped files. When a read of such a slice faults (the file shrank under
// the reader), the caller recovers the fault and calls Fault with its
// address: the source ends the input that the address belongs to and
// returns that input's *InputError, after which Next goes on with the
// others. It returns nil when the address is none of its mappings.
type FaultSource interface {
	Fault(addr uintptr) error
}

// StatsSource is implemented by sources that keep counters of their own.
type StatsSource interface {
	CaptureStats() (Stats, error)
}

// Stopper is a live source that can stop taking packets while what it
// already holds stays readable (Next returns it, then ErrTimeout): a run's
// stop, so that its last counters are those of the packets read or
// dropped, not of the traffic that went on while they were read.
type Stopper interface {
	Stop() error
}

// Packet is one captured frame. Data aliases the source's buffer and is valid
// only until the next call to Next on the same Source; copy what you keep.
type Packet struct {
	Timestamp int64    // nanoseconds since the Unix epoch, UTC
	LinkType  LinkType // link type of the interface the frame came from
	CapLen    int      // bytes captured (len(Data))
	OrigLen   int      // bytes on the wire
	Data      []byte
}

// Source yields packets. Next fills p and returns nil, io.EOF when every input
// is exhausted, or an error. An error of type *InputError means one input
// failed: what it delivered before is valid, it yields nothing more, and the
// caller may call Next again to go on with the other inputs. Any other error
// is fatal for the source.
type Source interface {
	Next(p *Packet) error
	Close() error
}

// InputError reports a failed input: which file, which packet (1-based, the
// packet that could not be read) and at which byte offset of the
// (decompressed) stream, and why.
type InputError struct {
	File   string
	Packet uint64 // 0 when the failure is in a file header, before any packet
	Offset int64  // -1 when unknown
	Err    error
}

func (e *InputError) Error() string {
	switch {
	case e.Packet == 0 && e.Offset < 0:
		return fmt.Sprintf("read %s: %v", e.File, e.Err)
	case e.Packet == 0:
		return fmt.Sprintf("read %s: at offset %d: %v", e.File, e.Offset, e.Err)
	case e.Offset < 0:
		return fmt.Sprintf("read %s: packet %d: %v", e.File, e.Packet, e.Err)
	default:
		return fmt.Sprintf("read %s: packet %d at offset %d: %v", e.File, e.Packet, e.Offset, e.Err)
	}
}

func (e *InputError) Unwrap() error { return e.Err }

// IsInputError reports whether err is a per-input failure after which the
// source can go on.
func IsInputError(err error) bool {
	var ie *InputError
	return errors.As(err, &ie)
}
