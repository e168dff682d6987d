package engine

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"math"
	"math/rand/v2"
	"net/netip"
	"sort"
	"testing"
	"time"

	"github.com/synscope/synscope/pkg/decode"
	"github.com/synscope/synscope/pkg/growth"
)

// TestStateRestartMatchesUninterrupted: run the first half, save, load into
// a fresh engine, run the second half; every window after the restart must
// equal the uninterrupted run's.
func TestStateRestartMatchesUninterrupted(t *testing.T) {
	var steps []step
	for i := 0; i < 400; i++ {
		src := netip.AddrFrom4([4]byte{10, byte(i % 2), 0, byte(i % 37)}).String() // 74 sources, each back within 9 min
		steps = append(steps, step{t0 + int64(i)*7*sec, src, "198.18.0.1"})
	}
	whole := run(t, small(), steps)

	half := len(steps) / 2
	rec1 := &recorder{}
	e1, _ := New(small(), rec1)
	for _, st := range steps[:half] {
		s := syn(st.src, st.dst)
		e1.Frame(st.at, 60, &s)
	}
	e1.Finish()
	var buf bytes.Buffer
	if err := e1.SaveState(&buf); err != nil {
		t.Fatal(err)
	}
	rec2 := &recorder{}
	e2, _ := New(small(), rec2)
	if err := e2.LoadState(bytes.NewReader(buf.Bytes()), int64(buf.Len())); err != nil {
		t.Fatal(err)
	}
	for _, st := range steps[half:] {
		s := syn(st.src, st.dst)
		e2.Frame(st.at, 60, &s)
	}
	e2.Finish()
	byStart := map[int64]WindowRecord{}
	for _, w := range whole.windows {
		byStart[w.Start] = w
	}
	compared := 0
	for _, w := range rec2.windows[1:] { // the first one is split by the restart
		u := byStart[w.Start]
		if w.End > whole.windows[len(whole.windows)-1].Start && w.Start == whole.windows[len(whole.windows)-1].Start {
			continue // the last window's coverage is the same either way, but skip the edge
		}
		if w.NewSources != u.NewSources || w.ActiveSources != u.ActiveSources || w.NewPrefixes != u.NewPrefixes || w.Warmup != u.Warmup {
			t.Errorf("window +%dm after restart: %+v\nuninterrupted: %+v", (w.Start-t0)/minute, w, u)
		}
		compared++
	}
	if compared < 10 {
		t.Fatalf("only %d windows compared", compared)
	}
	// The restart's first window is covered from its first packet (it was
	// covered whole, from the saved run's first packet, and its half of
	// the new sources read as a dip); its first packet is its own, and
	// warm-up still counts from the saved run's.
	first := steps[half].at
	w0 := rec2.windows[0]
	if want := float64(w0.End-first) / float64(w0.End-w0.Start); w0.Start >= first || math.Abs(w0.Exposure-want) > 1e-9 {
		t.Errorf("the restart's first window [%d, %d) covered %v, want %v (from its first packet at %d)", w0.Start, w0.End, w0.Exposure, want, first)
	}
	if c := e2.Counters(); c.FirstPacket != first {
		t.Errorf("first packet %d, want the restart's own, %d", c.FirstPacket, first)
	}
	if w0.Warmup != byStart[w0.Start].Warmup {
		t.Errorf("warm-up %v after the restart, %v uninterrupted", w0.Warmup, byStart[w0.Start].Warmup)
	}
	// Without the state, the restart would have called known sources new.
	rec3 := &recorder{}
	e3, _ := New(small(), rec3)
	for _, st := range steps[half:] {
		s := syn(st.src, st.dst)
		e3.Frame(st.at, 60, &s)
	}
	if rec3.windows[0].NewSources <= rec2.windows[0].NewSources {
		t.Error("the test cannot tell a restored state from none")
	}
}

func TestStateRefusesBadFiles(t *testing.T) {
	e1, _ := New(small(), &recorder{})
	s := syn("192.0.2.1", "198.18.0.1")
	e1.Frame(t0, 60, &s)
	var buf bytes.Buffer
	e1.SaveState(&buf)
	good := buf.Bytes()
	corrupt := append([]byte(nil), good...)
	corrupt[stateHeaderLen+3] ^= 0xff
	foreign := append([]byte("#!/bin/sh\necho hi\n"), make([]byte, 80)...)
	lying := append([]byte(nil), good...)
	lying[52] = 0xff // source count
	for name, b := range map[string][]byte{
		"empty":     nil,
		"truncated": good[:len(good)-3],
		"corrupt":   corrupt,
		"foreign":   foreign,
		"lying":     lying,
	} {
		e, _ := New(small(), &recorder{})
		err := e.LoadState(bytes.NewReader(b), int64(len(b)))
		if !errors.Is(err, ErrStateMismatch) {
			t.Errorf("%s: %v", name, err)
		}
	}
	e, _ := New(small(), &recorder{})
	if err := e.LoadState(bytes.NewReader(good), int64(len(good))); err != nil {
		t.Errorf("good file refused: %v", err)
	}
}

// FuzzLoadState: a state file is untrusted bytes. Loading must refuse or
// accept, never panic or allocate from a lying header, and an accepted
// file must go back into the tables (and the flood detector) when the
// clock starts and save again. The checksum is made again over every
// input, so that mutations reach the sections' parsers and the restore
// (without it nearly every one was refused by the checksum, and the seed
// engine, never started, saved an empty file: review).
func FuzzLoadState(f *testing.F) {
	cfg := small()
	cfg.Window = 5 * 1e9
	e1, _ := New(cfg, &recorder{})
	e1.Start(t0)
	for i, s := range floodStream(3, 100, 2*1e9, 6*1e9, 10*1e9) {
		if i%2 == 0 { // half of it: still a flood, a few sources and targets
			e1.Frame(s.Ts, 60, &s)
		}
	}
	var buf bytes.Buffer
	e1.SaveState(&buf)
	f.Add(buf.Bytes())
	f.Add([]byte("synscope-state"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) >= 4 {
			b = append([]byte(nil), b...)
			binary.LittleEndian.PutUint32(b[len(b)-4:], crc32.Checksum(b[:len(b)-4], castagnoli))
		}
		e, _ := New(cfg, &recorder{})
		if err := e.LoadState(bytes.NewReader(b), int64(len(b))); err != nil {
			if !errors.Is(err, ErrStateMismatch) && !errors.Is(err, ErrStateTooBig) {
				t.Fatalf("error not wrapped as a mismatch: %v", err)
			}
			return
		}
		e.Start(t0 + 11*int64(time.Second)) // what it loaded goes back now
		s := syn("192.0.2.9", "198.18.7.7")
		e.Frame(t0+12*int64(time.Second), 60, &s)
		var again bytes.Buffer
		if err := e.SaveState(&again); err != nil {
			t.Fatal(err)
		}
	})
}

// growthRec records growth verdicts and alerts by window start.
type growthRec struct {
	recorder
	models map[int64]string
	rates  map[int64]float64
}

func (r *growthRec) Growth(w *WindowRecord, v *growth.Verdict) {
	r.models[w.Start], r.rates[w.Start] = v.Model, v.RatePerHour
}

// TestStateKeepsTheClassifier: a restart with the state file goes on with
// the growth classifier's windows, regimes and the alert in force. Without
// them every verdict was insufficient_data until the shortest horizon
// filled again (6 h), and the epidemic's alert was raised a second time.
// An epidemic doubling every 3 hours, split in two at hour 20; the second
// half's verdicts are the uninterrupted run's, and there is one alert in
// all. Down for two hours in between, the verdicts go on at once (the
// hours the sensor was down count as windows nobody watched).
func TestStateKeepsTheClassifier(t *testing.T) {
	gc := growth.DefaultConfig()
	cfg := DefaultConfig()
	cfg.Growth = &gc
	rng := rand.New(rand.NewPCG(5, 5))
	var stream []decode.Syn
	n := uint32(0)
	for win := range 30 * 12 {
		start := t0 + int64(win)*int64(5*time.Minute)
		rate := 2 + math.Exp2(float64(win)/12/3)
		k := int(rate + rng.Float64())
		for i := range k {
			n++
			s := decode.Syn{Ts: start + int64(i)*int64(5*time.Minute)/int64(k+1), DstPort: 445, Flags: 2}
			binary.BigEndian.PutUint32(s.Src[:4], 0x0b000000+n)
			s.Dst = [16]byte{198, 18, 0, 1}
			stream = append(stream, s)
		}
	}
	run := func(parts ...[]decode.Syn) *growthRec {
		rec := &growthRec{models: map[int64]string{}, rates: map[int64]float64{}}
		runParts(t, cfg, rec, parts...)
		return rec
	}
	whole := run(stream)
	cut := t0 + 20*int64(time.Hour)
	i := sort.Search(len(stream), func(i int) bool { return stream[i].Ts >= cut })
	split := run(stream[:i], stream[i:])
	compared := 0
	for start, m := range split.models {
		if start < cut {
			continue
		}
		if m != whole.models[start] || math.Abs(split.rates[start]-whole.rates[start]) > 1e-3*math.Abs(whole.rates[start]) {
			t.Errorf("window %v after the restart: %s %.4g, uninterrupted %s %.4g", time.Unix(0, start).UTC(), m, split.rates[start], whole.models[start], whole.rates[start])
		}
		compared++
	}
	if compared < 100 || len(whole.alerts) == 0 || len(split.alerts) != len(whole.alerts) {
		t.Errorf("%d windows compared; alerts %v uninterrupted, %v with the restart", compared, whole.alerts, split.alerts)
	}
	// Down for two hours: the next windows are decided at once, as the
	// run without the hole would be.
	j := sort.Search(len(stream), func(i int) bool { return stream[i].Ts >= cut+2*int64(time.Hour) })
	down := run(stream[:i], stream[j:])
	first := cut + 2*int64(time.Hour)
	if m := down.models[first]; m != growth.Exponential {
		t.Errorf("the first window after two hours down: %s (uninterrupted %s)", m, whole.models[first])
	}
}

// TestStateKeepsTheAlertWhenTheClassifierIsNot: restarted with another
// --window, the saved classifier is refused and starts afresh, but the
// exponential alert in force is kept, to be cleared when the verdict
// stands down (it was dropped: no cleared alert ever came, a review).
func TestStateKeepsTheAlertWhenTheClassifierIsNot(t *testing.T) {
	gc := growth.DefaultConfig()
	cfg := DefaultConfig()
	cfg.Growth = &gc
	e, _ := New(cfg, &recorder{})
	rng := rand.New(rand.NewPCG(5, 5))
	n := uint32(0)
	var end int64
	for win := range 30 * 12 {
		start := t0 + int64(win)*int64(5*time.Minute)
		k := int(2 + math.Exp2(float64(win)/12/3) + rng.Float64())
		for i := range k {
			n++
			s := decode.Syn{Ts: start + int64(i)*int64(5*time.Minute)/int64(k+1), DstPort: 445, Flags: 2}
			binary.BigEndian.PutUint32(s.Src[:4], 0x0b000000+n)
			e.Frame(s.Ts, 60, &s)
			end = s.Ts
		}
	}
	e.Finish()
	if !e.alert.raised {
		t.Fatal("no exponential alert raised by 30 h of growth doubling every 3 h")
	}
	var buf bytes.Buffer
	if err := e.SaveState(&buf); err != nil {
		t.Fatal(err)
	}
	cfg.Window = 10 * time.Minute
	e2, _ := New(cfg, &recorder{})
	if err := e2.LoadState(bytes.NewReader(buf.Bytes()), int64(buf.Len())); err != nil {
		t.Fatal(err)
	}
	e2.Start(end + int64(time.Minute))
	if !e2.alert.raised || e2.alert.raisedAt != e.alert.raisedAt || e2.alert.run != 0 {
		t.Errorf("after a restart with other windows: alert %+v, want the one raised at %d, its run counted afresh", e2.alert, e.alert.raisedAt)
	}
	e2.Finish()
}

// savedAfter is the state an engine of cfg saves after n SYNs, one every
// step ns from t0, each from its own source.
func savedAfter(t *testing.T, cfg Config, n int, step int64) (*Engine, *bytes.Buffer) {
	t.Helper()
	e, _ := New(cfg, &recorder{})
	for i := range n {
		s := decode.Syn{Ts: t0 + int64(i)*step, DstPort: 445, Flags: 2}
		binary.BigEndian.PutUint32(s.Src[:4], 0x0b000000+uint32(i))
		e.Frame(s.Ts, 60, &s)
	}
	e.Finish()
	var buf bytes.Buffer
	if err := e.SaveState(&buf); err != nil {
		t.Fatal(err)
	}
	return e, &buf
}

// TestStateTrackedFromTheStart: a restored state's sources are counted as
// tracked from the clock's start, before any SYN, with shards as without
// (with shards they read 0 until a SYN came or a window closed: a quiet
// sensor reported an empty table after every restart, a review).
func TestStateTrackedFromTheStart(t *testing.T) {
	for _, shards := range []int{0, 2} {
		cfg := small()
		cfg.Shards = shards
		_, buf := savedAfter(t, cfg, 50, 1e6)
		e2, _ := New(cfg, &recorder{})
		if err := e2.LoadState(bytes.NewReader(buf.Bytes()), int64(buf.Len())); err != nil {
			t.Fatal(err)
		}
		e2.Start(t0 + int64(time.Minute))
		e2.Flush()
		if got := e2.Counters().TrackedSources; got != 50 {
			t.Errorf("%d shards: %d sources tracked after the restart, want 50", shards, got)
		}
		e2.Finish()
	}
}

// TestStateRefusesAHostileClassifier: the classifier's windows in a state
// file must lie before its clock. A crafted file (its checksum made again)
// whose one window lay at the bottom of int64 passed Resume's check by
// overflow and had it fill gigabytes of windows at start; such a file now
// leaves the classifier to start afresh, and the sources still load.
func TestStateRefusesAHostileClassifier(t *testing.T) {
	gc := growth.DefaultConfig()
	cfg := DefaultConfig()
	cfg.Growth = &gc
	e, buf := savedAfter(t, cfg, 100, sec)
	st := buf.Bytes()
	le := binary.LittleEndian
	// The growth section ends before the flood detector's and the
	// checksum; its last window's start and end are the 33 bytes before
	// them, less new (8), exposure (8) and flags (1).
	w := len(st) - 4 - len(e.flood.marshalTargets(nil, e.now)) - 33
	lo := int64(math.MinInt64)
	le.PutUint64(st[w:], uint64(lo))
	le.PutUint64(st[w+8:], uint64(lo+int64(5*time.Minute)))
	le.PutUint32(st[len(st)-4:], crc32.Checksum(st[:len(st)-4], castagnoli))
	e2, _ := New(cfg, &recorder{})
	if err := e2.LoadState(bytes.NewReader(st), int64(len(st))); err != nil {
		t.Fatal(err)
	}
	e2.Start(t0 + 200*sec)
	if e2.growth.LastEnd() != 0 {
		t.Errorf("a crafted classifier state taken: its last window ends at %d", e2.growth.LastEnd())
	}
}
