package afpacket

import "testing"

// TestWideCountCarriesOverTheWrap: the socket's 32-bit running counts,
// read as they wrap, keep rising as 64-bit ones (they went down after 4.3
// billion frames: a false reset for Prometheus, a review).
func TestWideCountCarriesOverTheWrap(t *testing.T) {
	var w wideCount
	var narrow uint32
	var want uint64
	for _, step := range []uint32{1000, 1<<32 - 2000, 3000, 1 << 31, 1 << 31, 5} {
		narrow += step
		want += uint64(step)
		if got := w.read(narrow); got != want {
			t.Fatalf("after %d more: %d, want %d", step, got, want)
		}
	}
	if want <= 1<<32 {
		t.Fatalf("the counts never passed 2^32 (%d)", want)
	}
}
