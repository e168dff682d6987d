package bpfcap

import (
	"encoding/binary"
	"errors"
	"fmt"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// nsLinks asks the kernel, in the network namespace it was opened in (the
// sensor's, whatever thread asks later), whether an interface index is
// there: a route netlink socket keeps the namespace it was made in.
type nsLinks struct {
	fd  int
	seq uint32
	buf []byte
}

func openNSLinks() (*nsLinks, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, err
	}
	tv := unix.NsecToTimeval(int64(time.Second))
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		unix.Close(fd)
		return nil, err
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return &nsLinks{fd: fd, buf: make([]byte, 1<<16)}, nil
}

// has reports whether the interface of index idx is in the namespace.
func (n *nsLinks) has(idx int) (bool, error) {
	n.seq++
	req := make([]byte, unix.NLMSG_HDRLEN+unix.SizeofIfInfomsg)
	binary.NativeEndian.PutUint32(req[0:], uint32(len(req)))
	binary.NativeEndian.PutUint16(req[4:], unix.RTM_GETLINK)
	binary.NativeEndian.PutUint16(req[6:], unix.NLM_F_REQUEST)
	binary.NativeEndian.PutUint32(req[8:], n.seq)
	// ifinfomsg: family, pad, type, index, flags, change
	binary.NativeEndian.PutUint32(req[unix.NLMSG_HDRLEN+4:], uint32(int32(idx)))
	if err := unix.Sendto(n.fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return false, err
	}
	for range 8 { // replies to earlier, timed-out requests are passed over
		m, _, err := unix.Recvfrom(n.fd, n.buf, 0)
		if err != nil {
			return false, err
		}
		msgs, err := syscall.ParseNetlinkMessage(n.buf[:m])
		if err != nil {
			return false, err
		}
		for _, msg := range msgs {
			if msg.Header.Seq != n.seq {
				continue
			}
			switch msg.Header.Type {
			case unix.RTM_NEWLINK:
				return true, nil
			case unix.NLMSG_ERROR:
				if len(msg.Data) < 4 {
					return false, errors.New("short netlink error")
				}
				switch errno := unix.Errno(-int32(binary.NativeEndian.Uint32(msg.Data))); errno {
				case unix.ENODEV:
					return false, nil
				case 0:
					continue
				default:
					return false, errno
				}
			}
		}
	}
	return false, fmt.Errorf("no netlink answer for interface %d", idx)
}

func (n *nsLinks) close() {
	if n != nil {
		unix.Close(n.fd)
	}
}
