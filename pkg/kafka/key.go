package kafka

import (
	"bytes"

	"github.com/twmb/franz-go/pkg/kgo"
)

// headerBroadcast marks a record sent to a chosen partition rather than
// its key's (a fleet progress mark, sent to every partition).
const headerBroadcast = "synscope-partition"

var srcField = []byte(`"src_ip":"`)

// Key is the Kafka key of a JSONL record: its src_ip (the source it is
// about: a source, a scanner, a sighting), else the sensor id, so the
// sensor's own records keep their order in one partition. It reads the
// line as the writer writes it (compact, src_ip a plain string).
func Key(line, sensor []byte) []byte {
	i := bytes.Index(line, srcField)
	if i < 0 {
		return sensor
	}
	rest := line[i+len(srcField):]
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
