package growth

import (
	"math"
	"time"
)

// The day/night bound of the default amplitude over n 5-minute windows,
// n = 1 to a day, precomputed (fake_table.go): the classifier asks for a
// new span every window of a capture's first day, and at about 50 µs a
// computation that was a tenth of its work on a bench capture's windows.
// TestFakeTableIsTheFunction checks every entry against diurnalFake, bit
// for bit.
const (
	fakeTableAmp     = 0.5
	fakeTableWindows = 288
)

var fakeTableHours = (5 * time.Minute).Hours()

// fakeTabled returns the tabled diurnalFake(amp, span) when span is n
// 5-minute windows (exactly float64(n) times their length in hours, as
// the classifier computes it) and amp the default amplitude.
func fakeTabled(amp, span float64) (float64, bool) {
	if amp != fakeTableAmp {
		return 0, false
	}
	n := math.Round(span / fakeTableHours)
	if n < 1 || n > fakeTableWindows || n*fakeTableHours != span {
		return 0, false
	}
	return math.Float64frombits(fakeTable5m[int(n)-1]), true
}
