package decode

import (
	"encoding/binary"
	"io"
	"os"
	"testing"
	"unsafe"

	"github.com/synscope/synscope/pkg/capture"
	"github.com/synscope/synscope/pkg/prefetch"
)

// loadFrames reads up to max frames of a classic little-endian pcap file.
func loadFrames(tb testing.TB, path string, max int) [][]byte {
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	buf, err := io.ReadAll(io.LimitReader(f, 512<<20))
	if err != nil {
		tb.Fatal(err)
	}
	var out [][]byte
	for p := 24; p+16 <= len(buf) && len(out) < max; {
		n := int(binary.LittleEndian.Uint32(buf[p+8:]))
		if p+16+n > len(buf) {
			break
		}
		out = append(out, buf[p+16:p+16+n])
		p += 16 + n
	}
	return out
}

func BenchmarkDecodeCapture(b *testing.B) {
	path := os.Getenv("SENSOR_DECODE_PCAP")
	if path == "" {
		b.Skip("SENSOR_DECODE_PCAP not set")
	}
	frames := loadFrames(b, path, 2_000_000)
	d := watched()
	var s Syn
	var res [16]int
	for b.Loop() {
		for i, f := range frames {
			if j := i + 128; j < len(frames) {
				prefetch.Line(unsafe.Pointer(&frames[j][0]))
				prefetch.Line(unsafe.Pointer(&frames[j][len(frames[j])-1]))
			}
			res[d.Decode(capture.LinkEthernet, f, &s)]++
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(frames)), "ns/frame")
}

func BenchmarkDecodeCaptureSorted(b *testing.B) {
	path := os.Getenv("SENSOR_DECODE_PCAP")
	if path == "" {
		b.Skip("SENSOR_DECODE_PCAP not set")
	}
	frames := loadFrames(b, path, 2_000_000)
	d := watched()
	var s Syn
	var by [16][][]byte
	for _, f := range frames {
		r := d.Decode(capture.LinkEthernet, f, &s)
		by[r] = append(by[r], f)
	}
	var flat []byte
	for _, g := range by {
		for _, f := range g {
			flat = append(flat, f...)
		}
	}
	frames = frames[:0]
	for _, g := range by {
		for _, f := range g {
			frames = append(frames, flat[:len(f):len(f)])
			flat = flat[len(f):]
		}
	}
	var res [16]int
	for b.Loop() {
		for i, f := range frames {
			if j := i + 128; j < len(frames) {
				prefetch.Line(unsafe.Pointer(&frames[j][0]))
				prefetch.Line(unsafe.Pointer(&frames[j][len(frames[j])-1]))
			}
			res[d.Decode(capture.LinkEthernet, f, &s)]++
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(frames)), "ns/frame")
}
