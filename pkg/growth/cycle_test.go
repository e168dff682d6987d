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
