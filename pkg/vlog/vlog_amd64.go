package vlog

import "golang.org/x/sys/cpu"

var useVector = cpu.X86.HasAVX2

// logVector computes the logarithms of src (a multiple of four positive
// normal values) into dst, four at a time (vlog_amd64.s).
//
//go:noescape
func logVector(dst, src []float64)
