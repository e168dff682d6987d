package engine

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
	"unsafe"

	"github.com/synscope/synscope/pkg/decode"
	"github.com/synscope/synscope/pkg/sources"
)

func (r *recorder) Flood(f *FloodRecord) {
	c := *f
	c.Targets, c.Sample = slices.Clone(f.Targets), slices.Clone(f.Sample)
	r.floods = append(r.floods, c)
}

var floodTarget = [16]byte{198, 18, 7, 7}

// floodStream is a background of scanners (one new source every 500 ms,
// each aimed at a random host of a /16) with a spoofed flood on top: rate
// new one-SYN sources per second towards floodTarget, from at for span.
func floodStream(seed uint64, rate int, at, span, total time.Duration) []decode.Syn {
	rng := rand.New(rand.NewPCG(seed, 3))
	var out []decode.Syn
	bg := t0
	fl, flEnd := t0+int64(at), t0+int64(at+span)
	step := int64(time.Second) / int64(max(rate, 1))
	for bg < t0+int64(total) {
		var s decode.Syn
		if rate > 0 && fl < flEnd && fl <= bg {
			a := rng.Uint32()
			s = decode.Syn{Ts: fl, Src: [16]byte{byte(a), byte(a >> 8), byte(a >> 16), byte(a >> 24)}, Dst: floodTarget,
				DstPort: 445, Flags: 2, TTL: 64, Window: 1024, IPID: 0}
			fl += step
		} else {
			a, d := rng.Uint32(), rng.Uint32()
			s = decode.Syn{Ts: bg, Src: [16]byte{byte(a), byte(a >> 8), byte(a >> 16), byte(a >> 24)}, Dst: [16]byte{198, 18, byte(d), byte(d >> 8)},
				DstPort: 445, Flags: 2, TTL: byte(40 + d%80), Window: 65535, IPID: d}
			bg += 500 * int64(time.Millisecond)
		}
		out = append(out, s)
	}
	return out
}

// isFlood tells a flood SYN of floodStream.
func isFlood(s *decode.Syn) bool { return s.Dst == floodTarget }

// TestFloodDecidedBeforeWindowsAreWritten: a flood's first seconds close in
// windows before it is recognized; they count as flood all the same, every
// flood source and no scanner is set apart, no flood source gets a source
// record, and the totals agree (windows, flood records, counters), with
// 1 s, 2 s and 5 min windows and slow and fast floods.
func TestFloodDecidedBeforeWindowsAreWritten(t *testing.T) {
	for _, c := range []struct {
		rate        int
		at, span    time.Duration
		window      time.Duration
		total       time.Duration
		floodShards int
	}{
		{40, 10*time.Second + 500*time.Millisecond, 20 * time.Second, time.Second, time.Minute, 0},
		{2000, 10*time.Second + 800*time.Millisecond, 5 * time.Second, 2 * time.Second, time.Minute, 2},
		{10, 4*time.Minute + 57*time.Second, 10 * time.Minute, 5 * time.Minute, 20 * time.Minute, 0}, // slow, from 3 s before a window's end
		{50, 3 * time.Minute, 10 * time.Minute, 5 * time.Minute, 20 * time.Minute, 3},
	} {
		t.Run(fmt.Sprintf("%d-per-s-%v-windows", c.rate, c.window), func(t *testing.T) {
			stream := floodStream(1, c.rate, c.at, c.span, c.total)
			cfg := DefaultConfig()
			cfg.Window, cfg.Lookback, cfg.Shards = c.window, time.Hour, c.floodShards
			rec, cnt, _ := runStream(t, cfg, stream)
			perWindow := map[int64]uint64{}
			var floods uint64
			for i := range stream {
				if isFlood(&stream[i]) {
					perWindow[sources.FloorTo(stream[i].Ts, int64(c.window))]++
					floods++
				}
			}
			if floods < 100 {
				t.Fatalf("only %d flood SYNs: the test proves nothing", floods)
			}
			var sum uint64
			for _, w := range rec.windows {
				if w.FloodSources != perWindow[w.Start] {
					t.Errorf("window %v: %d flood sources, %d sent", time.Duration(w.Start-t0), w.FloodSources, perWindow[w.Start])
				}
				sum += w.FloodSources
			}
			var inRecords uint64
			for _, f := range rec.floods {
				inRecords += f.Sources
				if len(f.Targets) != 1 || f.Targets[0].Addr != addrOf4(floodTarget) || f.TTLMode != 64 ||
					f.TTLModeSources != f.Sources || f.IPIDZero != f.Sources || f.WindowMode != 1024 || len(f.Sample) != min(int(f.Sources), floodSampleLen) {
					t.Errorf("flood record: %+v", f)
				}
			}
			for _, s := range rec.sources {
				if isFlood(&s.Syn) {
					t.Fatalf("a flood source got a source record: %+v", s)
				}
			}
			if sum != floods || inRecords != floods || cnt.FloodSources != floods || uint64(len(rec.sources))+floods != cnt.NewSources {
				t.Errorf("%d flood SYNs sent; windows say %d, flood records %d, counters %d; %d source records of %d new",
					floods, sum, inRecords, cnt.FloodSources, len(rec.sources), cnt.NewSources)
			}
		})
	}
}

func addrOf4(b [16]byte) sources.Addr {
	s := decode.Syn{Dst: b}
	return sources.DstOf(&s)
}

// TestScannersSpreadOverTargetsAreNotAFlood: 200 new sources a second, each
// aimed at a different host, is a fast scanning population, not a flood.
func TestScannersSpreadOverTargetsAreNotAFlood(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	var stream []decode.Syn
	for i := range 200 * 60 {
		a, d := rng.Uint32(), rng.Uint32()
		stream = append(stream, decode.Syn{Ts: t0 + int64(i)*5*int64(time.Millisecond), Src: [16]byte{byte(a), byte(a >> 8), byte(a >> 16), byte(a >> 24)},
			Dst: [16]byte{198, 18, byte(d), byte(d >> 8)}, DstPort: 445, Flags: 2})
	}
	rec, cnt, _ := runStream(t, small(), stream)
	if cnt.FloodSources != 0 || len(rec.floods) != 0 || len(rec.sources) != len(stream) {
		t.Errorf("scanners taken for a flood: %d flood sources, %d flood records, %d source records of %d", cnt.FloodSources, len(rec.floods), len(rec.sources), len(stream))
	}
}

// TestFloodSourceRecordsOnRequest: with FloodSourceRecords every flood
// source gets its source record again, in capture order, and the flood
// records and counts are unchanged.
func TestFloodSourceRecordsOnRequest(t *testing.T) {
	stream := floodStream(2, 100, 20*time.Second, 10*time.Second, time.Minute)
	cfg := DefaultConfig()
	cfg.Window, cfg.Lookback = 5*time.Second, time.Hour
	plain, pc, _ := runStream(t, cfg, stream)
	cfg.FloodSourceRecords = true
	all, ac, _ := runStream(t, cfg, stream)
	if pc != ac || len(all.sources) != len(stream) || len(plain.floods) == 0 || fmt.Sprint(plain.floods) != fmt.Sprint(all.floods) {
		t.Fatalf("%d source records of %d SYNs; counters equal %v; flood records %d vs %d", len(all.sources), len(stream), pc == ac, len(plain.floods), len(all.floods))
	}
	for i := range all.sources {
		if all.sources[i].Syn != stream[i] {
			t.Fatalf("source record %d out of capture order", i)
		}
	}
}

// alertRecorder keeps every alert record whole.
type alertRecorder struct {
	recorder
	full []AlertRecord
}

func (r *alertRecorder) Alert(a *AlertRecord) {
	r.recorder.Alert(a)
	r.full = append(r.full, *a)
}

// TestTwoFloodsInAWindow: two targets flooded in one window raise two
// flood alerts (one per flood, each with its own target's sources; one
// alert counted per flood), and the window's flood record spans the
// earliest and the latest of its sources' first SYNs, although the first
// seconds of each flood are counted after later sources (when the flood is
// recognized). With and without shard workers.
func TestTwoFloodsInAWindow(t *testing.T) {
	a, b := [16]byte{198, 18, 1, 1}, [16]byte{198, 18, 2, 2}
	stream := floodStream(5, 0, 0, 0, 5*time.Minute) // background only
	rng := rand.New(rand.NewPCG(5, 9))
	for i, target := range [][16]byte{a, b} {
		for j := range 200 {
			x := rng.Uint32()
			stream = append(stream, decode.Syn{Ts: t0 + int64(20+80*i)*sec + int64(j)*10*int64(time.Millisecond),
				Src: [16]byte{byte(x), byte(x >> 8), byte(x >> 16), byte(x >> 24)}, Dst: target, DstPort: 445, Flags: 2, TTL: 64})
		}
	}
	slices.SortStableFunc(stream, func(x, y decode.Syn) int { return cmp.Compare(x.Ts, y.Ts) })
	for _, shards := range []int{0, 2} {
		cfg := DefaultConfig()
		cfg.Shards = shards
		rec := &alertRecorder{}
		e, err := New(cfg, rec)
		if err != nil {
			t.Fatal(err)
		}
		for i := range stream {
			s := stream[i]
			e.Frame(s.Ts, 60, &s)
		}
		e.Finish()
		var floods []AlertRecord
		for _, al := range rec.full {
			if al.Kind == AlertFlood {
				floods = append(floods, al)
			}
		}
		if len(floods) != 2 || e.Counters().Alerts != 2 {
			t.Fatalf("shards %d: %d flood alerts, %d counted; want 2", shards, len(floods), e.Counters().Alerts)
		}
		for i, want := range [][16]byte{a, b} {
			if al := floods[i]; al.Target != sources.Addr(sources.DstOf(&decode.Syn{Dst: want})) || al.TargetSources != 200 {
				t.Errorf("shards %d: alert %d: target %v with %d sources, want %v with 200", shards, i, al.Target, al.TargetSources, want)
			}
		}
		if len(rec.floods) != 1 {
			t.Fatalf("shards %d: %d flood records", shards, len(rec.floods))
		}
		fr := rec.floods[0]
		first, last := t0+20*sec, t0+100*sec+199*10*int64(time.Millisecond)
		if fr.Sources != 400 || fr.First != first || fr.Last != last {
			t.Errorf("shards %d: flood record of %d sources from %v to %v; want 400 from %v to %v", shards, fr.Sources,
				time.Unix(0, fr.First).UTC(), time.Unix(0, fr.Last).UTC(), time.Unix(0, first).UTC(), time.Unix(0, last).UTC())
		}
	}
}

// TestFloodBefore1970: one new source a minute at one target is no flood,
// before 1970 as after it.
func TestFloodBefore1970(t *testing.T) {
	for _, start := range []int64{t0, -100 * 24 * hr} {
		var stream []decode.Syn
		for i := range 60 {
			stream = append(stream, decode.Syn{Ts: start + int64(i)*minute, Src: [16]byte{203, 0, 113, byte(i + 1)}, Dst: floodTarget, DstPort: 445, Flags: 2})
		}
		cfg := DefaultConfig()
		cfg.Growth = nil
		_, c, _ := runStream(t, cfg, stream)
		if c.NewSources != 60 || c.FloodSources != 0 {
			t.Errorf("from %v: %d new sources, %d flood sources; want 60 and 0", time.Unix(0, start).UTC(), c.NewSources, c.FloodSources)
		}
	}
}

// TestFloodSourceRecordsCountTheSame: with a record for every flood source
// (--flood-sources, as Kafka's sightings ask), a fast flood's sources wait
// in the delay line for their records' turn; they must not push out,
// undecided, the first seconds of a slower flood beside it (which were then
// counted as ordinary new sources): the counts are those without the
// records. And the records are every flood source, once.
func TestFloodSourceRecordsCountTheSame(t *testing.T) {
	a, b := [16]byte{198, 18, 1, 1}, [16]byte{198, 18, 2, 2}
	var stream []decode.Syn
	rng := rand.New(rand.NewPCG(8, 8))
	add := func(target [16]byte, perSec int, from, span time.Duration) {
		step := int64(time.Second) / int64(perSec)
		for ts := t0 + int64(from); ts < t0+int64(from+span); ts += step {
			x := rng.Uint32()
			stream = append(stream, decode.Syn{Ts: ts, Src: [16]byte{byte(x), byte(x >> 8), byte(x >> 16), byte(x >> 24)}, Dst: target, DstPort: 445, Flags: 2})
		}
	}
	add(a, 5000, 0, 20*time.Second)
	add(b, 6, 2*time.Second, 60*time.Second)
	slices.SortStableFunc(stream, func(x, y decode.Syn) int { return cmp.Compare(x.Ts, y.Ts) })
	var counts [2]Counters
	for i, records := range []bool{false, true} {
		cfg := DefaultConfig()
		cfg.Growth, cfg.FloodSourceRecords = nil, records
		rec, c, _ := runStream(t, cfg, stream)
		counts[i] = c
		if records {
			flagged := 0
			for _, s := range rec.sources {
				if s.Flood {
					flagged++
				}
			}
			if uint64(flagged) != c.FloodSources || uint64(len(rec.sources)) != c.NewSources {
				t.Errorf("%d source records (%d flood) for %d new sources (%d flood)", len(rec.sources), flagged, c.NewSources, c.FloodSources)
			}
		}
	}
	if counts[0].FloodSources != counts[1].FloodSources || counts[0].NewSources != counts[1].NewSources {
		t.Errorf("flood sources %d with a record each, %d without (new sources %d, %d)", counts[1].FloodSources, counts[0].FloodSources,
			counts[1].NewSources, counts[0].NewSources)
	}
	if counts[0].FloodSources < uint64(len(stream))-60 {
		t.Errorf("%d flood sources of %d", counts[0].FloodSources, len(stream))
	}
}

// TestFloodTargetIsOneLine: a flood slot is one cache line (see target).
func TestFloodTargetIsOneLine(t *testing.T) {
	if n := unsafe.Sizeof(target{}); n != 64 {
		t.Errorf("a flood target is %d bytes", n)
	}
	var f floodState
	f.slot(sources.Addr{1}, floodEpoch)
	if p := uintptr(unsafe.Pointer(&f.slots[0])); p%64 != 0 {
		t.Errorf("the slots start at %#x, not on a cache line", p)
	}
	if (floodEpoch+1<<34)&floodingBit != 0 {
		t.Error("seconds reach the flooding bit")
	}
}

// TestCoverageBefore1970: a capture stamped before 1970 covers its windows
// as the same capture stamped after it does (a window's coverage took a
// gap's resume time, 0 when there was no gap, for its start: every window
// before 1970 read 3.3e-12, a review found, and the growth fits with it).
func TestCoverageBefore1970(t *testing.T) {
	var exposures [2][]float64
	for i, start := range []int64{t0, -100 * 24 * hr} {
		var stream []decode.Syn
		for j := range 120 { // two hours from the middle of a window
			stream = append(stream, decode.Syn{Ts: start + 150*sec + int64(j)*minute, Src: [16]byte{203, 0, 113, byte(j + 1)}, Dst: floodTarget, DstPort: 445, Flags: 2})
		}
		cfg := DefaultConfig()
		cfg.Growth = nil
		rec, _, _ := runStream(t, cfg, stream)
		for _, w := range rec.windows {
			exposures[i] = append(exposures[i], w.Exposure)
		}
	}
	if !slices.Equal(exposures[0], exposures[1]) || len(exposures[0]) < 20 || exposures[0][0] != 0.5 || exposures[0][1] != 1 {
		t.Errorf("coverage from 2009: %v; from 1969: %v", exposures[0], exposures[1])
	}
}

// TestFloodOverManyTargets: a spoofed flood spread over 16,000 targets at
// once, each getting past the threshold, is a flood at nearly every one of
// them (with the table of 8,192 watched targets most of its sources were
// ordinary new sources, each with a source record: a review). The first
// sources at each target, before it trips, may be decided as ordinary
// when more wait than the delay line holds (floodQueueMax): at most a
// sixth here.
func TestFloodOverManyTargets(t *testing.T) {
	cfg := small()
	cfg.FloodThreshold = 10
	e, _ := New(cfg, &recorder{})
	const targets, each = 16_000, 60
	rng := rand.New(rand.NewPCG(11, 11))
	n := targets * each
	for i := range n {
		a, d := rng.Uint32(), uint32(i%targets)
		s := decode.Syn{Ts: t0 + int64(i)*int64(5*time.Second)/int64(n), DstPort: 445, Flags: 2, TTL: 64,
			Src: [16]byte{byte(a), byte(a >> 8), byte(a >> 16), byte(a >> 24)}, Dst: [16]byte{198, 18, byte(d >> 8), byte(d)}}
		e.Frame(s.Ts, 60, &s)
	}
	e.Finish()
	if got := e.Counters().FloodSources; got < uint64(n)*7/10 { // 77 % measured, 12.5 % with 8,192 slots
		t.Errorf("%d of %d flood sources counted as such", got, n)
	}
}
