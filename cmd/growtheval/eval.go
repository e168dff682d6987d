package main

import (
	"fmt"
	"io"
	"math"
	"time"

	"github.com/synscope/synscope/internal/scenario"
	"github.com/synscope/synscope/pkg/capture"
	"github.com/synscope/synscope/pkg/decode"
	"github.com/synscope/synscope/pkg/engine"
	"github.com/synscope/synscope/pkg/growth"
	"github.com/synscope/synscope/pkg/pipeline"
	"github.com/synscope/synscope/pkg/ports"
)

// Verdict classes, in table order.
const (
	clsInsufficient = iota
	clsLinear
	clsExponential
	clsDeclining
	numClasses
)

var classNames = [numClasses]string{growth.Insufficient, growth.Linear, growth.Exponential, growth.Declining}

func classOf(model string) int {
	for i, n := range classNames {
		if n == model {
			return i
		}
	}
	return clsInsufficient
}

// detectConfidence is the confidence an exponential verdict needs to count
// as a detection.
const detectConfidence = 0.9

// window is one closed window as the harness saw it.
type window struct {
	rec engine.WindowRecord
	v   growth.Verdict
}

// collector is the engine's Emitter: every closed window, with the
// verdict the engine's classifier gave after it, is kept.
type collector struct {
	wins      []window
	expAlerts int
	alertTs   int64 // the first exponential alert's time (0: none)
}

func (c *collector) Source(*engine.SourceRecord) {}
func (c *collector) Window(*engine.WindowRecord) {}

// Alert counts the exponential alerts of the run.
func (c *collector) Alert(a *engine.AlertRecord) {
	if a.Kind == engine.AlertExponential {
		c.expAlerts++
		if c.alertTs == 0 {
			c.alertTs = a.Ts
		}
	}
}

func (c *collector) Growth(r *engine.WindowRecord, v *growth.Verdict) {
	c.wins = append(c.wins, window{rec: *r, v: *v})
}

// feeder is the scenario's PacketWriter: each frame goes through the
// sensor's own packet step, as pipeline.Run takes it from a capture.
type feeder struct {
	eng *engine.Engine
	dec decode.Decoder
	syn decode.Syn
}

func (f *feeder) WritePacket(ts int64, data []byte, origLen int) error {
	pipeline.Step(f.eng, &f.dec, &f.syn, capture.LinkEthernet, data, ts, origLen)
	return nil
}

// streak is a run of consecutive exponential windows.
type streak struct {
	n        int
	from, to float64 // hours since the first packet: start of the first, end of the last window
	first    growth.Verdict
}

// runResult summarises one (scenario, seed) run.
type runResult struct {
	seed int64
	err  error

	windows   int // windows closed
	expAlerts int // alert records of kind exponential
	mismatch  int // windows whose new-source count differs from the truth's
	// Flood SYNs written (each from a new spoofed source) and new sources
	// the engine set apart as flood sources.
	floodTruth, floodEngine int64

	// Confusion: verdict counts over the evaluated windows. For logistic
	// runs, evalB holds the windows after the peak (eval: rising, >= 10/h).
	evalN, evalBN int
	eval, evalB   [numClasses]int

	// False alarms (non-exponential scenarios).
	postN, postExp int
	postStreak     streak    // longest exponential streak after warm-up
	postExpHours   []float64 // starts of the post-warm-up exponential windows, hours since the first packet
	allN, allExp   int
	warmExpHours   []float64 // starts of the warm-up exponential windows
	allStreak      streak

	// Detection (exponential and logistic scenarios), hours since Start.
	t10, detect float64 // detect: +Inf when never
	delay       float64 // (detect - t10) / D; +Inf when never
	alertTs     int64   // the first exponential alert (ns; 0: none)
	alertDelay  float64 // (its time - t10) / D; +Inf when none
	// lastExpAfterPeak: logistic and plateau runs: hours from the peak
	// (the plateau's start) to the end of the last window called
	// exponential (NaN: none after it).
	lastExpAfterPeak float64
	// At the first detection: the relative doubling-time error, and two
	// doubling times later (NaN: not exponential then); the onset's error
	// in doubling times (NaN: no onset given) and whether its interval
	// holds the truth.
	dblFirst, dblLater float64
	onsetErr           float64
	onsetHeld          bool
	// the first alarm's end and window length (hours since Start), and the
	// chance that an unbiased date from the data up to it is within one
	// doubling time of the truth (onsetBound; NaN: not computed)
	alarmAt, alarmWin float64
	onsetBest         float64
	// Outbreak runs: the windows before the outbreak starts (false alarms).
	preN, preExp int
	preStreak    streak
	// atDeadline is the latest verdict available at t10 + targetDelay (the last
	// window ending by then); oneLate: detected in the window after it.
	atDeadline  growth.Verdict
	hasDeadline bool
	oneLate     bool

	// Standing down (steady scenarios): hours from the first packet to the
	// end of the first linear window (+Inf: never), and how the windows
	// after it were called.
	firstLinear         float64
	afterN, afterLinear int
	dblErr              []float64 // (DoublingHours - D) / D of exponential windows
	cappedFrom          float64   // hours since Start at which MaxSources cut infections (+Inf: never)
}

// runSpec is one job.
type runSpec struct {
	sc   *scen
	seed int64
}

// evalRun generates the scenario and runs it through decoder, engine and
// classifier; trace, when not nil, receives a line per window.
func evalRun(sp runSpec, o *options, trace io.Writer) runResult {
	res := runResult{seed: sp.seed, detect: math.Inf(1), delay: math.Inf(1), alertDelay: math.Inf(1), firstLinear: math.Inf(1),
		cappedFrom: math.Inf(1), lastExpAfterPeak: math.NaN(), dblFirst: math.NaN(), dblLater: math.NaN(), onsetErr: math.NaN(), onsetBest: math.NaN()}
	sc := sp.sc
	cfg := sc.config(o.quick)
	cfg.Name, cfg.Seed = sc.name, sp.seed
	cfg.Duration = sc.full
	if o.quick {
		cfg.Duration = sc.quick
	}
	cfg = cfg.Normalize()

	ecfg := engine.DefaultConfig()
	ecfg.Window, ecfg.Lookback = cfg.Window, cfg.Lookback
	gcfg := o.growth
	ecfg.Growth = &gcfg
	col := &collector{wins: make([]window, 0, int(cfg.Duration/cfg.Window)+2)}
	eng, err := engine.New(ecfg, col)
	if err != nil {
		res.err = fmt.Errorf("%s: engine: %w", sc.name, err)
		return res
	}
	watched, err := ports.Parse("445")
	if err != nil {
		res.err = err
		return res
	}
	f := &feeder{eng: eng, dec: decode.Decoder{Ports: watched}}
	truth, err := scenario.Generate(cfg, f)
	if err != nil {
		res.err = fmt.Errorf("%s seed %d: generate: %w", sc.name, sp.seed, err)
		return res
	}
	eng.Finish()
	res.expAlerts, res.alertTs = col.expAlerts, col.alertTs
	res.summarise(sc, cfg, truth, col.wins, eng.Counters().FirstPacket, trace)
	return res
}

func hoursOf(ns int64) float64 { return float64(ns) / float64(time.Hour) }

// summarise reduces the windows of one run to its metrics.
func (res *runResult) summarise(sc *scen, cfg scenario.Config, truth *scenario.Truth, wins []window, first int64, trace io.Writer) {
	res.windows = len(wins)
	if len(wins) == 0 {
		res.err = fmt.Errorf("%s seed %d: no windows", sc.name, res.seed)
		return
	}
	start := cfg.Start.UnixNano()
	facts := make(map[int64]*scenario.WindowFact, len(truth.Windows))
	for i := range truth.Windows {
		facts[truth.Windows[i].StartNS] = &truth.Windows[i]
	}
	if len(truth.Windows) != len(wins) {
		res.err = fmt.Errorf("%s seed %d: the engine closed %d windows, the truth has %d", sc.name, res.seed, len(wins), len(truth.Windows))
		return
	}
	fact := make([]*scenario.WindowFact, len(wins))
	for i := range wins {
		ft := facts[wins[i].rec.Start]
		if ft == nil {
			res.err = fmt.Errorf("%s seed %d: engine window %s has no truth", sc.name, res.seed,
				time.Unix(0, wins[i].rec.Start).UTC().Format(time.RFC3339))
			return
		}
		fact[i] = ft
		if uint64(ft.NewSources) != wins[i].rec.NewSources {
			res.mismatch++
		}
		res.floodTruth += ft.FloodPackets
		res.floodEngine += int64(wins[i].rec.FloodSources)
	}
	// Windows past the MaxSources cap are not the model any more.
	usable := len(wins)
	for i, ft := range fact {
		if cfg.MaxSources > 0 && ft.Infected >= int64(cfg.Population+cfg.MaxSources) {
			usable = i
			res.cappedFrom = hoursOf(wins[i].rec.Start - start)
			break
		}
	}

	if trace != nil {
		writeTrace(trace, sc, res.seed, wins, fact, first)
	}

	switch sc.kind {
	case kindFlat, kindSteady:
		res.falseAlarms(wins, first)
		if sc.kind == kindSteady {
			res.standingDown(wins, first)
		}
	case kindExp:
		d := cfg.Doubling.Hours()
		res.t10 = 0
		if cfg.Rate0 < 10 {
			res.t10 = d * math.Log2(10/cfg.Rate0)
		}
		// The onset is dated where the excess was one source an hour: the
		// start, unless the growth began below that (then when it got there).
		onset, rate0 := 0.0, cfg.Rate0
		if cfg.Rate0 < 1 {
			onset, rate0 = d*math.Log2(1/cfg.Rate0), 1
		}
		res.growthPhase(wins[:usable], start, d, math.Inf(1), onset)
		res.boundOnset(d, onset, rate0, 0)
	case kindLogistic, kindPlateau:
		res.t10, res.evalB, res.evalBN, res.lastExpAfterPeak = logisticPhases(wins, fact, start)
		peak := peakHours(fact, start)
		res.growthPhase(wins[:usable], start, cfg.Doubling.Hours(), peak, 0)
	case kindOutbreak:
		d, at := cfg.OutbreakDoubling.Hours(), cfg.OutbreakAt.Hours()
		res.t10 = at + d*math.Log2(10/cfg.OutbreakRate)
		var cur streak
		k := 0
		for ; k < usable && hoursOf(wins[k].rec.End-start) <= at; k++ {
			exp := wins[k].v.Model == growth.Exponential
			res.preN++
			if exp {
				res.preExp++
			}
			extend(&cur, &res.preStreak, wins[k], exp, first)
		}
		res.growthPhase(wins[k:usable], start, d, math.Inf(1), at)
		res.boundOnset(d, at, cfg.OutbreakRate, cfg.Rate0)
	}
}

// falseAlarms counts the post-warm-up verdicts (the confusion row) and the
// exponential ones, with their longest streaks.
func (res *runResult) falseAlarms(wins []window, first int64) {
	var post, all streak
	for _, w := range wins {
		c := classOf(w.v.Model)
		res.allN++
		if c == clsExponential {
			res.allExp++
			if w.rec.Warmup {
				res.warmExpHours = append(res.warmExpHours, hoursOf(w.rec.Start-first))
			}
		}
		extend(&all, &res.allStreak, w, c == clsExponential, first)
		if w.rec.Warmup {
			continue
		}
		res.postN++
		res.evalN++
		res.eval[c]++
		if c == clsExponential {
			res.postExp++
			res.postExpHours = append(res.postExpHours, hoursOf(w.rec.Start-first))
		}
		extend(&post, &res.postStreak, w, c == clsExponential, first)
	}
}

// extend grows the current streak cur with w (or ends it) and keeps the
// longest in best.
func extend(cur, best *streak, w window, exp bool, first int64) {
	if !exp {
		cur.n = 0
		return
	}
	if cur.n == 0 {
		cur.from, cur.first = hoursOf(w.rec.Start-first), w.v
	}
	cur.n++
	cur.to = hoursOf(w.rec.End - first)
	if cur.n > best.n {
		*best = *cur
	}
}

func (res *runResult) standingDown(wins []window, first int64) {
	found := false
	for _, w := range wins {
		lin := w.v.Model == growth.Linear
		if found {
			res.afterN++
			if lin {
				res.afterLinear++
			}
			continue
		}
		if lin {
			found = true
			res.firstLinear = hoursOf(w.rec.End - first)
		}
	}
}

// growthPhase scores an exponential phase: the confusion row over the
// windows starting at or after t10 (and ending by endHours, hours since
// Start), the first confident exponential verdict with its doubling time
// and onset (the true onset at onsetHours), the doubling time two doubling
// times later, and the doubling-time errors of every exponential verdict
// before endHours.
func (res *runResult) growthPhase(wins []window, start int64, d, endHours, onsetHours float64) {
	deadline := res.t10 + targetDelay(d)*d
	if res.alertTs != 0 {
		res.alertDelay = (hoursOf(res.alertTs-start) - res.t10) / d
	}
	later := math.Inf(1)
	for _, w := range wins {
		ws, we := hoursOf(w.rec.Start-start), hoursOf(w.rec.End-start)
		if we >= later && math.IsNaN(res.dblLater) && we <= later+d/2 && w.v.Model == growth.Exponential {
			res.dblLater = (w.v.DoublingHours - d) / d
		}
		c := classOf(w.v.Model)
		if ws >= res.t10 && we <= endHours {
			res.evalN++
			res.eval[c]++
		}
		if c == clsExponential && we <= endHours {
			res.dblErr = append(res.dblErr, (w.v.DoublingHours-d)/d)
		}
		if c == clsExponential && w.v.Confidence >= detectConfidence && math.IsInf(res.detect, 1) {
			res.detect = we
			res.delay = (we - res.t10) / d
			res.dblFirst = (w.v.DoublingHours - d) / d
			res.alarmAt, res.alarmWin = we, hoursOf(w.rec.End-w.rec.Start)
			later = we + 2*d
			if w.v.Onset != 0 {
				res.onsetErr = (hoursOf(w.v.Onset-start) - onsetHours) / d
				lo, hi := hoursOf(w.v.OnsetLow-start), hoursOf(w.v.OnsetHigh-start)+hoursOf(w.rec.End-w.rec.Start)
				res.onsetHeld = lo <= onsetHours && onsetHours <= hi
			}
		}
		if we <= deadline {
			res.hasDeadline, res.atDeadline = true, w.v
		} else if res.detect == we && we-hoursOf(w.rec.End-w.rec.Start) < deadline {
			res.oneLate = true
		}
	}
}

// targetDelay is the detection target, in doubling times d (hours).
func targetDelay(d float64) float64 {
	if d < 1 {
		return 3
	}
	return 2
}

// logisticPhases finds t10 (hours since Start, interpolated on log rate
// between window midpoints) and counts the verdicts after the peak.
func logisticPhases(wins []window, fact []*scenario.WindowFact, start int64) (t10 float64, after [numClasses]int, n int, lastExp float64) {
	t10, lastExp = math.Inf(1), math.NaN()
	mid := func(i int) float64 {
		return hoursOf(fact[i].StartNS-start) + hoursOf(wins[i].rec.End-wins[i].rec.Start)/2
	}
	for i, ft := range fact {
		if ft.ExpectedRate >= 10 {
			t10 = mid(i)
			if j := i - 1; j >= 0 && fact[j].ExpectedRate > 0 {
				a, b := math.Log(fact[j].ExpectedRate), math.Log(ft.ExpectedRate)
				t10 = mid(j) + (math.Log(10)-a)/(b-a)*(mid(i)-mid(j))
			}
			break
		}
	}
	peak := peakHours(fact, start)
	for _, w := range wins {
		if hoursOf(w.rec.Start-start) >= peak {
			n++
			after[classOf(w.v.Model)]++
		}
		if hoursOf(w.rec.End-start) > peak && w.v.Model == growth.Exponential {
			lastExp = hoursOf(w.rec.End-start) - peak
		}
	}
	return t10, after, n, lastExp
}

// peakHours is the start of the window with the highest expected rate.
func peakHours(fact []*scenario.WindowFact, start int64) float64 {
	best := 0
	for i, ft := range fact {
		if ft.ExpectedRate > fact[best].ExpectedRate {
			best = i
		}
	}
	return hoursOf(fact[best].StartNS - start)
}

func writeTrace(w io.Writer, sc *scen, seed int64, wins []window, fact []*scenario.WindowFact, first int64) {
	fmt.Fprintf(w, "# %s seed %d: hours since first packet\n", sc.name, seed)
	fmt.Fprintf(w, "%7s %5s %5s %9s %1s %-17s %5s %4s %8s %8s %8s %7s %s\n",
		"h", "new", "flood", "expect/h", "W", "verdict", "conf", "hzn", "rate/h", "bound", "dbl h", "z", "reason")
	for i, x := range wins {
		v := x.v
		warm := " "
		if x.rec.Warmup {
			warm = "w"
		}
		fmt.Fprintf(w, "%7.2f %5d %5d %9.2f %1s %-17s %5.3f %4s %8.4f %8.4f %8.2f %7.2f %s\n",
			hoursOf(x.rec.End-first), x.rec.NewSources, x.rec.FloodSources, fact[i].ExpectedRate, warm,
			v.Model, v.Confidence, shortDur(v.Horizon), v.RatePerHour, v.Bound, v.DoublingHours, v.Z, v.Reason)
	}
}

// boundOnset sets onsetBest for a run with a first alarm: an excess
// growing with doubling time d that was rate0 an hour at onset (hours
// since Start), on a level bg an hour.
func (res *runResult) boundOnset(d, onset, rate0, bg float64) {
	if math.IsInf(res.detect, 1) || res.alarmWin <= 0 {
		return
	}
	res.onsetBest = onsetBound(d, onset, rate0, bg, math.Max(0, res.alarmAt-24), res.alarmAt, res.alarmWin)
}

// onsetBound is the chance that a date of the regime made from the
// windows of length win from from to to (hours) is within one doubling
// time d of the truth, when it is unbiased with the least variance any
// unbiased estimate can have (Cramér–Rao: the inverse of the Poisson
// information of the model the classifier fits, a level b plus an excess
// exp(a + r·t), b fitted too when there is one, dated where the excess is
// one an hour) and normal. The truth is where the excess was one an hour;
// the excess is rate0 an hour at onset and doubles every d. It is a
// yardstick, not a limit for every method: a biased date (one that
// assumes the regime began with the data, say) can do better on
// scenarios that fit its assumption and worse elsewhere.
func onsetBound(d, onset, rate0, bg, from, to, win float64) float64 {
	r := math.Ln2 / d
	tp := onset + d*math.Log2(1/rate0) // the excess is 1/h at tp
	var ibb, iba, ibr, iaa, iar, irr float64
	for t := from; t+win <= to+1e-9; t += win {
		mid := t + win/2
		g := win * math.Exp(r*(mid-tp))
		mu := win*bg + g
		x := mid - tp
		ibb += win * win / mu
		iba += win * g / mu
		ibr += win * g * x / mu
		iaa += g * g / mu
		iar += g * g * x / mu
		irr += g * g * x * x / mu
	}
	var va float64
	if bg > 0 {
		// the (a, a) element of the inverse of the 3×3 information
		det := ibb*(iaa*irr-iar*iar) - iba*(iba*irr-iar*ibr) + ibr*(iba*iar-iaa*ibr)
		va = (ibb*irr - ibr*ibr) / det
	} else {
		va = irr / (iaa*irr - iar*iar)
	}
	if !(va > 0) {
		return math.NaN()
	}
	// date = tp - (a - log 1)/r; at the truth ∂date/∂r = 0.
	sd := math.Sqrt(va) / r
	return math.Erf(d / (sd * math.Sqrt2))
}
