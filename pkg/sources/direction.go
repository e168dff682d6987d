package sources

import (
	"net/netip"

	"github.com/synscope/synscope/pkg/decode"
)

// Direction says which way a new source's first SYN went.
type Direction uint8

// Directions. Unknown when there is no --home-net and the capture cannot
// tell (files, AF_PACKET).
const (
	DirUnknown  Direction = iota
	DirInbound            // to our network (or arriving at the interface)
	DirOutbound           // from our network out (or leaving the interface)
	DirInternal           // between our own hosts
	DirExternal           // neither end ours (transit seen on a span port)
)

var directionNames = [...]string{"", "inbound", "outbound", "internal", "external"}

// String is the name used in records; "" for unknown.
func (d Direction) String() string { return directionNames[d] }

// DirectionOf classifies a SYN by the home networks, or, without them, by
// the capture's own direction.
func DirectionOf(homeNet []netip.Prefix, s *decode.Syn) Direction {
	if len(homeNet) == 0 {
		switch s.Dir {
		case decode.DirIngress:
			return DirInbound
		case decode.DirEgress:
			return DirOutbound
		}
		return DirUnknown
	}
	src, dst := home(homeNet, s.SrcAddr()), home(homeNet, s.DstAddr())
	switch {
	case src && dst:
		return DirInternal
	case src:
		return DirOutbound
	case dst:
		return DirInbound
	}
	return DirExternal
}

func home(homeNet []netip.Prefix, a netip.Addr) bool {
	for _, p := range homeNet {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
