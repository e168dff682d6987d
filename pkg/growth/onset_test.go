package growth

import (
	"maps"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"
	"time"
)

// TestOnsetOfAnOutbreakOnBackground: 24 h of a steady background of 24 new
// sources an hour, then an outbreak doubling every hour from 2 an hour:
// the first exponential verdict's onset interval holds the truth, which is
// where the excess was one source an hour (onsetRate), one doubling before
// the outbreak's start. (Its estimate is 0.5 to 4.8 doublings early here,
// not within the one the issue asks: traced back from the first alarm, the
// fitted excess's rate and level scatter; measured, not yet met.)
func TestOnsetOfAnOutbreakOnBackground(t *testing.T) {
	const start = 26.0 // hours
	for seed := uint64(1); seed <= 5; seed++ {
		vs := feed(t, DefaultConfig(), 34, seed, func(h float64) float64 {
			if h < start {
				return 24
			}
			return 24 + 2*math.Exp2(h-start)
		})
		truth := t0 + int64((start-1)*float64(time.Hour))
		found := false
		for i, v := range vs {
			if v.Model != Exponential || float64(i)/12 < start {
				continue
			}
			found = true
			if v.Onset == 0 || v.OnsetLow > v.Onset || v.OnsetHigh < v.Onset {
				t.Fatalf("seed %d window %d: onset %d in [%d, %d]", seed, i, v.Onset, v.OnsetLow, v.OnsetHigh)
			}
			t.Logf("seed %d: first alarm at %.2f h: onset %v [%v, %v] from the truth", seed, float64(i)/12-start, time.Duration(v.Onset-truth), time.Duration(v.OnsetLow-truth), time.Duration(v.OnsetHigh-truth))
			if d := time.Duration(v.Onset - truth); d.Abs() > 5*time.Hour {
				t.Errorf("seed %d: onset %v from the truth (doubling 1 h)", seed, d)
			}
			if v.OnsetLow > truth || v.OnsetHigh < truth {
				t.Errorf("seed %d: onset interval %v to %v misses the truth", seed,
					time.Duration(v.OnsetLow-truth), time.Duration(v.OnsetHigh-truth))
			}
			break
		}
		if !found {
			t.Errorf("seed %d: no exponential verdict", seed)
		}
	}
}

// TestSpeculatedOnsetIsTheSame: with a second core the onset scan runs
// beside the step, burst and saturation tests over a copy of the windows
// kept; every verdict must equal the one made with the scan in line, on
// shapes where those tests change the windows kept (a step decided, a
// burst set aside) after the scan began, and on growth that saturates.
func TestSpeculatedOnsetIsTheSame(t *testing.T) {
	if runtime.GOMAXPROCS(0) < 2 {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	}
	shapes := map[string]func(h float64) float64{
		"exponential": func(h float64) float64 { return 20 * math.Exp2(h/8) },
		"outbreak": func(h float64) float64 {
			if h < 22 {
				return 24
			}
			return 24 + 2*math.Exp2(h-22)
		},
		"step then growth": func(h float64) float64 {
			if h < 20 {
				return 24
			}
			return 240 * math.Exp2((h-20)/2)
		},
		"burst in growth": func(h float64) float64 {
			if h > 26 && h < 26.1 {
				return 12000
			}
			return 10 * math.Exp2(h/6)
		},
		"plateau": func(h float64) float64 { return 10 * math.Exp2(math.Min(h, 18)/2) },
	}
	if testing.Short() { // CI's race run: one shape
		shapes = map[string]func(h float64) float64{"outbreak": shapes["outbreak"]}
	}
	used, redone := 0, 0
	wasted := map[string]int{} // scans speculated and never asked for
	for name, rate := range shapes {
		for seed := uint64(1); seed <= 1; seed++ {
			var c *Classifier
			specd := feedWith(t, DefaultConfig(), 28, seed, rate, func(x *Classifier) { c = x })
			used, redone = used+c.specUsed, redone+c.specRedone
			wasted[name] += c.specMade - c.specUsed - c.specRedone
			inline := feedWith(t, DefaultConfig(), 28, seed, rate, func(c *Classifier) { c.serial = true })
			exp := 0
			for i := range specd {
				if specd[i] != inline[i] {
					t.Fatalf("%s seed %d window %d: speculated %+v, in line %+v", name, seed, i, specd[i], inline[i])
				}
				if specd[i].Model == Exponential {
					exp++
				}
			}
			if exp == 0 {
				t.Errorf("%s seed %d: no exponential verdict, so no onset scan was tried", name, seed)
			}
		}
	}
	t.Logf("speculated scans used %d, made again %d, thrown away %v", used, redone, wasted)
	if used == 0 {
		t.Error("no speculated scan was used")
	}
	// Past a plateau's start the horizons still see growth for hours while
	// the saturation test calls it `saturating`: no scan is speculated
	// there, where none would be asked for (115 were thrown away here
	// before the gate on the regime standing).
	if n := wasted["plateau"]; n > 2 {
		t.Errorf("plateau: %d speculated onset scans thrown away", n)
	}

	// A burst set aside (its windows take the level around them) while
	// the scan runs: its answer is not the one for the windows kept now,
	// and the scan is made again.
	var c *Classifier
	feedWith(t, DefaultConfig(), 26, 1, shapes["outbreak"], func(x *Classifier) { c = x })
	before, _ := c.onset()
	s := c.speculateOnset()
	for i := len(c.hist) - 40; i < len(c.hist)-30; i++ {
		c.hist[i].New += 50
	}
	got, _ := s.onset(c)
	want, _ := c.onset()
	if c.specRedone != 1 || got != want || got == before {
		t.Errorf("windows changed under the scan: made again %d times, got %+v, want %+v (before the change %+v)", c.specRedone, got, want, before)
	}
}

// TestOnsetOfAPureExponential: growth from one new source an hour,
// doubling every hour or two, seen from the window of the first new source
// on (as a capture sees it: its first packet, often most of a doubling
// after the regime began). The truth is where the excess was one an hour,
// t0. At the first alarm the onset is dated within one doubling of it in
// 16 and 19 of 20 runs here and its interval holds it in 20 of 20 (with
// the smooth fit, smoothOnset, and Fieller's interval, dated; 18 and 15
// with the delta method's, which is symmetric where the first alarm's fit,
// selected steep, is not; 17 of 20 with the change point fit's). Dated by
// the change point alone, with a level fitted before it from the slow
// first counts and never before the first window, it was within one
// doubling in 14 and 16 runs and its interval held the truth in 0 and 1
// (and in 1 of 30 in the harness, exp-* onset).
func TestOnsetOfAPureExponential(t *testing.T) {
	w := 5 * time.Minute
	for _, d := range []float64{1, 2} {
		within, held, n := 0, 0, 0
		for seed := uint64(1); seed <= 20; seed++ {
			c, err := New(DefaultConfig(), w)
			if err != nil {
				t.Fatal(err)
			}
			r := rand.New(rand.NewPCG(seed, 1))
			begun := false
			for i := 0; i < int(8*d*12); i++ {
				start := t0 + int64(i)*int64(w)
				k := poisson(r, math.Exp2((float64(i)+0.5)/12/d)/12)
				if begun = begun || k > 0; !begun {
					continue
				}
				v := c.Add(Window{Start: start, End: start + int64(w), New: k, Exposure: 1})
				if v.Model != Exponential || v.Confidence < 0.9 {
					continue
				}
				n++
				errD := float64(v.Onset-t0) / float64(time.Hour) / d
				if math.Abs(errD) <= 1 {
					within++
				}
				if v.OnsetLow <= t0 && t0 <= v.OnsetHigh {
					held++
				}
				t.Logf("doubling %gh seed %d: first alarm at %.2f h, onset %+.2f D, interval %+.2f to %+.2f D", d, seed, float64(i+1)/12, errD,
					float64(v.OnsetLow-t0)/float64(time.Hour)/d, float64(v.OnsetHigh-t0)/float64(time.Hour)/d)
				break
			}
		}
		if n < 18 || within < 15 || held < 18 {
			t.Errorf("doubling %gh: %d of 20 runs alarmed, onset within 1 D in %d, interval holding it in %d", d, n, within, held)
		}
	}
}

// TestExcessFitFindsTheMaximumFromAnyStart: the excess's fit (Newton's
// steps where the observed information allows, scoring's elsewhere) never
// fails from a start where it does not fail from the cold one, and its
// likelihood is that of the (a, r) it returns. Where the counts identify
// an excess (it adds more than 1 to the log-likelihood, and doubles no
// faster than every 4 minutes), the fit ends at a maximum (every
// neighbour 10⁻³ away in a and r is less likely), the same from the cold
// start as from a start near it (a neighbouring change point's). Where
// they do not, the likelihood is all but flat (an excess that comes to
// nothing: the iterations crawl, and can stop short of the top by 10⁻⁴),
// and can have a second maximum (a short steep excess) that a start finds
// or not.
func TestExcessFitFindsTheMaximumFromAnyStart(t *testing.T) {
	const hours = 5.0 / 60
	loglik := func(seg []Window, lam, a, r float64) float64 {
		t0 := float64(seg[0].Start+seg[0].End) / 2
		var s float64
		for _, w := range seg {
			e := math.Max(w.Exposure, 1e-6) * hours
			mu := e * (lam + math.Exp(math.Min(a+r*(float64(w.Start+w.End)/2-t0)/3.6e12, 50)))
			s += w.New*math.Log(mu) - mu - logFactorial(w.New)
		}
		return s
	}
	rng := rand.New(rand.NewPCG(3, 3))
	shapes := map[string]func(h float64) float64{
		"outbreak": func(h float64) float64 { return 24 + 2*math.Exp2(h-6) },
		"steady":   func(h float64) float64 { return 24 },
		"step":     func(h float64) float64 { return 24 + 24*float64(min(1, max(0, int(h-5)))) },
		"sparse":   func(h float64) float64 { return 0.5 + 0.2*math.Exp2((h-6)/2) },
	}
	identifiedRuns := 0
	for _, name := range slices.Sorted(maps.Keys(shapes)) {
		rate := shapes[name]
		for run := range 100 {
			ws := make([]Window, 12*(4+run%6))
			for i := range ws {
				s := t0 + int64(i)*int64(5*time.Minute)
				ws[i] = Window{Start: s, End: s + int64(5*time.Minute), New: poisson(rng, rate(6+float64(i)/12)*hours), Exposure: 1}
			}
			lam := rate(0)
			var buf excessBuf
			for _, fixed := range []bool{false, true} {
				ll, r, a, ok := buf.fit(ws, lam, hours, 0.3, fixed, nil)
				if !ok {
					continue
				}
				if d := math.Abs(ll - loglik(ws, lam, a, r)); d > 1e-6 {
					t.Fatalf("%s run %d: the fit's log-likelihood %.9g is not its own (%.3g off)", name, run, ll, d)
				}
				identified := ll-loglik(ws, lam, math.Inf(-1), 0) > 1 && math.Abs(r) < 10
				if identified {
					identifiedRuns++
					for _, da := range []float64{-1e-3, 1e-3} {
						for _, dr := range []float64{-1e-3, 0, 1e-3} {
							if fixed && dr != 0 {
								continue
							}
							if n := loglik(ws, lam, a+da, r+dr); n > ll+1e-7 {
								t.Errorf("%s run %d fixed %v: (a, r) = (%.6g, %.6g) is not a maximum: %.9g beside it > %.9g", name, run, fixed, a, r, n, ll)
							}
						}
					}
				}
				for i, st := range [][2]float64{{a, r}, {a + 0.3, r - 0.1}, {a - 0.3, r + 0.1}, {a - 2, r + 1}, {0, 0}, {-24, 1}} {
					l2, r2, a2, ok2 := buf.fit(ws, lam, hours, 0.3, fixed, &st)
					switch {
					case !ok2:
						t.Errorf("%s run %d fixed %v: from %v the fit fails, from the cold start it does not", name, run, fixed, st)
					case math.Abs(l2-loglik(ws, lam, a2, r2)) > 1e-6:
						t.Errorf("%s run %d fixed %v: from %v the log-likelihood %.9g is not its own", name, run, fixed, st, l2)
					case identified && i < 3 && (math.Abs(l2-ll) > 1e-6 || math.Abs(r2-r) > 1e-3*math.Max(1, math.Abs(r))):
						t.Errorf("%s run %d fixed %v: from %v: %.9g r %.6g, from the cold start %.9g r %.6g", name, run, fixed, st, l2, r2, ll, r)
					}
				}
			}
		}
	}
	if identifiedRuns < 100 {
		t.Errorf("only %d fits identified an excess: the shapes test little", identifiedRuns)
	}
}
