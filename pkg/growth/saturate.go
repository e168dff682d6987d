package growth

import (
	"fmt"
	"math"
)

// Saturation. When an epidemic runs out of hosts the arrival rate stops
// growing (a plateau) or peaks and falls (a logistic). A log-linear fit
// over the horizon still sees the growth before, for as long as the
// horizon remembers it. So an exponential verdict is tested against a
// broken stick: log rate = a + r·min(t-τ, 0) + r2·max(t-τ, 0), fitted for
// every hinge τ leaving at least satMinAfter windows after it. When the
// best hinge explains the counts better (BIC, τ charged) and the growth
// after it has clearly slowed (r2's upper bound below half the growth
// before it, or below the exponential bound), the verdict is
// `saturating`, since τ: a plateau, a peak, or a taper.

// satConfidence is the confidence with which the growth after the hinge
// must be below the limit (or the configured one, if lower). Lower than
// the tests' default (0.98): standing down is
// the cautious direction, the broken stick must already explain the
// counts better than one line (BIC), and at 0.98 a plateau after doubling
// every 4 h needed about 3 h of it (240 new sources an hour) to show its
// slope under half the growth before, so one run in ten was still called
// exponential after 3 h (measured, 10 and 60 seeds).
const satConfidence = 0.95

// satMinAfter is the fewest windows after a hinge (45 minutes of 5-minute
// windows: fewer cannot show the rate flat).
const satMinAfter = 9

func (c *Classifier) saturation(v Verdict) Verdict {
	if v.Model != Exponential {
		return v
	}
	n := min(v.Windows, len(c.hist))
	if n < 2*satMinAfter {
		return v
	}
	ws := c.hist[len(c.hist)-n:]
	hours := c.window.Hours()
	y, off, t := make([]float64, n), make([]float64, n), make([]float64, n)
	for i, w := range ws {
		y[i] = w.New
		off[i] = math.Log(math.Max(w.Exposure, 1e-6) * hours)
		t[i] = float64(w.Start-ws[0].Start) / 3.6e12
	}
	line := design{n: n, p: 2, y: y, off: off, x: make([][maxParams]float64, n)}
	for i := range line.x {
		line.x[i] = [maxParams]float64{1, t[i]}
	}
	f1, err := line.fit()
	if err != nil {
		return v
	}
	type hinge struct {
		k             int
		ll, r1, r2, v float64 // v: the variance of r2 before the dispersion
		disp          float64 // 0 until taken (seOf)
		beta          [maxParams]float64
	}
	best := hinge{k: -1, ll: math.Inf(-1)}
	var tried []hinge
	// The hinges' fits by hingeFits where the windows allow (hinge.go),
	// else by the general fit, d.
	hf := newHingeFits(ws, y, off, t)
	if c.generalHinges {
		hf = nil
	}
	d := design{n: n, p: 3, y: y, off: off, x: make([][maxParams]float64, n)}
	sumsKept := false
	// Each fit starts from the last one's solution, its level carried
	// along the slope to the new hinge (the same maximum, found in fewer
	// steps: see fitFrom).
	var last [maxParams]float64
	lastTau, warm := 0.0, false
	try := func(k int) {
		tau := t[k]
		var start *[maxParams]float64
		if warm {
			s := last
			if dt := tau - lastTau; dt > 0 {
				s[0] += s[2] * dt
			} else {
				s[0] += s[1] * dt
			}
			start = &s
		}
		var f fit
		var err error
		fast := false
		if hf != nil {
			hf.at(k)
			f, fast, err = hf.fitFrom(start)
		}
		if !fast {
			if !sumsKept {
				d.keepSums()
				sumsKept = true
			}
			for i := range d.x {
				d.x[i] = [maxParams]float64{1, math.Min(t[i]-tau, 0), math.Max(t[i]-tau, 0)}
			}
			f, err = d.fitFrom(start)
		}
		if err != nil {
			return
		}
		last, lastTau, warm = f.beta, tau, true
		h := hinge{k: k, ll: f.loglik, r1: f.beta[1], r2: f.beta[2], v: f.cov[2][2], beta: f.beta}
		if !fast {
			h.disp = f.dispersion
		}
		tried = append(tried, h)
		if h.ll > best.ll {
			best = h
		}
	}
	// The standard error of r2, its dispersion taken when first asked.
	seOf := func(h *hinge) float64 {
		if h.disp == 0 {
			h.disp = hf.dispersion(h.k, h.beta)
		}
		return math.Sqrt(h.v * h.disp)
	}
	// A coarse pass over the hinges, then every window around the best:
	// this runs after every exponential window and must stay cheap.
	stride := max(1, (n-2*satMinAfter)/32)
	for k := satMinAfter; k <= n-satMinAfter; k += stride {
		try(k)
	}
	if k0 := best.k; k0 >= 0 {
		last, lastTau = best.beta, t[k0]
		for k := max(satMinAfter, k0-stride+1); k <= min(n-satMinAfter, k0+stride-1); k++ {
			if k != k0 {
				try(k)
			}
		}
	}
	if best.k < 0 {
		return v
	}
	ln := math.Log(float64(n))
	q := normalQuantile(math.Min(satConfidence, c.cfg.Confidence))
	// A hinge says growth stopped when it explains the counts better than
	// one line (BIC: one slope and τ more) and the growth after it is
	// clearly below the limit: half the slower of the slope before it and
	// the horizon's overall rate (early windows of an epidemic, mostly
	// empty, make a steep first slope that must not pass for a slowdown
	// after it), or the exponential bound. Every hinge tried is asked, the
	// most likely that says so taken: where the corner lies is uncertain,
	// and the most likely hinge can fall hours before a plateau, its slope
	// after it averaging the last growth with the flat (measured: doubling
	// 4 h, a plateau called exponential again for 2 h after 40 minutes of
	// `saturating`).
	stopped := func(h *hinge) bool {
		gain := 2*(h.ll-f1.loglik)/math.Max(f1.dispersion, 1) - 2*ln
		limit := math.Max(v.Bound, math.Min(h.r1, v.RatePerHour)/2)
		// Once growth is decided stopped, it stays so while a broken
		// stick still fits better and its slope after the hinge is below
		// the limit: the upper bound alone, noisy window to window, made
		// the verdict flicker back to exponential on a plateau (measured:
		// doubling 4 h, 4 of 10 runs still exponential more than 3 h after
		// the plateau began).
		if !(gain > 0) {
			return false
		}
		upper := h.r2
		if c.regime != Saturating {
			upper += q * seOf(h)
		}
		return upper < limit
	}
	found := false
	for i := range tried {
		if h := &tried[i]; stopped(h) && (!found || h.ll > best.ll) {
			best, found = *h, true
		}
	}
	if !found {
		return v
	}
	limit := math.Max(v.Bound, math.Min(best.r1, v.RatePerHour)/2)
	at := ws[best.k].Start
	return Verdict{Model: Saturating, Confidence: normalCDF((limit - best.r2) / seOf(&best)), Horizon: v.Horizon,
		Windows: v.Windows, NewSources: v.NewSources, SteadyPerHour: v.SteadyPerHour, Bound: v.Bound, Dispersion: v.Dispersion,
		RatePerHour: v.RatePerHour, RateLow: v.RateLow, RateHigh: v.RateHigh,
		StoppedAt: at, RateAfterPerHour: best.r2,
		Reason: fmt.Sprintf("growth slowed at %s from %.3g/h to %.3g/h (log scale): at most half as fast, or under the bound %.3g/h", stamp(at), best.r1, best.r2, v.Bound)}
}
