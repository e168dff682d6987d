//go:build !amd64 && !arm64

// Package prefetch asks the CPU to bring memory into its caches ahead of
// use; on this architecture there is no assembly helper and it does
// nothing.
package prefetch

import "unsafe"

// Range does nothing here.
func Range(unsafe.Pointer, uintptr) {}

// Line does nothing here.
func Line(unsafe.Pointer) {}

// Lines2 does nothing here.
func Lines2(unsafe.Pointer, unsafe.Pointer) {}

// Lines8 does nothing here.
func Lines8(*[8]unsafe.Pointer) {}
