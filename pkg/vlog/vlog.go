// Package vlog computes natural logarithms of many values at once, each
// bit for bit the value math.Log gives, several at a time where the CPU
// can (AVX2 on amd64: four lanes of the same operations in the same order
// as the standard library's amd64 assembly). The growth classifier's
// Poisson log-likelihoods take a logarithm per window per step of a fit,
// about a third of its time; records must stay byte-identical, so an
// approximation would not do.
package vlog

import "math"

// Log sets dst[i] = math.Log(src[i]) for every i of src, bit for bit;
// dst must be at least as long as src.
func Log(dst, src []float64) {
	dst = dst[:len(src)]
	n := 0
	if useVector && len(src) >= 4 && allNormal(src) {
		n = len(src) &^ 3
		logVector(dst[:n], src[:n])
	}
	for i := n; i < len(src); i++ {
		dst[i] = math.Log(src[i])
	}
}

// allNormal says whether every value is a positive normal number (not
// zero, subnormal, negative, infinite or NaN): the values the vector path
// takes; anything else goes through math.Log itself.
func allNormal(xs []float64) bool {
	ok := true
	for _, x := range xs {
		ok = ok && math.Float64bits(x)-0x0010000000000000 < 0x7FE0000000000000
	}
	return ok
}
