package vlog

import "golang.org/x/sys/cpu"

var (
	useVector = cpu.X86.HasAVX2
	// math.Exp takes its FMA path when the CPU has AVX and FMA; the
	// vector code is that path, so it runs only then.
	useVectorExp = cpu.X86.HasAVX2 && cpu.X86.HasAVX && cpu.X86.HasFMA
)

// logVector computes the logarithms of src (a multiple of four positive
// normal values) into dst, four at a time (vlog_amd64.s).
//
//go:noescape
func logVector(dst, src []float64)

// expVector computes the exponentials of src (a multiple of four values
// within ±700) into dst, four at a time (vlog_amd64.s).
//
//go:noescape
func expVector(dst, src []float64)
