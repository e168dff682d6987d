package engine

import "testing"

// TestPrefetchTunerKeepsTheCheaperWay: with a clock on which a block with
// the hints costs more than one without (a table the caches hold), the
// tuner gives them in the probes only, one block in tuneProbe; with the
// cost the other way round (a capture streaming through the caches) it
// gives them but in the probes; and it follows a change.
func TestPrefetchTunerKeepsTheCheaperWay(t *testing.T) {
	for _, c := range []struct {
		name    string
		on, off int64 // ns a block
		wantOn  bool
	}{
		{"hints dearer", 110, 100, false},
		{"hints cheaper", 96, 100, true},
	} {
		var clock int64
		p := prefetchTuner{}
		p.now = func() int64 { return clock }
		given, blocks := 0, 0
		run := func(n int, on, off int64) {
			for range n * tuneBlock {
				g := p.tick()
				if p.n == 0 { // a block ended at this tick: charge it
					continue
				}
				if p.n == 1 {
					blocks++
					if g {
						given++
						clock += on
					} else {
						clock += off
					}
				}
			}
		}
		run(16, c.on, c.off) // settle
		given, blocks = 0, 0
		run(64, c.on, c.off)
		share := float64(given) / float64(blocks)
		if want := 1.0 / tuneProbe; !c.wantOn && (share < want-0.02 || share > want+0.02) {
			t.Errorf("%s: hints in %.2f of the blocks, want %.2f (the probes)", c.name, share, want)
		}
		if want := 1 - 1.0/tuneProbe; c.wantOn && (share < want-0.02 || share > want+0.02) {
			t.Errorf("%s: hints in %.2f of the blocks, want %.2f", c.name, share, want)
		}
		// The costs change places: the choice follows within a few probes.
		run(64, c.off, c.on)
		given, blocks = 0, 0
		run(64, c.off, c.on)
		share = float64(given) / float64(blocks)
		if c.wantOn == (share > 0.5) {
			t.Errorf("%s, then the other way: hints in %.2f of the blocks", c.name, share)
		}
	}
}
