package capture

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// EthernetFramed says whether the frames of interface iface start with an
// Ethernet header (an Ethernet device, or loopback) — what live capture
// reads — and fails naming the device's kind when they start at the IP
// header (tun, WireGuard, IP-in-IP: ARPHRD_NONE and the like). It asks the
// kernel (SIOCGIFHWADDR) in the caller's network namespace, which sysfs
// need not show. An interface it cannot ask about is let through: opening
// it will say.
func EthernetFramed(iface, who string) error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq(iface)
	if err != nil {
		return nil
	}
	if unix.IoctlIfreq(fd, unix.SIOCGIFHWADDR, ifr) != nil {
		return nil
	}
	switch t := ifr.Uint16(); t {
	case unix.ARPHRD_ETHER, unix.ARPHRD_LOOPBACK:
		return nil
	default:
		return fmt.Errorf("%s: interface %s has link type %d, not Ethernet (a tun, WireGuard or IP-in-IP device: its packets start at the IP header), which live capture does not read: capture on the Ethernet interface the traffic crosses, or record it (tcpdump -i %s -w FILE) and read the file with -r", who, iface, t, iface)
	}
}
