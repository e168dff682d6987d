package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/rs/zerolog"

	"github.com/synscope/synscope/pkg/capture/pcapfile"
	"github.com/synscope/synscope/pkg/config"
	"github.com/synscope/synscope/pkg/decode"
	"github.com/synscope/synscope/pkg/engine"
	"github.com/synscope/synscope/pkg/output"
	"github.com/synscope/synscope/pkg/pipeline"
)

// runOffline reads the capture files named in cfg and writes the records.
func runOffline(ctx context.Context, cfg *config.Config, stdout, stderr io.Writer, log zerolog.Logger) (output.Stats, error) {
	if err := checkWritable(cfg.StateFile, cfg.Output, false, ""); err != nil {
		return output.Stats{}, err
	}
	out, closeOut, err := openOutput(cfg.Output, false, stdout)
	if err != nil {
		return output.Stats{}, err
	}
	defer closeOut()
	w, eng, err := newAnalysis(cfg, false, out, log)
	if err != nil {
		return output.Stats{}, err
	}
	src, err := pcapfile.Open(cfg.Read)
	if err != nil {
		return output.Stats{}, err
	}
	defer src.Close()
	dec := &decode.Decoder{Ports: cfg.Ports}

	bar := newProgress(cfg.Progress, stderr, src.Progress)
	hooks := pipeline.Hooks{
		InputError: func(err error) {
			bar.clear()
			log.Error().Err(err).Msg("input failed; going on with the others")
		},
		Tick: bar.tick,
	}
	started := time.Now()
	log.Info().Strs("read", cfg.Read).Str("ports", cfg.Ports.String()).
		Stringer("window", cfg.Window).Stringer("lookback", cfg.Lookback).Msg("reading")
	st, runErr := pipeline.Run(ctx, src, dec, eng, w, hooks)
	bar.done()

	sum := output.Summary{
		Engine:   eng.Counters(),
		Top:      eng.Top(),
		Ports:    cfg.Ports.String(),
		Window:   cfg.Window,
		Lookback: cfg.Lookback,
	}
	for _, in := range src.Stats() {
		i := output.Input{Path: in.Path, Format: in.Format, Packets: in.Packets, Skipped: in.Skipped}
		if in.Skipped != "" {
			log.Info().Str("file", in.Path).Str("reason", in.Skipped).Msg("skipped: not a capture file")
		}
		if in.Err != nil {
			i.Err = in.Err.Error()
		}
		sum.Inputs = append(sum.Inputs, i)
	}
	w.Summary(&sum)
	if err := w.Flush(); err != nil && runErr == nil {
		runErr = fmt.Errorf("write %s: %w", cfg.Output, err)
	}
	if err := saveState(eng, cfg.StateFile); err != nil && runErr == nil {
		runErr = err
	}
	elapsed := time.Since(started)
	log.Info().Uint64("packets", st.Engine.Packets).Uint64("syn_matched", st.Results[decode.Matched]).
		Uint64("new_sources", st.Engine.NewSources).Uint64("windows", st.Engine.Windows).
		Str("growth", eng.Verdict().Model).
		Stringer("elapsed", elapsed.Round(time.Millisecond)).Msg("done")
	return st, runErr
}

// openOutput opens the JSONL destination: stdout for "-", else the file,
// appended to by a live run and started afresh by an offline one (see
// output.OpenFile).
func openOutput(path string, appendTo bool, stdout io.Writer) (io.Writer, func(), error) {
	if path == "-" {
		return stdout, func() {}, nil
	}
	f, err := output.OpenFile(path, appendTo)
	if err != nil {
		return nil, nil, err
	}
	return f, func() { f.Close() }, nil
}

// newAnalysis builds the stages after capture, shared by live and offline
// runs: the writer and the engine (with the growth classifier unless it is
// off), with its state loaded when there is a state file. A live engine
// drops (and counts) a SYN whose shard ring is full; a file's waits.
func newAnalysis(cfg *config.Config, live bool, out io.Writer, log zerolog.Logger) (*output.Writer, *engine.Engine, error) {
	w := output.NewWriter(out, cfg.SensorID)
	ecfg := cfg.Engine()
	ecfg.DropWhenFull = live
	if !cfg.GrowthOff {
		ecfg.Growth = &cfg.Growth
	}
	eng, err := engine.New(ecfg, w)
	if err != nil {
		return nil, nil, err
	}
	if err := loadState(eng, cfg.StateFile, cfg.StateReset, log); err != nil {
		return nil, nil, err
	}
	return w, eng, nil
}
