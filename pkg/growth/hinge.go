package growth

import "math"

// The saturation test's broken stick, fitted at one hinge after another
// (saturate.go), is the classifier's largest single cost on a growing
// capture: some 48 Poisson log-linear fits over a day of windows after
// every exponential window. Its columns have a shape the general fit
// (glm.go) does not use: 1, min(t-τ, 0) and max(t-τ, 0). On windows spaced
// evenly in time, the expected count of window i is its exposure times
// exp(b0 + b1·(t_i-τ)) before the hinge and exp(b0 + b2·(t_i-τ)) after it,
// so along each side it is a geometric sequence: one multiplication a
// window, not an exponential. And Newton's step for the log link needs
// only sums of μ, μ·x and μ·x² (the two slopes' columns are never both
// non-zero, so X'WX has no cross term between them), the deviance only
// Σμ besides constants of the counts. So one pass over the windows makes a
// step, where the general fit takes an exponential pass, a pass for X'WX
// and one for the deviance. The fit is the same model's maximum, reached by
// the same Newton iterations, step halving and stopping rules; the
// dispersion (a pass) is taken only for the hinges whose standard error the
// test reads.
//
// The sums differ from the general fit's in their rounding (the geometric
// sequence drifts from the exponentials by about 1e-14 over a day of
// windows), far below the fits' 1e-9 tolerance and the six digits the
// records carry. Where the windows are not evenly spaced, or a fit's
// linear predictor leaves the range where no exponential over- or
// underflows (the general fit clamps it at 50), the general fit is used.

// hingeFits is the data of one scan over hinges.
type hingeFits struct {
	n              int
	y, t, e        []float64 // counts, hours from the first window, exposure hours (exp of the offsets)
	dt             float64   // the windows' spacing, hours
	total, expo    float64   // Σy and Σe, the cold start's
	dev0           float64   // Σ y·log y - Σ y - Σ y·off: the deviance's terms that do not depend on the fit
	yOff, lf       float64   // Σ y·off, Σ log y!
	offMin, offMax float64
	mu             []float64 // the dispersion's scratch
	// The hinge being fitted: its window, time, and Σ y·x for each column.
	k   int
	tau float64
	yx  [3]float64
}

// newHingeFits prepares the scan of windows ws (y, off and t as the
// saturation test builds them), or returns nil when they are not evenly
// spaced.
func newHingeFits(ws []Window, y, off, t []float64) *hingeFits {
	dt, even := evenSpacing(ws)
	if !even {
		return nil
	}
	n := len(ws)
	h := &hingeFits{n: n, y: y, t: t, e: make([]float64, n), mu: make([]float64, n), dt: dt,
		offMin: math.Inf(1), offMax: math.Inf(-1)}
	for i := range n {
		h.e[i] = math.Exp(off[i])
		h.total += y[i]
		h.expo += h.e[i]
		h.yOff += y[i] * off[i]
		h.lf += logFactorial(y[i])
		if y[i] > 0 {
			h.dev0 += y[i] * math.Log(y[i])
		}
		h.dev0 -= y[i]
		h.offMin, h.offMax = math.Min(h.offMin, off[i]), math.Max(h.offMax, off[i])
	}
	h.dev0 -= h.yOff
	if math.IsNaN(h.dev0) || math.IsInf(h.dev0, 0) || math.IsInf(h.offMin, 0) || math.IsInf(h.offMax, 0) {
		return nil
	}
	return h
}

// at makes window k the hinge.
func (h *hingeFits) at(k int) {
	h.k, h.tau = k, h.t[k]
	var y1, y2 float64
	for i := range k {
		y1 += h.y[i] * (h.t[i] - h.tau)
	}
	for i := k + 1; i < h.n; i++ {
		y2 += h.y[i] * (h.t[i] - h.tau)
	}
	h.yx = [3]float64{h.total, y1, y2}
}

// sums returns X'WX (lower triangle) and X'μ at b, with ok false when
// the linear predictor leaves [-600, 50] somewhere (it is linear in t on
// each side of the hinge, so its extremes are at the ends and the hinge)
// or b is not finite. With mu set, μ of each window goes there too.
func (h *hingeFits) sums(b [maxParams]float64, mu []float64) (a [maxParams][maxParams]float64, xm [3]float64, ok bool) {
	first := b[0] + b[1]*(h.t[0]-h.tau)
	last := b[0] + b[2]*(h.t[h.n-1]-h.tau)
	hi := math.Max(math.Max(first, last), b[0]) + h.offMax
	lo := math.Min(math.Min(first, last), b[0]) + h.offMin
	if !(hi <= 50) || !(lo >= -600) || math.IsNaN(b[1]) || math.IsNaN(b[2]) {
		return a, xm, false
	}
	s0, s1, a11 := h.side(0, h.k, math.Exp(first), math.Exp(b[1]*h.dt), 0, mu)
	s0, s2, a22 := h.side(h.k, h.n, math.Exp(b[0]), math.Exp(b[2]*h.dt), s0, mu)
	a[0][0], a[1][0], a[1][1], a[2][0], a[2][2] = s0, s1, a11, s2, a22
	return a, [3]float64{s0, s1, s2}, !math.IsNaN(s0) && !math.IsInf(s0, 0)
}

// side sums one side of the hinge, windows lo to hi-1, whose expected
// counts are their exposures times z, zq, zq², ...: it returns s0 plus
// their Σμ (added on, in order), and their Σμx and Σμx² (x = t-τ); with
// mu set, μ of each window goes there too.
func (h *hingeFits) side(lo, hi int, z, q, s0 float64, mu []float64) (sum, sx, sxx float64) {
	for i := lo; i < hi; i++ {
		m := h.e[i] * z
		x := h.t[i] - h.tau
		s0 += m
		sx += m * x
		sxx += m * x * x
		if mu != nil {
			mu[i] = m
		}
		z *= q
	}
	return s0, sx, sxx
}

// fitFrom is design.fitFrom for the hinge set by at: from start when it
// is not nil (and from the cold start when that fails). ok is false when
// the fit must be left to the general one. The fit's dispersion is not
// taken (see dispersion).
func (h *hingeFits) fitFrom(start *[maxParams]float64) (f fit, ok bool, err error) {
	if start != nil {
		if f, ok, err = h.iterate(start); !ok || err == nil {
			return f, ok, err
		}
	}
	return h.iterate(nil)
}

// iterate is design.iterate for the hinge: the same start, Newton steps,
// step halving and stopping rules.
func (h *hingeFits) iterate(start *[maxParams]float64) (f fit, ok bool, err error) {
	if h.total == 0 {
		return f, true, errNoEvents
	}
	if start != nil {
		for j := range 3 {
			if math.IsNaN(start[j]) || math.IsInf(start[j], 0) {
				return f, true, errNumeric
			}
			f.beta[j] = start[j]
		}
	} else {
		f.beta[0] = math.Log(h.total / h.expo)
	}
	dev := func(b [maxParams]float64, s0 float64) float64 {
		return 2 * (h.dev0 - (b[0]*h.yx[0] + b[1]*h.yx[1] + b[2]*h.yx[2]) + s0)
	}
	a, xm, ok := h.sums(f.beta, nil)
	if !ok {
		return f, false, nil
	}
	prevDev := math.Inf(1)
	for f.iters = 1; f.iters <= 100; f.iters++ {
		g := [maxParams]float64{h.yx[0] - xm[0], h.yx[1] - xm[1], h.yx[2] - xm[2]}
		delta, inv, err := solve(a, g, 3)
		if err != nil {
			return f, true, err
		}
		next := f.beta
		for j := range 3 {
			next[j] += delta[j]
		}
		step := 1.0
		var d float64
		var na [maxParams][maxParams]float64
		var nxm [3]float64
		accepted := false
		for range 30 {
			var trial [maxParams]float64
			for j := range 3 {
				trial[j] = f.beta[j] + step*delta[j]
			}
			ta, txm, ok := h.sums(trial, nil)
			if !ok {
				return f, false, nil
			}
			d = dev(trial, txm[0])
			if d <= prevDev*(1+1e-12) || math.IsInf(prevDev, 1) {
				next, na, nxm, accepted = trial, ta, txm, true
				break
			}
			step /= 2
		}
		if !accepted { // as the general fit: the full step, the last trial's deviance
			if na, nxm, ok = h.sums(next, nil); !ok {
				return f, false, nil
			}
		}
		change := 0.0
		for j := range 3 {
			change = math.Max(change, math.Abs(next[j]-f.beta[j]))
		}
		f.beta, f.cov, a, xm = next, inv, na, nxm
		if math.IsNaN(d) || math.IsInf(d, 0) {
			return f, true, errNumeric
		}
		if change < 1e-9 || math.Abs(prevDev-d) < 1e-10*(1+math.Abs(d)) {
			// design.finish: the log-likelihood and the covariance at
			// the solution (X'WX is there already).
			_, inv, err := solve(a, [maxParams]float64{}, 3)
			if err != nil {
				return f, true, err
			}
			f.cov = inv
			f.loglik = h.yOff + f.beta[0]*h.yx[0] + f.beta[1]*h.yx[1] + f.beta[2]*h.yx[2] - xm[0] - h.lf
			if math.IsNaN(f.loglik) || math.IsInf(f.loglik, 0) {
				return f, true, errNumeric
			}
			return f, true, nil
		}
		prevDev = d
	}
	return f, true, errNotConverged
}

// dispersion is the Pearson dispersion (design.dispersion) of the fit b
// at hinge k (which it sets, as at does).
func (h *hingeFits) dispersion(k int, b [maxParams]float64) float64 {
	h.at(k)
	if _, _, ok := h.sums(b, h.mu); !ok {
		return math.NaN()
	}
	disp, _ := pearsonDispersion(h.y, h.mu, 3)
	return disp
}
