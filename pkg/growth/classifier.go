package growth

import (
	"errors"
	"fmt"
	"math"
	"runtime"
	"sync"
	"time"

	"gonum.org/v1/gonum/stat/distuv"
)

// Models a verdict can name.
const (
	Insufficient = "insufficient_data"
	Linear       = "linear"
	Exponential  = "exponential"
	Declining    = "declining"
	Step         = "step"       // the rate jumped to a new level (change.go)
	Saturating   = "saturating" // growth stopped or turned down (saturate.go)
)

// Config sets the classifier. Use DefaultConfig and change what you need.
type Config struct {
	// Horizons are the spans of recent windows fitted, shortest first. A
	// short horizon reacts fast to new growth; the longest one decides
	// "linear" and "declining".
	Horizons []time.Duration
	// Confidence is the one-sided confidence a test needs to name a model;
	// LinearConfidence the one "linear" needs (both of its one-sided tests:
	// standing down is cheap to get wrong, an alarm is not).
	Confidence       float64
	LinearConfidence float64
	// MinDoubling is the bound between linear and exponential: growth
	// slower than doubling once per MinDoubling is not called exponential.
	MinDoubling time.Duration
	// MinWindows and MinEvents: fewer windows or new sources in a horizon
	// give insufficient_data.
	MinWindows int
	MinEvents  int
	// Diurnal: "auto" fits a 24-hour harmonic once a horizon spans 24 h and,
	// before that, raises the exponential bound to the fastest growth a
	// day/night cycle of DiurnalAmplitude can fake over the horizon; "on"
	// always fits it (needs 24 h of data); "off" never.
	Diurnal          string
	DiurnalAmplitude float64
	// CycleAmplitude is the strongest day/night cycle an exponential
	// verdict of a horizon without a day/night term must beat (cycle.go);
	// 0 turns that test off.
	CycleAmplitude float64
}

// DefaultConfig is the documented default.
func DefaultConfig() Config {
	return Config{
		Horizons:         []time.Duration{6 * time.Hour, 24 * time.Hour},
		Confidence:       0.98,
		LinearConfidence: 0.9,
		MinDoubling:      24 * time.Hour,
		MinWindows:       6,
		MinEvents:        10,
		Diurnal:          "auto",
		DiurnalAmplitude: 0.5,
		CycleAmplitude:   0.8,
	}
}

// Validate refuses settings that cannot work, naming the setting.
func (c Config) Validate(window time.Duration) error {
	if len(c.Horizons) == 0 {
		return errors.New("growth-horizons: give at least one horizon")
	}
	for i, h := range c.Horizons {
		if h < 3*window {
			return fmt.Errorf("growth-horizons: %v is shorter than three windows (%v)", h, 3*window)
		}
		if h > 90*24*time.Hour {
			return fmt.Errorf("growth-horizons: %v is longer than 90 days", h)
		}
		if i > 0 && h <= c.Horizons[i-1] {
			return fmt.Errorf("growth-horizons: list them shortest first, without repeats")
		}
	}
	switch {
	case !(c.Confidence >= 0.5 && c.Confidence < 1):
		return fmt.Errorf("growth-confidence: %v is not in [0.5, 1)", c.Confidence)
	case !(c.LinearConfidence >= 0.5 && c.LinearConfidence < 1):
		return fmt.Errorf("growth-linear-confidence: %v is not in [0.5, 1)", c.LinearConfidence)
	case c.MinDoubling <= 0:
		return errors.New("growth-min-doubling: must be positive")
	case c.MinWindows < 3:
		return fmt.Errorf("growth-min-windows: %d is below 3", c.MinWindows)
	case c.MinEvents < 1:
		return fmt.Errorf("growth-min-events: %d is below 1", c.MinEvents)
	case c.Diurnal != "auto" && c.Diurnal != "on" && c.Diurnal != "off":
		return fmt.Errorf("growth-diurnal: %q is not auto, on or off", c.Diurnal)
	case !(c.DiurnalAmplitude >= 0 && c.DiurnalAmplitude < 1):
		return fmt.Errorf("growth-diurnal-amplitude: %v is not in [0, 1)", c.DiurnalAmplitude)
	case !(c.CycleAmplitude >= 0 && c.CycleAmplitude < 1):
		return fmt.Errorf("growth-cycle-amplitude: %v is not in [0, 1)", c.CycleAmplitude)
	}
	longest := c.Horizons[len(c.Horizons)-1]
	if m := time.Duration(binsOf(c, window)); int(longest/(m*window)) > maxKeptBins {
		// Bins no longer than the shortest horizon allows leave the
		// longest holding more than the fits can take every window
		// (--window 1s --growth-horizons 5s,24h: 86,400 windows fitted
		// for each, 172 s for an 8-hour capture, a live sensor behind:
		// a review).
		most := time.Duration(max(3, c.MinWindows)) * ((longest + maxKeptBins*window - 1) / (maxKeptBins * window)) * window
		return fmt.Errorf("growth-horizons: the longest (%v) would hold %d bins of %v, more than %d (too costly to fit every window): the shortest (%v) must hold %d bins (--growth-min-windows), so bins cannot be longer; lengthen the shortest horizon to at least %v, or shorten the longest",
			longest, int(longest/(m*window)), m*window, maxKeptBins, c.Horizons[0], max(3, c.MinWindows), most)
	}
	if m := time.Duration(binsOf(c, window)); int(longest/(m*window)) < c.MinWindows {
		// Every verdict would be insufficient_data, and nothing said why.
		return fmt.Errorf("growth-min-windows: %d is more than the longest horizon (%v) holds: %d bins of %v; lower it or lengthen --growth-horizons",
			c.MinWindows, longest, int(longest/(m*window)), m*window)
	}
	return nil
}

// Window is one closed window as the classifier sees it.
type Window struct {
	Start, End int64   // ns since the epoch
	New        float64 // new sources, floods excluded
	Exposure   float64 // fraction of the window the capture covered, (0, 1]
	Warmup     bool
	// Gap: the capture resumed after a gap (longer than the engine's
	// --max-gap) before this window. The windows before it are not its
	// neighbours: the classifier starts again, as at a capture's start.
	Gap bool
}

// Verdict is the classifier's answer after one window, with its evidence.
type Verdict struct {
	Model      string
	Confidence float64 // of the named model; 0 for insufficient_data
	Reason     string  // why insufficient_data (empty otherwise)

	Horizon    time.Duration // the horizon the verdict comes from
	Windows    int           // windows fitted
	NewSources float64       // new sources in them
	Diurnal    bool          // a 24-hour harmonic was fitted

	RatePerHour   float64 // fitted growth rate r of new-source arrivals, per hour
	RateLow       float64 // r's interval at the configured confidence (one-sided bounds)
	RateHigh      float64
	Bound         float64 // the exponential bound r_min in force (raised for day/night before 24 h)
	DoublingHours float64 // ln 2 / r, when r > 0
	SteadyPerHour float64 // mean new sources per hour over the horizon

	LogLikSteady   float64 // Poisson log-likelihood, steady model
	LogLikMultiply float64 // and multiplying model
	AICSteady      float64
	AICMultiply    float64
	Z              float64 // (r - r_min) / SE: the exponential test statistic
	Dispersion     float64 // Pearson dispersion (1 = Poisson)

	RegimeChanged bool  // the decisive model differs from the previous decisive one
	RegimeSince   int64 // start of the window since which the current decisive model holds (0: none yet)
	// With a saturating verdict: when growth stopped (the hinge of a
	// broken-stick fit) and the rate per hour after it (log scale).
	StoppedAt        int64
	RateAfterPerHour float64
	// With a step verdict: when the rate jumped, and its level before and
	// after (new sources per hour).
	StepAt                         int64
	LevelBeforePerHour, LevelAfter float64
	// With an exponential verdict: the most likely start of the regime
	// (a change point from a steady level, onset.go) and its interval;
	// 0 otherwise, or when it cannot be fitted.
	Onset, OnsetLow, OnsetHigh int64
	// With an exponential verdict measured as the growth of an excess
	// over a steady level (excess.go): that level, new sources per hour;
	// the rate and doubling time are then the excess's.
	BackgroundPerHour float64
	Warmup            bool // the newest window is in warm-up

	// cycleUpper: for a horizon spanning a day, the upper bound of its
	// day/night cycle's amplitude (cycle.go); -1 when not measured.
	cycleUpper float64
	// dispDF: the degrees of freedom of Dispersion (0: not estimated), for
	// the cycle test over the windows kept (cycleOverKept).
	dispDF int
	// cycleHeld: the growth rate cleared the bound but a day/night cycle
	// explains the counts as well (the cycle test, cycle.go).
	cycleHeld bool
}

// Classifier keeps the recent windows and the regime.
type Classifier struct {
	cfg Config
	// window is the length of the windows the classifier fits: the
	// capture's own, or several of them merged into one bin (see bins).
	window time.Duration
	bin    binning
	hist   []Window // oldest first, at most the longest horizon: the newest of long
	// long holds the windows kept and up to as many again before them,
	// for the extended horizon (a burst set aside in hist is set aside in
	// long: they share their windows).
	long []Window
	// regime is the latest firm verdict (not insufficient_data), which
	// the step and saturation tests read; decisive the latest linear,
	// exponential or declining one, since when it holds (the records'
	// regime).
	regime   string
	decisive string
	since    int64
	fake     map[fakeKey]float64 // diurnalFake by amplitude and span: a handful recur every window
	fakeMu   sync.Mutex          // horizons fitted side by side share fake
	// From the latest decide: whether a horizon fitted a day/night term,
	// and the longest decisive horizon's dispersion.
	diurnal    bool
	dispersion float64
	// cycleAmp: the upper bound of the day/night amplitude the longest
	// horizon measured at the last window, -1 before it spans a day (the
	// cycle test, cycle.go).
	cycleAmp float64
	cyclic   bool // and it fitted a day/night term
	// held: at the last decide, the verdict of the longest horizon whose
	// growth the cycle test held back (cycleHeld), else the zero Verdict;
	// a burst in it is still set aside (challenge).
	held Verdict
	// bg: the upper bounds of the day/night amplitude the longest horizon
	// measured when it spanned a day, was called linear and held no clear
	// step up (a steady background: an outbreak still called linear would
	// raise the measured amplitude with its rise), the largest of each day
	// for the last bgDays days, and when the latest was measured. The
	// excess test (excess.go) bounds the cycle it allows for with it.
	bg      bgMemo
	alarm   float64 // the confidence the latest decide's alarm needed
	noCycle bool    // tests: no cycle test, to measure what it costs
	// tests: the saturation test's hinges by the general fit (glm.go), not
	// hingeFits (hinge.go)
	generalHinges bool
	noBg          bool // tests: no measured background cycle in the excess test
	noExtended    bool // tests: no extended horizon
	noKept        bool // tests: no cycle test over the windows kept (cycleOverKept)
	serial        bool // tests: no second goroutine (horizons in turn, the onset scan in line)
	// speculated onset scans: started, their answer used, and made again
	// because the windows kept changed (tests read them; a scan neither
	// used nor made again was thrown away)
	specMade, specUsed, specRedone int
}

// New builds a classifier for windows of the given length.
func New(cfg Config, window time.Duration) (*Classifier, error) {
	if err := cfg.Validate(window); err != nil {
		return nil, err
	}
	m := binsOf(cfg, window)
	return &Classifier{cfg: cfg, window: time.Duration(m) * window, bin: binning{merge: m}, cycleAmp: -1}, nil
}

// Add takes the next closed window and returns the verdict after it.
func (c *Classifier) Add(w Window) Verdict {
	if w.Gap {
		c.forget()
	}
	keep := c.kept()
	native := w
	if c.bin.merge > 1 {
		var refill bool
		if w, refill = c.bin.add(w, c.window); refill && len(c.long) > 0 && c.long[len(c.long)-1].Start == w.Start {
			c.long = c.long[:len(c.long)-1] // the bin filling, filled further
		}
	}
	if n := len(c.long); n > 0 && c.bin.merge == 1 && w.Start == c.long[n-1].Start {
		// The window a restored state ended in, again after the restart
		// (a run never writes a window twice): its two parts are one.
		last := c.long[n-1]
		w = Window{Start: last.Start, End: max(last.End, w.End), New: last.New + w.New,
			Exposure: min(1, last.Exposure+w.Exposure), Warmup: w.Warmup}
		c.long = c.long[:n-1]
	}
	c.long = append(c.long, w)
	if len(c.long) > 3*keep {
		c.long = append(c.long[:0], c.long[len(c.long)-2*keep:]...)
	}
	c.hist = c.long[max(0, len(c.long)-keep):]
	v := c.decide()
	// With a second core, the onset scan of an exponential verdict (about
	// a third of the classifier's work on a growing capture) runs beside
	// the tests that may still change the verdict (speculateOnset), when
	// the regime standing is exponential: the horizons still see the growth
	// of a plateau or a step for hours after the tests have called it
	// `saturating` or `step`, and each scan speculated there is thrown away
	// (on a logistic epidemic, 7 % of the whole run's CPU, taken from the
	// reading goroutines of the split loop).
	var spec *onsetSpec
	if v.Model == Exponential && c.regime == Exponential && c.parallel() {
		spec = c.speculateOnset()
		c.specMade++
	}
	v = c.challenge(v, true)
	v = c.saturation(v)
	if v.Model != Exponential && v.Model != Saturating {
		v = c.excess(v)
	}
	v.Warmup = native.Warmup
	if v.Model == Exponential && v.NewSources < minGrowthEvents {
		// Decided after the tests that may change the windows kept (a
		// step's), so that those evolve as they would without the floor.
		z := v.Z
		v = withheld(v, fmt.Sprintf("the growth rate %.3g/h clears the bound, but on %.0f new sources in the horizon, fewer than the %d growth is called on", v.RatePerHour, v.NewSources, minGrowthEvents))
		v.Z = z
	}
	if v.Model == Declining && native.Warmup {
		// Early in a capture, hosts active before it began are discovered
		// as new; their discovery thins out and looks like decline.
		v = withheld(v, "warm-up: new sources still include hosts active before the capture began, which looks like decline")
	}
	c.noteRegime(&v, native.Start)
	if v.Model == Exponential && v.Onset == 0 {
		if sc, ok := spec.onset(c); ok {
			v.Onset, v.OnsetLow, v.OnsetHigh = sc.est, sc.lo, sc.hi
			if sc.lam > 0 && c.overLevel(&sc) {
				// Over a level that explains the windows kept better
				// than one exponential, growth is the growth of the
				// excess over it (excess.go).
				v.RatePerHour, v.DoublingHours, v.BackgroundPerHour = sc.r, math.Ln2/sc.r, sc.lam
				v.RateLow, v.RateHigh = c.excessInterval(c.hist, &sc, v.Dispersion) // (the fit's were another rate's)
			}
		}
	}
	return v
}

// forget starts the classifier again after a gap in the capture: fits
// over windows kept by count took the windows on both sides of it for
// neighbours (a first packet stamped 0 kept a 1970 window in the day's
// horizon for a day of the capture: numerical trouble in the fits, the
// epidemic's alert five hours late). Every field but the settings, the
// tests' switches and the cache of fake growth is the data's.
func (c *Classifier) forget() {
	c.bin = binning{merge: c.bin.merge}
	c.hist, c.long = nil, nil
	c.regime, c.decisive, c.since = "", "", 0
	c.diurnal, c.dispersion = false, 0
	c.cycleAmp, c.cyclic = -1, false
	c.bg, c.alarm = bgMemo{}, 0
}

// noteRegime keeps the regimes after verdict v of the window starting at
// start and says in v since when the decisive one holds. Only a decisive
// model starts a regime in the records: a step or a saturation (a window
// of it amid growth) moved regime_since to its own window, the epidemic's
// start lost.
func (c *Classifier) noteRegime(v *Verdict, start int64) {
	if v.Model != Insufficient {
		c.regime = v.Model
	}
	if (v.Model == Linear || v.Model == Exponential || v.Model == Declining) && v.Model != c.decisive {
		v.RegimeChanged = c.decisive != ""
		c.decisive, c.since = v.Model, start
	}
	v.RegimeSince = c.since
}

// withheld is v's measurements under an insufficient_data verdict, for
// the reason given.
func withheld(v Verdict, reason string) Verdict {
	return Verdict{Model: Insufficient, Reason: reason, Horizon: v.Horizon, Windows: v.Windows, NewSources: v.NewSources,
		RatePerHour: v.RatePerHour, RateLow: v.RateLow, RateHigh: v.RateHigh, Bound: v.Bound, SteadyPerHour: v.SteadyPerHour,
		Dispersion: v.Dispersion, Warmup: v.Warmup}
}

// kept is how many windows the longest horizon holds (the windows kept).
func (c *Classifier) kept() int { return int(c.cfg.Horizons[len(c.cfg.Horizons)-1] / c.window) }

// parallel says whether the classifier may use a second goroutine: with
// a second core, unless a test asks it not to.
func (c *Classifier) parallel() bool { return !c.serial && runtime.GOMAXPROCS(0) > 1 }

// decide fits every horizon: exponential if any horizon shows it (the
// confidence split between them), else the longest decisive horizon.
func (c *Classifier) decide() Verdict {
	// Every horizon may raise the exponential alarm, so its confidence is
	// split between the horizons that see different data (Bonferroni; early
	// on, when there is less data than the shorter horizon, they fit the
	// same windows and count once). Linear and declining are decided by one
	// horizon at a time at the configured confidence.
	k := len(c.cfg.Horizons)
	distinct := 0
	for i := range c.cfg.Horizons {
		if i == 0 || int(c.cfg.Horizons[i-1]/c.window) < len(c.hist) {
			distinct++
		}
	}
	alarm := 1 - (1-c.cfg.Confidence)/float64(distinct)
	c.alarm = alarm
	verdicts := make([]Verdict, k)
	c.diurnal, c.dispersion = false, 1
	// The horizons' fits are independent (they read the windows kept and
	// share only the memo of diurnalFake, under its lock): with a second
	// core the shorter ones run beside the longest.
	if k > 1 && c.parallel() {
		done := make(chan struct{})
		go func() {
			defer close(done)
			for i, h := range c.cfg.Horizons[:k-1] {
				verdicts[i] = c.fitHorizon(h, alarm, c.cfg.Confidence)
			}
		}()
		verdicts[k-1] = c.fitHorizon(c.cfg.Horizons[k-1], alarm, c.cfg.Confidence)
		<-done
	} else {
		for i, h := range c.cfg.Horizons {
			verdicts[i] = c.fitHorizon(h, alarm, c.cfg.Confidence)
		}
	}
	for i := range verdicts {
		c.diurnal = c.diurnal || verdicts[i].Diurnal
		if verdicts[i].Dispersion > 0 {
			c.dispersion = verdicts[i].Dispersion
		}
	}
	c.cycleAmp, c.cyclic = verdicts[k-1].cycleUpper, verdicts[k-1].Diurnal
	c.held = Verdict{}
	for i := k - 1; i >= 0; i-- {
		if verdicts[i].cycleHeld {
			c.held = verdicts[i]
			break
		}
	}
	held := c.cycleOverKept(verdicts)
	// A steady background's cycle, remembered (see bg; an upper bound at
	// the cycle test's cap bounds nothing).
	if v := &verdicts[k-1]; v.Model == Linear && v.cycleUpper >= 0 && v.cycleUpper < c.cfg.CycleAmplitude && !c.risen() {
		c.bg.note(v.cycleUpper, c.hist[len(c.hist)-1].End)
	}
	// A shorter horizon that holds its full span and says growth has
	// stopped (linear or declining) overrules a longer one that still
	// remembers it: the verdict follows a plateau without waiting a day.
	var best *Verdict
	for i := range verdicts {
		v := &verdicts[i]
		if v.Model != Exponential {
			continue
		}
		vetoed := false
		for j := 0; j < i; j++ {
			s := &verdicts[j]
			if (s.Model == Linear || s.Model == Declining) && s.Windows >= int(c.cfg.Horizons[j]/c.window) {
				vetoed = true
			}
		}
		if !vetoed && (best == nil || v.Confidence > best.Confidence) {
			best = v
		}
	}
	if best != nil {
		return *best
	}
	if verdicts[k-1].Model == Insufficient {
		if v, ok := c.extended(alarm); ok {
			return v
		}
	}
	for i := k - 1; i >= 0; i-- { // the longest decisive horizon
		if verdicts[i].Model != Insufficient {
			return verdicts[i]
		}
	}
	if held >= 0 {
		// say why the growth a shorter horizon saw is not called
		return verdicts[held]
	}
	return verdicts[k-1]
}

// extended tests the windows of twice the longest horizon, when there
// are more than the longest holds, for linear or declining only: the
// interval of a rate narrows with the span to the power 1.5, and a
// day/night cycle or bursty counts can keep a day's interval from
// clearing the bound (a ±50 % negative binomial cycle at 5 new sources a
// window was called linear within 30 h in fewer than half the runs). It
// never raises an alarm: the horizons do, on recent windows, and the
// excess test on the windows kept.
func (c *Classifier) extended(alarm float64) (Verdict, bool) {
	keep := c.kept()
	if len(c.long) <= keep || c.noExtended {
		return Verdict{}, false
	}
	ws := c.long[max(0, len(c.long)-2*keep):]
	v := c.fitWindows(ws, 2*c.cfg.Horizons[len(c.cfg.Horizons)-1], alarm, c.cfg.Confidence)
	if v.Model != Linear && v.Model != Declining {
		return v, false
	}
	// One rate over two days dilutes growth that began within the last
	// one, before it is clear of the bound on the day's horizon (an
	// outbreak doubling every 2 h on 24 new sources an hour was called
	// linear here, at 99.99 %, two hours after its own arrivals reached
	// 10 an hour). So the latest windows (the shortest horizon's span)
	// must not have risen over the same hours a day before them, where a
	// day/night cycle stands at the same phase.
	if z := c.riseOverYesterday(ws, math.Max(1, v.Dispersion)); z > normalQuantile(c.cfg.Confidence) {
		return v, false
	}
	if v.Model == Declining && ws[0].Warmup {
		// The first lookback's discovery of hosts active before the
		// capture began thins out and looks like decline (see Add): the
		// horizons let go of it after a day, this one holds it a day
		// longer, so its decline is taken only once it is past.
		return v, false
	}
	return v, true
}

// riseOverYesterday is the z statistic of the new sources of the latest
// windows (the shortest horizon's span, at most what ws holds beyond a
// day) against those of the same hours a day before: given their sum,
// the latest share is binomial in their exposures' proportions when the
// rate is the same, its variance scaled by the dispersion. 0 when there is
// nothing to compare.
func (c *Classifier) riseOverYesterday(ws []Window, dispersion float64) float64 {
	day := int(24 * time.Hour / c.window)
	if day < 1 {
		return 0
	}
	span := min(int(c.cfg.Horizons[0]/c.window), len(ws)-day)
	if span < 1 {
		return 0
	}
	var now, then, eNow, eThen float64
	for i := len(ws) - span; i < len(ws); i++ {
		now, eNow = now+ws[i].New, eNow+math.Max(ws[i].Exposure, 1e-6)
		then, eThen = then+ws[i-day].New, eThen+math.Max(ws[i-day].Exposure, 1e-6)
	}
	n := now + then
	if n == 0 {
		return 0
	}
	p := eNow / (eNow + eThen)
	return (now - n*p) / math.Sqrt(dispersion*n*p*(1-p))
}

// keepNewest forgets every window but the newest n, in long too.
func (c *Classifier) keepNewest(n int) {
	c.long = c.long[len(c.long)-n:]
	c.hist = c.long
}

func (c *Classifier) fitHorizon(h time.Duration, alarm, conf float64) Verdict {
	n := min(len(c.hist), int(h/c.window))
	return c.fitWindows(c.hist[len(c.hist)-n:], h, alarm, conf)
}

// minGrowthSpan is the least time a horizon's windows must span for it to
// call growth exponential. Over a capture's first minutes a burst and an
// epidemic look the same, and too few windows are there to measure the
// counts' scatter: a negative-binomial background of 10 new sources a
// window, counting 5, 5, 5, 7, 10, 20 in its first six windows, was called
// exponential (doubling 11 min, confidence 1.000) for three windows and
// raised an alert (harness, bursty-0.5). The excess test asks as much of
// the windows after its change point, and a step's new regime is tested
// for growth once it spans as much (minGrowthWindows); no epidemic of the
// harness reaches 10 new sources an hour sooner, and any is called from
// the capture's second hour on.
const minGrowthSpan = time.Hour

// minGrowthEvents is the fewest new sources the windows behind an
// exponential verdict must hold (MinEvents, when larger, is asked of every
// verdict); with fewer the verdict is insufficient_data (Add). A test of
// growth at the alarm's confidence, asked again every window, is passed by
// chance now and then, and at a handful of sources a chance cluster looks
// like an epidemic: a steady 1.2 new sources an hour counted 8 in 90
// minutes after 2 in the 4.5 hours before, and its 6 h horizon (10
// sources) called that exponential, doubling 0.9 h, at 99.5 % for four
// windows in a row (harness, steady-0.1, 2 of 200 runs). An epidemic that
// needs calling holds more: those the harness must detect (from 1 an hour,
// doubling 30 min to 4 h) have brought 55 or more by the time they must be
// called, and 20 at least 40 minutes before that.
const minGrowthEvents = 20

// minGrowthWindows is how many windows span minGrowthSpan, and at least
// MinWindows: the fewest after a change point that growth is measured on.
func (c *Classifier) minGrowthWindows() int {
	return max(c.cfg.MinWindows, int(minGrowthSpan/c.window))
}

// windowCounts is what the fits read of windows ws: their counts, log
// exposures (hours, at least 1e-6 of a window) and the cosine and sine of
// the time of day at their middles (the day/night term's and the cycle
// test's columns).
func windowCounts(ws []Window, hours float64) (y, off, cosv, sinv []float64) {
	n := len(ws)
	y, off, cosv, sinv = make([]float64, n), make([]float64, n), make([]float64, n), make([]float64, n)
	const omega = 2 * math.Pi / 24
	for i, w := range ws {
		y[i] = w.New
		off[i] = math.Log(math.Max(w.Exposure, 1e-6) * hours)
		abs := float64(w.Start+w.End) / 2 / 3.6e12
		cosv[i], sinv[i] = math.Cos(omega*abs), math.Sin(omega*abs)
	}
	return y, off, cosv, sinv
}

// fitWindows tests the windows ws (the newest of a horizon h, or of a
// regime) for growth.
func (c *Classifier) fitWindows(ws []Window, h time.Duration, alarm, conf float64) Verdict {
	n := len(ws)
	v := Verdict{Model: Insufficient, Horizon: h, Windows: n, cycleUpper: -1}
	hours := c.window.Hours()
	var expoHours float64
	for _, w := range ws {
		v.NewSources += w.New
		expoHours += w.Exposure * hours
	}
	if expoHours > 0 {
		// Over at least one window: a capture's first SYN a millisecond
		// before its window's end is no rate of 3,600 an hour.
		v.SteadyPerHour = v.NewSources / max(expoHours, hours)
	}
	if n < c.cfg.MinWindows {
		v.Reason = fmt.Sprintf("%d windows in the horizon, fewer than %d", n, c.cfg.MinWindows)
		return v
	}
	if v.NewSources < float64(c.cfg.MinEvents) {
		v.Reason = fmt.Sprintf("%.0f new sources in the horizon, fewer than %d", v.NewSources, c.cfg.MinEvents)
		return v
	}
	span := float64(n) * hours
	if c.cfg.Diurnal == "on" && span < 24 {
		v.Reason = "growth-diurnal on: a day/night term needs 24 h of windows"
		return v
	}
	rMin := math.Ln2 / c.cfg.MinDoubling.Hours()

	// Times in hours from the horizon's middle, for a well-conditioned fit;
	// the harmonic uses absolute time so its phase is the time of day.
	mid := float64(ws[0].Start+ws[n-1].End) / 2
	y, off, cosv, sinv := windowCounts(ws, hours)
	tc := make([]float64, n)
	for i, w := range ws {
		tc[i] = (float64(w.Start+w.End)/2 - mid) / 3.6e12
	}
	build := func(diurnal, trend bool) design {
		d := design{n: n, y: y, off: off, x: make([][maxParams]float64, n)}
		for i := range d.x {
			row := [maxParams]float64{1}
			p := 1
			if diurnal {
				row[1], row[2] = cosv[i], sinv[i]
				p = 3
			}
			if trend {
				row[p] = tc[i]
				p++
			}
			d.x[i], d.p = row, p
		}
		return d
	}
	// A day/night term is fitted when forced, or (auto) when the horizon
	// spans a day and the term improves the steady fit significantly: it
	// costs precision on r, so it is paid only where a cycle is present.
	// The steady fits of a day are kept: the steady model below is one of
	// them, fitted once.
	var f0 fit
	var err0 error
	fitted := false
	switch c.cfg.Diurnal {
	case "on":
		v.Diurnal = true
	case "auto":
		if span >= 24 {
			plain, withDay := build(false, false), build(true, false)
			fp, e1 := plain.fit()
			fd, e2 := withDay.fit()
			f0, err0, fitted = fp, e1, true
			if e1 == nil && e2 == nil {
				lr := 2 * (fd.loglik - fp.loglik) / fp.dispersion
				v.Diurnal = lr > diurnalLR
				if v.Diurnal {
					f0, err0 = fd, e2
				}
				if c.cfg.CycleAmplitude > 0 {
					v.cycleUpper = cycleAmpUpper(y, off, cosv, sinv, c.cfg.CycleAmplitude, math.Max(fd.dispersion, 1))
				}
			}
		}
	}
	v.Bound = rMin
	if c.cfg.Diurnal == "auto" && !v.Diurnal {
		// Less than a day cannot tell a rising day/night cycle from
		// growth: only growth faster than such a cycle can fake counts.
		v.Bound = math.Max(rMin, diurnalMargin*c.diurnalFake(c.cfg.DiurnalAmplitude, span))
	}
	steady, multiply := build(v.Diurnal, false), build(v.Diurnal, true)
	if !fitted {
		f0, err0 = steady.fit()
	}
	// The trend starts from the steady fit, its rate at 0 (fitFrom).
	var start *[maxParams]float64
	if err0 == nil {
		s := f0.beta
		start = &s
	}
	f1, err1 := multiply.fitFrom(start)
	if err := errors.Join(err0, err1); err != nil {
		if errors.Is(err, errSingular) || errors.Is(err, errNotConverged) {
			v.Reason = "the counts cannot be fitted (a single burst?): " + firstErr(err1, err0).Error()
		} else {
			v.Reason = firstErr(err1, err0).Error()
		}
		return v
	}
	ri := multiply.p - 1
	r := f1.beta[ri]
	se := math.Sqrt(f1.cov[ri][ri] * f1.dispersion)
	if !(se > 0) || math.IsNaN(r) || math.IsInf(r, 0) || math.IsInf(se, 0) {
		v.Reason = "the growth rate cannot be estimated from these counts"
		return v
	}
	zc := normalQuantile(conf)
	v.RatePerHour, v.RateLow, v.RateHigh = r, r-zc*se, r+zc*se
	v.Dispersion = f1.dispersion
	v.dispDF = f1.dispDF
	v.LogLikSteady, v.LogLikMultiply = f0.loglik, f1.loglik
	v.AICSteady, v.AICMultiply = 2*float64(steady.p)-2*f0.loglik, 2*float64(multiply.p)-2*f1.loglik
	if r > 0 {
		v.DoublingHours = math.Ln2 / r
	}
	// Each test is a signed-root likelihood ratio against the rate fixed
	// at the bound (profile likelihood), scaled by the dispersion: better
	// behaved than the Wald statistic for the few, skewed counts of the
	// first hours of an outbreak.
	// One design serves every bound: the steady fit's columns and counts
	// (read only), its own offsets, refilled for each.
	bd := design{n: n, p: steady.p, y: y, off: make([]float64, n), x: steady.x, ylogy: steady.ylogy, lfact: steady.lfact}
	zAt := func(b float64) (float64, bool) {
		d := &bd
		for i := range d.off {
			d.off[i] = off[i] + b*tc[i]
		}
		// from the trend's fit without its rate: the same columns
		s := f1.beta
		s[ri] = 0
		fb, err := d.fitFrom(&s)
		if err != nil {
			return 0, false
		}
		z := math.Sqrt(math.Max(0, 2*(f1.loglik-fb.loglik)/f1.dispersion))
		if r < b {
			z = -z
		}
		return z, true
	}
	zUp, ok1 := zAt(v.Bound)
	zHi, ok2 := zUp, true
	if v.Bound != rMin {
		zHi, ok2 = zAt(rMin)
	}
	zLo, ok3 := zAt(-rMin)
	zDown, ok4 := zLo, true
	if v.Bound != rMin {
		// A day/night cycle fakes decline as well as growth.
		zDown, ok4 = zAt(-v.Bound)
	}
	if !ok1 || !ok2 || !ok3 || !ok4 {
		v.Reason = "the likelihood at the bounds cannot be computed"
		return v
	}
	v.Z = zUp
	// With overdispersion the dispersion is estimated, from few blocks
	// early on: Student's t with its degrees of freedom then replaces the
	// normal, so a handful of bursty windows cannot look decisive.
	cdf := normalCDF
	if f1.dispersion > 1 && f1.dispDF > 0 {
		t := distuv.StudentsT{Mu: 0, Sigma: 1, Nu: float64(f1.dispDF)}
		cdf = t.CDF
	}
	up := cdf(zUp)                        // confidence that r > bound
	down := cdf(-zDown)                   // confidence that r < -bound
	flat := math.Min(cdf(-zHi), cdf(zLo)) // confidence that -r_min < r < r_min
	var cycle float64                     // the amplitude of a cycle that explains the counts as well (cycle.go)
	if up >= alarm {
		cycle = c.cycleExplains(&v, f1, y, off, cosv, sinv, alarm, cdf)
	}
	switch {
	case up >= alarm && span < minGrowthSpan.Hours():
		v.Reason = fmt.Sprintf("the growth rate %.3g/h clears the bound, but over %.0f min of windows, less than the %.0f min growth is called on", r, span*60, minGrowthSpan.Minutes())
	case up >= alarm && cycle == 0:
		v.Model, v.Confidence = Exponential, up
	case up >= alarm:
		v.cycleHeld = true
		v.Reason = fmt.Sprintf("the growth rate %.3g/h clears the bound, but a day/night cycle of up to ±%.0f %% explains the counts as well", r, 100*cycle)
	case down >= conf:
		v.Model, v.Confidence = Declining, down
	case flat >= c.cfg.LinearConfidence:
		v.Model, v.Confidence = Linear, flat
	default:
		v.Reason = fmt.Sprintf("the growth rate %.3g/h (interval %.3g to %.3g) is not clear of the bounds: above %.3g/h is exponential, within ±%.3g/h linear", r, v.RateLow, v.RateHigh, v.Bound, rMin)
	}
	return v
}
