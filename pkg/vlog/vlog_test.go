package vlog

import (
	"math"
	"math/rand/v2"
	"testing"
)

// sameBits requires f to give, for every value of xs (in one slice, and
// in slices of every length up to a few blocks) and for each odd value in
// a block of ordinary ones, the bits ref gives (any NaN for a NaN), and
// to write nothing past its input.
func sameBits(t *testing.T, name string, f func(dst, src []float64), ref func(float64) float64, xs, odd []float64) {
	t.Helper()
	check := func(what string, src []float64) {
		t.Helper()
		dst := make([]float64, len(src)+1)
		dst[len(src)] = 42
		f(dst, src)
		for i, x := range src {
			want := ref(x)
			if math.Float64bits(dst[i]) != math.Float64bits(want) && !(math.IsNaN(want) && math.IsNaN(dst[i])) {
				t.Fatalf("%s %s: %s(%v) [bits %#x] = %v, the standard library gives %v", name, what, name, x, math.Float64bits(x), dst[i], want)
			}
		}
		if dst[len(src)] != 42 {
			t.Fatalf("%s %s: wrote past the input", name, what)
		}
	}
	check("many", xs)
	for n := 0; n <= 13; n++ {
		check("short", xs[len(xs)-n:])
	}
	for _, x := range odd { // one odd value in a block: the whole slice goes through the standard library
		check("odd", []float64{1.5, 2.5, x, 3.5, 4.5, 5.5, 6.5, 7.5})
	}
}

// TestLogSameBitsAsMathLog: every value the vector path may take, across
// the whole range of exponents, around the reduction's boundary at √2/2,
// at powers of two and near 1, and every kind it must leave to math.Log.
func TestLogSameBitsAsMathLog(t *testing.T) {
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
	odd := []float64{0, -1, math.Inf(1), math.NaN(), math.SmallestNonzeroFloat64, 0x1p-1030, math.Copysign(0, -1)}
	sameBits(t, "Log", Log, math.Log, xs, odd)
	t.Logf("%d values, vector path: %v", len(xs), useVector)
}

// TestExpSameBitsAsMathExp: every value the vector path may take (±700),
// uniformly, near 0, near the rounding boundaries of k = x·log2 e, and the
// values it must leave to math.Exp.
func TestExpSameBitsAsMathExp(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	var xs []float64
	for range 200000 {
		xs = append(xs, (r.Float64()*2-1)*700)
	}
	for range 100000 {
		xs = append(xs, (r.Float64()*2-1)*math.Pow(10, float64(r.IntN(16)-14)))
	}
	for k := -1010; k <= 1010; k++ { // around x·log2 e = k ± 1/2
		for _, f := range []float64{-0.5, 0, 0.5} {
			x := (float64(k) + f) * math.Ln2
			xs = append(xs, x, math.Nextafter(x, -1000), math.Nextafter(x, 1000))
		}
	}
	xs = append(xs, 0, math.Copysign(0, -1), 700, -700, 50, -50)
	odd := []float64{701, -701, 709.9, -745.2, -800, 1000, math.Inf(1), math.Inf(-1), math.NaN()}
	sameBits(t, "Exp", Exp, math.Exp, xs, odd)
	t.Logf("%d values, vector path: %v", len(xs), useVectorExp)
}

// TestConstants: the vector code's constants are the scalar code's
// decimal ones (math/log_amd64.s, math/exp_amd64.s), bit for bit.
func TestConstants(t *testing.T) {
	for _, c := range []struct {
		v    float64
		bits uint64
	}{
		// Log
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
		// Exp
		{1.4426950408889634073599246810018920, 0x3FF71547652B82FE},
		{0.69314718055966295651160180568695068359375, 0x3FE62E42FEFA3000},
		{0.28235290563031577122588448175013436025525412068e-12, 0x3D53DE6AF278ECE6},
		{1.6666666666666666667e-1, 0x3FC5555555555555},
		{4.1666666666666666667e-2, 0x3FA5555555555555},
		{8.3333333333333333333e-3, 0x3F81111111111111},
		{1.3888888888888888889e-3, 0x3F56C16C16C16C17},
		{1.9841269841269841270e-4, 0x3F2A01A01A01A01A},
		{2.4801587301587301587e-5, 0x3EFA01A01A01A01A},
	} {
		if got := math.Float64bits(c.v); got != c.bits {
			t.Errorf("%v: bits %#x, the vector code has %#x", c.v, got, c.bits)
		}
	}
}

var sink float64

// BenchmarkVlog: Log and Exp against math.Log and math.Exp one value at a
// time (the peers), on the values of a Poisson fit: ns per value.
func BenchmarkVlog(b *testing.B) {
	src := make([]float64, 288)
	r := rand.New(rand.NewPCG(1, 1))
	for i := range src {
		src[i] = 0.1 + r.ExpFloat64()*20
	}
	dst := make([]float64, len(src))
	for _, c := range []struct {
		name string
		f    func(dst, src []float64)
	}{
		{"vlog.Log", Log},
		{"math.Log", func(dst, src []float64) {
			for i, x := range src {
				dst[i] = math.Log(x)
			}
		}},
		{"vlog.Exp", Exp},
		{"math.Exp", func(dst, src []float64) {
			for i, x := range src {
				dst[i] = math.Exp(x)
			}
		}},
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				c.f(dst, src)
			}
			sink = dst[7]
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(src)), "ns/value")
		})
	}
}

// TestRangeChecks compares the branch-free checks that pick the vector
// path with their definitions, value by value and in slices mixing one
// odd value into ordinary ones at every place.
func TestRangeChecks(t *testing.T) {
	normal := func(x float64) bool { return x > 0 && x >= 0x1p-1022 && x <= math.MaxFloat64 }
	moderate := func(x float64) bool { return math.Abs(x) <= 700 }
	vals := []float64{0, math.Copysign(0, -1), 0x1p-1074, 0x1p-1022, math.Nextafter(0x1p-1022, 0), math.MaxFloat64,
		-math.MaxFloat64, math.Inf(1), math.Inf(-1), math.NaN(), -math.NaN(), math.Float64frombits(0xFFFFFFFFFFFFFFFF),
		math.Float64frombits(0x7FF0000000000001), 1, -1, 700, -700, math.Nextafter(700, 800), math.Nextafter(-700, -800),
		699.9, -1e-300, 1e300, -1e300, 0.5, 2}
	r := rand.New(rand.NewPCG(7, 7))
	for range 100000 {
		vals = append(vals, math.Float64frombits(r.Uint64()))
	}
	for _, x := range vals {
		if got, want := allNormal([]float64{x}), normal(x); got != want {
			t.Fatalf("allNormal(%v [%#x]) = %v, want %v", x, math.Float64bits(x), got, want)
		}
		if got, want := allModerate([]float64{x}), moderate(x); got != want {
			t.Fatalf("allModerate(%v [%#x]) = %v, want %v", x, math.Float64bits(x), got, want)
		}
	}
	for _, x := range vals[:25] {
		for at := range 9 {
			xs := []float64{1, 2, 3, 4, 5, 6, 7, 8, 9}
			xs[at] = x
			if got, want := allNormal(xs), normal(x); got != want {
				t.Fatalf("allNormal with %v at %d = %v, want %v", x, at, got, want)
			}
			if got, want := allModerate(xs), moderate(x); got != want {
				t.Fatalf("allModerate with %v at %d = %v, want %v", x, at, got, want)
			}
		}
	}
	if !allNormal(nil) || !allModerate(nil) {
		t.Fatal("an empty slice must pass both checks")
	}
}
