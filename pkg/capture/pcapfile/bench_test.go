package pcapfile

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/synscope/synscope/pkg/capture"
)

// BenchmarkReadPcap reads a 100k-packet file (SYN-sized and full-sized
// frames mixed) end to end, per format.
func BenchmarkReadPcap(b *testing.B) {
	const pkts = 100_000
	var recs []rec
	ng := (&ngBuilder{}).shb(binary.LittleEndian).idb(1, 0, 9, 0)
	for i := range pkts {
		size := 60
		if i%4 == 0 {
			size = 1514
		}
		d := payload(byte(i), size)
		recs = append(recs, rec{uint32(1700000000 + i/1000), uint32(i%1000) * 1000, d, 0})
		ng.epb(0, uint64(1700000000+i/1000)*1e9+uint64(i%1000)*1e6, d, uint32(size))
	}
	pc := pcapBytes(binary.LittleEndian, false, 1, recs...)
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"pcap", pc},
		{"pcapng", ng.buf},
		{"pcap.gz", gz(b, pc)},
	} {
		b.Run(tc.name, func(b *testing.B) {
			path := filepath.Join(b.TempDir(), "bench")
			if err := os.WriteFile(path, tc.data, 0o644); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(tc.data)))
			b.ReportAllocs()
			var ms0, ms1 runtime.MemStats
			runtime.ReadMemStats(&ms0)
			for b.Loop() {
				r, err := Open([]string{path})
				if err != nil {
					b.Fatal(err)
				}
				var p capture.Packet
				n := 0
				for r.Next(&p) == nil {
					n++
				}
				if n != pkts {
					b.Fatalf("read %d packets, want %d", n, pkts)
				}
				r.Close()
			}
			runtime.ReadMemStats(&ms1)
			total := float64(b.N) * pkts
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/total, "ns/pkt")
			b.ReportMetric(float64(ms1.Mallocs-ms0.Mallocs)/total, "allocs/pkt")
		})
	}
}
