package pcapfile

import (
	"encoding/binary"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime/debug"
	"testing"

	"github.com/synscope/synscope/pkg/capture"
)

// scoutFile builds a classic pcap file of n records whose frames are size
// bytes long, size drawn from [lo, hi) by a seeded generator, one record
// every 10 ms; it returns the file and the offset of every record.
func scoutFile(bo appendOrder, n, lo, hi int, seed uint64, body func(i int, b []byte)) ([]byte, []int) {
	return scoutFileAt(bo, 1700000000, n, lo, hi, seed, body, nil)
}

// scoutFileAt is scoutFile from second base on, each record edited by
// edit when given.
func scoutFileAt(bo appendOrder, base uint32, n, lo, hi int, seed uint64, body func(i int, b []byte), edit func(r *rec)) ([]byte, []int) {
	rng := rand.New(rand.NewPCG(seed, 1))
	recs := make([]rec, n)
	for i := range recs {
		d := payload(byte(i), lo+rng.IntN(hi-lo))
		if body != nil {
			body(i, d)
		}
		recs[i] = rec{sec: base + uint32(i/100), frac: uint32(i%100) * 10000, data: d}
		if edit != nil {
			edit(&recs[i])
		}
	}
	file := pcapBytes(bo, false, 1, recs...)
	offs := make([]int, n)
	o := pcapHeaderLen
	for i, r := range recs {
		offs[i] = o
		o += pcapRecordLen + len(r.data)
	}
	return file, offs
}

// TestScoutFollowsRecords: on a file of full-sized records of mixed
// lengths, each guess the scout makes in a stretch is a record's start,
// and the stretch it follows ends where the first record at or past its
// end starts, having followed every record in it: the lines it prefetches
// are the walk's. (A wrong guess would only cost speed, so this is what
// tells the scout works.)
func TestScoutFollowsRecords(t *testing.T) {
	for _, tc := range []struct {
		name string
		bo   appendOrder
		base uint32
		edit func(r *rec)
	}{
		{"little", binary.LittleEndian, 1700000000, nil},
		{"big", binary.BigEndian, 1700000000, nil},
		// times across a multiple of 2^16 s, and across 2^32
		{"2^16", binary.LittleEndian, 26000<<16 - 40, nil},
		{"2^32", binary.BigEndian, 1<<32 - 40, nil},
		// records the walk takes that a Tail's boundary would not
		{"fraction 1e6", binary.LittleEndian, 1700000000, func(r *rec) { r.frac += 1e6 }},
		{"orig under incl", binary.LittleEndian, 1700000000, func(r *rec) { r.orig = 1 }},
	} {
		file, offs := scoutFileAt(tc.bo, tc.base, 8000, 60, 1515, 7, nil, tc.edit)
		in := &input{mm: file, bo: byteOrder(tc.bo == binary.BigEndian)}
		starts := map[int]int{}
		for i, o := range offs {
			starts[o] = i
		}
		for _, first := range []int{0, 1, 777, 3000, len(offs) - 500, len(offs) - 1} {
			from := offs[first]
			end := min(from+scoutBlock, len(file))
			part := (end - from) / scoutChains
			ts := in.bo.u32(file[from:])
			guessed := 0
			for k := 1; k < scoutChains && part >= scoutMinPart; k++ {
				o, ok := in.guess(from+k*part, from+(k+1)*part, ts)
				if !ok {
					continue
				}
				guessed++
				if _, isStart := starts[o]; !isStart {
					t.Fatalf("%s: stretch from record %d: part %d guessed offset %d, no record's start", tc.name, first, k, o)
				}
			}
			if end-from >= scoutChains*scoutMinPart && guessed < scoutChains-1 {
				t.Errorf("%s: stretch from record %d: %d parts of %d guessed", tc.name, first, guessed, scoutChains-1)
			}
			last, recs, missed := in.scout(from)
			wantLast, wantRecs := len(file), len(offs)-first
			for i := first; i < len(offs); i++ {
				if offs[i] >= end {
					wantLast, wantRecs = offs[i], i-first
					break
				}
			}
			if last != wantLast || recs != wantRecs || missed != scoutChains-1-guessed && part >= scoutMinPart {
				t.Errorf("%s: stretch from record %d: scout ends at %d after %d records (%d parts missed), want %d after %d",
					tc.name, first, last, recs, missed, wantLast, wantRecs)
			}
		}
	}
}

// TestScoutDecoys: frames that carry what looks like a chain of record
// headers (timed like the capture's own) mislead the scout's guesses; the
// walk reads the same packets as with the scout off, in every stretch,
// and the scout ends every stretch it takes.
func TestScoutDecoys(t *testing.T) {
	decoy := func(i int, b []byte) {
		// Two chained headers at the frame's start, then more of them
		// every 100 bytes: each says a record of 84 bytes follows.
		for o := 0; o+pcapRecordLen <= len(b); o += 100 {
			binary.LittleEndian.PutUint32(b[o:], uint32(1700000000+i/100))
			binary.LittleEndian.PutUint32(b[o+4:], 5)
			binary.LittleEndian.PutUint32(b[o+8:], 84)
			binary.LittleEndian.PutUint32(b[o+12:], 84)
		}
	}
	file, offs := scoutFile(binary.LittleEndian, 6000, 200, 1515, 3, decoy)
	in := &input{mm: file, bo: littleEndian}
	wrong := 0
	for _, o := range offs[:len(offs)-200] {
		if last, _, _ := in.scout(o); last != -1 && (last < o || last > len(file)) {
			t.Fatalf("scout from %d ends at %d", o, last)
		}
		end := min(o+scoutBlock, len(file))
		part := (end - o) / scoutChains
		if g, ok := in.guess(o+part, o+2*part, in.bo.u32(file[o:])); ok && !isStart(offs, g) {
			wrong++
		}
	}
	if wrong == 0 {
		t.Fatal("no guess was misled: the decoys test nothing")
	}
	path := filepath.Join(t.TempDir(), "decoys.pcap")
	if err := os.WriteFile(path, file, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv(walkEnv, "mapped")
	read := func(scout bool) result {
		old := scoutOn
		scoutOn = scout
		defer func() { scoutOn = old }()
		r, err := Open([]string{path})
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		return readBatches(t, r, 64, false)
	}
	want := read(false)
	if len(want.pkts) != len(offs) {
		t.Fatalf("%d packets without the scout, want %d", len(want.pkts), len(offs))
	}
	sameResult(t, "scout", read(true), want)
}

func isStart(offs []int, o int) bool {
	i, j := 0, len(offs)
	for i < j {
		h := (i + j) / 2
		if offs[h] < o {
			i = h + 1
		} else {
			j = h
		}
	}
	return i < len(offs) && offs[i] == o
}

// TestScoutDense: a stretch of small records (a header-only capture) is
// prefetched line by line, where asking for every line costs less than
// finding the records; one of full-sized records is scouted.
func TestScoutDense(t *testing.T) {
	for _, tc := range []struct {
		name   string
		lo, hi int
		dense  bool
	}{
		{"headers", 54, 128, true},
		{"full", 60, 1515, false},
	} {
		file, offs := scoutFile(binary.LittleEndian, 12000, tc.lo, tc.hi, 5, nil)
		in := &input{mm: file, bo: littleEndian}
		var c mapCursor
		in.prefetchAt(&c, offs[0])
		if got := c.dense > offs[0]; got != tc.dense {
			t.Errorf("%s (records of %d to %d bytes): dense %v, want %v", tc.name, tc.lo, tc.hi, got, tc.dense)
		}
		if tc.dense {
			continue
		}
		if !isStart(offs, c.mark) {
			t.Errorf("%s: the scout's mark %d is no record's start", tc.name, c.mark)
		}
		if !isStart(offs, c.st.last) {
			t.Errorf("%s: the scout's next stretch ends at %d, no record's start", tc.name, c.st.last)
		}
	}
}

// FuzzScout: whatever the bytes, the scout ends, and what it returns is -1
// or an offset from its start to the end of the mapping.
func FuzzScout(f *testing.F) {
	file, _ := scoutFile(binary.LittleEndian, 40, 20, 200, 1, nil)
	f.Add(file, uint16(24), false)
	f.Add(file[:len(file)-9], uint16(100), false)
	big, _ := scoutFile(binary.BigEndian, 40, 14, 100, 2, nil)
	f.Add(big, uint16(24), true)
	old := scoutMinPart
	scoutMinPart = 16 // guess in small files too
	f.Cleanup(func() { scoutMinPart = old })
	f.Fuzz(func(t *testing.T, data []byte, from uint16, bigEnd bool) {
		in := &input{mm: data, bo: byteOrder(bigEnd)}
		o := int(from) % (len(data) + 1)
		last, recs, _ := in.scout(o)
		if last != -1 && (last < o || last > len(data)) || recs < 0 {
			t.Fatalf("scout from %d of %d bytes: %d after %d records", o, len(data), last, recs)
		}
		c := mapCursor{mapped: true}
		in.prefetchAt(&c, o)
		// Ahead's steps, with the walk anywhere up to the end, in a
		// stretch taken as dense and in one being followed.
		for _, dense := range []bool{false, true} {
			if dense {
				c.dense = len(data) + 1
			}
			for _, pos := range []int{o, len(data) / 2, len(data)} {
				c.lazy = true
				for range 8 {
					in.step(&c, pos)
				}
			}
		}
	})
}

// TestAheadFaultKeepsPackets: the scout, following a stretch ahead of the
// walk as the packets are analysed (Ahead), is the first to read a part
// of a file cut under the reader: it stops scouting without a word, and
// the walk returns every packet before the cut, then the one fault.
func TestAheadFaultKeepsPackets(t *testing.T) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	t.Setenv(walkEnv, "mapped")
	var recs []rec
	for i := range 3000 {
		recs = append(recs, rec{sec: uint32(1_600_000_000 + i), data: payload(byte(i), 1000)})
	}
	path := writeFile(t, t.TempDir(), "shrinks.pcap", pcapBytes(binary.LittleEndian, false, 1, recs...))
	r, err := Open([]string{path})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ps := make([]capture.Packet, 64)
	got := 0
	for got*(pcapRecordLen+1000) < scoutBlock+64<<10 { // into the second stretch: the third is taken
		n, err := r.NextBatch(ps)
		if err != nil {
			t.Fatal(err)
		}
		got += n
		r.Ahead()
	}
	in := r.last
	if !in.cur.lazy || in.cur.st.live == 0 {
		t.Fatalf("the scout follows no stretch ahead (lazy %v, %d chains live)", in.cur.lazy, in.cur.st.live)
	}
	cut := in.cur.st.cur[0] + 20<<10 // inside the stretch the scout follows
	cut -= cut % pageSize
	if err := os.Truncate(path, int64(cut)); err != nil {
		t.Fatal(err)
	}
	for range 1000 {
		r.Ahead() // faults, quietly
	}
	if in.cur.st.live != 0 {
		t.Fatal("the scout went on past the cut")
	}
	want := 0
	for pos := pcapHeaderLen; pos+pcapRecordLen <= cut; pos += pcapRecordLen + 1000 {
		want++
	}
	n, faults := batchesFrom(t, r, ps, got)
	if faults != 1 || n != want {
		t.Fatalf("%d packets before the fault (%d faults), want %d", n, faults, want)
	}
}

// TestAheadDense: in a dense stretch, Ahead prefetches the lines the walk
// reads next while the packets are analysed, up to denseLead ahead of it
// and no further, and nothing past the mapping's end.
func TestAheadDense(t *testing.T) {
	file, offs := scoutFile(binary.LittleEndian, 12000, 54, 128, 5, nil)
	in := &input{mm: file, bo: littleEndian}
	c := &in.cur
	c.mapped = true // a stretch the walk reads from the mapping (see decide)
	in.prefetchAt(c, offs[0])
	if c.dense <= offs[0] {
		t.Fatal("a header-only stretch is not dense")
	}
	in.mpos = offs[100]
	for range 1000 {
		in.step(c, in.mpos)
	}
	if c.pf < in.mpos+denseLead || c.pf > in.mpos+denseLead+denseStep {
		t.Fatalf("prefetched up to %d with the walk at %d, want %d ahead", c.pf, in.mpos, denseLead)
	}
	in.mpos = len(file) - 100
	for range 10 {
		in.step(c, in.mpos)
	}
	if c.pf != len(file) {
		t.Fatalf("prefetched up to %d of %d bytes", c.pf, len(file))
	}
}

// TestAheadAtTheEnd: a dense stretch (small records) that ends the file
// with a record longer than Ahead's lead, read in batches that end exactly
// at the end, with Ahead after each: Ahead, called with the walk at the
// end of the mapping, prefetches nothing past it (it indexed one byte past
// the end: a review's find, a crash of the sensor on such captures).
func TestAheadAtTheEnd(t *testing.T) {
	t.Setenv(walkEnv, "mapped")
	var recs []rec
	for i := range 2000 {
		recs = append(recs, rec{sec: uint32(1_600_000_000 + i/100), data: payload(byte(i), 60)})
	}
	recs = append(recs, rec{sec: 1_600_000_100, data: payload(1, 40000)})
	path := writeFile(t, t.TempDir(), "dense-long-last.pcap", pcapBytes(binary.LittleEndian, false, 1, recs...))
	r, err := Open([]string{path})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ps := make([]capture.Packet, 4096)
	got := 0
	for {
		n, err := r.NextBatch(ps)
		if err != nil {
			break
		}
		got += n
		for range 64 {
			r.Ahead()
		}
	}
	if got != len(recs) {
		t.Fatalf("%d packets, want %d", got, len(recs))
	}
}

// TestScoutFallsBack: where most parts of a stretch hold no record start
// (records longer than the parts: a capture of 64 KiB TSO/GRO frames), the
// stretch is taken for dense, and every line is prefetched as before
// instead of the scout scanning every part.
func TestScoutFallsBack(t *testing.T) {
	file, offs := scoutFile(binary.LittleEndian, 200, 40000, 65000, 9, nil)
	in := &input{mm: file, bo: littleEndian}
	var c mapCursor
	in.prefetchAt(&c, offs[0])
	if c.dense <= offs[0] {
		_, _, missed := in.scout(offs[0])
		t.Fatalf("a stretch of 40 to 65 KB records is scouted (%d of %d parts without a start)", missed, scoutChains-1)
	}
}

// TestAheadNotInWindows: where the walk reads through windows (a page
// cache in 4 KiB pages, see decide), Ahead leaves the mapping alone: its
// loads would map the pages one by one, what the windows are there to
// avoid (in the profile of a capture whose page cache had fallen back to
// small pages, the scout following its stretches was a quarter of the run).
func TestAheadNotInWindows(t *testing.T) {
	file, offs := scoutFile(binary.LittleEndian, 6000, 60, 1515, 3, nil)
	in := &input{mm: file, bo: littleEndian}
	c := &in.cur
	c.mapped, c.lazy = true, true
	in.prefetchAt(c, offs[0]) // takes the next stretch, to follow lazily
	if c.st.live == 0 && c.st.n == 0 {
		t.Fatal("no stretch taken")
	}
	before := c.st
	c.mapped = false
	for range 100 {
		in.step(c, offs[10])
	}
	if c.st != before {
		t.Fatal("Ahead followed the stretch with the walk reading through windows")
	}
	c.mapped = true
	in.step(c, offs[10])
	if c.st == before {
		t.Fatal("Ahead did not follow the stretch with the walk on the mapping")
	}
}
