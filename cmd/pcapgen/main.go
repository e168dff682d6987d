// Command pcapgen writes a synthetic capture file of a named scenario (see
// package scenario) and its ground truth as JSON beside it:
//
//	pcapgen -scenario demo -seed 1 -o testdata/demo.pcapng [-truth path]
//
// The file name decides the format: .pcap, .pcapng, optionally followed by
// .gz. Flags override the preset's parameters. Exit status: 0 success,
// 1 failure while generating or writing, 2 bad flags.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/synscope/synscope/internal/scenario"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// options is the outcome of parsing the command line.
type options struct {
	out        string
	truth      string
	nanosecond bool
	quiet      bool
	list       bool
	cfg        scenario.Config
}

// usageError is a bad command line (exit status 2).
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func badf(format string, a ...any) error { return usageError{fmt.Errorf(format, a...)} }

// parseArgs parses args (without the program name) into options: the
// preset chosen by -scenario, overridden by every flag given explicitly.
// Flag syntax errors are reported on stderr by the flag package; every
// error returned is a usageError, or flag.ErrHelp.
func parseArgs(args []string, stderr io.Writer) (*options, error) {
	fs := flag.NewFlagSet("pcapgen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		o        options
		name     = fs.String("scenario", "demo", "preset: "+strings.Join(scenario.PresetNames(), ", "))
		seed     = fs.Int64("seed", 1, "random seed")
		start    = fs.String("start", "", "scenario start, RFC 3339 (default 2009-01-10T00:00:00Z)")
		duration = fs.Duration("duration", 0, "scenario length")
		model    = fs.String("model", "", "infection model: steady, exponential, logistic, flat, decline, none")
		rate     = fs.Float64("rate", 0, "new sources per hour at the start (Rate0)")
		doubling = fs.Duration("doubling", 0, "doubling time (exponential, logistic) or half-life (decline)")
		capacity = fs.Int("capacity", 0, "logistic capacity (total infections)")
		pop      = fs.Int("population", 0, "sources infected at the start (flat: the whole population)")
		maxSrc   = fs.Int("max-sources", 0, "cap on infections after the start")
		daynight = fs.Float64("daynight", 0, "day/night amplitude 0..1 (peak 14:00 UTC)")
		overdisp = fs.Float64("overdispersion", 0, "gamma dispersion of the per-window rate (0 = Poisson)")
		churn    = fs.Float64("churn", 0, "probability per hour that a source changes address")
		scan     = fs.Duration("scan", 0, "mean scanning period before a source sleeps (0 = never sleeps)")
		sleep    = fs.Duration("sleep", 0, "mean sleeping period")
		ppm      = fs.Float64("ppm", 0, "SYN probes per minute per scanning source")
		retrans  = fs.Float64("retransmit", 0, "probability that a probe is retransmitted once")
		bg       = fs.Float64("background", 0, "background packets per second (never watched SYNs)")
		floodAt  = fs.Duration("flood-at", 0, "flood start, after the scenario start")
		floodN   = fs.Int("flood-count", 0, "flood SYNs from distinct spoofed sources to one target (0 = none)")
		floodDur = fs.Duration("flood-span", 0, "flood length")
		flood6   = fs.Float64("flood-ipv6", 0, "fraction of flood sources that are IPv6 0..1")
		ipv6     = fs.Float64("ipv6", 0, "fraction of IPv6 sources 0..1")
		vlan     = fs.Float64("vlan", 0, "fraction of 802.1Q-tagged frames 0..1")
		window   = fs.Duration("window", 0, "truth window length (default 5m)")
		lookback = fs.Duration("lookback", 0, "truth lookback for new sources (default 24h)")
		ports    = fs.String("ports", "", "watched ports, comma-separated (default 445)")
		snaplen  = fs.Int("snaplen", 0, "truncate frames to this many bytes (0 = whole frames; >= 128)")
	)
	fs.StringVar(&o.out, "o", "", "capture file to write: .pcap, .pcapng, optionally .gz (required)")
	fs.StringVar(&o.truth, "truth", "", "truth JSON to write (default: capture path with .truth.json)")
	fs.BoolVar(&o.nanosecond, "nanosecond", false, "nanosecond timestamps in pcap files (pcapng always has them)")
	fs.BoolVar(&o.quiet, "q", false, "print nothing on success")
	fs.BoolVar(&o.list, "list", false, "list the presets and exit")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: pcapgen -scenario NAME -seed N -o FILE.pcapng [-truth FILE.json] [flags]\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, usageError{err}
	}
	if fs.NArg() > 0 {
		return nil, badf("unexpected argument %q", fs.Arg(0))
	}
	if o.list {
		return &o, nil
	}
	cfg, err := scenario.Preset(*name)
	if err != nil {
		return nil, usageError{err}
	}
	var errs []error
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "start":
			t, err := time.Parse(time.RFC3339Nano, *start)
			if err != nil {
				errs = append(errs, fmt.Errorf("-start: %v", err))
			}
			cfg.Start = t
		case "duration":
			cfg.Duration = *duration
		case "model":
			m, err := scenario.ParseModel(*model)
			if err != nil {
				errs = append(errs, fmt.Errorf("-model: %v", err))
			}
			cfg.Model = m
		case "rate":
			cfg.Rate0 = *rate
		case "doubling":
			cfg.Doubling = *doubling
		case "capacity":
			cfg.Capacity = *capacity
		case "population":
			cfg.Population = *pop
		case "max-sources":
			cfg.MaxSources = *maxSrc
		case "daynight":
			cfg.DayNight = *daynight
		case "overdispersion":
			cfg.Overdispersion = *overdisp
		case "churn":
			cfg.Churn = *churn
		case "scan":
			cfg.ScanDuration = *scan
		case "sleep":
			cfg.SleepDuration = *sleep
		case "ppm":
			cfg.ProbesPerMinute = *ppm
			if *ppm == 0 {
				errs = append(errs, errors.New("-ppm must be > 0"))
			}
		case "retransmit":
			cfg.RetransmitProb = *retrans
		case "background":
			cfg.Background = *bg
		case "flood-at":
			cfg.FloodAt = *floodAt
		case "flood-count":
			cfg.FloodCount = *floodN
		case "flood-span":
			cfg.FloodSpan = *floodDur
		case "flood-ipv6":
			cfg.FloodIPv6 = *flood6
		case "ipv6":
			cfg.IPv6Fraction = *ipv6
		case "vlan":
			cfg.VLANFraction = *vlan
		case "window":
			cfg.Window = *window
		case "lookback":
			cfg.Lookback = *lookback
		case "ports":
			p, err := scenario.ParsePorts(*ports)
			if err != nil {
				errs = append(errs, fmt.Errorf("-ports: %v", err))
			}
			cfg.Ports = p
		case "snaplen":
			cfg.SnapLen = *snaplen
		}
	})
	cfg.Seed = *seed
	if len(errs) > 0 {
		return nil, usageError{errors.Join(errs...)}
	}
	for _, d := range []struct {
		flag string
		v    time.Duration
	}{{"duration", *duration}, {"window", *window}, {"lookback", *lookback}, {"flood-span", *floodDur}} {
		if isSet(fs, d.flag) && d.v <= 0 {
			return nil, badf("-%s must be > 0, got %v", d.flag, d.v)
		}
	}
	cfg = cfg.Normalize()
	if err := cfg.Validate(); err != nil {
		return nil, usageError{err}
	}
	if o.out == "" {
		return nil, badf("-o FILE is required (.pcap, .pcapng, optionally .gz)")
	}
	if _, _, err := scenario.FormatOf(o.out); err != nil {
		return nil, usageError{err}
	}
	if o.truth == "" {
		o.truth = scenario.TruthPath(o.out)
	}
	if o.truth == o.out {
		return nil, badf("-truth must differ from -o")
	}
	o.cfg = cfg
	return &o, nil
}

func isSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// run is main without the exit: it returns the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	o, err := parseArgs(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "pcapgen: %v\n", err)
		return 2
	}
	if o.list {
		for _, n := range scenario.PresetNames() {
			c, _ := scenario.Preset(n)
			fmt.Fprintf(stdout, "%-12s model=%s duration=%v rate=%g/h doubling=%v population=%d background=%g/s flood=%d\n",
				n, c.Model, c.Duration, c.Rate0, c.Doubling, c.Population, c.Background, c.FloodCount)
		}
		return 0
	}
	t, err := scenario.GenerateFile(o.cfg, o.out, scenario.FileOptions{Nanosecond: o.nanosecond})
	if err != nil {
		fmt.Fprintf(stderr, "pcapgen: %v\n", err)
		return 1
	}
	if err := scenario.WriteTruthFile(o.truth, t); err != nil {
		fmt.Fprintf(stderr, "pcapgen: %v\n", err)
		return 1
	}
	if !o.quiet {
		size := int64(-1)
		if st, err := os.Stat(o.out); err == nil {
			size = st.Size()
		}
		fmt.Fprintf(stdout, "pcapgen: %s: %d bytes, %d packets, %d watched SYNs, %d new sources, %d windows; truth %s\n",
			o.out, size, t.Totals.Packets, t.Totals.SYNPackets, t.Totals.NewSources, t.Totals.Windows, o.truth)
	}
	return 0
}
