package growth

import (
	"math"
	"time"
)

// Growth on top of a background. An outbreak that starts on a steady
// background of new sources (scanners that were there all along) is, at
// first, a small excess over that level: a log-linear fit of the whole
// rate sees the level and rates the outbreak slow (doubling 13 to 16 h for
// a true 1 h, measured). So growth is also measured as the growth of the
// excess, in the segmented model of onset.go: a steady level until a change
// point, then that level plus exp(a + r·t). The excess's rate r is tested
// against the exponential bound by a likelihood ratio, both sides
// maximised over the change points, and the change point dates the onset.
//
// The model is fitted only where the counts say something rose (the best
// single step is clearly up), over a day of windows, with a level measured
// for at least excessMinLevel and steady there; the excess's growth must
// clear the bound a day/night cycle can fake over the windows after the
// change point (a cycle's rise from its trough is an excess too), beat a
// burst, and not double faster than excessMinDoubling (a jump).

// excessMinDoubling: an excess that doubles faster is a jump (a step seen
// within a window or two), not growth this model measures; faster
// epidemics are the log-linear fit's.
const excessMinDoubling = 30 * time.Minute

// excessMinLevel is the shortest stretch a level is measured over: long
// enough that the trough of a day/night cycle is not taken for one.
const excessMinLevel = 6 * time.Hour

// excessConfidence is the confidence the excess's growth needs.
// (lower than the log-linear test's: the gates above have already
// excluded the steady, the stepped and the cyclic; measured on steps,
// bursts and day/night, 10 seeds each, without a false alarm).
const excessConfidence = 0.95

// excessGateLR is the likelihood ratio by which the best step up must beat
// a steady rate before the segmented model is fitted (it is dearer than
// the log-linear fits, and nothing rose otherwise).
const excessGateLR = 9

// excess tests the windows kept for an exponentially growing excess over a
// steady level, and returns v unchanged unless it finds one.
func (c *Classifier) excess(v Verdict) Verdict {
	ws := c.hist
	n := len(ws)
	minBefore := int(excessMinLevel / c.window)
	minAfter := max(c.cfg.MinWindows, int(time.Hour/c.window))
	if n < minBefore+minAfter || float64(n)*c.window.Hours() < 24 {
		return v
	}
	p := c.prefix(ws)
	total := p[n].y
	if total < float64(c.cfg.MinEvents) {
		return v
	}
	st := c.bestStep(ws, p)
	if st.after <= st.before || 2*(st.loglik-seg(p, 0, n))/math.Max(1, c.dispersion) < excessGateLR {
		return v
	}
	// The bound at a change point: where a horizon fits a day/night
	// cycle, its rise over the windows after the change point fakes growth
	// as it does for the log-linear fit.
	bound := func(k int) float64 {
		if !c.diurnal {
			return c.boundFor(float64(n) * c.window.Hours())
		}
		return c.boundFor(float64(n-k) * c.window.Hours())
	}
	sc, ok := c.scanExcess(ws, minBefore, true, bound)
	if !ok || !(sc.r > bound(sc.k)) || sc.r > math.Ln2/excessMinDoubling.Hours() || n-sc.k < minAfter {
		return v
	}
	// The level must be a level: steady before the change point (no step
	// in it), its scatter (dispersion) measured there.
	pre := ws[:sc.k]
	phi := levelDispersion(pre, sc.lam, c.window.Hours())
	if ps := c.bestStep(pre, p[:sc.k+1]); 2*(ps.loglik-seg(p, 0, sc.k))/phi >= excessGateLR {
		return v
	}
	z := math.Sqrt(math.Max(0, 2*(sc.ll-sc.ll0)/phi))
	conf := normalCDF(z)
	if conf < excessConfidence {
		return v
	}
	// A burst explains a short excess that comes back down better.
	ln := math.Log(float64(n))
	bi, bj, bl := bestBurst(ws, p)
	if -2*bl+float64(bj-bi+3)*ln < -2*sc.ll+4*ln {
		return v
	}
	var expo float64
	for _, w := range ws {
		expo += w.Exposure * c.window.Hours()
	}
	return Verdict{Model: Exponential, Confidence: conf, Horizon: c.cfg.Horizons[len(c.cfg.Horizons)-1],
		Windows: n, NewSources: total, SteadyPerHour: total / expo, Dispersion: phi,
		RatePerHour: sc.r, Bound: bound(sc.k), DoublingHours: math.Ln2 / sc.r, Z: z,
		BackgroundPerHour: sc.lam, Onset: sc.est, OnsetLow: sc.lo, OnsetHigh: sc.hi}
}

// boundFor is the exponential bound on a span of the given hours when no
// day/night term is fitted (as in fitWindows).
func (c *Classifier) boundFor(span float64) float64 {
	rMin := math.Ln2 / c.cfg.MinDoubling.Hours()
	if c.cfg.Diurnal != "auto" || span >= 24 {
		return rMin
	}
	return math.Max(rMin, diurnalMargin*c.diurnalFake(span))
}

// diurnalFake is diurnalFake for the configured amplitude, memoized by
// span (a handful of spans recur every window).
func (c *Classifier) diurnalFake(span float64) float64 {
	fake, ok := c.fake[span]
	if !ok {
		if c.fake == nil || len(c.fake) > 4096 {
			c.fake = map[float64]float64{}
		}
		fake = diurnalFake(c.cfg.DiurnalAmplitude, span)
		c.fake[span] = fake
	}
	return fake
}

// levelDispersion is the Pearson dispersion of windows at one rate lam
// per hour, over blocks holding minBlockMean expected events (as in
// glm.go): at least 1, and 1 unless the scatter is clear.
func levelDispersion(ws []Window, lam, hours float64) float64 {
	var x2, by, bm float64
	blocks := 0
	for _, w := range ws {
		by += w.New
		bm += lam * math.Max(w.Exposure, 1e-6) * hours
		if bm >= minBlockMean {
			x2 += (by - bm) * (by - bm) / bm
			blocks++
			by, bm = 0, 0
		}
	}
	if blocks < 2 || x2 <= chi2Q95(blocks-1) {
		return 1
	}
	return x2 / float64(blocks-1)
}

// overLevel says whether the segmented model sc explains the windows kept
// better (BIC: the level and the change point are charged) than one
// exponential through them all: a pure exponential is measured as it is,
// an outbreak on a background as its excess.
func (c *Classifier) overLevel(sc *excessScan) bool {
	ws := c.hist
	n := len(ws)
	y, off := make([]float64, n), make([]float64, n)
	d := design{n: n, p: 2, y: y, off: off, x: make([][maxParams]float64, n)}
	hours := c.window.Hours()
	for i, w := range ws {
		y[i] = w.New
		off[i] = math.Log(math.Max(w.Exposure, 1e-6) * hours)
		d.x[i] = [maxParams]float64{1, float64(w.Start-ws[0].Start) / 3.6e12}
	}
	f, err := d.fit()
	if err != nil {
		return true
	}
	return 2*(sc.ll-f.loglik) > 2*math.Log(float64(n))
}
