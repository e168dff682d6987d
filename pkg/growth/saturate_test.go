package growth

import (
	"fmt"
	"math"
	"testing"
)

// TestPlateauAndPeakAreFollowedWithinHours: exponential growth (doubling
// 2 h) that stops at a plateau, or turns into a logistic decline after its
// peak, is no longer called exponential 3 h after the plateau's start or
// the peak.
func TestPlateauAndPeakAreFollowedWithinHours(t *testing.T) {
	const stop = 14.0 // hours
	for _, shape := range []string{"plateau", "peak"} {
		for seed := uint64(1); seed <= 3; seed++ {
			t.Run(fmt.Sprint(shape, "/", seed), func(t *testing.T) {
				vs := feed(t, DefaultConfig(), 30, seed, func(h float64) float64 {
					switch {
					case h < stop:
						return 2 * math.Exp2(h/2)
					case shape == "plateau":
						return 2 * math.Exp2(stop/2)
					}
					return 2 * math.Exp2(stop/2) * math.Exp2(-(h-stop)/2)
				})
				sawExp := false
				for i, v := range vs {
					h := float64(i) / 12
					if v.Model == Exponential && h < stop {
						sawExp = true
					}
					if v.Model == Exponential && h >= stop+3 {
						t.Fatalf("%.2f h after the stop: still exponential (%+v)", h-stop, v)
					}
				}
				if !sawExp {
					t.Error("the growth before the stop was never called exponential")
				}
			})
		}
	}
}
