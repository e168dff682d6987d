package engine

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"runtime"
	"testing"
	"time"

	"github.com/synscope/synscope/pkg/decode"
	"github.com/synscope/synscope/pkg/sources"
	"github.com/synscope/synscope/pkg/srctable"
)

// fpTwins returns n pairs of IPv4 sources whose fingerprints in the memory
// of forgotten sources (the low half of their table hash, remember.go) are
// the same: for the memory, the second of a pair is the first returning.
func fpTwins(n int) [][2][4]byte {
	rng := rand.New(rand.NewPCG(3, 5))
	seen := map[uint32][4]byte{}
	var out [][2][4]byte
	for len(out) < n {
		k := rng.Uint32()
		f := uint32(srctable.Hash4(k))
		a := [4]byte{byte(k >> 24), byte(k >> 16), byte(k >> 8), byte(k)} // v4num's order
		if f == 0 || f == 1 {
			continue // fpOf makes 0 into 1
		}
		if b, ok := seen[f]; ok && b != a {
			out = append(out, [2][4]byte{b, a})
			delete(seen, f)
			continue
		}
		seen[f] = a
	}
	return out
}

// drainStream: a generation of many one-SYN sources, the first of each
// pair of fingerprint twins among them, is dropped two lookbacks later;
// then new sources come, the second of each pair among them, some at once
// (while the dropped generation is still being let go into the memory) and
// some later (once it is all in the memory).
func drainStream() []decode.Syn {
	const filler, after = 60_000, 2_000
	twins := fpTwins(32)
	rng := rand.New(rand.NewPCG(11, 13))
	v4 := func(a [4]byte, ts int64) decode.Syn {
		return decode.Syn{Ts: ts, Src: [16]byte{a[0], a[1], a[2], a[3]}, Dst: [16]byte{198, 18, 0, 1}, DstPort: 445, Flags: 2}
	}
	random := func(ts int64) decode.Syn {
		k := rng.Uint32()
		return v4([4]byte{byte(k), byte(k >> 8), byte(k >> 16), byte(k >> 24)}, ts)
	}
	var out []decode.Syn
	ts := t0
	for i := range filler {
		if i%(filler/len(twins)) == 0 && i/(filler/len(twins)) < len(twins) {
			out = append(out, v4(twins[i/(filler/len(twins))][0], ts))
		} else {
			out = append(out, random(ts))
		}
		ts += int64(200 * time.Microsecond)
	}
	ts = t0 + 21*minute // two rotations: the first generation is dropped
	for i := range after {
		switch {
		case i >= 4 && i < 4+len(twins)/2: // at once
			out = append(out, v4(twins[i-4][1], ts))
		case i >= 1000 && i < 1000+len(twins)/2: // later
			out = append(out, v4(twins[len(twins)/2+i-1000][1], ts))
		default:
			out = append(out, random(ts))
		}
		ts += int64(time.Millisecond)
	}
	return out
}

// TestDrainFollowsTheStream: how far a shard has let a dropped generation
// go into the memory of forgotten sources decides whether a new source
// whose fingerprint matches a dropped one's is told returning, so the
// steps it takes must be set by the SYNs it is given, never by when its
// worker runs: a shard worker, however it is scheduled, writes exactly what
// the inline shard writes (one worker: the same table, capacity and
// memory), and two workers write the same on every run.
func TestDrainFollowsTheStream(t *testing.T) {
	stream := drainStream()
	cfg := small() // lookback 10 minutes
	cfg.Window = time.Minute
	cfg.FloodSourceRecords = true // one destination: a flood, every source written
	want, wantC, wantTop := runStream(t, cfg, stream)
	recalled := 0
	for _, s := range want.sources {
		if s.Returning && s.PrevLastSeen == 0 {
			recalled++
		}
	}
	if wantC.Expired == 0 || recalled == 0 {
		t.Fatalf("the stream does not reach the memory during a drop: %d recalled, counters %+v", recalled, wantC)
	}
	same := func(t *testing.T, what string, got *recorder, gotC Counters, gotTop any, want *recorder, wantC Counters, wantTop any) {
		t.Helper()
		if len(got.sources) != len(want.sources) {
			t.Fatalf("%d source records, %s %d", len(got.sources), what, len(want.sources))
		}
		for i := range want.sources {
			if got.sources[i] != want.sources[i] {
				t.Fatalf("source record %d: %+v, %s %+v", i, got.sources[i], what, want.sources[i])
			}
		}
		if !reflect.DeepEqual(got.windows, want.windows) || fmt.Sprint(got.floods) != fmt.Sprint(want.floods) {
			t.Errorf("window or flood records differ from %s", what)
		}
		if gotC != wantC {
			t.Errorf("counters %+v, %s %+v", gotC, what, wantC)
		}
		if !reflect.DeepEqual(gotTop, wantTop) {
			t.Errorf("top sources %v, %s %v", gotTop, what, wantTop)
		}
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	for _, procs := range []int{1, 2} {
		runtime.GOMAXPROCS(procs)
		for _, shards := range []int{1, 2} {
			t.Run(fmt.Sprintf("shards-%d/procs-%d", shards, procs), func(t *testing.T) {
				c := cfg
				c.Shards = shards
				// Left alone, a worker takes the SYNs in long runs (with
				// one P, only when the engine waits for it); yielding
				// after every frame has it take them one at a time.
				got, gotC, gotTop := runYielding(t, c, stream, false)
				if shards == 1 {
					same(t, "inline", got, gotC, gotTop, want, wantC, wantTop)
				}
				again, againC, againTop := runYielding(t, c, stream, true)
				same(t, "the run without yields", again, againC, againTop, got, gotC, gotTop)
			})
		}
	}
}

// runYielding is runStream, yielding the processor after every frame when
// yield is set.
func runYielding(t *testing.T, cfg Config, stream []decode.Syn, yield bool) (*recorder, Counters, []sources.TopSource) {
	var each func()
	if yield {
		each = runtime.Gosched
	}
	return runStreamEach(t, cfg, stream, each)
}
