package growth

import (
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
	if err := b.UnmarshalState(st); err != nil {
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
	if other.UnmarshalState(st) == nil || short.UnmarshalState(st[:len(st)-1]) == nil || short.LastEnd() != 0 {
		t.Error("a state of other windows, or one cut short, was taken")
	}
}

// FuzzUnmarshalState: any bytes are refused or taken, never a panic, and a
// taken state classifies the next window without one either.
func FuzzUnmarshalState(f *testing.F) {
	f.Add(fedClassifier(f, 30).MarshalState(nil))
	f.Add(fedClassifier(f, 2).MarshalState(nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, _ := New(DefaultConfig(), 5*time.Minute)
		if c.UnmarshalState(b) != nil {
			return
		}
		end := c.LastEnd()
		c.Resume(end + int64(time.Hour))
		c.Add(Window{Start: end + int64(time.Hour), End: end + int64(time.Hour) + int64(5*time.Minute), New: 3, Exposure: 1})
	})
}
