package fleet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/synscope/synscope/pkg/growth"
	"github.com/synscope/synscope/pkg/kafka"
	"github.com/synscope/synscope/pkg/output"
)

// Config is a collector's configuration.
type Config struct {
	Kafka            kafka.Config // brokers, the sensors' topic, TLS, SASL
	Group            string       // the consumer group the collectors share
	Window, Lookback time.Duration
	MaxLag           time.Duration // a sensor behind the others and not heard from for this long (wall clock) is not waited for
	// RestartWait is how long a sensor whose run ended within a window
	// (its last progress record has covered_to) is waited for, for a
	// restart that adds the rest of the window (wall clock); 0: MaxLag.
	RestartWait time.Duration
	Once        bool           // read the topic to its end as it stands at start, write, exit
	Growth      *growth.Config // nil: no verdicts
	// Log tells the operator what the collector did (assignments,
	// checkpoints); nil logs nothing.
	Log func(msg string, fields ...any)
	// ReopenOutput, when set, is called between records after Reopen
	// asked for it (SIGHUP, for log rotation): the output's driver opens
	// its path afresh.
	ReopenOutput func()
}

// Topics beside the sensors' topic T: T-partials (one partition) carries
// every partition's partial counts to the combiner; T-state (one
// partition, compacted) keeps the combiner's checkpoint.
func partialsTopic(t string) string { return t + "-partials" }
func stateTopic(t string) string    { return t + "-state" }

// Stats are a collector's counters, written in its `collect_stats` record.
type Stats struct {
	Records, Bad, Late, Partials, Dupes, Windows, Incomplete uint64
}

// Collector is one member of the collectors' consumer group.
type Collector struct {
	cfg   Config
	w     *output.Writer
	cl    *kgo.Client
	n     int // partitions of the sensors' topic
	mu    sync.Mutex
	parts map[int32]*part
	seek  map[int32]int64 // restored partitions to resume at their snapshot's offset
	comb  *combiner       // set while this member owns the partials partition
	st    Stats
	rec   rec
	names map[string]string // sensor ids, interned
	// warnedWindow: the sensors told of windows not the collector's
	// (checkWindow).
	warnedWindow map[string]bool
	// saidPartitions: partials of another partition count were met (said once)
	saidPartitions bool

	reopen atomic.Bool // Reopen asked, done between records
}

// latest is the latest time a record or partial may carry: produceSkew
// past the collector's own clock (read once a fetch, not a record).
func latest() int64 { return time.Now().UnixNano() + produceSkew }

// Reopen asks for the output to be reopened (SIGHUP): the collector's loop
// does it at its next poll, between records. Safe from any goroutine.
func (c *Collector) Reopen() { c.reopen.Store(true) }

// New connects (waiting at most Kafka.StartTimeout for a broker), checks the
// topic and creates the collectors' own topics when they are missing.
func New(ctx context.Context, cfg Config, w *output.Writer) (*Collector, error) {
	if cfg.Group == "" {
		cfg.Group = "synscope-collect"
	}
	if cfg.MaxLag <= 0 {
		cfg.MaxLag = 2 * cfg.Window // a live sensor is heard from once a window
	}
	opts, err := cfg.Kafka.ClientOpts()
	if err != nil {
		return nil, err
	}
	c := &Collector{cfg: cfg, w: w, parts: map[int32]*part{}, seek: map[int32]int64{}, names: map[string]string{}}
	admin, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("kafka: %w", err)
	}
	defer admin.Close()
	if err := kafka.Ping(ctx, admin, &cfg.Kafka); err != nil {
		return nil, err
	}
	if c.n, err = kafka.Partitions(ctx, admin, cfg.Kafka.Topic); err != nil {
		return nil, err
	}
	if !cfg.Once {
		if err := ensureTopics(ctx, admin, cfg.Kafka.Topic); err != nil {
			return nil, err
		}
	}
	t := cfg.Kafka.Topic
	// Transaction markers are handed over too, to be passed over: they
	// take offsets, and one at a partition's end was never reached (no
	// record is delivered at it), so --once never ended and a live
	// collector was caught up only at the next record (a review).
	opts = append(opts, kgo.KeepControlRecords())
	if cfg.Once {
		// One collector reads every partition itself: no group.
		opts = append(opts, kgo.ConsumeTopics(t), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	} else {
		opts = append(opts, c.groupOpts()...)
	}
	if c.cl, err = kgo.NewClient(opts...); err != nil {
		return nil, fmt.Errorf("kafka: %w", err)
	}
	return c, nil
}

func (c *Collector) groupOpts() []kgo.Opt {
	t := c.cfg.Kafka.Topic
	return []kgo.Opt{
		kgo.ConsumerGroup(c.cfg.Group),
		kgo.ConsumeTopics(t, partialsTopic(t)),
		// Offsets are never committed: a partition's state is rebuilt by
		// replaying it from its start (docs/fleet.md says why and what
		// that costs), and the combiner skips partials it has seen.
		kgo.DisableAutoCommit(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.BlockRebalanceOnPoll(),
		kgo.OnPartitionsAssigned(c.assigned),
		kgo.OnPartitionsRevoked(c.revoked),
		kgo.OnPartitionsLost(c.revoked),
		kgo.DefaultProduceTopic(partialsTopic(t)),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
	}
}

// checkWindow says, once a sensor, that its windows are not the
// collector's: --window 1m against sensors' 5m wrote every fifth window
// with five minutes' counts and four empty ones (a sawtooth the growth
// classifier called exponential), without a word.
func (c *Collector) checkWindow(r *rec) {
	w := r.windowEnd - r.windowStart
	if w == int64(c.cfg.Window) || c.warnedWindow[r.sensor] {
		return
	}
	if c.warnedWindow == nil {
		c.warnedWindow = map[string]bool{}
	}
	if len(c.warnedWindow) >= maxWarnedWindow {
		return
	}
	c.warnedWindow[r.sensor] = true
	c.log("a sensor's windows are not the collector's: its counts land in the windows its own start in; give collect the sensors' --window",
		"sensor", r.sensor, "sensor_window", time.Duration(w).String(), "window", c.cfg.Window.String())
}

// maxWarnedWindow bounds the sensors checkWindow remembers warning about.
const maxWarnedWindow = 1024

func (c *Collector) log(msg string, fields ...any) {
	if c.cfg.Log != nil {
		c.cfg.Log(msg, fields...)
	}
}

func (c *Collector) newPart(id int32) *part {
	p := newPart(int(id), c.n, int64(c.cfg.Window), int64(c.cfg.Lookback), int64(c.cfg.MaxLag))
	if c.cfg.RestartWait > 0 {
		p.restartWait = int64(c.cfg.RestartWait)
	}
	return p
}

func (c *Collector) newCombiner(done int64) (*combiner, error) {
	var g *growth.Classifier
	if c.cfg.Growth != nil {
		var err error
		if g, err = growth.New(*c.cfg.Growth, c.cfg.Window); err != nil {
			return nil, err
		}
	}
	return newCombiner(c.w, int64(c.cfg.Lookback), g, done), nil
}

// assigned starts fresh state for every partition this member now owns;
// the partition is replayed from its start.
func (c *Collector) assigned(ctx context.Context, _ *kgo.Client, m map[string][]int32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	// Not the callback's context: it ends with the group session.
	state, err := c.readState(context.Background())
	if err != nil {
		c.log("state topic unreadable; replaying the partitions and writing every window again", "error", err.Error())
	}
	for topic, ps := range m {
		for _, p := range ps {
			if topic == c.cfg.Kafka.Topic {
				pt := c.newPart(p)
				c.parts[p] = pt
				s, err := loadSnapshot(state, int(p))
				if err == nil && s != nil {
					err = pt.restore(s)
					// Its next snapshot goes to the other slot: writing
					// this one's, a collector that died part way left no
					// snapshot that checks out.
					pt.slot = s.slot
				}
				switch {
				case err != nil:
					c.log("snapshot unusable; replaying the partition", "partition", int(p), "error", err.Error())
					c.parts[p] = c.newPart(p)
				case s != nil:
					c.seek[p] = s.Offset
					c.log("partition resumed from its snapshot", "partition", int(p), "offset", s.Offset)
				}
				continue
			}
			done := checkpoint(state)
			if c.comb, err = c.newCombiner(done); err != nil {
				c.log("growth classifier", "error", err.Error())
			}
			c.log("combining the fleet's windows", "after", time.Unix(0, done).UTC().Format(time.RFC3339))
		}
	}
	c.log("partitions assigned", "partitions", fmt.Sprint(m))
}

// Owned is how many partitions this member owns now (the sensors' and the
// partials'), for tests and logs.
func (c *Collector) Owned() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := len(c.parts)
	if c.comb != nil {
		n++
	}
	return n
}

// revoked forgets the partitions this member no longer owns; their new
// owner replays them.
func (c *Collector) revoked(_ context.Context, _ *kgo.Client, m map[string][]int32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for topic, ps := range m {
		for _, p := range ps {
			if topic == c.cfg.Kafka.Topic {
				delete(c.parts, p)
			} else {
				c.comb = nil
			}
		}
	}
	c.log("partitions revoked", "partitions", fmt.Sprint(m))
}

// Run consumes until ctx is done (or, with Once, until the topic's end as
// it stood at start), then writes its stats record. With Once one
// collector owns every partition and combines them itself.
func (c *Collector) Run(ctx context.Context) (Stats, error) {
	defer func() {
		// Partials and checkpoints still buffered go out first (bounded:
		// a collector stopped while the brokers are gone does not hang).
		fctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := c.cl.Flush(fctx); err != nil {
			c.log("partials or checkpoint not flushed at the end", "error", err.Error())
		}
		cancel()
		// A poll blocks rebalances until allowed; leaving the group is one.
		c.cl.AllowRebalance()
		c.cl.Close()
	}()
	var ends map[int32]int64
	if c.cfg.Once {
		var err error
		if ends, err = endOffsets(ctx, c.cl, c.cfg.Kafka.Topic, c.n); err != nil {
			return c.st, err
		}
		if c.comb, err = c.newCombiner(0); err != nil {
			return c.st, err
		}
		for p := range c.n {
			c.parts[int32(p)] = c.newPart(int32(p))
		}
	}
	next := map[int32]int64{}
	if c.cfg.Once {
		// From where the partitions start: one whose records retention
		// took is read to its end at once (it was waited for forever).
		starts, err := startOffsets(ctx, c.cl, c.cfg.Kafka.Topic, c.n)
		if err != nil {
			return c.st, err
		}
		for p, o := range starts {
			next[p] = o
		}
	}
	for {
		if c.cfg.Once && reached(next, ends) {
			break
		}
		// The poll wakes at least every tick, so a sensor that went quiet
		// is found silent even when nothing else arrives.
		pctx, cancel := context.WithTimeout(ctx, c.tick())
		f := c.cl.PollFetches(pctx)
		cancel()
		if ctx.Err() != nil {
			break
		}
		for _, fe := range f.Errors() {
			// The poll's own timeout (the tick) is not trouble.
			if !errors.Is(fe.Err, context.Canceled) && !errors.Is(fe.Err, context.DeadlineExceeded) {
				c.log("fetch", "topic", fe.Topic, "partition", int(fe.Partition), "error", fe.Err.Error())
			}
		}
		c.mu.Lock()
		if len(c.seek) > 0 {
			// From the polling goroutine, rebalances blocked: where
			// franz-go wants SetOffsets.
			off := map[int32]kgo.EpochOffset{}
			for p, o := range c.seek {
				off[p] = kgo.EpochOffset{Epoch: -1, Offset: o}
			}
			c.cl.SetOffsets(map[string]map[int32]kgo.EpochOffset{c.cfg.Kafka.Topic: off})
			clear(c.seek)
		}
		f.EachPartition(func(fp kgo.FetchTopicPartition) {
			if fp.Topic == c.cfg.Kafka.Topic {
				c.partition(ctx, fp, next, ends)
			} else {
				c.partials(fp)
			}
		})
		if !c.cfg.Once {
			for _, pt := range c.parts {
				if pt.caughtUp {
					pt.close(pt.closable(false), func(pa *Partial) { c.publish(ctx, pa) })
				}
			}
		}
		c.mu.Unlock()
		c.cl.AllowRebalance()
		if err := c.w.Flush(); err != nil {
			return c.st, err
		}
		if c.reopen.Swap(false) && c.cfg.ReopenOutput != nil {
			c.cfg.ReopenOutput() // what was written is flushed to the old file
		}
	}
	if c.cfg.Once && ctx.Err() != nil {
		// Stopped before its windows were written (the topic's end not
		// reached, or not yet closed): the windows read so far may miss
		// the rest of the topic, so none is forced closed and written as
		// if complete (it was, and the run exited 0; a review).
		if err := c.writeStats(); err != nil {
			return c.st, err
		}
		return c.st, fmt.Errorf("interrupted before the windows were written (none is, as a part of the topic may be missing from them): %w", ctx.Err())
	}
	if c.cfg.Once {
		for p := range c.n {
			pt := c.parts[int32(p)]
			pt.close(pt.closable(true), c.comb.add)
		}
		c.st.Windows = c.comb.written
		c.st.Incomplete = c.comb.incomplete
	}
	return c.st, c.writeStats()
}

// writeStats writes the run's collect_stats record and flushes.
func (c *Collector) writeStats() error {
	c.w.CollectStats(&output.CollectStats{Records: c.st.Records, Bad: c.st.Bad, Late: c.st.Late,
		Partials: c.st.Partials, Dupes: c.st.Dupes, Windows: c.st.Windows, Incomplete: c.st.Incomplete})
	return c.w.Flush()
}

// partition feeds one fetch of a sensors' partition to its state and closes
// the windows it may: only once the partition is read to its end as the
// fetch saw it (so that a topic written by sensors one after the other is
// read whole before any window closes).
func (c *Collector) partition(ctx context.Context, fp kgo.FetchTopicPartition, next, ends map[int32]int64) {
	pt := c.parts[fp.Partition]
	if pt == nil {
		return // revoked meanwhile
	}
	var last int64 = -1
	limit := latest()
	for _, r := range fp.Records {
		if ends != nil && r.Offset >= ends[fp.Partition] {
			break // written after --once started
		}
		if r.Offset < pt.next {
			// Read already: in the snapshot it was restored from, or
			// fetched again after SetOffsets moved the position.
			continue
		}
		last = r.Offset
		pt.next = r.Offset + 1
		if r.Attrs.IsControl() {
			continue // a transaction marker: its offset, no record
		}
		c.st.Records++
		// Past the time Kafka stamped it (its producer's clock, which the
		// producer sets), or past the collector's own clock: two records
		// stamped 2200 by a made-up producer made the one real sensor
		// "behind", and the fleet closed every window up to 2200, for
		// good (a review).
		if err := parse(r.Value, &c.rec, c.names); err != nil || c.rec.after(limit) ||
			(r.Timestamp.Year() > 1970 && c.rec.after(r.Timestamp.UnixNano()+produceSkew)) {
			c.st.Bad++
			continue
		}
		if c.rec.kind == kindOther {
			continue
		}
		if c.rec.kind == kindProgress {
			c.checkWindow(&c.rec)
		}
		if !pt.add(&c.rec) {
			c.st.Late++
		}
	}
	if last >= 0 {
		next[fp.Partition] = last + 1
	}
	if c.cfg.Once || pt.next < fp.HighWatermark {
		return // --once closes at the end; else not caught up yet
	}
	pt.caughtUp = true
	pt.close(pt.closable(false), func(pa *Partial) { c.publish(ctx, pa) })
	if pt.closed-pt.saved >= snapEvery*int64(c.cfg.Window) {
		// The partials of the windows in the snapshot must be in the
		// partials topic before the snapshot says they are done.
		fctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := c.cl.Flush(fctx)
		cancel()
		if err == nil {
			c.saveSnapshot(pt, pt.next)
		}
	}
}

// tick is how often the loop looks again at windows waiting for a quiet
// sensor: a fraction of --max-lag, at most a second.
func (c *Collector) tick() time.Duration {
	return min(max(c.cfg.MaxLag/4, 10*time.Millisecond), time.Second)
}

// publish sends a partial to the combiner's topic, keyed by window and
// partition (the combiner skips one it has).
func (c *Collector) publish(ctx context.Context, pa *Partial) {
	if c.cfg.Once {
		c.comb.add(pa)
		return
	}
	b, _ := json.Marshal(pa)
	c.st.Partials++
	key := strconv.FormatInt(pa.Start, 10) + "/" + strconv.Itoa(pa.Partition)
	c.cl.Produce(ctx, &kgo.Record{Key: []byte(key), Value: b, Partition: 0}, func(_ *kgo.Record, err error) {
		if err != nil && !errors.Is(err, context.Canceled) {
			c.log("partial not published", "error", err.Error())
		}
	})
}

// partials feeds the combiner, when this member owns it.
func (c *Collector) partials(fp kgo.FetchTopicPartition) {
	if c.comb == nil {
		return
	}
	before := c.comb.written
	limit := latest()
	for _, r := range fp.Records {
		if r.Attrs.IsControl() {
			continue
		}
		var pa Partial
		// A partial past the collector's clock is no collector's: one
		// for 2200 closed every window before it, for good (a review).
		if err := json.Unmarshal(r.Value, &pa); err != nil || !pa.wellFormed(c.n) || pa.End > limit {
			if err == nil && pa.Partitions != c.n && pa.Partitions > 0 && !c.saidPartitions {
				// The topic's partitions were added to: a source's
				// history stays in its old partition, its new records go
				// to another (a review: 47 windows never written, a
				// window's sources counted twice). Not mended: said.
				c.saidPartitions = true
				c.log("partials of a topic of another partition count: its partitions changed while the fleet used it; the windows before the change cannot be combined and sources seen on both sides are miscounted for a lookback (use a new topic: docs/fleet.md)",
					"partials_of", pa.Partitions, "partitions", c.n)
			}
			c.st.Bad++
			continue
		}
		c.comb.add(&pa)
	}
	c.st.Dupes = c.comb.dupes
	c.st.Incomplete = c.comb.incomplete
	c.st.Windows = c.comb.written
	if c.comb.written != before {
		// The windows are out: flush them, then checkpoint (a crash in
		// between writes the last window again after a restart).
		if err := c.w.Flush(); err == nil {
			c.saveCheckpoint(c.comb.next)
		}
	}
}
