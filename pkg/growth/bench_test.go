package growth

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// BenchmarkBenchCapture runs the classifier over the windows of the
// `bench` preset's shape (26 h of 5-minute windows, 20 new sources an hour
// doubling every 8 h) and of a steady day and a half with a step up and an
// outbreak on top (where the excess test runs): the classifier's own cost
// per capture, without decoding.
func BenchmarkBenchCapture(b *testing.B) {
	shapes := map[string]func(h float64) float64{
		"exponential": func(h float64) float64 { return 20 * math.Exp2(h/8) },
		"outbreak": func(h float64) float64 {
			if h < 24 {
				return 24
			}
			return 24 + math.Exp2(h-24)
		},
	}
	for name, rate := range shapes {
		b.Run(name, func(b *testing.B) {
			w := 5 * time.Minute
			r := rand.New(rand.NewPCG(1, 1))
			counts := make([]float64, 26*12)
			for i := range counts {
				counts[i] = poisson(r, rate((float64(i)+0.5)/12)/12)
			}
			b.ReportAllocs()
			for b.Loop() {
				c, _ := New(DefaultConfig(), w)
				for i, n := range counts {
					start := t0 + int64(i)*int64(w)
					c.Add(Window{Start: start, End: start + int64(w), New: n, Exposure: 1})
				}
			}
		})
	}
}

// BenchmarkReplayWindows runs the classifier, on one goroutine, over the
// windows of a sensor run's JSONL (its window records: start, end, new
// sources less flood sources, coverage, warm-up), given by
// SENSOR_BENCH_WINDOWS (comma-separated files; skipped without it): the
// classifier's cost per window on a real capture's counts, e.g.
//
//	sensor -r testdata/bench/bench-v2-s1.pcap > /tmp/bench.jsonl
//	SENSOR_BENCH_WINDOWS=/tmp/bench.jsonl go test ./pkg/growth -run '^$' -bench ReplayWindows -benchtime 5x
func BenchmarkReplayWindows(b *testing.B) {
	env := os.Getenv("SENSOR_BENCH_WINDOWS")
	if env == "" {
		b.Skip("SENSOR_BENCH_WINDOWS names no JSONL file")
	}
	for _, path := range strings.Split(env, ",") {
		ws, window, err := replayWindows(path)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(filepath.Base(path), func(b *testing.B) {
			for b.Loop() {
				c, err := New(DefaultConfig(), window)
				if err != nil {
					b.Fatal(err)
				}
				c.serial = true
				for _, w := range ws {
					c.Add(w)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/1e3/float64(b.N)/float64(len(ws)), "µs/window")
		})
	}
}

// replayWindows reads the window records of a sensor's JSONL as the
// engine hands them to the classifier (the coverage as printed, six
// digits, for the exposure) and the window length.
func replayWindows(path string) ([]Window, time.Duration, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	var ws []Window
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		var r struct {
			Start      time.Time `json:"window_start"`
			End        time.Time `json:"window_end"`
			NewSources float64   `json:"new_sources"`
			FloodNew   float64   `json:"flood_new_sources"`
			Coverage   float64   `json:"coverage"`
			Warmup     bool      `json:"warmup"`
		}
		if !bytes.Contains(sc.Bytes(), []byte(`"event_type":"window"`)) {
			continue
		}
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return nil, 0, fmt.Errorf("%s: %w", path, err)
		}
		ws = append(ws, Window{Start: r.Start.UnixNano(), End: r.End.UnixNano(), New: r.NewSources - r.FloodNew,
			Exposure: r.Coverage, Warmup: r.Warmup})
	}
	if err := sc.Err(); err != nil {
		return nil, 0, fmt.Errorf("%s: %w", path, err)
	}
	if len(ws) == 0 {
		return nil, 0, fmt.Errorf("%s: no window records", path)
	}
	return ws, time.Duration(ws[0].End - ws[0].Start), nil
}
