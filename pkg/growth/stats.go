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
	var g fakeGrid
	g.times(spanHours)
	if !(a < 0.99) {
		// Near a = 1 a point's weight 1 - a·sin nears 0 and its
		// logarithm's error bound grows without limit: every phase exactly.
		return g.exactMax(a, func(int) bool { return true })
	}
	// Every phase's slope is first taken from sines by angle addition,
	// sin(ωt)·cos φ + cos(ωt)·sin φ, 192 sines instead of 9,216 (the
	// call's cost: the classifier asks for a new span every window of a
	// capture's first day). Those sines are within a few ulps of
	// math.Sin's, so each slope is within a bound of its exact value far
	// below the slopes' differences between neighbouring phases; the
	// exact computation (the definition, the same operations in the same
	// order) is then done for the phases that may hold the largest slope.
	// The result has the definition's bits (TestDiurnalFakeExact).
	var so, co [fakePoints]float64
	for i := range so {
		so[i], co[i] = math.Sincos(g.ots[i])
	}
	var approx, slack [fakePhases]float64
	var ws, lws [fakePoints]float64
	top := math.Inf(-1)
	for step := range fakePhases {
		sp, cp := fakePhase[step][0], fakePhase[step][1]
		for i := range ws {
			ws[i] = 1 + a*(so[i]*cp+co[i]*sp)
		}
		vlog.Log(lws[:], ws[:])
		slope, spread := g.slope(&ws, &lws)
		// Each log is off by at most about 1e-15/(1-a) (the sine by a few
		// ulps, times a, over w ≥ 1-a); 1e-12/(1-a) a log, and a
		// relative 1e-9 for the sums' rounding, leave a wide margin.
		approx[step] = slope
		slack[step] = 1e-12/(1-a)*spread + 1e-9*math.Abs(slope)
		top = math.Max(top, slope-slack[step])
	}
	if math.IsNaN(top) {
		return g.exactMax(a, func(int) bool { return true })
	}
	return g.exactMax(a, func(step int) bool { return approx[step]+slack[step] >= top })
}

const fakePoints, fakePhases = 96, 96

// fakePhase holds sin φ and cos φ of diurnalFake's phases.
var fakePhase = func() (t [fakePhases][2]float64) {
	for step := range t {
		t[step][0], t[step][1] = math.Sincos(2 * math.Pi * float64(step) / fakePhases)
	}
	return
}()

// fakeGrid holds diurnalFake's points in time over a span and ω·t.
type fakeGrid struct{ ts, ots [fakePoints]float64 }

func (g *fakeGrid) times(spanHours float64) {
	const omega = 2 * math.Pi / 24
	for i := range g.ts {
		g.ts[i] = spanHours * (float64(i) + 0.5) / fakePoints
		g.ots[i] = omega * g.ts[i]
	}
}

// slope is the weighted least-squares slope of lws on the times with
// weights ws, and Σ w·|t - t̄| / Σ w·(t - t̄)²: how far the slope moves
// per unit of error in every log.
func (g *fakeGrid) slope(ws, lws *[fakePoints]float64) (slope, spread float64) {
	var sw, st, sy float64
	for i := range ws {
		t, w := g.ts[i], ws[i]
		sw += w
		st += w * t
		sy += w * lws[i]
	}
	tm, ym := st/sw, sy/sw
	var sxy, sxx, sa float64
	for i := range ws {
		t, w := g.ts[i], ws[i]
		sxy += w * (t - tm) * (lws[i] - ym)
		sxx += w * (t - tm) * (t - tm)
		sa += w * math.Abs(t-tm)
	}
	return sxy / sxx, sa / sxx
}

// exactMax is diurnalFake by its definition over the phases try admits:
// the largest of 0 and their slopes, each from math.Sin of ω·t + φ.
func (g *fakeGrid) exactMax(a float64, try func(step int) bool) float64 {
	best := 0.0
	var ws, lws [fakePoints]float64
	for step := range fakePhases {
		if !try(step) {
			continue
		}
		phi := 2 * math.Pi * float64(step) / 96
		for i := range ws {
			ws[i] = 1 + a*math.Sin(g.ots[i]+phi)
		}
		vlog.Log(lws[:], ws[:]) // the same bits as math.Log, four at a time
		slope, _ := g.slope(&ws, &lws)
		best = math.Max(best, slope)
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
