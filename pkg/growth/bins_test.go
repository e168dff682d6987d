package growth

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

func TestBinsOf(t *testing.T) {
	def := DefaultConfig() // horizons 6 h and 24 h, MinWindows 6
	short := def
	short.Horizons = []time.Duration{10 * time.Minute, 24 * time.Hour}
	short.MinWindows = 3
	for _, c := range []struct {
		cfg    Config
		window time.Duration
		want   int
	}{
		{def, 5 * time.Minute, 1}, // the settings' own windows: nothing merged
		{def, time.Hour, 1},
		{def, 10 * time.Minute, 1},
		{def, 4 * time.Minute, 2}, // 360 a day
		{def, time.Minute, 5},
		{def, 10 * time.Second, 30},
		{def, time.Second, 300},
		{short, time.Minute, 3}, // the 10-minute horizon keeps 3 bins
		{short, time.Second, 200},
	} {
		if got := binsOf(c.cfg, c.window); got != c.want {
			t.Errorf("horizons %v, window %v: %d windows a bin, want %d", c.cfg.Horizons, c.window, got, c.want)
		}
	}
}

func TestBinningAdd(t *testing.T) {
	const w = int64(time.Minute)
	b := binning{merge: 5}
	bin := 5 * time.Minute
	at := func(i int64) Window { return Window{Start: t0 + i*w, End: t0 + (i+1)*w, New: float64(i), Exposure: 1} }
	// windows 0..4 fill the first bin, 5 opens the second
	for i := range int64(5) {
		got, refill := b.add(at(i), bin)
		wantNew := float64(i * (i + 1) / 2)
		if refill != (i > 0) || got.Start != t0 || got.End != t0+(i+1)*w || got.New != wantNew ||
			math.Abs(got.Exposure-float64(i+1)/5) > 1e-12 {
			t.Fatalf("window %d: %+v refill %v; want start %d, end %d, new %v, exposure %v, refill %v",
				i, got, refill, t0, t0+(i+1)*w, wantNew, float64(i+1)/5, i > 0)
		}
	}
	got, refill := b.add(at(5), bin)
	if refill || got.Start != t0+5*w || got.New != 5 || got.Exposure != 0.2 {
		t.Fatalf("window 5: %+v refill %v: want a new bin at %d", got, refill, t0+5*w)
	}
	// a window skipped (a gap): the bin's exposure is what its windows covered
	b.add(at(7), bin)
	if got, _ = b.add(at(9), bin); got.Exposure != 0.6 || got.New != 5+7+9 {
		t.Fatalf("bin with a gap: %+v", got)
	}
	// a clock that went back joins the bin filling, and never over a whole one
	for range 6 {
		got, refill = b.add(at(1), bin)
	}
	if !refill || got.Start != t0+5*w || got.Exposure != 1 {
		t.Fatalf("window from the past: %+v refill %v", got, refill)
	}
	// a window long after opens the bin it falls in, counted from the first
	if got, refill = b.add(at(103), bin); refill || got.Start != t0+100*w || got.End != t0+104*w {
		t.Fatalf("window 103: %+v refill %v", got, refill)
	}
}

// feedWindow is feed with windows of length w (new sources per hour at
// hour h given by rate).
func feedWindow(t *testing.T, cfg Config, w time.Duration, hours float64, seed uint64, rate func(h float64) float64) ([]Verdict, *Classifier) {
	t.Helper()
	c, err := New(cfg, w)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(seed, 1))
	per := w.Hours()
	var out []Verdict
	for i := range int(hours / per) {
		start := t0 + int64(i)*int64(w)
		out = append(out, c.Add(Window{Start: start, End: start + int64(w), New: poisson(r, rate((float64(i)+0.5)*per)*per), Exposure: 1}))
	}
	return out, c
}

// With short windows the classifier fits at most maxBins bins over its
// longest horizon, and calls what it calls at five-minute windows: a steady
// rate linear, an epidemic exponential with its doubling time, a step
// never exponential.
func TestShortWindowsAreBinned(t *testing.T) {
	cfg := DefaultConfig()
	for _, w := range []time.Duration{time.Minute, 2 * time.Minute} {
		steady, c := feedWindow(t, cfg, w, 26, 1, func(float64) float64 { return 24 })
		if want := time.Duration(binsOf(cfg, w)) * w; c.window != want || want <= w {
			t.Errorf("window %v: bins of %v, want %v", w, c.window, want)
		}
		last := steady[len(steady)-1]
		if last.Model != Linear || last.Windows > maxBins || math.Abs(last.SteadyPerHour-24) > 3 {
			t.Errorf("window %v, steady 24/h after 26 h: %+v (windows fitted at most %d)", w, last, maxBins)
		}
		for i, v := range steady {
			if v.Model == Exponential {
				t.Fatalf("window %v, steady: window %d exponential %+v", w, i, v)
			}
		}
		grow, _ := feedWindow(t, cfg, w, 14, 2, func(h float64) float64 { return 4 * math.Exp2(h/2) })
		first := -1
		for i, v := range grow {
			if v.Model == Exponential && first < 0 {
				first = i
			}
		}
		if first < 0 {
			t.Fatalf("window %v: growth doubling every 2 h never called exponential", w)
		}
		end := grow[len(grow)-1]
		if end.Model != Exponential || math.Abs(end.DoublingHours-2)/2 > 0.15 {
			t.Errorf("window %v: after 14 h of doubling every 2 h: %+v", w, end)
		}
		step, _ := feedWindow(t, cfg, w, 30, 3, func(h float64) float64 {
			if h < 25 {
				return 24
			}
			return 240
		})
		for i, v := range step {
			if v.Model == Exponential {
				t.Fatalf("window %v, step 24 -> 240/h at 25 h: window %d (%.2f h) exponential %+v", w, i, float64(i)*w.Hours(), v)
			}
		}
	}
}
