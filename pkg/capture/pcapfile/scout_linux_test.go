package pcapfile

import (
	"encoding/binary"
	"math"
	"runtime/debug"
	"syscall"
	"testing"
)

// TestScoutLeavesAStaleStretch: a walk that comes back to the mapping far
// past the stretch the scout took (after reading through windows, see
// decide) has the scout start again where it is, without following the
// stretch it left behind (a review's find: it loaded those headers first).
// The stretch behind is made unreadable: a load there faults, which stops
// the scout for good.
func TestScoutLeavesAStaleStretch(t *testing.T) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	file, offs := scoutFile(binary.LittleEndian, 12000, 60, 1515, 11, nil)
	mm, err := syscall.Mmap(-1, 0, len(file), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		t.Skipf("anonymous mapping: %v", err)
	}
	defer syscall.Munmap(mm)
	copy(mm, file)
	in := &input{mm: mm, bo: littleEndian}
	c := &in.cur
	c.mapped, c.lazy = true, true
	in.prefetchAt(c, offs[0]) // takes the next stretch, to follow lazily
	if c.st.live == 0 || c.mark == 0 {
		t.Fatalf("no stretch taken (mark %d)", c.mark)
	}
	// Unreadable: the stretch taken (from the page after the mark's).
	lo := (c.mark + pageSize) &^ (pageSize - 1)
	hi := (c.mark + scoutBlock) &^ (pageSize - 1)
	if err := syscall.Mprotect(mm[lo:hi], syscall.PROT_NONE); err != nil {
		t.Skipf("mprotect: %v", err)
	}
	defer syscall.Mprotect(mm[lo:hi], syscall.PROT_READ)
	far := offs[len(offs)-2000]
	if far < hi+scoutBlock {
		t.Fatalf("the file is too short: %d", len(mm))
	}
	in.prefetchAt(c, far)
	if c.mark == math.MaxInt {
		t.Fatal("the scout read the stretch it left behind (it faulted there)")
	}
	if !isStart(offs, c.mark) {
		t.Fatalf("the scout's next stretch starts at %d, no record's start", c.mark)
	}
}
