package growth

import (
	"math"
	"time"
)

// Growth on top of a background. An outbreak that starts on a steady
// background of new sources (scanners that were there all along) is, at
// first, a small excess over that level: a log-linear fit of the whole
// rate sees the level and rates the outbreak slow (doubling 13 to 16 h for
// a true 1 h, measured). So growth is also measured as the growth of the
// excess, in the segmented model of onset.go: a steady level until a change
// point, then that level plus exp(a + r·t). The excess's rate r is tested
// against the exponential bound by a likelihood ratio, both sides
// maximised over the change points, and the change point dates the onset.
//
// The model is fitted only where the counts say something rose (the best
// single step is clearly up), over a day of windows, with a level measured
// for at least excessMinLevel and steady there; the excess's growth must
// clear the bound a day/night cycle can fake over the windows after the
// change point (a cycle's rise from its trough is an excess too), beat a
// burst, and not double faster than excessMinDoubling (a jump).

// excessMinDoubling: an excess that doubles faster is a jump (a step seen
// within a window or two), not growth this model measures; faster
// epidemics are the log-linear fit's.
const excessMinDoubling = 30 * time.Minute

// excessMinLevel is the shortest stretch a level is measured over: long
// enough that the trough of a day/night cycle is not taken for one.
const excessMinLevel = 6 * time.Hour

// excessConfidence is the confidence the excess's growth needs.
// (lower than the log-linear test's: the gates above have already
// excluded the steady, the stepped and the cyclic; measured on steps,
// bursts and day/night, 10 seeds each, without a false alarm).
const excessConfidence = 0.95

// excessDoublings is how many doublings of the excess the windows after
// the change point must hold.
const excessDoublings = 2

// excessGateLR is the likelihood ratio by which the best step up must beat
// a steady rate before the segmented model is fitted (it is dearer than
// the log-linear fits, and nothing rose otherwise).
const excessGateLR = 9

// excess tests the windows kept for an exponentially growing excess over a
// steady level, and returns v unchanged unless it finds one.
func (c *Classifier) excess(v Verdict) Verdict {
	ws := c.hist
	n := len(ws)
	minBefore := int(excessMinLevel / c.window)
	minAfter := c.minGrowthWindows()
	if n < minBefore+minAfter || float64(n)*c.window.Hours() < 24 {
		return v
	}
	p := c.prefix(ws)
	total := p[n].y
	if total < float64(c.cfg.MinEvents) {
		return v
	}
	if !c.risenIn(ws, p) {
		return v
	}
	// The cycle allowed for where a horizon fits a day/night term is the
	// configured amplitude; a day of steady background within the last
	// bgMemory may have measured less. An outbreak's own rise makes the
	// horizon fit a day/night term, and the configured cycle's bound hid
	// outbreaks doubling every 4 h until 3 doublings after they reached 10
	// new sources an hour (measured). So the measured amplitude (the
	// largest of the last week's steady days, rounded up to a twentieth:
	// few amplitudes, memoized) is tried first, asking the confidence the
	// log-linear fits' alarm needs, then the configured one as before.
	if bg, ok := c.bg.at(ws[n-1].End); ok && c.diurnal && !c.noBg {
		if amp := math.Ceil(bg*20) / 20; amp < c.cfg.DiurnalAmplitude {
			if e, ok := c.excessAt(ws, p, total, amp, true); ok {
				return e
			}
		}
	}
	if e, ok := c.excessAt(ws, p, total, c.cfg.DiurnalAmplitude, false); ok {
		return e
	}
	return v
}

// excessAt fits and tests the segmented model with the bound a day/night
// cycle of amplitude amp fakes (where a horizon fits such a term; else
// the plain bound); measured says amp is a steady day's measurement, not
// the configured amplitude (see excess).
func (c *Classifier) excessAt(ws []Window, p []sums, total, amp float64, measured bool) (Verdict, bool) {
	n := len(ws)
	minBefore := int(excessMinLevel / c.window)
	minAfter := c.minGrowthWindows()
	// The bound at a change point: where a horizon fits a day/night
	// cycle, its rise over the windows after the change point fakes growth
	// as it does for the log-linear fit.
	bound := func(k int) float64 {
		if !c.diurnal {
			return c.boundFor(amp, float64(n)*c.window.Hours())
		}
		return c.boundFor(amp, float64(n-k)*c.window.Hours())
	}
	sc, ok := c.scanExcess(ws, minBefore, true, bound)
	if !ok || !(sc.r > bound(sc.k)) || sc.r > math.Ln2/excessMinDoubling.Hours() || n-sc.k < minAfter {
		return Verdict{}, false
	}
	// Growth is claimed only once the excess has doubled excessDoublings
	// times over the windows after the change point: less is a step with
	// noise on it (a step from 2 to 50 new sources a window, fitted an hour
	// after it, rated doubling 1.9 h with 98 % confidence; one from 2 to 20,
	// 0.9 h after it, doubling 1.0 h at 97 %: measured).
	if sc.r*float64(n-sc.k)*c.window.Hours() < excessDoublings*math.Ln2 {
		return Verdict{}, false
	}
	need := excessConfidence
	if measured {
		need = c.alarm
	}
	// The level must be a level: steady before the change point (no step
	// in it), its scatter (dispersion) measured there.
	pre := ws[:sc.k]
	phi := levelDispersion(pre, sc.lam, c.window.Hours())
	if ps := c.bestStep(pre, p[:sc.k+1]); 2*(ps.loglik-seg(p, 0, sc.k))/phi >= excessGateLR {
		return Verdict{}, false
	}
	z := math.Sqrt(math.Max(0, 2*(sc.ll-sc.ll0)/phi))
	conf := normalCDF(z)
	if conf < need {
		return Verdict{}, false
	}
	// A burst explains a short excess that comes back down better.
	ln := math.Log(float64(n))
	bi, bj, bl := bestBurst(ws, p)
	if -2*bl+float64(bj-bi+3)*ln < -2*sc.ll+4*ln {
		return Verdict{}, false
	}
	var expo float64
	for _, w := range ws {
		expo += w.Exposure * c.window.Hours()
	}
	lo, hi := c.excessInterval(ws, &sc, phi)
	steady := seg(p, 0, n)
	return Verdict{Model: Exponential, Confidence: conf, Horizon: c.cfg.Horizons[len(c.cfg.Horizons)-1],
		Windows: n, NewSources: total, SteadyPerHour: total / expo, Dispersion: phi,
		RatePerHour: sc.r, RateLow: lo, RateHigh: hi, Bound: bound(sc.k), DoublingHours: math.Ln2 / sc.r, Z: z,
		LogLikSteady: steady, LogLikMultiply: sc.ll, AICSteady: 2 - 2*steady, AICMultiply: 2*excessParams - 2*sc.ll,
		BackgroundPerHour: sc.lam, Onset: sc.est, OnsetLow: sc.lo, OnsetHigh: sc.hi}, true
}

// excessParams are the segmented model's parameters: the level, the
// change point, the excess's size and its growth rate.
const excessParams = 4

// excessInterval is the interval of the excess's growth rate sc.r at the
// configured confidence (one-sided bounds, widened by the dispersion phi),
// from the Poisson information at the fit over the windows after the
// change point. (The excess's verdicts wrote 0 to 0 around a rate of
// 0.29/h: a review.)
func (c *Classifier) excessInterval(ws []Window, sc *excessScan, phi float64) (lo, hi float64) {
	iaa, iar, irr := excessInfo(ws[sc.k:], sc.lam, c.window.Hours(), sc.a, sc.r)
	det := iaa*irr - iar*iar
	if !(det > 0) || !(iaa > 0) {
		return math.Inf(-1), math.Inf(1) // (written as the widest the output takes)
	}
	se := math.Sqrt(iaa / det * math.Max(phi, 1))
	zc := normalQuantile(c.cfg.Confidence)
	return sc.r - zc*se, sc.r + zc*se
}

// risen says whether the windows kept hold a clear step up: the best
// single step is up and beats one rate by excessGateLR.
func (c *Classifier) risen() bool { return c.risenIn(c.hist, c.prefix(c.hist)) }

func (c *Classifier) risenIn(ws []Window, p []sums) bool {
	st := c.bestStep(ws, p)
	return st.after > st.before && 2*(st.loglik-seg(p, 0, len(ws)))/math.Max(1, c.dispersion) >= excessGateLR
}

// bgMemory is how long a steady day's measured cycle bounds the excess
// test's after the last measurement: long enough for an outbreak to be
// found, short enough that a new season's cycle is not judged by an old
// one.
const bgMemory = 24 * time.Hour

// bgDays is how many days of measurements the bound is the largest of: a
// week, so that a weekday's cycle is still allowed for on the Monday after
// a quiet weekend.
const bgDays = 7

// bgMemo keeps the largest measured amplitude bound of each of the last
// bgDays days (by the day number of the window's end).
type bgMemo struct {
	day  [bgDays]int64
	max  [bgDays]float64
	set  [bgDays]bool
	last int64 // when the latest was measured
	any  bool
}

func (m *bgMemo) note(amp float64, at int64) {
	d := dayOf(at)
	i := int(((d % bgDays) + bgDays) % bgDays)
	if !m.set[i] || m.day[i] != d {
		m.day[i], m.max[i], m.set[i] = d, amp, true
	} else {
		m.max[i] = math.Max(m.max[i], amp)
	}
	m.last, m.any = at, true
}

// at returns the largest bound of the bgDays days up to now, if the latest
// was measured within bgMemory before now (a clock that went back, or a
// measurement too old, leaves none).
func (m *bgMemo) at(now int64) (float64, bool) {
	if age := now - m.last; !m.any || age < 0 || age > int64(bgMemory) {
		return 0, false
	}
	d := dayOf(now)
	amp := 0.0
	for i := range m.day {
		if m.set[i] && m.day[i] <= d && m.day[i] > d-bgDays {
			amp = math.Max(amp, m.max[i])
		}
	}
	return amp, true
}

func dayOf(t int64) int64 {
	d := t / int64(24*time.Hour)
	if t < 0 && t%int64(24*time.Hour) != 0 {
		d--
	}
	return d
}

// boundFor is the exponential bound on a span of the given hours when no
// day/night term is fitted (as in fitWindows), for a cycle of amplitude
// amp.
func (c *Classifier) boundFor(amp, span float64) float64 {
	rMin := math.Ln2 / c.cfg.MinDoubling.Hours()
	if c.cfg.Diurnal != "auto" || span >= 24 {
		return rMin
	}
	return math.Max(rMin, diurnalMargin*c.diurnalFake(amp, span))
}

type fakeKey struct{ amp, span float64 }

// diurnalFake is diurnalFake tabled for the default amplitude and
// 5-minute windows (fakeTabled), else memoized by amplitude and span (a
// handful recur every window).
func (c *Classifier) diurnalFake(amp, span float64) float64 {
	if fake, ok := fakeTabled(amp, span); ok {
		return fake
	}
	k := fakeKey{amp, span}
	c.fakeMu.Lock()
	defer c.fakeMu.Unlock()
	fake, ok := c.fake[k]
	if !ok {
		if c.fake == nil || len(c.fake) > 4096 {
			c.fake = map[fakeKey]float64{}
		}
		fake = diurnalFake(amp, span)
		c.fake[k] = fake
	}
	return fake
}

// levelDispersion is the Pearson dispersion of windows at one rate lam
// per hour, over blocks holding minBlockMean expected events (as in
// glm.go): at least 1, and 1 unless the scatter is clear.
func levelDispersion(ws []Window, lam, hours float64) float64 {
	var x2, by, bm float64
	blocks := 0
	for _, w := range ws {
		by += w.New
		bm += lam * math.Max(w.Exposure, 1e-6) * hours
		if bm >= minBlockMean {
			x2 += (by - bm) * (by - bm) / bm
			blocks++
			by, bm = 0, 0
		}
	}
	if blocks < 2 || x2 <= chi2Q95(blocks-1) {
		return 1
	}
	return x2 / float64(blocks-1)
}

// overLevel says whether the segmented model sc explains the windows kept
// better (BIC: the level and the change point are charged) than one
// exponential through them all: a pure exponential is measured as it is,
// an outbreak on a background as its excess.
func (c *Classifier) overLevel(sc *excessScan) bool {
	ws := c.hist
	n := len(ws)
	y, off := make([]float64, n), make([]float64, n)
	d := design{n: n, p: 2, y: y, off: off, x: make([][maxParams]float64, n)}
	hours := c.window.Hours()
	for i, w := range ws {
		y[i] = w.New
		off[i] = math.Log(math.Max(w.Exposure, 1e-6) * hours)
		d.x[i] = [maxParams]float64{1, float64(w.Start-ws[0].Start) / 3.6e12}
	}
	f, err := d.fit()
	if err != nil {
		return true
	}
	return 2*(sc.ll-f.loglik) > 2*math.Log(float64(n))
}
