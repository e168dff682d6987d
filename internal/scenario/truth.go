package scenario

import (
	"encoding/json"
	"fmt"
	"math"
	"net/netip"
	"os"
	"time"
)

// Truth is the ground truth of one generated capture.
type Truth struct {
	Scenario      string       `json:"scenario"`
	Seed          int64        `json:"seed"`
	Model         Model        `json:"model"`
	Params        Params       `json:"params"`
	WindowNS      int64        `json:"window_ns"`
	LookbackNS    int64        `json:"lookback_ns"`
	Ports         []uint16     `json:"ports"`
	FirstPacket   string       `json:"first_packet,omitempty"` // RFC 3339 UTC, nanoseconds
	LastPacket    string       `json:"last_packet,omitempty"`
	FirstPacketNS int64        `json:"first_packet_ns"`
	LastPacketNS  int64        `json:"last_packet_ns"`
	Totals        Totals       `json:"totals"`
	Windows       []WindowFact `json:"windows"`
}

// Totals sums a capture.
type Totals struct {
	Packets           int64 `json:"packets"`            // frames written
	SYNPackets        int64 `json:"syn_packets"`        // watched SYNs
	NewSources        int64 `json:"new_sources"`        // sum of per-window new_sources
	DistinctSources   int64 `json:"distinct_sources"`   // distinct source IPs of watched SYNs
	DistinctTargets   int64 `json:"distinct_targets"`   // distinct destination IPs of watched SYNs
	IPv6SYNPackets    int64 `json:"ipv6_syn_packets"`   // watched SYNs over IPv6
	VLANFrames        int64 `json:"vlan_frames"`        // frames with at least one 802.1Q/802.1ad tag
	BackgroundPackets int64 `json:"background_packets"` // frames from the background generator
	FloodPackets      int64 `json:"flood_packets"`      // spoofed flood SYNs
	Retransmissions   int64 `json:"retransmissions"`    // retransmitted probes (watched SYNs too)
	Infections        int64 `json:"infections"`         // infections after Start (generator side)
	Population        int64 `json:"population"`         // sources infected at Start
	ChurnEvents       int64 `json:"churn_events"`       // address changes
	Windows           int   `json:"windows"`
	WarmupWindows     int   `json:"warmup_windows"`
}

// WindowFact is the truth of one window. The first seven fields follow the
// sensor's contract; the rest are generator-side facts.
type WindowFact struct {
	WindowStart     string `json:"window_start"` // RFC 3339 UTC
	WindowEnd       string `json:"window_end"`
	StartNS         int64  `json:"start_ns"`
	SYNPackets      int64  `json:"syn_packets"`
	ActiveSources   int64  `json:"active_sources"`
	NewSources      int64  `json:"new_sources"`
	DistinctTargets int64  `json:"distinct_targets"`
	Warmup          bool   `json:"warmup"`

	Packets      int64   `json:"packets"`                // all frames in the window
	ExpectedRate float64 `json:"expected_rate_per_hour"` // model rate x day/night at window mid
	BurstFactor  float64 `json:"burst_factor"`           // overdispersion multiplier drawn for the window
	Infections   int64   `json:"infections"`             // infections (first probes) in the window
	Infected     int64   `json:"infected"`               // cumulative infected hosts at window end
	Scanning     int64   `json:"scanning"`               // hosts awake (scanning) at window end
	ChurnEvents  int64   `json:"churn_events"`
	FloodPackets int64   `json:"flood_packets"`
}

// Params records the effective configuration in the Truth.
type Params struct {
	Start           string   `json:"start"`
	Duration        string   `json:"duration"`
	Window          string   `json:"window"`
	Lookback        string   `json:"lookback"`
	Rate0           float64  `json:"rate_per_hour"`
	Doubling        string   `json:"doubling"`
	Capacity        int      `json:"capacity"`
	Population      int      `json:"population"`
	MaxSources      int      `json:"max_sources"`
	DayNight        float64  `json:"daynight"`
	Overdispersion  float64  `json:"overdispersion"`
	Churn           float64  `json:"churn_per_hour"`
	ScanDuration    string   `json:"scan_duration"`
	SleepDuration   string   `json:"sleep_duration"`
	ProbesPerMinute float64  `json:"probes_per_minute"`
	RetransmitProb  float64  `json:"retransmit_prob"`
	IPv6Fraction    float64  `json:"ipv6_fraction"`
	VLANFraction    float64  `json:"vlan_fraction"`
	TargetNet       string   `json:"target_net"`
	TargetNet6      string   `json:"target_net6"`
	Background      float64  `json:"background_pps"`
	FloodAt         string   `json:"flood_at"`
	FloodCount      int      `json:"flood_count"`
	FloodSpan       string   `json:"flood_span"`
	SnapLen         int      `json:"snaplen"`
	Ports           []uint16 `json:"ports"`
	// Issue 12's shapes, written only when set.
	Ceiling          float64 `json:"ceiling_per_hour,omitempty"`
	OutbreakAt       string  `json:"outbreak_at,omitempty"`
	OutbreakRate     float64 `json:"outbreak_rate_per_hour,omitempty"`
	OutbreakDoubling string  `json:"outbreak_doubling,omitempty"`
}

func paramsOf(c Config) Params {
	p := Params{
		Start: c.Start.Format(time.RFC3339Nano), Duration: c.Duration.String(),
		Window: c.Window.String(), Lookback: c.Lookback.String(),
		Rate0: c.Rate0, Doubling: c.Doubling.String(), Capacity: c.Capacity,
		Population: c.Population, MaxSources: c.MaxSources,
		DayNight: c.DayNight, Overdispersion: c.Overdispersion, Churn: c.Churn,
		ScanDuration: c.ScanDuration.String(), SleepDuration: c.SleepDuration.String(),
		ProbesPerMinute: c.ProbesPerMinute, RetransmitProb: c.RetransmitProb,
		IPv6Fraction: c.IPv6Fraction, VLANFraction: c.VLANFraction,
		TargetNet: c.TargetNet.String(), TargetNet6: c.TargetNet6.String(),
		Background: c.Background, FloodAt: c.FloodAt.String(), FloodCount: c.FloodCount,
		FloodSpan: c.FloodSpan.String(), SnapLen: c.SnapLen, Ports: c.Ports,
	}
	p.Ceiling = c.Ceiling
	if c.OutbreakRate > 0 {
		p.OutbreakAt, p.OutbreakRate, p.OutbreakDoubling = c.OutbreakAt.String(), c.OutbreakRate, c.OutbreakDoubling.String()
	}
	return p
}

// WriteTruthFile writes t as indented JSON to path.
func WriteTruthFile(path string, t *Truth) error {
	b, err := json.MarshalIndent(t, "", "  ")
	if err != nil {
		return err
	}
	b = append(b, '\n')
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return fmt.Errorf("write truth: %w", err)
	}
	return nil
}

// ReadTruthFile reads a Truth written by WriteTruthFile.
func ReadTruthFile(path string) (*Truth, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var t Truth
	if err := json.Unmarshal(b, &t); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &t, nil
}

// srcState is what the tracker remembers about one source address.
type srcState struct {
	last    int64 // time of its latest watched SYN
	lastWin int64 // window in which it was last counted active
	newWin  int64 // window in which it was last counted new
}

// tracker applies the sensor's counting contract to every written frame.
// It sees only what was written (timestamp and header fields), so its
// counts hold whatever model produced the packets.
type tracker struct {
	w, l    int64
	watched [1024]uint64 // bitmap of watched ports

	started     bool
	first, last int64
	curWin      int64
	cur         WindowFact
	targets     map[netip.Addr]struct{}
	sources     map[netip.Addr]*srcState
	allTargets  map[netip.Addr]struct{}
	windows     []WindowFact
	totals      Totals
}

func newTracker(w, l time.Duration, ports []uint16) *tracker {
	t := &tracker{
		w: int64(w), l: int64(l),
		targets:    make(map[netip.Addr]struct{}),
		sources:    make(map[netip.Addr]*srcState),
		allTargets: make(map[netip.Addr]struct{}),
	}
	for _, p := range ports {
		t.watched[p/64] |= 1 << (p % 64)
	}
	return t
}

func (t *tracker) isWatchedPort(p uint16) bool { return t.watched[p/64]&(1<<(p%64)) != 0 }

// isWatchedSYN is the contract: TCP over IPv4 or IPv6, SYN set, ACK clear,
// destination port watched, not a non-first fragment.
func (t *tracker) isWatchedSYN(p *pktSpec) bool {
	return p.proto == protoTCP && p.fragOff == 0 &&
		p.flags&flagSYN != 0 && p.flags&flagACK == 0 && t.isWatchedPort(p.dport)
}

func (t *tracker) startWindow(ws int64) {
	t.curWin = ws
	t.cur = WindowFact{StartNS: ws}
	clear(t.targets)
}

func (t *tracker) flush() {
	w := t.cur
	w.DistinctTargets = int64(len(t.targets))
	t.windows = append(t.windows, w)
}

// observe accounts one written frame.
func (t *tracker) observe(p *pktSpec) {
	ts := p.ts
	ws := floorDiv(ts, t.w) * t.w
	if !t.started {
		t.started = true
		t.first = ts
		t.startWindow(ws)
	}
	if ts < t.last {
		panic(fmt.Sprintf("scenario: packets out of order: %d after %d", ts, t.last))
	}
	t.last = ts
	for ws > t.curWin {
		t.flush()
		t.startWindow(t.curWin + t.w)
	}
	t.cur.Packets++
	t.totals.Packets++
	if p.vlan != 0 {
		t.totals.VLANFrames++
	}
	switch p.origin {
	case originBackground:
		t.totals.BackgroundPackets++
	case originFlood:
		t.cur.FloodPackets++
		t.totals.FloodPackets++
	case originRetransmit:
		t.totals.Retransmissions++
	}
	if !t.isWatchedSYN(p) {
		return
	}
	t.cur.SYNPackets++
	t.totals.SYNPackets++
	if p.v6 {
		t.totals.IPv6SYNPackets++
	}
	st, seen := t.sources[p.src]
	if !seen {
		st = &srcState{lastWin: math.MinInt64, newWin: math.MinInt64}
		t.sources[p.src] = st
	}
	if (!seen || ts-st.last > t.l) && st.newWin != ws {
		st.newWin = ws
		t.cur.NewSources++
		t.totals.NewSources++
	}
	if st.lastWin != ws {
		st.lastWin = ws
		t.cur.ActiveSources++
	}
	st.last = ts
	t.targets[p.dst] = struct{}{}
	t.allTargets[p.dst] = struct{}{}
}

// genFacts are the generator-side counters of one window, indexed from the
// window holding Start.
type genFacts struct {
	infections  int64
	churn       int64
	burst       float64
	scanning    int64
	scanningSet bool
}

// finish closes the last window and merges the generator facts.
func (t *tracker) finish(c Config, m rateModel, facts []genFacts, population int64) *Truth {
	tr := &Truth{
		Scenario: c.Name, Seed: c.Seed, Model: c.Model, Params: paramsOf(c),
		WindowNS: int64(c.Window), LookbackNS: int64(c.Lookback), Ports: c.Ports,
		Windows: []WindowFact{},
	}
	if t.started {
		t.flush()
		tr.FirstPacketNS, tr.LastPacketNS = t.first, t.last
		tr.FirstPacket = time.Unix(0, t.first).UTC().Format(time.RFC3339Nano)
		tr.LastPacket = time.Unix(0, t.last).UTC().Format(time.RFC3339Nano)
	}
	tot := t.totals
	tot.Population = population
	tot.DistinctSources = int64(len(t.sources))
	tot.DistinctTargets = int64(len(t.allTargets))

	base := floorDiv(c.Start.UnixNano(), t.w) * t.w
	infected := population
	var scanning int64
	next := 0 // next facts index folded into infected/scanning
	fold := func(upto int) {
		for ; next <= upto && next < len(facts); next++ {
			infected += facts[next].infections
			if facts[next].scanningSet {
				scanning = facts[next].scanning
			}
		}
	}
	for i := range t.windows {
		w := &t.windows[i]
		w.WindowStart = time.Unix(0, w.StartNS).UTC().Format(time.RFC3339Nano)
		w.WindowEnd = time.Unix(0, w.StartNS+t.w).UTC().Format(time.RFC3339Nano)
		w.Warmup = w.StartNS < t.first+t.l
		if w.Warmup {
			tot.WarmupWindows++
		}
		w.ExpectedRate = round6(m.expected(w.StartNS + t.w/2))
		w.BurstFactor = 1
		k := int((w.StartNS - base) / t.w)
		fold(k)
		if k >= 0 && k < len(facts) {
			f := facts[k]
			w.Infections, w.ChurnEvents = f.infections, f.churn
			if f.burst != 0 {
				w.BurstFactor = round6(f.burst)
			}
		}
		w.Infected, w.Scanning = infected, scanning
	}
	for _, f := range facts {
		tot.Infections += f.infections
		tot.ChurnEvents += f.churn
	}
	tot.Windows = len(t.windows)
	tr.Totals = tot
	tr.Windows = t.windows
	return tr
}

func round6(v float64) float64 { return math.Round(v*1e6) / 1e6 }
