//go:build linux

package bpfcap

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// The legacy TC attachment for kernels without TCX (before 6.6): a clsact
// qdisc and a direct-action bpf filter, made over rtnetlink as `tc qdisc add
// dev X clsact; tc filter add dev X egress prio P handle 1 bpf da fd N`
// would. Unlike a bpf_link, the filter holds its own reference on the
// program and outlives a killed process; Close removes it, and the qdisc
// too when this code created it and no filter is left on it (another
// tool's filter added while the sensor ran went with the qdisc, and with
// it whatever that filter did to the traffic).

// legacyPrio is the tc filter priority synscope uses; one per hook, so a
// second sensor on the same interface and direction is refused (EEXIST)
// rather than silently sharing it.
const legacyPrio = 0x5c5c

// Constants from linux/rtnetlink.h and linux/pkt_sched.h, pkt_cls.h.
const (
	tcaKind    = 1
	tcaOptions = 2

	tcaBPFFD    = 6
	tcaBPFName  = 7
	tcaBPFFlags = 8

	tcaBPFFlagActDirect = 1

	tcHClsact     = 0xfffffff1
	tcHMajClsact  = 0xffff0000
	tcHMinIngress = 0xfff2
	tcHMinEgress  = 0xfff3

	ethPAll = 0x0003
)

// tcFilter is one attached filter; Close detaches it.
type tcFilter struct {
	sock      int // NETLINK_ROUTE socket of the namespace the filter is in
	ifindex   int
	parent    uint32
	ownQdisc  bool
	closed    atomic.Bool
	seq       uint32
	ifaceName string
}

// attachLegacyTC attaches progFD as a direct-action filter on the clsact
// qdisc of ifindex, creating the qdisc if there is none. The netlink socket
// is kept for Close: it is bound to the network namespace of the calling
// thread, so detaching works from any thread.
func attachLegacyTC(ifindex int, name string, progFD int, egress bool) (*tcFilter, error) {
	sock, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("open rtnetlink socket: %w", err)
	}
	if err := unix.Bind(sock, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		unix.Close(sock)
		return nil, fmt.Errorf("bind rtnetlink socket: %w", err)
	}
	f := &tcFilter{sock: sock, ifindex: ifindex, parent: tcHMajClsact | tcHMinIngress, ifaceName: name}
	if egress {
		f.parent = tcHMajClsact | tcHMinEgress
	}

	err = f.request(unix.RTM_NEWQDISC, unix.NLM_F_CREATE|unix.NLM_F_EXCL,
		tcmsg(ifindex, tcHMajClsact, tcHClsact, 0), attrString(tcaKind, "clsact"))
	switch {
	case err == nil:
		f.ownQdisc = true
	case errors.Is(err, unix.EEXIST):
		// Someone's clsact qdisc: use it, leave it.
	default:
		unix.Close(sock)
		return nil, fmt.Errorf("add clsact qdisc to %s: %w", name, err)
	}

	opts := attrU32(tcaBPFFD, uint32(progFD))
	opts = append(opts, attrString(tcaBPFName, "synscope")...)
	opts = append(opts, attrU32(tcaBPFFlags, tcaBPFFlagActDirect)...)
	attrs := attrString(tcaKind, "bpf")
	attrs = append(attrs, attr(tcaOptions, opts)...)
	err = f.request(unix.RTM_NEWTFILTER, unix.NLM_F_CREATE|unix.NLM_F_EXCL, f.filterMsg(), attrs)
	if err != nil {
		f.dropQdisc()
		unix.Close(sock)
		if errors.Is(err, unix.EEXIST) {
			dir := "ingress"
			if egress {
				dir = "egress"
			}
			return nil, fmt.Errorf("add tc filter to %s: %w (a filter with prio %d is there already, maybe left by a killed sensor: "+
				"remove it with `tc filter del dev %s %s prio %d`)", name, err, legacyPrio, name, dir, legacyPrio)
		}
		return nil, fmt.Errorf("add tc bpf filter to %s: %w", name, err)
	}
	return f, nil
}

func (f *tcFilter) filterMsg() []byte {
	info := uint32(legacyPrio)<<16 | uint32(htons(ethPAll))
	return tcmsg(f.ifindex, 1, f.parent, info)
}

// Close removes the filter, and the qdisc if attach created it.
func (f *tcFilter) Close() error {
	if f.closed.Swap(true) {
		return nil
	}
	defer unix.Close(f.sock)
	err := f.request(unix.RTM_DELTFILTER, 0, f.filterMsg(), attrString(tcaKind, "bpf"))
	if err != nil && !errors.Is(err, unix.ENOENT) && !errors.Is(err, unix.ENODEV) && !errors.Is(err, unix.EINVAL) {
		err = fmt.Errorf("remove tc filter from %s: %w", f.ifaceName, err)
	} else {
		err = nil
	}
	return errors.Join(err, f.dropQdisc())
}

func (f *tcFilter) dropQdisc() error {
	if !f.ownQdisc {
		return nil
	}
	f.ownQdisc = false
	for _, min := range []uint32{tcHMinIngress, tcHMinEgress} {
		n, err := f.countFilters(tcHMajClsact | min)
		if err != nil {
			return fmt.Errorf("list tc filters on %s: %w (the clsact qdisc is left)", f.ifaceName, err)
		}
		if n > 0 {
			return nil // someone's filters: the qdisc is theirs now
		}
	}
	err := f.request(unix.RTM_DELQDISC, 0, tcmsg(f.ifindex, tcHMajClsact, tcHClsact, 0), attrString(tcaKind, "clsact"))
	if err != nil && !errors.Is(err, unix.ENOENT) && !errors.Is(err, unix.ENODEV) && !errors.Is(err, unix.EINVAL) {
		return fmt.Errorf("remove clsact qdisc from %s: %w", f.ifaceName, err)
	}
	return nil
}

// countFilters counts the filters on parent (a dump, as `tc filter show`).
func (f *tcFilter) countFilters(parent uint32) (int, error) {
	n := 0
	err := f.exchange(unix.RTM_GETTFILTER, unix.NLM_F_DUMP, tcmsg(f.ifindex, 0, parent, 0), nil, func(typ uint16) bool {
		if typ == unix.RTM_NEWTFILTER {
			n++
		}
		return typ == unix.NLMSG_DONE
	})
	return n, err
}

// request sends one rtnetlink request and waits for its acknowledgement.
func (f *tcFilter) request(typ uint16, flags uint16, tcm, attrs []byte) error {
	return f.exchange(typ, flags|unix.NLM_F_ACK, tcm, attrs, func(uint16) bool { return false })
}

// exchange sends one rtnetlink message and reads the replies to it until an
// error message (an acknowledgement when its code is 0) or until each says
// the exchange is done (a dump's NLMSG_DONE).
func (f *tcFilter) exchange(typ, flags uint16, tcm, attrs []byte, each func(typ uint16) (done bool)) error {
	f.seq++
	msg := make([]byte, unix.SizeofNlMsghdr, unix.SizeofNlMsghdr+len(tcm)+len(attrs))
	msg = append(msg, tcm...)
	msg = append(msg, attrs...)
	ne := binary.NativeEndian
	ne.PutUint32(msg[0:], uint32(len(msg)))
	ne.PutUint16(msg[4:], typ)
	ne.PutUint16(msg[6:], flags|unix.NLM_F_REQUEST)
	ne.PutUint32(msg[8:], f.seq)
	if err := unix.Sendto(f.sock, msg, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return os.NewSyscallError("sendto", err)
	}
	buf := make([]byte, 32768)
	for range 1 << 16 { // bounded: the kernel ends every exchange
		n, _, err := unix.Recvfrom(f.sock, buf, 0)
		if err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			return os.NewSyscallError("recvfrom", err)
		}
		for b := buf[:n]; len(b) >= unix.SizeofNlMsghdr; {
			l := int(ne.Uint32(b))
			if l < unix.SizeofNlMsghdr || l > len(b) {
				return errors.New("malformed netlink reply")
			}
			if typ, seq := ne.Uint16(b[4:]), ne.Uint32(b[8:]); seq == f.seq {
				if typ == unix.NLMSG_ERROR {
					if l < unix.SizeofNlMsghdr+4 {
						return errors.New("short netlink error reply")
					}
					if code := int32(ne.Uint32(b[unix.SizeofNlMsghdr:])); code != 0 {
						return unix.Errno(-code)
					}
					return nil
				}
				if each(typ) {
					return nil
				}
			}
			b = b[min((l+3)&^3, len(b)):]
		}
	}
	return errors.New("netlink exchange did not end")
}

func tcmsg(ifindex int, handle, parent, info uint32) []byte {
	b := make([]byte, 20) // family, pad, pad16, ifindex, handle, parent, info
	ne := binary.NativeEndian
	ne.PutUint32(b[4:], uint32(int32(ifindex)))
	ne.PutUint32(b[8:], handle)
	ne.PutUint32(b[12:], parent)
	ne.PutUint32(b[16:], info)
	return b
}

func attr(typ uint16, data []byte) []byte {
	l := 4 + len(data)
	b := make([]byte, (l+3)&^3)
	binary.NativeEndian.PutUint16(b, uint16(l))
	binary.NativeEndian.PutUint16(b[2:], typ)
	copy(b[4:], data)
	return b
}

func attrString(typ uint16, s string) []byte { return attr(typ, append([]byte(s), 0)) }

func attrU32(typ uint16, v uint32) []byte {
	return attr(typ, binary.NativeEndian.AppendUint32(nil, v))
}

// htons puts v in network byte order, as a native-order value.
func htons(v uint16) uint16 { return binary.NativeEndian.Uint16(binary.BigEndian.AppendUint16(nil, v)) }
