package scenario

import (
	"errors"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// Model names the infection model: how the rate of new infections (new
// scanning sources per hour) evolves over the scenario.
type Model string

// Infection models.
const (
	// ModelSteady: a constant expected rate of Rate0 new sources per hour.
	ModelSteady Model = "steady"
	// ModelExponential: the rate grows as Rate0 * 2^(t/Doubling).
	ModelExponential Model = "exponential"
	// ModelLogistic: the cumulative number of infections follows a logistic
	// curve with capacity Capacity whose early growth doubles every
	// Doubling; the early rate equals Rate0 * 2^(t/Doubling).
	ModelLogistic Model = "logistic"
	// ModelFlat: a fixed population of Population sources, all infected
	// before Start, re-scanning all along. No new infections; new addresses
	// appear only through Churn (or after sleeping longer than Lookback).
	ModelFlat Model = "flat"
	// ModelDecline: the rate decays as Rate0 * 2^(-t/Doubling) (Doubling is
	// the half-life).
	ModelDecline Model = "decline"
	// ModelNone: no scanning population (Population still applies).
	ModelNone Model = "none"
)

// Models lists the known models in a stable order.
var Models = []Model{ModelSteady, ModelExponential, ModelLogistic, ModelFlat, ModelDecline, ModelNone}

// Defaults applied by Config.Normalize to zero-valued fields.
var (
	DefaultStart      = time.Date(2009, 1, 10, 0, 0, 0, 0, time.UTC)
	DefaultTargetNet  = netip.MustParsePrefix("198.18.0.0/15")
	DefaultTargetNet6 = netip.MustParsePrefix("2001:db8:c612::/112")
)

// Default values of the time and port parameters.
const (
	DefaultDuration   = 6 * time.Hour
	DefaultWindow     = 5 * time.Minute
	DefaultLookback   = 24 * time.Hour
	DefaultFloodSpan  = 10 * time.Second
	DefaultMaxSources = 1_000_000
	DefaultPort       = 445
)

// Config describes one scenario. The zero value of most fields means "off";
// Normalize fills the documented defaults.
type Config struct {
	Name string // preset name, informational (copied into the Truth)
	Seed int64  // seeds every random stream; same Config, same bytes

	Start    time.Time     // first instant of the scenario (default 2009-01-10T00:00:00Z)
	Duration time.Duration // length of the scenario (default 6h); events at >= Start+Duration are dropped

	// Truth parameters, mirroring the sensor's configuration.
	Window   time.Duration // window length W (default 5m), windows epoch-aligned
	Lookback time.Duration // lookback L (default 24h) for "new source"
	Ports    []uint16      // watched destination ports (default [445]); probes use them

	// Infection model.
	Model      Model         // default steady
	Rate0      float64       // new sources per hour at Start (steady, exponential, logistic, decline)
	Doubling   time.Duration // doubling time (exponential, logistic) or half-life (decline)
	Capacity   int           // logistic capacity: total infections approach it
	Population int           // sources already infected at Start (flat: the whole fixed population)
	MaxSources int           // cap on infections after Start (default 1,000,000)

	// Changes of a steady rate (the shapes a growth classifier must not
	// take for an epidemic): from StepAt after Start the rate is StepRate
	// instead of Rate0 (a campaign switching on); BurstCount extra new
	// sources arrive over the window-long span from BurstAt (0: none).
	StepAt     time.Duration
	StepRate   float64
	BurstAt    time.Duration
	BurstCount int

	// Ceiling (exponential model): the rate stops growing once it reaches
	// Ceiling new sources per hour and stays there (a plateau); 0: never.
	Ceiling float64
	// An outbreak on a steady background (steady model): from OutbreakAt
	// after Start, OutbreakRate·2^((t-OutbreakAt)/OutbreakDoubling) new
	// sources per hour arrive on top of Rate0 (OutbreakRate 0: none).
	OutbreakAt       time.Duration
	OutbreakRate     float64
	OutbreakDoubling time.Duration

	// Modulations of the infection rate.
	DayNight       float64 // amplitude 0..1 of a 24 h sinusoid, peak at 14:00 UTC, mean 1
	Overdispersion float64 // 0 = Poisson; d > 0 = rate times a Gamma(1/d, d) factor drawn per window

	// Source behaviour.
	Churn           float64       // probability per hour that a source moves to a never-seen address in its /24 (/64)
	ScanDuration    time.Duration // mean time a source scans before sleeping (0 = never sleeps)
	SleepDuration   time.Duration // mean time a source sleeps before resuming scanning
	ProbesPerMinute float64       // mean SYN probes per minute per scanning source, Poisson (default 1)
	RetransmitProb  float64       // probability that a probe is retransmitted once (3 s later on XP, 1 s on Linux)
	IPv6Fraction    float64       // fraction of sources (and of some background) that are IPv6
	VLANFraction    float64       // fraction of frames (of sources) carrying an 802.1Q tag; a fifth of those are QinQ

	// Targets: "our" network.
	TargetNet  netip.Prefix // IPv4 targets of probes (default 198.18.0.0/15)
	TargetNet6 netip.Prefix // IPv6 targets of probes (default 2001:db8:c612::/112)

	// Background: packets per second that are never watched SYNs (SYNs to
	// other ports, SYN-ACKs, ACKs/data/RSTs to watched ports, UDP, ICMP, ARP,
	// non-first IPv4 fragments).
	Background float64
	// BulkPercent is the share of background TCP segments, in percent, that
	// carry a full-size payload (0: 25); of the rest, 60 % carry none and
	// 40 % a small one.
	BulkPercent int

	// Flood: FloodCount one-packet SYNs from distinct spoofed, never-seen
	// sources to one target, spread uniformly over [FloodAt, FloodAt+FloodSpan)
	// after Start. FloodCount 0 = no flood.
	FloodAt    time.Duration
	FloodCount int
	FloodSpan  time.Duration // default 10s
	// FloodIPv6 is the share of flood sources that are IPv6 (aimed at one
	// IPv6 target of TargetNet6); 0 keeps the flood IPv4 only.
	FloodIPv6 float64

	// SnapLen truncates written frames (0 = whole frames). It must leave
	// every header in place (>= 128).
	SnapLen int
}

// Normalize returns a copy with defaults filled in for zero-valued fields.
func (c Config) Normalize() Config {
	if c.Start.IsZero() {
		c.Start = DefaultStart
	}
	c.Start = c.Start.UTC()
	if c.Duration == 0 {
		c.Duration = DefaultDuration
	}
	if c.Window == 0 {
		c.Window = DefaultWindow
	}
	if c.Lookback == 0 {
		c.Lookback = DefaultLookback
	}
	if len(c.Ports) == 0 {
		c.Ports = []uint16{DefaultPort}
	} else {
		c.Ports = slices.Clone(c.Ports)
	}
	if c.Model == "" {
		c.Model = ModelSteady
	}
	if c.MaxSources == 0 {
		c.MaxSources = DefaultMaxSources
	}
	if c.ProbesPerMinute == 0 {
		c.ProbesPerMinute = 1
	}
	if !c.TargetNet.IsValid() {
		c.TargetNet = DefaultTargetNet
	}
	if !c.TargetNet6.IsValid() {
		c.TargetNet6 = DefaultTargetNet6
	}
	if c.FloodCount > 0 && c.FloodSpan == 0 {
		c.FloodSpan = DefaultFloodSpan
	}
	return c
}

// Validate reports the first problem of a normalized Config.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	frac := func(name string, v float64) {
		if !(v >= 0 && v <= 1) {
			bad("%s must be within [0, 1], got %v", name, v)
		}
	}
	nonneg := func(name string, v float64) {
		if !(v >= 0) || math.IsInf(v, 0) {
			bad("%s must be a finite number >= 0, got %v", name, v)
		}
	}
	if c.Duration <= 0 {
		bad("duration must be > 0, got %v", c.Duration)
	}
	if c.Window <= 0 {
		bad("window must be > 0, got %v", c.Window)
	}
	if c.Lookback < 0 {
		bad("lookback must be >= 0, got %v", c.Lookback)
	}
	if len(c.Ports) == 0 {
		bad("at least one watched port is needed")
	}
	for _, p := range c.Ports {
		if p == 0 {
			bad("port 0 cannot be watched")
		}
	}
	if !slices.Contains(Models, c.Model) {
		bad("unknown model %q (known: %s)", c.Model, modelList())
	}
	nonneg("rate", c.Rate0)
	nonneg("step rate", c.StepRate)
	nonneg("burst count", float64(c.BurstCount))
	nonneg("ceiling", c.Ceiling)
	nonneg("outbreak rate", c.OutbreakRate)
	if c.Ceiling > 0 && c.Model != ModelExponential {
		bad("a ceiling needs the exponential model, not %s", c.Model)
	}
	if c.OutbreakRate > 0 {
		if c.Model != ModelSteady {
			bad("an outbreak needs the steady model (its background), not %s", c.Model)
		}
		if c.OutbreakDoubling <= 0 || c.OutbreakAt < 0 {
			bad("an outbreak needs a doubling time > 0 and a start >= 0")
		}
	}
	switch c.Model {
	case ModelExponential, ModelLogistic, ModelDecline:
		if c.Doubling <= 0 {
			bad("model %s needs a doubling time (half-life for decline) > 0", c.Model)
		}
	}
	if c.Model == ModelLogistic && c.Capacity <= 0 {
		bad("model logistic needs a capacity > 0")
	}
	if c.Model == ModelFlat && c.Population <= 0 {
		bad("model flat needs a population > 0")
	}
	if c.Population < 0 || c.Capacity < 0 || c.MaxSources < 0 {
		bad("population, capacity and max sources must be >= 0")
	}
	frac("day/night amplitude", c.DayNight)
	nonneg("overdispersion", c.Overdispersion)
	nonneg("churn", c.Churn)
	if c.Churn > 60 {
		bad("churn must be <= 60 per hour, got %v", c.Churn)
	}
	if c.ScanDuration < 0 || c.SleepDuration < 0 {
		bad("scan and sleep durations must be >= 0")
	}
	if c.ScanDuration > 0 && c.SleepDuration <= 0 {
		bad("a scan duration needs a sleep duration > 0")
	}
	nonneg("probes per minute", c.ProbesPerMinute)
	if c.ProbesPerMinute <= 0 || c.ProbesPerMinute > 60000 {
		bad("probes per minute must be within (0, 60000], got %v", c.ProbesPerMinute)
	}
	frac("retransmit probability", c.RetransmitProb)
	frac("IPv6 fraction", c.IPv6Fraction)
	frac("VLAN fraction", c.VLANFraction)
	nonneg("background", c.Background)
	if c.BulkPercent < 0 || c.BulkPercent > 100 {
		bad("bulk percent must be within [0, 100], got %d", c.BulkPercent)
	}
	if c.Background > 1e6 {
		bad("background must be <= 1e6 packets per second")
	}
	if !c.TargetNet.Addr().Is4() || c.TargetNet.Bits() > 30 {
		bad("target network must be an IPv4 prefix of at most /30, got %v", c.TargetNet)
	}
	if !c.TargetNet6.Addr().Is6() || c.TargetNet6.Addr().Is4In6() || c.TargetNet6.Bits() > 126 {
		bad("IPv6 target network must be an IPv6 prefix of at most /126, got %v", c.TargetNet6)
	}
	if c.FloodCount < 0 || c.FloodCount > 10_000_000 {
		bad("flood count must be within [0, 10000000], got %d", c.FloodCount)
	}
	if c.FloodCount > 0 {
		if c.FloodAt < 0 || c.FloodAt >= c.Duration {
			bad("flood time %v must be within [0, duration %v)", c.FloodAt, c.Duration)
		}
		if c.FloodSpan <= 0 {
			bad("flood span must be > 0")
		}
		if !(c.FloodIPv6 >= 0 && c.FloodIPv6 <= 1) {
			bad("flood IPv6 share must be within [0, 1], got %v", c.FloodIPv6)
		}
	}
	if c.SnapLen != 0 && (c.SnapLen < 128 || c.SnapLen > 262144) {
		bad("snap length must be 0 or within [128, 262144], got %d", c.SnapLen)
	}
	return errors.Join(errs...)
}

func modelList() string {
	s := make([]string, len(Models))
	for i, m := range Models {
		s[i] = string(m)
	}
	return strings.Join(s, ", ")
}

// ParseModel accepts a model name (case-insensitive).
func ParseModel(s string) (Model, error) {
	m := Model(strings.ToLower(strings.TrimSpace(s)))
	if !slices.Contains(Models, m) {
		return "", fmt.Errorf("unknown model %q (known: %s)", s, modelList())
	}
	return m, nil
}

// ParsePorts parses a comma-separated list of ports ("445,139").
func ParsePorts(s string) ([]uint16, error) {
	var ports []uint16
	for f := range strings.SplitSeq(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		var p int
		if _, err := fmt.Sscanf(f, "%d", &p); err != nil || fmt.Sprint(p) != f || p < 1 || p > 65535 {
			return nil, fmt.Errorf("bad port %q: want 1..65535", f)
		}
		if !slices.Contains(ports, uint16(p)) {
			ports = append(ports, uint16(p))
		}
	}
	if len(ports) == 0 {
		return nil, errors.New("no port given")
	}
	return ports, nil
}
