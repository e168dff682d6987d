package pcapfile

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"

	"github.com/synscope/synscope/pkg/capture"
)

// readBatches drains r through NextBatch with batches of size n, calling
// Next instead every third call when mixed is set, and Ahead (as the
// pipeline does while it analyses the packets) zero to three times after
// each call.
func readBatches(t *testing.T, r *Reader, n int, mixed bool) result {
	t.Helper()
	var res result
	ps := make([]capture.Packet, n)
	for call := 0; ; call++ {
		if call > 10_000_000 {
			t.Fatal("reader does not end")
		}
		var (
			got int
			err error
		)
		if mixed && call%3 == 2 {
			if err = r.Next(&ps[0]); err == nil {
				got = 1
			}
		} else {
			got, err = r.NextBatch(ps)
		}
		for range call % 4 {
			r.Ahead()
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			var ie *capture.InputError
			if !errors.As(err, &ie) {
				t.Fatalf("NextBatch: non-input error %v", err)
			}
			if got != 0 {
				t.Fatalf("NextBatch: %d packets with the error %v", got, err)
			}
			res.errs = append(res.errs, ie)
			continue
		}
		if got < 1 || got > n {
			t.Fatalf("NextBatch: %d packets for a batch of %d", got, n)
		}
		for _, p := range ps[:got] {
			if p.CapLen != len(p.Data) {
				t.Fatalf("CapLen %d != len(Data) %d", p.CapLen, len(p.Data))
			}
			q := p
			q.Data = bytes.Clone(p.Data)
			res.pkts = append(res.pkts, q)
		}
	}
	if got, err := r.NextBatch(ps); err != io.EOF || got != 0 {
		t.Fatalf("NextBatch after EOF: %d, %v", got, err)
	}
	res.stats = r.Stats()
	if err := r.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	return res
}

// TestBatchEqualsNext reads every format case (truncated and corrupt files
// among them) and every corpus capture (SENSOR_CORPUS) with Next alone and
// with NextBatch, in batches of 1, 5 and 64 and mixed with Next: the same
// packets, errors and per-input counts.
func TestBatchEqualsNext(t *testing.T) { eachWalk(t, testBatchEqualsNext) }

func testBatchEqualsNext(t *testing.T) {
	dir := t.TempDir()
	var files []string
	for _, c := range formatCases(t) {
		files = append(files, writeFile(t, dir, strings.ReplaceAll(c.name, " ", "_")+".cap", c.file))
	}
	files = append(files, corpusFiles(t)...)
	// Several files at once: the merge path. Three of consecutive times (a
	// rotated capture), three interleaved, and a mix of the cases.
	var consecutive, interleaved []string
	for f := range 3 {
		var a, b []rec
		for i := range 2000 {
			a = append(a, rec{sec: uint32(1_600_000_000 + 10_000*f + i), data: payload(byte(i), 60+i%200)})
			b = append(b, rec{sec: uint32(1_600_000_000 + 3*i + f), frac: uint32(f), data: payload(byte(i+f), 60+i%300)})
		}
		consecutive = append(consecutive, writeFile(t, dir, "rot"+itoa(f)+".pcap", pcapBytes(binary.LittleEndian, false, 1, a...)))
		interleaved = append(interleaved, writeFile(t, dir, "mix"+itoa(f)+".pcap", pcapBytes(binary.BigEndian, f == 1, 1, b...)))
	}
	sets := [][]string{{files[0], files[len(files)-1]}, consecutive, interleaved,
		{consecutive[2], interleaved[0], consecutive[0]}, files[:min(len(files), 8)]}
	for _, f := range files {
		sets = append(sets, []string{f})
	}
	for _, set := range sets {
		want := openAll(t, set...)
		for _, n := range []int{1, 5, 64} {
			for _, mixed := range []bool{false, true} {
				r, err := Open(set)
				if err != nil {
					t.Fatal(err)
				}
				name := filepath.Base(set[0]) + " batch " + itoa(n)
				if mixed {
					name += " mixed"
				}
				got := readBatches(t, r, n, mixed)
				sameResult(t, name, got, want)
				for i := range want.stats {
					if got.stats[i].Packets != want.stats[i].Packets || (got.stats[i].Err == nil) != (want.stats[i].Err == nil) {
						t.Errorf("%s: input %d stats %+v, want %+v", name, i, got.stats[i], want.stats[i])
					}
				}
			}
		}
	}
}

// sameResult compares two reads of the same files: the same packets, byte
// for byte, and the same errors.
func sameResult(t *testing.T, name string, got, want result) {
	t.Helper()
	if len(got.pkts) != len(want.pkts) {
		t.Errorf("%s: %d packets, want %d", name, len(got.pkts), len(want.pkts))
		return
	}
	for i := range want.pkts {
		g, w := got.pkts[i], want.pkts[i]
		if g.Timestamp != w.Timestamp || g.OrigLen != w.OrigLen || g.LinkType != w.LinkType || !bytes.Equal(g.Data, w.Data) {
			t.Errorf("%s: packet %d differs", name, i)
			return
		}
	}
	if len(got.errs) != len(want.errs) {
		t.Errorf("%s: errors %v, want %v", name, got.errs, want.errs)
		return
	}
	for i := range want.errs {
		if got.errs[i].Error() != want.errs[i].Error() {
			t.Errorf("%s: error %q, want %q", name, got.errs[i], want.errs[i])
		}
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// A mapped file read through lets go of the pages behind the parse point
// (so resident memory does not grow with the file), and what is read is
// the same as through a buffer, whichever way it is read.
func TestMappedPagesReleased(t *testing.T) { eachWalk(t, testMappedPagesReleased) }

func testMappedPagesReleased(t *testing.T) {
	var recs []rec
	for i := range 30_000 { // about 45 MB
		recs = append(recs, rec{sec: uint32(1_600_000_000 + i), data: payload(byte(i), 1400+i%100)})
	}
	b := pcapBytes(binary.LittleEndian, false, 1, recs...)
	path := writeFile(t, t.TempDir(), "big.pcap", b)
	want := readBytes(t, 1<<16, b) // through a buffer: no mapping
	for _, batch := range []bool{false, true} {
		r, err := Open([]string{path})
		if err != nil {
			t.Fatal(err)
		}
		in := r.inputs[0]
		var got result
		if batch {
			got = readBatches(t, r, 64, false)
		} else {
			got = readAll(t, r)
		}
		if in.cur.released < len(b)-releaseEvery-releaseLag {
			t.Errorf("batch %v: %d of %d bytes released", batch, in.cur.released, len(b))
		}
		want.stats[0].Path = path
		sameResult(t, "mapped, batch "+strconv.FormatBool(batch), got, want)
	}
}

// corpusFiles lists the captures under SENSOR_CORPUS (none when it is not
// set, which fails the test under CI=true).
func corpusFiles(t *testing.T) []string {
	t.Helper()
	root := os.Getenv("SENSOR_CORPUS")
	if root == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("SENSOR_CORPUS is not set (required when CI=true)")
		}
		return nil
	}
	var files []string
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() && !strings.HasSuffix(p, ".md") {
			files = append(files, p)
		}
		return nil
	})
	return files
}

// TestBatchFaultKeepsPackets shrinks a mapped file under the reader so that
// a batch faults part way: the records read before the fault are returned,
// counted and whole, and the next call faults before any packet.
func TestBatchFaultKeepsPackets(t *testing.T) { eachWalk(t, testBatchFaultKeepsPackets) }

func testBatchFaultKeepsPackets(t *testing.T) {
	var recs []rec
	for i := range 400 {
		recs = append(recs, rec{sec: uint32(1_600_000_000 + i), data: payload(byte(i), 1000)})
	}
	faultKeepsPackets(t, "shrinks.pcap", pcapBytes(binary.LittleEndian, false, 1, recs...), func(cut int) (want int) {
		// The records whose header lies before the cut can be walked;
		// their data is not read by the reader.
		for pos := pcapHeaderLen; pos+pcapRecordLen <= cut; pos += pcapRecordLen + 1000 {
			want++
		}
		return want
	})
}

// faultKeepsPackets writes file (400 packets of 1,000 bytes, packet k at
// second 1,600,000,000+k), reads its first packet, cuts the file at 40
// pages and reads batches until one faults: the packets before the fault
// (want of the cut) are returned and counted, and one fault comes.
func faultKeepsPackets(t *testing.T, name string, file []byte, want func(cut int) int) {
	t.Helper()
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	path := writeFile(t, t.TempDir(), name, file)
	r, err := Open([]string{path})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ps := make([]capture.Packet, 64)
	if n, err := r.NextBatch(ps[:1]); n != 1 || err != nil {
		t.Fatalf("first packet: %d, %v", n, err)
	}
	cut := 40 * pageSize
	if err := os.Truncate(path, int64(cut)); err != nil {
		t.Fatal(err)
	}
	w := want(cut)
	got, faults := batchesToFault(t, r, ps)
	if faults != 1 || got != w {
		t.Fatalf("%d packets before the fault (%d faults), want %d", got, faults, w)
	}
	if st := r.Stats()[0]; st.Packets != uint64(w) {
		t.Fatalf("%d packets counted, want %d", st.Packets, w)
	}
}

// TestWindowEdges reads, through the windows of the batch walk and of a
// Tail, records that end exactly at a window's end, cross it, fill a
// whole window, are one byte too long for one (left to the mapped path),
// or are as long as a record may be, and the same file cut inside its
// last record (30 bytes short, and one): the packets, errors and counts of
// the plain walk.
func TestWindowEdges(t *testing.T) { eachWalk(t, testWindowEdges) }

func testWindowEdges(t *testing.T) {
	withTailMin(t, 4096)
	dir := t.TempDir()
	// The third record nearly fills a window that starts at the second (the
	// first is read by Open's priming), the fourth crosses its end; then
	// records of a whole window, one byte more, 700 KiB and the longest.
	sizes := []int{60, 1500, windowSize - 2*pcapRecordLen - 60 - 1500 - pcapHeaderLen, 70,
		windowSize - pcapRecordLen, windowSize - pcapRecordLen + 1, 700 << 10, MaxRecordLen, 61, MaxRecordLen - 1}
	var recs []rec
	for i := range 2400 {
		n := sizes[i%len(sizes)]
		if i >= len(sizes) && n > 2000 {
			n = 60 + (i*7919)%1800 // the big ones once, then ordinary frames crossing windows
		}
		recs = append(recs, rec{sec: uint32(1_600_000_000 + i), data: payload(byte(i), n)})
	}
	whole := pcapBytes(binary.LittleEndian, false, 1, recs...)
	files := []string{writeFile(t, dir, "edges.pcap", whole), writeFile(t, dir, "edges-cut.pcap", whole[:len(whole)-30]),
		writeFile(t, dir, "edges-cut1.pcap", whole[:len(whole)-1])}
	for _, f := range files {
		want := openAll(t, f)
		if len(want.pkts) < 2399 {
			t.Fatalf("%s: the plain walk read %d packets", f, len(want.pkts))
		}
		sameBatches(t, f, want, 1, 5, 64)
		got, taken := readSplit(t, f)
		if !taken {
			t.Errorf("%s: not split", f)
		}
		sameResult(t, filepath.Base(f)+" split", got, want)
	}
}

// sameBatches reads the one file path with NextBatch in batches of each
// size, alone and mixed with Next, and requires want's packets, errors,
// count and whether the input ended in an error.
func sameBatches(t *testing.T, path string, want result, sizes ...int) {
	t.Helper()
	for _, n := range sizes {
		for _, mixed := range []bool{false, true} {
			r, err := Open([]string{path})
			if err != nil {
				t.Fatal(err)
			}
			got := readBatches(t, r, n, mixed)
			name := filepath.Base(path) + " batch " + itoa(n)
			if mixed {
				name += " mixed"
			}
			sameResult(t, name, got, want)
			if g, w := got.stats[0], want.stats[0]; g.Packets != w.Packets || (g.Err == nil) != (w.Err == nil) {
				t.Errorf("%s: stats %+v, want %+v", name, g, w)
			}
		}
	}
}

// eachWalk runs f with the batch walk and the Tails reading their records
// through windows and straight from the mapping (SENSOR_PCAP_WALK): which
// of the two a file gets depends on its page cache (see decide), so both
// are tested whatever the page cache of the test's files.
func eachWalk(t *testing.T, f func(*testing.T)) {
	for _, mode := range []string{"windows", "mapped"} {
		t.Run(mode, func(t *testing.T) {
			t.Setenv(walkEnv, mode)
			f(t)
		})
	}
}

// TestBatchFaultKeepsPacketsNG is TestBatchFaultKeepsPackets for a pcapng
// file (its batches walk the Enhanced Packet Blocks straight from the
// mapping, see fastNG): the packets whose blocks end before the cut are
// returned, counted and whole, then the fault comes.
func TestBatchFaultKeepsPacketsNG(t *testing.T) {
	b := &ngBuilder{}
	b.shb(binary.LittleEndian).idb(1, 65535, 9, 0)
	for i := range 400 {
		b.epb(0, uint64(1_600_000_000+i)*1e9, payload(byte(i), 1000), 1000)
	}
	faultKeepsPackets(t, "shrinks.pcapng", b.buf, func(cut int) (want int) {
		// The packets whose blocks end at or before the cut.
		for pos := 0; pos+12 <= len(b.buf); {
			typ, blen := binary.LittleEndian.Uint32(b.buf[pos:]), int(binary.LittleEndian.Uint32(b.buf[pos+4:]))
			if pos+blen > cut {
				break
			}
			if typ == blockEPB {
				want++
			}
			pos += blen
		}
		return want
	})
}

// batchesToFault reads r's batches (after its first packet) until one
// faults, checking that packet k is second 1,600,000,000+k with 1,000
// bytes, and returns the packets read (the first included) and the faults.
func batchesToFault(t *testing.T, r *Reader, ps []capture.Packet) (got, faults int) {
	t.Helper()
	return batchesFrom(t, r, ps, 1)
}

// batchesFrom is batchesToFault after the first read packets.
func batchesFrom(t *testing.T, r *Reader, ps []capture.Packet, read int) (got, faults int) {
	t.Helper()
	got = read
	for call := 0; call < 100 && faults == 0; call++ {
		func() {
			defer func() {
				if v := recover(); v != nil {
					if _, ok := v.(interface{ Addr() uintptr }); !ok {
						panic(v)
					}
					faults++
				}
			}()
			n, err := r.NextBatch(ps)
			if err != nil {
				t.Fatalf("NextBatch: %v", err)
			}
			for i, p := range ps[:n] {
				if k := got + i; p.Timestamp != int64(1_600_000_000+k)*1e9 || len(p.Data) != 1000 {
					t.Fatalf("packet %d: ts %d, %d bytes", k, p.Timestamp, len(p.Data))
				}
			}
			got += n
		}()
	}
	return got, faults
}
