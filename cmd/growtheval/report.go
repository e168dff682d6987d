package main

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// group is one scenario's runs, in seed order.
type group struct {
	sc   *scen
	runs []runResult
}

// target is one PASS/FAIL line.
type target struct {
	name, measured, want string
	pass                 bool
}

// Targets of the issue.
const (
	maxFalseAlarm = 0.01 // fraction of windows called exponential, from the first window
	maxAlerted    = 0.01 // fraction of runs with an exponential alert
	minDetected   = 0.95 // fraction of runs detected in time
	minStoodDown  = 0.95 // fraction of runs first called linear in time
	maxDblFirst   = 0.25 // |median relative doubling-time error| at the first alarm
	maxDblLater   = 0.15 // and two doubling times later
	minOnset      = 0.95 // fraction of runs whose onset is within one doubling time
	minStopped    = 0.95 // fraction of runs where exponential stops in time after a peak or plateau
	maxStopHours  = 3.0  // that time, hours
)

// report renders the Markdown report (without the wall time).
func report(o *options, groups []group) string {
	var b strings.Builder
	var targets []target
	var sections strings.Builder

	confusion(&sections, groups)
	targets = append(targets, falseAlarms(&sections, groups)...)
	targets = append(targets, detection(&sections, groups)...)
	targets = append(targets, standingDown(&sections, groups)...)
	targets = append(targets, doublingError(&sections, groups)...)
	targets = append(targets, onsetAndStop(&sections, groups)...)
	failures(&sections, groups)

	length := "full-length scenarios"
	if o.quick {
		length = "short (-quick) scenarios"
	}
	var windows, mismatched int
	var floodTruth, floodEngine int64
	for _, g := range groups {
		for _, r := range g.runs {
			windows += r.windows
			mismatched += r.mismatch
			floodTruth += r.floodTruth
			floodEngine += r.floodEngine
		}
	}
	g := o.growth
	fmt.Fprintf(&b, "# Growth classifier evaluation\n\n")
	fmt.Fprintf(&b, "- Command: `%s`\n", commandLine(o.args))
	fmt.Fprintf(&b, "- Runs: %d scenarios x %d seeds (1..%d), %s; windows %s, lookback 24h; frames go through decode and engine in memory.\n",
		len(groups), o.seeds, o.seeds, length, mostly(groups, nil, func(sc *scen) string { return shortDur(sc.config(o.quick).Normalize().Window) }))
	fmt.Fprintf(&b, "- Classifier: horizons %s, confidence %g (linear %g), min doubling %s, min windows %d, min events %d, diurnal %s (amplitude %g), cycle test up to %g.\n",
		durations(g.Horizons), g.Confidence, g.LinearConfidence, shortDur(g.MinDoubling), g.MinWindows, g.MinEvents, g.Diurnal, g.DiurnalAmplitude, g.CycleAmplitude)
	fmt.Fprintf(&b, "- Pipeline check: %d windows closed by the engine, %d with a new-source count different from the truth's; "+
		"%d flood SYNs (spoofed new sources) generated, %d new sources set apart by the engine as flood sources.\n\n",
		windows, mismatched, floodTruth, floodEngine)

	pass := 0
	for _, t := range targets {
		if t.pass {
			pass++
		}
	}
	fmt.Fprintf(&b, "## Targets: %d of %d pass\n\n", pass, len(targets))
	for _, t := range targets {
		res := "FAIL"
		if t.pass {
			res = "PASS"
		}
		fmt.Fprintf(&b, "- %s %s: %s (target %s)\n", res, t.name, t.measured, t.want)
	}
	b.WriteString("\n")
	b.WriteString(sections.String())
	return b.String()
}

func frac(n, of int) string {
	if of == 0 {
		return "–"
	}
	return fmt.Sprintf("%.3f", float64(n)/float64(of))
}

func pct(n, of int) string {
	if of == 0 {
		return "–"
	}
	return fmt.Sprintf("%.1f %%", 100*float64(n)/float64(of))
}

// quantile is the nearest-rank quantile of sorted xs (which may hold +Inf).
func quantile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return math.NaN()
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

func num(x float64, format, inf string) string {
	switch {
	case math.IsNaN(x):
		return "–"
	case math.IsInf(x, 1):
		return inf
	}
	return fmt.Sprintf(format, x)
}

func confusion(b *strings.Builder, groups []group) {
	b.WriteString("## 1. Verdicts (fraction of the scored windows)\n\n")
	b.WriteString("Scored windows: after warm-up (window start >= first packet + lookback) for non-exponential scenarios; " +
		"for exponential ones, every window starting once the true rate has reached 10/h (t10), up to the end or the MaxSources cap.\n\n")
	b.WriteString("| scenario | scored windows | n | insufficient | linear | exponential | declining |\n")
	b.WriteString("|---|---|--:|--:|--:|--:|--:|\n")
	row := func(name, basis string, counts [numClasses]int, n int) {
		fmt.Fprintf(b, "| %s | %s | %d | %s | %s | %s | %s |\n", name, basis, n,
			frac(counts[0], n), frac(counts[1], n), frac(counts[2], n), frac(counts[3], n))
	}
	for _, g := range groups {
		var c, cb [numClasses]int
		var n, nb int
		for _, r := range g.runs {
			for k := range c {
				c[k] += r.eval[k]
				cb[k] += r.evalB[k]
			}
			n += r.evalN
			nb += r.evalBN
		}
		switch g.sc.kind {
		case kindExp, kindOutbreak:
			row(g.sc.name, "from t10", c, n)
		case kindLogistic, kindPlateau:
			row(g.sc.name+" rising", "t10 to peak", c, n)
			row(g.sc.name+" falling", "after peak", cb, nb)
		default:
			row(g.sc.name, "post-warm-up", c, n)
		}
	}
	b.WriteString("\n")
}

func falseAlarms(b *strings.Builder, groups []group) []target {
	var ts []target
	b.WriteString("## 2. False alarms (non-exponential scenarios)\n\n")
	b.WriteString("| scenario | exp. windows post-warm-up | runs with >= 3 in a row | worst run | exp. windows incl. warm-up | runs >= 3 in a row incl. warm-up | runs with an exponential alert |\n")
	b.WriteString("|---|--:|--:|---|--:|--:|--:|\n")
	for _, g := range groups {
		if g.sc.kind != kindFlat && g.sc.kind != kindSteady {
			continue
		}
		var n, e, an, ae, streaks, astreaks, alerted int
		worst := -1
		for i, r := range g.runs {
			if r.expAlerts > 0 {
				alerted++
			}
			n, e, an, ae = n+r.postN, e+r.postExp, an+r.allN, ae+r.allExp
			if r.postStreak.n >= 3 {
				streaks++
			}
			if r.allStreak.n >= 3 {
				astreaks++
			}
			if r.postExp > 0 && (worst < 0 || r.postExp > g.runs[worst].postExp ||
				r.postExp == g.runs[worst].postExp && r.postStreak.n > g.runs[worst].postStreak.n) {
				worst = i
			}
		}
		w := "–"
		if worst >= 0 {
			r := g.runs[worst]
			w = fmt.Sprintf("seed %d: %d exp., longest %d (%.1f–%.1f h)", r.seed, r.postExp, r.postStreak.n, r.postStreak.from, r.postStreak.to)
		}
		fmt.Fprintf(b, "| %s | %s | %d | %s | %s | %d | %d |\n", g.sc.name, pctPrec(e, n), streaks, w, pctPrec(ae, an), astreaks, alerted)
		ts = append(ts,
			target{name: "false alarms " + g.sc.name, measured: pctPrec(ae, an) + " of windows exponential, from the first window",
				want: "<= 1 %", pass: an > 0 && float64(ae) <= maxFalseAlarm*float64(an)},
			target{name: "alarm streaks " + g.sc.name, measured: fmt.Sprintf("%d of %d runs with >= 3 consecutive exponential windows, from the first window", astreaks, len(g.runs)),
				want: "0", pass: astreaks == 0},
			target{name: "alerts " + g.sc.name, measured: fmt.Sprintf("%d of %d runs with an exponential alert", alerted, len(g.runs)),
				want: "<= 1 % of runs", pass: float64(alerted) <= maxAlerted*float64(len(g.runs))})
	}
	b.WriteString("\nHours are since the first packet. The targets count every window of the run (\"incl. warm-up\").\n\n")
	// Outbreaks: the day of background before them.
	first := true
	for _, g := range groups {
		if g.sc.kind != kindOutbreak {
			continue
		}
		if first {
			b.WriteString("Before the outbreak (the steady background's windows, from the first):\n\n")
			b.WriteString("| scenario | windows | exponential | runs with >= 3 in a row |\n|---|--:|--:|--:|\n")
			first = false
		}
		var n, e, streaks int
		for _, r := range g.runs {
			n, e = n+r.preN, e+r.preExp
			if r.preStreak.n >= 3 {
				streaks++
			}
		}
		fmt.Fprintf(b, "| %s | %d | %s | %d |\n", g.sc.name, n, pctPrec(e, n), streaks)
		ts = append(ts,
			target{name: "false alarms before " + g.sc.name, measured: pctPrec(e, n) + " of the background's windows exponential",
				want: "<= 1 %", pass: n > 0 && float64(e) <= maxFalseAlarm*float64(n)},
			target{name: "alarm streaks before " + g.sc.name, measured: fmt.Sprintf("%d of %d runs with >= 3 consecutive exponential windows", streaks, len(g.runs)),
				want: "0", pass: streaks == 0})
	}
	if !first {
		b.WriteString("\n")
	}
	return ts
}

func pctPrec(n, of int) string {
	if of == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f %%", 100*float64(n)/float64(of))
}

func detection(b *strings.Builder, groups []group) []target {
	var ts []target
	capped := 0
	fmt.Fprintf(b, "## 3. Detection (exponential scenarios, start rate %s)\n\n", mostly(groups, func(sc *scen) bool { return growing(sc.kind) }, func(sc *scen) string {
		c := sc.config(false)
		r := c.Rate0
		if sc.kind == kindOutbreak {
			r = c.OutbreakRate
		}
		return strconv.FormatFloat(r, 'g', -1, 64) + "/h"
	}))
	b.WriteString("Delay = end of the first window called exponential with confidence >= 0.9, minus t10 (true rate 10/h; for an outbreak, its own arrivals' rate, background excluded), in doubling times D; negative = before t10.\n\n")
	b.WriteString("The last two columns are the exponential alert's (three exponential verdicts in a row): runs alerted within 3 D of t10, and the median delay of the alert.\n\n")
	b.WriteString("| scenario | D | t10 | runs | detected | <= 2 D | <= 3 D | before t10 | median delay | p95 delay | alerted <= 3 D | alert median |\n")
	b.WriteString("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	for _, g := range groups {
		if !growing(g.sc.kind) {
			continue
		}
		d := doubling(g.sc)
		delays := make([]float64, 0, len(g.runs))
		alerts := make([]float64, 0, len(g.runs))
		var det, in2, in3, early, al3 int
		var t10 float64
		for _, r := range g.runs {
			if !math.IsInf(r.cappedFrom, 1) {
				capped++
			}
			delays = append(delays, r.delay)
			alerts = append(alerts, r.alertDelay)
			if r.alertDelay <= 3 {
				al3++
			}
			t10 += r.t10
			if !math.IsInf(r.delay, 1) {
				det++
			}
			if r.delay <= 2 {
				in2++
			}
			if r.delay <= 3 {
				in3++
			}
			if r.delay < 0 {
				early++
			}
		}
		slices.Sort(delays)
		slices.Sort(alerts)
		n := len(g.runs)
		fmt.Fprintf(b, "| %s | %s | %.2f h | %d | %s | %s | %s | %s | %s | %s | %s | %s |\n", g.sc.name, shortDur(d), t10/float64(n), n,
			pct(det, n), pct(in2, n), pct(in3, n), pct(early, n),
			num(quantile(delays, 0.5), "%.2f D", "never"), num(quantile(delays, 0.95), "%.2f D", "never"),
			pct(al3, n), num(quantile(alerts, 0.5), "%.2f D", "never"))
		if !scored(g.sc) {
			continue
		}
		if d < time.Hour {
			ts = append(ts, target{name: "detection " + g.sc.name, measured: pct(in3, n) + " of runs within 3 D of t10",
				want: ">= 95 %", pass: float64(in3) >= minDetected*float64(n)})
		} else {
			ts = append(ts, target{name: "detection " + g.sc.name, measured: pct(in2, n) + " of runs within 2 D of t10",
				want: ">= 95 %", pass: float64(in2) >= minDetected*float64(n)})
		}
	}
	fmt.Fprintf(b, "\nThe logistic and plateau rows (t10 from the truth's expected rate) and exp-12h have no detection target. Runs that hit the MaxSources cap (windows from then on not scored): %d.\n\n", capped)
	return ts
}

func standingDown(b *strings.Builder, groups []group) []target {
	var ts []target
	b.WriteString("## 4. Standing down (steady-rate scenarios)\n\n")
	b.WriteString("Time from the first packet to the end of the first window called linear; \"linear after\": fraction of the later windows also called linear.\n\n")
	b.WriteString("| scenario | runs | linear <= 12 h | linear <= 24 h | median | p95 | never | linear after |\n")
	b.WriteString("|---|--:|--:|--:|--:|--:|--:|--:|\n")
	for _, g := range groups {
		if g.sc.kind != kindSteady {
			continue
		}
		var in12, in24, never, an, al int
		times := make([]float64, 0, len(g.runs))
		for _, r := range g.runs {
			times = append(times, r.firstLinear)
			if r.firstLinear <= 12 {
				in12++
			}
			if r.firstLinear <= 24 {
				in24++
			}
			if math.IsInf(r.firstLinear, 1) {
				never++
			}
			an, al = an+r.afterN, al+r.afterLinear
		}
		slices.Sort(times)
		n := len(g.runs)
		fmt.Fprintf(b, "| %s | %d | %s | %s | %s | %s | %d | %s |\n", g.sc.name, n, pct(in12, n), pct(in24, n),
			num(quantile(times, 0.5), "%.1f h", "never"), num(quantile(times, 0.95), "%.1f h", "never"), never, frac(al, an))
		if g.sc.standDown > 0 {
			in := 0
			for _, r := range g.runs {
				if r.firstLinear <= g.sc.standDown.Hours() {
					in++
				}
			}
			ts = append(ts, target{name: "standing down " + g.sc.name,
				measured: fmt.Sprintf("%s of runs first called linear within %s (median %s)", pct(in, n), shortDur(g.sc.standDown), num(quantile(times, 0.5), "%.1f h", "never")),
				want:     ">= 95 %", pass: float64(in) >= minStoodDown*float64(n)})
		}
	}
	b.WriteString("\n")
	return ts
}

func doublingError(b *strings.Builder, groups []group) []target {
	var ts []target
	b.WriteString("## 5. Doubling-time error ((fitted - true) / true)\n\n")
	b.WriteString("At the first alarm (the first window called exponential with confidence >= 0.9), two doubling times later (the first exponential window from then, within D/2), and over every window called exponential. " +
		"For an outbreak on a background the true doubling time is the excess's.\n\n")
	b.WriteString("| scenario | D | median at first alarm | runs | median 2 D later | runs | exp. windows | median | IQR |\n")
	b.WriteString("|---|--:|--:|--:|--:|--:|--:|--:|---|\n")
	for _, g := range groups {
		if !growing(g.sc.kind) {
			continue
		}
		var errs, firsts, laters []float64
		for _, r := range g.runs {
			errs = append(errs, r.dblErr...)
			if !math.IsNaN(r.dblFirst) {
				firsts = append(firsts, r.dblFirst)
			}
			if !math.IsNaN(r.dblLater) {
				laters = append(laters, r.dblLater)
			}
		}
		slices.Sort(errs)
		slices.Sort(firsts)
		slices.Sort(laters)
		d := doubling(g.sc)
		med, mf, ml := quantile(errs, 0.5), quantile(firsts, 0.5), quantile(laters, 0.5)
		name := g.sc.name
		if g.sc.kind == kindLogistic || g.sc.kind == kindPlateau {
			name += " (before the peak)"
		}
		p := func(x float64) string { return num(100*x, "%+.1f %%", "∞") }
		fmt.Fprintf(b, "| %s | %s | %s | %d | %s | %d | %d | %s | %s to %s |\n", name, shortDur(d), p(mf), len(firsts), p(ml), len(laters), len(errs),
			p(med), p(quantile(errs, 0.25)), p(quantile(errs, 0.75)))
		if scored(g.sc) {
			ts = append(ts,
				target{name: "doubling time at the first alarm " + g.sc.name, measured: fmt.Sprintf("median error %s (%d runs)", p(mf), len(firsts)),
					want: "within ±25 %", pass: len(firsts) > 0 && math.Abs(mf) <= maxDblFirst},
				target{name: "doubling time 2 D later " + g.sc.name, measured: fmt.Sprintf("median error %s (%d of %d runs exponential then)", p(ml), len(laters), len(g.runs)),
					want: "within ±15 %", pass: len(laters) > 0 && math.Abs(ml) <= maxDblLater})
		}
	}
	b.WriteString("\n")
	return ts
}

// onsetAndStop scores the onset at the first alarm (outbreaks and pure
// exponentials, whose regime began when the scenario did, at its start
// rate: often before the first packet) and how soon exponential stops
// after a peak or a plateau.
func onsetAndStop(b *strings.Builder, groups []group) []target {
	var ts []target
	b.WriteString("## 6. Onset and stopping\n\n")
	b.WriteString("Onset: the growth record's `onset` at the first alarm minus the true start of the regime (the outbreak's start; the start of the data for a pure exponential), in doubling times D; " +
		"\"held\": the `onset_low`..`onset_high` interval (to the end of its last window) holds the truth; " +
		"\"bound\": the share of runs any unbiased date could put within 1 D, at the same first alarms (the mean over the runs of the chance " +
		"that a normal date with the Cramér–Rao variance, from the Poisson information of the fitted model over the windows up to the run's first alarm, at most 24 h of them, " +
		"is within 1 D; growtheval's onsetBound).\n\n")
	b.WriteString("| scenario | D | runs with an onset | within 1 D | bound | held | median error | p5 | p95 |\n|---|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	for _, g := range groups {
		if g.sc.kind != kindExp && g.sc.kind != kindOutbreak {
			continue
		}
		var errs []float64
		in, held := 0, 0
		var best float64
		nb := 0
		for _, r := range g.runs {
			if !math.IsNaN(r.onsetBest) {
				best += r.onsetBest
				nb++
			}
			if math.IsNaN(r.onsetErr) {
				continue
			}
			errs = append(errs, r.onsetErr)
			if math.Abs(r.onsetErr) <= 1 {
				in++
			}
			if r.onsetHeld {
				held++
			}
		}
		slices.Sort(errs)
		n := len(g.runs)
		bound := "–"
		if nb > 0 {
			bound = fmt.Sprintf("%.1f %%", 100*best/float64(nb))
		}
		fmt.Fprintf(b, "| %s | %s | %d | %s | %s | %s | %s | %s | %s |\n", g.sc.name, shortDur(doubling(g.sc)), len(errs), pct(in, n), bound, pct(held, n),
			num(quantile(errs, 0.5), "%+.2f D", "∞"), num(quantile(errs, 0.05), "%+.2f D", "∞"), num(quantile(errs, 0.95), "%+.2f D", "∞"))
		if scored(g.sc) {
			ts = append(ts, target{name: "onset " + g.sc.name, measured: pct(in, n) + " of runs with the onset within 1 D of the truth at the first alarm (bound " + bound + ")",
				want: ">= 95 %", pass: float64(in) >= minOnset*float64(n)})
		}
	}
	b.WriteString("\nStopping: hours from the peak of the rate (logistic) or the plateau's start to the end of the last window called exponential.\n\n")
	b.WriteString("| scenario | runs | exponential after it | stopped within 3 h | median | max |\n|---|--:|--:|--:|--:|--:|\n")
	for _, g := range groups {
		if g.sc.kind != kindLogistic && g.sc.kind != kindPlateau {
			continue
		}
		var after []float64
		in := 0
		for _, r := range g.runs {
			if math.IsNaN(r.lastExpAfterPeak) {
				in++
				continue
			}
			after = append(after, r.lastExpAfterPeak)
			if r.lastExpAfterPeak <= maxStopHours {
				in++
			}
		}
		slices.Sort(after)
		n := len(g.runs)
		mx := math.NaN()
		if len(after) > 0 {
			mx = after[len(after)-1]
		}
		fmt.Fprintf(b, "| %s | %d | %d | %s | %s | %s |\n", g.sc.name, n, len(after), pct(in, n), num(quantile(after, 0.5), "%.1f h", "∞"), num(mx, "%.1f h", "∞"))
		ts = append(ts, target{name: "stopping " + g.sc.name, measured: pct(in, n) + " of runs with no exponential verdict later than 3 h after the peak or plateau",
			want: ">= 95 %", pass: float64(in) >= minStopped*float64(n)})
	}
	b.WriteString("\n")
	return ts
}

// growing: the scenario has an exponential phase.
func growing(k kind) bool {
	return k == kindExp || k == kindLogistic || k == kindPlateau || k == kindOutbreak
}

// scored: detection and doubling-time targets apply.
func scored(sc *scen) bool {
	return (sc.kind == kindExp || sc.kind == kindOutbreak) && !sc.noTarget
}

// doubling is the true doubling time of the scenario's exponential phase.
func doubling(sc *scen) time.Duration {
	c := sc.config(false)
	if sc.kind == kindOutbreak {
		return c.OutbreakDoubling
	}
	return c.Doubling
}

// failures describes, per scenario, where the classifier went wrong.
func failures(b *strings.Builder, groups []group) {
	var lines []string
	for _, g := range groups {
		switch g.sc.kind {
		case kindFlat, kindSteady:
			var hours []float64
			worst := -1
			for i, r := range g.runs {
				hours = append(hours, r.postExpHours...)
				if r.postStreak.n > 0 && (worst < 0 || r.postStreak.n > g.runs[worst].postStreak.n) {
					worst = i
				}
			}
			var warm []float64
			warmRuns := 0
			var warmSeeds []string
			for _, r := range g.runs {
				warm = append(warm, r.warmExpHours...)
				if r.allStreak.n >= 3 && r.postStreak.n < r.allStreak.n {
					warmRuns++
					if len(warmSeeds) < 5 {
						warmSeeds = append(warmSeeds, fmt.Sprintf("seed %d: %d from %.1f h", r.seed, r.allStreak.n, r.allStreak.from))
					}
				}
			}
			if len(warm) > 0 {
				slices.Sort(warm)
				lines = append(lines, fmt.Sprintf("%s (warm-up, not scored): %d exponential windows in %d runs' first lookback, at %.1f h (min), %.1f h (median), %.1f h (max) after the first packet; "+
					"%d runs with their longest streak (>= 3) in warm-up%s",
					g.sc.name, len(warm), warmingRuns(g.runs), warm[0], quantile(warm, 0.5), warm[len(warm)-1], warmRuns, listed(warmSeeds)))
			}
			if len(hours) > 0 {
				slices.Sort(hours)
				r := g.runs[worst]
				v := r.postStreak.first
				lines = append(lines, fmt.Sprintf("%s: %d post-warm-up exponential windows, at %.1f h (min), %.1f h (median), %.1f h (max) after the first packet; "+
					"longest streak seed %d, %d windows from %.1f h: horizon %s, rate %.3f/h (bound %.3f, doubling %.1f h), z %.2f, %.0f new sources in the horizon",
					g.sc.name, len(hours), hours[0], quantile(hours, 0.5), hours[len(hours)-1],
					r.seed, r.postStreak.n, r.postStreak.from, shortDur(v.Horizon), v.RatePerHour, v.Bound, v.DoublingHours, v.Z, v.NewSources))
			}
			if g.sc.kind == kindSteady && g.sc.standDown > 0 {
				lim := g.sc.standDown.Hours()
				var late []string
				for _, r := range g.runs {
					if r.firstLinear > lim && len(late) < 3 {
						late = append(late, fmt.Sprintf("seed %d (%s)", r.seed, num(r.firstLinear, "%.1f h", "never")))
					}
				}
				if len(late) > 0 {
					lines = append(lines, fmt.Sprintf("%s: first linear later than %s: %s", g.sc.name, shortDur(g.sc.standDown), strings.Join(late, ", ")))
				}
			}
		case kindLogistic, kindPlateau:
			var after []float64
			for _, r := range g.runs {
				if !math.IsNaN(r.lastExpAfterPeak) {
					after = append(after, r.lastExpAfterPeak)
				}
			}
			if len(after) > 0 {
				slices.Sort(after)
				lines = append(lines, fmt.Sprintf("%s: in %d of %d runs exponential is still called after the peak of the rate, until %.1f h (median), %.1f h (max) after it",
					g.sc.name, len(after), len(g.runs), quantile(after, 0.5), after[len(after)-1]))
			}
		case kindExp, kindOutbreak:
			lim := targetDelay(doubling(g.sc).Hours())
			late, oneLate := 0, 0
			var ex *runResult
			models := map[string]int{}
			for i, r := range g.runs {
				if r.delay > lim {
					late++
					if r.oneLate {
						oneLate++
					}
					if ex == nil {
						ex = &g.runs[i]
					}
					if r.hasDeadline {
						models[r.atDeadline.Model]++
					}
				}
			}
			if ex != nil {
				v := ex.atDeadline
				var ms []string
				for _, m := range classNames {
					if models[m] > 0 {
						ms = append(ms, fmt.Sprintf("%s %d", m, models[m]))
					}
				}
				lines = append(lines, fmt.Sprintf("%s: %d runs not detected within %g D (%d of them in the window holding t10+%[3]gD); their latest verdicts at t10+%[3]gD: %[5]s. "+
					"E.g. seed %[6]d (detected %[7]s after t10): at t10+%[3]gD %[8]s (horizon %s, %.0f new sources, rate %.3f/h, bound %.3f/h, z %.2f) %s",
					g.sc.name, late, lim, oneLate, strings.Join(ms, ", "), ex.seed, num(ex.delay, "%.2f D", "never"),
					v.Model, shortDur(v.Horizon), v.NewSources, v.RatePerHour, v.Bound, v.Z, v.Reason))
			}
		}
	}
	if len(lines) == 0 {
		return
	}
	b.WriteString("## Where it fails\n\n")
	for _, l := range lines {
		fmt.Fprintf(b, "- %s\n", l)
	}
	b.WriteString("\n")
}

func warmingRuns(runs []runResult) int {
	n := 0
	for _, r := range runs {
		if len(r.warmExpHours) > 0 {
			n++
		}
	}
	return n
}

// listed is " (a, b, …)" of items, or nothing when there are none.
func listed(items []string) string {
	if len(items) == 0 {
		return ""
	}
	return " (" + strings.Join(items, "; ") + ")"
}

// mostly describes a property of the scenarios that keep (nil: all) as its
// commonest value, then the scenarios with other values: "5m (flood-1h: 1h)".
func mostly(groups []group, keep func(*scen) bool, of func(*scen) string) string {
	count := map[string]int{}
	var order []string
	by := map[string][]string{}
	for _, g := range groups {
		if keep != nil && !keep(g.sc) {
			continue
		}
		v := of(g.sc)
		if count[v] == 0 {
			order = append(order, v)
		}
		count[v]++
		by[v] = append(by[v], g.sc.name)
	}
	if len(order) == 0 {
		return "-"
	}
	common := order[0]
	for _, v := range order {
		if count[v] > count[common] {
			common = v
		}
	}
	var others []string
	for _, v := range order {
		if v != common {
			others = append(others, strings.Join(by[v], ", ")+": "+v)
		}
	}
	if len(others) == 0 {
		return common
	}
	return common + " (" + strings.Join(others, "; ") + ")"
}
