//go:build !amd64

package vlog

const useVector, useVectorExp = false, false

func logVector(dst, src []float64) { panic("vlog: no vector path on this architecture") }

func expVector(dst, src []float64) { panic("vlog: no vector path on this architecture") }
