package scenario

import (
	"container/heap"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net/netip"
	"slices"
	"time"
)

// SleepConfig is a scan-then-sleep population: Hosts hosts, each
// alternating active periods (exponential, mean ActiveMean) in which it
// sends SYNs as a Poisson process at its own rate, and sleeps (exponential,
// mean SleepMean) in which it sends none. Each host's rate is drawn once,
// log-uniform between MinRate and MaxRate SYNs per minute, so slow and busy
// sources are mixed. SleepMean 0 is a population that never sleeps. At
// Start every host is in its stationary phase: active with probability
// ActiveMean/(ActiveMean+SleepMean), with the rest of that period to run.
// A probe is retransmitted (to the same target, 3 s later) with
// probability Retransmit, as Windows does.
type SleepConfig struct {
	Seed             int64
	Start            time.Time     // default DefaultStart
	Duration         time.Duration // default 12 h
	Hosts            int           // default 200
	ActiveMean       time.Duration // default 25 min
	SleepMean        time.Duration // 0: never sleeps
	MinRate, MaxRate float64       // SYNs per minute while active; defaults 1 and 60
	Retransmit       float64       // probability a probe is retransmitted
	Port             uint16        // default 445
	TargetNet        netip.Prefix  // default DefaultTargetNet
}

// SleepTruth is what the generated population did, as the sensor should
// tell it: a sleep counts when it lies wholly inside the run, after the
// host's first SYN and before its last (the host was seen to fall silent
// and to scan again); an active period counts when it lies between two
// such sleeps.
type SleepTruth struct {
	Hosts        int     // hosts that sent at least one SYN
	Sleepers     int     // hosts with at least one sleep
	Sleeps       int     // sleeps
	SleepMeanS   float64 // their mean length, seconds
	SleepMedianS float64
	Actives      int
	ActiveMeanS  float64
	SYNs         int64
}

// SleeperShare is Sleepers / Hosts.
func (t *SleepTruth) SleeperShare() float64 {
	if t.Hosts == 0 {
		return 0
	}
	return float64(t.Sleepers) / float64(t.Hosts)
}

func (c SleepConfig) normalize() (SleepConfig, error) {
	if c.Start.IsZero() {
		c.Start = DefaultStart
	}
	if c.Duration == 0 {
		c.Duration = 12 * time.Hour
	}
	if c.Hosts == 0 {
		c.Hosts = 200
	}
	if c.ActiveMean == 0 {
		c.ActiveMean = 25 * time.Minute
	}
	if c.MinRate == 0 {
		c.MinRate = 1
	}
	if c.MaxRate == 0 {
		c.MaxRate = 60
	}
	if c.Port == 0 {
		c.Port = DefaultPort
	}
	if !c.TargetNet.IsValid() {
		c.TargetNet = DefaultTargetNet
	}
	var errs []error
	if c.Duration < 0 || c.Hosts < 0 || c.ActiveMean < 0 || c.SleepMean < 0 {
		errs = append(errs, errors.New("durations and hosts must be >= 0"))
	}
	if !(c.MinRate > 0 && c.MaxRate >= c.MinRate && c.MaxRate <= 60000) {
		errs = append(errs, fmt.Errorf("rates must satisfy 0 < min (%v) <= max (%v) <= 60000 per minute", c.MinRate, c.MaxRate))
	}
	if !(c.Retransmit >= 0 && c.Retransmit <= 1) {
		errs = append(errs, fmt.Errorf("retransmit probability %v: want [0, 1]", c.Retransmit))
	}
	return c, errors.Join(errs...)
}

// sleeper is one host of a SleepConfig population.
type sleeper struct {
	addr    netip.Addr
	rate    float64 // SYNs per ns while active
	awake   bool
	next    int64 // next event: a probe, a retransmission or a change of phase
	toggle  int64 // end of the current period
	retx    int64 // a pending retransmission (0: none)
	retxDst netip.Addr
	sport   uint16
	ttl     uint8
	// For the truth: first and last SYN, and the sleeps and active periods
	// whose ends are known so far (periods are kept until the last SYN is
	// known, since a sleep after it does not count).
	first, last int64
	sleepFrom   int64   // start of the current sleep (-1: it began before Start or the host is awake)
	activeFrom  int64   // start of the current active period, when it followed a counted sleep (-1: none)
	sleeps      []int64 // [from, to) pairs
	actives     []int64
}

type sleeperHeap []*sleeper

func (h sleeperHeap) Len() int { return len(h) }
func (h sleeperHeap) Less(i, j int) bool {
	if h[i].next != h[j].next {
		return h[i].next < h[j].next
	}
	return h[i].addr.Less(h[j].addr)
}
func (h sleeperHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *sleeperHeap) Push(x any)   { *h = append(*h, x.(*sleeper)) }
func (h *sleeperHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// GenerateSleepers writes the frames of a scan-then-sleep population to w
// (in time order) and returns its truth.
func GenerateSleepers(cfg SleepConfig, w PacketWriter) (*SleepTruth, error) {
	cfg, err := cfg.normalize()
	if err != nil {
		return nil, fmt.Errorf("scenario: sleepers: %w", err)
	}
	r := rand.New(rand.NewPCG(uint64(cfg.Seed), 0x5eeb))
	start := cfg.Start.UnixNano()
	end := start + int64(cfg.Duration)
	b := newBuilder()
	exp := func(mean time.Duration) int64 { return int64(r.ExpFloat64()*float64(mean)) + 1 }
	used := map[netip.Addr]bool{}
	h := make(sleeperHeap, 0, cfg.Hosts)
	all := make([]*sleeper, 0, cfg.Hosts)
	for range cfg.Hosts {
		s := &sleeper{sleepFrom: -1, activeFrom: -1, first: -1}
		for {
			v := r.Uint32()
			a := netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
			if byte(v) != 0 && byte(v) != 255 && !reservedV4(a) && !cfg.TargetNet.Contains(a) && !used[a] {
				s.addr, used[a] = a, true
				break
			}
		}
		perMin := cfg.MinRate * math.Pow(cfg.MaxRate/cfg.MinRate, r.Float64())
		s.rate = perMin / float64(time.Minute)
		s.ttl = uint8(128 - 2 - r.IntN(29))
		s.sport = uint16(1025 + r.IntN(3975))
		s.awake = true
		s.toggle = never
		if cfg.SleepMean > 0 {
			pa := float64(cfg.ActiveMean) / float64(cfg.ActiveMean+cfg.SleepMean)
			s.awake = r.Float64() < pa
			if s.awake {
				s.toggle = start + exp(cfg.ActiveMean)
			} else {
				s.toggle = start + exp(cfg.SleepMean)
			}
		}
		s.next = start
		if s.awake {
			s.next = start + int64(r.ExpFloat64()/s.rate)
		}
		s.next = min(s.next, s.toggle)
		if !s.awake {
			s.next = s.toggle
		}
		all = append(all, s)
		h = append(h, s)
	}
	heap.Init(&h)
	tr := &SleepTruth{}
	var p pktSpec
	send := func(s *sleeper, t int64, dst netip.Addr, retx bool) error {
		p = pktSpec{ts: t, origin: originScan, proto: protoTCP, src: s.addr, dst: dst, dport: cfg.Port,
			flags: flagSYN, seq: r.Uint32(), opts: optXP, ttl: s.ttl, window: 65535, mss: 1460, df: true}
		if retx {
			p.origin = originRetransmit
		} else {
			if s.sport++; s.sport > 5000 || s.sport < 1025 {
				s.sport = 1025
			}
		}
		p.sport = s.sport
		data, err := b.build(&p)
		if err != nil {
			return fmt.Errorf("scenario: build packet: %w", err)
		}
		if err := w.WritePacket(t, data, len(data)); err != nil {
			return err
		}
		tr.SYNs++
		if s.first < 0 {
			s.first = t
		}
		s.last = t
		return nil
	}
	for h.Len() > 0 && h[0].next < end {
		s := h[0]
		t := s.next
		switch {
		case t == s.toggle:
			if s.awake {
				s.awake = false
				s.toggle = t + exp(cfg.SleepMean)
				if s.first >= 0 {
					s.sleepFrom = t // seen before it: it may count
					if s.activeFrom >= 0 {
						s.actives = append(s.actives, s.activeFrom, t)
					}
				}
				s.activeFrom = -1
			} else {
				s.awake = true
				s.toggle = t + exp(cfg.ActiveMean)
				if s.sleepFrom >= 0 {
					s.sleeps = append(s.sleeps, s.sleepFrom, t)
					s.activeFrom = t
				}
				s.sleepFrom = -1
			}
		case s.retx == t:
			if err := send(s, t, s.retxDst, true); err != nil {
				return nil, err
			}
			s.retx = 0
		default:
			dst := randomIn(r, cfg.TargetNet)
			if err := send(s, t, dst, false); err != nil {
				return nil, err
			}
			if cfg.Retransmit > 0 && r.Float64() < cfg.Retransmit && s.retx == 0 {
				s.retx, s.retxDst = t+3*int64(time.Second), dst
			}
		}
		// The next probe: memoryless, so drawn afresh after every event.
		nxt := s.toggle
		if s.awake {
			nxt = min(nxt, t+int64(r.ExpFloat64()/s.rate)+1)
		}
		if s.retx != 0 {
			nxt = min(nxt, s.retx)
		}
		s.next = nxt
		heap.Fix(&h, 0)
	}
	var sleepSum, activeSum float64
	var lens []float64
	for _, s := range all {
		if s.first < 0 {
			continue
		}
		tr.Hosts++
		n := 0
		for i := 0; i < len(s.sleeps); i += 2 {
			if s.sleeps[i+1] <= s.last { // a SYN came after it
				n++
				d := float64(s.sleeps[i+1]-s.sleeps[i]) / 1e9
				sleepSum += d
				lens = append(lens, d)
			}
		}
		if n > 0 {
			tr.Sleepers++
			tr.Sleeps += n
		}
		for i := 0; i < len(s.actives); i += 2 {
			// followed by a counted sleep: the sleep it ends must end by the last SYN
			if j := findPair(s.sleeps, s.actives[i+1]); j >= 0 && s.sleeps[j+1] <= s.last {
				tr.Actives++
				activeSum += float64(s.actives[i+1]-s.actives[i]) / 1e9
			}
		}
	}
	if tr.Sleeps > 0 {
		tr.SleepMeanS = sleepSum / float64(tr.Sleeps)
		tr.SleepMedianS = median(lens)
	}
	if tr.Actives > 0 {
		tr.ActiveMeanS = activeSum / float64(tr.Actives)
	}
	return tr, nil
}

// findPair is the index of the [from, to) pair of v that starts at from.
func findPair(v []int64, from int64) int {
	for i := 0; i < len(v); i += 2 {
		if v[i] == from {
			return i
		}
	}
	return -1
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
