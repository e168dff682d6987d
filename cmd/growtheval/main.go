// Command growtheval measures the growth classifier against the ground
// truth of seeded scenarios. Every run generates a scenario in memory and
// feeds its frames through the real decoder and engine into the classifier,
// as the sensor does with a capture; the verdicts after every window are
// scored against the scenario's model and printed as Markdown tables:
//
//	growtheval [-seeds 200] [-quick] [-scenario REGEXP] [-o report.md]
//	           [-horizons 6h,24h] [-confidence 0.99] [-min-doubling 24h] ...
//
// Exit status: 0 when the evaluation ran (whatever the targets say), 1 when
// it could not run, 2 for a bad command line.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/synscope/synscope/pkg/growth"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// options is the parsed command line.
type options struct {
	seeds   int
	quick   bool
	filter  *regexp.Regexp
	out     string
	workers int
	trace   string // "scenario:seed,...": print those runs' windows to stderr (see traced)
	set     string // which scenarios: issue, variants or all (see pool)
	growth  growth.Config
	args    []string // as given, for the report
}

// quickSeeds is the number of seeds -quick uses unless -seeds is given.
const quickSeeds = 5

// parseArgs parses args (without the program name). Errors are flag
// syntax errors (already reported on stderr by the flag package, when
// stderr is not nil), bad values, or flag.ErrHelp.
func parseArgs(args []string, stderr io.Writer) (*options, error) {
	if stderr == nil {
		stderr = io.Discard
	}
	fs := flag.NewFlagSet("growtheval", flag.ContinueOnError)
	fs.SetOutput(stderr)
	def := growth.DefaultConfig()
	o := &options{args: args, growth: def}
	var filter, horizons string
	fs.IntVar(&o.seeds, "seeds", 200, fmt.Sprintf("seeds (runs) per scenario (-quick: %d unless given)", quickSeeds))
	fs.BoolVar(&o.quick, "quick", false, "CI-sized run: few seeds, shorter scenarios")
	fs.StringVar(&filter, "scenario", "", "run only the scenarios whose name matches this regexp")
	fs.StringVar(&o.set, "set", "issue", "scenario set: issue (the issue's shapes, scored in docs/growth-200.md), variants (other levels, ratios, windows and doubling times of those shapes) or all")
	fs.StringVar(&o.out, "o", "", "write the report to this file instead of stdout")
	fs.IntVar(&o.workers, "workers", runtime.NumCPU(), "parallel runs")
	fs.StringVar(&o.trace, "trace", "", "print the windows of these runs to stderr: scenario:seed, comma-separated (seed * for every seed); without -scenario only the traced scenarios run (their seeds up to -seeds)")
	fs.StringVar(&horizons, "horizons", durations(def.Horizons), "classifier: fit horizons, shortest first")
	fs.Float64Var(&o.growth.Confidence, "confidence", def.Confidence, "classifier: confidence a model needs")
	fs.Float64Var(&o.growth.LinearConfidence, "linear-confidence", def.LinearConfidence, "classifier: confidence linear needs")
	fs.DurationVar(&o.growth.MinDoubling, "min-doubling", def.MinDoubling, "classifier: slowest doubling called exponential")
	fs.IntVar(&o.growth.MinWindows, "min-windows", def.MinWindows, "classifier: fewest windows in a horizon")
	fs.IntVar(&o.growth.MinEvents, "min-events", def.MinEvents, "classifier: fewest new sources in a horizon")
	fs.StringVar(&o.growth.Diurnal, "diurnal", def.Diurnal, "classifier: day/night term: auto, on or off")
	fs.Float64Var(&o.growth.DiurnalAmplitude, "diurnal-amplitude", def.DiurnalAmplitude, "classifier: day/night amplitude assumed before 24 h")
	fs.Float64Var(&o.growth.CycleAmplitude, "cycle-amplitude", def.CycleAmplitude, "classifier: strongest day/night cycle an exponential verdict must beat (0: off)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: growtheval [flags]\n\nScenarios (issue): %s\n\nScenarios (variants): %s\n\nFlags:\n",
			strings.Join(names(scenarios()), ", "), strings.Join(names(variants()), ", "))
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	seedsGiven := false
	fs.Visit(func(f *flag.Flag) { seedsGiven = seedsGiven || f.Name == "seeds" })
	if o.quick && !seedsGiven {
		o.seeds = quickSeeds
	}
	if o.seeds < 1 {
		return nil, fmt.Errorf("-seeds %d: need at least 1", o.seeds)
	}
	if o.workers < 1 {
		return nil, fmt.Errorf("-workers %d: need at least 1", o.workers)
	}
	if o.pool() == nil {
		return nil, fmt.Errorf("-set %q: want issue, variants or all", o.set)
	}
	filterGiven := false
	fs.Visit(func(f *flag.Flag) { filterGiven = filterGiven || f.Name == "scenario" })
	if o.trace != "" && !filterGiven {
		// A trace is of a few runs: the whole set at 200 seeds would
		// run first (half an hour) for them.
		if filter = tracedFilter(o.trace); filter == "" {
			return nil, fmt.Errorf("-trace %q: want scenario:seed items, comma-separated", o.trace)
		}
	}
	var err error
	if o.filter, err = regexp.Compile(filter); err != nil {
		return nil, fmt.Errorf("-scenario: %w", err)
	}
	if o.growth.Horizons, err = parseDurations(horizons); err != nil {
		return nil, fmt.Errorf("-horizons: %w", err)
	}
	// Every window length in use must suit the classifier settings.
	for _, sc := range o.selected() {
		w := sc.config(o.quick).Normalize().Window
		if err := o.growth.Validate(w); err != nil {
			return nil, fmt.Errorf("scenario %s (window %v): %w", sc.name, w, err)
		}
	}
	if len(o.selected()) == 0 {
		return nil, fmt.Errorf("-scenario %q matches none of %s (-set %s)", filter, strings.Join(names(o.pool()), ", "), o.set)
	}
	return o, nil
}

// pool is the scenario set -set names (nil for an unknown name).
func (o *options) pool() []scen {
	switch o.set {
	case "issue":
		return scenarios()
	case "variants":
		return variants()
	case "all":
		return append(scenarios(), variants()...)
	}
	return nil
}

func (o *options) selected() []*scen {
	var out []*scen
	for _, sc := range o.pool() {
		if o.filter.MatchString(sc.name) {
			out = append(out, &sc)
		}
	}
	return out
}

func names(scs []scen) []string {
	var n []string
	for _, sc := range scs {
		n = append(n, sc.name)
	}
	return n
}

func parseDurations(s string) ([]time.Duration, error) {
	var out []time.Duration
	for f := range strings.SplitSeq(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		d, err := time.ParseDuration(f)
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("%q is not a positive duration", f)
		}
		out = append(out, d)
	}
	if len(out) == 0 {
		return nil, errors.New("give at least one duration")
	}
	return out, nil
}

func durations(ds []time.Duration) string {
	s := make([]string, len(ds))
	for i, d := range ds {
		s[i] = shortDur(d)
	}
	return strings.Join(s, ",")
}

// shortDur prints 6h0m0s as 6h and 1h30m0s as 1h30m.
func shortDur(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

func run(args []string, stdout, stderr io.Writer) int {
	o, err := parseArgs(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "growtheval:", err)
		return 2
	}
	out := stdout
	var file *os.File
	if o.out != "" {
		if file, err = os.Create(o.out); err != nil {
			fmt.Fprintln(stderr, "growtheval:", err)
			return 1
		}
		out = file
	}
	err = evaluate(o, out, stderr, time.Now)
	if file != nil {
		if cerr := file.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		fmt.Fprintln(stderr, "growtheval:", err)
		return 1
	}
	return 0
}

// evaluate runs every selected scenario with every seed over o.workers
// goroutines and writes the report; results are gathered in (scenario,
// seed) order, so the report does not depend on scheduling.
func evaluate(o *options, out, stderr io.Writer, now func() time.Time) error {
	began := now()
	scs := o.selected()
	var specs []runSpec
	for _, sc := range scs {
		for s := 1; s <= o.seeds; s++ {
			specs = append(specs, runSpec{sc: sc, seed: int64(s)})
		}
	}
	results := make([]runResult, len(specs))
	jobs := make(chan int)
	var wg sync.WaitGroup
	var traceMu sync.Mutex
	for range min(o.workers, len(specs)) {
		wg.Go(func() {
			for i := range jobs {
				var trace io.Writer
				var buf strings.Builder
				if traced(o.trace, specs[i].sc.name, specs[i].seed) {
					trace = &buf
				}
				results[i] = evalRun(specs[i], o, trace)
				if trace != nil {
					traceMu.Lock()
					io.WriteString(stderr, buf.String())
					traceMu.Unlock()
				}
			}
		})
	}
	for i := range specs {
		jobs <- i
	}
	close(jobs)
	wg.Wait()

	var errs []error
	for i := range results {
		if results[i].err != nil {
			errs = append(errs, results[i].err)
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	groups := make([]group, len(scs))
	for i, sc := range scs {
		groups[i] = group{sc: sc, runs: results[i*o.seeds : (i+1)*o.seeds]}
	}
	rep := report(o, groups)
	wall := now().Sub(began)
	_, err := fmt.Fprintf(out, "%s\nWall time: %s for %d runs (%d workers).\n", rep, wall.Round(time.Millisecond), len(specs), o.workers)
	return err
}

// commandLine quotes args for a shell where needed.
func commandLine(args []string) string {
	parts := []string{"growtheval"}
	for _, a := range args {
		if a == "" || strings.ContainsAny(a, " \t\"'$`\\|&;<>()*?[]{}!#~") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		parts = append(parts, a)
	}
	return strings.Join(parts, " ")
}

// tracedFilter is the -scenario regexp of the scenarios a -trace list
// names ("" when it names none).
func tracedFilter(list string) string {
	var q []string
	for _, item := range strings.Split(list, ",") {
		if sc, _, ok := strings.Cut(strings.TrimSpace(item), ":"); ok && sc != "" {
			q = append(q, regexp.QuoteMeta(sc))
		}
	}
	if len(q) == 0 {
		return ""
	}
	return "^(" + strings.Join(q, "|") + ")$"
}

// traced says whether the run of scenario name with seed is one the
// -trace list names: "scenario:seed" items, comma-separated, where seed
// may be * for every seed of that scenario.
func traced(list, name string, seed int64) bool {
	for _, item := range strings.Split(list, ",") {
		sc, s, ok := strings.Cut(strings.TrimSpace(item), ":")
		if ok && sc == name && (s == "*" || s == strconv.FormatInt(seed, 10)) {
			return true
		}
	}
	return false
}
