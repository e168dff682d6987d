//go:build linux

package pcapfile

import (
	"runtime"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// hugeProbe tells whether the file pages of b (probeLen bytes of a
// mapping, at a huge page boundary) are mapped a huge page (2 MiB) at a
// time: it touches one byte every probeStride and counts this thread's
// page faults. A page cache in large folios (a file the kernel's readahead
// brought in, on a filesystem that keeps them) maps them all with one
// fault; a page cache of 4 KiB pages (a file just written in small writes)
// with a fault a touch, each mapping fault_around_bytes (64 KiB by
// default) at most. touched is false when no fault came (the pages were
// mapped already) or the counter cannot be read: the probe says nothing.
func hugeProbe(b []byte) (touched, huge bool) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var r0, r1 unix.Rusage
	if unix.Getrusage(unix.RUSAGE_THREAD, &r0) != nil {
		return false, false
	}
	var sum byte
	for i := 0; i < len(b); i += probeStride {
		sum += b[i]
	}
	probeSink.Store(uint32(sum))
	if unix.Getrusage(unix.RUSAGE_THREAD, &r1) != nil {
		return false, false
	}
	faults := r1.Minflt - r0.Minflt
	return faults > 0, faults > 0 && faults <= 2
}

// probeSink keeps the probe's loads (atomic: the Reader and its Tails
// probe on their own goroutines).
var probeSink atomic.Uint32
