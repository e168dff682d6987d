package scenario

import (
	"math/rand/v2"
	"net/netip"
)

// Background frame kinds, none of them a watched SYN.
const (
	bgSYNOtherPort  = iota // remote -> ours, SYN to a port not watched
	bgSYNACKOut            // ours -> remote, SYN-ACK (from 445 and others)
	bgSYNACKToWatch        // remote -> ours:watched, SYN-ACK (not a SYN for the contract)
	bgDataToWatch          // remote -> ours:watched, ACK or PSH-ACK with data
	bgDataOut              // ours -> remote, ACK or PSH-ACK with data
	bgRSTToWatch           // remote -> ours:watched, RST or RST-ACK
	bgFINToWatch           // remote -> ours:watched, FIN-ACK or FIN-PSH-URG
	bgUDP                  // DNS, NetBIOS, NTP, SSDP, either way (to 445 too)
	bgICMP                 // echo requests
	bgARP                  // who-has
	bgFragment             // non-first IPv4 fragment whose bytes look like a SYN to 445
	bgSYNOut               // ours -> remote, SYN to 80/443
	bgKinds
)

var bgWeights = [bgKinds]int{20, 10, 4, 18, 14, 4, 3, 13, 5, 3, 3, 3}

var bgCumWeights = func() (c [bgKinds]int) {
	s := 0
	for i, w := range bgWeights {
		s += w
		c[i] = s
	}
	return c
}()

func pickBackgroundKind(r *rand.Rand) int {
	x := r.IntN(bgCumWeights[bgKinds-1])
	for i, c := range bgCumWeights {
		if x < c {
			return i
		}
	}
	return bgKinds - 1
}

func (e *engine) fireBackground(ev *event) error {
	r := e.rBg
	c := e.cfg
	p := &e.pkt
	kind := pickBackgroundKind(r)
	*p = pktSpec{ts: ev.t, origin: originBackground, proto: protoTCP, seq: r.Uint32(), ack: r.Uint32()}
	switch kind {
	case bgSYNOtherPort, bgSYNACKOut, bgSYNACKToWatch, bgDataToWatch, bgDataOut,
		bgRSTToWatch, bgFINToWatch, bgUDP, bgSYNOut:
		p.v6 = c.IPv6Fraction > 0 && r.Float64() < c.IPv6Fraction
	}
	remote := func() netip.Addr {
		if p.v6 {
			return e.remoteV6(r)
		}
		return e.publicV4(r)
	}
	ours := func() netip.Addr {
		if p.v6 {
			return randomIn(r, c.TargetNet6)
		}
		return randomIn(r, c.TargetNet)
	}
	watched := func() uint16 { return c.Ports[r.IntN(len(c.Ports))] }
	ephemeral := func() uint16 { return uint16(1025 + r.IntN(64510)) }
	inbound := func() {
		p.src, p.dst = remote(), ours()
		p.ttl = uint8(30 + r.IntN(99))
	}
	outbound := func() {
		p.outbound = true
		p.src, p.dst = ours(), remote()
		p.ttl = [2]uint8{63, 127}[r.IntN(2)]
	}
	bulk := 25
	if c.BulkPercent > 0 {
		bulk = c.BulkPercent
	}
	empty := (100 - bulk) * 3 / 5
	payload := func() int {
		switch x := r.IntN(100); {
		case x < empty:
			return 0
		case x < 100-bulk:
			return 1 + r.IntN(200)
		default:
			if p.v6 {
				return 1440
			}
			return 1460
		}
	}
	p.window = uint16(1024 + r.IntN(64512))
	p.ipid = uint16(r.Uint32())
	p.df = true
	p.flow = r.Uint32()

	switch kind {
	case bgSYNOtherPort:
		inbound()
		p.sport, p.dport = ephemeral(), e.bgPorts[r.IntN(len(e.bgPorts))]
		p.flags, p.ack = flagSYN, 0
		p.opts, p.mss, p.wscale = optLinux, 1460, 7
		p.tsval = r.Uint32()
	case bgSYNOut:
		outbound()
		p.sport, p.dport = ephemeral(), [2]uint16{80, 443}[r.IntN(2)]
		if e.tr.isWatchedPort(p.dport) {
			p.flags = flagSYN | flagACK
		} else {
			p.flags, p.ack = flagSYN, 0
		}
		p.opts, p.mss = optXP, 1460
	case bgSYNACKOut:
		outbound()
		p.sport, p.dport = [3]uint16{445, 80, 443}[r.IntN(3)], ephemeral()
		p.flags = flagSYN | flagACK
		p.opts, p.mss = optXP, 1460
	case bgSYNACKToWatch:
		inbound()
		p.sport, p.dport = ephemeral(), watched()
		p.flags = flagSYN | flagACK
		p.opts, p.mss, p.wscale = optVista, 1460, 2
	case bgDataToWatch:
		inbound()
		p.sport, p.dport = ephemeral(), watched()
		p.flags = flagACK
		if p.payload = payload(); p.payload > 0 {
			p.flags |= flagPSH
		}
	case bgDataOut:
		outbound()
		p.sport, p.dport = [3]uint16{445, 80, 443}[r.IntN(3)], ephemeral()
		p.flags = flagACK
		if p.payload = payload(); p.payload > 0 {
			p.flags |= flagPSH
		}
	case bgRSTToWatch:
		inbound()
		p.sport, p.dport = ephemeral(), watched()
		p.flags = flagRST
		if r.IntN(2) == 0 {
			p.flags |= flagACK
		} else {
			p.ack = 0
		}
	case bgFINToWatch:
		inbound()
		p.sport, p.dport = ephemeral(), watched()
		if r.IntN(4) == 0 {
			p.flags, p.ack = flagFIN|flagPSH|flagURG, 0
		} else {
			p.flags = flagFIN | flagACK
		}
	case bgUDP:
		p.proto, p.flags = protoUDP, 0
		ports := [...]uint16{53, 137, 138, 123, 1900, 445}
		if r.IntN(2) == 0 {
			inbound()
			p.sport, p.dport = ephemeral(), ports[r.IntN(len(ports))]
		} else {
			outbound()
			p.sport, p.dport = ephemeral(), ports[r.IntN(len(ports))]
		}
		p.payload = 20 + r.IntN(120)
	case bgICMP:
		p.proto = protoICMP
		inbound()
		p.icmpID = uint16(r.Uint32())
		p.payload = 32
	case bgARP:
		p.proto = protoARP
		p.outbound = true
		p.src, p.dst = randomIn(r, c.TargetNet), randomIn(r, c.TargetNet)
	case bgFragment:
		inbound()
		p.sport, p.dport = ephemeral(), watched()
		p.flags = flagSYN
		p.fragOff = uint16(1 + r.IntN(370)) // 8 .. 2960 bytes in
		p.df = false
		p.payload = 8 * r.IntN(60)
	}
	if c.VLANFraction > 0 && r.Float64() < c.VLANFraction {
		p.vlan, p.outer = e.pickVLAN(r)
	}
	if t := ev.t + expDelay(r, e.bgRate); t < e.end {
		ev.t = t
	} else {
		ev.t = never
	}
	return e.emit(p)
}
