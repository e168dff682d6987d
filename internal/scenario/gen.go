package scenario

import (
	"fmt"
	"math"
	"math/rand/v2"
	"net/netip"
	"time"
)

// PacketWriter receives the generated frames in non-decreasing timestamp
// order. data holds the captured bytes (already cut to SnapLen) and is valid
// only during the call; origLen is the frame's length on the wire.
type PacketWriter interface {
	WritePacket(ts int64, data []byte, origLen int) error
}

// Resolutioner is implemented by writers that store timestamps coarser than
// a nanosecond (microsecond pcap). Generate rounds every timestamp down to
// that resolution before writing and counting, so the truth matches what a
// reader of the file sees.
type Resolutioner interface {
	Resolution() time.Duration
}

const never = math.MaxInt64

// Streams of random numbers, one per part of the generator, so that a
// change to one part (say the background rate) leaves the others alone.
const (
	streamInfect uint64 = iota + 1
	streamSource
	streamAddr
	streamBackground
	streamFlood
)

// source is one infected host.
type source struct {
	addr    netip.Addr
	profile optLayout
	ecn     bool
	ttl     uint8
	ipid    uint16
	sport   uint16
	tsBase  uint32
	vlan    uint16
	outer   uint16
	awake   bool
	probe   int64 // next probe, never while asleep
	toggle  int64 // next sleep/wake change, never if scanning continuously
	churn   int64 // next address change, never without churn
	ipidInc bool  // Windows: global incrementing IP ID
}

func (s *source) next() int64 { return min(s.probe, s.toggle, s.churn) }

type engine struct {
	cfg        Config
	model      rateModel
	start, end int64
	res        int64
	winNS      int64
	out        PacketWriter
	b          *builder
	tr         *tracker
	h          evHeap
	nextID     uint64
	pkt        pktSpec

	rInf, rSrc, rAddr, rBg, rFlood *rand.Rand

	used       map[netip.Addr]struct{} // every scanner or flood address handed out
	facts      []genFacts
	factBase   int64
	awake      int64
	infections int

	// infection process (thinning) state
	infT, sliceEnd int64
	lamMax, burst  float64
	infDone        bool

	probeRate float64 // per ns
	churnRate float64 // per ns
	bgRate    float64 // per ns
	bgPorts   []uint16

	floodTimes   []int64
	floodNext    int
	floodTarget  netip.Addr
	floodTarget6 netip.Addr
}

// Generate runs the scenario cfg (normalized first, then validated),
// writing every frame to w, and returns the ground truth.
func Generate(cfg Config, w PacketWriter) (*Truth, error) {
	cfg = cfg.Normalize()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	e := newEngine(cfg, w)
	if err := e.run(); err != nil {
		return nil, err
	}
	return e.tr.finish(cfg, e.model, e.facts, int64(cfg.Population)), nil
}

func newEngine(cfg Config, w PacketWriter) *engine {
	seed := uint64(cfg.Seed)
	stream := func(k uint64) *rand.Rand {
		return rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15*k))
	}
	e := &engine{
		cfg: cfg, model: newRateModel(cfg), out: w,
		start: cfg.Start.UnixNano(), res: 1, winNS: int64(cfg.Window),
		b:    newBuilder(),
		tr:   newTracker(cfg.Window, cfg.Lookback, cfg.Ports),
		rInf: stream(streamInfect), rSrc: stream(streamSource), rAddr: stream(streamAddr),
		rBg: stream(streamBackground), rFlood: stream(streamFlood),
		used: make(map[netip.Addr]struct{}),
	}
	e.end = e.start + int64(cfg.Duration)
	if r, ok := w.(Resolutioner); ok && r.Resolution() > 1 {
		e.res = int64(r.Resolution())
	}
	e.factBase = floorDiv(e.start, e.winNS) * e.winNS
	e.probeRate = cfg.ProbesPerMinute / float64(time.Minute)
	e.churnRate = cfg.Churn / nsPerHour
	e.bgRate = cfg.Background / float64(time.Second)
	for _, p := range []uint16{80, 443, 22, 25, 53, 135, 139, 1433, 3389, 8080, 23, 110, 5900, 3306} {
		if !e.tr.isWatchedPort(p) {
			e.bgPorts = append(e.bgPorts, p)
		}
	}
	for p := uint16(1024); len(e.bgPorts) == 0 && p != 0; p++ {
		if !e.tr.isWatchedPort(p) {
			e.bgPorts = append(e.bgPorts, p)
		}
	}
	return e
}

func (e *engine) push(t int64, kind evKind, s *source, p *pktSpec) {
	e.nextID++
	e.h.push(&event{t: t, id: e.nextID, kind: kind, src: s, pkt: p})
}

func (e *engine) factsAt(t int64) *genFacts {
	k := int((floorDiv(t, e.winNS)*e.winNS - e.factBase) / e.winNS)
	for len(e.facts) <= k {
		e.facts = append(e.facts, genFacts{})
	}
	return &e.facts[k]
}

func (e *engine) noteScanning(t int64) {
	f := e.factsAt(t)
	f.scanning, f.scanningSet = e.awake, true
}

func (e *engine) run() error {
	c := e.cfg
	// The initial population, infected before Start.
	for range c.Population {
		s := e.newSource(e.start, e.start+expDelay(e.rSrc, e.probeRate))
		if c.ScanDuration > 0 {
			s.toggle = e.start + int64(e.rSrc.Float64()*float64(c.ScanDuration)) + 1
		}
	}
	e.noteScanning(e.start)
	// Infections after Start.
	if c.Model != ModelFlat && c.Model != ModelNone && c.MaxSources > 0 {
		e.infT, e.sliceEnd = e.start, e.start
		if t, ok := e.nextInfection(); ok {
			e.push(t, evInfect, nil, nil)
		}
	}
	if e.bgRate > 0 {
		if t := e.start + expDelay(e.rBg, e.bgRate); t < e.end {
			e.push(t, evBackground, nil, nil)
		}
	}
	if c.FloodCount > 0 {
		e.planFlood()
		if len(e.floodTimes) > 0 {
			e.push(e.floodTimes[0], evFlood, nil, nil)
		}
	}

	for len(e.h) > 0 {
		ev := e.h[0]
		if ev.t >= e.end {
			break // the heap's minimum is past the end: so is everything
		}
		var err error
		switch ev.kind {
		case evInfect:
			err = e.fireInfect(ev)
		case evSource:
			err = e.fireSource(ev)
		case evBackground:
			err = e.fireBackground(ev)
		case evFlood:
			err = e.fireFlood(ev)
		case evRetransmit:
			err = e.emit(ev.pkt)
			ev.t = never
		}
		if err != nil {
			return err
		}
		if ev.t >= e.end {
			e.h.popTop()
		} else {
			e.h.fixTop()
		}
	}
	return nil
}

// emit quantises, serialises, writes and counts one frame.
func (e *engine) emit(p *pktSpec) error {
	if e.res > 1 {
		p.ts -= floorMod(p.ts, e.res)
	}
	data, err := e.b.build(p)
	if err != nil {
		return fmt.Errorf("scenario: build packet: %w", err)
	}
	orig := len(data)
	if e.cfg.SnapLen > 0 && len(data) > e.cfg.SnapLen {
		data = data[:e.cfg.SnapLen]
	}
	if err := e.out.WritePacket(p.ts, data, orig); err != nil {
		return err
	}
	e.tr.observe(p)
	return nil
}

// nextInfection advances the thinning of the non-homogeneous Poisson
// process of infections. Windows (epoch-aligned, of length Window) are the
// slices: each gets its own burst factor and bound on the rate.
func (e *engine) nextInfection() (int64, bool) {
	if e.infections >= e.cfg.MaxSources {
		return 0, false
	}
	for {
		if e.infT >= e.sliceEnd {
			a := e.sliceEnd
			if a >= e.end {
				return 0, false
			}
			e.sliceEnd = floorDiv(a, e.winNS)*e.winNS + e.winNS
			e.burst = burstFactor(e.rInf, e.cfg.Overdispersion)
			if e.cfg.Overdispersion > 0 {
				e.factsAt(a).burst = e.burst
			}
			b := min(e.sliceEnd, e.end)
			e.lamMax = e.model.maxBase(a, b) * (1 + e.cfg.DayNight) * e.burst / nsPerHour
			e.infT = a
		}
		if e.lamMax <= 0 || math.IsNaN(e.lamMax) {
			e.infT = e.sliceEnd
			continue
		}
		e.infT += expDelay(e.rInf, e.lamMax)
		if e.infT >= e.sliceEnd || e.infT >= e.end {
			e.infT = e.sliceEnd
			continue
		}
		lam := e.model.expected(e.infT) * e.burst / nsPerHour
		if e.rInf.Float64()*e.lamMax < lam {
			return e.infT, true
		}
	}
}

func (e *engine) fireInfect(ev *event) error {
	t := ev.t
	e.infections++
	e.factsAt(t).infections++
	e.newSource(t, t) // first probe at the infection instant
	e.noteScanning(t)
	if nt, ok := e.nextInfection(); ok {
		ev.t = nt
	} else {
		ev.t = never
	}
	return nil
}

// newSource creates a scanning host, awake, whose first probe is at probe.
func (e *engine) newSource(t, probe int64) *source {
	c := e.cfg
	r := e.rSrc
	s := &source{awake: true, probe: probe, toggle: never, churn: never}
	v6 := c.IPv6Fraction > 0 && r.Float64() < c.IPv6Fraction
	s.addr = e.freshAddr(v6)
	switch x := r.Float64(); {
	case v6 || x >= 0.85:
		s.profile = optLinux
		s.ttl = uint8(64 - 2 - r.IntN(30))
		s.ecn = r.Float64() < 0.2
		s.sport = uint16(32768 + r.IntN(28232))
	case x >= 0.7:
		s.profile = optVista
		s.ttl = uint8(128 - 2 - r.IntN(29))
		s.ipidInc = true
		s.sport = uint16(49152 + r.IntN(16383))
	default:
		s.profile = optXP
		s.ttl = uint8(128 - 2 - r.IntN(29))
		s.ipidInc = true
		s.sport = uint16(1025 + r.IntN(3975))
	}
	s.ipid = uint16(r.Uint32())
	s.tsBase = r.Uint32()
	if c.VLANFraction > 0 && r.Float64() < c.VLANFraction {
		s.vlan, s.outer = e.pickVLAN(r)
	}
	if c.ScanDuration > 0 {
		s.toggle = t + jitter(r, c.ScanDuration)
	}
	if e.churnRate > 0 {
		s.churn = t + expDelay(r, e.churnRate)
	}
	e.awake++
	if n := s.next(); n < e.end {
		e.push(n, evSource, s, nil)
	}
	return s
}

func (e *engine) pickVLAN(r *rand.Rand) (vlan, outer uint16) {
	vlans := [...]uint16{10, 20, 30, 100, 200, 445}
	vlan = vlans[r.IntN(len(vlans))]
	if r.IntN(5) == 0 {
		outer = 1000 + uint16(r.IntN(4))
	}
	return vlan, outer
}

func (e *engine) fireSource(ev *event) error {
	s := ev.src
	t := ev.t
	r := e.rSrc
	switch {
	case s.toggle == t:
		if s.awake {
			s.awake = false
			s.probe = never
			s.toggle = t + jitter(r, e.cfg.SleepDuration)
			e.awake--
		} else {
			s.awake = true
			s.probe = t // resumes with a probe at once
			s.toggle = t + jitter(r, e.cfg.ScanDuration)
			e.awake++
		}
		e.noteScanning(t)
	case s.churn == t:
		s.addr = e.churnAddr(s.addr)
		s.churn = t + expDelay(r, e.churnRate)
		e.factsAt(t).churn++
	default:
		if err := e.probe(s, t); err != nil {
			return err
		}
		s.probe = t + expDelay(r, e.probeRate)
	}
	ev.t = s.next()
	return nil
}

// probe sends one SYN from s to a random target, maybe scheduling one
// retransmission of it.
func (e *engine) probe(s *source, t int64) error {
	r := e.rSrc
	c := e.cfg
	p := &e.pkt
	*p = pktSpec{
		ts: t, origin: originScan, v6: s.addr.Is6(), proto: protoTCP,
		src: s.addr, dport: c.Ports[r.IntN(len(c.Ports))],
		flags: flagSYN, seq: r.Uint32(), opts: s.profile, ttl: s.ttl,
		vlan: s.vlan, outer: s.outer,
	}
	if p.v6 {
		p.dst = randomIn(r, c.TargetNet6)
		p.flow = r.Uint32()
	} else {
		p.dst = randomIn(r, c.TargetNet)
	}
	switch s.profile {
	case optLinux:
		p.sport = uint16(32768 + r.IntN(28232))
		p.window, p.mss, p.wscale, p.df = 5840, 1460, 7, true
		if p.v6 {
			p.mss = 1440
		}
		p.tsval = s.tsBase + uint32((t-e.start)/int64(time.Millisecond))
		p.ipid = uint16(r.Uint32())
		if s.ecn {
			p.flags |= flagECE | flagCWR
		}
	case optVista:
		s.sport++
		if s.sport < 49152 {
			s.sport = 49152
		}
		p.sport = s.sport
		p.window, p.mss, p.wscale, p.df = 8192, 1460, 8, true
	default:
		s.sport++
		if s.sport > 5000 || s.sport < 1025 {
			s.sport = 1025
		}
		p.sport = s.sport
		p.window, p.mss, p.df = 65535, 1460, true
	}
	if s.ipidInc {
		s.ipid += 1 + uint16(r.IntN(3))
		p.ipid = s.ipid
	}
	if c.RetransmitProb > 0 && r.Float64() < c.RetransmitProb {
		rt := *p
		rt.origin = originRetransmit
		if s.profile == optLinux {
			rt.ts = t + int64(time.Second)
			rt.ipid = uint16(r.Uint32())
			rt.tsval += 1000
		} else {
			rt.ts = t + 3*int64(time.Second)
			s.ipid += 1 + uint16(r.IntN(3))
			rt.ipid = s.ipid
		}
		if rt.ts < e.end {
			e.push(rt.ts, evRetransmit, nil, &rt)
		}
	}
	return e.emit(p)
}
