package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/synscope/synscope/pkg/config"
	"github.com/synscope/synscope/pkg/fleet"
	"github.com/synscope/synscope/pkg/output"
)

// runCollect is `sensor collect`: a member of the collectors' consumer
// group that writes the fleet's windows.
func runCollect(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, err := interruptible(ctx, "while the configuration was read", func() (*config.Collect, error) { return config.LoadCollect(args) }, nil)
	if errors.Is(err, context.Canceled) {
		fmt.Fprintf(stderr, "sensor collect: %v\n", err)
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "sensor collect: %v\nRun 'sensor help collect' for usage.\n", err)
		return exitUsage
	}
	if cfg.Help {
		collectUsage(stdout)
		return exitOK
	}
	log := logger(cfg.LogLevel, cfg.LogFormat, stderr)
	// SIGHUP reopens the output (log rotation), as it does the sensor's;
	// caught from the start: its default action ended the collector.
	sig, stopHup := hupSignals()
	defer stopHup()
	// The output is opened (truncated) once the brokers have answered: a
	// collector that never starts must not empty an earlier run's file.
	var out output.Driver
	w := output.NewWriter(io.Discard, cfg.SensorID)
	fc := fleet.Config{Kafka: cfg.Kafka.Config, Group: cfg.Group, Window: cfg.Window, Lookback: cfg.Lookback,
		MaxLag: cfg.MaxLag, Once: cfg.Once,
		Log: func(msg string, fields ...any) { log.Info().Fields(fields).Msg(msg) },
		ReopenOutput: func() {
			reopened, err := out.Reopen()
			switch {
			case err != nil:
				log.Error().Err(err).Str("output", cfg.Output).Msg("SIGHUP: cannot reopen the output; going on with the old file")
			case reopened:
				if err := w.Reset(out); err != nil {
					log.Warn().Err(err).Msg("SIGHUP: flushing the old output failed")
				}
				log.Info().Str("output", cfg.Output).Msg("SIGHUP: output reopened")
			}
		}}
	if !cfg.GrowthOff {
		fc.Growth = &cfg.Growth
	}
	col, err := fleet.New(ctx, fc, w)
	if err != nil {
		log.Error().Err(err).Msg("cannot start")
		return exitFatal
	}
	if out, err = openOutput(ctx, cfg.Output, !cfg.Once, stdout); errors.Is(err, context.Canceled) {
		log.Warn().Err(err).Msg("interrupted before the collector began: nothing written")
		return exitOK // as a collector stopped by a signal
	} else if err != nil {
		log.Error().Err(err).Msg("cannot start")
		return exitUsage // as the sensor's own output: a setting to change
	}
	defer out.Close()
	if err := w.Reset(out); err != nil {
		log.Error().Err(err).Msg("cannot start")
		return exitFatal
	}
	ended := make(chan struct{})
	defer close(ended)
	go func() {
		for {
			select {
			case <-sig:
				col.Reopen()
			case <-ended:
				return
			}
		}
	}()
	started := time.Now()
	log.Info().Strs("brokers", cfg.Kafka.Brokers).Str("topic", cfg.Kafka.Topic).Bool("once", cfg.Once).Msg("collecting")
	st, err := col.Run(ctx)
	log.Info().Uint64("records", st.Records).Uint64("bad_records", st.Bad).Uint64("late_records", st.Late).
		Uint64("windows", st.Windows).Stringer("elapsed", time.Since(started).Round(time.Millisecond)).Msg("done")
	if err != nil && errors.Is(err, context.Canceled) && cfg.Once {
		log.Warn().Err(err).Msg("collect --once interrupted")
		return interruptedStatus(ctx) // a batch run that did not finish
	}
	if err != nil {
		log.Error().Err(err).Msg("collect failed")
		return exitFatal
	}
	return exitOK
}

func collectUsage(w io.Writer) {
	fmt.Fprint(w, `sensor collect: the fleet's picture from the sensors' records on Kafka.

Sensors started with --kafka-brokers publish their records, a sighting of each
active source per window and their progress. sensor collect is a member of a
Kafka consumer group: several share the topic's partitions (a source's partition
owns its fleet-wide state). It writes, per window, the fleet's window record
(new sources to the whole fleet: not seen by any sensor in the lookback; active
sources; SYNs), a fleet record with each sensor's own counts and the sensors not
waited for, and the growth verdict, with sensor set to --sensor-id.

Usage:
  sensor collect --kafka-brokers HOST:PORT[,...] [--kafka-topic synscope] [-o FILE] [--once]
                 [--sensor-id fleet] [--max-lag D] [flags]

Examples:
  sensor collect --kafka-brokers k1:9092 -o fleet.jsonl            a live member of the group
  sensor collect --kafka-brokers k1:9092 --once | jq 'select(.event_type=="window")'

Flags:
`)
	fs := config.CollectFlagSet()
	fs.SetOutput(w)
	fs.PrintDefaults()
	fmt.Fprint(w, `
Exit status: 0 success (a live collector stopped by SIGINT or SIGTERM too); 1 the
brokers could not be reached (after --kafka-timeout) or the run failed; 2 a bad
flag or setting; 130 or 143 a --once run stopped by SIGINT or SIGTERM before it
wrote its windows (it writes none then). docs/fleet.md explains the method.
`)
}
