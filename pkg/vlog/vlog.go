// Package vlog computes natural logarithms and exponentials of many values
// at once, each bit for bit the value math.Log or math.Exp gives, several
// at a time where the CPU can (AVX2 on amd64: four lanes of the same
// operations in the same order as the standard library's amd64
// assembly). The growth classifier's Poisson fits take a logarithm or an
// exponential per window per step, most of its time; records must stay
// byte-identical, so an approximation would not do.
package vlog

import "math"

// Log sets dst[i] = math.Log(src[i]) for every i of src, bit for bit;
// dst must be at least as long as src.
func Log(dst, src []float64) { apply(dst, src, useVector && allNormal(src), logVector, math.Log) }

// Exp sets dst[i] = math.Exp(src[i]) for every i of src, bit for bit;
// dst must be at least as long as src.
func Exp(dst, src []float64) { apply(dst, src, useVectorExp && allModerate(src), expVector, math.Exp) }

// apply runs the vector code over the whole blocks of four when vector
// says it may take every value, and the scalar function over the rest.
func apply(dst, src []float64, vector bool, vec func(dst, src []float64), one func(float64) float64) {
	dst = dst[:len(src)]
	n := 0
	if vector && len(src) >= 4 {
		n = len(src) &^ 3
		vec(dst[:n], src[:n])
	}
	for i := n; i < len(src); i++ {
		dst[i] = one(src[i])
	}
}

// allModerate says whether every value is within ±700 (so its exponential
// is a normal number, and not NaN): the values the vector path takes.
func allModerate(xs []float64) bool {
	// Branch-free: the magnitudes' largest bit pattern is compared once
	// (the bits of a non-negative float64 order like its values, and a
	// NaN's lie above every number's).
	var hi uint64
	for _, x := range xs {
		hi = max(hi, math.Float64bits(x)&^(1<<63))
	}
	return hi <= math.Float64bits(700)
}

// allNormal says whether every value is a positive normal number (not
// zero, subnormal, negative, infinite or NaN): the values the vector path
// takes; anything else goes through math.Log itself.
func allNormal(xs []float64) bool {
	// Branch-free: a bit pattern below the smallest normal's (zero,
	// subnormal) wraps around when that is subtracted, and so lands with
	// the negative, infinite and NaN ones at or above the largest normal's.
	var hi uint64
	for _, x := range xs {
		hi = max(hi, math.Float64bits(x)-0x0010000000000000)
	}
	return hi < 0x7FE0000000000000
}
