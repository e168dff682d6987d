package kafka

import (
	"bytes"
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/twmb/franz-go/pkg/kgo"
)

// headerBroadcast marks a record sent to a chosen partition rather than
// its key's (a fleet progress mark, sent to every partition).
const headerBroadcast = "synscope-partition"

var (
	srcField  = []byte(`"src_ip":"`)
	typeField = []byte(`{"event_type":"`)
)

// Key is the Kafka key of a JSONL record: for a record about one source
// (source, sighting, scanner, outbound_scanner, and a decoy alert) its
// src_ip, so that one source's records meet in one partition; else the
// sensor id, so the sensor's own records keep their order in one
// partition. (Any src_ip in the line was taken: the summary's was its
// busiest source's, nested in top_sources.) It reads the line as the
// writer writes it (compact, event_type first, src_ip a plain string).
func Key(line, sensor []byte) []byte {
	rest, ok := bytes.CutPrefix(line, typeField)
	if !ok {
		return sensor
	}
	end := bytes.IndexByte(rest, '"')
	if end < 0 {
		return sensor
	}
	switch string(rest[:end]) {
	case "source", "sighting", "scanner", "outbound_scanner", "alert":
	default:
		return sensor
	}
	i := bytes.Index(rest, srcField)
	if i < 0 {
		return sensor // an alert about no one source (growth, flood)
	}
	rest = rest[i+len(srcField):]
	j := bytes.IndexByte(rest, '"')
	if j <= 0 {
		return sensor
	}
	return rest[:j]
}

// Partitioner places a keyed record by a hash of its key (FNV-1a: stable
// across versions and platforms, which is all the collector relies on: one
// source, one partition) and a broadcast record where it says.
func Partitioner() kgo.Partitioner {
	return kgo.BasicConsistentPartitioner(func(string) func(*kgo.Record, int) int {
		return func(r *kgo.Record, n int) int {
			if len(r.Headers) > 0 && r.Headers[0].Key == headerBroadcast {
				return int(r.Partition) % n
			}
			return PartitionOf(r.Key, n)
		}
	})
}

// PartitionOf is the partition of a key among n.
func PartitionOf(key []byte, n int) int {
	h := uint32(2166136261)
	for _, c := range key {
		h = (h ^ uint32(c)) * 16777619
	}
	return int(h % uint32(n))
}

// progressPrefix starts a fleet progress record, which goes to every
// partition: each partition's collector learns each sensor's event time
// there, behind that sensor's records in the same partition.
var progressPrefix = []byte(`{"event_type":"progress"`)

// Partitions asks the brokers how many partitions topic has. The fleet's
// placement of sources depends on the count, so the topic must exist
// before sensors publish (a missing topic is an error that says so).
func Partitions(ctx context.Context, cl *kgo.Client, topic string) (int, error) {
	req := kmsg.NewPtrMetadataRequest()
	t := kmsg.NewMetadataRequestTopic()
	t.Topic = kmsg.StringPtr(topic)
	req.Topics = append(req.Topics, t)
	req.AllowAutoTopicCreation = false // the count must be chosen, not a broker's default
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return 0, fmt.Errorf("kafka: metadata of topic %s: %w", topic, err)
	}
	if len(resp.Topics) != 1 {
		return 0, fmt.Errorf("kafka: metadata of topic %s: no answer for it", topic)
	}
	rt := resp.Topics[0]
	if err := kerr.ErrorForCode(rt.ErrorCode); err != nil {
		return 0, fmt.Errorf("kafka: topic %s: %w (create it first, e.g. with 12 partitions: the fleet's placement of sources depends on the count)", topic, err)
	}
	if len(rt.Partitions) == 0 {
		return 0, fmt.Errorf("kafka: topic %s has no partitions", topic)
	}
	return len(rt.Partitions), nil
}
