package fleet

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"sync"
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
