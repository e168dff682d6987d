package engine

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"

	"github.com/synscope/synscope/pkg/decode"
)

// BenchmarkHeapPerSource measures the heap the engine holds per remembered
// source (sources, their prefixes, everything), at 1 M and 10 M sources
// drawn at random from the whole address space (so nearly every source
// brings its own /24 or /48 too: the worst case for the prefix tables).
// B/source is heap in use after divided by sources; table-B/source is the
// source tables' slots alone.
//
//	go test ./pkg/engine -run '^$' -bench HeapPerSource -benchtime 1x
func BenchmarkHeapPerSource(b *testing.B) {
	for _, v6 := range []bool{false, true} {
		for _, n := range []int{1_000_000, 10_000_000} {
			name := fmt.Sprintf("ipv4-%dM", n/1_000_000)
			if v6 {
				name = fmt.Sprintf("ipv6-%dM", n/1_000_000)
			}
			b.Run(name, func(b *testing.B) {
				if testing.Short() && n > 1_000_000 {
					b.Skip("10 M sources: not in -short")
				}
				for b.Loop() {
					heapPerSource(b, n, v6)
				}
			})
		}
	}
}

func heapPerSource(b *testing.B, n int, v6 bool) {
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	cfg := DefaultConfig()
	cfg.MaxSources = n
	e, _ := New(cfg, discard{})
	var s decode.Syn
	s.DstPort, s.Flags, s.WScale, s.V6 = 445, 2, 0xff, v6
	rng := rand.New(rand.NewPCG(uint64(n), 1))
	for i := 0; i < n; i++ {
		a, c := rng.Uint64(), rng.Uint64()
		for j := range 8 {
			s.Src[j], s.Src[8+j] = byte(a>>(8*j)), byte(c>>(8*j))
		}
		e.Frame(t0+int64(i)*int64(time.Microsecond), 60, &s)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	e.Flush()
	c := e.Counters()
	tracked := float64(c.TrackedSources)
	var slots int
	for _, sh := range e.shards {
		slots += sh.tab.SlotBytes()
	}
	b.ReportMetric(float64(after.HeapInuse-before.HeapInuse)/tracked, "B/source")
	b.ReportMetric(float64(slots)/tracked, "table-B/source")
	b.ReportMetric(tracked, "sources")
	runtime.KeepAlive(e)
}

type discard struct{}

func (discard) Source(*SourceRecord) {}
func (discard) Window(*WindowRecord) {}

// BenchmarkExpiryPause measures the longest single step of the engine
// while a table of 1 M sources expires: packets every second for three
// lookbacks after the sources fall silent. The metric max-pause-ms is the
// longest Frame call without a SYN (which closes windows and forgets sources), with the
// shard inline so that any pause lands on the measured goroutine;
// max-insert-ms is the longest Frame call with a new SYN while the table filled (a table
// doubling moves every entry).
func BenchmarkExpiryPause(b *testing.B) {
	const n = 1_000_000
	for b.Loop() {
		cfg := DefaultConfig()
		cfg.Window, cfg.Lookback = time.Minute, 10*time.Minute
		e, _ := New(cfg, discard{})
		var s decode.Syn
		s.DstPort, s.Flags, s.WScale = 445, 2, 0xff
		var worstInsert time.Duration
		for i := 0; i < n; i++ {
			s.Src = [16]byte{byte(i >> 24), byte(i >> 16), byte(i >> 8), byte(i)}
			start := time.Now()
			e.Frame(t0+int64(i)*int64(100*time.Nanosecond), 60, &s)
			if d := time.Since(start); d > worstInsert {
				worstInsert = d
			}
		}
		var worst time.Duration
		for sec := int64(1); sec <= 1800; sec++ {
			start := time.Now()
			e.Frame(t0+sec*int64(time.Second), 60, nil)
			if d := time.Since(start); d > worst {
				worst = d
			}
		}
		e.Flush()
		if c := e.Counters(); c.Expired != n || c.TrackedSources != 0 {
			b.Fatalf("expired %d, tracked %d", c.Expired, c.TrackedSources)
		}
		b.ReportMetric(float64(worst.Microseconds())/1000, "max-pause-ms")
		b.ReportMetric(float64(worstInsert.Microseconds())/1000, "max-insert-ms")
	}
}
