package pipeline

import (
	"bytes"
	"context"
	"encoding/binary"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/synscope/synscope/internal/scenario"
	"github.com/synscope/synscope/pkg/capture"
	"github.com/synscope/synscope/pkg/capture/pcapfile"
	"github.com/synscope/synscope/pkg/decode"
	"github.com/synscope/synscope/pkg/engine"
	"github.com/synscope/synscope/pkg/growth"
	"github.com/synscope/synscope/pkg/output"
	"github.com/synscope/synscope/pkg/ports"
)

// runJSONL runs the whole pipeline over paths, split or not, and returns
// its JSONL, the input errors it reported and the final stats.
func runJSONL(t *testing.T, split bool, paths ...string) (string, []string, output.Stats) {
	t.Helper()
	old := splitMinProcs
	defer func() { splitMinProcs = old }()
	if split {
		splitMinProcs = 1
	} else {
		splitMinProcs = 1 << 30
	}
	src, err := pcapfile.Open(paths)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	return runSource(t, src)
}

// runSource is runJSONL's run over a source, with splitMinProcs set.
func runSource(t *testing.T, src capture.Source) (string, []string, output.Stats) {
	t.Helper()
	var out bytes.Buffer
	w := output.NewWriter(&out, "split")
	cfg := engine.DefaultConfig()
	cfg.Window = time.Minute
	// The growth classifier too: the split loop runs it on a goroutine of
	// its own (engine.ClassifyAside), its verdicts in their places.
	gc := growth.DefaultConfig()
	gc.Horizons = []time.Duration{10 * time.Minute, 30 * time.Minute}
	cfg.Growth = &gc
	eng, err := engine.New(cfg, w)
	if err != nil {
		t.Fatal(err)
	}
	var errs []string
	watched, _ := ports.Parse("22,23,80,443,445,3389")
	ticks := 0
	st, err := Run(context.Background(), src, &decode.Decoder{Ports: watched}, eng, w, Hooks{
		InputError: func(e error) { errs = append(errs, e.Error()) },
		Tick:       func(uint64) { ticks++ },
	})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	st.Ts = 0 // the wall clock of a run without packets
	return out.String(), errs, st
}

// TestSplitEqualsSingle runs captures through the split loop (reading and
// decoding on one goroutine, the engine on this one) and the single loop:
// the same JSONL byte for byte, the same input errors in the same places,
// the same counts. The inputs: a generated scenario, the same cut short
// mid-record (an input error), the two together (the merge path), the
// demo, and the shared corpus when SENSOR_CORPUS is set.
func TestSplitEqualsSingle(t *testing.T) { eachWalk(t, testSplitEqualsSingle) }

func testSplitEqualsSingle(t *testing.T) {
	gen, cut, _ := genAndCut(t, 11, 20*time.Minute, 3000, func(n int) int { return n * 2 / 3 })
	demo, _ := filepath.Abs("../../testdata/demo.pcapng")
	sets := [][]string{{gen}, {cut}, {cut, demo}, {demo}}
	if root := os.Getenv("SENSOR_CORPUS"); root != "" {
		filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err == nil && d.Type().IsRegular() && !strings.HasSuffix(p, ".md") {
				sets = append(sets, []string{p})
			}
			return nil
		})
	}
	for _, set := range sets {
		one, oneErrs, oneSt := runJSONL(t, false, set...)
		two, twoErrs, twoSt := runJSONL(t, true, set...)
		name := filepath.Base(set[0])
		// A run without a packet stamps its records with the wall clock.
		if one != two && oneSt.Engine.Packets > 0 {
			t.Errorf("%s: split output differs (%d bytes, single %d)", name, len(two), len(one))
		}
		if strings.Join(oneErrs, "\n") != strings.Join(twoErrs, "\n") {
			t.Errorf("%s: split input errors %q, single %q", name, twoErrs, oneErrs)
		}
		if oneSt.Results != twoSt.Results || oneSt.InputsFailed != twoSt.InputsFailed {
			t.Errorf("%s: split results %v (%d failed), single %v (%d failed)", name, twoSt.Results, twoSt.InputsFailed, oneSt.Results, oneSt.InputsFailed)
		}
	}
	if out, _, _ := runJSONL(t, true, gen); !strings.Contains(out, `"event_type":"growth"`) || strings.Count(out, `"event_type":"growth"`) != strings.Count(out, `"event_type":"window"`) {
		t.Errorf("generated capture: %d growth records for %d windows", strings.Count(out, `"event_type":"growth"`), strings.Count(out, `"event_type":"window"`))
	}
	if out, errs, _ := runJSONL(t, true, cut); len(errs) != 1 || !strings.Contains(out, `"event_type":"window"`) {
		t.Errorf("cut file: %d input errors, want 1; windows written: %v", len(errs), strings.Contains(out, `"event_type":"window"`))
	}
}

// TestSplitTailEqualsSingle is TestSplitEqualsSingle on files large enough
// that tail goroutines read parts ahead of the reader (split again as they
// go): a generated capture of about 85 MB and the same cut mid-record (the
// last tail stops before the cut record and the reader fails on it), at the
// default tail budget and at small ones (the tails ahead wait for every
// chunk, and parts are split off a few MiB apart).
func TestSplitTailEqualsSingle(t *testing.T) { eachWalk(t, testSplitTailEqualsSingle) }

func testSplitTailEqualsSingle(t *testing.T) {
	gen, cut, size := genAndCut(t, 12, 25*time.Minute, 0, func(n int) int { return n - 777 })
	if size < 70<<20 {
		t.Fatalf("%s is %d bytes: too small to be split", gen, size)
	}
	// pcapng is split too (pcapfile's tailng.go).
	ng, ngCut, _ := genAndCutAs(t, "pcapng", 13, 25*time.Minute, 0, func(n int) int { return n - 777 })
	type run struct {
		path   string
		budget int64
	}
	old := tailBudget
	defer func() { tailBudget = old }()
	for _, c := range []run{{gen, old}, {cut, old}, {gen, 1}, {cut, 300 << 10}, {ng, old}, {ngCut, 300 << 10}} {
		path := c.path
		tailBudget = c.budget // 1: the tail waits for every chunk it hands over
		one, oneErrs, oneSt := runJSONL(t, false, path)
		before, runsBefore := tailsTaken.Load(), tailRunsTaken.Load()
		two, twoErrs, twoSt := runJSONL(t, true, path)
		if tailsTaken.Load() != before+1 {
			t.Errorf("%s: the second half was not read by a tail", filepath.Base(path))
		}
		// The part read ahead is split again whenever a goroutine is free.
		// At a small budget (parts a few MiB apart, the tails held back by
		// the engine) that happens many times whatever the scheduling. At
		// the default one it depends on it: a tail that reads its part to
		// the end before the reader reaches its boundary leaves nothing to
		// split (CI once saw 1 part on a loaded machine), so only the
		// output is checked there.
		parts := tailRunsTaken.Load() - runsBefore
		if c.budget < old && parts < 5 {
			t.Errorf("%s, budget %d: the engine took %d parts", filepath.Base(path), c.budget, parts)
		}
		if one != two || strings.Join(oneErrs, "\n") != strings.Join(twoErrs, "\n") || oneSt.Results != twoSt.Results {
			t.Errorf("%s: split differs: %d bytes, errors %q, results %v; single %d bytes, errors %q, results %v",
				filepath.Base(path), len(two), twoErrs, twoSt.Results, len(one), oneErrs, oneSt.Results)
		}
	}
}

// shrinksAfterFirst truncates its file to size once the first batch was
// read: its mapping then faults from there on, in whichever goroutine
// reads there first.
type shrinksAfterFirst struct {
	*pcapfile.Reader
	path string
	size int64
	done bool
}

func (s *shrinksAfterFirst) NextBatch(ps []capture.Packet) (int, error) {
	n, err := s.Reader.NextBatch(ps)
	if !s.done {
		s.done = true
		if terr := os.Truncate(s.path, s.size); terr != nil {
			panic(terr)
		}
	}
	return n, err
}

// TestSplitTailShrinks shrinks a file being split to past three quarters
// of its size (a page boundary) after the first batch: the tail meets the
// fault, in a record header or in a frame, and ends before it; the reader
// reads on from there and fails where a single loop fails. Output, errors
// and counts are the single loop's.
func TestSplitTailShrinks(t *testing.T) { eachWalk(t, testSplitTailShrinks) }

func testSplitTailShrinks(t *testing.T) {
	gen, _, size := genAndCut(t, 13, 25*time.Minute, 0, func(n int) int { return n })
	b, err := os.ReadFile(gen)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "shrinks.pcap") // the same in both errors
	// Where the tail starts, as SplitTail finds it (a tail read in
	// batches of splitBatchLen would start them there).
	r, err := pcapfile.Open([]string{gen})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := r.NextBatch(make([]capture.Packet, splitBatchLen)); n == 0 || err != nil {
		t.Fatalf("first batch: %d, %v", n, err)
	}
	tail := r.SplitTail(0)
	if tail == nil {
		t.Fatal("the file is not split")
	}
	tailAt := tail.Pos()
	r.Close()
	// Cuts at page boundaries past three quarters of the file: inside a
	// record's header; inside a frame's first bytes (read by the
	// decoder), of a record that would be last in a batch of the tail or
	// not (a tail read in batches would meet the fault in the decoder or
	// in the batch's next header); past them (the next header faults).
	var cuts []int64
	for pos, i, kinds := 24, -1, 0; pos+16 <= len(b) && kinds != 15; pos += 16 + int(binary.LittleEndian.Uint32(b[pos+8:])) {
		if pos == tailAt {
			i = 0
		} else if i >= 0 {
			i++
		}
		end := pos + 16 + int(binary.LittleEndian.Uint32(b[pos+8:]))
		p := (pos + 4095) &^ 4095
		if pos <= size*3/4 || p >= end {
			continue
		}
		k := 8 // past what the decoder reads: the next header faults
		switch {
		case p < pos+16:
			k = 1 // the header
		case p < pos+16+30 && i%splitBatchLen == splitBatchLen-1:
			k = 2 // the frame's first bytes, last in a batch
		case p < pos+16+30:
			k = 4 // the frame's first bytes
		}
		if kinds&k == 0 {
			kinds |= k
			cuts = append(cuts, int64(p))
		}
	}
	if len(cuts) != 4 {
		t.Fatalf("found cuts %v, want 4", cuts)
	}
	for _, cut := range cuts {
		var outs [2]string
		var errs [2][]string
		var sts [2]output.Stats
		for i, split := range []bool{false, true} {
			if err := os.WriteFile(path, b, 0o644); err != nil {
				t.Fatal(err)
			}
			r, err := pcapfile.Open([]string{path})
			if err != nil {
				t.Fatal(err)
			}
			old := splitMinProcs
			splitMinProcs = 1 << 30
			if split {
				splitMinProcs = 1
			}
			before := tailsTaken.Load()
			outs[i], errs[i], sts[i] = runSource(t, &shrinksAfterFirst{Reader: r, path: path, size: cut})
			splitMinProcs = old
			r.Close()
			if split && tailsTaken.Load() != before+1 {
				t.Errorf("cut at %d: the second half was not read by a tail", cut)
			}
		}
		if len(errs[0]) != 1 || !strings.Contains(errs[0][0], "shrank") {
			t.Errorf("cut at %d: single loop's errors %q, want one saying the file shrank", cut, errs[0])
		}
		if outs[0] != outs[1] || strings.Join(errs[0], "\n") != strings.Join(errs[1], "\n") || sts[0].Results != sts[1].Results {
			t.Errorf("cut at %d: split differs: %d bytes, errors %q, results %v; single %d bytes, errors %q, results %v",
				cut, len(outs[1]), errs[1], sts[1].Results, len(outs[0]), errs[0], sts[0].Results)
		}
	}
}

// genAndCut writes a capture of the bench preset (seed, duration and, when
// not 0, new sources per hour at the start) and a copy cut to cut(size)
// bytes, and returns both paths and the whole one's size.
func genAndCut(t *testing.T, seed int64, d time.Duration, rate0 float64, cut func(int) int) (string, string, int) {
	t.Helper()
	return genAndCutAs(t, "pcap", seed, d, rate0, cut)
}

// genAndCutAs is genAndCut in the format ext ("pcap" or "pcapng").
func genAndCutAs(t *testing.T, ext string, seed int64, d time.Duration, rate0 float64, cut func(int) int) (string, string, int) {
	t.Helper()
	dir := t.TempDir()
	cfg, err := scenario.Preset("bench")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Seed, cfg.Duration = seed, d
	if rate0 != 0 {
		cfg.Rate0 = rate0
	}
	gen := filepath.Join(dir, "gen."+ext)
	if _, err := scenario.GenerateFile(cfg, gen, scenario.FileOptions{}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(gen)
	if err != nil {
		t.Fatal(err)
	}
	cutPath := filepath.Join(dir, "cut."+ext)
	if err := os.WriteFile(cutPath, b[:cut(len(b))], 0o644); err != nil {
		t.Fatal(err)
	}
	return gen, cutPath, len(b)
}

// TestSplitReaderFailsBeforeTheBoundary: a bad record between where the
// reader splits the file and the tail's boundary (a pcap record longer
// than any frame, a pcapng block whose trailer disagrees with its length).
// The reader fails there while tail goroutines read the parts ahead, which
// are then void: records, input errors and counts are the single loop's.
// The reader used to unmap the file as it failed, under the tails' feet
// (a crash in a later batch of theirs, about one run in 16).
func TestSplitReaderFailsBeforeTheBoundary(t *testing.T) {
	for _, ext := range []string{"pcap", "pcapng"} {
		gen, _, _ := genAndCutAs(t, ext, 14, 25*time.Minute, 0, func(n int) int { return n })
		b, err := os.ReadFile(gen)
		if err != nil {
			t.Fatal(err)
		}
		for _, at := range []int{256 << 10, 1 << 20, 3 << 20} {
			c := append([]byte(nil), b...)
			if ext == "pcap" {
				pos := 24
				for pos < at {
					pos += 16 + int(binary.LittleEndian.Uint32(c[pos+8:]))
				}
				binary.LittleEndian.PutUint32(c[pos+8:], 1<<30)
			} else {
				pos := 0
				for pos < at {
					pos += int(binary.LittleEndian.Uint32(c[pos+4:]))
				}
				c[pos+int(binary.LittleEndian.Uint32(c[pos+4:]))-4] ^= 0x40
			}
			bad := filepath.Join(t.TempDir(), "bad."+ext)
			if err := os.WriteFile(bad, c, 0o644); err != nil {
				t.Fatal(err)
			}
			one, oneErrs, oneSt := runJSONL(t, false, bad)
			if len(oneErrs) != 1 {
				t.Fatalf("%s, bad record at %d: %d input errors", ext, at, len(oneErrs))
			}
			for range 3 {
				before := tailsSplit.Load()
				two, twoErrs, twoSt := runJSONL(t, true, bad)
				if tailsSplit.Load() == before {
					t.Errorf("%s, bad record at %d: the file was not split", ext, at)
				}
				if one != two || strings.Join(oneErrs, "\n") != strings.Join(twoErrs, "\n") || oneSt.Results != twoSt.Results {
					t.Errorf("%s, bad record at %d: split differs: %d bytes, errors %q; single %d bytes, errors %q",
						ext, at, len(two), twoErrs, len(one), oneErrs)
				}
			}
		}
	}
}

// TestSplitKeepsWireLengths: a record's original length is a u32 in pcap
// and pcapng; the split loop kept it in an int32 clamped at 2^31-1, so the
// stats' bytes depended on the number of cores (4294967334 on one,
// 2147483701 on two).
func TestSplitKeepsWireLengths(t *testing.T) {
	le := binary.LittleEndian
	frame := make([]byte, 54)
	frame[12] = 8 // IPv4 EtherType, the rest zeros: not a SYN
	b := le.AppendUint32(nil, 0xa1b2c3d4)
	b = le.AppendUint16(b, 2)
	b = le.AppendUint16(b, 4)
	b = le.AppendUint32(b, 0)
	b = le.AppendUint32(b, 0)
	b = le.AppendUint32(b, 65535)
	b = le.AppendUint32(b, 1)
	for i, orig := range []uint32{0xFFFFFFF0, 54} {
		b = le.AppendUint32(b, 1700000000+uint32(i))
		b = le.AppendUint32(b, 0)
		b = le.AppendUint32(b, uint32(len(frame)))
		b = le.AppendUint32(b, orig)
		b = append(b, frame...)
	}
	path := filepath.Join(t.TempDir(), "orig.pcap")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	single, _, s1 := runJSONL(t, false, path)
	split, _, s2 := runJSONL(t, true, path)
	if want := uint64(0xFFFFFFF0 + 54); s1.Engine.Bytes != want || s2.Engine.Bytes != want || single != split {
		t.Fatalf("bytes: single loop %d, split loop %d, want %d", s1.Engine.Bytes, s2.Engine.Bytes, want)
	}
}
