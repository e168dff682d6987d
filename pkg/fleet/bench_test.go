package fleet

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/synscope/synscope/pkg/kafka"
	"github.com/synscope/synscope/pkg/output"
)

// BenchmarkFleetEndToEnd publishes sightings from three sensors through a
// broker (kfake, in-process, 12 partitions) and collects them with one
// collector (--once): sightings/s end to end (publish and collect), and
// the collector's own rate and cost per sighting. SYNSCOPE_BENCH_SIGHTINGS
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
	win := int64(5 * time.Minute)
	for b.Loop() {
		c := cluster(b, 12)
		start := time.Now()
		for s := range sensors {
			id := sensorID(s)
			sink, err := kafka.NewSink(context.Background(), kafka.Config{Brokers: c.ListenAddrs(), Topic: "synscope"}, id)
			if err != nil {
				b.Fatal(err)
			}
			var line []byte
			for w := range windows {
				ws := w0 + int64(w)*win
				for i := range perWin {
					// Sources from a pool twice a window's size: most come
					// back in later windows and at other sensors.
					a := (i*7 + w*perWin/3 + s*perWin/2) % (2 * perWin)
					line = fmt.Appendf(line[:0], `{"event_type":"sighting","ts":"%s","sensor":"%s","src_ip":"10.%d.%d.%d","dst_ip":"198.18.0.1","dst_port":445,"window_start":"%s","prev_seen":"%s"}`+"\n",
						time.Unix(0, ws+int64(i)*1000).UTC().Format(time.RFC3339Nano), id, a>>16&255, a>>8&255, a&255,
						time.Unix(0, ws).UTC().Format(time.RFC3339Nano), time.Unix(0, ws-win).UTC().Format(time.RFC3339Nano))
					sink.Write(line)
				}
				line = fmt.Appendf(line[:0], `{"event_type":"progress","ts":"x","sensor":"%s","window_start":"%s","window_end":"%s","syn_packets":%d,"active_sources":%d,"new_sources":0,"flood_new_sources":0,"warmup":true}`+"\n",
					id, time.Unix(0, ws).UTC().Format(time.RFC3339Nano), time.Unix(0, ws+win).UTC().Format(time.RFC3339Nano), perWin, perWin)
				sink.Write(line)
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
