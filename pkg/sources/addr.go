package sources

import (
	"net/netip"

	"github.com/synscope/synscope/pkg/decode"
	"github.com/synscope/synscope/pkg/srctable"
)

// Addr is an address as the tables and records key it: IPv6 as it is,
// IPv4 in its IPv4-mapped IPv6 form (::ffff:a.b.c.d), so the two families
// share one key space without colliding.
type Addr [16]byte

// SrcOf is a SYN's source.
func SrcOf(s *decode.Syn) Addr { return addrOf(&s.Src, s.V6) }

// DstOf is a SYN's destination.
func DstOf(s *decode.Syn) Addr { return addrOf(&s.Dst, s.V6) }

// addrOf reads the decoder's layout: IPv4 in the first four bytes.
func addrOf(b *[16]byte, v6 bool) Addr {
	if v6 {
		return *b
	}
	return Addr{10: 0xff, 11: 0xff, 12: b[0], 13: b[1], 14: b[2], 15: b[3]}
}

// FromNetip is a's key.
func FromNetip(a netip.Addr) Addr { return a.As16() }

// fromV4 is the key of an IPv4 address held as a number.
func fromV4(v uint32) Addr {
	return Addr{10: 0xff, 11: 0xff, 12: byte(v >> 24), 13: byte(v >> 16), 14: byte(v >> 8), 15: byte(v)}
}

// Netip is the address, IPv4 unmapped.
func (a Addr) Netip() netip.Addr { return netip.AddrFrom16(a).Unmap() }

// Is4 reports whether a is an IPv4 address.
func (a Addr) Is4() bool {
	return a[10] == 0xff && a[11] == 0xff && [10]byte(a[:10]) == [10]byte{}
}

// V4 is an IPv4 address as a number (the IPv4 tables' key).
func (a Addr) V4() uint32 { return v4num(a[12:16]) }

// v4num reads four bytes as an IPv4 address number.
func v4num(b []byte) uint32 {
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

// Prefix is a source's /24 (IPv4) or /48 (IPv6), tagged by family in the
// top byte: 4<<56 | a.b.c, or 6<<56 | the first six bytes. Prefixes are
// what the shards are split by, so a source and its prefix have one owner.
type Prefix uint64

// PrefixOf is the prefix of a SYN's source.
func PrefixOf(s *decode.Syn) Prefix {
	if s.V6 {
		return prefix6(&s.Src)
	}
	return 4<<56 | Prefix(v4num(s.Src[:4])>>8)
}

// Prefix is a's prefix.
func (a Addr) Prefix() Prefix {
	if a.Is4() {
		return 4<<56 | Prefix(a.V4()>>8)
	}
	return prefix6((*[16]byte)(&a))
}

func prefix6(b *[16]byte) Prefix {
	return 6<<56 | Prefix(b[0])<<40 | Prefix(b[1])<<32 | Prefix(b[2])<<24 |
		Prefix(b[3])<<16 | Prefix(b[4])<<8 | Prefix(b[5])
}

// v6 reports whether p is an IPv6 prefix.
func (p Prefix) v6() bool { return p>>56 == 6 }

// valid reports whether p carries a family tag.
func (p Prefix) valid() bool { return p>>56 == 4 || p>>56 == 6 }

// v4 is an IPv4 prefix as the IPv4 prefix table keys it (a.b.c).
func (p Prefix) v4() uint32 { return uint32(p & 0xffffff) }

// Hash spreads prefixes over shards; seed makes it differ from the tables'
// own hash of the same key.
func (p Prefix) Hash(seed uint64) uint64 { return srctable.Hash64(uint64(p) ^ seed) }
