package growth

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// BenchmarkBenchCapture runs the classifier over the windows of the
// `bench` preset's shape (26 h of 5-minute windows, 20 new sources an hour
// doubling every 8 h) and of a steady day and a half with a step up and an
// outbreak on top (where the excess test runs): the classifier's own cost
// per capture, without decoding.
func BenchmarkBenchCapture(b *testing.B) {
	shapes := map[string]func(h float64) float64{
		"exponential": func(h float64) float64 { return 20 * math.Exp2(h/8) },
		"outbreak": func(h float64) float64 {
			if h < 24 {
				return 24
			}
			return 24 + math.Exp2(h-24)
		},
	}
	for name, rate := range shapes {
		b.Run(name, func(b *testing.B) {
			w := 5 * time.Minute
			r := rand.New(rand.NewPCG(1, 1))
			counts := make([]float64, 26*12)
			for i := range counts {
				counts[i] = poisson(r, rate((float64(i)+0.5)/12)/12)
			}
			b.ReportAllocs()
			for b.Loop() {
				c, _ := New(DefaultConfig(), w)
				for i, n := range counts {
					start := t0 + int64(i)*int64(w)
					c.Add(Window{Start: start, End: start + int64(w), New: n, Exposure: 1})
				}
			}
		})
	}
}
