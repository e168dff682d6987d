package kafka

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Sink publishes JSONL records to a topic: one Kafka record per line, keyed
// by the record's source address (src_ip) when it has one, else by the
// sensor, so everything about one source lands in one partition, in order.
// It is an output driver (io.Writer, Reopen, Close, String).
//
// The producer is idempotent and retries without end, so a record handed
// to it is delivered once, in order, whenever the brokers come back. What
// it holds is bounded by Buffer; past that, records go to the spool, and
// while the spool holds anything every new record goes there too, behind
// the older ones, so the order is kept. A drainer moves them back to the
// producer as room appears. Only when the spool is full (or there is none)
// is a record dropped, and counted.
type Sink struct {
	cfg    Config
	cl     *kgo.Client
	sensor []byte
	parts  int // the topic's partitions, for broadcasts

	line []byte // a record cut by the writer's buffer, until its newline

	mu    sync.Mutex
	sp    *spool // nil: no spool
	room  chan struct{}
	stop  chan struct{}
	done  chan struct{}
	inMem atomic.Int64 // bytes handed to the producer and not yet acknowledged

	produced, delivered, failed, spooled, dropped atomic.Uint64
	lastErr                                       atomic.Value // string

	// pending: the records handed to the producer and not yet answered,
	// by the order they were handed over; what Close gives up on goes to
	// the spool (or is counted dropped), and a late answer for one of
	// those is not counted again. The producer answers nothing for the
	// records still in memory when it is closed: they were lost, counted
	// nowhere (a review).
	pendMu  sync.Mutex
	pending map[uint64]pendingRec
	seq     uint64
}

// pendingRec is a record in the producer: its key (nil for a broadcast),
// value and partition (-1: the key's).
type pendingRec struct {
	key, value []byte
	partition  int32
	n          int64 // the bytes counted in inMem for it
}

// Counts are the sink's counters, for the stats record and the metrics.
type Counts struct {
	Produced   uint64 // records handed to the producer
	Delivered  uint64 // acknowledged by the brokers
	Failed     uint64 // refused for good by the brokers (a dropped record too)
	Spooled    uint64 // records written to the spool
	Dropped    uint64 // records lost: the buffer and the spool were full
	Corrupt    uint64 // spooled records lost to a torn or corrupt segment
	Buffered   int64  // bytes in memory, not yet acknowledged
	SpoolBytes int64  // bytes in the spool, not yet handed back
}

// NewSink connects to the brokers (waiting at most StartTimeout for one to
// answer) and starts the producer. sensor keys the records that name no
// source.
func NewSink(ctx context.Context, cfg Config, sensor string) (*Sink, error) {
	if cfg.Topic == "" {
		cfg.Topic = DefaultTopic
	}
	if cfg.Buffer == 0 {
		cfg.Buffer = DefaultBuffer
	}
	if cfg.SpoolMax == 0 {
		cfg.SpoolMax = DefaultSpoolMax
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	opts, err := cfg.ClientOpts()
	if err != nil {
		return nil, err
	}
	cc, _ := codec(cfg.Compression)
	opts = append(opts,
		kgo.DefaultProduceTopic(cfg.Topic),
		kgo.ProducerBatchCompression(cc),
		kgo.RequiredAcks(kgo.AllISRAcks()), // idempotence needs all acks
		kgo.RecordPartitioner(Partitioner()),
		kgo.ProducerLinger(5*time.Millisecond),
		// The sink bounds memory itself (Buffer); the client's own
		// bounds are set above it so Produce never blocks the capture.
		kgo.MaxBufferedBytes(int(2*cfg.Buffer)),
		kgo.MaxBufferedRecords(1<<24),
		// No RecordRetries and no RecordDeliveryTimeout: franz-go's
		// defaults retry a record until it is delivered (RecordRetries(0)
		// would mean no retry at all: an outage failed records).
		kgo.UnknownTopicRetries(-1),
	)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("kafka: %w", err)
	}
	if err := Ping(ctx, cl, &cfg); err != nil {
		cl.Close()
		return nil, err
	}
	parts, err := Partitions(ctx, cl, cfg.Topic)
	if err != nil {
		cl.Close()
		return nil, err
	}
	s := &Sink{cfg: cfg, cl: cl, sensor: []byte(sensor), parts: parts, room: make(chan struct{}, 1),
		stop: make(chan struct{}), done: make(chan struct{})}
	if cfg.SpoolDir != "" {
		if s.sp, err = openSpool(cfg.SpoolDir, cfg.SpoolMax); err != nil {
			cl.Close()
			return nil, err
		}
	}
	go s.drain()
	return s, nil
}

// Write takes bytes of whole or cut records; every complete line becomes
// one Kafka record. It never fails: what cannot be kept is counted.
func (s *Sink) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			s.line = append(s.line, p...)
			break
		}
		if len(s.line) > 0 {
			s.line = append(s.line, p[:i]...)
			s.publish(s.line)
			s.line = s.line[:0]
		} else {
			s.publish(p[:i])
		}
		p = p[i+1:]
	}
	return n, nil
}

// Publish sends one record (without its newline) with the key the sink
// derives from it. Its bytes are copied.
func (s *Sink) publish(line []byte) {
	if len(line) == 0 {
		return
	}
	if bytes.HasPrefix(line, progressPrefix) {
		for p := range s.parts {
			s.PublishKeyed(nil, line, int32(p))
		}
		return
	}
	s.PublishKeyed(Key(line, s.sensor), line, -1)
}

// PublishKeyed sends value under key (both copied). A partition >= 0 sends
// it to that partition instead of the key's (the fleet's progress marks go
// to every partition).
func (s *Sink) PublishKeyed(key, value []byte, partition int32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n := int64(len(key) + len(value)); n > s.cfg.Buffer {
		// Larger than the buffer: the client's own bound (twice it)
		// could not take it on top of a full buffer, and Produce then
		// blocked the capture while the brokers were away (a review).
		s.dropped.Add(1)
		s.lastErr.Store(fmt.Sprintf("a record of %d bytes, larger than --kafka-buffer (%d): dropped", n, s.cfg.Buffer))
		return
	}
	if s.sp != nil && !s.sp.empty() || s.inMem.Load() >= s.cfg.Buffer {
		s.toSpool(key, value, partition)
		return
	}
	s.produce(key, value, partition)
}

func (s *Sink) produce(key, value []byte, partition int32) {
	r := &kgo.Record{Key: bytes.Clone(key), Value: bytes.Clone(value)}
	if partition >= 0 {
		r.Partition, r.Key = partition, nil
		r.Headers = []kgo.RecordHeader{{Key: headerBroadcast}}
	}
	n := int64(len(key) + len(value))
	s.inMem.Add(n)
	s.produced.Add(1)
	s.pendMu.Lock()
	if s.pending == nil {
		s.pending = map[uint64]pendingRec{}
	}
	s.seq++
	id := s.seq
	s.pending[id] = pendingRec{r.Key, r.Value, partition, n}
	s.pendMu.Unlock()
	s.cl.Produce(context.Background(), r, func(_ *kgo.Record, err error) {
		s.pendMu.Lock()
		_, mine := s.pending[id]
		delete(s.pending, id)
		s.pendMu.Unlock()
		if !mine {
			return // Close took it (spooled or counted dropped)
		}
		s.inMem.Add(-n)
		if err != nil {
			s.failed.Add(1)
			s.lastErr.Store(err.Error())
		} else {
			s.delivered.Add(1)
		}
		select {
		case s.room <- struct{}{}:
		default:
		}
	})
}

// A spooled broadcast record keeps its partition in front of its key.
func (s *Sink) toSpool(key, value []byte, partition int32) {
	if s.sp == nil {
		s.dropped.Add(1)
		return
	}
	k := key
	if partition >= 0 {
		k = []byte(fmt.Sprintf("\x00p%d", partition))
	}
	ok, err := s.sp.add(k, value)
	if err != nil {
		s.lastErr.Store(err.Error())
	}
	if !ok {
		s.dropped.Add(1)
		return
	}
	s.spooled.Add(1)
}

// drain hands spooled records back to the producer while it has room.
func (s *Sink) drain() {
	defer close(s.done)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-s.room:
		case <-tick.C:
		}
		s.drainSome()
	}
}

// drainBatch bounds what drainSome hands back under the sink's lock at a
// time: Write waits for that lock, and a refill of the whole buffer from
// disk held it for 683 ms (a review: the capture's writes stalled).
const drainBatch = 256 << 10

func (s *Sink) drainSome() {
	for s.drainSomeBatch() {
	}
}

// drainSomeBatch hands back up to drainBatch bytes of spooled records,
// and reports whether there may be more to hand back now.
func (s *Sink) drainSomeBatch() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sp == nil {
		return false
	}
	defer func() {
		// Handed to the producer: the next run starts after them.
		if err := s.sp.mark(); err != nil {
			s.lastErr.Store(err.Error())
		}
	}()
	for done := 0; s.inMem.Load() < s.cfg.Buffer; {
		if done >= drainBatch {
			return true
		}
		k, v, ok, err := s.sp.read()
		if err != nil {
			s.lastErr.Store(err.Error())
			return false
		}
		if !ok {
			return false
		}
		done += len(k) + len(v)
		if int64(len(k)+len(v)) > s.cfg.Buffer {
			// Spooled by an earlier run with a larger buffer: it
			// cannot be produced without blocking (see PublishKeyed).
			s.dropped.Add(1)
			continue
		}
		part := int32(-1)
		if p, ok := strings.CutPrefix(string(k), "\x00p"); ok {
			fmt.Sscan(p, &part)
		}
		s.produce(k, v, part)
	}
	return false
}

func (s *Sink) spoolEmpty() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sp == nil || s.sp.empty()
}

// Counts reads the counters; safe from any goroutine.
func (s *Sink) Counts() Counts {
	c := Counts{Produced: s.produced.Load(), Delivered: s.delivered.Load(), Failed: s.failed.Load(),
		Spooled: s.spooled.Load(), Dropped: s.dropped.Load(), Buffered: s.inMem.Load()}
	s.mu.Lock()
	if s.sp != nil {
		c.Corrupt, c.SpoolBytes = s.sp.corrupt, s.sp.size
	}
	s.mu.Unlock()
	return c
}

// LastError is the latest delivery or spool error ("" for none).
func (s *Sink) LastError() string {
	e, _ := s.lastErr.Load().(string)
	return e
}

// Reopen has nothing to reopen: the producer reconnects by itself.
func (s *Sink) Reopen() (bool, error) { return false, nil }

// String names the destination in messages.
func (s *Sink) String() string {
	return "kafka://" + strings.Join(s.cfg.Brokers, ",") + "/" + s.cfg.Topic
}

// ErrUndelivered says records were still unacknowledged when Close gave up.
var ErrUndelivered = errors.New("kafka: records not acknowledged before the close timeout")

// Close waits up to CloseTimeout for every record in memory to be
// acknowledged, then stops. Records still in the spool stay there for the
// next run; records still in memory are lost and reported.
func (s *Sink) Close() error {
	if len(s.line) > 0 { // a last line without its newline
		s.publish(s.line)
		s.line = s.line[:0]
	}
	close(s.stop)
	<-s.done
	d := s.cfg.CloseTimeout
	if d <= 0 {
		d = DefaultCloseTimeout
	}
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	// The spool is delivered too while the brokers answer: what is left
	// when the time is up stays on disk for the next run.
	for !s.spoolEmpty() && ctx.Err() == nil {
		s.drainSome()
		select {
		case <-s.room:
		case <-ctx.Done():
		case <-time.After(50 * time.Millisecond):
		}
	}
	err := s.cl.Flush(ctx)
	left, bytesLeft := s.takePending()
	s.cl.Close()
	s.mu.Lock()
	if len(left) > 0 {
		// Given up on: into the spool for the next run, in order, when
		// nothing waits there before them (it holds only records handed
		// over after them); else, or without a spool, counted dropped.
		if s.sp != nil && s.sp.empty() {
			for _, r := range left {
				s.toSpool(r.key, r.value, r.partition)
			}
		} else {
			s.dropped.Add(uint64(len(left)))
		}
	}
	if s.sp != nil {
		if serr := s.sp.close(); serr != nil {
			s.lastErr.Store(serr.Error())
		}
	}
	s.mu.Unlock()
	if err != nil {
		return fmt.Errorf("%w (%d bytes): %v", ErrUndelivered, bytesLeft, err)
	}
	return nil
}

// takePending takes the records the producer has not answered, in the
// order they were handed to it, and their bytes; their answers, should any
// come, are not counted.
func (s *Sink) takePending() ([]pendingRec, int64) {
	s.pendMu.Lock()
	defer s.pendMu.Unlock()
	ids := make([]uint64, 0, len(s.pending))
	for id := range s.pending {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	out := make([]pendingRec, 0, len(ids))
	var n int64
	for _, id := range ids {
		r := s.pending[id]
		out = append(out, r)
		n += r.n
	}
	s.pending = nil
	s.inMem.Add(-n)
	return out, n
}

// Flush waits until every record handed to the producer so far is
// acknowledged (or ctx-less: until it is; tests and a clean stop use it).
func (s *Sink) Flush() error { return s.cl.Flush(context.Background()) }
