package engine

import (
	"github.com/synscope/synscope/pkg/decode"
	"github.com/synscope/synscope/pkg/fingerprint"
	"github.com/synscope/synscope/pkg/growth"
	"github.com/synscope/synscope/pkg/sources"
)

// Emitter receives the engine's records in order. The pointers are valid
// only during the call.
type Emitter interface {
	Source(*SourceRecord)
	Window(*WindowRecord)
}

// SourceRecord is a new source's first SYN in the lookback.
type SourceRecord struct {
	Syn         decode.Syn
	WindowStart int64
	// PrevLastSeen is the last SYN before the silence when the source
	// returns after more than the lookback; 0 when never seen before.
	PrevLastSeen int64
	// Returning: seen before, silent for longer than the lookback; set
	// with PrevLastSeen 0 when only the memory of forgotten sources
	// (Config.Remember) knew it.
	Returning bool
	Direction sources.Direction
	// Flood marks a flood source's record (written only when
	// Config.FloodSourceRecords asks for them).
	Flood bool
}

// WindowRecord holds one closed window's counts.
type WindowRecord struct {
	Start, End       int64
	Packets          uint64 // every frame in the window, matched or not
	SynPackets       uint64
	ActiveSources    uint64
	NewSources       uint64
	ReturningSources uint64 // new sources seen before, silent for longer than the lookback
	DistinctTargets  uint64
	TargetsCapped    bool // DistinctTargets hit MaxTargets and is a lower bound
	OutOfOrder       uint64
	Untracked        uint64  // new sources not remembered because the table was full
	Evicted          uint64  // remembered sources forgotten to make room for new ones (the table was full)
	TimeJumps        uint64  // packets taken for bad timestamps, analysed at the clock (Counters.TimeJumps)
	GapBefore        bool    // the capture resumed after a gap longer than MaxGap before this window
	NewPrefixes      uint64  // /24 (IPv4) or /48 (IPv6) prefixes with no SYN in the lookback before
	FloodSources     uint64  // of NewSources, those that arrived in a flood
	Exposure         float64 // fraction of the window the capture covered (first and last windows are partial)
	NewOutbound      uint64  // new sources scanning out of our network
	NewInternal      uint64  // new sources inside our network scanning it
	// NewByTool counts new sources by the tool their first SYN names
	// (fingerprint.Tool order).
	NewByTool [fingerprint.NumTools]uint64
	// BenignSources: of NewSources, those of known benign scanners
	// (Config.Benign).
	BenignSources uint64
	Warmup        bool
	// RunFirst is the first packet of the run that wrote the window: a
	// fleet collector tells a record delivered twice (the same run) from
	// a window two runs shared (a restart: their counts add up).
	RunFirst int64
	// CoveredTo is where the capture ended when it ended within the
	// window (the run's last window, cut short: a restart may cover the
	// rest of it); 0 otherwise.
	CoveredTo int64

	act         sources.Activity // the window's share of its activity interval
	resumed     int64            // GapBefore: when the capture resumed (its coverage starts there)
	decoyAlerts int              // decoy alerts written in it (decoyAlertsMax)
}

// Counters are the engine's running totals, for stats records.
type Counters struct {
	Packets         uint64
	Bytes           uint64
	SynPackets      uint64
	NewSources      uint64
	Returning       uint64
	OutOfOrder      uint64
	TimeJumps       uint64 // packets taken for bad timestamps (beyond MaxGap, or one stray frame an hour ahead), analysed at the clock
	Gaps            uint64 // gaps longer than MaxGap the capture resumed after
	Untracked       uint64 // new sources the full table could not remember
	Evicted         uint64 // sources forgotten early to make room (the table was full)
	ReachFull       uint64 // promotions of a source's reach refused: the side slabs were full
	ShardDrops      uint64 // SYNs dropped because their shard's ring was full (live capture only)
	Expired         uint64 // sources forgotten after the lookback
	FloodSources    uint64 // new sources that arrived in floods
	DecoyTouches    uint64 // sources' first SYNs in an episode to decoy or dark space
	DecoyDropped    uint64 // of those, touches past decoyAlertsMax in a window: no alert
	Alerts          uint64 // alert records written
	TrackedSources  uint64 // remembered now
	Remembered      uint64 // fingerprints in the memory of forgotten sources
	RememberFull    uint64 // forgotten sources the full memory could not take
	Recalled        uint64 // returning sources only the memory knew (stored anew)
	Windows         uint64
	FirstPacket     int64
	LastPacket      int64 // latest packet time seen
	StartedAnything bool
}

// ScannerRecord says that one of our own hosts (outbound or internal by
// --home-net, or seen leaving the interface) has started scanning: it has
// sent SYNs to ScannerTargets distinct destinations in this episode.
type ScannerRecord struct {
	Syn             decode.Syn // the SYN that crossed the threshold
	Direction       sources.Direction
	FirstSeen       int64
	SynPackets      uint32
	DistinctTargets int // estimated
}

// SightingRecord is a known source's first SYN in a refresh period
// (Config.Sightings): what a fleet collector needs to know that the source
// is still active, without a record per SYN.
type SightingRecord struct {
	Syn         decode.Syn
	WindowStart int64
	PrevSeen    int64 // the source's previous SYN at this sensor
}

// SightingEmitter is implemented by emitters that want SightingRecords.
type SightingEmitter interface {
	Sighting(*SightingRecord)
}

// ScannerEmitter is implemented by emitters that want ScannerRecords.
type ScannerEmitter interface {
	Scanner(*ScannerRecord)
}

// ScanRecord says that a source crossed the scanner thresholds
// (Config.ScanHosts hosts or ScanPorts ports on one host within one
// ScanInterval), or, with Update set, that a reported scanner reached more
// targets since its last record (written at the window's end, at most one
// update per window).
type ScanRecord struct {
	Syn        decode.Syn // the SYN that crossed the threshold (an update: the source's latest SYN of the window)
	Kind       sources.ScanKind
	Direction  sources.Direction
	FirstSeen  int64
	SynPackets uint32
	Targets    int // distinct destination addresses in the episode, estimated
	Ports      int // distinct destination ports in the episode, estimated
	Update     bool
}

// ScanEmitter is implemented by emitters that want ScanRecords.
type ScanEmitter interface {
	Scan(*ScanRecord)
}

// GrowthEmitter is implemented by emitters that want the growth verdict
// after every window (Config.Growth set).
type GrowthEmitter interface {
	Growth(*WindowRecord, *growth.Verdict)
}
