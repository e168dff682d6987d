package growth

import (
	"math"

	"github.com/synscope/synscope/pkg/vlog"
)

// The day/night bound a short horizon must clear, and the normal
// distribution the tests read their confidence from.

// diurnalMargin widens the day/night bound a little: the fitted slope of
// a cycle scatters around diurnalFake, and at the worst time of day half
// of that scatter would lie above it, window after window.
const diurnalMargin = 1.15

// diurnalLR is the chi-square(2) quantile at 0.99: the likelihood-ratio
// a day/night harmonic must reach to be fitted.
const diurnalLR = 9.21

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

// diurnalFake is the fastest growth rate a day/night cycle
// rate·(1 + a·sin(ωt + φ)) makes the fit report over a span of the given
// hours, for the worst phase φ: the Poisson-weighted least-squares slope of
// its log rate, which is what the log-linear fit estimates.
func diurnalFake(a, spanHours float64) float64 {
	if a <= 0 || spanHours <= 0 {
		return 0
	}
	const omega = 2 * math.Pi / 24
	const points = 96
	best := 0.0
	var ws, lws [points]float64
	for step := 0; step < 96; step++ {
		phi := 2 * math.Pi * float64(step) / 96
		for i := 0; i < points; i++ {
			t := spanHours * (float64(i) + 0.5) / points
			ws[i] = 1 + a*math.Sin(omega*t+phi)
		}
		vlog.Log(lws[:], ws[:]) // the same bits as math.Log, four at a time
		var sw, st, sy float64
		for i := 0; i < points; i++ {
			t := spanHours * (float64(i) + 0.5) / points
			w := ws[i]
			sw += w
			st += w * t
			sy += w * lws[i]
		}
		tm, ym := st/sw, sy/sw
		var sxy, sxx float64
		for i := 0; i < points; i++ {
			t := spanHours * (float64(i) + 0.5) / points
			w := ws[i] // the same values as above, computed once
			sxy += w * (t - tm) * (lws[i] - ym)
			sxx += w * (t - tm) * (t - tm)
		}
		best = math.Max(best, sxy/sxx)
	}
	return best
}

func normalCDF(z float64) float64 { return 0.5 * math.Erfc(-z/math.Sqrt2) }

// normalQuantile inverts normalCDF by bisection: it runs once per window.
func normalQuantile(p float64) float64 {
	lo, hi := -40.0, 40.0
	for i := 0; i < 200; i++ {
		m := (lo + hi) / 2
		if normalCDF(m) < p {
			lo = m
		} else {
			hi = m
		}
	}
	return (lo + hi) / 2
}
