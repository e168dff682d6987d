package growth

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/synscope/synscope/pkg/vlog"
)

// diurnalFakeDef is diurnalFake's definition, computed for every phase
// (the code before it took its slopes by angle addition first).
func diurnalFakeDef(a, spanHours float64) float64 {
	if a <= 0 || spanHours <= 0 {
		return 0
	}
	const omega = 2 * math.Pi / 24
	const points = 96
	best := 0.0
	var ts, ots, ws, lws [points]float64
	for i := range ts {
		ts[i] = spanHours * (float64(i) + 0.5) / points
		ots[i] = omega * ts[i]
	}
	for step := 0; step < 96; step++ {
		phi := 2 * math.Pi * float64(step) / 96
		for i := 0; i < points; i++ {
			ws[i] = 1 + a*math.Sin(ots[i]+phi)
		}
		vlog.Log(lws[:], ws[:])
		var sw, st, sy float64
		for i := 0; i < points; i++ {
			t, w := ts[i], ws[i]
			sw += w
			st += w * t
			sy += w * lws[i]
		}
		tm, ym := st/sw, sy/sw
		var sxy, sxx float64
		for i := 0; i < points; i++ {
			t, w := ts[i], ws[i]
			sxy += w * (t - tm) * (lws[i] - ym)
			sxx += w * (t - tm) * (t - tm)
		}
		best = math.Max(best, sxy/sxx)
	}
	return best
}

// TestDiurnalFakeExact requires diurnalFake's bits to be its
// definition's: at the amplitudes the classifier uses (the configured
// ones and the measured ones, multiples of 0.05), at random ones up to
// the largest allowed, over every span of whole 1 to 10 minute windows up
// to 30 hours, random spans, and tiny and huge ones. Leaving one phase in
// seven out of the exact pass fails it. (The margin itself is not shown
// needed here: over these cases the approximate slopes rank the phases as
// the exact ones do even without it; it guards near ties.)
func TestDiurnalFakeExact(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 5))
	amps := []float64{0.5, 0.8, 0.3, 0.999999, 0.99, 0.989, 1e-9, 0.9, math.Nextafter(1, 0)}
	for k := 1; k < 20; k++ {
		amps = append(amps, math.Ceil(float64(k)*0.05*20)/20)
	}
	for range 20 {
		amps = append(amps, r.Float64())
	}
	var spans []float64
	for _, w := range []float64{1, 2, 5, 10} {
		for n := 1; float64(n)*w <= 30*60; n++ {
			spans = append(spans, float64(n)*w/60)
		}
	}
	spans = append(spans, 1e-9, 1e-3, 0.01, 48, 100, 1e4, 1e7)
	for range 300 {
		spans = append(spans, r.Float64()*40)
	}
	checked := 0
	for j, a := range amps {
		for i, s := range spans {
			if a != 0.5 && a != 0.8 && i%25 != j%25 {
				continue // every span at the configured amplitudes, one in 25 at others
			}
			got, want := diurnalFake(a, s), diurnalFakeDef(a, s)
			if math.Float64bits(got) != math.Float64bits(want) {
				t.Fatalf("diurnalFake(%v, %v) = %v, the definition gives %v", a, s, got, want)
			}
			checked++
		}
	}
	if checked < 5000 {
		t.Fatalf("only %d cases checked", checked)
	}
	t.Logf("%d cases", checked)
}

func BenchmarkDiurnalFake(b *testing.B) {
	for _, f := range []struct {
		name string
		fn   func(a, s float64) float64
	}{{"new", diurnalFake}, {"definition", diurnalFakeDef}} {
		b.Run(f.name, func(b *testing.B) {
			s := 0.0
			for b.Loop() {
				s += 1.0 / 12
				f.fn(0.5, 1+math.Mod(s, 23))
			}
		})
	}
}
