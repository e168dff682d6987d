package pcapfile

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"github.com/synscope/synscope/pkg/capture"
)

// readSplit reads a file the way the split loop did before chains, in one
// goroutine: the head up to a boundary at the middle, then the Tail, then
// the head again after it. It reports whether the file was split and its
// Tail taken.
func readSplit(t *testing.T, path string) (result, bool) {
	t.Helper()
	res, taken, _ := readChain(t, path, nil)
	return res, taken > 0
}

func withSplitMin(t *testing.T, n int) {
	old := splitMin
	splitMin = n
	t.Cleanup(func() { splitMin = old })
}

func withTailMin(t *testing.T, n int) {
	old := tailMinSize
	tailMinSize = n
	t.Cleanup(func() { tailMinSize = old })
}

// TestTailEqualsWalk splits every format case and corpus capture that can
// be split (classic pcap, mapped) and requires the packets, errors and
// counts of a plain walk.
func TestTailEqualsWalk(t *testing.T) { eachWalk(t, testTailEqualsWalk) }

func testTailEqualsWalk(t *testing.T) {
	withTailMin(t, 4096)
	dir := t.TempDir()
	var files []string
	for _, c := range formatCases(t) {
		files = append(files, writeFile(t, dir, strings.ReplaceAll(c.name, " ", "_")+".cap", c.file))
	}
	var recs []rec
	for i := range 3000 {
		recs = append(recs, rec{sec: uint32(1_600_000_000 + i), data: payload(byte(i), 60+i%900)})
	}
	big := pcapBytes(binary.LittleEndian, false, 1, recs...)
	files = append(files, writeFile(t, dir, "big.pcap", big), writeFile(t, dir, "bigcut.pcap", big[:len(big)-100]))
	corpus := corpusFiles(t)
	files = append(files, corpus...)
	split := 0
	for _, f := range files {
		want := openAll(t, f)
		got, taken := readSplit(t, f)
		if taken {
			split++
		}
		sameResult(t, filepath.Base(f), got, want)
		if got.stats[0].Packets != want.stats[0].Packets {
			t.Errorf("%s: %d packets counted, want %d", filepath.Base(f), got.stats[0].Packets, want.stats[0].Packets)
		}
	}
	t.Logf("%d of %d files split", split, len(files))
	// The two large generated files, and corpus captures when there are.
	if want := 2 + min(1, len(corpus)); split < want {
		t.Errorf("only %d files were split, want %d", split, want)
	}
}

// fakeChain is n plausible 20-byte records back to back: inside a record's
// payload, a boundary guessed there is wrong.
func fakeChain(n int) []byte {
	var fake []byte
	for range n {
		fake = binary.LittleEndian.AppendUint32(fake, 1_600_000_100)
		fake = binary.LittleEndian.AppendUint32(fake, 0)
		fake = binary.LittleEndian.AppendUint32(fake, 20)
		fake = binary.LittleEndian.AppendUint32(fake, 20)
		fake = append(fake, make([]byte, 20)...)
	}
	return fake
}

// A wrong guess of the boundary (plausible headers inside one record's
// payload across the middle) voids the Tail: the walk steps over the
// boundary and reads on alone, with every packet right.
func TestTailVoidWhenTheGuessIsWrong(t *testing.T) { eachWalk(t, testTailVoidWhenTheGuessIsWrong) }

func testTailVoidWhenTheGuessIsWrong(t *testing.T) {
	withTailMin(t, 4096)
	fake := fakeChain(40)
	var recs []rec
	for i := range 50 {
		recs = append(recs, rec{sec: uint32(1_600_000_000 + i), data: payload(byte(i), 100)})
	}
	head := pcapBytes(binary.LittleEndian, false, 1, recs...)
	// One large record whose payload holds the fake chain from the file's
	// middle on, then a few ordinary records.
	size := 2 * len(head) * 3
	mid := size / 2
	data := make([]byte, len(head)*4)
	copy(data[mid-len(head)-16:], fake)
	all := append(recs, rec{sec: 1_600_000_060, data: data})
	for i := range 50 {
		all = append(all, rec{sec: uint32(1_600_000_070 + i), data: payload(byte(i), 100)})
	}
	b := pcapBytes(binary.LittleEndian, false, 1, all...)
	// Place the fake chain exactly at the middle of the file as written.
	start := len(head) + 16
	m := len(b) / 2
	copy(b[start:start+len(data)], make([]byte, len(data)))
	copy(b[m:], fake)
	path := writeFile(t, t.TempDir(), "fake.pcap", b)
	want := openAll(t, path)
	r, _ := Open([]string{path})
	ps := make([]capture.Packet, 1)
	if _, err := r.NextBatch(ps); err != nil {
		t.Fatal(err)
	}
	tail := r.SplitTail(0)
	if tail == nil || tail.(*Tail).start != m {
		t.Fatalf("no split at the fake chain (%v)", tail)
	}
	r.Close()
	got, taken := readSplit(t, path)
	if taken {
		t.Errorf("the Tail was taken across a record")
	}
	sameResult(t, "fake chain", got, want)
}

// readChain reads a file the way the split loop does with a chain of
// Tails, in one goroutine, in batches of 1 to 7: the head up to the first
// boundary, then each Tail (through Next or NextBatch, by chance), splitting
// the last valid one again every few records (ahead from rng), taking the
// next Tail when the one before ended on its boundary, and the head again
// after the last one taken. With rng nil, one Tail from the middle, read
// with Next and never split. It returns the result, the Tails whose records
// were taken, and the Tails found void.
func readChain(t *testing.T, path string, rng *rand.Rand) (res result, taken, voided int) {
	t.Helper()
	r, err := Open([]string{path})
	if err != nil {
		t.Fatal(err)
	}
	add := func(p capture.Packet) {
		q := p
		q.Data = bytes.Clone(p.Data)
		res.pkts = append(res.pkts, q)
	}
	ps := make([]capture.Packet, 7)
	var tails []capture.Tail
	lastValid := func() capture.Tail {
		for i := len(tails) - 1; i >= 0; i-- {
			if !tails[i].Void() {
				return tails[i]
			}
		}
		return nil
	}
	for tries := 0; ; tries++ {
		n, err := r.NextBatch(ps[:min(len(ps), 1+tries)])
		if err == io.EOF {
			break
		}
		if err == capture.ErrAtTail {
			// What the walk mapped up to its stop is let go of (a part
			// of a file need not reach releaseEvery).
			if in := r.inputs[0]; in.cur.released < in.mpos&^(pageSize-1) {
				t.Errorf("%s: the walk stopped at %d, its pages let go of up to %d", filepath.Base(path), in.mpos, in.cur.released)
			}
			var p capture.Packet
			var total uint64
			k := 0
			for {
				tl := tails[k]
				batch := rng != nil && rng.IntN(2) == 0 // through NextBatch, else Next
				for i := 0; ; i++ {
					if batch {
						m := tl.NextBatch(ps[:1+rng.IntN(len(ps))])
						if m == 0 {
							break
						}
						for _, p := range ps[:m] {
							add(p)
						}
					} else {
						if !tl.Next(&p) {
							break
						}
						add(p)
					}
					if i%3 == 0 {
						tl.(*Tail).Ahead() // as the split loop does while it decodes
					}
					if rng != nil && i%(1+rng.IntN(400)) == 0 {
						if last := lastValid(); last != nil {
							if nt := last.Split(rng.IntN(3000)); nt != nil {
								tails = append(tails, nt)
							}
						}
					}
				}
				total += tl.N()
				taken++
				if tt := tl.(*Tail); !tt.Void() && tt.cur.released < tt.pos&^(pageSize-1) {
					t.Errorf("%s: a Tail ended at %d, its pages let go of up to %d", filepath.Base(path), tt.pos, tt.cur.released)
				}
				next := -1
				for j := k + 1; j < len(tails); j++ {
					if !tails[j].Void() {
						if tails[j].Start() == tl.Pos() {
							next = j
						}
						break
					}
				}
				if next < 0 {
					r.ResumeAfter(tl, tl.Pos(), total)
					break
				}
				k = next
			}
			for _, tl := range tails {
				if tl.Void() {
					voided++
				}
			}
			tails = nil
			continue
		}
		if err != nil {
			var ie *capture.InputError
			if !errors.As(err, &ie) {
				t.Fatal(err)
			}
			res.errs = append(res.errs, ie)
			continue
		}
		for _, p := range ps[:n] {
			add(p)
		}
		if tries == 0 {
			ahead := 0
			if rng != nil {
				ahead = rng.IntN(3000)
			}
			if tl := r.SplitTail(ahead); tl != nil {
				tails = append(tails, tl)
			}
		}
	}
	for _, tl := range tails { // voided by the Reader, which never stopped at them
		if tl.Void() {
			voided++
		}
	}
	res.stats = r.Stats()
	r.Close()
	return res, taken, voided
}

// TestTailChainEqualsWalk reads files through chains of Tails split at
// random places and requires a plain walk's packets, errors and counts:
// a file of ordinary records with large ones whose payloads are chains of
// plausible headers (a boundary guessed inside one is stepped over, and
// the Tails split off from there on are void), the same cut inside its
// last record, and the corpus. It fails unless chains of several Tails
// were taken and some Tails were found void.
func TestTailChainEqualsWalk(t *testing.T) { eachWalk(t, testTailChainEqualsWalk) }

func testTailChainEqualsWalk(t *testing.T) {
	withTailMin(t, 4096)
	withSplitMin(t, 2048)
	fake := fakeChain(60_000 / 36)
	var recs []rec
	for i := range 3000 {
		d := payload(byte(i), 60+i*7%900)
		if i%300 == 150 {
			d = fake
		}
		recs = append(recs, rec{sec: uint32(1_600_000_000 + i), data: d})
	}
	dir := t.TempDir()
	b := pcapBytes(binary.LittleEndian, false, 1, recs...)
	files := []string{writeFile(t, dir, "fakes.pcap", b), writeFile(t, dir, "fakescut.pcap", b[:len(b)-100])}
	files = append(files, corpusFiles(t)...)
	var taken, voided, chains int
	for _, f := range files {
		want := openAll(t, f)
		for seed := range uint64(12) {
			got, tk, vd := readChain(t, f, rand.New(rand.NewPCG(seed, 3)))
			sameResult(t, fmt.Sprintf("%s seed %d", filepath.Base(f), seed), got, want)
			if got.stats[0].Packets != want.stats[0].Packets {
				t.Errorf("%s seed %d: %d packets counted, want %d", filepath.Base(f), seed, got.stats[0].Packets, want.stats[0].Packets)
			}
			taken, voided = taken+tk, voided+vd
			if tk > 1 {
				chains++
			}
		}
	}
	t.Logf("%d Tails taken, %d void, %d runs with a chain of several", taken, voided, chains)
	if chains < 10 || voided == 0 {
		t.Errorf("%d runs took a chain of several Tails, %d Tails were void: the chains were not exercised", chains, voided)
	}
}

// bigNG is a pcapng capture of n Enhanced Packet Blocks on two interfaces
// (microsecond and nanosecond times, one with an offset), with the blocks
// a Tail must skip (statistics, custom) or leave to the Reader (a Simple
// Packet Block, an obsolete Packet Block) here and there, and at
// newIfaceAt (when not 0) a third interface described mid-section; at
// newSectionAt (when not 0) a new section, its two interfaces' times in
// other units.
func bigNG(bo appendOrder, n, newIfaceAt, newSectionAt int) []byte {
	b := &ngBuilder{}
	b.shb(bo).idb(1, 65535, -1, 0).idb(1, 65535, 9, 3)
	ifaces := uint32(2)
	for i := range n {
		if newIfaceAt != 0 && i == newIfaceAt {
			b.idb(101, 65535, 6, 0) // raw IP
			ifaces++
		}
		if newSectionAt != 0 && i == newSectionAt {
			b.shb(bo).idb(1, 65535, 3, 0).idb(1, 65535, 9, 0) // milliseconds; no offset
		}
		d := payload(byte(i), 60+i*13%700)
		ts := uint64(1_600_000_000_000_000 + i*1000)
		id := uint32(i % 2)
		if id == 1 {
			ts *= 1000
		}
		if ifaces == 3 && i%5 == 0 {
			id = 2
			ts = uint64(1_600_000_000_000_000 + i*1000)
		}
		b.epb(id, ts, d, uint32(len(d)+i%3))
		switch {
		case i%997 == 500:
			b.block(5, make([]byte, 24)) // interface statistics: skipped
		case i%1499 == 700:
			b.block(0x00000BAD, []byte("custom block")) // custom: skipped
		case i%2999 == 1500:
			b.spb(uint32(len(d)), d) // left to the Reader
		case i%3001 == 2000:
			b.opb(1, ts, d) // left to the Reader
		}
	}
	return b.buf
}

// pcapng files are split into Tails too: a large capture with every kind
// of block a section holds, in both byte orders, cut short, split into
// chains at random, gives the packets, errors and counts of a plain walk;
// and one whose Reader meets a new interface before the boundary voids the
// Tails (they assumed the interfaces at the split) and still reads the
// same packets.
func TestTailNGEqualsWalk(t *testing.T) { eachWalk(t, testTailNGEqualsWalk) }

func testTailNGEqualsWalk(t *testing.T) {
	withTailMin(t, 4096)
	withSplitMin(t, 2048)
	dir := t.TempDir()
	le, be := bigNG(binary.LittleEndian, 9000, 0, 0), bigNG(binary.BigEndian, 9000, 0, 0)
	files := []string{writeFile(t, dir, "le.pcapng", le), writeFile(t, dir, "be.pcapng", be),
		writeFile(t, dir, "cut.pcapng", le[:len(le)-37])}
	var taken, chains int
	for _, f := range files {
		want := openAll(t, f)
		if got, tk := readSplit(t, f); tk {
			taken++
			sameResult(t, filepath.Base(f), got, want)
		} else {
			t.Errorf("%s: not split", filepath.Base(f))
		}
		for seed := range uint64(8) {
			got, tk, _ := readChain(t, f, rand.New(rand.NewPCG(seed, 5)))
			sameResult(t, fmt.Sprintf("%s seed %d", filepath.Base(f), seed), got, want)
			if got.stats[0].Packets != want.stats[0].Packets {
				t.Errorf("%s seed %d: %d packets counted, want %d", filepath.Base(f), seed, got.stats[0].Packets, want.stats[0].Packets)
			}
			if tk > 1 {
				chains++
			}
		}
	}
	if chains < 8 {
		t.Errorf("%d runs took a chain of several Tails", chains)
	}
	// A new interface, or a new section whose interfaces count time in
	// other units, between the Reader and the boundary: the Tail's
	// interfaces are not the Reader's there, so it is void (with the new
	// section, its packets' times would be wrong).
	for _, c := range []struct {
		name           string
		iface, section int
	}{{"late-iface", 2000, 0}, {"late-section", 0, 2000}} {
		late := writeFile(t, dir, c.name+".pcapng", bigNG(binary.LittleEndian, 9000, c.iface, c.section))
		want := openAll(t, late)
		got, _, voided := readChain(t, late, nil)
		sameResult(t, c.name, got, want)
		if voided == 0 {
			t.Errorf("%s: no Tail voided, though the Reader's interfaces changed before the boundary", c.name)
		}
	}
	t.Logf("%d files split, %d runs with chains", taken, chains)
}

// TestTailAfterTheReaderFails: the Reader fails on a bad record between
// the split and the boundary (and ends there) while the Tail's goroutine
// is in the middle of its part. The Tail goes on to a clean stop (void,
// no packets), the data of the batch it had in hand stays readable, and
// the mapping is let go at Close. Before, the Reader unmapped the file at
// once: the Tail's next batch panicked on the nil mapping (or read memory
// unmapped under it), and the sensor died instead of reporting the file.
func TestTailAfterTheReaderFails(t *testing.T) {
	withTailMin(t, 4096)
	withSplitMin(t, 2048)
	var recs []rec
	for i := range 9000 {
		recs = append(recs, rec{sec: uint32(1_600_000_000 + i), data: payload(byte(i), 60+i%400)})
	}
	classic := pcapBytes(binary.LittleEndian, false, 1, recs...)
	// a record length no file can hold, a tenth of the way in
	pos := pcapHeaderLen
	for pos < len(classic)/10 {
		pos += pcapRecordLen + int(binary.LittleEndian.Uint32(classic[pos+8:]))
	}
	binary.LittleEndian.PutUint32(classic[pos+8:], 1<<30)
	ng := bigNG(binary.LittleEndian, 9000, 0, 0)
	// a block trailer that does not match its length, a tenth of the way in
	pos = 0
	for pos < len(ng)/10 {
		pos += int(binary.LittleEndian.Uint32(ng[pos+4:]))
	}
	ng[pos+int(binary.LittleEndian.Uint32(ng[pos+4:]))-4] ^= 0x40
	for name, b := range map[string][]byte{"bad.pcap": classic, "bad.pcapng": ng} {
		t.Run(name, func(t *testing.T) {
			r, err := Open([]string{writeFile(t, t.TempDir(), name, b)})
			if err != nil {
				t.Fatal(err)
			}
			ps := make([]capture.Packet, 8)
			if n, err := r.NextBatch(ps); n == 0 || err != nil {
				t.Fatal(n, err)
			}
			tl := r.SplitTail(0)
			if tl == nil {
				t.Fatal("not split")
			}
			held := make([]capture.Packet, 8)
			if tl.NextBatch(held) == 0 {
				t.Fatal("the tail read nothing")
			}
			var failed error
			for {
				_, err := r.NextBatch(ps)
				if err == io.EOF {
					break
				}
				if err == capture.ErrAtTail {
					t.Fatal("the reader reached the boundary past the bad record")
				}
				if err != nil {
					failed = err
				}
			}
			if !capture.IsInputError(failed) {
				t.Fatalf("the reader ended with %v, not the bad record's input error", failed)
			}
			sum := 0
			for _, p := range held {
				for _, c := range p.Data {
					sum += int(c)
				}
			}
			if n := tl.NextBatch(ps); n != 0 || !tl.Void() {
				t.Errorf("after the reader failed the tail read %d more packets (void %v)", n, tl.Void())
			}
			in := r.inputs[0]
			if in.mm == nil {
				t.Error("the mapping was let go with a tail still reading it")
			}
			if err := r.Close(); err != nil {
				t.Fatal(err)
			}
			if in.mm != nil {
				t.Error("Close kept the mapping")
			}
			t.Logf("the reader: %v; %d bytes held by the tail still read (sum %d)", failed, len(held[0].Data), sum)
		})
	}
}
