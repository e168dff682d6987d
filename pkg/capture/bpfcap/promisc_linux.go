//go:build linux

package bpfcap

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// promiscHold keeps an interface in promiscuous mode for as long as it is
// open. XDP and TC see only what the NIC delivers, and on a span port or
// tap the copies addressed to other hosts are delivered only in
// promiscuous mode.
//
// It is an AF_PACKET socket with protocol 0, which receives nothing, and
// a PACKET_MR_PROMISC membership on the interface. The kernel counts
// promiscuity per membership rather than as a flag anyone can clear: the
// interface's own setting and other holders (tcpdump, a second sensor)
// are left as they were. Promiscuity is a kernel reference held by an
// open socket; if the sensor is killed, the kernel closes the socket and
// the count drops, so nothing remains after a crash.
type promiscHold struct{ fd int }

func holdPromisc(ifindex int) (*promiscHold, error) {
	// Close-on-exec: a child the sensor started must not keep the
	// interface promiscuous after the sensor is gone.
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	mreq := unix.PacketMreq{Ifindex: int32(ifindex), Type: unix.PACKET_MR_PROMISC}
	if err := unix.SetsockoptPacketMreq(fd, unix.SOL_PACKET, unix.PACKET_ADD_MEMBERSHIP, &mreq); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return &promiscHold{fd: fd}, nil
}

// release gives promiscuous mode back: closing the socket drops the
// membership, as the process's death would.
func (h *promiscHold) release() error {
	if h == nil {
		return nil
	}
	return unix.Close(h.fd)
}

func explainPromisc(iface string, err error) error {
	if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
		return fmt.Errorf("bpfcap: set promiscuous mode on %s: %w (needs CAP_NET_RAW, or root; or run without --promisc and set it with 'ip link set %s promisc on')", iface, err, iface)
	}
	return fmt.Errorf("bpfcap: set promiscuous mode on %s: %w", iface, err)
}
