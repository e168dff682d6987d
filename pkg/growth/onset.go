package growth

import (
	"math"
	"slices"

	"github.com/synscope/synscope/pkg/vlog"
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

// parsimonyLR is the likelihood ratio (2·Δ log-likelihood) within which
// a regime under way from the first window of the data (no level before
// it: two parameters fewer) is preferred to the best change point when
// the regime is dated: the chi-square(2) quantile at 99 % (not 95 %: the
// best of many change points is favoured by the scan itself).
const parsimonyLR = 9.21

// onsetMinAfter is the fewest windows a trend is fitted on.
const onsetMinAfter = 4

// onset returns the most likely start of the current exponential regime
// and its interval (window starts), with the growth rate of the excess
// and the level under it (per hour), or ok false when it cannot be fitted.
func (c *Classifier) onset() (sc excessScan, ok bool) { return c.onsetOf(c.hist, c.fromStart()) }

// fromStart says whether the windows kept begin with the data's first.
func (c *Classifier) fromStart() bool { return len(c.hist) == len(c.long) }

// onsetOf scans ws for the onset. When ws begin with the data (fromStart)
// and a regime under way from their first window explains them nearly as
// well as the best change point (within parsimonyLR), the regime is dated
// along that fit instead: a change point with a level before it has two
// more parameters, and on a pure exponential it finds, by chance, a
// stretch of slow early counts to call a level, after which the
// excess is dated late (by about one doubling: harness, onset of the
// exp-* scenarios). The verdict's rates are the best change point's either
// way; only the date differs.
func (c *Classifier) onsetOf(ws []Window, fromStart bool) (sc excessScan, ok bool) {
	sc, ok = c.scanExcess(ws, 0, false, nil)
	if !ok || sc.r <= 0 {
		return sc, false
	}
	if fromStart && sc.k0ok && 2*(sc.ll-sc.ll0k) <= parsimonyLR {
		alt := sc
		alt.k, alt.r, alt.a = 0, sc.r0, sc.a0
		est, lo, hi := crossing(ws, alt, c.window.Hours(), true)
		sc.est, sc.lo, sc.hi = est, min(sc.lo, lo), max(sc.hi, hi)
	}
	return sc, true
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
	ws        []Window
	fromStart bool
	done      chan struct{}
	sc        excessScan
	ok        bool
}

func (c *Classifier) speculateOnset() *onsetSpec {
	s := &onsetSpec{ws: slices.Clone(c.hist), fromStart: c.fromStart(), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		s.sc, s.ok = c.onsetOf(s.ws, s.fromStart)
	}()
	return s
}

// onset is the speculated scan's answer when it still holds, else the
// scan made now (also with no speculation, s nil).
func (s *onsetSpec) onset(c *Classifier) (excessScan, bool) {
	if s != nil {
		<-s.done
		if s.fromStart == c.fromStart() && slices.Equal(s.ws, c.hist) {
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
	est       int64   // the onset: where the fitted excess was onsetRate (crossing)
	lo, hi    int64   // est's interval and the change points within the likelihood ratio interval
	minBefore int     // fewest windows before a change point tried
	// the fit from the first window scanned, with no level before it
	// (k0ok: made, with a growing excess)
	ll0k, r0, a0 float64
	k0ok         bool
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
	var buf excessBuf
	try := func(k int) {
		// the steady part at its own MLE
		before := poissonConst(p[k].y, p[k].e, p[k].ylogE, p[k].lf)
		lam := 0.0
		if p[k].e > 0 {
			lam = p[k].y / p[k].e
		}
		after, r, a, ok := buf.fit(ws[k:], lam, hours, 0, false)
		if !ok {
			return
		}
		if null {
			if a0, _, _, ok0 := buf.fit(ws[k:], lam, hours, bound(k), true); ok0 && before+a0 > sc.ll0 {
				sc.ll0, k0 = before+a0, k
			}
		}
		if r <= 0 && !null {
			return
		}
		ll[k], valid[k] = before+after, true
		if k == 0 && r > 0 {
			sc.ll0k, sc.r0, sc.a0, sc.k0ok = ll[k], r, a, true
		}
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
	if sc.r > 0 {
		est, lo, hi := crossing(ws, sc, hours, false)
		sc.est, sc.lo, sc.hi = est, min(sc.lo, lo), max(sc.hi, hi)
	}
	return sc, true
}

// crossing dates the regime where the fitted excess was onsetRate, along
// its growth from the change point, with an interval (95 %, from the
// fit's information on a and r). The change point alone is a poor
// date: an excess too small to see fits the same from any change point
// before it (the likelihood is flat there, so the best one falls early
// by chance), and it becomes visible doublings after it began (so a
// change point found late is late). The fitted curve is what the data
// fix. It is dated no later than the last window; not before the first,
// unless before says the regime was under way when the data began (then by
// at most their span).
func crossing(ws []Window, sc excessScan, hours float64, before bool) (est, lo, hi int64) {
	mid := float64(ws[sc.k].Start+ws[sc.k].End) / 2
	back := sc.a - math.Log(onsetRate) // log-excess to shed, at rate r
	t := mid - back/sc.r*3.6e12
	first, last := float64(ws[0].Start), float64(ws[len(ws)-1].Start)
	floor := first
	if before {
		floor = first - (last - first)
	}
	clamp := func(x float64) int64 {
		if math.IsNaN(x) { // a fit gone numerically wrong: the change point's window
			x = mid
		}
		return int64(math.Max(floor, math.Min(last, x)))
	}
	// The delta method: t = mid - (a - log ρ)/r, so ∂t/∂a = -1/r and
	// ∂t/∂r = (a - log ρ)/r², with the covariance of (a, r) the inverse of
	// the Poisson information at the fit.
	iaa, iar, irr := excessInfo(ws[sc.k:], sc.lam, hours, sc.a, sc.r)
	det := iaa*irr - iar*iar
	half := math.Inf(1)
	if det > 0 {
		va, vr, cov := irr/det, iaa/det, -iar/det
		da, dr := -1/sc.r, back/(sc.r*sc.r)
		if v := da*da*va + 2*da*dr*cov + dr*dr*vr; v >= 0 {
			half = 1.96 * math.Sqrt(v) * 3.6e12
		}
	}
	return clamp(t), clamp(t - half), clamp(t + half)
}

// excessInfo is the Fisher information of (a, r) in the model of
// excessFit (the level lam fixed) at a and r.
func excessInfo(seg []Window, lam, hours, a, r float64) (iaa, iar, irr float64) {
	t0 := float64(seg[0].Start+seg[0].End) / 2
	for _, w := range seg {
		e := math.Max(w.Exposure, 1e-6) * hours
		t := (float64(w.Start+w.End)/2 - t0) / 3.6e12
		g := e * math.Exp(math.Min(a+r*t, 50))
		mu := e*lam + g
		iaa += g * g / mu
		iar += g * g * t / mu
		irr += g * g * t * t / mu
	}
	return iaa, iar, irr
}

// excessFit fits, by Fisher scoring, the rate lam + exp(a + r·t) per hour
// (t in hours from the segment's first window) to the segment's counts,
// and returns the Poisson log-likelihood and r; with fixed, r is held at
// fixR and only a is fitted.
func excessFit(seg []Window, lam, hours, fixR float64, fixed bool) (ll, r, a float64, ok bool) {
	return new(excessBuf).fit(seg, lam, hours, fixR, fixed)
}

// excessBuf holds the slices of excessFit's windows, reused by the fits
// of one scan (each fit of a scan is over a shorter suffix of its windows).
type excessBuf struct {
	e, t, arg, x, mu, lmu []float64
}

// take makes every slice m long, growing them when they are shorter.
func (b *excessBuf) take(m int) {
	if cap(b.e) < m {
		*b = excessBuf{make([]float64, m), make([]float64, m), make([]float64, m), make([]float64, m), make([]float64, m), make([]float64, m)}
	}
	b.e, b.t, b.arg, b.x, b.mu, b.lmu = b.e[:m], b.t[:m], b.arg[:m], b.x[:m], b.mu[:m], b.lmu[:m]
}

// fit is excessFit with the slices of b.
func (b *excessBuf) fit(seg []Window, lam, hours, fixR float64, fixed bool) (ll, r, a float64, ok bool) {
	m := len(seg)
	t0 := float64(seg[0].Start+seg[0].End) / 2
	b.take(m)
	e, t := b.e, b.t
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
	// The exponentials and logarithms are taken together (vlog: the same
	// bits, four at a time), the logarithms of windows with no new source
	// unused.
	arg, x, mu, lmu := b.arg, b.x, b.mu, b.lmu
	loglik := func(a, r float64) float64 {
		for i := range seg {
			arg[i] = a + r*t[i]
			if arg[i] > 50 { // math.Min(·, 50) without its call (a NaN stays NaN)
				arg[i] = 50
			}
		}
		vlog.Exp(x, arg)
		for i := range seg {
			mu[i] = e[i] * (lam + x[i])
		}
		vlog.Log(lmu, mu)
		var s float64
		for i, w := range seg {
			if w.New != 0 {
				s += w.New*lmu[i] - mu[i]
			} else {
				s -= mu[i]
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
