package growth

import "math"

// The day/night alternative. Before a horizon spans a day the log-linear
// fit cannot hold a day/night term, and its exponential bound covers only a
// cycle of the configured amplitude (DiurnalAmplitude, ±50 % by default).
// A stronger cycle (±80 % is common on networks that sleep) rises, in the
// morning, as fast as an epidemic doubling every two hours, and did so in
// every run of the harness's daynight-nb-80 scenario, every morning.
//
// So an exponential verdict of a horizon without a day/night term must
// also beat the cycle itself: the counts are fitted as a steady level
// times (1 + A·sin(ωt + φ)) for every amplitude A up to CycleAmplitude
// (0.8 by default; 0 turns the test off) and every phase φ (a grid), and the growing model must explain them
// better than the best cycle, by a likelihood ratio at the test's own
// confidence. A rise a cycle can make (at most (1+A)/(1-A), 9× for ±80 %,
// and only over the 12 hours from trough to peak) is then not growth; an
// epidemic outgrows any cycle within a few doublings, and the exponential
// scenarios reach 40× by the time they must be detected.
//
// Once the windows kept span a day, the cycle allowed for is the one the
// longest horizon measured: up to CycleAmplitude when it fits a
// day/night term (the measured amplitude of a strong cycle comes out low:
// a log-harmonic does not have the shape of 1 + A·sin), else up to the
// upper bound of the amplitude it measures, which on a steady background
// is small and leaves the test all but idle.

// cyclePhases and cycleAmps are the grid the cycle is fitted on.
const cyclePhases = 24

var cycleAmps = [...]float64{0.25, 0.5, 0.75, 1} // of the largest amplitude tried

// cycleLoglik is the Poisson log-likelihood of counts y (log exposures off;
// cosv and sinv the cosine and sine of ωt at each window's middle, t in
// hours of the day) under the best cycle rate·(1 + A·sin(ωt + φ)) with A
// at most amax: the rate fitted in closed form for each A and φ, both
// taken on a grid and then refined around the best point. It includes the
// log y! terms, as the fits' log-likelihoods do.
func cycleLoglik(y, off, cosv, sinv []float64, amax float64) float64 {
	n := len(y)
	var sy, syOff, lf float64
	eo := make([]float64, n)
	for i := range n {
		sy += y[i]
		syOff += y[i] * off[i]
		lf += logFactorial(y[i])
		eo[i] = math.Exp(off[i])
	}
	if sy == 0 {
		return -lf // every cycle predicts nothing better than nothing
	}
	ll := func(a, phi float64) float64 {
		cp, sp := math.Cos(phi), math.Sin(phi)
		var se, syl float64
		for i := range n {
			g := 1 + a*(sinv[i]*cp+cosv[i]*sp) // 1 + A·sin(ωt + φ)
			se += eo[i] * g
			if y[i] > 0 {
				syl += y[i] * math.Log(g)
			}
		}
		// log μ_i = log(sy/se) + off_i + log g_i, the level at its MLE.
		return sy*math.Log(sy/se) + syOff + syl - sy - lf
	}
	best, ba, bp := math.Inf(-1), 0.0, 0.0
	for _, frac := range cycleAmps {
		for k := range cyclePhases {
			phi := 2 * math.Pi * float64(k) / cyclePhases
			if l := ll(amax*frac, phi); l > best {
				best, ba, bp = l, amax*frac, phi
			}
		}
	}
	// Refine: the phase within half a grid step, then the amplitude within
	// [0, amax], by golden-section search, twice.
	golden := func(f func(float64) float64, lo, hi float64) (float64, float64) {
		const g = 0.6180339887498949
		x1, x2 := hi-g*(hi-lo), lo+g*(hi-lo)
		f1, f2 := f(x1), f(x2)
		for range 24 {
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
	step := 2 * math.Pi / cyclePhases
	for range 2 {
		if p, l := golden(func(p float64) float64 { return ll(ba, p) }, bp-step/2, bp+step/2); l > best {
			best, bp = l, p
		}
		if a, l := golden(func(a float64) float64 { return ll(a, bp) }, 0, amax); l > best {
			best, ba = l, a
		}
	}
	return best
}

// cycleExplains returns the largest amplitude of the day/night cycles it
// tried when one explains the windows of v (fitted by the growing model
// f1) as well as growth does, where the cycle test applies (see above);
// else 0.
func (c *Classifier) cycleExplains(v *Verdict, f1 fit, y, off, cosv, sinv []float64, alarm float64, cdf func(float64) float64) float64 {
	if c.cfg.Diurnal != "auto" || v.Diurnal || c.noCycle {
		return 0
	}
	amax := c.cfg.CycleAmplitude
	if float64(len(c.hist))*c.window.Hours() >= 24 && c.cycleAmp >= 0 && !c.cyclic {
		amax = math.Min(amax, c.cycleAmp)
	}
	if amax < cycleMinAmplitude {
		return 0
	}
	gain := 2 * (f1.loglik - cycleLoglik(y, off, cosv, sinv, amax)) / f1.dispersion
	if c.cyclic && float64(len(c.hist))*c.window.Hours() >= 24 {
		// A cycle is known to be there: growth must explain the counts
		// far better (on a ±80 % cycle of Poisson counts the growing
		// model beat the best cycle by a likelihood ratio of 6.2 on the
		// second morning).
		if gain < cycleKnownLR {
			return amax
		}
		return 0
	}
	// Unknown, at the alarm's own confidence (a lower one, 0.9, let 5 of
	// 10 runs of a ±80 % cycle with bursty counts raise an alarm,
	// measured).
	if gain > 0 && cdf(math.Sqrt(gain)) >= alarm {
		return 0
	}
	return amax
}

// cycleKnownLR is the likelihood ratio by which growth must beat a cycle
// the longest horizon has measured: the χ²(2) quantile at 0.999 (the
// growing model and the cycle are not nested; the cycle's phase and
// amplitude are fitted too).
const cycleKnownLR = 13.82

// cycleMinAmplitude: a weaker cycle than this is not tested (it fakes less
// growth than the bound allows for).
const cycleMinAmplitude = 0.05

// cycleUpper is the upper bound (about 98 %) of the day/night amplitude A
// of rate·(1 + A·sin(ωt + φ)) from a fit with a log-harmonic term (columns
// 1 and 2: cos and sin of ωt): the harmonic's amplitude R and its standard
// error (delta method), converted with A = R/(1 + R²/4), which inverts the
// first harmonic of log(1 + A·sin): R = 2b, b = (1 - √(1 - A²))/A.
func cycleUpper(f fit, amax float64) float64 {
	b1, b2 := f.beta[1], f.beta[2]
	r := math.Hypot(b1, b2)
	if !(r > 0) {
		return 0
	}
	v := (b1*b1*f.cov[1][1] + 2*b1*b2*f.cov[1][2] + b2*b2*f.cov[2][2]) / (r * r) * f.dispersion
	up := r + 2*math.Sqrt(math.Max(v, 0))
	if math.IsNaN(up) {
		return amax
	}
	return math.Min(amax, up/(1+up*up/4))
}
