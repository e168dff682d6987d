package growth

import (
	"fmt"
	"testing"
	"time"
)

// TestStepsAndBurstsAreNeverExponential: a campaign that switches on (a
// step in a steady rate, 2 to 4, 20 or 50 a window, and 0 to 20) or a
// burst of 1,000 new sources in one window on 2 a window is never called
// exponential, and the verdict stands down to linear within a day. (Before
// the change, the steady rate's rare false alarms are measured by the
// harness, not here.)
func TestStepsAndBurstsAreNeverExponential(t *testing.T) {
	const at = 30.0 // hours
	cases := []struct {
		name          string
		before, after float64 // per 5-minute window
		burst         float64
	}{
		{"step 2 to 4", 2, 4, 0}, {"step 2 to 20", 2, 20, 0}, {"step 2 to 50", 2, 50, 0}, {"step 0 to 20", 0, 20, 0},
		{"burst 1000 on 2", 2, 2, 1000},
	}
	for _, c := range cases {
		for seed := uint64(1); seed <= 3; seed++ {
			t.Run(fmt.Sprint(c.name, "/", seed), func(t *testing.T) {
				vs := feed(t, DefaultConfig(), 60, seed, func(h float64) float64 {
					switch {
					case c.burst > 0 && h >= at && h < at+1.0/12:
						return (c.before + c.burst) * 12
					case h < at:
						return c.before * 12
					}
					return c.after * 12
				})
				lastLinear := -1
				for i, v := range vs {
					if v.Model == Exponential && float64(i)/12 >= at {
						t.Fatalf("window %d (%.2f h): exponential %+v", i, float64(i)/12, v)
					}
					if v.Model == Linear {
						lastLinear = i
					}
				}
				if end := vs[len(vs)-1]; end.Model != Linear || lastLinear < 0 {
					t.Errorf("%d h after the change: %s (%s)", 60-int(at), end.Model, end.Reason)
				}
			})
		}
	}
}

// A step from 2 to 4 new sources a window, 3.5 h after it (the harness's
// step-2-4, seed 165, to 34.5 h): the day's fit of a trend and a day/night
// term explained the counts about as well as the step (BIC 1067.4 against
// 1064.9), and the margin growth had over a step made it exponential,
// doubling 2 h, five windows in a row and an alert. A rise of less than
// stepRise between two levels gets no margin: a tie goes to the step.
func TestSmallStepTieGoesToTheStep(t *testing.T) {
	counts := []float64{1, 3, 2, 1, 0, 1, 4, 3, 0, 1, 1, 1, 0, 3, 2, 2, 0, 5, 0, 2, 3, 1, 1, 3, 4, 4, 3, 3, 2, 5, 0, 3, 2, 2, 7, 1, 1, 5, 2, 0, 3, 1, 3, 2, 1, 3, 0, 1, 2, 3, 3, 4, 0, 4, 2, 4, 4, 1, 3, 1, 3, 0, 3, 2, 1, 2, 0, 1, 2, 4, 0, 2, 2, 2, 1, 1, 2, 0, 4, 2, 2, 5, 1, 0, 1, 0, 1, 0, 4, 2, 2, 1, 3, 3, 1, 3, 3, 1, 2, 3, 3, 1, 5, 4, 2, 4, 1, 2, 2, 5, 2, 0, 2, 0, 4, 2, 1, 2, 1, 1, 2, 2, 1, 2, 0, 0, 0, 1, 1, 1, 2, 3, 1, 4, 0, 1, 2, 1, 1, 2, 2, 2, 1, 1, 1, 0, 1, 1, 0, 2, 2, 3, 0, 0, 4, 2, 2, 0, 3, 2, 1, 0, 3, 1, 4, 0, 0, 0, 0, 4, 6, 1, 1, 9, 3, 1, 2, 2, 1, 4, 2, 2, 4, 0, 2, 1, 1, 1, 3, 2, 1, 3, 0, 1, 2, 4, 3, 5, 2, 1, 0, 3, 3, 0, 2, 2, 0, 1, 3, 0, 5, 1, 3, 6, 2, 0, 1, 3, 4, 1, 2, 3, 4, 4, 3, 3, 2, 2, 3, 7, 1, 3, 2, 0, 0, 2, 2, 2, 0, 4, 0, 2, 2, 1, 1, 1, 3, 3, 1, 2, 0, 2, 3, 1, 1, 1, 1, 2, 3, 0, 1, 2, 0, 2, 3, 1, 2, 1, 3, 2, 2, 6, 4, 2, 0, 1, 3, 1, 0, 2, 2, 1, 8, 0, 3, 7, 1, 6, 2, 3, 3, 1, 2, 0, 1, 2, 3, 2, 1, 0, 4, 2, 3, 1, 2, 6, 2, 0, 7, 4, 4, 0, 2, 1, 3, 1, 2, 1, 1, 2, 1, 2, 0, 2, 3, 2, 0, 2, 3, 4, 2, 4, 3, 3, 1, 2, 1, 2, 3, 3, 8, 2, 2, 3, 3, 1, 0, 1, 1, 2, 1, 3, 1, 0, 4, 1, 2, 3, 1, 2, 5, 4, 4, 5, 5, 3, 7, 5, 3, 2, 5, 2, 4, 4, 3, 6, 4, 4, 7, 6, 3, 3, 2, 1, 8, 2, 10, 4, 3, 4, 3, 2, 5, 3, 5, 5, 3, 8, 6, 7, 9, 5, 4, 5, 4, 4, 3, 2, 5, 5, 3, 5, 4, 2}
	w := 5 * time.Minute
	c, err := New(DefaultConfig(), w)
	if err != nil {
		t.Fatal(err)
	}
	streak, longest, steps := 0, 0, 0
	for i, k := range counts {
		start := t0 + int64(i)*int64(w)
		v := c.Add(Window{Start: start, End: start + int64(w), New: k, Exposure: 1, Warmup: i < 289})
		if v.Model == Exponential {
			streak++
			longest = max(longest, streak)
		} else {
			streak = 0
		}
		if v.Model == Step {
			steps++
		}
	}
	if longest >= 3 {
		t.Errorf("a step from 2 to 4 per window: %d exponential verdicts in a row", longest)
	}
	if steps == 0 {
		t.Error("the step was never named")
	}
}

// A burst of 1,000 new sources in one window on a steady 2 a window is set
// aside even where the cycle test, not an exponential verdict, held its
// growth back (the burst's scatter makes the test ask more of growth):
// the verdict is linear again within two hours of it, as before. Without
// it, the verdict stayed insufficient_data for most of the day the burst
// spent in the horizon (harness, burst-1000: 65 % of the windows after
// warm-up).
func TestBurstHeldByTheCycleIsSetAside(t *testing.T) {
	const at = 30.0 // hours
	for seed := uint64(1); seed <= 3; seed++ {
		vs := feed(t, DefaultConfig(), 48, seed, func(h float64) float64 {
			if h >= at && h < at+1.0/12 {
				return 1002 * 12
			}
			return 24
		})
		var linear, after int
		for i, v := range vs {
			if h := float64(i) / 12; h >= at+2 {
				after++
				if v.Model == Linear {
					linear++
				}
			}
		}
		if linear < after*95/100 {
			t.Errorf("seed %d: %d of the %d windows from 2 h after the burst called linear, want 95 %%", seed, linear, after)
		}
	}
}
