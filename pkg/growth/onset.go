package growth

import "math"

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

// onsetMinAfter is the fewest windows a trend is fitted on.
const onsetMinAfter = 4

// onset returns the most likely start of the current exponential regime
// and its interval (window starts), or ok false when it cannot be fitted.
func (c *Classifier) onset() (est, lo, hi int64, ok bool) {
	ws := c.hist
	n := len(ws)
	if n < onsetMinAfter+1 {
		return 0, 0, 0, false
	}
	hours := c.window.Hours()
	ll := make([]float64, n)
	valid := make([]bool, n)
	best, bestK, disp := math.Inf(-1), -1, 1.0 // Poisson: no dispersion estimated here
	// The steady part's log-likelihood at its own MLE, grown one window
	// at a time.
	var sumY, sumE, sumYlogE, sumLogFact float64
	// Every change point is a fit: one in stride is tried (at most about
	// 64), which keeps this cheap after every exponential window; the
	// interval is as fine as the stride.
	stride := max(1, (n-onsetMinAfter)/64)
	for k := 0; k <= n-onsetMinAfter; k++ {
		if k > 0 {
			w := ws[k-1]
			e := math.Max(w.Exposure, 1e-6) * hours
			sumY += w.New
			sumE += e
			sumYlogE += w.New * math.Log(e)
			sumLogFact += logFactorial(w.New)
		}
		before := 0.0
		if sumY > 0 {
			lam := sumY / sumE
			before = sumY*math.Log(lam) + sumYlogE - sumY - sumLogFact
		}
		if k%stride != 0 {
			continue
		}
		lam := 0.0
		if sumE > 0 {
			lam = sumY / sumE
		}
		after, r, ok := excessFit(ws[k:], lam, hours)
		if !ok || r <= 0 {
			continue
		}
		ll[k], valid[k] = before+after, true
		if ll[k] > best {
			best, bestK = ll[k], k
		}
	}
	if bestK < 0 {
		return 0, 0, 0, false
	}
	est, lo, hi = ws[bestK].Start, ws[bestK].Start, ws[bestK].Start
	for k := range ll {
		if valid[k] && 2*(best-ll[k])/disp <= onsetLR {
			lo, hi = min(lo, ws[k].Start), max(hi, ws[k].Start)
		}
	}
	return est, lo, hi, true
}

// excessFit fits, by Fisher scoring, the rate lam + exp(a + r·t) per hour
// (t in hours from the segment's first window) to the segment's counts,
// and returns the Poisson log-likelihood and r.
func excessFit(seg []Window, lam, hours float64) (ll, r float64, ok bool) {
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
	a := math.Log(math.Max(total/expo-lam, 1e-3))
	loglik := func(a, r float64) float64 {
		var s float64
		for i, w := range seg {
			mu := e[i] * (lam + math.Exp(math.Min(a+r*t[i], 50)))
			s += w.New*math.Log(mu) - mu
		}
		return s
	}
	cur := loglik(a, r)
	for iter := 0; iter < 60; iter++ {
		var ga, gr, iaa, iar, irr float64
		for i, w := range seg {
			g := e[i] * math.Exp(math.Min(a+r*t[i], 50))
			mu := e[i]*lam + g
			f := w.New/mu - 1
			ga += f * g
			gr += f * g * t[i]
			iaa += g * g / mu
			iar += g * g * t[i] / mu
			irr += g * g * t[i] * t[i] / mu
		}
		det := iaa*irr - iar*iar
		if !(det > 0) {
			return 0, 0, false
		}
		da, dr := (irr*ga-iar*gr)/det, (iaa*gr-iar*ga)/det
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
		return 0, 0, false
	}
	for _, w := range seg {
		cur -= logFactorial(w.New)
	}
	return cur, r, true
}
