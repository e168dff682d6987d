package engine

import (
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/synscope/synscope/pkg/benign"
	"github.com/synscope/synscope/pkg/growth"
	"github.com/synscope/synscope/pkg/sources"
)

// Config sets the engine's meanings. Zero values are not defaults: use
// DefaultConfig and change what you need.
type Config struct {
	Window     time.Duration // window length; windows are aligned to the Unix epoch
	Lookback   time.Duration // a source silent this long becomes new again
	MaxSources int           // cap on remembered sources; beyond it new sources are counted but not remembered
	MaxTargets int           // cap on distinct destinations tracked per window
	TopSources int           // how many sources the summary lists
	// FloodThreshold: a destination that receives the first SYNs of this
	// many new sources or more within 10 s is flooded (spoofed SYN floods
	// come as thousands of one-packet sources aimed at few targets within
	// seconds; a scanning population spreads over many targets). Its
	// sources are counted apart, so growth ignores them, and summarized in
	// one flood record per window (flood.go).
	FloodThreshold int
	// FloodSourceRecords writes a source record for each flood source
	// too (by default a flood record per window summarizes them).
	FloodSourceRecords bool
	// HomeNet lists our own networks: new sources are then told apart as
	// inbound, outbound (our host scanning out), internal or external.
	HomeNet []netip.Prefix
	// ScannerTargets: one of our own hosts whose SYNs reach this many
	// distinct destinations is reported as a scanner (0: never).
	ScannerTargets int
	// ScanHosts, ScanPorts, ScanInterval: any source whose SYNs reach
	// ScanHosts distinct hosts, or ScanPorts distinct ports on one host,
	// within one ScanInterval (aligned to the epoch) is reported as a
	// scanner (Zeek's Address_Scan and Port_Scan defaults: 25, 15, 5m).
	ScanHosts, ScanPorts int
	ScanInterval         time.Duration
	// Decoys and DarkNet are address space where nothing listens: a
	// source's first SYN there in its episode is an alert (AlertDecoy).
	Decoys, DarkNet []netip.Prefix
	// Benign lists known benign scanners: their new sources are counted
	// apart in each window and, with GrowthExcludeBenign, kept out of the
	// growth classifier's counts.
	Benign              *benign.List
	GrowthExcludeBenign bool
	// MaxGap bounds a forward jump of packet time. A packet stamped more
	// than MaxGap after the clock is taken for a bad timestamp (real
	// captures have them: a stamp of 0, a year ahead) and analysed at the
	// clock, counted as a time jump, unless jumpConfirm packets in a row
	// agree: then the capture really resumed later, and the windows resume
	// after the gap without filling it with empty ones.
	MaxGap time.Duration
	// Shards is the number of shard workers, each on its own goroutine
	// behind a ring; 0 runs the one shard inline on the caller's goroutine.
	// For one value the output depends only on the input. It is the same
	// for every value, except that MaxSources (and the bounds made from
	// it) is shared out evenly, so which sources a full table cannot keep
	// depends on it, and that each shard has its own memory of forgotten
	// sources, so which new sources a fingerprint collision makes
	// returning does too.
	Shards int
	// DropWhenFull: a SYN that finds its shard's ring full is dropped and
	// counted (a live capture must not wait) instead of waiting for room
	// (a file can).
	DropWhenFull bool
	// Sightings (a multiple of Window, at most Lookback; 0: off) has the
	// engine emit a SightingRecord for a known source's first SYN in each
	// such period, for a fleet collector (sensor --kafka-refresh); it also
	// has every flood source written (FloodSourceRecords), since the
	// collector counts new sources by address.
	Sightings time.Duration
	// ActivityInterval is how often the engine writes an ActivityRecord:
	// per source, active periods and sleeps (sources.SleepFloor,
	// sources.SleepFactor); one more covers the run at the end. It is
	// rounded up to a whole number of windows (0: one window).
	ActivityInterval time.Duration
	// Remember (0: off) is how long a source the table forgot (a lookback
	// of silence, or evicted) is remembered at least, in a compact memory
	// (4 bytes a fingerprint, sources/remember.go), so that it is told as
	// returning when it comes back; rounded up to whole lookbacks.
	Remember time.Duration
	// Growth, when set, has the engine classify the growth of new sources
	// after every window (floods taken out) and emit the verdict.
	Growth *growth.Config
}

// MaxLookback bounds the lookback: the source table keeps times as 32-bit
// milliseconds within a generation, which spans about three lookbacks.
const MaxLookback = 240 * time.Hour

// MaxScannerTargets bounds ScannerTargets.
const MaxScannerTargets = sources.MaxScannerTargets

// jumpConfirm packets in a row beyond MaxGap make a jump real.
const jumpConfirm = 64

// DefaultConfig is the configuration DESIGN.md describes.
func DefaultConfig() Config {
	return Config{
		Window:         5 * time.Minute,
		Lookback:       24 * time.Hour,
		MaxSources:     10_000_000,
		MaxTargets:     1_000_000,
		TopSources:     10,
		FloodThreshold: 50,
		ScannerTargets: 10,
		ScanHosts:      25,
		ScanPorts:      15,
		ScanInterval:   5 * time.Minute,
		MaxGap:         7 * 24 * time.Hour,

		ActivityInterval: time.Hour,
		Remember:         7 * 24 * time.Hour,
	}
}

// MaxRemember bounds Remember.
const MaxRemember = 365 * 24 * time.Hour

// Validate refuses settings that cannot work, naming the setting.
func (c Config) Validate() error {
	switch {
	case c.Window < time.Second:
		return fmt.Errorf("window %v: must be at least 1s", c.Window)
	case c.Window > 7*24*time.Hour:
		return fmt.Errorf("window %v: must be at most 168h", c.Window)
	case c.Lookback < c.Window:
		return fmt.Errorf("lookback %v: must be at least one window (%v)", c.Lookback, c.Window)
	case c.Lookback > MaxLookback:
		return fmt.Errorf("lookback %v: must be at most %v", c.Lookback, MaxLookback)
	case c.Shards < 0 || c.Shards > 256:
		return fmt.Errorf("shards %d: must be 0 to 256", c.Shards)
	case c.ScannerTargets > MaxScannerTargets:
		return fmt.Errorf("scanner-targets %d: must be at most %d", c.ScannerTargets, MaxScannerTargets)
	case c.ScanHosts < 2 || c.ScanHosts > sources.MaxScanThreshold:
		return fmt.Errorf("scan-hosts %d: must be 2 to %d", c.ScanHosts, sources.MaxScanThreshold)
	case c.ScanPorts < 2 || c.ScanPorts > sources.MaxScanThreshold:
		return fmt.Errorf("scan-ports %d: must be 2 to %d", c.ScanPorts, sources.MaxScanThreshold)
	case c.ScanInterval < time.Second || c.ScanInterval > MaxLookback:
		return fmt.Errorf("scan-interval %v: must be from 1s to %v", c.ScanInterval, MaxLookback)
	case c.MaxSources < 1:
		return errors.New("max-sources: must be at least 1")
	case c.MaxTargets < 1:
		return errors.New("max-targets: must be at least 1")
	case c.TopSources < 0:
		return errors.New("top-sources: must not be negative")
	case c.MaxGap < c.Window:
		return fmt.Errorf("max-gap %v: must be at least one window (%v)", c.MaxGap, c.Window)
	case c.Sightings < 0 || c.Sightings%c.Window != 0 || c.Sightings > c.Lookback:
		return fmt.Errorf("sightings every %v: must be a multiple of the window (%v) and at most the lookback", c.Sightings, c.Window)
	case c.ActivityInterval < 0 || c.ActivityInterval > MaxRemember:
		return fmt.Errorf("activity-interval %v: must be from 0 to %v", c.ActivityInterval, MaxRemember)
	case c.Remember < 0 || c.Remember > MaxRemember:
		return fmt.Errorf("remember %v: must be 0 (off) to %v", c.Remember, MaxRemember)
	case c.FloodThreshold < 2:
		return errors.New("flood-threshold: must be at least 2 new sources towards one target per 10 s")
	}
	if _, err := sources.NewSpace(c.Decoys, c.DarkNet); err != nil {
		return err
	}
	return nil
}

// tableConfig is what the per-source tables need of the configuration.
func (c *Config) tableConfig() *sources.Config {
	space, _ := sources.NewSpace(c.Decoys, c.DarkNet) // Validate has refused a bad one
	return &sources.Config{Window: int64(c.Window), Lookback: int64(c.Lookback), TopSources: c.TopSources,
		ScannerTargets: c.ScannerTargets, ScanHosts: c.ScanHosts, ScanPorts: c.ScanPorts,
		ScanInterval: int64(c.ScanInterval), HomeNet: c.HomeNet, Space: space, Refresh: int64(c.Sightings),
		ActivityInterval: int64(c.activityInterval()), Remember: int64(c.Remember)}
}

// activityInterval is ActivityInterval rounded up to whole windows.
func (c *Config) activityInterval() time.Duration {
	n := max((c.ActivityInterval+c.Window-1)/c.Window, 1)
	return n * c.Window
}
