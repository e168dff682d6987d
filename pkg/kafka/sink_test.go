package kafka

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// cluster starts an in-process Kafka-protocol broker with the topic, its
// listener behind a gate.
func cluster(t *testing.T, partitions int32) (*kfake.Cluster, *gate) {
	t.Helper()
	g := &gate{}
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(partitions, "synscope"), kfake.ListenFn(g.listen))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c, g
}

// consumeAll reads n records of the topic from the start.
func consumeAll(t *testing.T, addrs []string, n int) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.ConsumeTopics("synscope"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out []*kgo.Record
	for len(out) < n {
		f := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("%d of %d records consumed", len(out), n)
		}
		f.EachRecord(func(r *kgo.Record) { out = append(out, r) })
	}
	return out
}

func line(i int) string {
	return fmt.Sprintf(`{"event_type":"source","ts":"x","sensor":"s1","src_ip":"192.0.2.%d","seq":%d}`, i%7, i)
}

// Records are delivered one per line, cut anywhere by the writer's buffer,
// keyed by src_ip (else the sensor), and a source's records keep their
// order in their partition.
func TestSinkDelivers(t *testing.T) {
	c, _ := cluster(t, 3)
	s, err := NewSink(context.Background(), Config{Brokers: c.ListenAddrs()}, "s1")
	if err != nil {
		t.Fatal(err)
	}
	var all strings.Builder
	for i := range 200 {
		all.WriteString(line(i) + "\n")
	}
	all.WriteString(`{"event_type":"window","sensor":"s1"}` + "\n")
	b := []byte(all.String())
	for len(b) > 0 { // cut at odd places, as a bufio.Writer does
		n := min(len(b), 37)
		s.Write(b[:n])
		b = b[n:]
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	recs := consumeAll(t, c.ListenAddrs(), 201)
	checkOrder(t, recs)
	if cn := s.Counts(); cn.Delivered != 201 || cn.Dropped != 0 || cn.Spooled != 0 {
		t.Errorf("counts %+v", cn)
	}
	if string(recs[len(recs)-1].Key) != "s1" && !hasKey(recs, "s1") {
		t.Errorf("the window record is not keyed by the sensor")
	}
}

func hasKey(recs []*kgo.Record, k string) bool {
	for _, r := range recs {
		if string(r.Key) == k {
			return true
		}
	}
	return false
}

// checkOrder: every record is keyed by its src_ip, a key's records are in
// one partition, in the order written, none twice.
func checkOrder(t *testing.T, recs []*kgo.Record) {
	t.Helper()
	last := map[string]int{}
	part := map[string]int32{}
	for _, r := range recs {
		var seq int
		v := string(r.Value)
		if !strings.Contains(v, `"seq":`) {
			continue
		}
		fmt.Sscanf(v[strings.Index(v, `"seq":`)+6:], "%d", &seq)
		k := string(r.Key)
		if !strings.Contains(v, `"src_ip":"`+k+`"`) {
			t.Fatalf("key %q for %s", k, v)
		}
		if p, ok := part[k]; ok && p != r.Partition {
			t.Fatalf("source %s in partitions %d and %d", k, p, r.Partition)
		}
		part[k] = r.Partition
		if l, ok := last[k]; ok && seq <= l {
			t.Fatalf("source %s: record %d after %d", k, seq, l)
		}
		last[k] = seq
	}
}

// An unreachable broker at start is a clear error after the bounded wait.
func TestSinkUnreachableAtStart(t *testing.T) {
	start := time.Now()
	_, err := NewSink(context.Background(), Config{Brokers: []string{"127.0.0.1:1"}, StartTimeout: 500 * time.Millisecond}, "s1")
	if err == nil || !strings.Contains(err.Error(), "no broker of 127.0.0.1:1 answered within 500ms") {
		t.Fatalf("err %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("gave up after %v", d)
	}
}

// The broker unreachable in the middle of a run: the records beyond the
// memory buffer go to the spool, the writes never block, and when the
// broker is back everything is delivered, once, in order per source, with
// nothing dropped.
//
// Scaled: the outage lasts 500ms and 20,000 records arrive in it (40 times
// the 64KiB buffer). SYNSCOPE_OUTAGE=2m runs the 2-minute outage at
// the same record rate per second as the scaled run's first 500ms (about
// 5,000/s, as a busy sensor's sightings); docs/operations.md has the figures.
func TestSinkOutageSpools(t *testing.T) {
	outage := 500 * time.Millisecond
	if s := os.Getenv("SYNSCOPE_OUTAGE"); s != "" {
		var err error
		if outage, err = time.ParseDuration(s); err != nil {
			t.Fatal(err)
		}
	}
	c, g := cluster(t, 3)
	dir := filepath.Join(t.TempDir(), "spool")
	s, err := NewSink(context.Background(), Config{Brokers: c.ListenAddrs(), Buffer: 64 << 10, SpoolDir: dir, SpoolMax: 1 << 30}, "s1")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for ; n < 1000; n++ {
		s.Write([]byte(line(n) + "\n"))
	}
	g.close()
	start := time.Now()
	const perTick = 50 // records per 10ms: 5,000/s
	marks := 0
	for time.Since(start) < outage || n < 20000 {
		for range perTick {
			s.Write([]byte(line(n) + "\n"))
			n++
		}
		if n%5000 == 0 { // a window's progress mark, for every partition
			s.Write([]byte(fmt.Sprintf(`{"event_type":"progress","sensor":"s1","mark":%d}`, marks) + "\n"))
			marks++
		}
		if n >= 20000 {
			time.Sleep(10 * time.Millisecond)
		}
	}
	writing := time.Since(start)
	if cn := s.Counts(); cn.Spooled == 0 || cn.SpoolBytes == 0 {
		t.Fatalf("nothing spooled during the outage: %+v", cn)
	}
	spooled := s.Counts()
	g.open()
	reopened := time.Now()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	cn := s.Counts()
	t.Logf("outage %v: %d records written in %v, %d spooled (%d bytes at most); all delivered %v after the broker came back",
		outage, n, writing.Round(time.Millisecond), spooled.Spooled, spooled.SpoolBytes, time.Since(reopened).Round(time.Millisecond))
	if cn.Delivered != uint64(n+3*marks) || cn.Dropped != 0 || cn.Failed != 0 || cn.SpoolBytes != 0 {
		t.Errorf("counts %+v, %d written and %d marks; last error %q", cn, n, marks, s.LastError())
	}
	recs := consumeAll(t, c.ListenAddrs(), n+3*marks)
	checkOrder(t, recs)
	// Every partition has every progress mark, in order, spooled or not.
	got := map[int32]int{}
	for _, r := range recs {
		var m int
		if _, err := fmt.Sscanf(string(r.Value), `{"event_type":"progress","sensor":"s1","mark":%d}`, &m); err == nil {
			if m != got[r.Partition] {
				t.Fatalf("partition %d: mark %d after %d", r.Partition, m, got[r.Partition]-1)
			}
			got[r.Partition]++
		}
	}
	if marks == 0 || len(got) != 3 || got[0] != marks || got[1] != marks || got[2] != marks {
		t.Errorf("marks by partition %v, %d written", got, marks)
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Errorf("spool not emptied: %v", left)
	}
}

// Without a spool, or past its bound, records are dropped and counted,
// and the writes never block.
func TestSinkDropsCounted(t *testing.T) {
	c, g := cluster(t, 1)
	s, err := NewSink(context.Background(), Config{Brokers: c.ListenAddrs(), Buffer: 64 << 10, CloseTimeout: 200 * time.Millisecond}, "s1")
	if err != nil {
		t.Fatal(err)
	}
	g.close()
	for i := range 5000 {
		s.Write([]byte(line(i) + "\n"))
	}
	cn := s.Counts()
	if cn.Dropped == 0 || cn.Produced+cn.Dropped != 5000 {
		t.Errorf("counts %+v", cn)
	}
	if err := s.Close(); err == nil {
		t.Errorf("close with records undelivered: no error")
	}
}

// A spool left by a run that ended during an outage is delivered by the
// next run, before its own records.
func TestSpoolSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	sp, err := openSpool(dir, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		sp.add([]byte("k"), []byte(line(i)))
	}
	sp.close()
	os.WriteFile(filepath.Join(dir, "junk.txt"), []byte("x"), 0o600)
	c, _ := cluster(t, 1)
	s, err := NewSink(context.Background(), Config{Brokers: c.ListenAddrs(), SpoolDir: dir}, "s1")
	if err != nil {
		t.Fatal(err)
	}
	s.Write([]byte(line(3) + "\n"))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	recs := consumeAll(t, c.ListenAddrs(), 4)
	for i, r := range recs {
		if !strings.Contains(string(r.Value), fmt.Sprintf(`"seq":%d}`, i)) {
			t.Errorf("record %d: %s", i, r.Value)
		}
	}
}

// The broker process restarts (its log kept on disk, the same port) in
// the middle of a run: the sink reconnects and delivers everything, in
// order, nothing dropped.
func TestSinkBrokerRestart(t *testing.T) {
	data := t.TempDir()
	start := func(port int) *kfake.Cluster {
		c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(port), kfake.DataDir(data), kfake.SeedTopics(3, "synscope"))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	c := start(0)
	addrs := c.ListenAddrs()
	var port int
	fmt.Sscanf(addrs[0][strings.LastIndex(addrs[0], ":")+1:], "%d", &port)
	s, err := NewSink(context.Background(), Config{Brokers: addrs, Buffer: 64 << 10, SpoolDir: t.TempDir()}, "s1")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for ; n < 2000; n++ {
		s.Write([]byte(line(n) + "\n"))
	}
	s.Flush()
	c.Close() // the broker goes away: connections refused
	for ; n < 6000; n++ {
		s.Write([]byte(line(n) + "\n"))
	}
	time.Sleep(200 * time.Millisecond)
	c = start(port) // and comes back with its log
	defer c.Close()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if cn := s.Counts(); cn.Delivered != uint64(n) || cn.Dropped != 0 || cn.Failed != 0 {
		t.Errorf("counts %+v; last error %q", cn, s.LastError())
	}
	checkOrder(t, consumeAll(t, c.ListenAddrs(), n))
}

// TestSpoolGoesOnWhereItStopped: how far the oldest segment was handed to
// the producer is kept beside it, so the next run goes on from there. It
// began the segment again from its start: a run stopped while draining (the
// close timeout, a crash) had the first part of the segment delivered
// twice (29,223 of 100,000 records in review).
func TestSpoolGoesOnWhereItStopped(t *testing.T) {
	dir := t.TempDir()
	sp, _ := openSpool(dir, 1<<30)
	for i := range 10 {
		sp.add([]byte("k"), []byte(line(i)))
	}
	sp.close()
	sp, _ = openSpool(dir, 1<<30)
	for range 6 {
		if _, _, ok, err := sp.read(); !ok || err != nil {
			t.Fatal(ok, err)
		}
	}
	sp.close()
	sp, _ = openSpool(dir, 1<<30)
	left := sp.size
	got := readAll(sp)
	if len(got) != 4 || got[0] != line(6) || left != int64(4*(12+1+len(line(6)))) {
		t.Errorf("the next run reads %d records from %q on, %d bytes said left", len(got), got, left)
	}
	sp.close()
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("left in the spool: %v", ents)
	}

	// Through the sink: a run stopped a moment into draining 100,000
	// spooled records, then one that finishes. No record is delivered
	// twice; the ones the first run's producer held unacknowledged at its
	// end are lost, as documented (what the spool hands on leaves it).
	const n = 100_000
	sp, _ = openSpool(dir, 1<<30)
	for i := range n {
		l := line(i)
		sp.add(Key([]byte(l), []byte("s1")), []byte(l))
	}
	sp.close()
	c, _ := cluster(t, 3)
	s, err := NewSink(context.Background(), Config{Brokers: c.ListenAddrs(), Buffer: 64 << 10, SpoolDir: dir, CloseTimeout: time.Millisecond}, "s1")
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	s.Close()
	first := s.Counts()
	s, err = NewSink(context.Background(), Config{Brokers: c.ListenAddrs(), Buffer: 64 << 10, SpoolDir: dir}, "s1")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	second := s.Counts()
	total := int(first.Delivered + second.Delivered)
	seen := map[string]bool{}
	for _, r := range consumeAll(t, c.ListenAddrs(), total) {
		if seen[string(r.Value)] {
			t.Fatalf("%s delivered twice (%d in the topic of %d spooled)", r.Value, total, n)
		}
		seen[string(r.Value)] = true
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 || total < n-int(first.Failed)-100_000/10 {
		t.Errorf("%d of %d delivered (first run %+v), left %v", total, n, first, ents)
	}
}

// TestKeyIsTheSourceOrTheSensor: a record about one source is keyed by it,
// every other record by the sensor id; the summary was keyed by its
// busiest source, found in its top_sources.
func TestKeyIsTheSourceOrTheSensor(t *testing.T) {
	for line, want := range map[string]string{
		`{"event_type":"source","ts":"x","sensor":"s1","src_ip":"192.0.2.1","dst_ip":"198.18.0.1"}`:                  "192.0.2.1",
		`{"event_type":"sighting","ts":"x","sensor":"s1","src_ip":"192.0.2.2"}`:                                      "192.0.2.2",
		`{"event_type":"scanner","ts":"x","sensor":"s1","src_ip":"192.0.2.3","kind":"address_scan"}`:                 "192.0.2.3",
		`{"event_type":"alert","ts":"x","sensor":"s1","kind":"decoy","space":"dark","src_ip":"192.0.2.4"}`:           "192.0.2.4",
		`{"event_type":"summary","ts":"x","sensor":"s1","top_sources":[{"src_ip":"62.128.97.143","syn_packets":9}]}`: "s1",
		`{"event_type":"alert","ts":"x","sensor":"s1","kind":"flood","evidence":{"dst_ip":"198.18.0.1"}}`:            "s1",
		`{"event_type":"flood","ts":"x","sensor":"s1","sample":["192.0.2.9"]}`:                                       "s1",
		`{"event_type":"window","ts":"x","sensor":"s1"}`:                                                             "s1",
		`not json`: "s1",
	} {
		if got := string(Key([]byte(line), []byte("s1"))); got != want {
			t.Errorf("%s: keyed %q, want %q", line[:min(len(line), 40)], got, want)
		}
	}
}
