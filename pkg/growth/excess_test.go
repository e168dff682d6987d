package growth

import (
	"math"
	"slices"
	"testing"
	"time"
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
		// Every exponential verdict measured as an excess holds its rate
		// within its interval, with the evidence of its fit (they wrote
		// 0 to 0 and zero log-likelihoods: a review).
		for i := range vs {
			if v := &vs[i]; v.Model == Exponential && v.BackgroundPerHour > 0 &&
				!(v.RateLow < v.RatePerHour && v.RatePerHour < v.RateHigh && v.LogLikMultiply > v.LogLikSteady && v.LogLikSteady < 0) {
				t.Fatalf("seed %d window %d: rate %.3g, interval %.3g to %.3g, loglik %.4g against steady %.4g",
					seed, i, v.RatePerHour, v.RateLow, v.RateHigh, v.LogLikMultiply, v.LogLikSteady)
			}
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

// TestSteadyDayMeasuredFindsOutbreaksSooner: an outbreak doubling every
// 4 h on a steady background without a day/night cycle. Its rise makes the
// 24 h horizon fit a day/night term, and the excess test then allowed for
// the configured ±50 % cycle; with the amplitude the steady day before
// measured, the outbreak is called sooner. The measured path only adds a
// test, so no run may be called later, and some must be called sooner.
func TestSteadyDayMeasuredFindsOutbreaksSooner(t *testing.T) {
	const start, d = 24.0, 4.0
	t10 := start + d*math.Log2(10)
	rate := func(h float64) float64 {
		if h < start {
			return 24
		}
		return 24 + math.Exp2((h-start)/d)
	}
	first := func(seed uint64, set func(*Classifier)) float64 {
		vs := feedWith(t, DefaultConfig(), t10+3*d, seed, rate, set)
		for i := int(start * 12); i < len(vs); i++ {
			if vs[i].Model == Exponential && vs[i].Confidence >= 0.9 {
				return float64(i+1) / 12
			}
		}
		return math.Inf(1)
	}
	sooner, within := 0, 0
	for seed := uint64(1); seed <= 5; seed++ {
		with, without := first(seed, nil), first(seed, func(c *Classifier) { c.noBg = true })
		if with > without {
			t.Errorf("seed %d: called at %.2f h with the measured cycle, %.2f h without", seed, with, without)
		}
		if with < without {
			sooner++
		}
		if with <= t10+2*d {
			within++
		}
		t.Logf("seed %d: first alarm %.2f h (without the measured cycle %.2f h); t10 + 2D = %.2f h", seed, with, without, t10+2*d)
	}
	if sooner == 0 {
		t.Errorf("no run called sooner with the steady day's measured cycle")
	}
	t.Logf("%d of 5 runs sooner, %d within 2 doublings of t10", sooner, within)
}

// TestBackgroundMemo: the cycle allowed for is the largest measured over
// the last week's days, and only while the latest measurement is at most
// bgMemory old and not in the future (a clock that went back).
func TestBackgroundMemo(t *testing.T) {
	const h = int64(time.Hour)
	var m bgMemo
	if _, ok := m.at(t0); ok {
		t.Fatal("a memo with nothing in it answered")
	}
	m.note(0.4, t0)           // day 0
	m.note(0.1, t0+30*h)      // day 1
	m.note(0.2, t0+6*24*h)    // day 6
	m.note(0.15, t0+6*24*h+h) // day 6 again: the larger is kept
	if a, ok := m.at(t0 + 6*24*h + 2*h); !ok || a != 0.4 {
		t.Errorf("within the week: %v %v, want 0.4 (day 0's)", a, ok)
	}
	m.note(0.12, t0+8*24*h) // day 8: day 0 and day 1 are out of the week
	if a, ok := m.at(t0 + 8*24*h + h); !ok || a != 0.2 {
		t.Errorf("a week later: %v %v, want 0.2 (day 6's)", a, ok)
	}
	if _, ok := m.at(t0 + 8*24*h + 25*h); ok {
		t.Error("answered 25 h after the latest measurement")
	}
	if _, ok := m.at(t0 + 8*24*h - h); ok {
		t.Error("answered before the latest measurement (the clock went back)")
	}
}
