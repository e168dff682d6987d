package engine

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"reflect"
	"runtime"
	"testing"
	"time"

	"github.com/synscope/synscope/pkg/decode"
	"github.com/synscope/synscope/pkg/sources"
)

// hostileStream is what an attacker can send a sensor: one-SYN spoofed
// sources from the whole IPv4 space and spread across the IPv6 space, and
// timestamps that jump backwards and years ahead (single packets, and runs
// long enough to be believed).
func hostileStream(seed uint64, n int) []decode.Syn { return spoofedStream(seed, n, true) }

// cappedStream is hostileStream without the believed jumps: its 100 s of
// packet time keep a capped table full, so that every new source evicts
// one (the hostile mix's jumps let the tables go some twenty times).
func cappedStream(seed uint64, n int) []decode.Syn { return spoofedStream(seed, n, false) }

func spoofedStream(seed uint64, n int, jumps bool) []decode.Syn {
	rng := rand.New(rand.NewPCG(seed, 7))
	out := make([]decode.Syn, 0, n)
	ts := t0
	for len(out) < n {
		ts += int64(rng.IntN(int(200 * time.Microsecond)))
		s := decode.Syn{Ts: ts, DstPort: 445, Flags: 2}
		switch r := rng.IntN(1000); {
		case r < 5:
			s.Ts = ts - int64(rng.IntN(int(48*hr))) // backwards
		case r < 7:
			s.Ts = ts + int64(1+rng.IntN(30))*365*24*hr // years ahead
		case r == 7 && rng.IntN(50) == 0 && jumps:
			for i := 0; i < jumpConfirm+1 && len(out) < n; i++ { // a believed jump
				out = append(out, decode.Syn{Ts: ts + 400*24*hr, Flags: 0})
			}
			ts += 400 * 24 * hr
			continue
		}
		a, b := rng.Uint64(), rng.Uint64()
		if rng.IntN(3) == 0 {
			s.V6 = true
			for i := range 8 {
				s.Src[i], s.Src[8+i] = byte(a>>(8*i)), byte(b>>(8*i))
			}
		} else {
			s.Src = [16]byte{byte(a), byte(a >> 8), byte(a >> 16), byte(a >> 24)}
		}
		s.Dst = [16]byte{198, 18, byte(b), byte(b >> 8)}
		out = append(out, s)
	}
	return out
}

// TestHostileMixStaysUnderCap: millions of spoofed sources, IPv6 spread
// over the space and wild timestamps keep the table at its cap and the
// heap bounded, and every source that could not be kept is counted:
// inserted sources (new, less untracked, less returning ones that reuse
// their entry) all end up tracked, evicted or expired.
func TestHostileMixStaysUnderCap(t *testing.T) {
	n := 3_000_000
	if testing.Short() {
		n = 300_000
	}
	stream := hostileStream(1, n)
	for _, shards := range []int{0, 2} {
		t.Run(fmt.Sprint("shards-", shards), func(t *testing.T) {
			const capacity = 100_000
			cfg := DefaultConfig()
			cfg.MaxSources, cfg.MaxTargets, cfg.Shards = capacity, 50_000, shards
			e, err := New(cfg, discard{})
			if err != nil {
				t.Fatal(err)
			}
			runtime.GC()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			peak := uint64(0)
			for i := range stream {
				s := stream[i]
				var m *decode.Syn
				if s.Flags == 2 {
					m = &s
				}
				e.Frame(s.Ts, 60, m)
				if i%250_000 == 0 {
					e.Flush()
					c := e.Counters()
					if c.TrackedSources > capacity {
						t.Fatalf("packet %d: %d sources tracked, cap %d", i, c.TrackedSources, capacity)
					}
					// mid-window too: a stats record's counts add up at any time
					if in, left := c.NewSources-c.Untracked-(c.Returning-c.Recalled), c.TrackedSources+c.Evicted+c.Expired; in != left {
						t.Fatalf("packet %d: %d sources inserted but %d tracked, evicted or expired", i, in, left)
					}
					runtime.GC() // live heap, not garbage waiting for collection
					runtime.ReadMemStats(&after)
					peak = max(peak, after.HeapInuse)
				}
			}
			e.Finish()
			c := e.Counters()
			if c.TrackedSources > capacity {
				t.Fatalf("%d sources tracked, cap %d", c.TrackedSources, capacity)
			}
			inserted := c.NewSources - c.Untracked - (c.Returning - c.Recalled) // a recalled source (the memory knew it) is stored anew
			if left := c.TrackedSources + c.Evicted + c.Expired; inserted != left {
				t.Errorf("%d sources inserted but %d tracked + %d evicted + %d expired = %d", inserted,
					c.TrackedSources, c.Evicted, c.Expired, left)
			}
			if c.Evicted == 0 || c.TimeJumps == 0 || c.OutOfOrder == 0 || c.Gaps == 0 {
				t.Errorf("the mix did not reach every path: %+v", c)
			}
			// The cap's worth of sources and prefixes in two generations
			// (tables sized for their busiest), targets, a dropped
			// generation being offered to the top list, the rings and the
			// records held between hand-overs: 8 to 16 MiB; and the
			// flood detector's table of watched targets, 8 MiB.
			if grown := int64(peak) - int64(before.HeapInuse); grown > 32<<20 {
				t.Errorf("heap grew by %d MiB with a cap of %d sources", grown>>20, capacity)
			}
			t.Logf("%d SYNs: new %d, untracked %d, evicted %d, expired %d, tracked %d, time jumps %d, gaps %d, out of order %d; heap peak +%d MiB",
				c.SynPackets, c.NewSources, c.Untracked, c.Evicted, c.Expired, c.TrackedSources, c.TimeJumps, c.Gaps, c.OutOfOrder,
				(int64(peak)-int64(before.HeapInuse))>>20)
		})
	}
}

// TestPrefetchChangesNothing: an inline engine told every SYN ahead
// (Prefetch, as the pipeline does) ends in the same state as one never
// told: the same records, counters and busiest sources, and the same saved
// state (its tables walked in slot order, and the memory of forgotten
// sources) along the way. The hostile mix reaches the flood detector's
// and the memory's prefetches, the normal one floods and scanners.
func TestPrefetchChangesNothing(t *testing.T) {
	n := 600_000
	if testing.Short() {
		n = 150_000
	}
	for _, mix := range []struct {
		name   string
		stream []decode.Syn
	}{{"normal", mixedStream(1, n)}, {"hostile", hostileStream(1, n)}} {
		t.Run(mix.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.MaxSources, cfg.MaxTargets = 50_000, 50_000
			run := func(ahead bool) (*recorder, Counters, []sources.TopSource, []string) {
				rec := &recorder{}
				e, err := New(cfg, rec)
				if err != nil {
					t.Fatal(err)
				}
				var states []string
				for i := range mix.stream {
					if j := i + 8; ahead && j < len(mix.stream) && mix.stream[j].Flags == 2 {
						e.Prefetch(&mix.stream[j])
					}
					s := mix.stream[i]
					var m *decode.Syn
					if s.Flags == 2 {
						m = &s
					}
					e.Frame(s.Ts, 60, m)
					if i%(n/4) == n/4-1 {
						var b bytes.Buffer
						if err := e.SaveState(&b); err != nil {
							t.Fatal(err)
						}
						states = append(states, b.String())
					}
				}
				e.Finish()
				return rec, e.Counters(), e.Top(), states
			}
			want, wantC, wantTop, wantStates := run(false)
			got, gotC, gotTop, gotStates := run(true)
			if wantC.NewSources == 0 || (mix.name == "hostile" && wantC.Evicted == 0) || (mix.name == "normal" && wantC.FloodSources == 0) {
				t.Fatalf("the mix does not reach the paths: %+v", wantC)
			}
			if !reflect.DeepEqual(got.sources, want.sources) || !reflect.DeepEqual(got.windows, want.windows) ||
				fmt.Sprint(got.floods) != fmt.Sprint(want.floods) || !reflect.DeepEqual(got.scanners, want.scanners) {
				t.Errorf("records differ: %d sources, %d windows told ahead; %d, %d not", len(got.sources), len(got.windows),
					len(want.sources), len(want.windows))
			}
			if gotC != wantC {
				t.Errorf("counters %+v, not told ahead %+v", gotC, wantC)
			}
			if !reflect.DeepEqual(gotTop, wantTop) {
				t.Errorf("top sources %v, not told ahead %v", gotTop, wantTop)
			}
			for i := range wantStates {
				if gotStates[i] != wantStates[i] {
					t.Errorf("saved state %d differs", i)
				}
			}
		})
	}
}

// BenchmarkMix compares the engine's cost on a normal mix and on the
// hostile one, per packet and per SYN (the issue asks the hostile mix's
// cost per SYN within 2x of the normal mix's; a fifth of the normal mix's
// packets are not SYNs), and on the hostile one without its believed
// jumps ("capped": every new source evicts one).
//
//	go test ./pkg/engine -run '^$' -bench Mix -benchtime 3x
func BenchmarkMix(b *testing.B) {
	for _, mix := range []struct {
		name   string
		stream []decode.Syn
	}{{"normal", mixedStream(1, 1_000_000)}, {"hostile", hostileStream(1, 1_000_000)}, {"capped", cappedStream(1, 1_000_000)}} {
		for _, shards := range []int{0, 2} {
			b.Run(fmt.Sprintf("%s/shards-%d", mix.name, shards), func(b *testing.B) {
				cfg := DefaultConfig()
				cfg.MaxSources, cfg.Shards = 100_000, shards
				for b.Loop() {
					e, _ := New(cfg, discard{})
					feed(e, mix.stream, true)
				}
				syns := 0
				for i := range mix.stream {
					if mix.stream[i].Flags == 2 {
						syns++
					}
				}
				perIter := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
				b.ReportMetric(perIter/float64(len(mix.stream)), "ns/pkt")
				b.ReportMetric(perIter/float64(syns), "ns/syn") // the measure: the other packets cost little
			})
		}
	}
}

// TestNewPrefixesWhenThePrefixTableIsFull: once a flood has filled the
// prefix tables, a prefix they cannot keep is new with its new source
// only. It was counted new on every SYN: a scanner from a /24 not yet seen
// sent 100 SYNs and made 100 new prefixes, more than the window's new
// sources, for two lookbacks after the flood.
func TestNewPrefixesWhenThePrefixTableIsFull(t *testing.T) {
	cfg := small()
	cfg.MaxSources = 1000
	var steps []step
	for i := 0; i < 2000; i++ { // spoofed one-SYN sources, each in a /24 of its own
		steps = append(steps, step{t0 + int64(i)*10*1e6, fmt.Sprintf("%d.%d.%d.1", 11+i/65536, i/256%256, i%256), fmt.Sprintf("198.18.%d.%d", i/256%256, i%256)})
	}
	for i := 0; i < 100; i++ { // then a scanner from a new /24, 100 SYNs
		steps = append(steps, step{t0 + minute + int64(i)*100*1e6, "203.0.113.7", fmt.Sprintf("198.19.0.%d", i+1)})
	}
	rec := run(t, cfg, steps)
	full := false
	for _, w := range rec.windows {
		if w.NewPrefixes > w.NewSources {
			t.Errorf("window %d: new_prefixes %d > new_sources %d", (w.Start-t0)/minute, w.NewPrefixes, w.NewSources)
		}
		full = full || w.Untracked+w.Evicted > 0
	}
	if last := rec.windows[len(rec.windows)-1]; !full || last.NewSources != 1 || last.NewPrefixes != 1 {
		t.Errorf("the scanner's window: new sources %d, new prefixes %d (the table full: %v)", last.NewSources, last.NewPrefixes, full)
	}
}

// TestMaxSourcesSplitExactly: --max-sources is split among the shards
// exactly (each got it divided and rounded up: 1002 tracked for 1000 with
// three shards).
func TestMaxSourcesSplitExactly(t *testing.T) {
	for _, shards := range []int{0, 2, 3, 7} {
		cfg := small()
		cfg.MaxSources, cfg.Shards = 1000, shards
		var steps []step
		for i := range 5000 {
			steps = append(steps, step{t0 + int64(i)*sec/100, fmt.Sprintf("11.%d.%d.1", i/256, i%256), "198.18.0.1"})
		}
		e, _ := New(cfg, &recorder{})
		for _, st := range steps {
			s := syn(st.src, st.dst)
			e.Frame(st.at, 60, &s)
		}
		e.Flush()
		if n := e.Counters().TrackedSources; n != 1000 {
			t.Errorf("%d shards: %d sources tracked, --max-sources 1000", shards, n)
		}
		e.Finish()
	}
}

// feed hands a stream to the engine, frames with Flags 2 as SYNs, the
// others as frames that are no SYN, then finishes it; tell: each SYN told
// eight ahead (Prefetch), as the pipeline does.
func feed(e *Engine, stream []decode.Syn, tell bool) {
	for i := range stream {
		if j := i + 8; tell && j < len(stream) && stream[j].Flags == 2 {
			e.Prefetch(&stream[j])
		}
		s := stream[i]
		var m *decode.Syn
		if s.Flags == 2 {
			m = &s
		}
		e.Frame(s.Ts, 60, m)
	}
	e.Finish()
}
