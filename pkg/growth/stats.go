package growth

import (
	"math"
	"sync"

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
	// The points' times and ω·t, the same for every phase.
	var ts, ots, ws, lws [points]float64
	for i := range ts {
		ts[i] = spanHours * (float64(i) + 0.5) / points
		ots[i] = omega * ts[i]
	}
	for step := 0; step < 96; step++ {
		phi := 2 * math.Pi * float64(step) / 96
		for i := 0; i < points; i++ {
			ws[i] = 1 + a*math.Sin(ots[i]+phi)
		}
		vlog.Log(lws[:], ws[:]) // the same bits as math.Log, four at a time
		var sw, st, sy float64
		for i := 0; i < points; i++ {
			t, w := ts[i], ws[i]
			sw += w
			st += w * t
			sy += w * lws[i]
		}
		tm, ym := st/sw, sy/sw
		var sxy, sxx float64
		for i := 0; i < points; i++ {
			t, w := ts[i], ws[i]
			sxy += w * (t - tm) * (lws[i] - ym)
			sxx += w * (t - tm) * (t - tm)
		}
		best = math.Max(best, sxy/sxx)
	}
	return best
}

func normalCDF(z float64) float64 { return 0.5 * math.Erfc(-z/math.Sqrt2) }

// normalQuantile inverts normalCDF by bisection, once per probability:
// the classifier asks for the same few (its configured confidences) after
// every window, so they are kept (up to 256, safe for the harness's
// parallel workers).
func normalQuantile(p float64) float64 {
	normalQuantiles.Lock()
	q, ok := normalQuantiles.m[p]
	normalQuantiles.Unlock()
	if ok {
		return q
	}
	q = bisectNormal(p)
	normalQuantiles.Lock()
	if normalQuantiles.m == nil || len(normalQuantiles.m) >= 256 {
		normalQuantiles.m = map[float64]float64{}
	}
	normalQuantiles.m[p] = q // a NaN key is never found again, and counts towards the 256
	normalQuantiles.Unlock()
	return q
}

var normalQuantiles struct {
	sync.Mutex
	m map[float64]float64
}

func bisectNormal(p float64) float64 {
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
