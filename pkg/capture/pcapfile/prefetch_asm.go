//go:build amd64 || arm64

package pcapfile

import "unsafe"

// prefetchRange asks the CPU to bring every cache line of [p, p+n) into
// its caches, without waiting for them (prefetch_*.s).
//
//go:noescape
func prefetchRange(p unsafe.Pointer, n uintptr)
