package scenario

import (
	"net/netip"
	"slices"
)

// planFlood draws the flood's instants (sorted) and its single target.
func (e *engine) planFlood() {
	c := e.cfg
	r := e.rFlood
	from := e.start + int64(c.FloodAt)
	e.floodTimes = make([]int64, 0, c.FloodCount)
	for range c.FloodCount {
		t := from + int64(r.Float64()*float64(c.FloodSpan))
		if t < e.end {
			e.floodTimes = append(e.floodTimes, t)
		}
	}
	slices.Sort(e.floodTimes)
	e.floodTarget = randomIn(r, c.TargetNet)
	if c.FloodIPv6 > 0 { // drawn only then: IPv4 floods keep their streams
		e.floodTarget6 = randomIn(r, c.TargetNet6)
	}
}

func (e *engine) fireFlood(ev *event) error {
	r := e.rFlood
	c := e.cfg
	p := &e.pkt
	var src, dst netip.Addr
	if c.FloodIPv6 > 0 && r.Float64() < c.FloodIPv6 {
		src, dst = e.freshV6From(r), e.floodTarget6
	} else {
		src, dst = e.freshAddrFrom(r), e.floodTarget
	}
	*p = pktSpec{
		ts: ev.t, origin: originFlood, proto: protoTCP,
		src: src, dst: dst, v6: src.Is6(),
		sport: uint16(1024 + r.IntN(64511)), dport: c.Ports[0],
		flags: flagSYN, seq: r.Uint32(), window: uint16(512 + r.IntN(65024)),
		ttl: uint8(30 + r.IntN(99)), ipid: uint16(r.Uint32()),
	}
	if c.VLANFraction > 0 && r.Float64() < c.VLANFraction {
		p.vlan, p.outer = e.pickVLAN(r)
	}
	e.floodNext++
	if e.floodNext < len(e.floodTimes) {
		ev.t = e.floodTimes[e.floodNext]
	} else {
		ev.t = never
	}
	return e.emit(p)
}
