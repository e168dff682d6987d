//go:build !amd64 && !arm64

package pcapfile

import "unsafe"

// prefetchRange does nothing where there is no assembly helper: the reader
// is then as fast as the plain dependent-load loop.
func prefetchRange(unsafe.Pointer, uintptr) {}
