package pcapfile

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/synscope/synscope/pkg/capture"
)

func FuzzReader(f *testing.F) {
	d := payload(9, 40)
	pc := pcapBytes(binary.LittleEndian, false, 1, rec{1, 2, d, 0}, rec{3, 4, d[:10], 50})
	pcBE := pcapBytes(binary.BigEndian, true, 113, rec{1, 2000000000, d, 0})
	ng := (&ngBuilder{}).shb(binary.LittleEndian).
		idb(1, 16, 0x80|20, 5).idb(101, 0, 3, -1).
		epb(0, 1<<20, d, 40).block(4, []byte("nrb")).
		spb(40, d).opb(1, 7, d[:8]).
		shb(binary.BigEndian).idb(228, 0, -1, 0).epb(0, 9, d[:4], 4).buf
	for _, seed := range [][]byte{pc, pcBE, ng, gz(f, pc), gz(f, ng), zst(f, pc), zst(f, ng), {}, {0x1f, 0x8b}, pc[:30], ng[:40]} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		// A tiny buffer exercises the copy path, a normal one the peek path;
		// both must see the same packets.
		compressed := compressionOf(data) != ""
		var counts [2]int
		for i, bufSize := range []int{16, 4096} {
			r := newFromReaders([]string{"fuzz"}, []io.Reader{bytes.NewReader(data)}, bufSize)
			var p capture.Packet
			errs := 0
			for {
				err := r.Next(&p)
				if err == io.EOF {
					break
				}
				if err != nil {
					var ie *capture.InputError
					if !errors.As(err, &ie) || ie.File != "fuzz" {
						t.Fatalf("bad error %v", err)
					}
					if errs++; errs > 1 {
						t.Fatalf("second error: %v", err)
					}
					continue
				}
				if p.CapLen != len(p.Data) || (!compressed && p.CapLen > len(data)) {
					t.Fatalf("CapLen %d, len(Data) %d, input %d bytes", p.CapLen, len(p.Data), len(data))
				}
				counts[i]++
			}
			if st := r.Stats()[0]; st.Packets != uint64(counts[i]) || (st.Err != nil) != (errs == 1) {
				t.Fatalf("stats %+v after %d packets and %d errors", st, counts[i], errs)
			}
			r.Close()
		}
		if counts[0] != counts[1] {
			t.Fatalf("buffer size changes the packet count: %d vs %d", counts[0], counts[1])
		}
	})
}

// FuzzFileBatches writes the input to a file, which the Reader maps, and
// reads it with NextBatch (through windows, see window; batches of 1, 3
// and 64, mixed with Next) and split in two (a Tail from the middle, as
// the split loop reads it; pcapng too): the packets, errors and counts of
// Next alone.
func FuzzFileBatches(f *testing.F) {
	d := payload(9, 40)
	var recs []rec
	for i := range 50 {
		recs = append(recs, rec{sec: uint32(i), frac: uint32(i), data: payload(byte(i), 20+i*37%300)})
	}
	long := pcapBytes(binary.LittleEndian, false, 1, recs...)
	for _, seed := range [][]byte{
		pcapBytes(binary.LittleEndian, false, 1, rec{1, 2, d, 0}, rec{3, 4, d[:10], 50}),
		pcapBytes(binary.BigEndian, true, 113, rec{1, 2000000000, d, 0}),
		long, long[:len(long)-7], long[:len(long)/2],
	} {
		f.Add(seed)
	}
	// pcapng files are split too (tailng.go).
	ng := bigNG(binary.LittleEndian, 40, 20, 0)
	f.Add(ng)
	f.Add(ng[:len(ng)-9])
	f.Add(bigNG(binary.BigEndian, 30, 0, 12))
	dir := f.TempDir()
	old := tailMinSize
	tailMinSize = 64
	f.Cleanup(func() { tailMinSize = old })
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < 4 {
			return
		}
		path := filepath.Join(dir, "fuzz.pcap")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		r, err := Open([]string{path})
		if err != nil {
			t.Fatal(err)
		}
		want := readAll(t, r)
		sameBatches(t, path, want, 1, 3, 64)
		got, _ := readSplit(t, path)
		sameResult(t, "split", got, want)
	})
}
