package growth

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"gonum.org/v1/gonum/stat/distuv"
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
// exponential, and the verdict says so; without it, three in a row are on
// seed 71's morning (seed 52's is held back now by the cycle test itself,
// whose quantile is further out for bursty counts, cycleBurstyTail: none
// without the check, and the check is not reached).
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
		with, without := run(false), run(true)
		if seed == 52 {
			if with != 0 || without != 0 || held != 0 {
				t.Errorf("seed 52: longest runs of exponential windows %d and %d with and without the check over the windows kept, %d verdicts naming it (want 0, 0, 0: the cycle test holds the morning back)", with, without, held)
			}
			continue
		}
		if with != 0 || without < 3 {
			t.Errorf("seed %d: longest run of exponential windows %d with the cycle test over the windows kept (want 0), %d without (want 3 or more)", seed, with, without)
		}
		if held == 0 {
			t.Errorf("seed %d: no verdict names the cycle over the windows kept", seed)
		}
	}
}

// gridCycleFit is a reference for cycleData.fit: the likelihood on a
// fine grid of amplitudes and phases, each grid point's neighbourhood
// refined by golden-section search, phase and amplitude in turn. Slow and
// plain: what the Newton fit must match or beat.
func gridCycleFit(d *cycleData, amax float64) (best, amp, phase float64) {
	best = math.Inf(-1)
	at := func(a, phi float64) float64 {
		l, _, _ := d.ll(a*math.Cos(phi), a*math.Sin(phi), false)
		return l
	}
	for _, a := range []float64{amax / 256, amax / 64, amax / 32, amax * 3 / 64} {
		for k := range 72 {
			phi := 2 * math.Pi * float64(k) / 72
			if l := at(a, phi); l > best {
				best, amp, phase = l, a, phi
			}
		}
	}
	for i := 1; i <= 16; i++ {
		for k := range 72 {
			a, phi := amax*float64(i)/16, 2*math.Pi*float64(k)/72
			if l := at(a, phi); l > best {
				best, amp, phase = l, a, phi
			}
		}
	}
	golden := func(f func(float64) float64, lo, hi float64) (float64, float64) {
		const g = 0.6180339887498949
		x1, x2 := hi-g*(hi-lo), lo+g*(hi-lo)
		f1, f2 := f(x1), f(x2)
		for range 60 {
			if f1 < f2 {
				lo, x1, f1 = x1, x2, f2
				x2 = lo + g*(hi-lo)
				f2 = f(x2)
			} else {
				hi, x2, f2 = x2, x1, f1
				x1 = hi - g*(hi-lo)
				f1 = f(x1)
			}
		}
		if f1 > f2 {
			return x1, f1
		}
		return x2, f2
	}
	for range 20 {
		if p, l := golden(func(p float64) float64 { return at(amp, p) }, phase-0.1, phase+0.1); l > best {
			best, phase = l, p
		}
		if a, l := golden(func(a float64) float64 { return at(a, phase) }, math.Max(0, amp-amax/16), math.Min(amax, amp+amax/16)); l > best {
			best, amp = l, a
		}
	}
	return best, amp, phase
}

// The cycle's fit by Newton's steps (cycleData.fit) reaches the
// likelihood's maximum over the disk of amplitudes: on counts with and
// without a cycle, strong and weak, sparse and busy, with empty and partly
// covered windows, never below what a fine grid refined by golden-section
// search finds, nor above it by more than rounding; in a handful of
// likelihood passes, where the grid of the classifier's first version took
// about 220. And cycleAmpUpper's bound is where the likelihood has fallen
// by 1.92 (times the dispersion), or amax.
func TestCycleFitIsTheMaximum(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	worst, evals, fits := 0.0, 0, 0
	for trial := range 400 {
		n := 72 + r.IntN(300)
		amp := []float64{0, 0.1, 0.3, 0.6, 0.8, 0.95}[trial%6]
		rate := []float64{0.2, 1, 5, 40, 300}[r.IntN(5)]
		amax := []float64{0.8, 0.5, 0.2}[r.IntN(3)]
		phase0 := r.Float64() * 2 * math.Pi
		y, off, cosv, sinv := make([]float64, n), make([]float64, n), make([]float64, n), make([]float64, n)
		for i := range n {
			tt := float64(i)/12 + 3.7
			cosv[i], sinv[i] = math.Cos(2*math.Pi*tt/24), math.Sin(2*math.Pi*tt/24)
			expo := 1.0
			if r.IntN(20) == 0 {
				expo = 0.05 + r.Float64()
				expo = math.Min(expo, 1)
			}
			off[i] = math.Log(expo / 12)
			y[i] = poisson(r, expo*rate/12*(1+amp*math.Sin(2*math.Pi*tt/24+phase0)))
		}
		d := newCycleData(y, off, cosv, sinv)
		l, a, _ := d.fit(amax)
		evals += d.evals
		fits++
		gl, ga, _ := gridCycleFit(d, amax)
		tol := 1e-9 * (1 + math.Abs(gl))
		if l < gl-tol {
			t.Fatalf("trial %d (n %d, amplitude %.2f, rate %v, amax %v): Newton %.12g (A %.6f) below the grid's %.12g (A %.6f)", trial, n, amp, rate, amax, l, a, gl, ga)
		}
		if a > amax || a < 0 {
			t.Fatalf("trial %d: amplitude %v outside [0, %v]", trial, a, amax)
		}
		worst = math.Max(worst, l-gl)
		// The upper bound: the likelihood there is 1.92 below the best
		// (the phase held), unless amax is within that.
		disp := 1 + float64(trial%3)
		up := cycleAmpUpper(y, off, cosv, sinv, amax, disp)
		_, _, phi := d.fit(amax)
		at := func(x float64) float64 { v, _ := d.at(x, phi); return v }
		if up < a-1e-9 || up > amax {
			t.Fatalf("trial %d: bound %v outside [%v, %v]", trial, up, a, amax)
		}
		if up < amax {
			if drop := 2 * (l - at(up)) / disp; math.Abs(drop-3.84) > 1e-6 {
				t.Fatalf("trial %d: at the bound %v the likelihood ratio is %v, not 3.84", trial, up, drop)
			}
		} else if drop := 2 * (l - at(amax)) / disp; drop > 3.84+1e-6 {
			t.Fatalf("trial %d: bound at amax %v where the ratio is %v", trial, amax, drop)
		}
	}
	if worst > 1e-6 {
		t.Errorf("the Newton fit beat the fine grid by up to %g: the grid reference is too coarse, or the fit is not the model's", worst)
	}
	if per := float64(evals) / float64(fits); per > 12 {
		t.Errorf("%.1f likelihood passes a fit on average, expected a handful", per)
	}
	t.Logf("%d fits, %.1f passes each; the Newton fit above the grid's by at most %.3g", fits, float64(evals)/float64(fits), worst)
}

// The cycle's fit and bound stay finite and within [0, amax] on counts
// no sensor writes but a fuzzer of the classifier might: all zero but
// one, a billion in one window, exposures of a millionth, windows of no
// new source in a row, amax at its extremes.
func TestCycleFitExtremes(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	for trial := range 300 {
		n := 1 + r.IntN(400)
		y, off, cosv, sinv := make([]float64, n), make([]float64, n), make([]float64, n), make([]float64, n)
		for i := range n {
			tt := r.Float64() * 48
			cosv[i], sinv[i] = math.Cos(2*math.Pi*tt/24), math.Sin(2*math.Pi*tt/24)
			expo := []float64{1, 1e-6, 0.5, 1e-3}[r.IntN(4)]
			off[i] = math.Log(expo / 12)
			switch trial % 4 {
			case 0:
				if i == n/2 {
					y[i] = 1
				}
			case 1:
				y[i] = float64(r.IntN(2)) * 1e9
			case 2:
				y[i] = float64(r.IntN(3))
			}
		}
		amax := []float64{0.999, 0.05, 0.8, 1e-3}[r.IntN(4)]
		d := newCycleData(y, off, cosv, sinv)
		l, a, phi := d.fit(amax)
		if math.IsNaN(l) || math.IsInf(l, 0) || !(a >= 0 && a <= amax) || math.IsNaN(phi) {
			t.Fatalf("trial %d (n %d, amax %v): ll %v, A %v, φ %v", trial, n, amax, l, a, phi)
		}
		if d.evals > 400 {
			t.Errorf("trial %d: %d likelihood passes", trial, d.evals)
		}
		if up := cycleAmpUpper(y, off, cosv, sinv, amax, 1); !(up >= a-1e-9 && up <= amax) {
			t.Fatalf("trial %d: bound %v outside [%v, %v]", trial, up, a, amax)
		}
	}
}

// With counts that scatter more than Poisson counts the cycle test asks
// growth to beat the cycle further out (cycleBurstyTail): a likelihood
// ratio whose root is 2.5 (above the 0.99 quantiles of the normal and of
// Student's t at 60 degrees of freedom, below their 0.999 quantiles)
// clears it for Poisson counts, not for bursty ones.
func TestBurstyCountsAskMoreOfGrowth(t *testing.T) {
	c, err := New(DefaultConfig(), 5*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	n := 120
	y, off, cosv, sinv := make([]float64, n), make([]float64, n), make([]float64, n), make([]float64, n)
	for i := range n {
		h := float64(i) / 12
		cosv[i], sinv[i] = math.Cos(2*math.Pi*h/24), math.Sin(2*math.Pi*h/24)
		y[i] = math.Round(5 * (1 + 0.8*sinv[i]))
	}
	llc := cycleLoglik(y, off, cosv, sinv, c.cfg.CycleAmplitude)
	for _, disp := range []float64{1, 2} {
		v := Verdict{Dispersion: disp}
		f1 := fit{loglik: llc + 2.5*2.5*disp/2, dispersion: disp}
		cdf := normalCDF
		if disp > 1 { // as fitWindows: Student's t for an estimated dispersion
			cdf = distuv.StudentsT{Mu: 0, Sigma: 1, Nu: 60}.CDF
		}
		held := c.cycleExplains(&v, f1, y, off, cosv, sinv, 0.99, cdf)
		if want := disp > 1; (held > 0) != want {
			t.Errorf("dispersion %v, root ratio 2.5: held %v, want held %v", disp, held, want)
		}
	}
}
