package fleet

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// ensureTopics creates the collectors' topics when they are missing: the
// partials topic with one partition (one combiner reads every partial in
// order) and the state topic, compacted (only the latest checkpoint per key
// matters).
func ensureTopics(ctx context.Context, cl *kgo.Client, topic string) error {
	req := kmsg.NewPtrCreateTopicsRequest()
	req.TimeoutMillis = 10000
	for _, name := range []string{partialsTopic(topic), stateTopic(topic)} {
		t := kmsg.NewCreateTopicsRequestTopic()
		t.Topic, t.NumPartitions, t.ReplicationFactor = name, 1, -1
		if name == stateTopic(topic) {
			c := kmsg.NewCreateTopicsRequestTopicConfig()
			c.Name, c.Value = "cleanup.policy", kmsg.StringPtr("compact")
			t.Configs = append(t.Configs, c)
		}
		req.Topics = append(req.Topics, t)
	}
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return fmt.Errorf("kafka: create the collectors' topics: %w", err)
	}
	for _, t := range resp.Topics {
		if err := kerr.ErrorForCode(t.ErrorCode); err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
			return fmt.Errorf("kafka: create topic %s: %w", t.Topic, err)
		}
	}
	return nil
}

// endOffsets are the ends of the topic's partitions now.
func endOffsets(ctx context.Context, cl *kgo.Client, topic string, n int) (map[int32]int64, error) {
	return listOffsets(ctx, cl, topic, n, -1) // -1: the end
}

// startOffsets are the first offsets the topic's partitions still hold:
// above 0 once retention (or DeleteRecords) took the first records, and
// the end itself for a partition emptied so.
func startOffsets(ctx context.Context, cl *kgo.Client, topic string, n int) (map[int32]int64, error) {
	return listOffsets(ctx, cl, topic, n, -2) // -2: the earliest
}

// listOffsets asks the offsets of every partition of the topic at ts (-1
// the end, -2 the earliest).
func listOffsets(ctx context.Context, cl *kgo.Client, topic string, n int, ts int64) (map[int32]int64, error) {
	req := kmsg.NewPtrListOffsetsRequest()
	req.ReplicaID = -1
	t := kmsg.NewListOffsetsRequestTopic()
	t.Topic = topic
	for p := range n {
		pr := kmsg.NewListOffsetsRequestTopicPartition()
		pr.Partition, pr.Timestamp = int32(p), ts
		t.Partitions = append(t.Partitions, pr)
	}
	req.Topics = append(req.Topics, t)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return nil, fmt.Errorf("kafka: the end of topic %s: %w", topic, err)
	}
	ends := map[int32]int64{}
	for _, rt := range resp.Topics {
		for _, p := range rt.Partitions {
			if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
				return nil, fmt.Errorf("kafka: the end of %s/%d: %w", topic, p.Partition, err)
			}
			ends[p.Partition] = p.Offset
		}
	}
	if len(ends) != n {
		return nil, fmt.Errorf("kafka: the end of topic %s: %d of %d partitions answered", topic, len(ends), n)
	}
	return ends, nil
}

// reached reports whether every partition is read to its end.
func reached(next, ends map[int32]int64) bool {
	for p, e := range ends {
		if next[p] < e {
			return false
		}
	}
	return true
}

const checkpointKey = "combiner"

// readState reads the state topic to its end: the latest value of every
// key (the combiner's checkpoint, the partitions' snapshots).
func (c *Collector) readState(ctx context.Context) (map[string][]byte, error) {
	opts, err := c.cfg.Kafka.ClientOpts()
	if err != nil {
		return nil, err
	}
	topic := stateTopic(c.cfg.Kafka.Topic)
	cl, err := kgo.NewClient(append(opts, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtStart()}}))...)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	ends, err := endOffsets(ctx, cl, topic, 1)
	if err != nil {
		return nil, err
	}
	starts, err := startOffsets(ctx, cl, topic, 1)
	if err != nil {
		return nil, err
	}
	state := map[string][]byte{}
	for next := starts[0]; next < ends[0]; {
		pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		f := cl.PollFetches(pctx)
		cancel()
		if errors.Is(pctx.Err(), context.DeadlineExceeded) {
			return state, fmt.Errorf("kafka: read %s: timed out at offset %d of %d", topic, next, ends[0])
		}
		f.EachRecord(func(r *kgo.Record) {
			next = r.Offset + 1
			state[string(r.Key)] = r.Value
		})
	}
	return state, nil
}

// checkpoint is the combiner's: the end of the last fleet window written.
func checkpoint(state map[string][]byte) int64 {
	v, _ := strconv.ParseInt(string(state[checkpointKey]), 10, 64)
	return v
}

// saveCheckpoint records that the fleet's windows up to end are written.
func (c *Collector) saveCheckpoint(end int64) {
	r := &kgo.Record{Topic: stateTopic(c.cfg.Kafka.Topic), Key: []byte(checkpointKey), Value: strconv.AppendInt(nil, end, 10)}
	c.cl.Produce(context.Background(), r, func(_ *kgo.Record, err error) {
		if err != nil {
			c.log("combiner checkpoint not saved", "error", err.Error())
		}
	})
}
