package engine

import (
	"github.com/synscope/synscope/pkg/decode"
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
	Direction    sources.Direction
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
	TimeJumps        uint64  // packets stamped more than MaxGap ahead, analysed at the clock
	GapBefore        bool    // the capture resumed after a gap longer than MaxGap before this window
	NewPrefixes      uint64  // /24 (IPv4) or /48 (IPv6) prefixes with no SYN in the lookback before
	FloodSources     uint64  // of NewSources, those that arrived in a flood
	Exposure         float64 // fraction of the window the capture covered (first and last windows are partial)
	NewOutbound      uint64  // new sources scanning out of our network
	NewInternal      uint64  // new sources inside our network scanning it
	Warmup           bool
}

// Counters are the engine's running totals, for stats records.
type Counters struct {
	Packets         uint64
	Bytes           uint64
	SynPackets      uint64
	NewSources      uint64
	Returning       uint64
	OutOfOrder      uint64
	TimeJumps       uint64 // packets stamped more than MaxGap ahead, analysed at the clock
	Gaps            uint64 // gaps longer than MaxGap the capture resumed after
	Untracked       uint64 // new sources the full table could not remember
	Evicted         uint64 // sources forgotten early to make room (the table was full)
	ShardDrops      uint64 // SYNs dropped because their shard's ring was full (live capture only)
	Expired         uint64 // sources forgotten after the lookback
	FloodSources    uint64 // new sources that arrived in floods
	Alerts          uint64 // alert records written
	TrackedSources  uint64 // remembered now
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

// ScannerEmitter is implemented by emitters that want ScannerRecords.
type ScannerEmitter interface {
	Scanner(*ScannerRecord)
}

// GrowthEmitter is implemented by emitters that want the growth verdict
// after every window (Config.Growth set).
type GrowthEmitter interface {
	Growth(*WindowRecord, *growth.Verdict)
}
