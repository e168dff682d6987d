package fleet

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"hash/crc32"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/synscope/synscope/pkg/capture"
	"github.com/synscope/synscope/pkg/decode"
	"github.com/synscope/synscope/pkg/engine"
	"github.com/synscope/synscope/pkg/kafka"
	"github.com/synscope/synscope/pkg/output"
)

// runSensor publishes what sensor s of k sees of pkts; finish ends its
// run (its last window and progress), else it is cut off as by a kill.
// With pause set, it stops at packet at, flushed, until pause is closed.
func runSensor(t *testing.T, pkts []capture.Packet, brokers []string, s, k int, finish bool) {
	runSensorPaused(t, pkts, brokers, s, k, finish, -1, nil, nil)
}

func runSensorPaused(t *testing.T, pkts []capture.Packet, brokers []string, s, k int, finish bool, at int, paused *sync.WaitGroup, pause chan struct{}) {
	sink, err := kafka.NewSink(context.Background(), kafka.Config{Brokers: brokers, Topic: "synscope"}, sensorID(s))
	if err != nil {
		t.Error(err)
		return
	}
	w := output.NewWriter(sink, sensorID(s))
	w.SetFleet(true)
	cfg := engine.DefaultConfig()
	cfg.Sightings = cfg.Window
	eng, _ := engine.New(cfg, w)
	dec := decoder(t)
	var syn decode.Syn
	for i := range pkts {
		if i == at {
			w.Flush()
			sink.Flush()
			paused.Done()
			<-pause
		}
		p := &pkts[i]
		if dec.Decode(p.LinkType, p.Data, &syn) == decode.Matched {
			if int(syn.Dst[3]^syn.Dst[2])%k != s {
				continue
			}
			eng.Frame(p.Timestamp, p.OrigLen, &syn)
		} else {
			eng.Frame(p.Timestamp, p.OrigLen, nil)
		}
	}
	if finish {
		eng.Finish()
	}
	w.Flush()
	if err := sink.Close(); err != nil {
		t.Error(err)
	}
}

// fleetRecords reads the `fleet` records of a collector's output.
func fleetRecords(t *testing.T, file string) []map[string]any {
	b, _ := os.ReadFile(file)
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) == nil && m["event_type"] == "fleet" {
			out = append(out, m)
		}
	}
	return out
}

// A sensor killed midway and restarted later (its memory lost): while it
// is away the collector does not wait for it beyond --max-lag, names it
// silent and goes on to the end; its records for windows closed without it
// are counted as late. (part's TestSilentSensorReported shows that a sensor
// heard from again is waited for again.)
func TestFleetSensorKilledAndRestarted(t *testing.T) {
	pkts := packets(t)
	want := single(t, pkts)
	c := cluster(t, 2)
	brokers := c.ListenAddrs()
	third := len(pkts) / 3
	var wg sync.WaitGroup
	for s := range 3 {
		wg.Go(func() { runSensor(t, pkts[:third], brokers, s, 3, s != 1) })
	}
	wg.Wait()
	file := filepath.Join(t.TempDir(), "fleet.jsonl")
	f, _ := os.Create(file)
	defer f.Close()
	cfg := collectConfig(brokers, false)
	cfg.MaxLag = 300 * time.Millisecond
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	col, err := New(ctx, cfg, output.NewWriter(f, "fleet"))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { col.Run(ctx); close(done) }()
	// s2 is away; s1 and s3 go on with the second third, then wait.
	var paused sync.WaitGroup
	paused.Add(2)
	pause := make(chan struct{})
	for _, s := range []int{0, 2} {
		wg.Go(func() { runSensorPaused(t, pkts[third:], brokers, s, 3, true, third, &paused, pause) })
	}
	paused.Wait()
	deadline := time.Now().Add(30 * time.Second)
	silent := func() bool {
		for _, r := range fleetRecords(t, file) {
			if slices.Contains(r["silent"].([]any), any("s2")) {
				return true
			}
		}
		return false
	}
	for !silent() && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if !silent() {
		t.Fatalf("s2 never reported silent")
	}
	// s2 restarts a little before where the others stand (its first
	// windows are closed already: late), then all three go to the end.
	// It stops where the others stand: offline sensors race through
	// packet time, and one far ahead would make the others look silent.
	paused.Add(1)
	wg.Go(func() { runSensorPaused(t, pkts[2*third-third/5:], brokers, 1, 3, true, third/5, &paused, pause) })
	paused.Wait()
	close(pause)
	wg.Wait()
	for len(fleetWindows(t, readAll(t, file)...)) < len(want) && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	stop()
	<-done
	recs := fleetRecords(t, file)
	if len(recs) != len(want) {
		t.Fatalf("%d fleet windows, want %d", len(recs), len(want))
	}
	var late float64
	for _, r := range recs {
		late += r["late_records"].(float64)
	}
	if late == 0 {
		t.Errorf("s2's records for closed windows not counted as late")
	}
	// (Whether the last windows wait for all three again is not asserted:
	// offline sensors race through packet time once released, and one that
	// lags for --max-lag is rightly taken for silent.)
}

// TestCombinerGoesOnPastALostPartial: a combiner started after retention
// cut the oldest partials (partition 0's share of window 0 gone) gives that
// window up, counted, and writes the rest: it waited for it for good,
// holding every later window in memory. A window between two complete
// ones that a partition will never give (it has given a later one) is
// given up on the same way; one still to come is waited for.
func TestCombinerGoesOnPastALostPartial(t *testing.T) {
	const win = int64(300e9)
	const base = int64(1_700_000_100) * 1e9 / win * win
	var out bytes.Buffer
	w := output.NewWriter(&out, "fleet")
	done := base + 4*win // the checkpoint: windows 0 to 3 written before the restart
	c := newCombiner(w, int64(86400e9), nil, done)
	part := func(p int, k int64) *Partial {
		return &Partial{Partition: p, Partitions: 2, Start: base + k*win, End: base + (k+1)*win, New: 1, Active: 1}
	}
	c.add(part(1, 0))
	for k := int64(1); k < 10; k++ {
		if k == 6 {
			c.add(part(0, k)) // partition 1's share of window 6 lost
			continue
		}
		c.add(part(0, k))
		c.add(part(1, k))
	}
	c.add(part(0, 10)) // window 10: partition 1's share still to come
	w.Flush()
	// Windows 1..3 fed to the classifier only, 4, 5, 7, 8, 9 written, 0
	// and 6 given up, 10 held.
	if c.written != 5 || c.incomplete != 2 || len(c.wins) != 1 || c.wins[base+10*win] == nil {
		t.Errorf("written %d, given up %d, held %d", c.written, c.incomplete, len(c.wins))
	}
	c.add(part(1, 10))
	if c.written != 6 || len(c.wins) != 0 {
		t.Errorf("after window 10 completed: written %d, held %d", c.written, len(c.wins))
	}
}

// TestSnapshotSlotFromTheManifest: a restored partition's next snapshot
// goes to the slot the latest manifest does not name (restore left the
// slot at 0, so after a snapshot in slot 1 the next overwrote the chunks
// the manifest named: a collector dying part way left none that checks
// out, and the partition was replayed from its start).
func TestSnapshotSlotFromTheManifest(t *testing.T) {
	p := newPart(0, 1, 300e9, 86400e9, 600e9)
	b, err := json.Marshal(p.snapshot(10))
	if err != nil {
		t.Fatal(err)
	}
	m, _ := json.Marshal(manifest{Slot: 1, Offset: 10, Sum: crc32.ChecksumIEEE(b), Chunks: 1})
	s, err := loadSnapshot(map[string][]byte{"p0": m, "p0/1/0": b}, 0)
	if err != nil || s == nil || s.slot != 1 {
		t.Fatalf("snapshot %+v, %v", s, err)
	}
}

// TestCollectorReopensItsOutput: Reopen (SIGHUP) has the collector reopen
// its output between records, at its next poll, also with nothing to
// read; it had no way to (and SIGHUP's default action ended it).
func TestCollectorReopensItsOutput(t *testing.T) {
	c := cluster(t, 2)
	cfg := collectConfig(c.ListenAddrs(), false)
	cfg.MaxLag = 200 * time.Millisecond // a poll every 50 ms
	var reopened atomic.Int32
	cfg.ReopenOutput = func() { reopened.Add(1) }
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	var out bytes.Buffer
	col, err := New(ctx, cfg, output.NewWriter(&out, "fleet"))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { col.Run(ctx); close(done) }()
	for range 2 {
		before := reopened.Load()
		col.Reopen()
		deadline := time.Now().Add(10 * time.Second)
		for reopened.Load() == before && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if reopened.Load() != before+1 {
			t.Fatalf("Reopen asked, the output reopened %d times (want %d)", reopened.Load(), before+1)
		}
	}
	stop()
	<-done
}
