package fleet

import (
	"context"
	"io"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/synscope/synscope/pkg/decode"
	"github.com/synscope/synscope/pkg/engine"
	"github.com/synscope/synscope/pkg/kafka"
	"github.com/synscope/synscope/pkg/output"
)

// BenchmarkFleetEndToEnd publishes sightings from three sensors (the
// sensor's writer and Kafka driver) through a broker (kfake, in-process,
// 12 partitions) and collects them with one collector (--once):
// sightings/s end to end (publish, then collect: the two stages one after
// the other, on the same two cores as the broker), and each stage's own
// rate and the collector's cost per sighting. SYNSCOPE_BENCH_SIGHTINGS
// sets the number (default 300,000; docs/fleet.md has the figures for
// 3,000,000):
//
//	go test ./pkg/fleet -run - -bench FleetEndToEnd -benchtime 1x
func BenchmarkFleetEndToEnd(b *testing.B) {
	total := 300_000
	if s := os.Getenv("SYNSCOPE_BENCH_SIGHTINGS"); s != "" {
		total, _ = strconv.Atoi(s)
	}
	const sensors, windows = 3, 20
	perWin := total / sensors / windows
	w0 := time.Date(2009, 1, 10, 0, 0, 0, 0, time.UTC).UnixNano()
	winLen := int64(5 * time.Minute)
	for b.Loop() {
		c := cluster(b, 12)
		start := time.Now()
		for s := range sensors {
			id := sensorID(s)
			sink, err := kafka.NewSink(context.Background(), kafka.Config{Brokers: c.ListenAddrs(), Topic: "synscope"}, id)
			if err != nil {
				b.Fatal(err)
			}
			// The sensor's own writer encodes the records, as a sensor
			// with Kafka on does.
			w := output.NewWriter(sink, id)
			w.SetFleet(true)
			var sr engine.SightingRecord
			sr.Syn = decode.Syn{DstPort: 445, Dst: [16]byte{198, 18, 0, 1}}
			for win := range windows {
				ws := w0 + int64(win)*winLen
				for i := range perWin {
					// Sources from a pool twice a window's size: most come
					// back in later windows and at other sensors.
					a := (i*7 + win*perWin/3 + s*perWin/2) % (2 * perWin)
					sr.Syn.Src = [16]byte{10, byte(a >> 16), byte(a >> 8), byte(a)}
					sr.Syn.Ts, sr.WindowStart, sr.PrevSeen = ws+int64(i)*1000, ws, ws-winLen
					w.Sighting(&sr)
				}
				w.Window(&engine.WindowRecord{Start: ws, End: ws + winLen, SynPackets: uint64(perWin), ActiveSources: uint64(perWin)})
			}
			if err := w.Flush(); err != nil {
				b.Fatal(err)
			}
			if err := sink.Close(); err != nil {
				b.Fatal(err)
			}
		}
		published := time.Since(start)
		cstart := time.Now()
		col, err := New(context.Background(), collectConfig(c.ListenAddrs(), true), output.NewWriter(io.Discard, "fleet"))
		if err != nil {
			b.Fatal(err)
		}
		st, err := col.Run(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		collected := time.Since(cstart)
		n := float64(sensors * windows * perWin)
		if st.Windows != windows || st.Bad != 0 {
			b.Fatalf("stats %+v", st)
		}
		b.ReportMetric(n/time.Since(start).Seconds(), "sightings/s_end_to_end")
		b.ReportMetric(n/collected.Seconds(), "sightings/s_collect")
		b.ReportMetric(float64(collected.Nanoseconds())/n, "ns/sighting_collect")
		b.ReportMetric(n/published.Seconds(), "sightings/s_publish")
		c.Close()
	}
}
