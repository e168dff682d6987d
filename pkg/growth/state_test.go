package growth

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// fedClassifier is a classifier after hours of an epidemic doubling every
// 3 hours.
func fedClassifier(t testing.TB, hours int) *Classifier {
	c, err := New(DefaultConfig(), 5*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(2, 2))
	w := int64(5 * time.Minute)
	for i := range hours * 12 {
		start := t0 + int64(i)*w
		c.Add(Window{Start: start, End: start + w, New: poisson(r, (2+math.Exp2(float64(i)/36))/12), Exposure: 1, Warmup: i < 288})
	}
	return c
}

// TestStateRoundTrip: a classifier restored from its state gives the
// verdicts the one it was saved from gives, window after window; a state
// of other windows, or cut short, is refused and changes nothing.
func TestStateRoundTrip(t *testing.T) {
	a := fedClassifier(t, 30)
	b, _ := New(DefaultConfig(), 5*time.Minute)
	st := a.MarshalState(nil)
	clock := a.LastEnd()
	if err := b.UnmarshalState(st, clock); err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(3, 3))
	w := int64(5 * time.Minute)
	for i := range 24 {
		start := t0 + int64(30*12+i)*w
		win := Window{Start: start, End: start + w, New: poisson(r, 60), Exposure: 1}
		va, vb := a.Add(win), b.Add(win)
		if va.Model != vb.Model || va.RatePerHour != vb.RatePerHour || va.RegimeSince != vb.RegimeSince || va.Onset != vb.Onset {
			t.Fatalf("window %d: restored %s %g since %d, saved %s %g since %d", i, vb.Model, vb.RatePerHour, vb.RegimeSince, va.Model, va.RatePerHour, va.RegimeSince)
		}
	}
	other, _ := New(DefaultConfig(), 10*time.Minute)
	short, _ := New(DefaultConfig(), 5*time.Minute)
	if other.UnmarshalState(st, clock) == nil || short.UnmarshalState(st[:len(st)-1], clock) == nil || short.LastEnd() != 0 {
		t.Error("a state of other windows, or one cut short, was taken")
	}
	// Windows that do not lie before the saved clock, as a crafted file's
	// may (one in the year -292 million made Resume fill gigabytes): refused.
	for _, c := range []int64{clock - 5*int64(24*time.Hour), clock + 4*int64(24*time.Hour), math.MinInt64, math.MaxInt64} {
		if short.UnmarshalState(st, c) == nil {
			t.Errorf("windows far from the clock %d taken", c)
		}
	}
}

// TestResumeKeepsTheWindowsContiguous: a classifier that held its most
// windows (3 days of 5 minutes: they swing between two and three times
// what it keeps) and was down two hours goes on with the two hours filled:
// the fill stopped at the most it holds, and a "24 h" horizon spanned 25.
func TestResumeKeepsTheWindowsContiguous(t *testing.T) {
	a := fedClassifier(t, 71)
	st, clock := a.MarshalState(nil), a.LastEnd()
	c, _ := New(DefaultConfig(), 5*time.Minute)
	if err := c.UnmarshalState(st, clock); err != nil {
		t.Fatal(err)
	}
	start := clock + 2*int64(time.Hour)
	c.Resume(start)
	for i := 1; i < len(c.long); i++ {
		if c.long[i].Start != c.long[i-1].End {
			t.Fatalf("windows %d and %d: a hole from %d to %d", i-1, i, c.long[i-1].End, c.long[i].Start)
		}
	}
	if end := c.LastEnd(); end != start {
		t.Errorf("the last window held ends %v before the next", time.Duration(start-end))
	}
}

// TestResumeBounds: a restored classifier goes on only when the next window
// follows the saved ones: the window they ended in (its rest is added), or
// one after a stretch no longer than the longest horizon (the time between
// counts as windows nobody watched, at most as many as it keeps). A window
// before the saved ones (the same capture read again) starts afresh: every
// window of it was folded into the last saved one, the verdicts frozen.
func TestResumeBounds(t *testing.T) {
	a := fedClassifier(t, 30)
	st, clock := a.MarshalState(nil), a.LastEnd()
	w := int64(5 * time.Minute)
	for _, tt := range []struct {
		start   int64
		windows int // held after Resume; -1: as saved
	}{
		{clock - w, -1},                  // the last window again
		{clock, -1},                      // the next
		{clock + 2*int64(time.Hour), -2}, // two hours down: 24 more
		{clock - 10*w, 0},                // from before the last window
		{clock + 25*int64(time.Hour), 0}, // down longer than the day
	} {
		c, _ := New(DefaultConfig(), 5*time.Minute)
		if err := c.UnmarshalState(st, clock); err != nil {
			t.Fatal(err)
		}
		n := len(c.long)
		c.Resume(tt.start)
		want := map[int]int{-1: n, -2: n + 24, 0: 0}[tt.windows]
		if len(c.long) != want {
			t.Errorf("resume at %+d windows from the clock: %d windows held, want %d", (tt.start-clock)/w, len(c.long), want)
		}
		c.Add(Window{Start: tt.start, End: tt.start + w, New: 3, Exposure: 1})
		if tt.windows == -1 && tt.start == clock-w && len(c.long) != n {
			t.Errorf("the last window again was not one with it: %d windows", len(c.long))
		}
	}
}

// TestStateRefusesACraftedBin: with merged bins (one-minute windows), a
// state whose bin in progress lies after its clock, or holds negative or
// impossible sums, or whose regime is dated after the clock, is refused
// (a bin a year ahead took in every later window, verdicts
// insufficient_data for good; sums of -1e12 were written as garbage: a
// review). The state as saved is taken.
func TestStateRefusesACraftedBin(t *testing.T) {
	c, _ := New(DefaultConfig(), time.Minute)
	if c.Merge() < 2 {
		t.Fatalf("one-minute windows not merged (%d)", c.Merge())
	}
	r := rand.New(rand.NewPCG(4, 4))
	w := int64(time.Minute)
	for i := range 10*60 + 2 { // ends inside a bin
		start := t0 + int64(i)*w
		c.Add(Window{Start: start, End: start + w, New: poisson(r, 2), Exposure: 1})
	}
	st, clock := c.MarshalState(nil), c.LastEnd()
	le := binary.LittleEndian
	if st[8] != 1 {
		t.Fatal("no bin in progress saved")
	}
	fresh := func() *Classifier { n, _ := New(DefaultConfig(), time.Minute); return n }
	if err := fresh().UnmarshalState(st, clock); err != nil {
		t.Fatalf("the state as saved: %v", err)
	}
	// Windows from before the bin joined it (a clock that went back):
	// exposure summed past its windows, a state the classifier writes.
	over := append([]byte(nil), st...)
	le.PutUint64(over[33:], math.Float64bits(8))
	if err := fresh().UnmarshalState(over, clock); err != nil {
		t.Errorf("a bin whose windows' exposures sum past it: %v", err)
	}
	// After the window length (8) and the open flag (1): origin, index,
	// new sources and exposure of the bin (8 each); then two models and
	// the regime's date.
	for name, edit := range map[string]func(b []byte){
		"origin a year ahead":  func(b []byte) { le.PutUint64(b[9:], uint64(clock+int64(365*24*time.Hour))) },
		"index far ahead":      func(b []byte) { le.PutUint64(b[17:], 1<<62) },
		"index negative":       func(b []byte) { le.PutUint64(b[17:], uint64(1<<64-1)) },
		"negative new sources": func(b []byte) { le.PutUint64(b[25:], math.Float64bits(-1e12)) },
		"exposure negative":    func(b []byte) { le.PutUint64(b[33:], math.Float64bits(-1)) },
		"regime after the clock": func(b []byte) {
			le.PutUint64(b[43:], uint64(clock+int64(24*time.Hour)))
		},
	} {
		b := append([]byte(nil), st...)
		edit(b)
		if fresh().UnmarshalState(b, clock) == nil {
			t.Errorf("%s: taken", name)
		}
	}
}

// FuzzUnmarshalState: any bytes are refused or taken, never a panic, and a
// taken state classifies the next window without one either.
func FuzzUnmarshalState(f *testing.F) {
	for _, h := range []int{30, 2} {
		c := fedClassifier(f, h)
		f.Add(c.MarshalState(nil), c.LastEnd(), c.LastEnd()+int64(time.Hour), false)
	}
	// One-minute windows, merged into bins: a bin in progress is saved.
	m, _ := New(DefaultConfig(), time.Minute)
	for i := range 10*60 + 2 {
		start := t0 + int64(i)*int64(time.Minute)
		m.Add(Window{Start: start, End: start + int64(time.Minute), New: float64(i % 3), Exposure: 1})
	}
	f.Add(m.MarshalState(nil), m.LastEnd(), m.LastEnd()+int64(time.Minute), true)
	f.Fuzz(func(t *testing.T, b []byte, clock, start int64, minute bool) {
		window := 5 * time.Minute
		if minute {
			window = time.Minute
		}
		c, _ := New(DefaultConfig(), window)
		if c.UnmarshalState(b, clock) != nil {
			return
		}
		start = start%(1<<62) - start%int64(window) // a window's start, as the engine gives
		c.Resume(start)
		if len(c.long) > 3*c.kept() {
			t.Fatalf("%d windows held", len(c.long))
		}
		for i := range 3 {
			at := start + int64(i)*int64(window)
			v := c.Add(Window{Start: at, End: at + int64(window), New: 3, Exposure: 1})
			// The bin the window went into holds it.
			if v.NewSources < 0 || v.RegimeSince > at+int64(window) {
				t.Fatalf("window %d: %.3g new sources, regime since %d after %d", i, v.NewSources, v.RegimeSince, at+int64(window))
			}
		}
	})
}
