package engine

import (
	"fmt"
	"github.com/synscope/synscope/pkg/sources"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"testing"
	"time"

	"github.com/synscope/synscope/pkg/decode"
)

// mixedStream is a seeded stream of packets that exercises every path of
// the shards: sources that return within and after the lookback, IPv4 and
// IPv6, own hosts that start scanning (outbound_scanner records), a spoofed
// flood, SYNs out of order, idle stretches and a confirmed jump past
// MaxGap. Not SYN packets come between.
func mixedStream(seed uint64, n int) []decode.Syn {
	rng := rand.New(rand.NewPCG(seed, 99))
	out := make([]decode.Syn, 0, n)
	ts := t0
	pop := make([][16]byte, 5000)
	for i := range pop {
		a := rng.Uint64()
		if i%7 == 0 {
			pop[i] = [16]byte{0x20, 0x01, 0x0d, 0xb8, byte(a), byte(a >> 8), 15: byte(a >> 16)}
		} else if i%11 == 0 {
			pop[i] = [16]byte{10, 1, byte(a), byte(a >> 8)} // ours: --home-net 10.0.0.0/8
		} else {
			pop[i] = [16]byte{byte(a), byte(a >> 8), byte(a >> 16), byte(a >> 24)}
		}
	}
	for len(out) < n {
		ts += int64(rng.ExpFloat64() * float64(40*time.Millisecond))
		switch r := rng.IntN(100000); {
		case r < 3:
			ts += int64(rng.IntN(3)) * hr // idle stretches past the lookback
		case r < 4:
			// a spoofed flood: 1,500 one-SYN sources in 3 seconds, at two targets
			for i := 0; i < 1500 && len(out) < n; i++ {
				a := rng.Uint32()
				s := decode.Syn{Ts: ts + int64(i)*2*int64(time.Millisecond), DstPort: 445, Flags: 2}
				s.Src = [16]byte{byte(a), byte(a >> 8), byte(a >> 16), byte(a >> 24)}
				s.Dst = [16]byte{198, 18, 0, byte(1 + i%2)} // two targets
				out = append(out, s)
			}
			ts += 3 * sec
			continue
		case r < 5 && len(out) > 1000:
			// a run of bad timestamps far ahead, long enough to be believed
			// once in a while
			k := 10 + rng.IntN(80)
			for i := 0; i < k && len(out) < n; i++ {
				out = append(out, decode.Syn{Ts: ts + 9*24*hr, Flags: 0})
			}
			if k >= jumpConfirm {
				ts += 9 * 24 * hr
			}
			continue
		}
		s := decode.Syn{Ts: ts, DstPort: 445, Flags: 2}
		if rng.IntN(50) == 0 {
			s.Ts = ts - int64(rng.IntN(int(minute))) // out of order
		}
		if rng.IntN(5) == 0 {
			s.Flags = 0 // some other packet
		}
		i := int(float64(len(pop)) * rng.Float64() * rng.Float64()) // some sources far busier
		s.Src = pop[i]
		s.V6 = i%7 == 0
		d := rng.Uint32()
		if s.V6 {
			s.Dst = [16]byte{0x20, 0x01, 0x0d, 0xb8, 15: byte(d)}
		} else {
			s.Dst = [16]byte{198, 18, byte(d), byte(d >> 8)}
		}
		out = append(out, s)
	}
	return out
}

func runStream(t testing.TB, cfg Config, stream []decode.Syn) (*recorder, Counters, []sources.TopSource) {
	return runStreamEach(t, cfg, stream, nil)
}

// runStreamEach is runStream calling each, when not nil, after every frame.
func runStreamEach(t testing.TB, cfg Config, stream []decode.Syn, each func()) (*recorder, Counters, []sources.TopSource) {
	rec := &recorder{}
	e, err := New(cfg, rec)
	if err != nil {
		t.Fatal(err)
	}
	for i := range stream {
		s := stream[i]
		var m *decode.Syn
		if s.Flags == 2 {
			m = &s
		}
		e.Frame(s.Ts, 60, m)
		if i%50_000 == 0 {
			e.Flush() // a stats record mid-run: a hand-over between markers
		}
		if each != nil {
			each()
		}
	}
	e.Finish()
	return rec, e.Counters(), e.Top()
}

// TestShardsGiveTheSameRecords: with 1 to 7 shard workers the records are
// exactly those of the inline shard, in the same order: no record lost,
// duplicated or reordered, whatever the scheduling. (Run it with -race too:
// CI does.)
func TestShardsGiveTheSameRecords(t *testing.T) {
	n := 400_000 // -short too: fewer packets miss some paths (a confirmed gap first comes after 350,000)
	stream := mixedStream(1, n)
	cfg := DefaultConfig()
	cfg.Window, cfg.Lookback = time.Minute, time.Hour
	cfg.MaxGap = 2 * 24 * time.Hour
	cfg.HomeNet = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	cfg.ScanHosts = 10 // the stream's busiest sources reach it within an interval
	want, wantC, wantTop := runStream(t, cfg, stream)
	if len(want.sources) < 1000 || len(want.scanners) == 0 || len(want.scans) == 0 || wantC.Returning == 0 || wantC.Gaps == 0 ||
		wantC.FloodSources == 0 || len(want.floods) == 0 || wantC.OutOfOrder == 0 || wantC.Expired == 0 {
		t.Fatalf("the stream does not exercise every path: %d sources, %d scanners, counters %+v",
			len(want.sources), len(want.scanners), wantC)
	}
	for _, shards := range []int{1, 2, 3, 7} {
		t.Run(fmt.Sprint(shards), func(t *testing.T) {
			c := cfg
			c.Shards = shards
			got, gotC, gotTop := runStream(t, c, stream)
			if len(got.sources) != len(want.sources) {
				t.Fatalf("%d source records, inline %d", len(got.sources), len(want.sources))
			}
			for i := range want.sources {
				if got.sources[i] != want.sources[i] {
					t.Fatalf("source record %d: %+v, inline %+v", i, got.sources[i], want.sources[i])
				}
			}
			if fmt.Sprint(got.floods) != fmt.Sprint(want.floods) {
				t.Errorf("flood records differ:\n%v\ninline\n%v", got.floods, want.floods)
			}
			if !reflect.DeepEqual(got.scanners, want.scanners) {
				t.Errorf("scanner records differ: %d vs %d", len(got.scanners), len(want.scanners))
			}
			if !reflect.DeepEqual(got.scans, want.scans) {
				t.Errorf("scan records differ: %d vs %d", len(got.scans), len(want.scans))
			}
			if !reflect.DeepEqual(got.windows, want.windows) {
				for i := range want.windows {
					if i >= len(got.windows) || got.windows[i] != want.windows[i] {
						t.Fatalf("window %d: %+v, inline %+v", i, got.windows[i], want.windows[i])
					}
				}
				t.Fatalf("%d windows, inline %d", len(got.windows), len(want.windows))
			}
			if gotC != wantC {
				t.Errorf("counters %+v, inline %+v", gotC, wantC)
			}
			if !reflect.DeepEqual(gotTop, wantTop) {
				t.Errorf("top sources %v, inline %v", gotTop, wantTop)
			}
		})
	}
}
