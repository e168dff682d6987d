package engine

import (
	"errors"
	"fmt"
	"net/netip"
	"runtime"
	"slices"
	"time"

	"github.com/synscope/synscope/pkg/decode"
	"github.com/synscope/synscope/pkg/ring"
	"github.com/synscope/synscope/pkg/srctable"
)

// Config sets the engine's meanings. Zero values are not defaults: use
// DefaultConfig and change what you need.
type Config struct {
	Window     time.Duration // window length; windows are aligned to the Unix epoch
	Lookback   time.Duration // a source silent this long becomes new again
	MaxSources int           // cap on remembered sources; beyond it new sources are counted but not remembered
	MaxTargets int           // cap on distinct destinations tracked per window
	TopSources int           // how many sources the summary lists
	// FloodThreshold: new sources arriving this many or more within 10 s
	// are a flood (spoofed SYN floods come as thousands of one-packet
	// sources in seconds); they are counted apart so growth ignores them.
	FloodThreshold int
	// HomeNet lists our own networks: new sources are then told apart as
	// inbound, outbound (our host scanning out), internal or external.
	HomeNet []netip.Prefix
	// ScannerTargets: one of our own hosts whose SYNs reach this many
	// distinct destinations is reported as a scanner (0: never).
	ScannerTargets int
	// MaxGap bounds a forward jump of packet time. A packet stamped more
	// than MaxGap after the clock is taken for a bad timestamp (real
	// captures have them: a stamp of 0, a year ahead) and analysed at the
	// clock, counted as a time jump, unless jumpConfirm packets in a row
	// agree: then the capture really resumed later, and the windows resume
	// after the gap without filling it with empty ones.
	MaxGap time.Duration
	// Shards is the number of shard workers, each on its own goroutine
	// behind a ring; 0 runs the one shard inline on the caller's goroutine.
	// The output is the same for every value, except that MaxSources is
	// shared out evenly, so which sources a full table cannot keep depends
	// on it.
	Shards int
	// DropWhenFull: a SYN that finds its shard's ring full is dropped and
	// counted (a live capture must not wait) instead of waiting for room
	// (a file can).
	DropWhenFull bool
}

// MaxLookback bounds the lookback: the source table keeps times as 32-bit
// milliseconds within a generation, which spans about three lookbacks.
const MaxLookback = 240 * time.Hour

// MaxScannerTargets is the most destinations the per-source sketch tells
// apart (it saturates at 44).
const MaxScannerTargets = 40

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
		FloodThreshold: 500,
		ScannerTargets: 10,
		MaxGap:         7 * 24 * time.Hour,
	}
}

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
		return fmt.Errorf("scanner-targets %d: must be at most %d (the per-source sketch of destinations saturates above)", c.ScannerTargets, MaxScannerTargets)
	case c.MaxSources < 1:
		return errors.New("max-sources: must be at least 1")
	case c.MaxTargets < 1:
		return errors.New("max-targets: must be at least 1")
	case c.TopSources < 0:
		return errors.New("top-sources: must not be negative")
	case c.MaxGap < c.Window:
		return fmt.Errorf("max-gap %v: must be at least one window (%v)", c.MaxGap, c.Window)
	case c.FloodThreshold < 2:
		return errors.New("flood-threshold: must be at least 2 new sources per 10 s")
	}
	return nil
}

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
	Direction    Direction
}

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
	TrackedSources  uint64 // remembered now
	Windows         uint64
	FirstPacket     int64
	LastPacket      int64 // latest packet time seen
	StartedAnything bool
}

// TopSource is one entry of the summary's busiest sources.
type TopSource struct {
	Addr            netip.Addr
	SynPackets      uint32
	FirstSeen       int64
	LastSeen        int64
	DistinctTargets int // estimated
}

type key [16]byte

// Engine is the front of the analysis, owned by one goroutine (the one that
// reads the capture): it keeps the clock and the windows, counts what every
// packet adds, and hands each SYN to the shard that owns its source. With
// Shards > 0 each shard runs on its own goroutine behind a lock-free ring;
// at every window's end (and every flushEvery SYNs) a marker goes down each
// ring and the engine waits for every shard's records and counts, then
// puts the records back in capture order: the output is the same whatever
// the scheduling, and the same as with Shards == 0, where the one shard
// runs inline.
type Engine struct {
	cfg      Config
	window   int64
	lookback int64
	emit     Emitter

	started bool
	now     int64 // latest packet time; the clock
	cur     WindowRecord
	win     shardWin // the shards' counts of the window in progress, once handed over
	targets targetSet
	// Sources live in two generations per shard: rotating once per lookback
	// drops a generation whose every entry is older than the lookback, so
	// forgetting costs no walk over the table, and no pause (see rotate).
	rotatedAt int64
	c         Counters
	top       []TopSource
	srcRec    SourceRecord

	shards  []*shard
	inline  bool     // Shards == 0: the one shard runs on this goroutine
	stopped bool     // the workers have stopped (after Flush)
	seq     uint64   // SYNs handed to shards
	pending int      // SYNs handed over since the last marker
	parts   []*part  // scratch for a hand-over
	heads   []int    // scratch for the merge
	wg      chan int // a worker's stop

	// Flood detection: new sources per second over the last 10 seconds.
	burstSec   [10]int64
	burstCount [10]uint32
	flooding   bool
	restored   *restored // a loaded state, applied at Start
	jumpRun    int       // packets in a row stamped beyond MaxGap
	warmFrom   int64     // warm-up counts from here: the first packet, or the end of a gap
}

// ringSize is the number of SYNs a shard's ring holds (88 bytes each).
const ringSize = 1 << 14

// flushEvery bounds the records a shard holds before handing them over.
const flushEvery = 1 << 14

// New builds an engine that sends its records to emit.
func New(cfg Config, emit Emitter) (*Engine, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Engine{
		cfg:      cfg,
		window:   int64(cfg.Window),
		lookback: int64(cfg.Lookback),
		emit:     emit,
		targets:  newTargetSet(),
		inline:   cfg.Shards == 0,
	}, nil
}

// floorDiv rounds toward minus infinity, so windows stay aligned for
// timestamps before 1970 too.
func (e *Engine) windowOf(ts int64) int64 {
	q := ts / e.window
	if ts%e.window < 0 {
		q--
	}
	return q * e.window
}

// Start sets the clock before any packet: a live sensor starts its first
// window at its start time, so an idle link still yields its windows.
// It does nothing once the clock runs.
func (e *Engine) Start(ts int64) {
	if e.started {
		return
	}
	e.started = true
	e.now = ts
	e.c.FirstPacket = ts
	r := e.restored
	if r != nil && r.first <= ts && ts-r.clock <= e.lookback {
		// The capture goes on where the saved one stopped: warm-up counts
		// from the first packet before the restart. (After a gap longer
		// than the lookback the saved sources are all stale and warm-up
		// starts again.)
		e.c.FirstPacket = r.first
	}
	e.warmFrom = e.c.FirstPacket
	e.rotatedAt = ts
	start := e.windowOf(ts)
	e.cur = WindowRecord{Start: start, End: start + e.window}
	e.startShards(ts)
}

func (e *Engine) startShards(ts int64) {
	n := max(e.cfg.Shards, 1)
	per := (e.cfg.MaxSources + n - 1) / n
	e.shards = make([]*shard, n)
	for i := range e.shards {
		e.shards[i] = newShard(&e.cfg, per, ts)
	}
	if r := e.restored; r != nil {
		e.restore(r, ts)
		e.restored = nil
	}
	if e.inline {
		return
	}
	e.wg = make(chan int, n)
	for i, sh := range e.shards {
		sh.in = ring.New[item](ringSize)
		sh.done = make(chan *part, 1)
		go func() {
			sh.run()
			e.wg <- i
		}()
	}
}

// Packet advances the clock with one frame of wireLen bytes stamped ts and
// returns the time the frame is analysed at: ts, or the latest time already
// seen when ts runs backwards. Windows that the clock leaves are closed and
// emitted, empty ones included.
func (e *Engine) Packet(ts int64, wireLen int) int64 {
	if !e.started {
		e.Start(ts)
	} else if ts < e.now {
		ts = e.now
		e.c.OutOfOrder++
		e.cur.OutOfOrder++
		e.jumpRun = 0
	} else if ts-e.now > int64(e.cfg.MaxGap) {
		if e.jumpRun++; e.jumpRun < jumpConfirm {
			ts = e.now
			e.c.TimeJumps++
			e.cur.TimeJumps++
		} else {
			e.jumpRun = 0
			e.skipTo(ts)
		}
	} else {
		e.jumpRun = 0
		e.Advance(ts)
	}
	e.c.Packets++
	e.c.Bytes += uint64(wireLen)
	e.cur.Packets++
	return ts
}

// skipTo resumes after a confirmed gap: the window in progress closes, and
// the next one is the window of ts, marked; a gap longer than the lookback
// starts warm-up again (nothing was watched in it) and a new generation of
// sources (those before the gap are all stale).
func (e *Engine) skipTo(ts int64) {
	if ts-e.now > e.lookback {
		e.warmFrom = ts
		e.closeWindow(ts, true)
	} else {
		e.closeWindow(0, false)
	}
	e.now = ts
	start := e.windowOf(ts)
	e.cur = WindowRecord{Start: start, End: start + e.window, GapBefore: true}
	e.c.Gaps++
}

// Advance moves the clock to ts without a packet (a live sensor's timer
// uses it so idle links still close their windows). It never moves the clock
// backwards and does nothing before the first packet.
func (e *Engine) Advance(ts int64) {
	if !e.started || ts <= e.now {
		return
	}
	e.now = ts
	for ts >= e.cur.End {
		e.closeWindow(0, false)
	}
	if e.inline {
		e.shards[0].drainStep(drainBatch) // once per step, whatever the windows it closed
	}
}

// closeWindow ends the window in progress: every shard hands over its
// records and counts, and the window is emitted. The generations rotate
// when a lookback has passed since the last rotation, or, with force, at
// rotateAt.
func (e *Engine) closeWindow(rotateAt int64, force bool) {
	w := &e.cur
	next := w.End
	rotate := force || next-e.rotatedAt >= e.lookback
	if !force {
		rotateAt = next
	}
	e.handOver(itemWindow, rotate, rotateAt)
	from, to := max(w.Start, e.c.FirstPacket), min(w.End, e.now)
	w.Exposure = 1
	if from > w.Start || to < w.End {
		w.Exposure = max(float64(to-from), 1) / float64(e.window)
	}
	w.ActiveSources = e.win.active
	w.NewSources = e.win.new
	w.ReturningSources = e.win.returning
	w.NewPrefixes = e.win.newPrefixes
	w.NewOutbound = e.win.newOutbound
	w.NewInternal = e.win.newInternal
	w.Untracked = e.win.untracked
	w.Evicted = e.win.evicted
	e.win = shardWin{}
	w.FloodSources = min(w.FloodSources, w.NewSources)
	w.DistinctTargets = uint64(e.targets.len())
	w.Warmup = w.Start < e.warmFrom+e.lookback
	e.emit.Window(w)
	e.c.Windows++
	e.targets.clear()
	e.cur = WindowRecord{Start: next, End: next + e.window}
	if rotate {
		e.rotatedAt = rotateAt
	}
}

// drainBatch bounds the work one step spends offering a dropped
// generation to the top list: about a millisecond.
const drainBatch = 1 << 13

// handOver collects every shard's records since the last hand-over (and,
// for itemWindow, its counts of the window), writes the records in capture
// order, and has the shards rotate their generations at rotateAt when
// rotate is set.
func (e *Engine) handOver(kind uint8, rotate bool, rotateAt int64) {
	if e.inline {
		sh := e.shards[0]
		p := sh.take(kind != itemFlush)
		e.apply(p)
		if rotate {
			sh.rotate(rotateAt)
		}
		if kind == itemStop {
			sh.finish()
		}
		return
	}
	if e.stopped {
		return
	}
	for _, sh := range e.shards {
		s := sh.in.Slot()
		if s == nil {
			sh.in.WaitSpace() // a marker is never dropped
			s = sh.in.Slot()
		}
		s.seq, s.kind = e.seq, kind
		s.syn.Ts, s.syn.Flags = rotateAt, 0
		if rotate {
			s.syn.Flags = 1
		}
		sh.in.Commit()
		sh.in.Publish()
	}
	e.parts = e.parts[:0]
	for _, sh := range e.shards {
		e.parts = append(e.parts, <-sh.done)
	}
	e.merge(e.parts)
	e.pending = 0
	if kind == itemStop {
		for range e.shards {
			<-e.wg
		}
		e.stopped = true
	}
}

// apply writes an inline shard's records and takes its counts.
func (e *Engine) apply(p *part) {
	for i := range p.events {
		e.event(&p.events[i])
	}
	p.events = p.events[:0]
	e.win.add(&p.win)
	p.win = shardWin{}
}

// merge writes the shards' records in the order of the SYNs that caused
// them (each shard's are in that order already) and takes their counts.
func (e *Engine) merge(parts []*part) {
	e.heads = e.heads[:0]
	for _, p := range parts {
		e.heads = append(e.heads, 0)
		e.win.add(&p.win)
	}
	for {
		best := -1
		var bs uint64
		for i, p := range parts {
			if h := e.heads[i]; h < len(p.events) && (best < 0 || p.events[h].seq < bs) {
				best, bs = i, p.events[h].seq
			}
		}
		if best < 0 {
			return
		}
		e.event(&parts[best].events[e.heads[best]])
		e.heads[best]++
	}
}

// event writes one record a shard produced.
func (e *Engine) event(ev *event) {
	if ev.scanner {
		if se, ok := e.emit.(ScannerEmitter); ok {
			se.Scanner(&ScannerRecord{Syn: ev.syn, Direction: ev.dir, FirstSeen: ev.t, SynPackets: ev.syns, DistinctTargets: int(ev.targets)})
		}
		return
	}
	e.c.NewSources++
	if ev.returning {
		e.c.Returning++
	}
	e.countBurst(ev.syn.Ts)
	e.srcRec = SourceRecord{Syn: ev.syn, WindowStart: e.cur.Start, Direction: ev.dir, PrevLastSeen: ev.t}
	e.emit.Source(&e.srcRec)
}

// Sync has every shard hand over the records it holds, so they are written
// now (a live sensor calls it before flushing its output). It is cheap when
// no SYN came since the last hand-over.
func (e *Engine) Sync() {
	if e.started && e.pending > 0 {
		e.handOver(itemFlush, false, 0)
	}
}

// Syn accounts one matched SYN. s.Ts must be the time Packet returned.
func (e *Engine) Syn(s *decode.Syn) {
	e.c.SynPackets++
	e.cur.SynPackets++
	if !e.targets.add(s, e.targets.len() < e.cfg.MaxTargets) {
		e.cur.TargetsCapped = true
	}
	e.seq++
	sh := e.shards[e.shardOf(s)]
	if e.inline {
		sh.syn(s, e.seq)
		if p := &sh.parts[0]; len(p.events) > 0 {
			for i := range p.events {
				e.event(&p.events[i])
			}
			p.events = p.events[:0]
		}
		return
	}
	slot := sh.in.Slot()
	if slot == nil {
		if e.cfg.DropWhenFull {
			runtime.Gosched() // with one P the worker runs only when we yield
			if slot = sh.in.Slot(); slot == nil {
				e.c.ShardDrops++
				return
			}
		} else {
			sh.in.WaitSpace()
			slot = sh.in.Slot()
		}
	}
	slot.seq, slot.kind, slot.syn = e.seq, itemSyn, *s
	sh.in.Commit()
	if e.pending++; e.pending >= flushEvery {
		e.handOver(itemFlush, false, 0)
	}
}

// targetSet is the window's distinct destinations.
type targetSet struct {
	v4 *srctable.Table[uint32, mark]
	v6 *srctable.Table[[16]byte, mark]
}

type mark struct{ set uint32 }

func newTargetSet() targetSet {
	return targetSet{srctable.New[uint32, mark](1024), srctable.New[[16]byte, mark](0)}
}

func (t targetSet) len() int { return t.v4.Len() + t.v6.Len() }

// add notes s's destination, if room; it reports false when the
// destination is new and there was no room.
func (t targetSet) add(s *decode.Syn, room bool) bool {
	if s.V6 {
		h := srctable.Hash6(s.Dst)
		if t.v6.Get(s.Dst, h) != nil {
			return true
		}
		if room {
			t.v6.Put(s.Dst, h, mark{1})
		}
		return room
	}
	k := v4key(s.Dst)
	h := srctable.Hash4(k)
	if t.v4.Get(k, h) != nil {
		return true
	}
	if room {
		t.v4.Put(k, h, mark{1})
	}
	return room
}

func (t targetSet) clear() {
	t.v4.Clear()
	t.v6.Clear()
}

// shardOf picks the shard of a SYN's source by its /24 or /48.
func (e *Engine) shardOf(s *decode.Syn) int { return e.shardOfPrefix(prefixOf(s)) }

// shardOfPrefix picks the shard of a prefix as prefixOf tags it.
func (e *Engine) shardOfPrefix(pfx uint64) int {
	if len(e.shards) == 1 {
		return 0
	}
	h := srctable.Hash64(pfx ^ shardSeed)
	return int(uint64(uint32(h)) * uint64(len(e.shards)) >> 32)
}

// shardSeed makes the shard hash differ from the tables' own.
const shardSeed = 0x9e3779b97f4a7c15

// ScannerRecord says that one of our own hosts (outbound or internal by
// --home-net, or seen leaving the interface) has started scanning: it has
// sent SYNs to ScannerTargets distinct destinations in this episode.
type ScannerRecord struct {
	Syn             decode.Syn // the SYN that crossed the threshold
	Direction       Direction
	FirstSeen       int64
	SynPackets      uint32
	DistinctTargets int // estimated
}

// ScannerEmitter is implemented by emitters that want ScannerRecords.
type ScannerEmitter interface {
	Scanner(*ScannerRecord)
}

// direction classifies a new source's SYN by --home-net, or else by the
// capture's own direction.
func direction(cfg *Config, s *decode.Syn) Direction {
	if len(cfg.HomeNet) == 0 {
		switch s.Dir {
		case decode.DirIngress:
			return DirInbound
		case decode.DirEgress:
			return DirOutbound
		}
		return DirUnknown
	}
	src, dst := home(cfg, s.SrcAddr()), home(cfg, s.DstAddr())
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

func home(cfg *Config, a netip.Addr) bool {
	for _, p := range cfg.HomeNet {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// countBurst notes one new source at time t and counts flood sources: once
// FloodThreshold new sources arrive within 10 seconds, those and every new
// source while the rate stays that high are flood sources.
func (e *Engine) countBurst(t int64) {
	sec := t / int64(time.Second)
	slot := sec % 10
	if slot < 0 {
		slot += 10
	}
	if e.burstSec[slot] != sec {
		e.burstSec[slot], e.burstCount[slot] = sec, 0
	}
	e.burstCount[slot]++
	var n uint64
	for i := range e.burstSec {
		if sec-e.burstSec[i] < 10 {
			n += uint64(e.burstCount[i])
		}
	}
	switch {
	case n < uint64(e.cfg.FloodThreshold):
		e.flooding = false
	case !e.flooding:
		e.flooding = true
		e.cur.FloodSources += n
		e.c.FloodSources += n
	default:
		e.cur.FloodSources++
		e.c.FloodSources++
	}
}

// Flush closes the window in progress and stops the shards. Call it once,
// at the end.
func (e *Engine) Flush() {
	if !e.started {
		return
	}
	e.closeWindow(0, false)
	e.handOver(itemStop, false, 0)
	e.top = e.top[:0]
	for _, sh := range e.shards {
		for _, t := range sh.top {
			offerTop(&e.top, e.cfg.TopSources, t)
		}
	}
}

// Counters returns the running totals (after a hand-over, so the shards'
// figures are current).
func (e *Engine) Counters() Counters {
	e.Sync()
	c := e.c
	for _, sh := range e.shards {
		c.TrackedSources += uint64(sh.tracked())
		c.Expired += sh.tot.expired
		c.Evicted += sh.tot.evicted
		c.Untracked += sh.tot.untracked
	}
	c.LastPacket = e.now
	c.StartedAnything = e.started
	return c
}

// Top returns the busiest source episodes seen, most SYNs first; complete
// only after Flush.
func (e *Engine) Top() []TopSource { return e.top }

// offerTop keeps the n largest episodes in *top, ordered by SYN count and
// then address, so the list is the same on every run.
func offerTop(top *[]TopSource, n int, t TopSource) {
	if n == 0 {
		return
	}
	k := addrKey(t.Addr)
	if len(*top) == n && !better(t.SynPackets, k, (*top)[n-1]) {
		return
	}
	i, _ := slices.BinarySearchFunc(*top, t, func(a, b TopSource) int {
		if better(b.SynPackets, addrKey(b.Addr), a) {
			return 1
		}
		return -1
	})
	*top = slices.Insert(*top, i, t)
	if len(*top) > n {
		*top = (*top)[:n]
	}
}

func better(syns uint32, k key, than TopSource) bool {
	if syns != than.SynPackets {
		return syns > than.SynPackets
	}
	tk := addrKey(than.Addr)
	return slices.Compare(k[:], tk[:]) < 0
}

// keyOf maps IPv4 sources to their IPv4-mapped IPv6 form, so the two
// families share one table without colliding.
func keyOf(s *decode.Syn) key {
	if s.V6 {
		return s.Src
	}
	return key{10: 0xff, 11: 0xff, 12: s.Src[0], 13: s.Src[1], 14: s.Src[2], 15: s.Src[3]}
}

// prefixOf maps a source to its /24 (IPv4) or /48 (IPv6), tagged by family.
func prefixOf(s *decode.Syn) uint64 {
	if s.V6 {
		return 6<<56 | uint64(s.Src[0])<<40 | uint64(s.Src[1])<<32 | uint64(s.Src[2])<<24 |
			uint64(s.Src[3])<<16 | uint64(s.Src[4])<<8 | uint64(s.Src[5])
	}
	return 4<<56 | uint64(s.Src[0])<<16 | uint64(s.Src[1])<<8 | uint64(s.Src[2])
}

func dstKey(s *decode.Syn) key {
	if s.V6 {
		return s.Dst
	}
	return key{10: 0xff, 11: 0xff, 12: s.Dst[0], 13: s.Dst[1], 14: s.Dst[2], 15: s.Dst[3]}
}

func addrKey(a netip.Addr) key { return a.As16() }

func keyAddr(k key) netip.Addr { return netip.AddrFrom16(k).Unmap() }

func hashDst(s *decode.Syn) uint64 {
	k := dstKey(s)
	var h uint64 = 0x9e3779b97f4a7c15
	for i := 0; i < 16; i += 8 {
		h ^= uint64(k[i]) | uint64(k[i+1])<<8 | uint64(k[i+2])<<16 | uint64(k[i+3])<<24 |
			uint64(k[i+4])<<32 | uint64(k[i+5])<<40 | uint64(k[i+6])<<48 | uint64(k[i+7])<<56
		h *= 0xbf58476d1ce4e5b9
		h ^= h >> 31
	}
	return h >> 58
}
