package engine

import (
	"fmt"
	"github.com/synscope/synscope/pkg/sources"
	"net/netip"
	"testing"
	"time"

	"github.com/synscope/synscope/pkg/decode"
)

type recorder struct {
	sources  []SourceRecord
	windows  []WindowRecord
	scanners []ScannerRecord
	scans    []ScanRecord
	floods   []FloodRecord
	alerts   []string
}

func (r *recorder) Source(s *SourceRecord) { r.sources = append(r.sources, *s) }
func (r *recorder) Window(w *WindowRecord) { r.windows = append(r.windows, *w) }

var t0 = time.Date(2009, 1, 10, 0, 0, 0, 0, time.UTC).UnixNano()

const (
	sec    = int64(time.Second)
	minute = int64(time.Minute)
	hr     = int64(time.Hour)
)

func syn(src, dst string) decode.Syn {
	s := decode.Syn{DstPort: 445, Flags: 0x02, WScale: 0xff}
	a, d := netip.MustParseAddr(src), netip.MustParseAddr(dst)
	if a.Is4() {
		b := a.As4()
		copy(s.Src[:], b[:])
		b = d.As4()
		copy(s.Dst[:], b[:])
	} else {
		s.V6 = true
		s.Src, s.Dst = a.As16(), d.As16()
	}
	return s
}

type step struct {
	at       int64
	src, dst string // empty src: a packet that is not a SYN
}

func run(t *testing.T, cfg Config, steps []step) *recorder {
	t.Helper()
	rec, _ := runCounters(t, cfg, steps)
	return rec
}

// runCounters is run, with the counters at the end.
func runCounters(t *testing.T, cfg Config, steps []step) (*recorder, Counters) {
	t.Helper()
	rec := &recorder{}
	e, err := New(cfg, rec)
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range steps {
		var m *decode.Syn
		if st.src != "" {
			s := syn(st.src, st.dst)
			m = &s
		}
		e.Frame(st.at, 60, m)
	}
	e.Finish()
	return rec, e.Counters()
}

func small() Config {
	c := DefaultConfig()
	c.Window = time.Minute
	c.Lookback = 10 * time.Minute
	return c
}

func TestWindowsAlignedAndEmptyOnesEmitted(t *testing.T) {
	rec := run(t, small(), []step{
		{t0 + 30*sec, "", ""},
		{t0 + 3*minute + 5*sec, "192.0.2.1", "198.18.0.1"},
	})
	if len(rec.windows) != 4 {
		t.Fatalf("%d windows, want 4 (first packet's to last packet's)", len(rec.windows))
	}
	for i, w := range rec.windows {
		if w.Start != t0+int64(i)*minute || w.End != w.Start+minute {
			t.Errorf("window %d: [%d, %d)", i, w.Start-t0, w.End-t0)
		}
	}
	if rec.windows[1].Packets != 0 || rec.windows[3].SynPackets != 1 || rec.windows[3].NewSources != 1 {
		t.Errorf("counts: %+v", rec.windows)
	}
}

func TestNewActiveReturningAndLookbackBoundary(t *testing.T) {
	L := 10 * minute
	rec := run(t, small(), []step{
		{t0, "192.0.2.1", "198.18.0.1"},                          // w0: new
		{t0 + 1*sec, "192.0.2.1", "198.18.0.2"},                  // w0: same source
		{t0 + 2*sec, "2001:db8::1", "2001:db8:1::1"},             // w0: new v6
		{t0 + 1*minute, "192.0.2.1", "198.18.0.1"},               // w1: active, not new
		{t0 + 1*minute + L, "192.0.2.1", "198.18.0.1"},           // exactly L after: not new
		{t0 + 1*minute + 2*L + 1, "192.0.2.1", "198.18.0.3"},     // L+1ns of silence: new again, returning
		{t0 + 1*minute + 2*L + 2*sec, "192.0.2.9", "198.18.0.3"}, // brand new
	})
	byStart := map[int64]WindowRecord{}
	for _, w := range rec.windows {
		byStart[w.Start] = w
	}
	w0 := byStart[t0]
	if w0.SynPackets != 3 || w0.ActiveSources != 2 || w0.NewSources != 2 || w0.DistinctTargets != 3 {
		t.Errorf("w0 %+v", w0)
	}
	w1 := byStart[t0+minute]
	if w1.ActiveSources != 1 || w1.NewSources != 0 {
		t.Errorf("w1 %+v", w1)
	}
	w11 := byStart[t0+11*minute]
	if w11.NewSources != 0 || w11.ActiveSources != 1 {
		t.Errorf("a SYN exactly one lookback later must not be new: %+v", w11)
	}
	w21 := byStart[t0+21*minute]
	if w21.NewSources != 2 || w21.ReturningSources != 1 || w21.ActiveSources != 2 {
		t.Errorf("w21 %+v", w21)
	}
	if len(rec.sources) != 4 {
		t.Fatalf("%d source records, want 4", len(rec.sources))
	}
	ret := rec.sources[2]
	if ret.PrevLastSeen != t0+1*minute+L || ret.WindowStart != t0+21*minute {
		t.Errorf("returning source record: %+v", ret)
	}
}

func TestOutOfOrderIsClampedAndCounted(t *testing.T) {
	rec := run(t, small(), []step{
		{t0 + 2*minute, "", ""},
		{t0 + 30*sec, "192.0.2.1", "198.18.0.1"}, // earlier than the clock: analysed at t0+2m
		{t0 + 2*minute + 10*sec, "192.0.2.2", "198.18.0.1"},
	})
	if len(rec.windows) != 1 {
		t.Fatalf("%d windows: the clock must not run backwards", len(rec.windows))
	}
	w := rec.windows[0]
	if w.OutOfOrder != 1 || w.NewSources != 2 || w.Packets != 3 {
		t.Errorf("%+v", w)
	}
	if rec.sources[0].Syn.Ts != t0+2*minute {
		t.Errorf("out-of-order SYN analysed at %d, want the clock", rec.sources[0].Syn.Ts-t0)
	}
}

func TestWarmupCoversOneLookback(t *testing.T) {
	steps := []step{{t0 + 30*sec, "", ""}, {t0 + 12*minute, "", ""}}
	rec := run(t, small(), steps)
	for _, w := range rec.windows {
		want := w.Start < t0+30*sec+10*minute
		if w.Warmup != want {
			t.Errorf("window +%dm warmup %v, want %v", (w.Start-t0)/minute, w.Warmup, want)
		}
	}
	if !rec.windows[10].Warmup || rec.windows[11].Warmup {
		t.Error("warm-up must end with the first window starting a full lookback after the first packet")
	}
}

func TestTableCapCountsUntracked(t *testing.T) {
	cfg := small()
	cfg.MaxSources = 2
	rec := run(t, cfg, []step{
		{t0, "192.0.2.1", "198.18.0.1"},
		{t0 + 1, "192.0.2.2", "198.18.0.1"},
		{t0 + 2, "192.0.2.3", "198.18.0.1"}, // table full
		{t0 + 3, "192.0.2.1", "198.18.0.1"}, // still remembered
	})
	w := rec.windows[0]
	if w.NewSources != 3 || w.Untracked != 1 || w.ActiveSources != 3 {
		t.Errorf("%+v", w)
	}
}

func TestTargetsCap(t *testing.T) {
	cfg := small()
	cfg.MaxTargets = 2
	rec := run(t, cfg, []step{
		{t0, "192.0.2.1", "198.18.0.1"},
		{t0 + 1, "192.0.2.1", "198.18.0.2"},
		{t0 + 2, "192.0.2.1", "198.18.0.2"},
	})
	if w := rec.windows[0]; w.DistinctTargets != 2 || w.TargetsCapped {
		t.Errorf("at the cap without passing it: %+v", w)
	}
	rec = run(t, cfg, []step{
		{t0, "192.0.2.1", "198.18.0.1"},
		{t0 + 1, "192.0.2.1", "198.18.0.2"},
		{t0 + 2, "192.0.2.1", "198.18.0.3"},
	})
	if w := rec.windows[0]; w.DistinctTargets != 2 || !w.TargetsCapped {
		t.Errorf("past the cap: %+v", w)
	}
}

func TestExpiryForgetsWithoutChangingCounts(t *testing.T) {
	cfg := small()
	rec := &recorder{}
	e, _ := New(cfg, rec)
	for i := 0; i < 100; i++ {
		s := syn(netip.AddrFrom4([4]byte{192, 0, 2, byte(i)}).String(), "198.18.0.1")
		e.Frame(t0+int64(i)*sec, 60, &s)
	}
	e.Frame(t0+30*minute, 60, nil)
	e.Flush()
	if c := e.Counters(); c.TrackedSources != 0 || c.Expired != 100 {
		t.Errorf("after two lookbacks of silence: tracked %d expired %d", c.TrackedSources, c.Expired)
	}
	e.Finish()
	top := e.Top()
	if len(top) != 10 || top[0].Addr.String() != "192.0.2.0" || top[9].Addr.String() != "192.0.2.9" {
		t.Errorf("top sources (ties broken by address): %v", top)
	}
}

func TestSteadyStateSynAllocatesNothing(t *testing.T) {
	e, _ := New(small(), &recorder{})
	s := syn("192.0.2.1", "198.18.0.1")
	e.Frame(t0, 60, &s)
	ts := t0
	if n := testing.AllocsPerRun(1000, func() {
		ts += 1000
		e.Frame(ts, 60, &s)
	}); n != 0 {
		t.Errorf("%v allocations per SYN from a known source", n)
	}
}

func TestConfigValidate(t *testing.T) {
	bad := []func(*Config){
		func(c *Config) { c.Window = time.Millisecond },
		func(c *Config) { c.Lookback = c.Window / 2 },
		func(c *Config) { c.MaxSources = 0 },
		func(c *Config) { c.MaxTargets = 0 },
	}
	for i, f := range bad {
		c := DefaultConfig()
		f(&c)
		if _, err := New(c, &recorder{}); err == nil {
			t.Errorf("case %d accepted", i)
		}
	}
}

func TestFloodSourcesCountedApart(t *testing.T) {
	cfg := small()
	cfg.FloodThreshold = 100
	var steps []step
	for i := 0; i < 30; i++ { // slow arrivals: one every 2 s
		steps = append(steps, step{t0 + int64(i)*2*sec, netip.AddrFrom4([4]byte{10, 1, 0, byte(i)}).String(), "198.18.0.1"})
	}
	for i := 0; i < 300; i++ { // 300 in 3 seconds
		steps = append(steps, step{t0 + 61*sec + int64(i)*10_000_000, netip.AddrFrom4([4]byte{10, 2, byte(i >> 8), byte(i)}).String(), "198.18.0.9"})
	}
	rec := run(t, cfg, steps)
	if w := rec.windows[0]; w.FloodSources != 0 || w.NewSources != 30 {
		t.Errorf("slow arrivals are not a flood: %+v", w)
	}
	if w := rec.windows[1]; w.FloodSources != 300 || w.NewSources != 300 {
		t.Errorf("flood window: %+v", w)
	}
}

func TestNewPrefixes(t *testing.T) {
	rec := run(t, small(), []step{
		{t0, "192.0.2.1", "198.18.0.1"},
		{t0 + 1, "192.0.2.200", "198.18.0.1"}, // same /24: a new source, not a new prefix
		{t0 + 2, "192.0.3.1", "198.18.0.1"},
		{t0 + 3, "2001:db8:1:1::1", "2001:db8::1"},
		{t0 + 4, "2001:db8:1:2::1", "2001:db8::1"}, // same /48
		{t0 + 5, "2001:db8:2::1", "2001:db8::1"},
	})
	if w := rec.windows[0]; w.NewSources != 6 || w.NewPrefixes != 4 {
		t.Errorf("%+v", w)
	}
}

func TestExposureOfPartialWindows(t *testing.T) {
	rec := run(t, small(), []step{{t0 + 45*sec, "", ""}, {t0 + 2*minute + 15*sec, "", ""}})
	got := []float64{rec.windows[0].Exposure, rec.windows[1].Exposure, rec.windows[2].Exposure}
	if got[0] != 0.25 || got[1] != 1 || got[2] != 0.25 {
		t.Errorf("exposures %v, want [0.25 1 0.25]", got)
	}
}

func TestDirectionByHomeNet(t *testing.T) {
	cfg := small()
	cfg.HomeNet = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8:1::/48")}
	rec := run(t, cfg, []step{
		{t0, "203.0.113.9", "10.1.2.3"},            // inbound
		{t0 + 1, "10.9.9.9", "198.51.100.7"},       // outbound: our laptop scanning out
		{t0 + 2, "10.9.9.10", "10.1.2.3"},          // internal
		{t0 + 3, "192.0.2.1", "198.51.100.7"},      // external
		{t0 + 4, "2001:db8:1::5", "2001:db8:9::1"}, // outbound over IPv6
	})
	want := []sources.Direction{sources.DirInbound, sources.DirOutbound, sources.DirInternal, sources.DirExternal, sources.DirOutbound}
	for i, s := range rec.sources {
		if s.Direction != want[i] {
			t.Errorf("source %d: %v, want %v", i, s.Direction, want[i])
		}
	}
	if w := rec.windows[0]; w.NewOutbound != 2 || w.NewInternal != 1 {
		t.Errorf("%+v", w)
	}
	// Without --home-net, the capture's own direction decides.
	rec2 := &recorder{}
	e, _ := New(small(), rec2)
	s := syn("10.9.9.9", "198.51.100.7")
	s.Dir = decode.DirEgress
	e.Frame(t0, 60, &s)
	e.Finish() // a source record is held floodSpan, in case a flood claims it
	if rec2.sources[0].Direction != sources.DirOutbound {
		t.Errorf("egress without home-net: %v", rec2.sources[0].Direction)
	}
}

func (r *recorder) Scanner(s *ScannerRecord) { r.scanners = append(r.scanners, *s) }
func (r *recorder) Scan(s *ScanRecord)       { r.scans = append(r.scans, *s) }

func TestOwnHostScanningOutIsReportedOnce(t *testing.T) {
	cfg := small()
	cfg.HomeNet = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	var steps []step
	for i := 0; i < 40; i++ { // the Monday laptop: one SYN a second to new addresses
		steps = append(steps, step{t0 + int64(i)*sec, "10.1.1.1", netip.AddrFrom4([4]byte{198, 51, 100, byte(i)}).String()})
		steps = append(steps, step{t0 + int64(i)*sec + 1, "203.0.113.5", netip.AddrFrom4([4]byte{10, 0, 0, byte(i)}).String()}) // inbound scanner: not ours
	}
	rec := run(t, cfg, steps)
	if len(rec.scanners) != 1 {
		t.Fatalf("%d scanner records, want 1: %+v", len(rec.scanners), rec.scanners)
	}
	sc := rec.scanners[0]
	if sc.Syn.SrcAddr().String() != "10.1.1.1" || sc.Direction != sources.DirOutbound || sc.DistinctTargets < cfg.ScannerTargets ||
		sc.FirstSeen != t0 || sc.Syn.Ts > t0+20*sec {
		t.Errorf("%+v", sc)
	}
}

func TestTimeJumps(t *testing.T) {
	cfg := small()
	cfg.MaxGap = time.Hour
	// A bad stamp years ahead, in the middle of a normal capture: analysed
	// at the clock and counted; nothing is filled in.
	steps := []step{{t0, "192.0.2.1", "198.18.0.1"}, {t0 + 5*365*24*hr, "192.0.2.2", "198.18.0.1"}, {t0 + 2*minute, "192.0.2.3", "198.18.0.1"}}
	rec := run(t, cfg, steps)
	if len(rec.windows) != 3 || rec.windows[0].TimeJumps != 1 || rec.windows[0].NewSources != 2 {
		t.Fatalf("%d windows, first %+v", len(rec.windows), rec.windows[0])
	}
	// The capture really resumes a year later: jumpConfirm packets in a row
	// make the jump real; the windows resume after the gap, marked, and
	// warm-up starts again.
	steps = nil
	for i := range jumpConfirm {
		steps = append(steps, step{t0 + int64(i)*sec/100, "192.0.2.1", "198.18.0.1"})
	}
	later := t0 + 365*24*hr
	for i := 0; i < jumpConfirm+10; i++ {
		steps = append(steps, step{later + int64(i)*sec, "192.0.2.9", "198.18.0.1"})
	}
	rec = run(t, cfg, steps)
	// The 64th packet (63 s after the resumption) confirms it: the windows
	// resume with the first one's window, and the packets before it are
	// analysed at their own times (they were taken at the clock, before
	// the gap, as bad timestamps, and the new source dated there).
	if len(rec.windows) != 3 {
		t.Fatalf("%d windows, want the first and the two resumed ones", len(rec.windows))
	}
	w := rec.windows[1]
	if !w.GapBefore || w.Start != later || !w.Warmup || rec.windows[0].TimeJumps != 0 || rec.windows[0].Packets != jumpConfirm ||
		w.Packets != 60 || rec.windows[2].Packets != jumpConfirm+10-60 || w.NewSources != 1 {
		t.Errorf("resumed window %+v; first %+v", w, rec.windows[0])
	}
	if n := len(rec.sources); n != 2 || rec.sources[1].Syn.Ts != later {
		t.Errorf("%d source records; the resumed one at %d, want %d", n, rec.sources[n-1].Syn.Ts, later)
	}
	// A run of fewer frames beyond the gap, then one within it: bad
	// timestamps, analysed at the clock and counted, in order.
	steps = steps[:jumpConfirm]
	for i := range jumpConfirm - 1 {
		steps = append(steps, step{later + int64(i)*sec, "192.0.2.9", "198.18.0.1"})
	}
	steps = append(steps, step{t0 + sec, "192.0.2.8", "198.18.0.1"})
	rec = run(t, cfg, steps)
	if len(rec.windows) != 1 || rec.windows[0].TimeJumps != jumpConfirm-1 || rec.windows[0].Packets != 2*jumpConfirm || rec.windows[0].NewSources != 3 {
		t.Errorf("windows %+v", rec.windows)
	}
}

// TestJumpEdges: a sparse capture that resumes (its held frames in order,
// days apart) is analysed at its own times, none out of order (the clock
// went to the first within --max-gap of their median: 25 of 64 frames of a
// SYN a day out of order, the first new source dated day 25); timestamps at
// the clamp's two ends (-2^62, then 2^62) are a jump, not a wrapped
// difference that closed windows without end; a live timer's step past
// far-future frames held is a gap of its own, the frames bad timestamps.
func TestJumpEdges(t *testing.T) {
	cfg := small()
	var steps []step
	for i := range jumpConfirm {
		steps = append(steps, step{t0 + int64(i)*sec, "", ""})
	}
	later := t0 + 365*24*hr
	for i := range jumpConfirm {
		steps = append(steps, step{later + int64(i)*24*hr, fmt.Sprintf("192.0.2.%d", i+1), "198.18.0.1"})
	}
	rec := run(t, cfg, steps)
	var ooo uint64
	for _, w := range rec.windows {
		ooo += w.OutOfOrder
	}
	if ooo != 0 || len(rec.sources) != jumpConfirm || rec.sources[0].Syn.Ts != later {
		t.Errorf("out of order %d; %d sources, the first at %d, want %d", ooo, len(rec.sources), rec.sources[0].Syn.Ts, later)
	}

	const edge = int64(1) << 62
	steps = nil
	for range jumpConfirm {
		steps = append(steps, step{-edge, "", ""})
	}
	steps = append(steps, step{edge, "192.0.2.1", "198.18.0.1"})
	done := make(chan *recorder, 1)
	go func() { done <- run(t, cfg, steps) }()
	select {
	case rec = <-done:
		if len(rec.windows) != 1 || rec.windows[0].TimeJumps != 1 {
			t.Errorf("%d windows, first %+v", len(rec.windows), rec.windows[0])
		}
	case <-time.After(20 * time.Second):
		t.Fatal("a frame at 2^62 after a clock at -2^62 did not end")
	}

	r := &recorder{}
	e, err := New(cfg, r)
	if err != nil {
		t.Fatal(err)
	}
	e.Start(t0)
	s := syn("192.0.2.1", "198.18.0.1")
	e.Frame(t0, 60, &s)
	bad := syn("192.0.2.2", "198.18.0.1")
	e.Frame(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano(), 60, &bad)
	e.Advance(t0 + 8*24*hr)
	e.Finish()
	last := r.windows[len(r.windows)-1]
	if last.Start != t0+8*24*hr || !last.GapBefore || r.windows[0].TimeJumps != 1 {
		t.Errorf("after the timer's step: last window %+v; first %+v", last, r.windows[0])
	}
}

// TestBadFirstTimestamp: the clock starts at the first of a capture's
// first frames stamped within --max-gap of most of them. A first frame
// stamped years ahead put the clock there for good (the clock never goes
// back: the whole capture analysed at that time, in one window, every
// frame out of order); one stamped 0 started it in 1970. Now such a frame
// is a bad timestamp like any other, and the capture's windows are those
// of the capture without it, but for that frame's count.
func TestBadFirstTimestamp(t *testing.T) {
	cfg := small()
	var good []step
	for i := range 200 {
		good = append(good, step{t0 + int64(i)*sec, netip.AddrFrom4([4]byte{192, 0, 2, byte(i)}).String(), "198.18.0.1"})
	}
	want := run(t, cfg, good)
	for _, bad := range []int64{t0 + 20*365*24*hr, 0} {
		got := run(t, cfg, append([]step{{bad, "203.0.113.99", "198.18.0.1"}}, good...))
		if len(got.windows) != len(want.windows) {
			t.Fatalf("first frame at %v: %d windows, without it %d", time.Unix(0, bad).UTC(), len(got.windows), len(want.windows))
		}
		for i, w := range got.windows {
			u := want.windows[i]
			if w.Start != u.Start || w.NewSources < u.NewSources || w.NewSources > u.NewSources+1 || w.OutOfOrder+w.TimeJumps > 1 {
				t.Errorf("first frame at %v: window %d %+v\nwithout it %+v", time.Unix(0, bad).UTC(), i, w, u)
			}
		}
	}
}
