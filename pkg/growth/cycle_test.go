package growth

import (
	"math"
	"strings"
	"testing"
	"time"
)

// A ±80 % day/night cycle (Poisson, 60 new sources an hour on average) must
// not be called exponential on any morning, the first included, where the
// day/night bound alone (it assumes ±50 %) let every run alarm; and the
// reason names the cycle where the bound was cleared.
func TestStrongCycleIsNotGrowth(t *testing.T) {
	blocked := 0
	for seed := uint64(1); seed <= 3; seed++ {
		vs := feed(t, DefaultConfig(), 54, seed, func(h float64) float64 {
			return 60 * (1 + 0.8*math.Sin(2*math.Pi*(h-8)/24)) // trough at 02:00
		})
		for i, v := range vs {
			if v.Model == Exponential {
				t.Fatalf("seed %d, hour %.2f: a ±80 %% cycle called exponential: %+v", seed, float64(i)/12, v)
			}
			if strings.Contains(v.Reason, "day/night cycle") {
				blocked++
			}
		}
	}
	if blocked == 0 {
		t.Fatal("no window cleared the bound: the test does not exercise the cycle")
	}
}

// An epidemic outgrows any cycle: doubling every 1 h or 2 h from 1 an hour,
// the runs called exponential within two doublings of reaching 10 an hour
// are, with the cycle test, at most one in 20 fewer than without it
// (measured on these 20 seeds: 17 and 19 with it, 18 and 20 without).
func TestGrowthOutgrowsTheCycle(t *testing.T) {
	for _, d := range []float64{1, 2} {
		t10 := d * math.Log2(10)
		detected := func(set func(*Classifier)) (n int) {
			for seed := uint64(1); seed <= 20; seed++ {
				vs := feedWith(t, DefaultConfig(), t10+2*d, seed, func(h float64) float64 { return math.Exp2(h / d) }, set)
				for _, v := range vs {
					if v.Model == Exponential && v.Confidence >= 0.9 {
						n++
						break
					}
				}
			}
			return n
		}
		with, without := detected(nil), detected(func(c *Classifier) { c.noCycle = true })
		if with < without-1 || with < 17 {
			t.Errorf("doubling %v h: called exponential by t10 + 2 doublings in %d of 20 runs with the cycle test, %d without", d, with, without)
		}
		t.Logf("doubling %v h: %d of 20 runs with the cycle test, %d without", d, with, without)
	}
}

// cycleLoglik finds a cycle that is there: on the cycle's own expected
// counts, it beats a steady level by far and matches the cycle's
// log-likelihood at its true amplitude and phase (both off the grid) within
// the refinement; and the amplitude's upper bound holds the truth.
func TestCycleLoglikFindsTheCycle(t *testing.T) {
	const n = 144 // 12 h of 5-minute windows from 02:00: trough to peak
	y, off, cosv, sinv := make([]float64, n), make([]float64, n), make([]float64, n), make([]float64, n)
	omega := 2 * math.Pi / 24
	var trueLL, steadyLL, sy float64
	for i := range n {
		h := 2 + (float64(i)+0.5)/12
		mu := 60 * (1 + 0.65*math.Sin(omega*(h-8.3))) / 12 // off the grid: the refinement must find it
		y[i] = math.Round(mu)
		off[i] = math.Log(1.0 / 12)
		cosv[i], sinv[i] = math.Cos(omega*h), math.Sin(omega*h)
		trueLL += y[i]*math.Log(mu) - mu - logFactorial(y[i])
		sy += y[i]
	}
	for i := range n {
		mu := sy / n
		steadyLL += y[i]*math.Log(mu) - mu - logFactorial(y[i])
	}
	got := cycleLoglik(y, off, cosv, sinv, DefaultConfig().CycleAmplitude)
	if got < trueLL-0.5 {
		t.Fatalf("cycle log-likelihood %.2f below the true cycle's %.2f", got, trueLL)
	}
	if got < steadyLL+50 {
		t.Fatalf("cycle %.2f hardly beats steady %.2f", got, steadyLL)
	}
	if weak := cycleLoglik(y, off, cosv, sinv, 0.2); weak > got-20 {
		t.Fatalf("a ±20 %% cycle (%.2f) explains a ±65 %% one nearly as well (%.2f)", weak, got)
	}
	if up := cycleAmpUpper(y, off, cosv, sinv, 0.8, 1); up < 0.65 || up > 0.75 {
		t.Fatalf("upper bound of the amplitude %.3f, want just above 0.65", up)
	}
}

// growth-cycle-amplitude 0 turns the test off: the same counts, the same
// verdicts as a classifier without it.
func TestCycleAmplitudeZeroIsOff(t *testing.T) {
	cfg := DefaultConfig()
	cfg.CycleAmplitude = 0
	rate := func(h float64) float64 { return 60 * (1 + 0.8*math.Sin(2*math.Pi*(h-8)/24)) }
	off := feed(t, cfg, 30, 3, rate)
	untested := feedWith(t, DefaultConfig(), 30, 3, rate, func(c *Classifier) { c.noCycle = true })
	for i := range off {
		if off[i].Model != untested[i].Model || off[i].Confidence != untested[i].Confidence {
			t.Fatalf("window %d: amplitude 0 gives %s, no test %s", i, off[i].Model, untested[i].Model)
		}
	}
	bad := DefaultConfig()
	bad.CycleAmplitude = 1
	if err := bad.Validate(5 * time.Minute); err == nil || !strings.Contains(err.Error(), "growth-cycle-amplitude") {
		t.Fatalf("amplitude 1 accepted or the error does not name the setting: %v", err)
	}
}

// Two first mornings of a bursty ±80 % cycle (negative binomial, 60 new
// sources an hour on average, trough at 02:00 UTC: the harness's
// daynight-nb-80, seeds 71 and 52, 5-minute windows from 00:00 UTC) whose
// newest windows ran high: the 6 h horizon beat the cycle fitted to its own
// windows (seed 71's scatter not yet clear there, so taken as Poisson), and
// both raised an alert, from 7.4 h and 8.7 h on. Over all the windows kept
// the cycle explains them as well as growth: with that test no window is
// exponential, and the verdict says so; without it, three in a row are.
func TestCycleOverTheWindowsKept(t *testing.T) {
	mornings := map[int][]float64{
		71: {3, 1, 9, 2, 0, 0, 0, 0, 0, 1, 0, 3, 1, 2, 2, 0, 3, 0, 0, 1, 0, 0, 1, 2, 0, 0, 1, 0, 1, 0, 0, 1, 0, 0, 0, 0, 2, 0, 0, 2, 1, 0, 2, 1, 2, 0, 1, 1, 1, 1, 2, 1, 0, 1, 0, 4, 0, 4, 2, 4, 3, 4, 0, 0, 7, 5, 3, 0, 3, 1, 0, 0, 4, 5, 2, 5, 2, 1, 3, 4, 6, 7, 7, 2, 4, 0, 7, 2, 8, 1, 7, 10, 2, 10, 7, 6, 3, 3, 1, 2, 0, 7, 2, 9, 0, 2, 6, 10, 4, 3},
		52: {1, 2, 2, 7, 0, 0, 0, 0, 2, 0, 1, 2, 0, 1, 0, 0, 0, 0, 1, 2, 0, 0, 1, 3, 0, 1, 1, 0, 1, 1, 1, 2, 0, 0, 2, 1, 0, 0, 0, 1, 0, 1, 0, 1, 0, 1, 3, 1, 3, 0, 3, 2, 2, 2, 0, 4, 2, 0, 2, 1, 3, 1, 1, 1, 2, 0, 1, 2, 0, 0, 0, 0, 3, 3, 3, 1, 4, 1, 1, 4, 1, 0, 0, 8, 2, 16, 5, 4, 6, 3, 8, 9, 6, 4, 5, 0, 0, 8, 1, 3, 22, 11, 15, 10, 19, 6, 1, 4, 5, 17},
	}
	firstExposure := map[int]float64{71: 0.7579, 52: 0.3863}
	w := 5 * time.Minute
	const midnight = int64(1231545600) * 1e9 // 2009-01-10 00:00 UTC
	for seed, counts := range mornings {
		// the longest run of exponential verdicts, with and without the test
		held := 0 // windows whose verdict says why
		run := func(noKept bool) (longest int) {
			c, err := New(DefaultConfig(), w)
			if err != nil {
				t.Fatal(err)
			}
			c.noKept = noKept
			cur := 0
			for i, n := range counts {
				start := midnight + int64(i)*int64(w)
				e := 1.0
				if i == 0 {
					e = firstExposure[seed]
				}
				v := c.Add(Window{Start: start, End: start + int64(w), New: n, Exposure: e, Warmup: true})
				if v.Model == Exponential {
					cur++
				} else {
					cur = 0
				}
				if strings.Contains(v.Reason, "windows kept as well") {
					held++
				}
				longest = max(longest, cur)
			}
			return longest
		}
		if with, without := run(false), run(true); with != 0 || without < 3 {
			t.Errorf("seed %d: longest run of exponential windows %d with the cycle test over the windows kept (want 0), %d without (want 3 or more)", seed, with, without)
		}
		if held == 0 {
			t.Errorf("seed %d: no verdict names the cycle over the windows kept", seed)
		}
	}
}
