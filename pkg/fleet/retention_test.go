package fleet

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/synscope/synscope/pkg/output"
)

// TestOnceAfterRetention: `sensor collect --once` on a topic one of whose
// partitions retention emptied (its first offset is its end, above 0)
// reads it to its end at once; it waited for offset 0 forever.
func TestOnceAfterRetention(t *testing.T) {
	c := cluster(t, 2)
	cl := producer(t, c.ListenAddrs(), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	ctx := context.Background()
	for range 3 {
		for p := range int32(2) {
			if err := cl.ProduceSync(ctx, &kgo.Record{Partition: p, Value: []byte(`{"event_type":"stats"}`)}).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
	}
	req := kmsg.NewPtrDeleteRecordsRequest()
	rt := kmsg.NewDeleteRecordsRequestTopic()
	rt.Topic = "synscope"
	rp := kmsg.NewDeleteRecordsRequestTopicPartition()
	rp.Partition, rp.Offset = 0, 3
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	req.TimeoutMillis = 5000
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	if lw := resp.Topics[0].Partitions[0].LowWatermark; lw != 3 {
		t.Fatalf("partition 0 starts at %d after the deletion, want 3", lw)
	}
	var out bytes.Buffer
	col, err := New(ctx, collectConfig(c.ListenAddrs(), true), output.NewWriter(&out, "fleet"))
	if err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	start := time.Now()
	if _, err := col.Run(rctx); err != nil || rctx.Err() != nil {
		t.Fatalf("--once: %v after %v (context: %v)", err, time.Since(start).Round(time.Millisecond), rctx.Err())
	}
}
