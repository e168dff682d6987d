package engine_test

import (
	"bytes"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/synscope/synscope/pkg/decode"
	"github.com/synscope/synscope/pkg/engine"
	"github.com/synscope/synscope/pkg/output"
)

const hr = int64(time.Hour)

// TestTickChangesNothing: frames that are no SYN taken by Tick (Frame's
// fast path, as the packet loops call it) leave the engine where Frame
// alone leaves it: the same records and counters, on the normal and the
// hostile mix with frames that are no SYN between the SYNs, in order, out
// of order, past the window's end, beyond MaxGap, and in runs long enough
// to be believed as a jump: the same JSONL, byte for byte (the order of the
// records too: a held window is released when it is due). It fails if
// Tick takes one frame Frame would treat otherwise (say, one while a
// window is held).
func TestTickChangesNothing(t *testing.T) {
	n := 200_000
	for _, mix := range []struct {
		name   string
		stream []decode.Syn
	}{{"normal", engine.MixedStream(3, n)}, {"hostile", engine.HostileStream(3, n)}} {
		rng := rand.New(rand.NewPCG(5, 5))
		type frame struct {
			ts   int64
			wire int
			syn  *decode.Syn
		}
		var frames []frame
		var shift int64 // after a believed jump, every later frame is that much later
		for i := range mix.stream {
			s := mix.stream[i]
			s.Ts += shift
			if s.Flags == 2 {
				frames = append(frames, frame{s.Ts, 60, &s})
			} else {
				frames = append(frames, frame{s.Ts, 60, nil})
			}
			// Between this frame and the next, in order, mostly.
			step := int64(time.Millisecond)
			if i+1 < len(mix.stream) && mix.stream[i+1].Ts > mix.stream[i].Ts {
				step = max(1, (mix.stream[i+1].Ts-mix.stream[i].Ts)/4)
			}
			ts := s.Ts
			for range rng.IntN(4) {
				ts += rng.Int64N(step)
				switch r := rng.IntN(1000); {
				case r < 20:
					ts -= int64(rng.IntN(int(time.Minute))) // out of order
				case r < 25: // beyond MaxGap, alone
					frames = append(frames, frame{ts + int64(8+rng.IntN(30))*24*hr, 60, nil})
				case r == 25: // beyond MaxGap, believed
					shift += 400 * 24 * hr
					ts += 400 * 24 * hr
					for range engine.JumpConfirm {
						frames = append(frames, frame{ts, 60, nil})
					}
				}
				frames = append(frames, frame{ts, 40 + rng.IntN(1400), nil})
			}
		}
		nonSyn := 0
		for _, f := range frames {
			if f.syn == nil {
				nonSyn++
			}
		}
		run := func(fast bool) (string, engine.Counters) {
			defer engine.SetFastPath(fast)()
			cfg := engine.DefaultConfig()
			cfg.MaxSources, cfg.MaxTargets = 50_000, 50_000
			var out bytes.Buffer
			w := output.NewWriter(&out, "tick")
			e, err := engine.New(cfg, w)
			if err != nil {
				t.Fatal(err)
			}
			ticked := 0
			for _, f := range frames {
				if f.syn != nil {
					s := *f.syn
					e.Frame(f.ts, f.wire, &s)
				} else if e.Tick(f.ts, f.wire) {
					ticked++
				} else {
					e.Frame(f.ts, f.wire, nil)
				}
			}
			e.Finish()
			if err := w.Flush(); err != nil {
				t.Fatal(err)
			}
			// Most frames that are no SYN go through Tick; in the hostile
			// mix a flood holds windows back much of the time, and Frame
			// takes the frames then, to release them.
			if fast {
				t.Logf("%s: Tick took %d of %d frames that are no SYN", mix.name, ticked, nonSyn)
				if ticked < nonSyn/3 {
					t.Errorf("%s: Tick took %d of %d frames that are no SYN", mix.name, ticked, nonSyn)
				}
			} else if ticked != 0 {
				t.Errorf("%s: Tick took %d frames with the fast path off", mix.name, ticked)
			}
			return out.String(), e.Counters()
		}
		want, wantC := run(false)
		got, gotC := run(true)
		if gotC != wantC {
			t.Errorf("%s: counters %+v, without Tick %+v", mix.name, gotC, wantC)
		}
		if got != want {
			t.Errorf("%s: the JSONL differs: %d bytes with Tick, %d without", mix.name, len(got), len(want))
		}
		if wantC.TimeJumps == 0 || wantC.OutOfOrder == 0 || wantC.Windows < 10 || (mix.name == "normal" && wantC.FloodSources == 0) {
			t.Errorf("%s: the frames do not reach the paths: %+v", mix.name, wantC)
		}
	}
}
