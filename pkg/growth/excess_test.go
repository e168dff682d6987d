package growth

import (
	"math"
	"slices"
	"testing"
)

// TestOutbreakOnBackgroundIsMeasuredAsItsExcess: after 24 h of a steady 24
// new sources an hour, an outbreak doubling every 2 h from 1 an hour is
// called exponential (after its start) within three doublings of its own rate reaching 10 an
// hour, with the excess's doubling time (not the whole rate's, which the
// background slows to 13 h and more; median within 25 %) and the
// background under it.
func TestOutbreakOnBackgroundIsMeasuredAsItsExcess(t *testing.T) {
	const start, d = 24.0, 2.0
	t10 := start + d*math.Log2(10)
	var errs []float64
	for seed := uint64(1); seed <= 5; seed++ {
		vs := feed(t, DefaultConfig(), t10+3*d, seed, func(h float64) float64 {
			if h < start {
				return 24
			}
			return 24 + math.Exp2((h-start)/d)
		})
		var first *Verdict
		for i := int(start * 12); i < len(vs); i++ {
			if vs[i].Model == Exponential && vs[i].Confidence >= 0.9 {
				first = &vs[i]
				break
			}
		}
		if first == nil {
			t.Errorf("seed %d: not called exponential by t10 + 3 doublings", seed)
			continue
		}
		errs = append(errs, (first.DoublingHours-d)/d)
		if first.BackgroundPerHour < 12 || first.BackgroundPerHour > 36 {
			t.Errorf("seed %d: background %.1f/h, true 24", seed, first.BackgroundPerHour)
		}
	}
	slices.Sort(errs)
	if len(errs) == 5 && math.Abs(errs[2]) > 0.25 {
		t.Errorf("median doubling-time error at the first alarm %+.0f %% (all: %.2f)", 100*errs[2], errs)
	}
}

// TestSteadyBackgroundHasNoExcess: two days of a steady 24 an hour never
// turn exponential over a background.
func TestSteadyBackgroundHasNoExcess(t *testing.T) {
	for seed := uint64(1); seed <= 5; seed++ {
		for i, v := range feed(t, DefaultConfig(), 48, seed, func(float64) float64 { return 24 }) {
			if v.Model == Exponential && v.BackgroundPerHour > 0 {
				t.Errorf("seed %d window %d: exponential (background %.1f/h)", seed, i, v.BackgroundPerHour)
			}
		}
	}
}
