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

// onsetMinAfter is the fewest windows a trend is fitted on.
const onsetMinAfter = 4

// onset returns the most likely start of the current exponential regime
// and its interval (window starts), with the growth rate of the excess
// and the level under it (per hour), or ok false when it cannot be fitted.
func (c *Classifier) onset() (sc excessScan, ok bool) { return c.onsetOf(c.hist, c.fromStart()) }

// fromStart says whether the windows kept begin with the data's first.
func (c *Classifier) fromStart() bool { return len(c.hist) == len(c.long) }

// onsetOf scans ws for the onset: the change point scan (scanExcess)
// finds the most likely change point and dates the regime along its fit;
// the smooth fit of every window (smoothOnset), started from it, then
// dates it again with the excess's rate and the level under it, and its
// answer is kept when it converges. Its date may precede the first window
// only when ws begin with the data (fromStart: a capture that begins in an
// epidemic's first hours sees its first source most of a doubling after
// the regime began); the interval is the union of both fits'.
func (c *Classifier) onsetOf(ws []Window, fromStart bool) (sc excessScan, ok bool) {
	sc, ok = c.scanExcess(ws, 0, false, nil)
	if !ok || sc.r <= 0 {
		return sc, false
	}
	if est, lo, hi, fit, ok := smoothOnset(ws, sc, c.window.Hours(), fromStart); ok {
		sc.est, sc.lo, sc.hi = est, min(sc.lo, lo), max(sc.hi, hi)
		sc.r, sc.lam = fit.r, fit.b
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
	// Each fit may start from the last one's solution, its excess carried
	// along its growth to the new change point (a neighbour's maximum is
	// near this one's: fewer steps to the same maximum; see fit).
	var free, fixed warmStart
	try := func(k int) {
		// the steady part at its own MLE
		before := poissonConst(p[k].y, p[k].e, p[k].ylogE, p[k].lf)
		lam := 0.0
		if p[k].e > 0 {
			lam = p[k].y / p[k].e
		}
		mid := float64(ws[k].Start+ws[k].End) / 2
		after, r, a, ok := buf.fit(ws[k:], lam, hours, 0, false, free.at(mid))
		if !ok {
			return
		}
		free.set(mid, a, r)
		if null {
			rb := bound(k)
			if l0, _, a0, ok0 := buf.fit(ws[k:], lam, hours, rb, true, fixed.at(mid)); ok0 {
				fixed.set(mid, a0, rb)
				if before+l0 > sc.ll0 {
					sc.ll0, k0 = before+l0, k
				}
			}
			// The null is an excess growing at most at the bound, not
			// exactly at it: where the free fit's rate is within the
			// bound (a step: a level, then a higher level, r near 0),
			// that fit is the null's best at this change point. Taking
			// only the fits at the bound, a step that fitted better than
			// any of them counted against the null (TestExcessNull-
			// HoldsASteadyExcess; step-2-4 alerted in 9 runs of 200, 8
			// since).
			if r <= rb && before+after > sc.ll0 {
				sc.ll0, k0 = before+after, k
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
	// The covariance of (a, r) is the inverse of the Poisson information
	// at the fit (infinite when it cannot be inverted).
	va, vr, cov := math.Inf(1), math.Inf(1), 0.0
	iaa, iar, irr := excessInfo(ws[sc.k:], sc.lam, hours, sc.a, sc.r)
	if det := iaa*irr - iar*iar; det > 0 {
		va, vr, cov = irr/det, iaa/det, -iar/det
	}
	return dated(ws, float64(ws[sc.k].Start+ws[sc.k].End)/2, sc.a, sc.r, va, vr, cov, before)
}

// dated is the date where an excess exp(a + r·t), t in hours from ref
// (ns), was onsetRate (t = ref - (a - log ρ)/r), with its 95 % interval
// from the variances of a and r and their covariance. All three are no
// later than the last window of ws and not before the first, unless
// before says the regime was under way when the data began (then by at
// most their span); a date gone numerically wrong (NaN) is ref's.
func dated(ws []Window, ref, a, r, va, vr, cov float64, before bool) (est, lo, hi int64) {
	back := a - math.Log(onsetRate) // log-excess to shed, at rate r
	t := ref - back/r*3.6e12
	first, last := float64(ws[0].Start), float64(ws[len(ws)-1].Start)
	floor := first
	if before {
		floor = first - (last - first)
	}
	clamp := func(x float64) int64 {
		if math.IsNaN(x) {
			x = ref
		}
		return int64(math.Max(floor, math.Min(last, x)))
	}
	// The interval is Fieller's: the times x (hours from ref) at which the
	// excess's log, a + r·x, is within 1.96 standard errors of log ρ,
	// (back + r·x)² ≤ z²·(va + 2x·cov + x²·vr), a quadratic in x. Unlike
	// the delta method's symmetric interval it widens on the side where
	// r is uncertain, and reaches as far as the clamp allows when r is
	// not clear of zero; at the first alarm, whose fit is selected steep,
	// the delta method's held the truth less often than it claimed
	// (TestOnsetOfAPureExponential: 15 of 20 at doubling 2 h).
	const z2 = 1.96 * 1.96
	qa, qb, qc := r*r-z2*vr, 2*(back*r-z2*cov), back*back-z2*va
	xl, xh := math.Inf(-1), math.Inf(1)
	if disc := qb*qb - 4*qa*qc; qa > 0 && disc >= 0 {
		sq := math.Sqrt(disc)
		xl, xh = (-qb-sq)/(2*qa), (-qb+sq)/(2*qa)
	}
	return clamp(t), clamp(ref + xl*3.6e12), clamp(ref + xh*3.6e12)
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

// excessFit fits, by Newton's method (Fisher scoring where the observed
// information is not positive definite), the rate lam + exp(a + r·t) per hour
// (t in hours from the segment's first window) to the segment's counts,
// and returns the Poisson log-likelihood and r; with fixed, r is held at
// fixR and only a is fitted.
func excessFit(seg []Window, lam, hours, fixR float64, fixed bool) (ll, r, a float64, ok bool) {
	return new(excessBuf).fit(seg, lam, hours, fixR, fixed, nil)
}

// warmStart is the last fit of a scan: its excess's log a and rate r at
// the middle (ns) of its first window.
type warmStart struct {
	mid, a, r float64
	ok        bool
}

func (w *warmStart) set(mid, a, r float64) { *w = warmStart{mid, a, r, true} }

// at is the start it offers a fit whose first window's middle is mid: the
// excess carried along its growth (nil when there is none yet).
func (w *warmStart) at(mid float64) *[2]float64 {
	if !w.ok {
		return nil
	}
	return &[2]float64{w.a + w.r*(mid-w.mid)/3.6e12, w.r}
}

// evenSpacing returns the spacing of windows ws in hours and whether
// they are evenly spaced (each as long as the first, and starting where
// the one before started plus that spacing).
func evenSpacing(ws []Window) (float64, bool) {
	if len(ws) < 2 {
		return 0, false
	}
	step, length := ws[1].Start-ws[0].Start, ws[0].End-ws[0].Start
	if step <= 0 {
		return 0, false
	}
	for i := 1; i < len(ws); i++ {
		if ws[i].Start-ws[i-1].Start != step || ws[i].End-ws[i].Start != length {
			return 0, false
		}
	}
	return float64(step) / 3.6e12, true
}

// excessBuf holds the slices of excessFit's windows, reused by the fits
// of one scan (each fit of a scan is over a shorter suffix of its windows).
type excessBuf struct {
	e, t, arg, x, mu, lmu, gmu []float64
}

// take makes every slice m long, growing them when they are shorter.
func (b *excessBuf) take(m int) {
	if cap(b.e) < m {
		*b = excessBuf{make([]float64, m), make([]float64, m), make([]float64, m), make([]float64, m), make([]float64, m), make([]float64, m), make([]float64, m)}
	}
	b.e, b.t, b.arg, b.x, b.mu, b.lmu, b.gmu = b.e[:m], b.t[:m], b.arg[:m], b.x[:m], b.mu[:m], b.lmu[:m], b.gmu[:m]
}

// fit is excessFit with the slices of b, from a start (a, r) when one is
// given and its likelihood is higher than the cold start's (the mean
// excess, r 0 or fixR; with fixed the start's r is not used). A fit from
// a start that fails (the information singular: a start where the excess
// has come to nothing) is made again from the cold start.
func (b *excessBuf) fit(seg []Window, lam, hours, fixR float64, fixed bool, start *[2]float64) (ll, r, a float64, ok bool) {
	if ll, r, a, ok = b.fitOnce(seg, lam, hours, fixR, fixed, start); !ok && start != nil {
		return b.fitOnce(seg, lam, hours, fixR, fixed, nil)
	}
	return ll, r, a, ok
}

func (b *excessBuf) fitOnce(seg []Window, lam, hours, fixR float64, fixed bool, start *[2]float64) (ll, r, a float64, ok bool) {
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
	// bits, four at a time), the logarithms only of the windows with new
	// sources: their μ are gathered (gmu), their logarithms go to lmu.
	arg, x, mu, lmu, gmu := b.arg, b.x, b.mu, b.lmu, b.gmu
	busy := 0
	for _, w := range seg {
		if w.New != 0 {
			busy++
		}
	}
	gmu, lmu = gmu[:busy], lmu[:busy]
	// On evenly spaced windows the excess exp(a + r·t) is a geometric
	// sequence: one multiplication a window instead of an exponential
	// (within about 1e-14 of them over a day of windows, far below the
	// fit's tolerance), where its logarithm stays within [-600, 50] (the
	// clamp at 50 is then idle, and nothing underflows).
	dt, even := evenSpacing(seg)
	loglik := func(a, r float64) float64 {
		first, last := a+r*t[0], a+r*t[m-1]
		if even && math.Max(first, last) <= 50 && math.Min(first, last) >= -600 {
			q, z := math.Exp(r*dt), math.Exp(first)
			for i := range seg {
				x[i] = z
				z *= q
			}
		} else {
			for i := range seg {
				arg[i] = a + r*t[i]
				if arg[i] > 50 { // math.Min(·, 50) without its call (a NaN stays NaN)
					arg[i] = 50
				}
			}
			vlog.Exp(x, arg)
		}
		j := 0
		for i, w := range seg {
			mu[i] = e[i] * (lam + x[i])
			if w.New != 0 {
				gmu[j] = mu[i]
				j++
			}
		}
		vlog.Log(lmu, gmu)
		var s float64
		j = 0
		for i, w := range seg {
			if w.New != 0 {
				s += w.New*lmu[j] - mu[i]
				j++
			} else {
				s -= mu[i]
			}
		}
		return s
	}
	cur := loglik(a, r)
	if start != nil {
		wa, wr := start[0], r
		if !fixed {
			wr = start[1]
		}
		if math.IsNaN(cur) || math.IsInf(cur, 0) {
			cur = math.Inf(-1)
		}
		if w := loglik(wa, wr); w > cur {
			a, r, cur = wa, wr, w
		} else {
			cur = loglik(a, r) // x back at the cold start
		}
	}
	for iter := 0; iter < 60; iter++ {
		// The score and information, each window's weights taken
		// through one reciprocal of μ (a division costs several
		// multiplications); with r fixed only a's.
		var ga, gr, iaa, iar, irr float64 // score, expected information
		var jaa, jar, jrr float64         // observed information
		if fixed {
			for i, w := range seg {
				g := e[i] * x[i]
				inv := 1 / (e[i]*lam + g)
				ga += (w.New*inv - 1) * g
				iaa += g * g * inv
				jaa += g - w.New*e[i]*lam*g*inv*inv
			}
		} else {
			for i, w := range seg {
				g := e[i] * x[i]
				inv := 1 / (e[i]*lam + g)
				fg := (w.New*inv - 1) * g
				w2 := g * g * inv
				wj := g - w.New*e[i]*lam*g*inv*inv
				ti := t[i]
				ga += fg
				gr += fg * ti
				iaa += w2
				iar += w2 * ti
				irr += w2 * ti * ti
				jaa += wj
				jar += wj * ti
				jrr += wj * ti * ti
			}
		}
		var da, dr float64
		if fixed {
			if !(iaa > 0) {
				return 0, 0, 0, false
			}
			if jaa > 0 {
				da = ga / jaa
			} else {
				da = ga / iaa
			}
		} else {
			det := iaa*irr - iar*iar
			if !(det > 0) {
				return 0, 0, 0, false
			}
			if dj := jaa*jrr - jar*jar; jaa > 0 && dj > 0 {
				da, dr = (jrr*ga-jar*gr)/dj, (jaa*gr-jar*ga)/dj
			} else {
				da, dr = (irr*ga-iar*gr)/det, (iaa*gr-iar*ga)/det
			}
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

// smoothOnset dates the regime along one smooth fit of every window
// kept: a level plus an exponentially growing excess,
// μ(t) = b + exp(a + r·t) per hour, fitted together (b ≥ 0), started
// from the scan's best change point. The scan's change point model takes
// the level from the windows before the change point only and the
// excess's growth from the windows after it, so each is estimated from
// part of the data, and an error in the growth rate is carried, multiplied
// by the doublings between the alarm and the onset, into the date; a
// change point found late also counts the first of the excess into the
// level. The smooth fit uses every window for all three, which is all a
// change point adds here: an excess too small to see before the onset is
// the same as none. A level is kept only when the windows show one (a
// likelihood ratio against none, smoothLevelLR): on a regime growing from
// nothing, a free level takes its first sources as background and dates
// it late. The date is where the fitted excess was onsetRate, with its
// interval (95 %, dated: Fieller's, from the inverse of the Poisson
// information). ok is false when the fit does not converge to a growing
// excess; the caller keeps the scan's date then.
func smoothOnset(ws []Window, sc excessScan, hours float64, before bool) (est, lo, hi int64, fit smoothFit, ok bool) {
	n := len(ws)
	if n < onsetMinAfter+1 || sc.r <= 0 || math.IsNaN(sc.a) {
		return 0, 0, 0, fit, false
	}
	f := newSmoothData(n)
	tref := float64(ws[sc.k].Start+ws[sc.k].End) / 2
	for i, w := range ws {
		f.e[i] = math.Max(w.Exposure, 1e-6) * hours
		f.t[i] = (float64(w.Start+w.End)/2 - tref) / 3.6e12
		f.y[i] = w.New
	}
	fit = f.fit(math.Max(sc.lam, 0), sc.a, sc.r, false)
	if !fit.ok || fit.b > 0 { // a fit that ended at b = 0 is the fit without a level
		if none := f.fit(0, sc.a, sc.r, true); none.ok && (!fit.ok || 2*(fit.ll-none.ll) < smoothLevelLR) {
			fit = none
		}
	}
	if !fit.ok || !(fit.r > 0) {
		return 0, 0, 0, fit, false
	}
	est, lo, hi = dated(ws, tref, fit.a, fit.r, fit.va, fit.vr, fit.cov, before)
	return est, lo, hi, fit, true
}

// smoothLevelLR is the likelihood ratio (2·Δ log-likelihood) a level
// under the excess must reach to be kept in smoothOnset's fit: the
// chi-square(2) 99 % quantile, not the 2.71 of a one-sided test at 95 %.
// The first alarm is the window whose counts came out steepest, and at
// 2.71 its first few sources were taken for a level often enough to date
// a pure exponential late by two or three doublings (harness, exp-1h:
// within one doubling in 56 % of 200 runs at 2.71, 80.5 % at 9.21); an
// outbreak's background clears either by hundreds.
const smoothLevelLR = 9.21

// smoothData are the windows of smoothOnset's fit: exposure in hours,
// time in hours from the reference, new sources; and buffers: arg, x
// (exp(a + r·t) of the last log-likelihood taken, which the next Newton
// step's scoring reuses), mu and its logarithm.
type smoothData struct{ e, t, y, arg, x, mu, lmu []float64 }

func newSmoothData(n int) smoothData {
	b := make([]float64, 7*n)
	return smoothData{e: b[:n], t: b[n : 2*n], y: b[2*n : 3*n], arg: b[3*n : 4*n], x: b[4*n : 5*n], mu: b[5*n : 6*n], lmu: b[6*n:]}
}

// smoothFit is a fit of smoothOnset's model: the parameters, the
// log-likelihood (without its constant) and the variances of a and r and
// their covariance (the inverse of the information, b included when it is
// fitted).
type smoothFit struct {
	b, a, r     float64
	ll          float64
	va, vr, cov float64
	ok          bool
}

// loglik is the log-likelihood at (b, a, r), leaving exp(a + r·t) in d.x.
// The exponentials and logarithms are taken four at a time (vlog).
func (d smoothData) loglik(b, a, r float64) float64 {
	for i, t := range d.t {
		d.arg[i] = min(a+r*t, 50)
	}
	vlog.Exp(d.x, d.arg)
	for i, e := range d.e {
		d.mu[i] = e * (b + d.x[i])
	}
	vlog.Log(d.lmu, d.mu)
	var s float64
	for i, y := range d.y {
		if y != 0 {
			s += y*d.lmu[i] - d.mu[i]
		} else {
			s -= d.mu[i]
		}
	}
	return s
}

// fit maximises the likelihood from (b, a, r) by Newton steps, halved
// until the likelihood does not fall, b kept at 0 or above (at 0 when
// noLevel).
func (d smoothData) fit(b, a, r float64, noLevel bool) smoothFit {
	if noLevel {
		b = 0
	}
	cur := d.loglik(b, a, r)
	if math.IsNaN(cur) || math.IsInf(cur, 0) {
		return smoothFit{}
	}
	// x holds exp(a + r·t) at the current (b, a, r) from here on: the
	// last log-likelihood taken is always the accepted step's.
	for range 100 {
		// The score and the information (lower triangle) of (b, a, r).
		var grad [maxParams]float64
		var info [maxParams][maxParams]float64
		for i, e := range d.e {
			g := e * d.x[i]
			mu := e*b + g
			gt := g * d.t[i]
			f := d.y[i]/mu - 1
			grad[0] += f * e
			grad[1] += f * g
			grad[2] += f * gt
			info[0][0] += e * e / mu
			info[1][0] += e * g / mu
			info[2][0] += e * gt / mu
			info[1][1] += g * g / mu
			info[2][1] += g * gt / mu
			info[2][2] += gt * gt / mu
		}
		// b is fitted unless it is held at 0, or at 0 with the score
		// pushing it lower; then (a, r) alone, from index 1 on.
		from := 0
		if noLevel || (b <= 0 && grad[0] <= 0) {
			from = 1
		}
		var m [maxParams][maxParams]float64
		var rhs [maxParams]float64
		for j := from; j < 3; j++ {
			rhs[j-from] = grad[j]
			for k := from; k <= j; k++ {
				m[j-from][k-from] = info[j][k]
			}
		}
		x, inv, err := solve(m, rhs, 3-from)
		if err != nil {
			return smoothFit{}
		}
		var step [3]float64
		for j := from; j < 3; j++ {
			step[j] = x[j-from]
		}
		va, vr, cov := inv[1-from][1-from], inv[2-from][2-from], inv[1-from][2-from]
		h := 1.0
		if b+step[0] < 0 {
			h = b / -step[0] // up to the bound, not past it
		}
		next := math.NaN()
		for range 40 {
			next = d.loglik(max(0, b+h*step[0]), a+h*step[1], r+h*step[2])
			if next >= cur-1e-12 {
				break
			}
			h /= 2
		}
		if !(next >= cur-1e-12) {
			return smoothFit{}
		}
		b, a, r = max(0, b+h*step[0]), a+h*step[1], r+h*step[2]
		if math.Abs(next-cur) < 1e-9 {
			return smoothFit{b: b, a: a, r: r, ll: next, va: va, vr: vr, cov: cov, ok: !math.IsNaN(a) && !math.IsNaN(r)}
		}
		cur = next
	}
	return smoothFit{}
}
