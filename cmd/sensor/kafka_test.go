package main

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// kafkaCluster is an in-process Kafka-protocol broker with the topic.
func kafkaCluster(t *testing.T, partitions int32) *kfake.Cluster {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(partitions, "synscope"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// topicRecords reads the topic to its end as it stands.
func topicRecords(t *testing.T, addrs []string) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.ConsumeTopics("synscope"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var out []*kgo.Record
	for idle := 0; idle < 3; {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		f := cl.PollFetches(ctx)
		cancel()
		n := 0
		f.EachRecord(func(r *kgo.Record) { out = append(out, r); n++ })
		if n == 0 {
			idle++
		}
	}
	return out
}

// With --kafka-brokers the same records go to the file and to the topic,
// byte for byte (the progress records once per partition on the topic);
// the stats record then carries the Kafka counters, and the fleet's
// sighting and progress records are written; all of them documented.
func TestKafkaSameRecords(t *testing.T) {
	c := kafkaCluster(t, 3)
	file := filepath.Join(t.TempDir(), "out.jsonl")
	_, stderr, code := sensor(t, "-r", demo, "--sensor-id", "s1", "--log-level", "error", "-o", file,
		"--kafka-brokers", strings.Join(c.ListenAddrs(), ","))
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(raw), "\n"), "\n")
	var onTopic []string
	progress := map[int32]int{}
	for _, r := range topicRecords(t, c.ListenAddrs()) {
		if strings.HasPrefix(string(r.Value), `{"event_type":"progress"`) {
			progress[r.Partition]++ // one copy in every partition
			if r.Partition != 0 {
				continue
			}
		}
		onTopic = append(onTopic, string(r.Value))
	}
	if len(progress) != 3 || progress[0] != progress[1] || progress[0] != progress[2] || progress[0] == 0 {
		t.Errorf("progress records by partition: %v", progress)
	}
	slices.Sort(lines)
	slices.Sort(onTopic)
	if !slices.Equal(lines, onTopic) {
		t.Fatalf("file %d records, topic %d: not the same", len(lines), len(onTopic))
	}
	recs := records(t, string(raw))
	st := ofType(recs, "stats")
	if len(st) == 0 || st[len(st)-1]["kafka"] == nil {
		t.Fatalf("no kafka counters in the stats record")
	}
	if d := st[len(st)-1]["drops"].(map[string]any)["kafka"]; d != 0.0 {
		t.Errorf("drops.kafka %v", d)
	}
	if len(ofType(recs, "sighting")) == 0 || len(ofType(recs, "progress")) != len(ofType(recs, "window")) {
		t.Errorf("%d sightings, %d progress records for %d windows", len(ofType(recs, "sighting")), len(ofType(recs, "progress")), len(ofType(recs, "window")))
	}
	checkDocumented(t, recs)
}

// An unreachable broker at start is a clear error after --kafka-timeout,
// exit status 1, and no capture.
func TestKafkaUnreachableAtStart(t *testing.T) {
	start := time.Now()
	_, stderr, code := sensor(t, "-r", demo, "-o", filepath.Join(t.TempDir(), "o.jsonl"),
		"--kafka-brokers", "127.0.0.1:1", "--kafka-timeout", "1s")
	if code != exitFatal || !strings.Contains(stderr, "no broker of 127.0.0.1:1 answered within 1s") {
		t.Errorf("exit %d: %s", code, stderr)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("gave up after %v", d)
	}
}

// Bad Kafka settings are refused at start, naming the key.
func TestKafkaSettingsRefused(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--kafka-brokers", "a:9092", "--kafka-sasl", "gssapi"}, "kafka-sasl"},
		{[]string{"--kafka-brokers", "a:9092", "--kafka-sasl", "plain"}, "kafka-user"},
		{[]string{"--kafka-brokers", "a:9092", "--kafka-compression", "brotli"}, "kafka-compression"},
		{[]string{"--kafka-brokers", "a:9092", "--kafka-buffer", "lots"}, "kafka-buffer"},
		{[]string{"--kafka-brokers", "a:9092", "--kafka-buffer", "1KiB"}, "kafka-buffer"},
		{[]string{"--kafka-brokers", "nohost"}, "kafka-brokers"},
		{[]string{"--kafka-brokers", "a:9092", "--kafka-refresh", "7m"}, "kafka-refresh"},
		{[]string{"--kafka-brokers", "a:9092", "--kafka-tls-cert", "c.pem"}, "kafka-tls-key"},
	} {
		_, stderr, code := sensor(t, append([]string{"-r", demo}, tc.args...)...)
		if code != exitUsage || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, %q (want the key %s named)", tc.args, code, stderr, tc.want)
		}
	}
}
