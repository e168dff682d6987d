package growth

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestWrittenOutSameBits: the normal equations and linear predictors
// written out for one to three columns (normal, fill) must give the bits
// of the general loops they replace, for both halves of the sums, on
// counts, offsets and columns of every magnitude the fits meet.
func TestWrittenOutSameBits(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 5))
	for trial := range 300 {
		n := 1 + r.IntN(300)
		for p := 1; p <= maxParams; p++ {
			d := design{n: n, p: p, y: make([]float64, n), off: make([]float64, n), x: make([][maxParams]float64, n)}
			var beta [maxParams]float64
			for j := range p {
				beta[j] = r.NormFloat64() * math.Pow(10, float64(r.IntN(5)-3))
			}
			for i := range n {
				d.y[i] = math.Floor(r.ExpFloat64() * math.Pow(10, float64(r.IntN(4))))
				d.off[i] = r.NormFloat64() * 3
				for j := range p {
					d.x[i][j] = r.NormFloat64() * math.Pow(10, float64(r.IntN(5)-2))
				}
				if trial%7 == 0 {
					d.x[i][0] = 1 // an intercept, as every fit has
				}
			}
			d.fill(beta)
			for i := range n {
				eta := d.eta(beta, i)
				if math.Float64bits(d.etas[i]) != math.Float64bits(eta) || math.Float64bits(d.mus[i]) != math.Float64bits(math.Exp(eta)) {
					t.Fatalf("n %d p %d window %d: η %v μ %v, the general loop %v %v", n, p, i, d.etas[i], d.mus[i], eta, math.Exp(eta))
				}
			}
			for _, withB := range []bool{false, true} {
				a, b := d.normal(withB)
				var wa [maxParams][maxParams]float64
				var wb [maxParams]float64
				for i := range n {
					mu := d.mus[i]
					z := d.etas[i] - d.off[i] + (d.y[i]-mu)/mu
					for j := 0; j < p; j++ {
						if withB {
							wb[j] += mu * d.x[i][j] * z
						}
						for k := 0; k <= j; k++ {
							wa[j][k] += mu * d.x[i][j] * d.x[i][k]
						}
					}
				}
				for j := range p {
					if math.Float64bits(b[j]) != math.Float64bits(wb[j]) {
						t.Fatalf("n %d p %d: b[%d] %v, the general loop %v", n, p, j, b[j], wb[j])
					}
					for k := 0; k <= j; k++ {
						if math.Float64bits(a[j][k]) != math.Float64bits(wa[j][k]) {
							t.Fatalf("n %d p %d: a[%d][%d] %v, the general loop %v", n, p, j, k, a[j][k], wa[j][k])
						}
					}
				}
			}
		}
	}
}
