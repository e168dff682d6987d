package engine

import (
	"runtime"
	"testing"
	"time"

	"github.com/synscope/synscope/pkg/decode"
)

// BenchmarkHeapPerSource measures the heap the engine holds per remembered
// IPv4 source, at 1 M sources.
func BenchmarkHeapPerSource(b *testing.B) {
	const n = 1_000_000
	for b.Loop() {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		cfg := DefaultConfig()
		e, _ := New(cfg, discard{})
		var s decode.Syn
		s.DstPort, s.Flags, s.WScale = 445, 2, 0xff
		for i := 0; i < n; i++ {
			s.Src = [16]byte{byte(i >> 24), byte(i >> 16), byte(i >> 8), byte(i)}
			s.Ts = e.Packet(t0+int64(i)*int64(time.Microsecond), 60)
			e.Syn(&s)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapInuse-before.HeapInuse)/n, "B/source")
		runtime.KeepAlive(e)
	}
}

type discard struct{}

func (discard) Source(*SourceRecord) {}
func (discard) Window(*WindowRecord) {}

// BenchmarkExpiryPause measures the longest single step of the engine
// while a table of 1 M sources expires: packets every second for three
// lookbacks after the sources fall silent. The metric max-pause-ms is the
// longest Packet call (which closes windows and forgets sources).
func BenchmarkExpiryPause(b *testing.B) {
	const n = 1_000_000
	for b.Loop() {
		cfg := DefaultConfig()
		cfg.Window, cfg.Lookback = time.Minute, 10*time.Minute
		e, _ := New(cfg, discard{})
		var s decode.Syn
		s.DstPort, s.Flags, s.WScale = 445, 2, 0xff
		for i := 0; i < n; i++ {
			s.Src = [16]byte{byte(i >> 24), byte(i >> 16), byte(i >> 8), byte(i)}
			s.Ts = e.Packet(t0+int64(i)*int64(100*time.Nanosecond), 60)
			e.Syn(&s)
		}
		var worst time.Duration
		for sec := int64(1); sec <= 1800; sec++ {
			start := time.Now()
			e.Packet(t0+sec*int64(time.Second), 60)
			if d := time.Since(start); d > worst {
				worst = d
			}
		}
		if c := e.Counters(); c.Expired != n || c.TrackedSources != 0 {
			b.Fatalf("expired %d, tracked %d", c.Expired, c.TrackedSources)
		}
		b.ReportMetric(float64(worst.Microseconds())/1000, "max-pause-ms")
	}
}
