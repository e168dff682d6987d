package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/rs/zerolog"

	"github.com/synscope/synscope/pkg/config"
	"github.com/synscope/synscope/pkg/kafka"
	"github.com/synscope/synscope/pkg/output"
)

// openOutputs opens the run's drivers: the file or stdout, and Kafka when
// brokers are configured (the same records on both). A Kafka cluster that
// does not answer within --kafka-timeout stops the start, before the file
// is opened (opening truncates it: a run that never starts must not empty
// an earlier run's output).
func openOutputs(ctx context.Context, cfg *config.Config, live bool, stdout io.Writer, log zerolog.Logger) (output.Driver, error) {
	if len(cfg.Kafka.Brokers) == 0 {
		out, err := openOutput(ctx, cfg.Output, live, stdout)
		if err != nil && !errors.Is(err, context.Canceled) {
			return nil, settingError{err} // nothing read: exit status 2, as a bad flag
		}
		return out, err
	}
	sink, err := kafka.NewSink(ctx, cfg.Kafka.Config, cfg.SensorID)
	if err != nil {
		return nil, err
	}
	if cfg.Kafka.SpoolDir != "" && live {
		// The spool is written (and an earlier run's segments read and
		// removed) after privileges go.
		if err := giveSpool(cfg.Kafka.SpoolDir, cfg.User); err != nil {
			sink.Close()
			return nil, err
		}
	}
	out, err := openOutput(ctx, cfg.Output, live, stdout)
	if err != nil {
		sink.Close()
		if errors.Is(err, context.Canceled) {
			return nil, err
		}
		return nil, settingError{err}
	}
	log.Info().Str("kafka", sink.String()).Msg("publishing the records to Kafka")
	return output.Multi(out, kafkaDriver{sink, log}), nil
}

// openOutput is output.Open, given up when ctx ends first where the output
// is a FIFO: opening one for writing waits until it has a reader.
func openOutput(ctx context.Context, path string, live bool, stdout io.Writer) (output.Driver, error) {
	if fi, err := os.Stat(path); path == "-" || err != nil || fi.Mode()&fs.ModeNamedPipe == 0 {
		return output.Open(path, live, stdout)
	}
	return interruptible(ctx, "while the output FIFO "+path+" waited for a reader", func() (output.Driver, error) {
		return output.Open(path, live, stdout)
	}, func(d output.Driver) { d.Close() })
}

// kafkaDriver is the Kafka sink as an output driver: it counts (stats
// record, metrics) and logs how its end went.
type kafkaDriver struct {
	*kafka.Sink
	log zerolog.Logger
}

func (k kafkaDriver) DriverCounts() output.DriverCounts {
	c := k.Counts()
	return output.DriverCounts{Name: "kafka", Produced: c.Produced, Delivered: c.Delivered, Failed: c.Failed,
		Spooled: c.Spooled, Dropped: c.Dropped, Corrupt: c.Corrupt, Buffered: c.Buffered, SpoolBytes: c.SpoolBytes}
}

func (k kafkaDriver) Close() error {
	err := k.Sink.Close()
	c := k.Counts()
	ev := k.log.Info()
	if err != nil || c.Failed+c.Dropped+c.Corrupt > 0 {
		ev = k.log.Warn().Err(err).Str("last_error", k.LastError())
	}
	ev.Uint64("delivered", c.Delivered).Uint64("failed", c.Failed).Uint64("dropped", c.Dropped).
		Int64("spool_bytes_left", c.SpoolBytes).Msg("kafka output closed")
	if errors.Is(err, kafka.ErrUndelivered) {
		return nil // logged: the run's records are written elsewhere too
	}
	return err
}

// giveSpool hands the spool directory and the segments in it to the user
// the sensor will run as.
func giveSpool(dir, user string) error {
	if err := giveToUser(dir, user); err != nil {
		return err
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("kafka-spool %s: %w", dir, err)
	}
	for _, e := range ents {
		if e.Type().IsRegular() {
			if err := giveToUser(filepath.Join(dir, e.Name()), user); err != nil {
				return err
			}
		}
	}
	return nil
}

// removeIfRefused removes the output file this run created when the run is
// refused before its first record (*started still false when the caller
// returns: a setting to change, exit 2): a refused start leaves no empty
// file behind to be taken for a run's records. A file that was there
// before, or that is no longer the empty one the run opened, is kept. A
// live run refused after dropping privileges may no longer remove it (the
// directory it could not write is the reason): it says so.
func removeIfRefused(out output.Driver, path string, started *bool, log zerolog.Logger) {
	if *started || path == "" || path == "-" {
		return
	}
	f := output.FileOf(out)
	if f == nil || !f.Created() || !f.Untouched() {
		return
	}
	if err := os.Remove(path); err != nil {
		log.Warn().Err(err).Str("output", path).Msg("the run was refused before its first record, and its empty output file could not be removed: remove it")
	}
}
