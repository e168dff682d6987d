package prefetch

import (
	"testing"
	"unsafe"
)

// TestHintsChangeNothing: the hints run on the pointers a caller has
// (repeated ones among them) and leave memory as it was.
func TestHintsChangeNothing(t *testing.T) {
	buf := make([]uint64, 4096)
	for i := range buf {
		buf[i] = uint64(i) * 0x9e3779b97f4a7c15
	}
	var a [8]unsafe.Pointer
	for i := range a {
		a[i] = unsafe.Pointer(&buf[i*500])
	}
	a[7] = a[0]
	Lines8(&a)
	Line(unsafe.Pointer(&buf[1]))
	Lines2(unsafe.Pointer(&buf[2]), unsafe.Pointer(&buf[4000]))
	Range(unsafe.Pointer(&buf[0]), uintptr(len(buf)*8))
	for i := range buf {
		if buf[i] != uint64(i)*0x9e3779b97f4a7c15 {
			t.Fatalf("word %d changed", i)
		}
	}
	if a[7] != a[0] || a[3] != unsafe.Pointer(&buf[1500]) {
		t.Fatal("the pointers changed")
	}
}
