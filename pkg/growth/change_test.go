package growth

import (
	"fmt"
	"testing"
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
