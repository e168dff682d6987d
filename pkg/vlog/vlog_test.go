package vlog

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestSameBitsAsMathLog: every value the vector path may take, across the
// whole range of exponents, around the reduction's boundary at √2/2, at
// powers of two and near 1, and every kind it must leave to math.Log, in
// slices of every length up to a few blocks, must come out with the bits
// math.Log gives.
func TestSameBitsAsMathLog(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var xs []float64
	for range 200000 { // any positive normal bit pattern
		xs = append(xs, math.Float64frombits(0x0010000000000000+r.Uint64N(0x7FE0000000000000)))
	}
	for range 100000 { // the ranges the classifier uses
		xs = append(xs, r.ExpFloat64()*math.Pow(10, float64(r.IntN(12)-4)))
	}
	h := math.Sqrt2 / 2
	for e := -1022; e <= 1023; e++ {
		p := math.Ldexp(1, e)
		xs = append(xs, p, math.Nextafter(p, 0), math.Nextafter(p, math.Inf(1)), h*p, math.Nextafter(h, 0)*p, math.Nextafter(h, 2)*p)
	}
	for d := -2000; d <= 2000; d++ {
		xs = append(xs, 1+float64(d)*0x1p-52, 1+float64(d)*1e-9)
	}
	xs = append(xs, math.MaxFloat64, math.SmallestNonzeroFloat64*(1<<52))
	for len(xs)%4 != 0 {
		xs = append(xs, 3)
	}
	check := func(what string, src []float64) {
		t.Helper()
		dst := make([]float64, len(src)+1)
		dst[len(src)] = 42
		Log(dst, src)
		for i, x := range src {
			if want := math.Log(x); math.Float64bits(dst[i]) != math.Float64bits(want) {
				t.Fatalf("%s: Log(%v) [bits %#x] = %v, math.Log gives %v", what, x, math.Float64bits(x), dst[i], want)
			}
		}
		if dst[len(src)] != 42 {
			t.Fatalf("%s: wrote past the input", what)
		}
	}
	check("many", xs)
	for n := 0; n <= 13; n++ {
		check("short", xs[:n])
	}
	odd := []float64{0, -1, math.Inf(1), math.NaN(), math.SmallestNonzeroFloat64, 0x1p-1030, -0.0, 2}
	for _, x := range odd { // one odd value in a block: the whole slice goes through math.Log
		src := []float64{1.5, 2.5, x, 3.5, 4.5, 5.5, 6.5, 7.5}
		dst := make([]float64, len(src))
		Log(dst, src)
		for i, v := range src {
			want := math.Log(v)
			if math.Float64bits(dst[i]) != math.Float64bits(want) && !(math.IsNaN(want) && math.IsNaN(dst[i])) {
				t.Fatalf("odd %v: Log(%v) = %v, math.Log gives %v", x, v, dst[i], want)
			}
		}
	}
	t.Logf("%d values, vector path: %v", len(xs), useVector)
}

// TestConstants: the vector code's constants are the scalar code's
// decimal ones (math/log_amd64.s), bit for bit.
func TestConstants(t *testing.T) {
	for _, c := range []struct {
		v    float64
		bits uint64
	}{
		{7.07106781186547524401e-01, 0x3FE6A09E667F3BCD},
		{6.93147180369123816490e-01, 0x3FE62E42FEE00000},
		{1.90821492927058770002e-10, 0x3DEA39EF35793C76},
		{6.666666666666735130e-01, 0x3FE5555555555593},
		{3.999999999940941908e-01, 0x3FD999999997FA04},
		{2.857142874366239149e-01, 0x3FD2492494229359},
		{2.222219843214978396e-01, 0x3FCC71C51D8E78AF},
		{1.818357216161805012e-01, 0x3FC7466496CB03DE},
		{1.531383769920937332e-01, 0x3FC39A09D078C69F},
		{1.479819860511658591e-01, 0x3FC2F112DF3E5244},
	} {
		if got := math.Float64bits(c.v); got != c.bits {
			t.Errorf("%v: bits %#x, the vector code has %#x", c.v, got, c.bits)
		}
	}
}

var sink float64

// BenchmarkLog against math.Log, one value at a time (the peer), on the
// values of a Poisson fit: ns per logarithm.
func BenchmarkLog(b *testing.B) {
	src := make([]float64, 288)
	r := rand.New(rand.NewPCG(1, 1))
	for i := range src {
		src[i] = 0.1 + r.ExpFloat64()*20
	}
	dst := make([]float64, len(src))
	b.Run("vlog", func(b *testing.B) {
		for b.Loop() {
			Log(dst, src)
		}
		sink = dst[7]
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(src)), "ns/log")
	})
	b.Run("math.Log", func(b *testing.B) {
		for b.Loop() {
			for i, x := range src {
				dst[i] = math.Log(x)
			}
		}
		sink = dst[7]
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(src)), "ns/log")
	})
}
