package pipeline

import (
	"time"

	"github.com/synscope/synscope/pkg/capture"
	"github.com/synscope/synscope/pkg/engine"
	"github.com/synscope/synscope/pkg/output"
)

// Live is what a live capture adds to the loop: the wall clock closes
// windows on time when the link is idle, stats records are written
// periodically with the capture's own drop counters, and records are
// flushed at least once a second so a reader sees them promptly. What the
// run's owner does meanwhile (reopen the output, save state, feed metrics)
// it does in Owner.Tick.
type Live struct {
	Now        func() time.Time // the wall clock; time.Now when nil
	Grace      time.Duration    // how late a packet may arrive: windows close this long after their end
	StatsEvery time.Duration    // a stats record this often (0: only at the end)
	Owner      Owner            // may be nil
}

// Owner is the run's lifecycle as the live loop sees it (pkg/lifecycle
// implements it). Tick is called on every wall-clock check, between packets
// and on the loop's goroutine, after the engine's clock has moved: the one
// place where the owner may touch the engine and the writer while the loop
// runs.
type Owner interface {
	Tick(t *Tick)
}

// Tick is one wall-clock check of a live loop, handed to its Owner; it is
// valid only during the call.
type Tick struct {
	Now time.Time
	l   *liveState
	st  *output.Stats
	w   *output.Writer
}

// Stats brings the running stats up to date (the capture's counters, the
// engine's after a hand-over from every shard) and returns them. The
// hand-over costs, so the owner asks only when it needs the figures.
func (t *Tick) Stats() *output.Stats {
	t.l.capture(t.st)
	t.l.eng.Flush()
	t.st.Engine = t.l.eng.Counters()
	return t.st
}

// Flush pushes every pending record out through the writer, as the loop
// does once a second: before a reopen, so none goes to the wrong file. A
// write error stays in the writer, which the loop checks.
func (t *Tick) Flush() {
	t.l.eng.Flush() // the shards' new-source records, then the output's flush
	_ = t.w.Flush()
	t.l.lastFlush = t.Now
}

// liveEvery is how many packets pass between wall-clock checks when
// packets keep coming.
const liveEvery = 256

type liveState struct {
	cfg       *Live
	src       capture.Source
	eng       *engine.Engine
	lastStats time.Time
	lastFlush time.Time
	check     Tick
}

func newLiveState(cfg *Live, src capture.Source, eng *engine.Engine) *liveState {
	if cfg == nil {
		return nil
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	l := &liveState{cfg: cfg, src: src, eng: eng}
	now := cfg.Now()
	l.lastStats, l.lastFlush = now, now
	eng.Start(now.Add(-cfg.Grace).UnixNano())
	return l
}

// advance moves the engine's clock to the wall clock, less the grace.
func (l *liveState) advance() {
	l.eng.Advance(l.cfg.Now().Add(-l.cfg.Grace).UnixNano())
}

func (l *liveState) tick(st *output.Stats, w *output.Writer) {
	now := l.cfg.Now()
	l.advance()
	if l.cfg.StatsEvery > 0 && now.Sub(l.lastStats) >= l.cfg.StatsEvery {
		l.lastStats = now
		l.capture(st)
		l.eng.Flush() // the counts current to the last SYN
		st.Engine = l.eng.Counters()
		st.Ts = st.Engine.LastPacket
		w.Stats(st)
	}
	if l.cfg.Owner != nil {
		// One Tick reused: the check runs every few hundred packets and
		// must not allocate.
		l.check = Tick{Now: now, l: l, st: st, w: w}
		l.cfg.Owner.Tick(&l.check)
	}
	if now.Sub(l.lastFlush) >= time.Second {
		l.lastFlush = now
		l.eng.Flush() // the shards' new-source records, then the output's flush
		_ = w.Flush()
		// The capture's counters read at least once a second, whatever
		// the stats interval: AF_PACKET's are 32 bits wide underneath,
		// widened by reading them before they wrap (see afpacket).
		l.capture(st)
	}
}

// capture copies the source's own counters into the stats.
func (l *liveState) capture(st *output.Stats) {
	ss, ok := l.src.(capture.StatsSource)
	if !ok {
		return
	}
	if cs, err := ss.CaptureStats(); err == nil {
		st.Capture = &cs
		st.RingFull, st.KernelDrops = cs.RingFull, cs.KernelDrops
	}
}
