package growth

import (
	"math"
	"slices"
)

// The onset of an exponential regime: a segmented Poisson model over the
// windows kept, a steady level before a change point and, from it on, that
// level plus an excess growing exponentially (an outbreak on a
// background), fitted for every change point; the most likely one is
// the onset, and the change points within a likelihood ratio of it
// (chi-square, one degree of freedom, at 95 %, scaled by the dispersion)
// its interval. A pure exponential from the start of the data has no
// earlier level to tell it from, and its interval reaches back to the
// first window kept.

// onsetLR is the chi-square(1) quantile at 0.95.
const onsetLR = 3.84

// onsetRate is the excess, new sources per hour, at which a regime is
// dated: the first sources of an outbreak, a rate a sensor sees within
// hours.
const onsetRate = 1.0

// onsetMinAfter is the fewest windows a trend is fitted on.
const onsetMinAfter = 4

// onset returns the most likely start of the current exponential regime
// and its interval (window starts), with the growth rate of the excess
// and the level under it (per hour), or ok false when it cannot be fitted.
func (c *Classifier) onset() (sc excessScan, ok bool) { return c.onsetOf(c.hist) }

func (c *Classifier) onsetOf(ws []Window) (sc excessScan, ok bool) {
	sc, ok = c.scanExcess(ws, 0, false, nil)
	return sc, ok && sc.r > 0
}

// onsetSpec is an onset scan run on another goroutine over a copy of the
// windows kept, started as soon as the horizons say exponential, while the
// step, burst and saturation tests decide whether the verdict stays so.
// A scan whose answer is not needed (the verdict changed) is not waited
// for. Its answer is used only when the windows kept are still exactly the ones
// it scanned (a step decided or a burst set aside changes them); else the
// scan is made again. The scan reads nothing else that changes (the
// window length, and its own copy), so the answer is the one the
// classifier would compute in line, bit for bit (TestSpeculatedOnsetIsTheSame).
type onsetSpec struct {
	ws   []Window
	done chan struct{}
	sc   excessScan
	ok   bool
}

func (c *Classifier) speculateOnset() *onsetSpec {
	s := &onsetSpec{ws: slices.Clone(c.hist), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		s.sc, s.ok = c.onsetOf(s.ws)
	}()
	return s
}

// onset is the speculated scan's answer when it still holds, else the
// scan made now (also with no speculation, s nil).
func (s *onsetSpec) onset(c *Classifier) (excessScan, bool) {
	if s != nil {
		<-s.done
		if slices.Equal(s.ws, c.hist) {
			c.specUsed++
			return s.sc, s.ok
		}
		c.specRedone++
	}
	return c.onset()
}

// excessScan is the best change point of the segmented model (a steady
// level, then that level plus an exponentially growing excess).
type excessScan struct {
	k         int     // index of the change point in the windows scanned
	lam, r    float64 // the level before it and the excess's growth rate, per hour
	a         float64 // log of the excess per hour at the change point's window middle
	ll        float64 // log-likelihood at k, r free
	ll0       float64 // the best log-likelihood over change points with r fixed at the bound (null: true)
	est       int64   // ws[k].Start
	lo, hi    int64   // change points within the likelihood ratio interval
	minBefore int     // fewest windows before a change point tried
}

// scanExcess fits the segmented model at every change point (one in
// stride: at most about 64 fits, so it stays cheap) leaving at least
// onsetMinAfter windows after it and minBefore before it; with null it
// also fits each with the excess's rate fixed at bound.
func (c *Classifier) scanExcess(ws []Window, minBefore int, null bool, bound func(k int) float64) (excessScan, bool) {
	n := len(ws)
	sc := excessScan{k: -1, ll: math.Inf(-1), ll0: math.Inf(-1), minBefore: minBefore}
	if n < onsetMinAfter+1+minBefore {
		return sc, false
	}
	hours := c.window.Hours()
	ll := make([]float64, n)
	valid := make([]bool, n)
	p := c.prefix(ws)
	k0 := -1 // the null's best change point
	try := func(k int) {
		// the steady part at its own MLE
		before := poissonConst(p[k].y, p[k].e, p[k].ylogE, p[k].lf)
		lam := 0.0
		if p[k].e > 0 {
			lam = p[k].y / p[k].e
		}
		after, r, a, ok := excessFit(ws[k:], lam, hours, 0, false)
		if !ok {
			return
		}
		if null {
			if a0, _, _, ok0 := excessFit(ws[k:], lam, hours, bound(k), true); ok0 && before+a0 > sc.ll0 {
				sc.ll0, k0 = before+a0, k
			}
		}
		if r <= 0 && !null {
			return
		}
		ll[k], valid[k] = before+after, true
		if ll[k] > sc.ll {
			sc.ll, sc.k, sc.r, sc.lam, sc.a = ll[k], k, r, lam, a
		}
	}
	stride := max(1, (n-onsetMinAfter-minBefore)/64)
	for k := minBefore; k <= n-onsetMinAfter; k += stride {
		try(k)
	}
	if null && stride > 1 {
		// A test compares the best of both: every change point around
		// each (a step between two points of the grid would otherwise
		// favour the growing excess, which can ramp across it).
		for _, c := range []int{sc.k, k0} {
			if c < 0 {
				continue
			}
			for k := max(minBefore, c-stride+1); k <= min(n-onsetMinAfter, c+stride-1); k++ {
				if k != c {
					try(k)
				}
			}
		}
	}
	if sc.k < 0 {
		return sc, false
	}
	sc.est, sc.lo, sc.hi = ws[sc.k].Start, ws[sc.k].Start, ws[sc.k].Start
	for k := range ll {
		if valid[k] && 2*(sc.ll-ll[k]) <= onsetLR { // Poisson: no dispersion estimated here
			sc.lo, sc.hi = min(sc.lo, ws[k].Start), max(sc.hi, ws[k].Start)
		}
	}
	// The change point is where the excess became visible, which can be
	// doublings after it began: the onset is dated where the fitted excess
	// was onsetRate, traced back along its growth (never before the
	// windows kept, never after the change point).
	if sc.r > 0 && sc.a > math.Log(onsetRate) {
		mid := float64(ws[sc.k].Start+ws[sc.k].End) / 2
		back := (sc.a - math.Log(onsetRate)) / sc.r * 3.6e12
		sc.est = max(ws[0].Start, int64(mid-back))
		sc.lo = min(sc.lo, sc.est)
	}
	return sc, true
}

// excessFit fits, by Fisher scoring, the rate lam + exp(a + r·t) per hour
// (t in hours from the segment's first window) to the segment's counts,
// and returns the Poisson log-likelihood and r; with fixed, r is held at
// fixR and only a is fitted.
func excessFit(seg []Window, lam, hours, fixR float64, fixed bool) (ll, r, a float64, ok bool) {
	m := len(seg)
	t0 := float64(seg[0].Start+seg[0].End) / 2
	e := make([]float64, m)
	t := make([]float64, m)
	var total, expo float64
	for i, w := range seg {
		e[i] = math.Max(w.Exposure, 1e-6) * hours
		t[i] = (float64(w.Start+w.End)/2 - t0) / 3.6e12
		total += w.New
		expo += e[i]
	}
	a = math.Log(math.Max(total/expo-lam, 1e-3))
	if fixed {
		r = fixR
	}
	// x[i] is exp(a + r·t) of the last loglik: the next step's scoring is
	// at those a and r (the step taken is the one last tried), so it needs
	// no exponential of its own. A window with no new source adds -μ only:
	// 0·log μ is 0 (μ > 0), so its logarithm is not taken.
	x := make([]float64, m)
	loglik := func(a, r float64) float64 {
		var s float64
		for i, w := range seg {
			x[i] = math.Exp(math.Min(a+r*t[i], 50))
			mu := e[i] * (lam + x[i])
			if w.New != 0 {
				s += w.New*math.Log(mu) - mu
			} else {
				s -= mu
			}
		}
		return s
	}
	cur := loglik(a, r)
	for iter := 0; iter < 60; iter++ {
		var ga, gr, iaa, iar, irr float64
		for i, w := range seg {
			g := e[i] * x[i]
			mu := e[i]*lam + g
			f := w.New/mu - 1
			ga += f * g
			gr += f * g * t[i]
			iaa += g * g / mu
			iar += g * g * t[i] / mu
			irr += g * g * t[i] * t[i] / mu
		}
		var da, dr float64
		if fixed {
			if !(iaa > 0) {
				return 0, 0, 0, false
			}
			da = ga / iaa
		} else {
			det := iaa*irr - iar*iar
			if !(det > 0) {
				return 0, 0, 0, false
			}
			da, dr = (irr*ga-iar*gr)/det, (iaa*gr-iar*ga)/det
		}
		step := 1.0
		var next float64
		for h := 0; h < 30; h++ {
			next = loglik(a+step*da, r+step*dr)
			if next >= cur-1e-12 {
				break
			}
			step /= 2
		}
		a, r = a+step*da, r+step*dr
		if math.Abs(next-cur) < 1e-9 {
			cur = next
			break
		}
		cur = next
	}
	if math.IsNaN(cur) || math.IsInf(cur, 0) {
		return 0, 0, 0, false
	}
	for _, w := range seg {
		cur -= logFactorial(w.New)
	}
	return cur, r, a, true
}
