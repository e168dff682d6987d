package engine

import (
	"errors"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"time"

	"github.com/synscope/synscope/pkg/decode"
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
}

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

// entry is what the engine remembers of a source: 32 bytes.
type entry struct {
	first    int64 // first SYN of the current episode (since the last silence > lookback)
	last     int64
	targets  uint64 // a 64-bit linear-counting sketch of destinations
	syns     uint32
	dir      Direction
	reported bool // an outbound_scanner record was written for this episode
}

// Engine is single-owner state: one goroutine feeds it.
type Engine struct {
	cfg      Config
	window   int64
	lookback int64
	emit     Emitter

	started bool
	now     int64 // latest packet time; the clock
	cur     WindowRecord
	// Sources live in two generations: a source touched is in sources; one
	// not touched since the last rotation sits in oldSources, and moves
	// back when it is. Rotating once per lookback drops a generation whose
	// every entry is older than the lookback (see rotate): forgetting costs
	// no walk over the table, so no pause, whatever its size.
	sources     map[key]entry
	oldSources  map[key]entry
	draining    map[key]entry // a dropped generation, offered to the top list a batch per window
	targets     map[key]struct{}
	rotatedAt   int64
	c           Counters
	top         []TopSource
	srcRec      SourceRecord
	prefixes    map[uint64]int64 // prefix -> last SYN, in two generations like sources
	oldPrefixes map[uint64]int64
	// Flood detection: new sources per second over the last 10 seconds.
	burstSec   [10]int64
	burstCount [10]uint32
	flooding   bool
	restored   *restored // a loaded state, applied at Start
	jumpRun    int       // packets in a row stamped beyond MaxGap
	warmFrom   int64     // warm-up counts from here: the first packet, or the end of a gap
}

// New builds an engine that sends its records to emit.
func New(cfg Config, emit Emitter) (*Engine, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Engine{
		cfg:         cfg,
		window:      int64(cfg.Window),
		lookback:    int64(cfg.Lookback),
		emit:        emit,
		sources:     make(map[key]entry, 1024),
		oldSources:  map[key]entry{},
		oldPrefixes: map[uint64]int64{},
		targets:     make(map[key]struct{}, 1024),
		prefixes:    make(map[uint64]int64, 1024),
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
	if r := e.restored; r != nil && r.first <= ts && ts-r.clock <= e.lookback {
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
// starts warm-up again (nothing was watched in it).
func (e *Engine) skipTo(ts int64) {
	e.closeWindow()
	if ts-e.now > e.lookback {
		e.warmFrom = ts
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
		e.closeWindow()
	}
	e.drain(drainBatch) // once per step, whatever the windows it closed
}

func (e *Engine) closeWindow() {
	w := &e.cur
	from, to := max(w.Start, e.c.FirstPacket), min(w.End, e.now)
	w.Exposure = 1
	if from > w.Start || to < w.End {
		w.Exposure = max(float64(to-from), 1) / float64(e.window)
	}
	w.FloodSources = min(w.FloodSources, w.NewSources)
	w.DistinctTargets = uint64(len(e.targets))
	w.Warmup = w.Start < e.warmFrom+e.lookback
	e.emit.Window(w)
	e.c.Windows++
	next := w.End
	clear(e.targets)
	e.cur = WindowRecord{Start: next, End: next + e.window}
	// Forget sources silent for longer than the lookback. It changes no
	// count (such a source is new when it returns either way) and keeps the
	// tables bounded by two lookbacks.
	if next-e.rotatedAt >= e.lookback {
		e.rotate(next)
	}
}

// drainBatch bounds the work one step of the clock spends on a dropped
// generation: about a millisecond.
const drainBatch = 1 << 13

// rotate starts a new generation. Every entry still in oldSources was last
// touched before the previous rotation, at least one lookback before now,
// so now it is older than the lookback: the whole generation is expired and
// is dropped without looking at it (its entries are offered to the top list
// a batch at a time, by drain).
func (e *Engine) rotate(now int64) {
	// A previous drop not offered in full yet (a clock jump of several
	// lookbacks in one step) gets one more batch; the rest is let go
	// unseen: the top list may miss an episode, the pause stays bounded.
	e.drain(drainBatch)
	e.c.Expired += uint64(len(e.oldSources))
	e.draining = e.oldSources
	e.oldSources, e.sources = e.sources, make(map[key]entry, 1024)
	e.oldPrefixes, e.prefixes = e.prefixes, make(map[uint64]int64, 1024)
	e.rotatedAt = now
}

// drain offers up to n entries (all when n < 0) of a dropped generation to
// the top list and lets them go.
func (e *Engine) drain(n int) {
	for k, v := range e.draining {
		if n == 0 {
			return
		}
		n--
		e.offerTop(k, v)
		delete(e.draining, k)
	}
	e.draining = nil
}

// lookup finds a source in either generation, moving an old one back to
// the current generation's side (the caller stores it there).
func (e *Engine) lookup(k key) (entry, bool) {
	if v, ok := e.sources[k]; ok {
		return v, true
	}
	v, ok := e.oldSources[k]
	if ok {
		delete(e.oldSources, k)
	}
	return v, ok
}

func (e *Engine) tracked() int { return len(e.sources) + len(e.oldSources) }

// Syn accounts one matched SYN. s.Ts must be the time Packet returned.
func (e *Engine) Syn(s *decode.Syn) {
	t := s.Ts
	e.c.SynPackets++
	e.cur.SynPackets++
	k := keyOf(s)
	if len(e.targets) < e.cfg.MaxTargets {
		e.targets[dstKey(s)] = struct{}{}
	} else if _, ok := e.targets[dstKey(s)]; !ok {
		e.cur.TargetsCapped = true
	}
	pk := prefixOf(s)
	last, seen := e.prefixes[pk]
	if !seen {
		if last, seen = e.oldPrefixes[pk]; seen {
			delete(e.oldPrefixes, pk)
		}
	}
	if !seen || t-last > e.lookback {
		e.cur.NewPrefixes++
	}
	if seen || len(e.prefixes)+len(e.oldPrefixes) < e.cfg.MaxSources {
		e.prefixes[pk] = t
	}
	v, known := e.lookup(k)
	isNew := !known || t-v.last > e.lookback
	if !isNew {
		if v.last < e.cur.Start {
			e.cur.ActiveSources++
		}
		v.last = t
		v.syns++
		v.targets |= 1 << (hashDst(s) & 63)
		if (v.dir == DirOutbound || v.dir == DirInternal) && !v.reported {
			v.reported = e.reportScanner(s, v)
		}
		e.sources[k] = v
		return
	}
	e.cur.ActiveSources++
	e.cur.NewSources++
	e.c.NewSources++
	e.countBurst(t)
	e.srcRec = SourceRecord{Syn: *s, WindowStart: e.cur.Start, Direction: e.direction(s)}
	switch e.srcRec.Direction {
	case DirOutbound:
		e.cur.NewOutbound++
	case DirInternal:
		e.cur.NewInternal++
	}
	if known {
		e.cur.ReturningSources++
		e.c.Returning++
		e.srcRec.PrevLastSeen = v.last
		e.offerTop(k, v)
	}
	ne := entry{first: t, last: t, syns: 1, targets: 1 << (hashDst(s) & 63), dir: e.srcRec.Direction}
	if known || e.tracked() < e.cfg.MaxSources {
		e.sources[k] = ne
	} else {
		e.cur.Untracked++
		e.c.Untracked++
	}
	e.emit.Source(&e.srcRec)
}

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

// reportScanner writes a ScannerRecord once an own host's SYNs reach
// ScannerTargets distinct destinations; it reports whether it did.
func (e *Engine) reportScanner(s *decode.Syn, v entry) bool {
	n := estimate(v.targets)
	if n < e.cfg.ScannerTargets {
		return false
	}
	if se, ok := e.emit.(ScannerEmitter); ok {
		se.Scanner(&ScannerRecord{Syn: *s, Direction: v.dir, FirstSeen: v.first, SynPackets: v.syns, DistinctTargets: n})
	}
	return true
}

// direction classifies a new source's SYN by --home-net, or else by the
// capture's own direction.
func (e *Engine) direction(s *decode.Syn) Direction {
	if len(e.cfg.HomeNet) == 0 {
		switch s.Dir {
		case decode.DirIngress:
			return DirInbound
		case decode.DirEgress:
			return DirOutbound
		}
		return DirUnknown
	}
	src, dst := e.home(s.SrcAddr()), e.home(s.DstAddr())
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

func (e *Engine) home(a netip.Addr) bool {
	for _, p := range e.cfg.HomeNet {
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

// Flush closes the window in progress. Call it once, at the end.
func (e *Engine) Flush() {
	if !e.started {
		return
	}
	e.closeWindow()
	e.drain(-1)
	for _, m := range []map[key]entry{e.sources, e.oldSources} {
		for k, v := range m {
			e.offerTop(k, v)
		}
	}
}

// Counters returns the running totals.
func (e *Engine) Counters() Counters {
	c := e.c
	c.TrackedSources = uint64(e.tracked())
	c.LastPacket = e.now
	c.StartedAnything = e.started
	return c
}

// Top returns the busiest source episodes seen, most SYNs first; complete
// only after Flush.
func (e *Engine) Top() []TopSource { return e.top }

// offerTop keeps the TopSources largest episodes, ordered by SYN count and
// then address, so the list is the same on every run.
func (e *Engine) offerTop(k key, v entry) {
	n := e.cfg.TopSources
	if n == 0 {
		return
	}
	if len(e.top) == n && !better(v.syns, k, e.top[n-1]) {
		return
	}
	t := TopSource{
		Addr:            keyAddr(k),
		SynPackets:      v.syns,
		FirstSeen:       v.first,
		LastSeen:        v.last,
		DistinctTargets: estimate(v.targets),
	}
	i, _ := slices.BinarySearchFunc(e.top, t, func(a, b TopSource) int {
		if better(b.SynPackets, addrKey(b.Addr), a) {
			return 1
		}
		return -1
	})
	e.top = slices.Insert(e.top, i, t)
	if len(e.top) > n {
		e.top = e.top[:n]
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

// estimate reads a 64-bit linear-counting sketch: about right below a few
// hundred distinct values, saturating above.
func estimate(bits uint64) int {
	zeros := 64
	for b := bits; b != 0; b &= b - 1 {
		zeros--
	}
	if zeros == 0 {
		zeros = 1 // saturated: the estimate is a floor
	}
	return int(math.Round(-64 * math.Log(float64(zeros)/64)))
}
