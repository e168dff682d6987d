//go:build amd64 || arm64

// Package prefetch asks the CPU to bring memory into its caches ahead of
// use, without waiting for it: a load that would miss the caches then
// overlaps with other work instead of stalling it. A prefetch never
// faults and changes nothing a program can see but its speed. Go has no
// intrinsic for it, so these are small assembly functions (a call each);
// elsewhere they do nothing.
package prefetch

import "unsafe"

// Range prefetches every cache line of [p, p+n).
//
//go:noescape
func Range(p unsafe.Pointer, n uintptr)

// Line prefetches the cache line that holds p.
//
//go:noescape
func Line(p unsafe.Pointer)

// Lines2 prefetches the cache lines that hold p and q: two hints for the
// cost of one call.
//
//go:noescape
func Lines2(p, q unsafe.Pointer)

// Lines8 prefetches the cache lines that hold p[0] to p[7]: eight hints
// for the cost of one call (a caller with fewer repeats one it has). Every
// pointer must be one the program could load from.
//
//go:noescape
func Lines8(p *[8]unsafe.Pointer)
