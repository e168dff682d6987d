package scenario

import (
	"math/rand/v2"
	"net/netip"
)

// randomIn draws an address of prefix pf, avoiding the all-zero and
// all-ones host parts.
func randomIn(r *rand.Rand, pf netip.Prefix) netip.Addr {
	a := pf.Masked().Addr().As16()
	hostBits := 128 - pf.Bits()
	if pf.Addr().Is4() {
		hostBits = 32 - pf.Bits()
	}
	for {
		var h [16]byte
		for i := range 16 {
			h[i] = byte(r.Uint32())
		}
		allZero, allOnes := true, true
		b := a
		for i := 15; i >= 0; i-- {
			bit := (15 - i) * 8
			if bit >= hostBits {
				break
			}
			mask := byte(0xff)
			if hostBits-bit < 8 {
				mask = byte(1<<(hostBits-bit)) - 1
			}
			hv := h[i] & mask
			b[i] |= hv
			allZero = allZero && hv == 0
			allOnes = allOnes && hv == mask
		}
		if !allZero && !allOnes {
			if pf.Addr().Is4() {
				return netip.AddrFrom4([4]byte(b[12:16]))
			}
			return netip.AddrFrom16(b)
		}
	}
}

// publicV4 draws a public-looking IPv4 address (no private, reserved,
// multicast or documentation ranges, not our target network).
func (e *engine) publicV4(r *rand.Rand) netip.Addr {
	for {
		v := r.Uint32()
		a := netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
		if b := byte(v); b == 0 || b == 255 {
			continue
		}
		if reservedV4(a) || e.cfg.TargetNet.Contains(a) {
			continue
		}
		return a
	}
}

var reservedNets = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"), netip.MustParsePrefix("10.0.0.0/8"),
	netip.MustParsePrefix("100.64.0.0/10"), netip.MustParsePrefix("127.0.0.0/8"),
	netip.MustParsePrefix("169.254.0.0/16"), netip.MustParsePrefix("172.16.0.0/12"),
	netip.MustParsePrefix("192.0.0.0/24"), netip.MustParsePrefix("192.0.2.0/24"),
	netip.MustParsePrefix("192.168.0.0/16"), netip.MustParsePrefix("198.18.0.0/15"),
	netip.MustParsePrefix("198.51.100.0/24"), netip.MustParsePrefix("203.0.113.0/24"),
	netip.MustParsePrefix("224.0.0.0/3"),
}

func reservedV4(a netip.Addr) bool {
	for _, p := range reservedNets {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// remoteV6 draws an address in 2001:db8::/32 outside our IPv6 targets.
func (e *engine) remoteV6(r *rand.Rand) netip.Addr {
	for {
		var b [16]byte
		b[0], b[1], b[2], b[3] = 0x20, 0x01, 0x0d, 0xb8
		for i := 4; i < 16; i++ {
			b[i] = byte(r.Uint32())
		}
		a := netip.AddrFrom16(b)
		if !e.cfg.TargetNet6.Contains(a) {
			return a
		}
	}
}

// freshAddr hands out a never-used scanner address.
func (e *engine) freshAddr(v6 bool) netip.Addr {
	for {
		var a netip.Addr
		if v6 {
			a = e.remoteV6(e.rAddr)
		} else {
			a = e.publicV4(e.rAddr)
		}
		if _, dup := e.used[a]; !dup {
			e.used[a] = struct{}{}
			return a
		}
	}
}

// churnAddr hands out a never-used address in old's /24 (IPv4) or /64
// (IPv6), or a fresh one when that subnet is exhausted.
func (e *engine) churnAddr(old netip.Addr) netip.Addr {
	r := e.rAddr
	b := old.As16()
	for range 256 {
		if old.Is4() {
			b[15] = byte(1 + r.IntN(254))
		} else {
			for i := 8; i < 16; i++ {
				b[i] = byte(r.Uint32())
			}
		}
		a := netip.AddrFrom16(b)
		if old.Is4() {
			a = a.Unmap()
		}
		if _, dup := e.used[a]; !dup {
			e.used[a] = struct{}{}
			return a
		}
	}
	return e.freshAddr(old.Is6())
}

// freshAddrFrom is freshAddr (IPv4) drawing from the given stream.
func (e *engine) freshAddrFrom(r *rand.Rand) netip.Addr {
	for {
		a := e.publicV4(r)
		if _, dup := e.used[a]; !dup {
			e.used[a] = struct{}{}
			return a
		}
	}
}

// freshV6From is freshAddrFrom for IPv6 addresses.
func (e *engine) freshV6From(r *rand.Rand) netip.Addr {
	for {
		a := e.remoteV6(r)
		if _, dup := e.used[a]; !dup {
			e.used[a] = struct{}{}
			return a
		}
	}
}
