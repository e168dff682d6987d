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

// topicRecords reads the topic to its end as it stands: until three polls
// in a row bring nothing once records came (the client's start-up does not
// count), 30 s at most.
func topicRecords(t *testing.T, addrs []string) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.ConsumeTopics("synscope"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var out []*kgo.Record
	deadline := time.Now().Add(30 * time.Second)
	for idle := 0; idle < 3 && time.Now().Before(deadline); {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		f := cl.PollFetches(ctx)
		cancel()
		n := 0
		f.EachRecord(func(r *kgo.Record) { out = append(out, r); n++ })
		switch {
		case n > 0:
			idle = 0
		case len(out) > 0:
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
// exit status 1, and no capture; the output of an earlier run is left as
// it was (it was truncated before the brokers were asked).
func TestKafkaUnreachableAtStart(t *testing.T) {
	start := time.Now()
	o := filepath.Join(t.TempDir(), "o.jsonl")
	os.WriteFile(o, []byte("{\"event_type\":\"summary\"}\n"), 0o640)
	_, stderr, code := sensor(t, "-r", demo, "-o", o, "--kafka-brokers", "127.0.0.1:1", "--kafka-timeout", "1s")
	if code != exitFatal || !strings.Contains(stderr, "no broker of 127.0.0.1:1 answered within 1s") {
		t.Errorf("exit %d: %s", code, stderr)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("gave up after %v", d)
	}
	if b, _ := os.ReadFile(o); string(b) != "{\"event_type\":\"summary\"}\n" {
		t.Errorf("the earlier run's output is now %q", b)
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

// sensor collect --once on a topic one sensor published the demo to: the
// fleet's windows are that sensor's (syn_packets, active_sources,
// new_sources), and records on the topic that are not the sensor's JSON
// are skipped and counted, never a crash.
func TestCollectOnce(t *testing.T) {
	c := kafkaCluster(t, 3)
	brokers := strings.Join(c.ListenAddrs(), ",")
	own, stderr, code := sensor(t, "-r", demo, "--sensor-id", "s1", "--log-level", "error", "--kafka-brokers", brokers)
	if code != exitOK {
		t.Fatalf("sensor: exit %d: %s", code, stderr)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.DefaultProduceTopic("synscope"))
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"not json", `{"event_type":"source","sensor":"x"}`, `{"event_type":"sighting","sensor":"s9","src_ip":"nope","ts":"x","window_start":"y"}`, "\x00\xff{", `{"event_type":"progress","sensor":"s9","window_start":"2009-01-10T00:05:00Z","window_end":"2009-01-10T00:00:00Z"}`} {
		if err := cl.ProduceSync(context.Background(), &kgo.Record{Value: []byte(bad)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	cl.Close()
	out, stderr, code := sensor(t, "collect", "--kafka-brokers", brokers, "--once", "--log-level", "error")
	if code != exitOK {
		t.Fatalf("collect: exit %d: %s", code, stderr)
	}
	fleetRecs := records(t, out)
	mine := ofType(records(t, own), "window")
	theirs := ofType(fleetRecs, "window")
	if len(theirs) != len(mine) || len(mine) == 0 {
		t.Fatalf("%d fleet windows, %d of the sensor", len(theirs), len(mine))
	}
	for i := range mine {
		for _, k := range []string{"window_start", "syn_packets", "active_sources", "new_sources"} {
			if mine[i][k] != theirs[i][k] {
				t.Errorf("window %d: %s %v, the sensor's %v", i, k, theirs[i][k], mine[i][k])
			}
		}
		if theirs[i]["sensor"] != "fleet" {
			t.Errorf("sensor %v", theirs[i]["sensor"])
		}
	}
	st := ofType(fleetRecs, "collect_stats")
	if len(st) != 1 || st[0]["bad_records"] != 5.0 {
		t.Errorf("collect_stats %v", st)
	}
	if len(ofType(fleetRecs, "fleet")) != len(mine) || len(ofType(fleetRecs, "growth")) != len(mine) {
		t.Errorf("fleet and growth records: %d, %d", len(ofType(fleetRecs, "fleet")), len(ofType(fleetRecs, "growth")))
	}
	checkDocumented(t, fleetRecs)
}

// An unreachable broker at the collector's start: exit 1 after
// --kafka-timeout, with the reason.
func TestCollectUnreachable(t *testing.T) {
	o := filepath.Join(t.TempDir(), "fleet.jsonl")
	os.WriteFile(o, []byte("{}\n"), 0o640)
	_, stderr, code := sensor(t, "collect", "--kafka-brokers", "127.0.0.1:1", "--kafka-timeout", "500ms", "--once", "-o", o)
	if code != exitFatal || !strings.Contains(stderr, "no broker of 127.0.0.1:1 answered") {
		t.Errorf("exit %d: %s", code, stderr)
	}
	if b, _ := os.ReadFile(o); string(b) != "{}\n" {
		t.Errorf("the earlier collection's output is now %q", b)
	}
	if _, stderr, code := sensor(t, "collect"); code != exitUsage || !strings.Contains(stderr, "kafka-brokers") {
		t.Errorf("no brokers: exit %d: %s", code, stderr)
	}
}
