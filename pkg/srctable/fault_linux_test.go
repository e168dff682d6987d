//go:build linux

package srctable

import (
	"runtime"
	"testing"

	"golang.org/x/sys/unix"
)

// TestGrowingFaultsOncePerPage: a table growing into memory fresh from the
// kernel takes at most about one page fault per page of slots (each page
// written before it is read, freshSlots), not two (a page read first is
// mapped to the zero page, and the first write then faults again and
// flushes the TLB of every CPU the process runs on). Memory the Go heap
// reuses faults less, so the test cannot fail for that.
func TestGrowingFaultsOncePerPage(t *testing.T) {
	if raceOn {
		t.Skip("the race detector's shadow memory faults in beside the tables (not a permission: nothing to run here)")
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var r0, r1 unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_THREAD, &r0); err != nil {
		t.Skipf("no per-thread page fault counts: %v", err)
	}
	tab := New[uint32, val](0)
	for k := uint32(1); k <= 2_000_000; k++ {
		tab.Put(k, Hash4(k), val{last: k})
	}
	if err := unix.Getrusage(unix.RUSAGE_THREAD, &r1); err != nil {
		t.Fatal(err)
	}
	pages := tab.Slots() * tab.SlotBytes() / 4096
	faults := r1.Minflt - r0.Minflt
	t.Logf("%d pages of slots, %d page faults", pages, faults)
	if float64(faults) > 1.4*float64(pages) {
		t.Errorf("%d page faults for %d pages of slots: pages read before they are written", faults, pages)
	}
}
