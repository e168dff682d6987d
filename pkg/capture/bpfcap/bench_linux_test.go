//go:build linux

package bpfcap

import (
	"testing"

	"github.com/cilium/ebpf"

	"github.com/synscope/synscope/internal/captest"
	"github.com/synscope/synscope/pkg/capture"
)

// The kernel program's cost per packet, by BPF_PROG_TEST_RUN (which adds
// its own per-run overhead, so these are upper bounds):
//
//	go test ./pkg/capture/bpfcap -run '^$' -bench Program
func BenchmarkProgram(b *testing.B) {
	s := loaded(b, corpusPorts(b))
	other := captest.Syn445()
	other.Flags = captest.ACK
	cases := []struct {
		name  string
		frame []byte
	}{
		{"ack", captest.V4SYN(other)},
		{"arp", captest.Ether(nil, 0x0806, make([]byte, 28))},
		{"syn-v4", captest.V4SYN(captest.Syn445())},
		{"syn-v6-3ext", captest.V6SYN(0, append(append(captest.ExtOpts(60, 0), captest.ExtOpts(43, 1)...), captest.ExtOpts(6, 0)...), captest.Syn445())},
	}
	for _, c := range cases {
		for _, pr := range programs(s)[:2] {
			b.Run(c.name+"/"+pr.name, func(b *testing.B) {
				const batch = 10000 // records per run: well within the ring
				var total float64
				n := 0
				for b.Loop() {
					_, d, err := pr.prog.Benchmark(c.frame, batch, nil)
					if err != nil {
						b.Fatal(err)
					}
					total += float64(d.Nanoseconds())
					n++
					b.StopTimer()
					drain(b, s)
					b.StartTimer()
				}
				b.ReportMetric(total/float64(n), "ns/pkt")
			})
		}
	}
}

// Reading records off the ring through Next: the user-space cost per SYN.
//
//	go test ./pkg/capture/bpfcap -run '^$' -bench Next -benchmem
func BenchmarkNext(b *testing.B) {
	s := loaded(b, corpusPorts(b))
	syn := captest.V4SYN(captest.Syn445())
	const batch = 10000
	fill := func() {
		if _, err := s.objs.XdpIngress.Run(&ebpf.RunOptions{Data: syn, Repeat: batch}); err != nil {
			b.Fatal(err)
		}
	}
	var p capture.Packet
	left := 0
	b.ReportAllocs()
	for b.Loop() {
		if left == 0 {
			b.StopTimer()
			fill()
			left = batch
			b.StartTimer()
		}
		if err := s.Next(&p); err != nil {
			b.Fatal(err)
		}
		left--
	}
}
