package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/synscope/synscope/pkg/capture/pcapfile"
	"github.com/synscope/synscope/pkg/config"
	"github.com/synscope/synscope/pkg/decode"
	"github.com/synscope/synscope/pkg/lifecycle"
	"github.com/synscope/synscope/pkg/output"
	"github.com/synscope/synscope/pkg/pipeline"
)

// runOffline reads the capture files named in cfg and writes the records.
func runOffline(ctx context.Context, cfg *config.Config, lists lookups, stdout, stderr io.Writer, log zerolog.Logger) (output.Stats, error) {
	// SIGHUP (a terminal hung up, logrotate's postrotate) ended an offline
	// run with no stats or summary; it goes on to its end as under nohup
	// (a live sensor reopens its output on it; an offline one keeps
	// writing where it was).
	signal.Ignore(syscall.SIGHUP)
	if err := checkWritable(cfg.StateFile, cfg.Output, false, ""); err != nil {
		return output.Stats{}, err
	}
	src, err := pcapfile.Open(cfg.Read)
	if err != nil {
		return output.Stats{}, err
	}
	defer src.Close()
	// The progress report, and the logger writing through it: a bar on
	// stderr is wiped before a log line, and with JSON logs progress is
	// a log line itself.
	console := consoleLogs(cfg.LogFormat, stderr)
	bar := newProgress(cfg.Progress, console, stderr)
	log = loggerTo(cfg.LogLevel, console, isTerminal(stderr), bar.Writer())
	bar.Track(src.Progress, log)
	if fi, err := os.Stat(cfg.Output); cfg.Output != "-" && err == nil {
		if err := src.CheckOutput(fi); err != nil {
			// Opening the output truncates it: the capture would be lost.
			return output.Stats{}, settingError{fmt.Errorf("--output %s %v: name another file for the records", cfg.Output, err)}
		}
	}
	if cfg.StateFile != "" {
		// The state is written over the file at the end (and with
		// --state-reset nothing checks it first): a capture or the
		// records named there would be lost, the records also when
		// neither file is there yet.
		sfi, serr := os.Stat(cfg.StateFile)
		if serr == nil {
			if err := src.CheckOutput(sfi); err != nil {
				return output.Stats{}, settingError{fmt.Errorf("--state-file %s %v: name another file for the state", cfg.StateFile, err)}
			}
		}
		// Its lock beside it (lifecycle.LockState), an earlier run's found
		// in a directory read: skipped without a word, as the state is.
		lockPath := lifecycle.StatePath(cfg.StateFile) + ".lock" // beside the state's real file, as LockState puts it
		if lfi, err := os.Stat(lockPath); err == nil {
			if err := src.CheckOutput(lfi); err != nil {
				return output.Stats{}, settingError{fmt.Errorf("--state-file %s: its lock %s %v: name another file for the state", cfg.StateFile, lockPath, err)}
			}
		}
		ofi, oerr := os.Stat(cfg.Output)
		if cfg.Output != "-" && (samePath(cfg.StateFile, cfg.Output) || (serr == nil && oerr == nil && os.SameFile(sfi, ofi))) {
			return output.Stats{}, settingError{fmt.Errorf("--state-file %s is the output (--output %s): name another file for the state", cfg.StateFile, cfg.Output)}
		}
	}
	// The state file is one sensor's: its lock is taken before anything
	// is opened for writing, so a run refused for it touches nothing.
	lock, err := lifecycle.LockState(cfg.StateFile, runLog(log))
	if err != nil {
		return output.Stats{}, settingError{err}
	}
	defer lock.Close()
	out, err := openOutputs(ctx, cfg, false, stdout, log)
	if err != nil {
		return output.Stats{}, err
	}
	defer out.Close()
	began := false
	defer removeIfRefused(out, cfg.Output, &began, log)
	rc := runConfig(cfg, false, nil, lists)
	rc.StateLock = lock
	rc.IdleTime = src.NewestModTime() // a rerun of a capture with no packet writes the same bytes
	if src.Streaming() {
		// A pipe from a capture still running (tcpdump -w - over ssh):
		// its records come out as they are made.
		rc.FlushEvery = streamFlush
	}
	r, err := lifecycle.New(rc, out, runLog(log))
	if errors.Is(err, lifecycle.ErrStateRefused) {
		return output.Stats{}, settingError{err} // nothing read yet: a setting to change
	} else if err != nil {
		return output.Stats{}, err
	}
	began = true

	in := lifecycle.Input{
		Source: src,
		Hooks: pipeline.Hooks{
			InputError: func(err error) {
				log.Error().Err(err).Msg("input failed; going on with the others")
			},
			Tick: bar.tick,
		},
		Describe: func(*output.Stats) []output.Input {
			bar.done() // the loop is over: no more bar, and the lines below stay clean
			return describeFiles(src.Stats(), log)
		},
	}
	started := time.Now()
	log.Info().Strs("read", cfg.Read).Str("ports", cfg.Ports.String()).
		Stringer("window", cfg.Window).Stringer("lookback", cfg.Lookback).Msg("reading")
	st, err := r.Drive(ctx, in)
	log.Info().Uint64("packets", st.Engine.Packets).Uint64("syn_matched", st.Results[decode.Matched]).
		Uint64("new_sources", st.Engine.NewSources).Uint64("windows", st.Engine.Windows).
		Str("growth", r.Verdict().Model).
		Stringer("elapsed", time.Since(started).Round(time.Millisecond)).Msg("done")
	if err == nil && st.Engine.Packets == 0 {
		// An empty directory, a wrong one, or one of files that are not
		// captures: say so, or the empty records look like a quiet network.
		skipped := 0
		files := src.Stats()
		for _, f := range files {
			if f.Skipped != "" {
				skipped++
			}
		}
		log.Warn().Int("files", len(files)).Int("skipped", skipped).Strs("read", cfg.Read).
			Msg("no packet read: the inputs hold no capture with packets")
	}
	if n := st.Results[decode.UnsupportedLink]; err == nil && n > 0 && n == st.Engine.Packets {
		// Every frame of a link type the decoder does not walk (a DSA
		// switch's tags, 802.11, ...): the empty records would look like
		// a quiet network.
		log.Warn().Uint64("frames", n).Strs("read", cfg.Read).
			Msg("no frame could be read: their link type is not one the decoder walks (README, Inputs, lists them); convert the capture (editcap -T) or capture on another interface")
	}
	return st, err
}

// describeFiles lists the capture files for the summary, saying which were
// skipped (a directory's files that are not captures, a file named twice) and why.
func describeFiles(files []pcapfile.InputStats, log zerolog.Logger) []output.Input {
	var ins []output.Input
	for _, in := range files {
		i := output.Input{Path: in.Path, Format: in.Format, Packets: in.Packets, Skipped: in.Skipped}
		if in.Skipped != "" {
			log.Info().Str("file", in.Path).Str("reason", in.Skipped).Msg("skipped")
		}
		if in.Err != nil {
			i.Err = in.Err.Error()
		}
		ins = append(ins, i)
	}
	return ins
}

// streamFlush is how often the records of a run reading a stream on
// standard input are pushed out.
const streamFlush = time.Second

// samePath says whether two paths name the same place, as written (after
// cleaning, made absolute): for files that may not exist yet.
func samePath(a, b string) bool {
	aa, err1 := filepath.Abs(a)
	bb, err2 := filepath.Abs(b)
	return err1 == nil && err2 == nil && aa == bb
}
