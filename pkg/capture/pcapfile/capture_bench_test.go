package pcapfile

import (
	"os"
	"testing"

	"github.com/synscope/synscope/pkg/capture"
)

// BenchmarkReadCapture reads the capture SENSOR_BENCH_CAPTURE names (or
// the shipped demo capture) in batches, calling Ahead as the pipeline
// does and nothing else done with the packets but reading a byte each:
// the reading path alone, as the sensor drives it on one input.
//
//	SENSOR_BENCH_CAPTURE=$PWD/testdata/bench/bench-v2-s1.pcap GOMAXPROCS=1 go test ./pkg/capture/pcapfile -run '^$' -bench ReadCapture -benchtime 5x
func BenchmarkReadCapture(b *testing.B) {
	path := os.Getenv("SENSOR_BENCH_CAPTURE")
	if path == "" {
		path = "../../../testdata/demo.pcapng"
	}
	ps := make([]capture.Packet, 256)
	var bytes int64
	for b.Loop() {
		r, err := Open([]string{path})
		if err != nil {
			b.Fatal(err)
		}
		n, sum := 0, 0
		for {
			k, err := r.NextBatch(ps)
			if err != nil {
				break
			}
			for i, p := range ps[:k] {
				if i%4 == 0 {
					r.Ahead()
				}
				if len(p.Data) > 13 {
					sum += int(p.Data[13]) // the frame's first line, as a decoder reads it
				}
			}
			n += k
		}
		if n == 0 || sum < 0 {
			b.Fatal("no packets")
		}
		_, bytes = r.Progress()
		r.Close()
	}
	b.SetBytes(bytes)
}
