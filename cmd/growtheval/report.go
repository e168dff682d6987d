package main

import (
	"fmt"
	"math"
	"slices"
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
	maxFalseAlarm   = 0.01 // fraction of post-warm-up windows called exponential
	minDetected     = 0.95 // fraction of runs detected in time
	minStoodDown    = 0.95 // fraction of runs first called linear in time
	maxDoublingBias = 0.20 // |median relative doubling-time error|
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
	fmt.Fprintf(&b, "- Runs: %d scenarios x %d seeds (1..%d), %s; windows 5m (flood-1h: 1h), lookback 24h; frames go through decode and engine in memory.\n",
		len(groups), o.seeds, o.seeds, length)
	fmt.Fprintf(&b, "- Classifier: horizons %s, confidence %g, min doubling %s, min windows %d, min events %d, diurnal %s (amplitude %g).\n",
		durations(g.Horizons), g.Confidence, shortDur(g.MinDoubling), g.MinWindows, g.MinEvents, g.Diurnal, g.DiurnalAmplitude)
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
		case kindExp:
			row(g.sc.name, "from t10", c, n)
		case kindLogistic:
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
			target{name: "false alarms " + g.sc.name, measured: pctPrec(e, n) + " of post-warm-up windows exponential",
				want: "<= 1 %", pass: n > 0 && float64(e) <= maxFalseAlarm*float64(n)},
			target{name: "alarm streaks " + g.sc.name, measured: fmt.Sprintf("%d of %d runs with >= 3 consecutive exponential windows", streaks, len(g.runs)),
				want: "0", pass: streaks == 0},
			target{name: "alerts " + g.sc.name, measured: fmt.Sprintf("%d of %d runs with an exponential alert", alerted, len(g.runs)),
				want: "<= 1 % of runs", pass: float64(alerted) <= 0.01*float64(len(g.runs))})
	}
	b.WriteString("\nHours are since the first packet. \"incl. warm-up\" counts every window of the run.\n\n")
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
	b.WriteString("## 3. Detection (exponential scenarios, start rate 1/h)\n\n")
	b.WriteString("Delay = end of the first window called exponential with confidence >= 0.9, minus t10 (true rate 10/h), in doubling times D; negative = before t10.\n\n")
	b.WriteString("| scenario | D | t10 | runs | detected | <= 2 D | <= 3 D | before t10 | median delay | p95 delay |\n")
	b.WriteString("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	for _, g := range groups {
		if g.sc.kind != kindExp && g.sc.kind != kindLogistic {
			continue
		}
		d := g.sc.config(false).Doubling
		delays := make([]float64, 0, len(g.runs))
		var det, in2, in3, early int
		var t10 float64
		for _, r := range g.runs {
			if !math.IsInf(r.cappedFrom, 1) {
				capped++
			}
			delays = append(delays, r.delay)
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
		n := len(g.runs)
		fmt.Fprintf(b, "| %s | %s | %.2f h | %d | %s | %s | %s | %s | %s | %s |\n", g.sc.name, shortDur(d), t10/float64(n), n,
			pct(det, n), pct(in2, n), pct(in3, n), pct(early, n),
			num(quantile(delays, 0.5), "%.2f D", "never"), num(quantile(delays, 0.95), "%.2f D", "never"))
		if g.sc.kind != kindExp {
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
	fmt.Fprintf(b, "\nThe logistic row (t10 from the truth's expected rate) has no target. Runs that hit the MaxSources cap (windows from then on not scored): %d.\n\n", capped)
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
			in := in12
			if g.sc.standDown > 12*time.Hour {
				in = in24
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
	b.WriteString("## 5. Doubling-time error ((fitted - true) / true, over every window called exponential)\n\n")
	b.WriteString("| scenario | D | exp. windows | median | IQR |\n")
	b.WriteString("|---|--:|--:|--:|---|\n")
	for _, g := range groups {
		if g.sc.kind != kindExp && g.sc.kind != kindLogistic {
			continue
		}
		var errs []float64
		for _, r := range g.runs {
			errs = append(errs, r.dblErr...)
		}
		slices.Sort(errs)
		d := g.sc.config(false).Doubling
		med := quantile(errs, 0.5)
		name := g.sc.name
		if g.sc.kind == kindLogistic {
			name += " (before peak)"
		}
		fmt.Fprintf(b, "| %s | %s | %d | %s | %s to %s |\n", name, shortDur(d), len(errs),
			num(100*med, "%+.1f %%", "∞"), num(100*quantile(errs, 0.25), "%+.1f %%", "∞"), num(100*quantile(errs, 0.75), "%+.1f %%", "∞"))
		if g.sc.kind == kindExp {
			ts = append(ts, target{name: "doubling time " + g.sc.name, measured: "median error " + num(100*med, "%+.1f %%", "∞") + " (no exponential window)",
				want: "within ±20 %", pass: len(errs) > 0 && math.Abs(med) <= maxDoublingBias})
			if len(errs) > 0 {
				ts[len(ts)-1].measured = "median error " + num(100*med, "%+.1f %%", "∞")
			}
		}
	}
	b.WriteString("\n")
	return ts
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
			for _, r := range g.runs {
				warm = append(warm, r.warmExpHours...)
				if r.allStreak.n >= 3 && r.postStreak.n < r.allStreak.n {
					warmRuns++
				}
			}
			if len(warm) > 0 {
				slices.Sort(warm)
				lines = append(lines, fmt.Sprintf("%s (warm-up, not scored): %d exponential windows in %d runs' first lookback, at %.1f h (min), %.1f h (median), %.1f h (max) after the first packet; "+
					"%d runs with their longest streak (>= 3) in warm-up",
					g.sc.name, len(warm), warmingRuns(g.runs), warm[0], quantile(warm, 0.5), warm[len(warm)-1], warmRuns))
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
		case kindLogistic:
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
		case kindExp:
			lim := targetDelay(g.sc.config(false).Doubling.Hours())
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
