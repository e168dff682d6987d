package fleet

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/synscope/synscope/pkg/output"
)

// progress is a sensor's progress record for the window at start.
func progress(sensor string, start time.Time) string {
	f := "2006-01-02T15:04:05.000000000Z"
	return fmt.Sprintf(`{"event_type":"progress","ts":"%s","sensor":"%s","window_start":"%s","window_end":"%s","syn_packets":10,"active_sources":1,"new_sources":1,"run_first_packet":"%s","coverage":1}`,
		start.Add(5*time.Minute).Format(f), sensor, start.Format(f), start.Add(5*time.Minute).Format(f), start.Format(f))
}

// TestFarFutureIsBad: records from made-up sensors whose producer stamped
// them 2200 (the producer sets CreateTime), or a partial for 2200 in the
// partials topic, are bad records by the collector's own clock. They made
// the one real sensor "behind", the fleet closed every window up to 2200
// and saved that as its checkpoint: every real window after was late, for
// good (a review).
func TestFarFutureIsBad(t *testing.T) {
	c := cluster(t, 1)
	ctx := context.Background()
	cl := producer(t, c.ListenAddrs())
	put := func(topic, key, v string, ts time.Time) {
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Key: []byte(key), Value: []byte(v), Timestamp: ts}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	base := time.Now().UTC().Truncate(5 * time.Minute).Add(-3 * time.Hour)
	for i := range 3 {
		put("synscope", "", progress("s1", base.Add(time.Duration(i)*5*time.Minute)), time.Time{})
	}
	far := time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)
	put("synscope", "", progress("h1", far), far)
	put("synscope", "", progress("h2", far), far)
	file := filepath.Join(t.TempDir(), "fleet.jsonl")
	rctx, cancel := context.WithCancel(ctx)
	col, done := liveCollector(t, rctx, c.ListenAddrs(), file)
	time.Sleep(2 * time.Second)
	// A partial for 2200, as a collector would publish it.
	pa, _ := json.Marshal(&Partial{Partition: 0, Partitions: 1, Start: far.UnixNano(), End: far.Add(5 * time.Minute).UnixNano(), Active: 1, New: 1, SynPackets: 1})
	put(partialsTopic("synscope"), strconv.FormatInt(far.UnixNano(), 10)+"/0", string(pa), time.Time{})
	time.Sleep(time.Second)
	for i := 3; i < 8; i++ {
		put("synscope", "", progress("s1", base.Add(time.Duration(i)*5*time.Minute)), time.Time{})
	}
	time.Sleep(3 * time.Second)
	cancel()
	<-done
	st := col.st
	ws := fleetWindows(t, readAll(t, file)...)
	for _, w := range ws {
		if ts, err := time.Parse(time.RFC3339Nano, w.Start); err != nil || ts.After(base.Add(24*time.Hour)) {
			t.Errorf("a fleet window for %s was written", w.Start)
		}
	}
	if st.Late > 0 || len(ws) < 7 || st.Bad < 3 {
		t.Errorf("%d windows, %d late, %d bad (stats %+v): the made-up 2200 records were taken", len(ws), st.Late, st.Bad, st)
	}
}

// txnTopic puts six progress windows of sensor s1, then a committed
// transaction, whose marker is the topic's last offset.
func txnTopic(t *testing.T, brokers []string) {
	ctx := context.Background()
	plain := producer(t, brokers)
	base := time.Now().UTC().Truncate(5 * time.Minute).Add(-3 * time.Hour)
	for i := range 6 {
		if err := plain.ProduceSync(ctx, &kgo.Record{Value: []byte(progress("s1", base.Add(time.Duration(i)*5*time.Minute)))}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	txn := producer(t, brokers, kgo.TransactionalID("t"))
	if err := txn.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := txn.ProduceSync(ctx, &kgo.Record{Value: []byte(`{"event_type":"stats"}`)}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if err := txn.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
}

// TestOnceEndsAtATransactionMarker: --once reads to the topic's end when
// its last offset is a transaction's marker (a transactional producer on
// the topic); no record was delivered at it, and the run never ended (a
// review).
func TestOnceEndsAtATransactionMarker(t *testing.T) {
	c := cluster(t, 1)
	txnTopic(t, c.ListenAddrs())
	var out bytes.Buffer
	col, err := New(context.Background(), collectConfig(c.ListenAddrs(), true), output.NewWriter(&out, "fleet"))
	if err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	st, err := col.Run(rctx)
	if err != nil || rctx.Err() != nil {
		t.Fatalf("--once: %v (context: %v), stats %+v", err, rctx.Err(), st)
	}
	if n := len(fleetWindows(t, out.Bytes())); n != 6 || st.Records != 7 {
		t.Errorf("%d windows of 6, %d records of 7 (the marker is none)", n, st.Records)
	}
}

// TestOnceInterruptedWritesNoWindow: a --once run stopped before it wrote
// its windows (the end of the topic not reached, or its windows not yet
// closed) writes none and says it was interrupted; it closed every window
// it held, as if complete, and returned no error (a review). The stop
// comes with the first record read (a sensor whose windows are not the
// collector's is said, and the test stops the run then).
func TestOnceInterruptedWritesNoWindow(t *testing.T) {
	c := cluster(t, 1)
	ctx := context.Background()
	cl := producer(t, c.ListenAddrs())
	base := time.Now().UTC().Truncate(5 * time.Minute).Add(-200 * 24 * time.Hour)
	odd := strings.Replace(progress("odd", base), base.Add(5*time.Minute).Format("2006-01-02T15:04:05.000000000Z")+`","syn`, base.Add(time.Minute).Format("2006-01-02T15:04:05.000000000Z")+`","syn`, 1)
	recs := []*kgo.Record{{Value: []byte(odd)}}
	for i := range 50 {
		recs = append(recs, &kgo.Record{Value: []byte(progress("s1", base.Add(time.Duration(i)*5*time.Minute)))})
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cfg := collectConfig(c.ListenAddrs(), true)
	cfg.Log = func(msg string, _ ...any) {
		if strings.HasPrefix(msg, "a sensor's windows are not the collector's") {
			cancel()
		}
	}
	var out bytes.Buffer
	col, err := New(ctx, cfg, output.NewWriter(&out, "fleet"))
	if err != nil {
		t.Fatal(err)
	}
	st, err := col.Run(rctx)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("an interrupted --once run returned %v (stats %+v)", err, st)
	}
	if n := len(fleetWindows(t, out.Bytes())); n != 0 {
		t.Errorf("%d windows written by an interrupted --once run", n)
	}
}

// TestPartialsOfAnotherPartitionCountSaid: partials naming another count
// of partitions than the topic has (its partitions were added to while the
// fleet used it) are refused, and the collector says why, once: it
// dropped them without a word, and the windows before the change were
// never written (a review).
func TestPartialsOfAnotherPartitionCountSaid(t *testing.T) {
	c := cluster(t, 1)
	ctx := context.Background()
	cl := producer(t, c.ListenAddrs())
	put := func(topic, key, v string) {
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Key: []byte(key), Value: []byte(v)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	base := time.Now().UTC().Truncate(5 * time.Minute).Add(-3 * time.Hour)
	for i := range 3 {
		put("synscope", "", progress("s1", base.Add(time.Duration(i)*5*time.Minute)))
	}
	before := otherCount.Load()
	rctx, cancel := context.WithCancel(ctx)
	col, done := liveCollector(t, rctx, c.ListenAddrs(), filepath.Join(t.TempDir(), "fleet.jsonl"))
	time.Sleep(2 * time.Second)
	for k := range 2 {
		start := base.Add(-time.Duration(k+1) * 5 * time.Minute)
		pa, _ := json.Marshal(&Partial{Partition: 0, Partitions: 2, Start: start.UnixNano(), End: start.Add(5 * time.Minute).UnixNano(), Active: 1, SynPackets: 1})
		put(partialsTopic("synscope"), strconv.FormatInt(start.UnixNano(), 10)+"/0", string(pa))
	}
	time.Sleep(2 * time.Second)
	cancel()
	<-done
	if n := otherCount.Load() - before; n != 1 || col.st.Bad < 2 {
		t.Errorf("said %d times, %d bad records; want once, both partials bad", n, col.st.Bad)
	}
}
