//go:build linux

package afpacket

import (
	"encoding/binary"
	"errors"
	"fmt"
	"reflect"

	gpafpacket "github.com/gopacket/gopacket/afpacket"
	"golang.org/x/sys/unix"
)

// testHookBeforeFilter, when set by a test, runs after the socket exists
// and before the filter is attached: the window in which a socket bound
// to a protocol would take in unfiltered frames.
var testHookBeforeFilter func()

// socketOf returns the descriptor of tp's socket and the interface it is
// bound to. gopacket keeps the descriptor unexported and has no option to
// bind after the filter is attached, and the fallback, draining the ring
// once the filter is on, races with a frame another CPU is still
// delivering past the socket's old, empty filter. So the descriptor is
// read by reflection and checked before use: it must be an AF_PACKET
// socket bound to an interface with protocol 0, which is what NewTPacket
// makes with OptProtocol(0). A gopacket without that field fails Open
// with this message rather than capturing unfiltered.
func socketOf(tp *gpafpacket.TPacket) (fd, ifindex int, err error) {
	v := reflect.ValueOf(tp).Elem().FieldByName("fd")
	if !v.IsValid() || v.Kind() != reflect.Int {
		return -1, 0, errors.New("cannot find the socket of gopacket's TPacket (gopacket changed: update socketOf)")
	}
	fd = int(v.Int())
	if dom, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_DOMAIN); err != nil || dom != unix.AF_PACKET {
		return -1, 0, fmt.Errorf("descriptor %d of gopacket's TPacket is not an AF_PACKET socket (domain %d, %v): gopacket changed, update socketOf", fd, dom, err)
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return -1, 0, fmt.Errorf("getsockname: %w", err)
	}
	ll, ok := sa.(*unix.SockaddrLinklayer)
	if !ok || ll.Ifindex == 0 || ll.Protocol != 0 {
		return -1, 0, fmt.Errorf("socket of gopacket's TPacket is bound to %+v, want an interface and protocol 0: gopacket changed, update socketOf", sa)
	}
	return fd, ll.Ifindex, nil
}

// arm binds the socket to every protocol on the interface: from here the
// kernel delivers frames, each through the filter already attached.
func arm(fd, ifindex int) error {
	return unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifindex})
}

// htons puts v in network byte order, as sockaddr_ll wants its protocol.
func htons(v uint16) uint16 {
	var b [2]byte
	binary.BigEndian.PutUint16(b[:], v)
	return binary.NativeEndian.Uint16(b[:])
}
