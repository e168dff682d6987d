package pipeline

import (
	"context"
	"io"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/synscope/synscope/internal/scenario"
	"github.com/synscope/synscope/pkg/capture/pcapfile"
	"github.com/synscope/synscope/pkg/decode"
	"github.com/synscope/synscope/pkg/engine"
	"github.com/synscope/synscope/pkg/output"
	"github.com/synscope/synscope/pkg/ports"
)

// BenchmarkPipeline measures the whole offline path (read, decode, engine,
// JSONL to io.Discard) over a generated capture: mostly background with
// SYNs to 445 from a growing population, like the "bench" preset, but
// shorter so the benchmark stays quick.
func BenchmarkPipeline(b *testing.B) {
	cfg, err := scenario.Preset("bench")
	if err != nil {
		b.Fatal(err)
	}
	cfg.Seed = 1
	cfg.Duration = 90 * time.Minute
	path := filepath.Join(b.TempDir(), "bench.pcap")
	truth, err := scenario.GenerateFile(cfg, path, scenario.FileOptions{})
	if err != nil {
		b.Fatal(err)
	}
	watched, _ := ports.Parse("445")
	pkts := float64(truth.Totals.Packets)
	b.ReportAllocs()
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	for b.Loop() {
		src, err := pcapfile.Open([]string{path})
		if err != nil {
			b.Fatal(err)
		}
		w := output.NewWriter(io.Discard, "bench")
		eng, _ := engine.New(engine.DefaultConfig(), w)
		st, err := Run(context.Background(), src, &decode.Decoder{Ports: watched}, eng, w, Hooks{})
		if err != nil || st.Engine.Packets != uint64(truth.Totals.Packets) {
			b.Fatalf("run: %v, %d packets of %d", err, st.Engine.Packets, truth.Totals.Packets)
		}
		src.Close()
	}
	runtime.ReadMemStats(&m1)
	b.ReportMetric(float64(m1.Mallocs-m0.Mallocs)/float64(b.N)/pkts, "allocs/pkt")
	per := float64(b.Elapsed().Nanoseconds()) / float64(b.N) / pkts
	b.ReportMetric(per, "ns/pkt")
	b.ReportMetric(1e9/per, "pkts/s")
	b.ReportMetric(pkts, "pkts/op")
}
