package lifecycle

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/synscope/synscope/pkg/alert"
	"github.com/synscope/synscope/pkg/benign"
	"github.com/synscope/synscope/pkg/capture"
	"github.com/synscope/synscope/pkg/decode"
	"github.com/synscope/synscope/pkg/engine"
	"github.com/synscope/synscope/pkg/growth"
	"github.com/synscope/synscope/pkg/metrics"
	"github.com/synscope/synscope/pkg/networks"
	"github.com/synscope/synscope/pkg/output"
	"github.com/synscope/synscope/pkg/pipeline"
	"github.com/synscope/synscope/pkg/ports"
	"github.com/synscope/synscope/pkg/srctable"
)

// Config is what a run needs beyond its source and its output.
type Config struct {
	SensorID string
	// Engine is the engine's configuration, Growth included when the
	// verdict is wanted; the run sets DropWhenFull for a live one.
	Engine engine.Config
	Ports  *ports.Set // the watched destination ports
	// Live: the source is a capture that runs until it is stopped, not a
	// recording that ends. A live run never waits on a full shard ring,
	// closes windows by the wall clock when the link is idle, and does the
	// periodic work below; being stopped (ctx cancelled) is its normal end.
	Live       bool
	StateFile  string // where the engine's memory is kept across runs; "" for none
	StateReset bool   // ignore the state file at start (it is overwritten at the end)
	// StateLock is the state file's lock when the caller took it (before
	// opening the outputs: LockState); nil: New takes it. The run lets it
	// go once the state is saved.
	StateLock  *StateLock
	StateEvery time.Duration
	StatsEvery time.Duration
	Metrics    *metrics.Metrics // fed about once a second when set
	// Networks, when set, names the network and country of new sources and
	// scanners in their records; a live run reloads it with the output
	// (SIGHUP). The caller opens and closes it.
	Networks *networks.DB
	// Benign, when set, tags the records of known benign scanners.
	Benign *benign.List
	// Fleet: write what a fleet collector needs too (sightings, progress;
	// see output.Writer.SetFleet). Engine.Sightings sets how often.
	Fleet bool
	// AlertExec and AlertWebhook receive every alert record (pkg/alert),
	// off the capture path.
	AlertExec    string
	AlertWebhook string
	// IdleTime is the time stamped on the stats and summary records of a
	// run that reads no packet (an offline run's newest input's
	// modification time); 0: the wall clock.
	IdleTime int64
	// FlushEvery, when set, pushes the records out at least this often
	// while the run goes on (an offline run reading a pipe from a capture
	// still running); 0: when the buffer fills, and at the end.
	FlushEvery time.Duration
}

// alertDrain bounds how long the end of a run waits for alert deliveries
// still queued (each is bounded on its own too); signalDrain, after a
// signal (a stop ends the run at once, as the README says: it waited the
// whole 15 s for a hook that hung, a review).
const (
	alertDrain  = 15 * time.Second
	signalDrain = time.Second
)

// liveGrace is how late a live packet may arrive: windows close this long
// after their end by the wall clock.
const liveGrace = time.Second

// Run is one run of the sensor. Build it with New, drive it once with Drive.
type Run struct {
	cfg    Config
	out    output.Driver
	w      *output.Writer
	eng    *engine.Engine
	log    Log
	lock   *StateLock // the state file's, held to the end
	reopen atomic.Bool
	hooks  *alert.Hooks // nil without alert hooks
}

// New builds the run's stages after capture on the output driver: the
// writer and the engine, with the engine's memory loaded from the state
// file when there is one. The caller keeps the driver and closes it after
// the run.
func New(cfg Config, out output.Driver, log Log) (*Run, error) {
	w := output.NewWriter(out, cfg.SensorID)
	if cfg.Networks != nil {
		w.SetNetworks(cfg.Networks)
	}
	if cfg.Benign != nil {
		w.SetBenign(cfg.Benign)
		cfg.Engine.Benign = cfg.Benign
	}
	w.CountDrivers(out)
	w.SetFleet(cfg.Fleet)
	w.SetIdleTime(cfg.IdleTime)
	ecfg := cfg.Engine
	ecfg.DropWhenFull = cfg.Live // a capture must not wait; a file can
	eng, err := engine.New(ecfg, w)
	if err != nil {
		return nil, err
	}
	// The tables' hashes are keyed with a secret on a live sensor, so a
	// flood of crafted addresses cannot pile into one probe run (see
	// srctable.SetSeed); an offline run keeps them unkeyed, its records
	// the same on every run. A state file's key replaces either: its
	// memory's fingerprints were made with it.
	seed := uint64(0)
	if cfg.Live {
		var b [8]byte
		if _, err := rand.Read(b[:]); err != nil {
			return nil, fmt.Errorf("hash key: %w", err)
		}
		seed = binary.LittleEndian.Uint64(b[:])
	}
	srctable.SetSeed(seed)
	lock := cfg.StateLock
	if lock == nil {
		if lock, err = LockState(cfg.StateFile, log); err != nil {
			return nil, err
		}
	}
	if err := loadState(eng, cfg.StateFile, cfg.StateReset, log); err != nil {
		lock.Close()
		return nil, err
	}
	if cfg.Live && srctable.Seed() == 0 {
		// An unkeyed state (an offline run's, or of a version before the
		// key): a live sensor that took its key stayed unkeyed for good.
		if eng.KeyAnew(seed) {
			log.say(Info, nil, "the state file's hashes were not keyed: keyed now, its memory of forgotten sources let go once", "state_file", cfg.StateFile)
		}
	}
	r := &Run{cfg: cfg, out: out, w: w, eng: eng, log: log, lock: lock}
	r.hooks = alert.Start(alert.Config{Exec: cfg.AlertExec, Webhook: cfg.AlertWebhook, Wait: !cfg.Live,
		Log: func(err error, hook string) { log.say(Warn, err, "alert not delivered", "hook", hook) }})
	if r.hooks != nil {
		w.OnAlert(r.hooks.Send)
		w.AddCounted(hookCounts{r.hooks}) // failures counted where they are watched (a review: in the log only)
	}
	return r, nil
}

// hookCounts are the alert hooks' counters as a stats record's driver
// counts: "alert_hooks", its deliveries asked for (produced), delivered,
// failed for good, and dropped (a queue full, or the run over before their
// turn).
type hookCounts struct{ h *alert.Hooks }

func (c hookCounts) DriverCounts() output.DriverCounts {
	h := c.h
	return output.DriverCounts{Name: "alert_hooks", Produced: h.Sent.Load(), Delivered: h.Delivered.Load(),
		Failed: h.Failed.Load(), Dropped: h.Dropped.Load() + h.Abandoned.Load()}
}

// Input is what a run reads, chosen by the caller.
type Input struct {
	Source capture.Source
	// Hooks tell the caller about failed inputs and progress; their Live
	// is the run's own and is overwritten.
	Hooks pipeline.Hooks
	// Describe lists what was read for the summary. It is called once,
	// after the last packet, with the final stats.
	Describe func(st *output.Stats) []output.Input
}

// Drive reads the input to its end (or until ctx is done; for a live run
// that is the normal end), then ends the run: the summary, the output
// flushed, the state saved. It returns the final stats; the error is the
// first fatal trouble (see pipeline.Run), else a failed flush or save.
func (r *Run) Drive(ctx context.Context, in Input) (output.Stats, error) {
	hooks := in.Hooks
	hooks.Live = nil
	if r.cfg.Live {
		now := time.Now()
		hooks.Live = &pipeline.Live{Grace: liveGrace, StatsEvery: r.cfg.StatsEvery,
			Owner: &loop{r: r, lastSave: now, lastMet: now}}
	}
	if r.hooks != nil {
		defer context.AfterFunc(ctx, r.hooks.StopWaiting)() // a signal: no more waiting on a slow hook
		if s, ok := in.Source.(interface{ Streaming() bool }); ok && s.Streaming() {
			// A pipe may carry a capture still running (tcpdump -w - |
			// sensor -r -): its hooks never wait, as a live sensor's, or a
			// hook that hangs would stop the reading for up to a minute
			// and the capture upstream would drop packets (a review).
			r.hooks.StopWaiting()
		}
		// The deliveries end before the final stats record, which counts
		// them (a review: after a signal it was written first, and the
		// deliveries cut off were missing from its alert_hooks); end's
		// Close then has nothing to wait for. Offline within alertDrain;
		// live, or after a signal (one during the wait cuts it short),
		// within signalDrain: a stop writes its final records, the state
		// and the capture's counters within a second, before a service
		// manager's kill.
		hooks.BeforeFinal = func() {
			wait := alertDrain
			if r.cfg.Live || ctx.Err() != nil {
				wait = signalDrain
			}
			r.hooks.CloseBy(ctx, wait, signalDrain)
		}
	}
	stopFlush := func() {}
	if r.cfg.FlushEvery > 0 {
		stopFlush = r.w.FlushEvery(r.cfg.FlushEvery)
	}
	st, err := pipeline.Run(ctx, in.Source, &decode.Decoder{Ports: r.cfg.Ports}, r.eng, r.w, hooks)
	stopFlush()
	if r.cfg.Live && errors.Is(err, context.Canceled) {
		err = nil // a signal: the normal way a live sensor stops
	}
	if r.cfg.Metrics != nil {
		r.cfg.Metrics.Set(snapshot(&st, r.eng, r.w.Counted()))
	}
	drain := alertDrain
	if ctx.Err() != nil {
		drain = signalDrain
	}
	return st, r.end(&st, in.Describe, err, drain)
}

// end is the end-of-run sequence, one for live and offline runs: whatever
// stopped the loop, what was read is summarised, written and remembered.
// It returns err, or the first error of its own when err is nil.
//
// drain bounds the wait for alert deliveries still queued.
func (r *Run) end(st *output.Stats, describe func(*output.Stats) []output.Input, err error, drain time.Duration) error {
	sum := output.Summary{
		Engine:   r.eng.Counters(),
		Top:      r.eng.Top(),
		Ports:    r.cfg.Ports.String(),
		Window:   r.cfg.Engine.Window,
		Lookback: r.cfg.Engine.Lookback,
	}
	if describe != nil {
		sum.Inputs = describe(st)
	}
	if saved, first, ok := r.eng.StateAhead(); ok && !r.cfg.Live { // (a live restart within its grace is not)
		r.log.say(Warn, nil, "the state file was saved after this capture's first packet: sources it remembers were counted as seen before, though this capture is earlier (run the parts in time order, or pass --state-reset)",
			"state_file", r.cfg.StateFile, "saved_at", time.Unix(0, saved).UTC().Format(time.RFC3339), "first_packet", time.Unix(0, first).UTC().Format(time.RFC3339))
	}
	r.w.Summary(&sum)
	werr := r.w.Flush()
	if werr != nil && err == nil {
		err = fmt.Errorf("write %s: %w", r.out, werr)
	}
	if werr != nil && r.cfg.StateFile != "" {
		// The state must not remember sources whose records were lost:
		// a rerun with it would count them as seen and never write them
		// (a review: -o /dev/full saved every source of the capture).
		r.log.say(Error, werr, "the state was not saved: the output failed, and its records are not all written; run again with the same state file once the output is fixed", "state_file", r.cfg.StateFile)
	} else if serr := saveState(r.eng, r.cfg.StateFile); serr != nil {
		if err == nil {
			err = serr
		} else {
			// The run failed already (a full disk): its error is the
			// one returned, and the lost state is said too.
			r.log.say(Error, serr, "the state was not saved")
		}
	}
	r.lock.Close() // the state is saved: another sensor may take it
	if r.hooks != nil {
		r.hooks.Close(drain)
		if n := r.hooks.Dropped.Load(); n > 0 {
			r.log.say(Warn, nil, "alerts not handed to a hook: its queue was full (they are in the output)", "dropped", n)
		}
		if n := r.hooks.Abandoned.Load(); n > 0 {
			r.log.say(Warn, nil, "alerts not delivered: the run ended before a hook took them or while it ran (they are in the output)", "abandoned", n)
		}
	}
	return err
}

// Reopen asks for the output to be reopened (log rotation: cmd/sensor calls
// it on SIGHUP). It is safe from any goroutine: the live loop reopens at its
// next check, between records, so none is split across the two files.
func (r *Run) Reopen() { r.reopen.Store(true) }

// Verdict is the growth classifier's latest verdict (zero when it is off).
func (r *Run) Verdict() growth.Verdict { return r.eng.Verdict() }
