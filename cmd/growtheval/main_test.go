package main

import (
	"bytes"
	"math"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/synscope/synscope/pkg/growth"
)

// wallLine matches the one line that differs between identical runs.
var wallLine = regexp.MustCompile(`(?m)^Wall time: .*\n`)

func runQuick(t *testing.T, args ...string) string {
	t.Helper()
	var out, errb bytes.Buffer
	if code := run(args, &out, &errb); code != 0 {
		t.Fatalf("run %q: exit %d: %s", args, code, errb.String())
	}
	if !wallLine.MatchString(out.String()) {
		t.Fatalf("no wall-time line in:\n%s", out.String())
	}
	return out.String()
}

func TestQuickReport(t *testing.T) {
	args := []string{"-quick", "-seeds", "2", "-scenario", "^(steady-2|flood|exp-1h|logistic-2h|outbreak-1h|plateau-1h)$"}
	a := runQuick(t, args...)
	b := runQuick(t, args...)
	if wallLine.ReplaceAllString(a, "") != wallLine.ReplaceAllString(b, "") {
		t.Errorf("two runs differ:\n%s\n----\n%s", a, b)
	}
	for _, want := range []string{
		"Command: `growtheval -quick -seeds 2 -scenario '^(steady-2|flood|exp-1h|logistic-2h|outbreak-1h|plateau-1h)$'`",
		"## Targets", "## 1. Verdicts", "## 2. False alarms", "## 3. Detection", "## 4. Standing down", "## 5. Doubling-time error", "## 6. Onset and stopping",
		"| steady-2 | post-warm-up |", "| exp-1h | from t10 |", "| logistic-2h rising |", "| flood |", "| outbreak-1h | from t10 |", "| plateau-1h rising |",
		"standing down steady-2", "detection exp-1h", "doubling time at the first alarm exp-1h", "doubling time 2 D later exp-1h", "false alarms flood",
		"detection outbreak-1h", "onset outbreak-1h", "false alarms before outbreak-1h", "stopping plateau-1h", "stopping logistic-2h",
		"0 with a new-source count different from the truth's",
	} {
		if !strings.Contains(a, want) {
			t.Errorf("report lacks %q:\n%s", want, a)
		}
	}
	for _, bad := range []string{"NaN", "Inf", "%!"} {
		if strings.Contains(a, bad) {
			t.Errorf("report contains %q:\n%s", bad, a)
		}
	}
	// Every fraction of the confusion matrix is within [0, 1] and each row
	// sums to 1.
	rows := 0
	for line := range strings.SplitSeq(section(a, "## 1."), "\n") {
		cells := strings.Split(strings.Trim(line, "| "), " | ")
		if len(cells) != 7 || cells[0] == "scenario" || strings.HasPrefix(cells[0], "---") {
			continue
		}
		rows++
		sum := 0.0
		for _, c := range cells[3:] {
			f, err := strconv.ParseFloat(c, 64)
			if err != nil || f < 0 || f > 1 {
				t.Errorf("confusion row %q: cell %q is not a fraction", line, c)
			}
			sum += f
		}
		if math.Abs(sum-1) > 0.003 {
			t.Errorf("confusion row %q sums to %v", line, sum)
		}
	}
	if rows != 8 { // logistic and plateau: two rows each
		t.Errorf("%d confusion rows, want 8", rows)
	}
	// Percentages within [0, 100].
	for _, m := range regexp.MustCompile(`(-?[0-9.]+) %`).FindAllStringSubmatch(section(a, "## 2."), -1) {
		if f, _ := strconv.ParseFloat(m[1], 64); f < 0 || f > 100 {
			t.Errorf("percentage %s out of range", m[0])
		}
	}
	for _, m := range regexp.MustCompile(`\| ([0-9.]+) % \|`).FindAllStringSubmatch(section(a, "## 3."), -1) {
		if f, _ := strconv.ParseFloat(m[1], 64); f < 0 || f > 100 {
			t.Errorf("percentage %s out of range", m[0])
		}
	}
	if !regexp.MustCompile(`(?m)^- (PASS|FAIL) `).MatchString(a) {
		t.Error("no PASS/FAIL lines")
	}
}

// section returns the text from the heading starting with prefix to the
// next heading.
func section(s, prefix string) string {
	i := strings.Index(s, "\n"+prefix)
	if i < 0 {
		return ""
	}
	s = s[i+1:]
	if j := strings.Index(s[1:], "\n## "); j >= 0 {
		s = s[:j+1]
	}
	return s
}

func TestParseArgs(t *testing.T) {
	o, err := parseArgs(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if o.seeds != 200 || o.quick || o.workers < 1 || len(o.selected()) != len(scenarios()) {
		t.Errorf("defaults: %+v", o)
	}
	def := growth.DefaultConfig()
	if durations(o.growth.Horizons) != durations(def.Horizons) || o.growth.Confidence != def.Confidence {
		t.Errorf("classifier defaults: %+v", o.growth)
	}

	// the variants are a set of their own, with names of their own
	o, err = parseArgs([]string{"-set", "variants"}, nil)
	if err != nil || len(o.selected()) != len(variants()) {
		t.Errorf("-set variants: %v", err)
	}
	seen := map[string]bool{}
	for _, n := range names(append(scenarios(), variants()...)) {
		if seen[n] {
			t.Errorf("scenario %s named twice", n)
		}
		seen[n] = true
	}
	if o, err = parseArgs([]string{"-set", "all"}, nil); err != nil || len(o.selected()) != len(seen) {
		t.Errorf("-set all: %v", err)
	}
	if _, err = parseArgs([]string{"-set", "some"}, nil); err == nil {
		t.Error("-set some: no error")
	}
	if _, err = parseArgs([]string{"-set", "variants", "-scenario", "^steady-2$"}, nil); err == nil {
		t.Error("-set variants -scenario ^steady-2$: no error (steady-2 is in the issue's set)")
	}

	o, err = parseArgs([]string{"-quick"}, nil)
	if err != nil || o.seeds != quickSeeds {
		t.Errorf("-quick: %v, %+v", err, o)
	}
	o, err = parseArgs([]string{"-quick", "-seeds", "2", "-scenario", "^steady", "-workers", "3",
		"-horizons", "3h, 12h,48h", "-confidence", "0.95", "-min-doubling", "12h", "-diurnal", "off", "-diurnal-amplitude", "0.3"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	g := o.growth
	if o.seeds != 2 || o.workers != 3 || len(o.selected()) != 5 || durations(g.Horizons) != "3h,12h,48h" ||
		g.Confidence != 0.95 || g.MinDoubling != 12*time.Hour || g.Diurnal != "off" || g.DiurnalAmplitude != 0.3 {
		t.Errorf("overrides: %+v %+v", o, g)
	}

	for _, bad := range [][]string{
		{"-seeds", "0"},
		{"-workers", "0"},
		{"-scenario", "("},
		{"-scenario", "nothing-matches"},
		{"-horizons", "6h,x"},
		{"-horizons", ""},
		{"-horizons", "24h,6h"},
		{"-horizons", "2h,24h"}, // shorter than three 1 h windows (flood-1h)
		{"-confidence", "1"},
		{"-diurnal", "sometimes"},
		{"extra"},
		{"-nope"},
	} {
		if _, err := parseArgs(bad, nil); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
	// A trace without -scenario runs only the traced scenarios; with it, what
	// -scenario selects.
	if o, err = parseArgs([]string{"-trace", "step-2-4:54, exp-1h:*"}, nil); err != nil {
		t.Errorf("-trace alone: %v", err)
	} else if got := selectedNames(o); got != "step-2-4,exp-1h" && got != "exp-1h,step-2-4" {
		t.Errorf("-trace alone runs %s", got)
	}
	if o, err = parseArgs([]string{"-trace", "step-2-4:54", "-scenario", "^steady"}, nil); err != nil {
		t.Errorf("-trace with -scenario: %v", err)
	} else if len(o.selected()) != 5 {
		t.Errorf("-trace with -scenario runs %s", selectedNames(o))
	}
	for _, bad := range []string{"nothing:1", "step-2-4", ":3"} {
		if _, err = parseArgs([]string{"-trace", bad}, nil); err == nil {
			t.Errorf("-trace %q: no error", bad)
		}
	}
	// 2h horizons are fine where every window is 5 minutes.
	if _, err := parseArgs([]string{"-horizons", "2h,24h", "-scenario", "^steady"}, nil); err != nil {
		t.Errorf("2h horizons on 5m windows: %v", err)
	}
}

func TestQuantileAndFormat(t *testing.T) {
	xs := []float64{1, 2, 3, 4, math.Inf(1)}
	if q := quantile(xs, 0.5); q != 3 {
		t.Errorf("median %v", q)
	}
	if q := quantile(xs, 0.95); !math.IsInf(q, 1) {
		t.Errorf("p95 %v", q)
	}
	if q := quantile(nil, 0.5); !math.IsNaN(q) {
		t.Errorf("empty %v", q)
	}
	if s := num(math.Inf(1), "%.1f", "never"); s != "never" {
		t.Error(s)
	}
	if s := commandLine([]string{"-scenario", "^a|b$", "-seeds", "3"}); s != "growtheval -scenario '^a|b$' -seeds 3" {
		t.Error(s)
	}
	if s := shortDur(90 * time.Minute); s != "1h30m" {
		t.Error(s)
	}
}

// BenchmarkEvalSteady measures one run: six hours of a steady 240/h
// population through generator, decoder, engine and classifier.
func BenchmarkEvalSteady(b *testing.B) {
	o, err := parseArgs([]string{"-scenario", "^steady-20$"}, nil)
	if err != nil {
		b.Fatal(err)
	}
	sc := *o.selected()[0]
	sc.full = 6 * time.Hour
	b.ReportAllocs()
	var windows int
	for b.Loop() {
		r := evalRun(runSpec{sc: &sc, seed: 1}, o, nil)
		if r.err != nil {
			b.Fatal(r.err)
		}
		windows = r.windows
	}
	b.ReportMetric(float64(windows), "windows/op")
}

// TestOnsetBound checks onsetBound against the information in closed form:
// with no level, an excess exp(r·(t - tp)) seen over [from, to] has
// I_aa = ∫λ, I_ar = ∫(t-tp)·λ, I_rr = ∫(t-tp)²·λ, integrals of
// x^k·e^{r·x} with known antiderivatives; the date's variance is
// I_rr / det / r². Windows of one minute make the sum and the integral
// agree closely. Then the bound grows with the data seen and falls with a
// level under the excess.
func TestOnsetBound(t *testing.T) {
	for _, tc := range []struct{ d, to float64 }{{0.5, 2.5}, {1, 4.75}, {2, 10.2}, {4, 17.3}} {
		r := math.Ln2 / tc.d
		// ∫ x^k e^{rx} dx from x0 to x1 (x = t - tp, tp = 0 here: rate0 = 1)
		prim := func(k int, x float64) float64 {
			e := math.Exp(r * x)
			switch k {
			case 0:
				return e / r
			case 1:
				return e * (x/r - 1/(r*r))
			}
			return e * (x*x/r - 2*x/(r*r) + 2/(r*r*r))
		}
		in := func(k int) float64 { return prim(k, tc.to) - prim(k, 0) }
		iaa, iar, irr := in(0), in(1), in(2)
		sd := math.Sqrt(irr/(iaa*irr-iar*iar)) / r
		want := math.Erf(tc.d / (sd * math.Sqrt2))
		got := onsetBound(tc.d, 0, 1, 0, 0, tc.to, 1.0/60)
		if math.Abs(got-want) > 0.005 {
			t.Errorf("doubling %g h to %g h: bound %.4f, closed form %.4f", tc.d, tc.to, got, want)
		}
		later := onsetBound(tc.d, 0, 1, 0, 0, tc.to+tc.d, 1.0/60)
		onLevel := onsetBound(tc.d, 0, 1, 24, 0, tc.to, 1.0/60)
		if !(later > got && onLevel < got) {
			t.Errorf("doubling %g h: bound %.4f, a doubling later %.4f, on a level of 24/h %.4f", tc.d, got, later, onLevel)
		}
	}
}

// TestTraced: -trace names runs by scenario and seed, several at once,
// and * for every seed of a scenario; nothing else is traced.
func TestTraced(t *testing.T) {
	for _, c := range []struct {
		list, name string
		seed       int64
		want       bool
	}{
		{"step-2-4:54", "step-2-4", 54, true},
		{"step-2-4:54", "step-2-4", 5, false},
		{"step-2-4:54", "step-2-20", 54, false},
		{"exp-1h:3, step-2-4:*", "step-2-4", 17, true},
		{"exp-1h:3, step-2-4:*", "exp-1h", 3, true},
		{"exp-1h:3, step-2-4:*", "exp-1h", 4, false},
		{"step-2-4", "step-2-4", 1, false},
		{"", "step-2-4", 1, false},
	} {
		if got := traced(c.list, c.name, c.seed); got != c.want {
			t.Errorf("traced(%q, %q, %d) = %v, want %v", c.list, c.name, c.seed, got, c.want)
		}
	}
}

// selectedNames is names of the scenarios o selects, comma-separated.
func selectedNames(o *options) string {
	var scs []scen
	for _, sc := range o.selected() {
		scs = append(scs, *sc)
	}
	return strings.Join(names(scs), ",")
}
