package sources

import (
	"net/netip"
	"time"

	"github.com/synscope/synscope/pkg/decode"
	"github.com/synscope/synscope/pkg/srctable"
)

// Config is what a table needs of the engine's settings.
type Config struct {
	Window, Lookback int64 // ns
	TopSources       int   // length of the busiest-sources list
	ScannerTargets   int   // our host is a scanner at this many destinations (0: never)
	// Any source is a scanner (a ScanSource event) at ScanHosts distinct
	// hosts, or ScanPorts distinct ports on one host, within one scan
	// interval of ScanInterval ns (aligned to the epoch, as windows are).
	ScanHosts, ScanPorts int
	ScanInterval         int64
	HomeNet              []netip.Prefix
	// Space, when set, is the decoy and dark address space: a source's
	// first SYN there in its episode is an event (Event.Space).
	Space *Space
	// Refresh (ns, a multiple of Window; 0: off) has a known source's
	// first SYN in each refresh period make a Sighting event, for a fleet
	// collector that must know the source is still active.
	Refresh int64
	// ActivityInterval (ns, a multiple of Window) is the interval the
	// activity counts are of (activity.go).
	ActivityInterval int64
	// Remember (ns; 0: off) is how long a forgotten source is remembered
	// (remember.go), rounded up to whole lookbacks.
	Remember int64
}

// Counts are a table's share of a window's counts.
type Counts struct {
	Active, New, Returning, NewPrefixes, NewOutbound, NewInternal, Untracked, Evicted uint64
}

// Add adds b to c.
func (c *Counts) Add(b *Counts) {
	c.Active += b.Active
	c.New += b.New
	c.Returning += b.Returning
	c.NewPrefixes += b.NewPrefixes
	c.NewOutbound += b.NewOutbound
	c.NewInternal += b.NewInternal
	c.Untracked += b.Untracked
	c.Evicted += b.Evicted
}

// Totals are a table's running totals.
type Totals struct {
	Expired, Evicted, Untracked uint64
	// ReachFull counts promotions of a source's reach refused because the
	// side slabs were full: its reach then reads low.
	ReachFull uint64
	// RememberFull counts forgotten sources the memory had no room for;
	// Recalled, returning sources the table had forgotten (the memory
	// knew them): they are stored anew.
	RememberFull, Recalled uint64
}

// EventKind says what a SYN made of its source.
type EventKind uint8

// Event kinds.
const (
	NoEvent    EventKind = iota
	NewSource            // the source's first SYN in the lookback
	Scanner              // one of our own hosts reached ScannerTargets destinations
	ScanSource           // a source crossed ScanHosts or ScanPorts (or a scanner's reach grew in a later window)
	Sighting             // a known source's first SYN in a refresh period (Config.Refresh)
)

// Event is what a SYN made of its source, when anything.
type Event struct {
	Kind      EventKind
	Returning bool // a new source seen before, silent for longer than the lookback (T is then its last SYN, or 0 when only the memory knew it)
	Dir       Direction
	// Sighted: the SYN of a Scanner or ScanSource event was also the source's first in
	// its refresh period, so it is a sighting too; Prev is then (and for
	// a Sighting) the source's previous SYN. (Sighted sits in the padding
	// after Dir: events are copied per new source, the hostile path.)
	Sighted bool
	// T is PrevLastSeen of a returning source, FirstSeen of a scanner.
	T       int64
	Syns    uint32 // a scanner's SYNs in this episode
	Targets int32  // a scanner's estimated destinations
	Ports   int32  // a scanner's estimated destination ports (ScanSource)
	Scan    ScanKind
	Update  bool // ScanSource: a later record of a reported scanner
	// Space is set when the SYN is the source's first in its episode to
	// decoy or dark space (with any Kind, NoEvent included).
	Space SpaceKind
	Prev  int64
}

// Table is one shard's sources and prefixes. It is owned by one goroutine.
type Table struct {
	cfg      *Config
	lookback int64 // cfg's, kept beside the tables: read for every SYN
	window   int64
	refresh  int64 // cfg's Refresh
	cap      int   // sources (and prefixes) it may remember
	cur, old *gen
	drop     *gen // a dropped generation being offered to the top list
	dropCur  [2]srctable.Cursor
	dropSyns uint32 // SYNs accounted since drop was dropped (drainTick)
	// heavy holds SYN counts of sources beyond 2047 in multiples of 2048
	// (srcVal keeps the low 11 bits) until they are promoted; few sources
	// ever get here.
	heavy map[Addr]uint32
	// dropHeavy are the heavy counts of the dropped generation's sources,
	// taken out of heavy when it was dropped: a source that comes back
	// while its old episode is still being let go starts a new one in cur
	// under the same address (it inherited the old count, and the drain
	// then deleted the new one's).
	dropHeavy map[Addr]uint32
	top       []TopSource
	win       Counts
	tot       Totals

	// Promoted reach (reach.go): slabs reused through free lists, so
	// steady state allocates nothing; a slot holds its source's index.
	rs        slab[reach]
	wides     slab[wide]
	hlls      slab[hll]
	hps       slab[hostSet]
	rsHand    hand     // stage-1 entries' owners, for taking them back (reclaim.go)
	wHand     hand     // stage 2's
	hpOwner   []uint32 // the wide entry each hps entry was given to (reclaimHostSet)
	hpHand    int      // where reclaimHostSet looks next
	scanEvery int64
	ep, wn    span                                // the scan interval and window of the last promoted SYN
	touched   *srctable.Table[[16]byte, touchVal] // sources that touched decoy or dark space
	smallScan bool                                // a threshold low enough to cross in stage 1

	// Activity (activity.go) and the memory of forgotten sources
	// (remember.go).
	actEvery int64
	as       span // the activity interval of the last SYN that asked
	act      Activity
	runStart int64 // the clock's start: known sources last seen before it come from a saved state
	// restoreFloor: a saved source last seen before it is forgotten at
	// Restore (StartRestore sets it).
	restoreFloor int64
	mem          memory
	hints        []reachHint // where promoted sources' reach entries are (prefetch.go)
	told         bool        // Prefetch has been called: its caller tells the SYNs ahead
	// grown are the latest SYNs of reported scanners whose reach grew
	// since their last record, each listed once (scanHdr.queued), to be
	// updated at the window's end (FlushScans).
	grown []grownScan
}

// NewTable makes a table that remembers at most capacity sources, with its
// first generation starting at start.
func NewTable(cfg *Config, capacity int, start int64) *Table {
	t := &Table{
		cfg:       cfg,
		lookback:  cfg.Lookback,
		window:    cfg.Window,
		refresh:   cfg.Refresh,
		cap:       capacity,
		heavy:     map[Addr]uint32{},
		cur:       newGen(start, 1024),
		old:       newGen(start, 0),
		scanEvery: max(cfg.ScanInterval, 1),
		smallScan: cfg.ScanHosts <= smallPairs+1 || cfg.ScanPorts <= smallPairs+1,
		actEvery:  max(cfg.ActivityInterval, cfg.Window, 1),
		runStart:  genBase(start), // as the tables keep times: the run's first source is its own
	}
	if cfg.Remember > 0 {
		l := max(cfg.Lookback, 1)
		span := (cfg.Remember + l - 1) / l * l
		// A full table forgets at most its capacity a lookback by
		// silence (evictions come on top): a generation holds that many
		// a lookback of its span, within the bound that keeps false
		// positives under 1 %.
		t.mem = memory{span: span, since: start, max: min(max(capacity, fpMinSlots)*int(span/l), fpMaxPerGen)}
	}
	// Bounds of the side slabs: a spoofed flood never gets here (one SYN
	// each); a population of real scanners does, and beyond the bounds
	// their reach reads low (Totals.ReachFull).
	t.touched = srctable.New[[16]byte, touchVal](0)
	// (Both within the index a promoted source's value holds: below
	// wideBit. A shard of 2^31 sources would otherwise allow 2^28.)
	t.rs.max = min(capacity/8+1024, wideBit)
	t.wides.max = min(capacity/256+256, wideBit)
	t.hlls.max = t.wides.max / 4 // port HyperLogLogs: port scanners past 16 ports
	t.hps.max = t.wides.max / 4  // per-host ports: sources of more than one port
	return t
}

// TakeCounts returns the window's counts so far and starts new ones.
func (t *Table) TakeCounts() Counts {
	c := t.win
	t.win = Counts{}
	return c
}

// Totals returns the running totals.
func (t *Table) Totals() Totals { return t.tot }

// Tracked is the number of sources remembered now.
func (t *Table) Tracked() int { return t.cur.sources() + t.old.sources() }

// Syn accounts one SYN of this table's sources (s.Ts is its time) and
// reports whether it made an event, which it then writes to ev (an out
// parameter: most SYNs make none, and the hot path copies nothing for them).
// With decoy or dark space (Config.Space), follow it with Watch.
func (t *Table) Syn(s *decode.Syn, ev *Event) bool {
	if t.drop != nil {
		t.drainTick()
	}
	ts := s.Ts
	pfxNew, pfxKept := t.prefix(s, ts)
	if pfxNew && pfxKept {
		t.win.NewPrefixes++
	}
	var v *srcVal
	var g *gen
	var h uint64
	k := v4num(s.Src[:4])
	if s.V6 {
		h = srctable.Hash6(s.Src)
	} else {
		h = srctable.Hash4(k)
	}
	// Asked for now, the memory's slots (a new source is looked for
	// there) come in while the table is looked up; a table told its SYNs
	// ahead (Prefetch) has asked for them already.
	if !t.told {
		t.mem.prefetch(h)
	}
	if s.V6 {
		v, g = lookup(t, v6table, s.Src, h)
	} else {
		v, g = lookup(t, v4table, k, h)
	}
	var lastAbs int64
	known := v != nil
	if known {
		lastAbs = g.abs(v.last)
	}
	if known && ts-lastAbs <= t.lookback {
		if lastAbs < t.wn.startOf(ts, t.window) {
			t.win.Active++
			// The activity interval is a multiple of the window: a
			// source's first SYN in it is its first in a window.
			if lastAbs < t.as.startOf(ts, t.actEvery) {
				t.act.Sources++
			}
		}
		if lastAbs < t.runStart {
			// Its first SYN in this run (a source a saved state knew):
			// one last seen in this window before the run began too.
			t.act.RunSources++
		}
		sighted := t.refresh != 0 && lastAbs < FloorTo(ts, t.refresh)
		if g != t.cur {
			v = t.move(s, v, g)
		}
		v.last = t.cur.rel(ts)
		switch {
		case v.promoted():
			// counted in seeReach, which finds the entry anyway
		case v.synsLow() == synsMask:
			t.heavy[SrcOf(s)]++
			v.bits &^= synsMask
		default:
			v.bits++
		}
		scan := t.seeReach(s, v, lastAbs, ev)
		if v.promoted() {
			t.hint(h, *v)
		}
		if d := v.dir(); (d == DirOutbound || d == DirInternal) && !v.reported() && t.cfg.ScannerTargets > 0 {
			n, _ := t.reachOf(*v)
			if n >= t.cfg.ScannerTargets {
				v.bits |= reportedBit
				if scan {
					// This SYN crossed a scan threshold too: one event a
					// SYN, so that record is written at the window's end
					// (FlushScans), as of this SYN.
					t.queueScan(t.hdr(*v), s, true)
				}
				*ev = Event{Kind: Scanner, Dir: d, T: int64(v.first) * int64(time.Second),
					Syns: t.syns(SrcOf(s), *v), Targets: int32(n), Sighted: sighted, Prev: lastAbs}
				return true
			}
		}
		if scan { // a scan record is a sighting too when it is the period's first SYN
			ev.Sighted, ev.Prev = sighted, lastAbs
			return true
		}
		if sighted {
			*ev = Event{Kind: Sighting, Prev: lastAbs}
			return true
		}
		return false
	}
	dir := DirectionOf(t.cfg.HomeNet, s)
	t.win.Active++
	t.win.New++
	if !pfxKept {
		// A prefix the full table could not keep is new with its new
		// source only: counted on every SYN, new_prefixes ran past
		// new_sources for two lookbacks after a flood.
		t.win.NewPrefixes++
	}
	switch dir {
	case DirOutbound:
		t.win.NewOutbound++
	case DirInternal:
		t.win.NewInternal++
	}
	*ev = Event{Kind: NewSource, Dir: dir}
	if !known && t.forgotten(s, h, ev) {
		t.win.Returning++
	}
	if known {
		t.win.Returning++
		ev.T, ev.Returning = lastAbs, true
		k := SrcOf(s)
		t.offerTop(k, *v, g)
		delete(t.heavy, k)
		t.dropReach(*v)
	}
	nv := srcVal{first: unixSeconds(ts), bits: 1 | uint32(dir)<<dirShift}
	nv.setFP(fingerprint(dstHash(s), s.DstPort))
	switch {
	case known:
		nv.last = t.cur.rel(ts)
		if g != t.cur {
			t.remove(s, g)
		}
		t.storeHashed(s, h, nv)
	case t.Tracked() < t.cap || t.evict(s, h):
		nv.last = t.cur.rel(ts)
		t.storeHashed(s, h, nv)
	default:
		t.win.Untracked++
		t.tot.Untracked++
		t.remember(h) // seen, if not kept: the memory can still tell it returning
	}
	return true
}

// forgotten says whether a source the table does not know was forgotten
// lately: it is in the dropped generation not yet offered to the top list,
// or in the memory. Its last SYN is then not told (ev.T stays 0).
func (t *Table) forgotten(s *decode.Syn, h uint64, ev *Event) bool {
	var v *srcVal
	if t.drop != nil && t.mem.span > 0 { // (no memory: a dropped source is forgotten, as the memory would say)
		if s.V6 {
			v = t.drop.v6.Get(s.Src, h)
		} else {
			v = t.drop.v4.Get(v4num(s.Src[:4]), h)
		}
	}
	if v != nil {
		// Its last SYN is there, but whether it is still there depends
		// on how far the drop has been let go (drainTick): told as the
		// memory would tell it, so the record does not depend on that.
		ev.Returning = true
		t.tot.Recalled++
		return true
	}
	if t.remembered(h) {
		ev.Returning = true
		t.tot.Recalled++
		return true
	}
	return false
}

// lookupSyn finds the source of s in the current generation, then the old
// one (nil when the table does not hold it).
func (t *Table) lookupSyn(s *decode.Syn) *srcVal {
	if s.V6 {
		v, _ := lookup(t, v6table, s.Src, srctable.Hash6(s.Src))
		return v
	}
	k := v4num(s.Src[:4])
	v, _ := lookup(t, v4table, k, srctable.Hash4(k))
	return v
}

// lookup finds a source in the current generation, then the old one.
func lookup[K comparable](t *Table, table func(*gen) *srctable.Table[K, srcVal], k K, h uint64) (*srcVal, *gen) {
	for _, g := range [2]*gen{t.cur, t.old} {
		if v := table(g).Get(k, h); v != nil {
			return v, g
		}
	}
	return nil, nil
}

func v4table(g *gen) *srctable.Table[uint32, srcVal]   { return g.v4 }
func v6table(g *gen) *srctable.Table[[16]byte, srcVal] { return g.v6 }

// store puts a source's value in the current generation.
func (t *Table) store(s *decode.Syn, v srcVal) *srcVal {
	if s.V6 {
		return t.storeHashed(s, srctable.Hash6(s.Src), v)
	}
	return t.storeHashed(s, srctable.Hash4(v4num(s.Src[:4])), v)
}

// storeHashed is store for a source whose hash h (Hash4 or Hash6) is known.
func (t *Table) storeHashed(s *decode.Syn, h uint64, v srcVal) *srcVal {
	if s.V6 {
		return t.cur.v6.Put(s.Src, h, v)
	}
	return t.cur.v4.Put(v4num(s.Src[:4]), h, v)
}

func (t *Table) remove(s *decode.Syn, g *gen) {
	if s.V6 {
		g.v6.Delete(s.Src, srctable.Hash6(s.Src))
		return
	}
	k := v4num(s.Src[:4])
	g.v4.Delete(k, srctable.Hash4(k))
}

// move brings a source touched again from the old generation to the
// current one and returns where it now lives.
func (t *Table) move(s *decode.Syn, v *srcVal, from *gen) *srcVal {
	nv := *v
	nv.last = t.cur.rel(from.abs(v.last))
	t.remove(s, from)
	return t.store(s, nv)
}

// prefix notes a SYN from s's /24 or /48 and reports whether that prefix
// had none in the lookback, and whether it is kept (not when the table is
// full of prefixes: it cannot tell then, and says new).
func (t *Table) prefix(s *decode.Syn, ts int64) (isNew, kept bool) {
	if s.V6 {
		p := uint64(prefix6(&s.Src))
		return touchPrefix(t, t.cur.p6, t.old.p6, p, srctable.Hash64(p), ts)
	}
	k := v4num(s.Src[:4]) >> 8 // Prefix.v4 of PrefixOf(s), without the call
	return touchPrefix(t, t.cur.p4, t.old.p4, k, srctable.Hash4(k), ts)
}

func touchPrefix[K comparable](t *Table, cur, old *srctable.Table[K, pfxVal], k K, h uint64, ts int64) (isNew, kept bool) {
	if v := cur.Get(k, h); v != nil {
		isNew := ts-t.cur.abs(v.last) > t.lookback
		v.last = t.cur.rel(ts)
		return isNew, true
	}
	if v := old.Get(k, h); v != nil {
		isNew := ts-t.old.abs(v.last) > t.lookback
		old.Delete(k, h)
		cur.Put(k, h, pfxVal{t.cur.rel(ts)})
		return isNew, true
	}
	if t.cur.prefixes()+t.old.prefixes() < t.cap {
		cur.Put(k, h, pfxVal{t.cur.rel(ts)})
		return true, true
	}
	return true, false
}

func (t *Table) syns(k Addr, v srcVal) uint32 { return t.synsIn(k, v, t.heavy) }

// synsIn is syns with the heavy counts of heavy (the dropped generation's
// are apart).
func (t *Table) synsIn(k Addr, v srcVal, heavy map[Addr]uint32) uint32 {
	if v.promoted() {
		return t.hdr(v).syns
	}
	return heavy[k]<<synsBits | v.synsLow()
}

// SlotBytes is the memory of the source slots of both generations (not the
// prefixes, nor the heavy counts): what the compact layout costs.
func (t *Table) SlotBytes() int {
	n := 0
	for _, g := range []*gen{t.cur, t.old} {
		n += g.v4.Slots()*g.v4.SlotBytes() + g.v6.Slots()*g.v6.SlotBytes()
	}
	return n
}
