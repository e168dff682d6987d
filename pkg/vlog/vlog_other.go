//go:build !amd64

package vlog

const useVector = false

func logVector(dst, src []float64) { panic("vlog: no vector path on this architecture") }
