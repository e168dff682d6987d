// Command sensor is synscope's passive SYN-scan sensor. It owns the flags
// and configuration, the choice of capture backend and output driver,
// logging, signals, dropping privileges and the wiring; the run itself (its
// start, its live loop's periodic work, its end) is pkg/lifecycle's, and
// the rest of the work lives in pkg/ too.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"syscall"

	"github.com/synscope/synscope/pkg/benign"
	"github.com/synscope/synscope/pkg/config"
	"github.com/synscope/synscope/pkg/lifecycle"
	"github.com/synscope/synscope/pkg/metrics"
	"github.com/synscope/synscope/pkg/networks"
	"github.com/synscope/synscope/pkg/output"
)

// Exit statuses.
const (
	exitOK          = 0
	exitFatal       = 1 // the run could not go on
	exitUsage       = 2 // a bad flag, variable or config value
	exitInputFailed = 3 // the run finished, but some inputs could not be read completely
	// exitInterrupted: an offline run ended by SIGINT (the shell's 128 +
	// the signal: 143 for SIGTERM); the records of what was analysed are
	// written.
	exitInterrupted = 130
)

func main() {
	// The first SIGINT or SIGTERM ends the run in order (the last
	// records, the alerts' hooks for up to 1 s, the Kafka flush); a
	// second one ends the process at once. The signal is the context's
	// cause (an interrupted offline run's exit status says which).
	ctx, cancel := context.WithCancelCause(context.Background())
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		s := <-sigs
		signal.Stop(sigs) // the next one: the default action
		cancel(signalled{s})
	}()
	// SIGHUP is caught from the first moment (its default action ends the
	// process): a log rotation while the configuration, --benign or
	// --mmdb were read ended a starting live sensor (a review). A live
	// run and the collector act on it once they exist (hupSignals); an
	// offline run ignores it.
	// (Not for report, help and completion, which SIGHUP ends as
	// before.)
	if len(os.Args) < 2 || !slices.Contains([]string{"report", "help", "completion"}, os.Args[1]) {
		hup = make(chan os.Signal, 1)
		signal.Notify(hup, syscall.SIGHUP)
	}
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	signal.Stop(sigs)
	if hup != nil {
		signal.Stop(hup)
	}
	cancel(nil)
	os.Exit(code)
}

// hup is the channel main has SIGHUPs come on from the process's start,
// so that one before a run exists is neither lost nor the process's end;
// nil when run is called otherwise (tests).
var hup chan os.Signal

// hupSignals is the channel SIGHUPs come on: main's, with any that came
// already, or one made now; stop ends this caller's interest.
func hupSignals() (ch chan os.Signal, stop func()) {
	if hup != nil {
		return hup, func() {}
	}
	ch = make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGHUP)
	return ch, func() { signal.Stop(ch) }
}

// signalled is the cause of a run ended by a signal.
type signalled struct{ sig os.Signal }

func (s signalled) Error() string { return s.sig.String() + " received" }

// interruptedStatus is the exit status of an offline run a signal ended:
// the shell's 128 + its number (130 for SIGINT, 143 for SIGTERM).
func interruptedStatus(ctx context.Context) int {
	var s signalled
	if errors.As(context.Cause(ctx), &s) {
		if n, ok := s.sig.(syscall.Signal); ok {
			return 128 + int(n)
		}
	}
	return exitInterrupted
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	// A subcommand is the first word; a capture file of the same name can
	// still be read as ./report or with -r.
	if len(args) > 0 {
		switch args[0] {
		case "report":
			return runReport(args[1:], stdout, stderr)
		case "help":
			return runHelp(args[1:], stdout, stderr)
		case "completion":
			return runCompletion(args[1:], stdout, stderr)
		case "collect":
			return runCollect(ctx, args[1:], stdout, stderr)
		}
	}
	// A config file that is a FIFO waits for its writer: a signal then
	// ends the run (interruptible).
	cfg, err := interruptible(ctx, "while the configuration was read", func() (*config.Config, error) { return config.Load(args) }, nil)
	if errors.Is(err, context.Canceled) {
		fmt.Fprintf(stderr, "sensor: %v\n", err)
		return interruptedStatus(ctx)
	}
	if err != nil {
		fmt.Fprintf(stderr, "sensor: %v\nRun 'sensor --help' for usage.\n", err)
		return exitUsage
	}
	switch {
	case cfg.Help:
		usage(stdout)
		return exitOK
	case cfg.Version:
		fmt.Fprintf(stdout, "sensor %s\n", version())
		return exitOK
	case cfg.PrintConfig:
		if err := cfg.WriteYAML(stdout); err != nil {
			fmt.Fprintf(stderr, "sensor: %v\n", err)
			if errors.Is(err, config.ErrNotUTF8) {
				return exitUsage // a setting to give another way
			}
			return exitFatal
		}
		return exitOK
	}
	log := newLogger(cfg, stderr)
	// The network databases are opened (and checked) before anything is
	// captured or read: a missing or damaged one is a setting to fix.
	// Either may be a FIFO (--benign <(curl ...)) whose writer is not
	// there yet: a signal ends that wait too (interruptible).
	var lists lookups
	interruptedEarly := func(err error) int {
		log.Warn().Err(err).Msg("interrupted before the run began: nothing analysed, nothing written")
		if cfg.Iface != "" {
			return exitOK // as a live sensor stopped by a signal
		}
		return interruptedStatus(ctx)
	}
	if len(cfg.MMDB) > 0 {
		lists.nets, err = interruptible(ctx, "while the --mmdb files were read", func() (*networks.DB, error) { return networks.Open(cfg.MMDB) },
			func(db *networks.DB) { db.Close() })
		if errors.Is(err, context.Canceled) {
			return interruptedEarly(err)
		}
		if err != nil {
			log.Error().Err(err).Msg("cannot start")
			return exitUsage
		}
		defer lists.nets.Close()
	}
	if cfg.Benign != "" {
		lists.benign, err = interruptible(ctx, "while the --benign list was read", func() (*benign.List, error) { return benign.Load(cfg.Benign) }, nil)
		if errors.Is(err, context.Canceled) {
			return interruptedEarly(err)
		}
		if err != nil {
			log.Error().Err(err).Msg("cannot start")
			return exitUsage
		}
	}
	var res output.Stats
	if cfg.Iface != "" {
		res, err = runLive(ctx, cfg, lists, stdout, log)
	} else {
		res, err = runOffline(ctx, cfg, lists, stdout, stderr, log)
	}
	var se settingError
	switch {
	case errors.As(err, &se):
		log.Error().Err(err).Msg("cannot start")
		return exitUsage
	case errors.As(err, new(interrupted)):
		return interruptedEarly(err)
	case errors.Is(err, context.Canceled):
		log.Warn().Uint64("packets", res.Engine.Packets).Msg("interrupted: the records of the packets analysed are written (the summary's inputs count what the readers took, which an interrupt leaves different)")
		return interruptedStatus(ctx)
	case err != nil:
		log.Error().Err(err).Msg("run failed")
		return exitFatal
	case ctx.Err() != nil && cfg.Iface == "":
		// A signal after the last packet, while the end of the run waited
		// for the alert hooks (cut short, within a second): every packet
		// was analysed, but the run did not end as it would have.
		log.Warn().Msg("interrupted after the last packet: every record is written; alert deliveries still under way were cut off")
		return interruptedStatus(ctx)
	case res.InputsFailed > 0:
		log.Warn().Uint64("inputs_failed", res.InputsFailed).Msg("some inputs could not be read completely; what they held before the error is analysed")
		return exitInputFailed
	}
	return exitOK
}

// settingError is a setting found unusable at start, after the flags were
// parsed (a directory the sensor's user cannot write): exit status 2, like
// a bad flag, and nothing captured or read.
type settingError struct{ error }

func (e settingError) Unwrap() error { return e.error }

// runConfig is the run's part of the configuration. Growth is classified
// unless it is turned off.
// lookups are the files the records are looked up in, opened at start.
type lookups struct {
	nets   *networks.DB
	benign *benign.List
}

func runConfig(cfg *config.Config, live bool, met *metrics.Metrics, lists lookups) lifecycle.Config {
	rc := lifecycle.Config{
		SensorID:     cfg.SensorID,
		Engine:       cfg.Engine(),
		Ports:        cfg.Ports,
		Live:         live,
		StateFile:    cfg.StateFile,
		StateReset:   cfg.StateReset,
		StateEvery:   cfg.StateEvery,
		StatsEvery:   cfg.StatsEvery,
		Metrics:      met,
		AlertExec:    cfg.AlertExec,
		AlertWebhook: cfg.AlertWebhook,
		Networks:     lists.nets,
		Benign:       lists.benign,
	}
	if !cfg.GrowthOff {
		rc.Engine.Growth = &cfg.Growth
	}
	if len(cfg.Kafka.Brokers) > 0 {
		// The fleet's records go with the sensor's own to Kafka (and to
		// the file, so that it stays the same JSON everywhere).
		rc.Fleet = true
		rc.Engine.Sightings = cfg.Kafka.Refresh
		if rc.Engine.Sightings == 0 {
			rc.Engine.Sightings = cfg.Window
		}
	}
	return rc
}
