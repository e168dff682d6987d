package fleet

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/synscope/synscope/pkg/capture"
	"github.com/synscope/synscope/pkg/capture/pcapfile"
	"github.com/synscope/synscope/pkg/decode"
	"github.com/synscope/synscope/pkg/engine"
	"github.com/synscope/synscope/pkg/kafka"
	"github.com/synscope/synscope/pkg/output"
	"github.com/synscope/synscope/pkg/ports"
)

const demo = "../../testdata/demo.pcapng"

// win is what the exactness target compares, window for window.
type win struct {
	Start                       string
	SynPackets, Active, NewSrcs uint64
	Coverage                    string // as written, six digits
}

// windows is a recorder of one sensor's windows (the reference run).
type windows struct{ ws []win }

func (r *windows) Source(*engine.SourceRecord) {}
func (r *windows) Window(w *engine.WindowRecord) {
	r.ws = append(r.ws, win{time.Unix(0, w.Start).UTC().Format(time.RFC3339), w.SynPackets, w.ActiveSources, w.NewSources, strconv.FormatFloat(w.Exposure, 'g', 6, 64)})
}

// packets reads the demo capture once.
func packets(t testing.TB) []capture.Packet {
	t.Helper()
	r, err := pcapfile.Open([]string{demo})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var out []capture.Packet
	var p capture.Packet
	for r.Next(&p) == nil {
		q := p
		q.Data = bytes.Clone(p.Data)
		out = append(out, q)
	}
	return out
}

func decoder(t testing.TB) *decode.Decoder {
	p, err := ports.Parse("445")
	if err != nil {
		t.Fatal(err)
	}
	return &decode.Decoder{Ports: p}
}

// single is one sensor's run over the whole capture: the reference.
func single(t testing.TB, pkts []capture.Packet) []win {
	rec := &windows{}
	eng, err := engine.New(engine.DefaultConfig(), rec)
	if err != nil {
		t.Fatal(err)
	}
	dec := decoder(t)
	var syn decode.Syn
	for i := range pkts {
		p := &pkts[i]
		if dec.Decode(p.LinkType, p.Data, &syn) == decode.Matched {
			eng.Frame(p.Timestamp, p.OrigLen, &syn)
		} else {
			eng.Frame(p.Timestamp, p.OrigLen, nil)
		}
	}
	eng.Finish()
	return rec.ws
}

// fleetSensors runs k sensors that split the capture by destination
// address (a SYN goes to the sensor its destination hashes to; every other
// frame to all, so they keep the same clock), each publishing to the topic.
func fleetSensors(t testing.TB, pkts []capture.Packet, brokers []string, k int) {
	t.Helper()
	fleetSensorsPaused(t, pkts, brokers, k, nil)
}

// fleetSensorsPaused is fleetSensors, with every sensor stopping at half
// the capture, when pause is set, until pause is closed; it returns once
// every sensor has published its first half (and, without a pause, all).
func fleetSensorsPaused(t testing.TB, pkts []capture.Packet, brokers []string, k int, pause chan struct{}) *sync.WaitGroup {
	t.Helper()
	var wg, half sync.WaitGroup
	half.Add(k)
	for s := range k {
		wg.Go(func() {
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
				if i == len(pkts)/2 {
					w.Flush()
					sink.Flush()
					half.Done()
					if pause != nil {
						<-pause
					}
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
			eng.Finish()
			if err := w.Flush(); err != nil {
				t.Error(err)
			}
			if err := sink.Close(); err != nil {
				t.Error(err)
			}
		})
	}
	half.Wait()
	if pause == nil {
		wg.Wait()
	}
	return &wg
}

func sensorID(i int) string { return "s" + string(rune('1'+i)) }

func cluster(t testing.TB, partitions int32) *kfake.Cluster {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(partitions, "synscope"), kfake.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// producer is a client of the brokers producing to the synscope topic by
// default, closed with the test.
func producer(t testing.TB, brokers []string, opts ...kgo.Opt) *kgo.Client {
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(brokers...), kgo.DefaultProduceTopic("synscope")}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// fleetWindows reads the fleet's window records from collectors' outputs,
// one per window: a window written twice (by a combiner restarted before
// its checkpoint) must be the same both times.
func fleetWindows(t *testing.T, outs ...[]byte) []win {
	t.Helper()
	seen := map[string]win{}
	var order []string
	for _, out := range outs {
		sc := bufio.NewScanner(bytes.NewReader(out))
		for sc.Scan() {
			var raw map[string]any
			if err := json.Unmarshal(sc.Bytes(), &raw); err != nil {
				t.Fatalf("collector output: %v: %s", err, sc.Text())
			}
			if raw["event_type"] != "window" {
				continue
			}
			st, _ := time.Parse(time.RFC3339Nano, raw["window_start"].(string))
			w := win{st.UTC().Format(time.RFC3339), uint64(raw["syn_packets"].(float64)), uint64(raw["active_sources"].(float64)), uint64(raw["new_sources"].(float64)),
				strconv.FormatFloat(raw["coverage"].(float64), 'g', 6, 64)}
			if old, ok := seen[w.Start]; ok {
				if old != w {
					t.Errorf("window %s written twice, differently: %+v and %+v", w.Start, old, w)
				}
				continue
			}
			seen[w.Start] = w
			order = append(order, w.Start)
		}
	}
	var ws []win
	for _, s := range order {
		ws = append(ws, seen[s])
	}
	return ws
}

func compare(t *testing.T, got, want []win) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d fleet windows, %d from one sensor", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("window %d: fleet %+v, one sensor %+v", i, got[i], want[i])
		}
	}
}

func collectConfig(brokers []string, once bool) Config {
	d := engine.DefaultConfig()
	return Config{Kafka: kafka.Config{Brokers: brokers, Topic: "synscope", StartTimeout: 5 * time.Second},
		Window: d.Window, Lookback: d.Lookback, Once: once, MaxLag: time.Hour}
}

// Exactness: three sensors on three parts of the capture (split by
// destination, so many sources appear at several sensors, at different
// times); one collector with --once; its window records equal one sensor's
// run over the whole capture, window for window.
func TestFleetEqualsOneSensorOnce(t *testing.T) {
	pkts := packets(t)
	want := single(t, pkts)
	c := cluster(t, 4)
	fleetSensors(t, pkts, c.ListenAddrs(), 3)
	var out bytes.Buffer
	w := output.NewWriter(&out, "fleet")
	col, err := New(context.Background(), collectConfig(c.ListenAddrs(), true), w)
	if err != nil {
		t.Fatal(err)
	}
	st, err := col.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.Bad != 0 || st.Late != 0 {
		t.Errorf("stats %+v", st)
	}
	t.Logf("%d windows, stats %+v", len(want), st)
	compare(t, fleetWindows(t, out.Bytes()), want)
}

// liveCollector runs a collector (a group member) writing to file until
// its context is cancelled.
func liveCollector(t *testing.T, ctx context.Context, brokers []string, file string) (*Collector, chan error) {
	done := make(chan error, 1)
	f, err := os.OpenFile(file, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	w := output.NewWriter(f, "fleet")
	cfg := collectConfig(brokers, false)
	// The sensors' runs end within the capture's last window: waited for
	// a restart this long, not for MaxLag.
	cfg.RestartWait = 2 * time.Second
	name := filepath.Base(file)
	cfg.Log = func(msg string, fields ...any) {
		if msg == "partition resumed from its snapshot" {
			resumed.Add(1)
		}
		if strings.HasPrefix(msg, "partials of a topic of another partition count") {
			otherCount.Add(1)
		}
		t.Logf("%s: %s %v", name, msg, fields)
	}
	col, err := New(ctx, cfg, w)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		_, err := col.Run(ctx)
		f.Close()
		done <- err
	}()
	return col, done
}

// resumed counts partitions restored from a snapshot (not replayed);
// otherCount the collectors' words on partials of another partition count.
var resumed, otherCount atomic.Int64

// waitShared waits until every collector owns a partition: the group has
// rebalanced over all of them.
func waitShared(t *testing.T, cols ...*Collector) {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		ok := true
		for _, c := range cols {
			ok = ok && c.Owned() > 0
		}
		if ok {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("the collectors never shared the partitions")
}

func readAll(t *testing.T, files ...string) [][]byte {
	var out [][]byte
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// waitWindows waits until the collectors' outputs hold n windows.
func waitWindows(t *testing.T, n int, files ...string) {
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if len(fleetWindows(t, readAll(t, files...)...)) >= n {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("fewer than %d windows written in time", n)
}

// The same with two collectors sharing the partitions, and with one of
// them stopped midway and started again (two rebalances): every window
// once, equal to one sensor's.
func TestFleetTwoCollectorsAndARestart(t *testing.T) {
	pkts := packets(t)
	want := single(t, pkts)
	c := cluster(t, 4)
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.jsonl"), filepath.Join(dir, "b.jsonl")
	// The sensors publish first: a collector waits for the sensors it has
	// heard from, and offline sensors race through hours of packet time in
	// milliseconds (live ones keep pace with the wall clock together).
	// Midway: the first half of the capture is published and collected,
	// then the collector that writes is stopped, the sensors go on with
	// the second half, and it comes back.
	pause := make(chan struct{})
	sensors := fleetSensorsPaused(t, pkts, c.ListenAddrs(), 3, pause)
	ctxA, stopA := context.WithCancel(context.Background())
	ctxB, stopB := context.WithCancel(context.Background())
	defer stopB()
	colA, doneA := liveCollector(t, ctxA, c.ListenAddrs(), a)
	colB, doneB := liveCollector(t, ctxB, c.ListenAddrs(), b)
	waitShared(t, colA, colB)
	waitWindows(t, 10, a, b)
	if len(fleetWindows(t, readAll(t, b)...)) > 0 {
		// b combines: stop b instead, under the name a.
		a, b = b, a
		stopA, stopB = stopB, stopA
		doneA, doneB = doneB, doneA
	}
	stopA()
	if err := <-doneA; err != nil {
		t.Fatal(err)
	}
	close(pause)
	sensors.Wait()
	ctxA2, stopA2 := context.WithCancel(context.Background())
	defer stopA2()
	colA2, doneA2 := liveCollector(t, ctxA2, c.ListenAddrs(), a) // and comes back
	waitShared(t, colA2)
	waitWindows(t, len(want), a, b)
	stopA2()
	stopB()
	<-doneA2
	<-doneB
	if resumed.Load() == 0 {
		t.Errorf("no partition resumed from a snapshot after the rebalances")
	}
	outs := readAll(t, a, b)
	t.Logf("windows written: %d by a, %d by b", len(fleetWindows(t, outs[0])), len(fleetWindows(t, outs[1])))
	compare(t, fleetWindows(t, outs...), want)
}

// TestCollectorSaysWindowsAreNotItsOwn: a collector run with --window 1m
// against sensors on 5-minute windows says so, once a sensor, naming both
// (it wrote every fifth window with five minutes' counts and four empty
// ones, a sawtooth the growth classifier called exponential, without a
// word); with the sensors' window it says nothing.
func TestCollectorSaysWindowsAreNotItsOwn(t *testing.T) {
	pkts := packets(t)
	c := cluster(t, 4)
	fleetSensors(t, pkts, c.ListenAddrs(), 3)
	for _, window := range []time.Duration{time.Minute, engine.DefaultConfig().Window} {
		cfg := collectConfig(c.ListenAddrs(), true)
		cfg.Window = window
		cfg.Group = fmt.Sprintf("g-%v", window)
		var said []string
		cfg.Log = func(msg string, fields ...any) {
			if strings.Contains(msg, "not the collector's") {
				said = append(said, fmt.Sprint(fields...))
			}
		}
		col, err := New(context.Background(), cfg, output.NewWriter(io.Discard, "fleet"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := col.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		switch {
		case window == time.Minute && (len(said) != 3 || !strings.Contains(said[0], "5m0s") || !strings.Contains(said[0], "1m0s")):
			t.Errorf("--window 1m against 5m sensors: said %q (once for each of the 3 sensors)", said)
		case window != time.Minute && len(said) != 0:
			t.Errorf("the sensors' own window: said %q", said)
		}
	}
}
