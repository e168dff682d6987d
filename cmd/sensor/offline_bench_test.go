package main

import (
	"context"
	"io"
	"os"
	"testing"
)

// BenchmarkOffline runs the whole sensor on a capture, output discarded:
// the one SENSOR_BENCH_CAPTURE names, or the shipped demo capture.
//
//	SENSOR_BENCH_CAPTURE=$PWD/testdata/bench/bench-v2-s1.pcap go test ./cmd/sensor -run '^$' -bench Offline -benchtime 3x
func BenchmarkOffline(b *testing.B) {
	path := os.Getenv("SENSOR_BENCH_CAPTURE")
	if path == "" {
		path = "../../testdata/demo.pcapng"
	}
	for b.Loop() {
		if code := run(context.Background(), []string{"-r", path, "-o", os.DevNull, "--log-level", "error"}, io.Discard, io.Discard); code != 0 {
			b.Fatalf("sensor -r %s: exit %d", path, code)
		}
	}
}
