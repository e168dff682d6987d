package fleet

import (
	"bytes"
	"encoding/json"
	"hash/crc32"
	"math"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/synscope/synscope/pkg/growth"
	"github.com/synscope/synscope/pkg/output"
)

// gapSensor feeds p one sensor's windows as the sensor writes them around
// a gap: one window at first (a frame stamped a year early, say), then,
// after the gap, n windows in a row, each with its progress (in every
// partition), every other one with a new source (in partition 0).
func gapSensor(p *part, early, base int64, n int) {
	feed := func(ws int64, i int) {
		if p.id == 0 && i%2 == 0 {
			src := netip.AddrFrom4([4]byte{10, 0, 0, byte(i)})
			p.add(&rec{kind: kindSource, sensor: "a", src: src, ts: ws + 1e9, windowStart: ws})
		}
		p.add(&rec{kind: kindProgress, sensor: "a", windowStart: ws, windowEnd: ws + 300e9, syns: 1, active: 1, newSrc: 1})
	}
	feed(early, 0)
	for i := range n {
		feed(base+int64(i)*300e9, i+1)
	}
}

// TestSensorGapNotClosedWindowByWindow: a sensor skips the windows of a
// gap in its capture (longer than --max-gap: it writes no window, and no
// progress, for them); the collector closed every window between, one
// empty partial each, from the earliest window any record named (one
// early frame a year before the rest: 105,120 partials of nothing, and
// a window_start from 1970 in a record made it 4 million). Now a window
// no sensor passed is not a window of the fleet: every partition skips
// it alike (progress goes to every partition) and the first window after
// the gap says so.
func TestSensorGapNotClosedWindowByWindow(t *testing.T) {
	base := int64(1_231_545_600e9) // 2009-01-10, a window boundary
	early := base - 365*86400e9
	for _, n := range []int{1, 2} { // partitions
		var parts [][]*Partial
		for id := range n {
			p := newPart(id, n, 300e9, 86400e9, 60e9)
			gapSensor(p, early, base, 12)
			var got []*Partial
			p.close(p.closable(true), func(pa *Partial) { got = append(got, pa) })
			if len(got) != 13 {
				t.Fatalf("%d partitions, partition %d: %d partials, want 13 (the early window and the 12 after the gap)", n, id, len(got))
			}
			if got[0].Start != early || got[0].SkippedFrom != 0 || got[1].SkippedFrom != early+300e9 || got[1].Start != base || got[2].SkippedFrom != 0 {
				t.Errorf("partition %d: starts %d, %d; skipped from %d %d %d", id, got[0].Start, got[1].Start, got[0].SkippedFrom, got[1].SkippedFrom, got[2].SkippedFrom)
			}
			parts = append(parts, got)
		}
		// The combiner writes the 13 windows, the one after the gap
		// marked, and starts warm-up again (the gap is longer than the
		// lookback).
		var out bytes.Buffer
		w := output.NewWriter(&out, "fleet")
		c := newCombiner(w, 86400e9, nil, 0)
		for i := range parts[0] {
			for id := range n {
				c.add(parts[id][i])
			}
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		wins := fleetWindowRecords(t, out.Bytes())
		if len(wins) != 13 {
			t.Fatalf("%d partitions: %d fleet windows, want 13", n, len(wins))
		}
		if wins[0]["gap_before"] != false || wins[1]["gap_before"] != true || wins[1]["warmup"] != true || wins[1]["new_sources"] != 0.0 || wins[2]["new_sources"] != 1.0 {
			t.Errorf("%d partitions: the window after the gap: %v", n, wins[1])
		}
	}
}

// TestOldRecordClosesOneWindow: a sighting stamped in 1971 in one
// partition (no sensor passed its window) is one partial of that window,
// not one for every window since.
func TestOldRecordClosesOneWindow(t *testing.T) {
	base := int64(1_231_545_600e9)
	p := newPart(0, 2, 300e9, 86400e9, 60e9)
	old := int64(365 * 86400e9)
	p.add(&rec{kind: kindSighting, sensor: "x", src: netip.AddrFrom4([4]byte{192, 0, 2, 1}), ts: old, windowStart: old})
	for i := range 3 {
		ws := base + int64(i)*300e9
		p.add(&rec{kind: kindProgress, sensor: "a", windowStart: ws, windowEnd: ws + 300e9})
	}
	var got []int64
	p.close(p.closable(true), func(pa *Partial) { got = append(got, pa.Start) })
	if want := []int64{old, base, base + 300e9, base + 600e9}; !slices.Equal(got, want) {
		t.Errorf("windows closed %v, want %v", got, want)
	}
}

// TestSnapshotKeepsTheWindowsSensorsPassed: a partition restored from
// its snapshot knows which open windows a sensor has passed, so it skips
// a gap exactly as the partition that went on.
func TestSnapshotKeepsTheWindowsSensorsPassed(t *testing.T) {
	base := int64(1_231_545_600e9)
	early := base - 30*86400e9
	// A partition that is not the sensor's home: it holds no counts of
	// the sensor's windows, only that the sensor passed them.
	id := 1 - PartitionOf("a", 2)
	a := newPart(id, 2, 300e9, 86400e9, 60e9)
	gapSensor(a, early, base, 4)
	// The early window closed and the gap skipped up to the first window
	// after it: the next partial is to say so.
	var pa, pb []int64
	a.close(base, func(p *Partial) { pa = append(pa, p.Start, p.SkippedFrom) })
	b := newPart(id, 2, 300e9, 86400e9, 60e9)
	if err := b.restore(roundTrip(t, a.snapshot(7))); err != nil {
		t.Fatal(err)
	}
	pb = slices.Clone(pa)
	a.close(a.closable(true), func(p *Partial) { pa = append(pa, p.Start, p.SkippedFrom) })
	b.close(b.closable(true), func(p *Partial) { pb = append(pb, p.Start, p.SkippedFrom) })
	if len(pa) != 10 || !slices.Equal(pa, pb) || pa[3] != early+300e9 {
		t.Errorf("windows closed (start, skipped from): %v went on, %v restored; want 5, the second after the gap", pa, pb)
	}
}

// roundTrip writes a snapshot as the collector does and reads it back.
func roundTrip(t *testing.T, s *snapshot) *snapshot {
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	m, _ := json.Marshal(manifest{Chunks: 1, Offset: s.Offset, Sum: crc32.ChecksumIEEE(b)})
	got, err := loadSnapshot(map[string][]byte{"p1": m, "p1/0/0": b}, 1)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// TestPartitionsThatSkipDifferently: silence is judged per partition, by
// the wall clock of the collector that owns it (a partition restored on
// another collector hears every sensor anew), so one partition can skip
// windows a lagging sensor has not passed while another waits for it and
// closes them with its records. The combiner takes the skipping
// partition's share as empty: the windows are written with the lagging
// sensor's sources, none given up (two were, losing them, before the
// partials said what they skipped; review).
func TestPartitionsThatSkipDifferently(t *testing.T) {
	base := int64(1_231_545_600e9)
	const w = int64(300e9)
	clock := int64(0)
	mk := func(id int) *part {
		p := newPart(id, 2, w, 86400e9, 60e9)
		p.now = func() int64 { return clock }
		return p
	}
	p0, p1 := mk(0), mk(1)
	prog := func(p *part, s string, i int) {
		ws := base + int64(i)*w
		p.add(&rec{kind: kindProgress, sensor: s, windowStart: ws, windowEnd: ws + w, syns: 5, active: 1, newSrc: 1})
	}
	// a: window 0, then cut off, back from window 3; b: window 0, then behind.
	for _, p := range []*part{p0, p1} {
		prog(p, "a", 0)
		prog(p, "b", 0)
		prog(p, "a", 3)
		prog(p, "a", 4)
	}
	clock = 120e9 // b not heard from for two minutes: silent in partition 1
	var out0, out1 []*Partial
	p1.close(p1.closable(false), func(pa *Partial) { out1 = append(out1, pa) })
	// Partition 0 (restored elsewhere) heard b just now; b's windows 1 and 2 come.
	p0.sensors["b"].heard = clock
	for i := 1; i <= 4; i++ {
		if i <= 2 {
			ws := base + int64(i)*w
			p0.add(&rec{kind: kindSource, sensor: "b", src: netip.AddrFrom4([4]byte{10, 0, 0, byte(i)}), ts: ws + 1e9, windowStart: ws})
		}
		prog(p0, "b", i)
	}
	p0.close(p0.closable(false), func(pa *Partial) { out0 = append(out0, pa) })
	if len(out0) != 5 || len(out1) != 3 || out1[1].SkippedFrom != base+w || out1[1].Start != base+3*w {
		t.Fatalf("partition 0 closed %d windows, partition 1 %d (want 5 and 3, the second after skipping from window 1)", len(out0), len(out1))
	}
	var out bytes.Buffer
	wr := output.NewWriter(&out, "fleet")
	// The skipping partition's partials first, and last.
	for _, order := range [][]*Partial{append(slices.Clone(out1), out0...), append(slices.Clone(out0), out1...)} {
		out.Reset()
		c := newCombiner(wr, 86400e9, nil, 0)
		for _, pa := range order {
			c.add(pa)
		}
		if err := wr.Flush(); err != nil {
			t.Fatal(err)
		}
		wins := fleetWindowRecords(t, out.Bytes())
		if len(wins) != 5 || c.incomplete != 0 {
			t.Fatalf("%d windows written, %d given up; want 5 and 0", len(wins), c.incomplete)
		}
		for i, m := range wins {
			if want := float64(map[int]int{1: 1, 2: 1}[i]); m["new_sources"] != want || m["gap_before"] != false {
				t.Errorf("window %d: new sources %v (want %v), gap_before %v", i, m["new_sources"], want, m["gap_before"])
			}
		}
	}
}

// fleetWindowRecords are the window records of a collector's output.
func fleetWindowRecords(t *testing.T, b []byte) []map[string]any { return recordsOf(t, b, "window") }

// recordsOf are the records of one event type in a collector's output.
func recordsOf(t *testing.T, b []byte, eventType string) []map[string]any {
	var out []map[string]any
	for _, line := range bytes.Split(bytes.TrimSpace(b), []byte("\n")) {
		var m map[string]any
		if err := json.Unmarshal(line, &m); err != nil {
			t.Fatal(err)
		}
		if m["event_type"] == eventType {
			out = append(out, m)
		}
	}
	return out
}

// TestLegacySnapshotClosesAsBefore: a snapshot written before the windows
// sensors passed were kept (no "v") is restored as if every window up to
// the furthest sensor's progress had been passed, so the partition closes
// them as the collector that wrote it would have.
func TestLegacySnapshotClosesAsBefore(t *testing.T) {
	base := int64(1_231_545_600e9)
	legacy := []byte(`{"offset":5,"first":1231545600000000000,"closed":1231545900000000000,"late":0,"swept":0,"last":{},"pending":{},"progress":{"a":1231547100000000000}}`)
	m, _ := json.Marshal(manifest{Chunks: 1, Offset: 5, Sum: crc32.ChecksumIEEE(legacy)})
	s, err := loadSnapshot(map[string][]byte{"p0": m, "p0/0/0": legacy}, 0)
	if err != nil {
		t.Fatal(err)
	}
	p := newPart(0, 2, 300e9, 86400e9, 60e9)
	if err := p.restore(s); err != nil {
		t.Fatal(err)
	}
	var got []int64
	p.close(p.closable(true), func(pa *Partial) { got = append(got, (pa.Start-base)/300e9) })
	if want := []int64{1, 2, 3, 4}; !slices.Equal(got, want) {
		t.Errorf("windows closed %v, want %v", got, want)
	}
}

// TestSnapshotOfAnotherWindowRefused: a snapshot written with other
// windows is refused, even when its times fall on this collector's
// boundaries too (5-minute windows restored by a 1-minute collector were
// closed as 1-minute windows; review).
func TestSnapshotOfAnotherWindowRefused(t *testing.T) {
	a := newPart(0, 2, 300e9, 86400e9, 60e9)
	gapSensor(a, int64(1_231_545_600e9)-300e9, int64(1_231_545_600e9), 2)
	s := roundTrip(t, a.snapshot(3))
	if err := newPart(0, 2, 60e9, 86400e9, 60e9).restore(s); err == nil || !strings.Contains(err.Error(), "--window") {
		t.Errorf("restored by a 1-minute collector: %v", err)
	}
}

// TestGapStartsTheClassifierAgain: the fleet window after windows every
// partition skipped is gap_before and the growth classifier starts again
// (a fit over the windows on both sides of a gap takes them for
// neighbours), as in one sensor; a window given up on is not a gap.
func TestGapStartsTheClassifierAgain(t *testing.T) {
	base := int64(1_231_545_600e9)
	const w = int64(300e9)
	var out bytes.Buffer
	wr := output.NewWriter(&out, "fleet")
	g, err := growth.New(growth.DefaultConfig(), time.Duration(w))
	if err != nil {
		t.Fatal(err)
	}
	c := newCombiner(wr, 86400e9, g, 0)
	add := func(i int, from int64) {
		ws := base + int64(i)*w
		c.add(&Partial{Partition: 0, Partitions: 1, Start: ws, End: ws + w, New: 2, Active: 2, SkippedFrom: from})
	}
	for i := range 12 {
		add(i, 0)
	}
	add(48, base+12*w) // four hours skipped
	add(49, 0)
	if err := wr.Flush(); err != nil {
		t.Fatal(err)
	}
	growths := recordsOf(t, out.Bytes(), "growth")
	wins := fleetWindowRecords(t, out.Bytes())
	if len(wins) != 14 || wins[12]["gap_before"] != true || wins[13]["gap_before"] != false || wins[11]["gap_before"] != false {
		t.Fatalf("%d windows; gap_before %v %v %v", len(wins), wins[11]["gap_before"], wins[12]["gap_before"], wins[13]["gap_before"])
	}
	if before, after := growths[11]["windows"], growths[12]["windows"]; before != 12.0 || after != 1.0 {
		t.Errorf("windows in the classifier's horizon: %v before the gap, %v after it (want 12 and 1: started again)", before, after)
	}
}

// TestGivenUpIsNoGap: a window given up on (one partition's partial lost:
// a produce that failed, one over Kafka's record limit) is not a gap in the
// sensors' capture: the window after it is not gap_before and the
// classifier goes on; windows every partition skipped are one.
func TestGivenUpIsNoGap(t *testing.T) {
	base := int64(1_231_545_600e9)
	const w = int64(300e9)
	var out bytes.Buffer
	wr := output.NewWriter(&out, "fleet")
	c := newCombiner(wr, 86400e9, nil, 0)
	give := func(p, i int, from int64) {
		ws := base + int64(i)*w
		c.add(&Partial{Partition: p, Partitions: 2, Start: ws, End: ws + w, New: 1, SkippedFrom: from})
	}
	give(0, 0, 0)
	give(1, 0, 0)
	give(0, 1, 0) // partition 1's partial of window 1 is lost
	give(0, 2, 0)
	give(1, 2, 0)
	give(0, 9, base+3*w) // windows 3 to 8 skipped by both
	give(1, 9, base+3*w)
	if err := wr.Flush(); err != nil {
		t.Fatal(err)
	}
	wins := fleetWindowRecords(t, out.Bytes())
	if len(wins) != 3 || c.incomplete != 1 {
		t.Fatalf("%d windows written, %d given up; want 3 and 1", len(wins), c.incomplete)
	}
	if wins[1]["gap_before"] != false || wins[2]["gap_before"] != true {
		t.Errorf("gap_before after the window given up %v, after the skipped ones %v", wins[1]["gap_before"], wins[2]["gap_before"])
	}
	// One partition skipping what the other gave is no gap either.
	out.Reset()
	c = newCombiner(wr, 86400e9, nil, 0)
	give(0, 0, 0)
	give(1, 0, 0)
	give(0, 1, 0)
	give(1, 2, base+w)
	give(0, 2, 0)
	wr.Flush()
	if wins := fleetWindowRecords(t, out.Bytes()); len(wins) != 3 || wins[1]["gap_before"] != false || wins[2]["gap_before"] != false || len(c.skips[1]) != 0 {
		t.Errorf("windows %d, gap_before %v %v; spans left %v", len(wins), wins[1]["gap_before"], wins[2]["gap_before"], c.skips)
	}
	// One partition skipped a window, the other's partial of it is lost:
	// never held, not written, and no gap (partition 0 did not skip it).
	out.Reset()
	c = newCombiner(wr, 86400e9, nil, 0)
	give(0, 0, 0)
	give(1, 0, 0)
	give(1, 2, base+w)
	give(0, 2, 0)
	wr.Flush()
	if wins := fleetWindowRecords(t, out.Bytes()); len(wins) != 2 || wins[1]["gap_before"] != false {
		t.Errorf("windows %d, gap_before %v", len(wins), wins[len(wins)-1]["gap_before"])
	}
}

// TestProgressMarksAtMost16Windows: a progress record spanning years (no
// sensor's window) marks 16 of the collector's windows, not thousands.
func TestProgressMarksAtMost16Windows(t *testing.T) {
	base := int64(1_231_545_600e9)
	p := newPart(0, 2, 300e9, 86400e9, 60e9)
	old := int64(365 * 86400e9)
	p.add(&rec{kind: kindProgress, sensor: "x", windowStart: old, windowEnd: base})
	p.add(&rec{kind: kindProgress, sensor: "a", windowStart: base, windowEnd: base + 300e9})
	n := 0
	p.close(p.closable(true), func(*Partial) { n++ })
	if n != maxPassed+1 {
		t.Errorf("%d windows closed, want %d and the sensor's own", n, maxPassed)
	}
}

// TestSilentSensorForgotten: a sensor not heard from for a day is
// forgotten: no longer named silent in every partial (made-up ids, or a
// fleet's retired sensors, piled up for good); heard from again, it is
// waited for again.
func TestSilentSensorForgotten(t *testing.T) {
	base := int64(1_231_545_600e9)
	now := int64(0)
	p := newPart(0, 1, 300e9, 86400e9, 60e9)
	p.now = func() int64 { return now }
	prog := func(s string, i int) {
		ws := base + int64(i)*300e9
		p.add(&rec{kind: kindProgress, sensor: s, windowStart: ws, windowEnd: ws + 300e9})
	}
	var got []*Partial
	emit := func(pa *Partial) { got = append(got, pa) }
	prog("a", 0)
	prog("b", 0)
	prog("a", 1)
	now = 120e9 // b silent
	p.close(p.closable(false), emit)
	if last := got[len(got)-1]; len(last.Silent) != 1 {
		t.Fatalf("silent %v, want b", last.Silent)
	}
	now = int64(25 * time.Hour) // a day on
	prog("a", 2)
	p.close(p.closable(false), emit)
	if last := got[len(got)-1]; len(last.Silent) != 0 || len(p.sensors) != 1 {
		t.Errorf("after a day: silent %v, %d sensors known", last.Silent, len(p.sensors))
	}
	prog("b", 3) // back
	prog("a", 3)
	prog("a", 4)
	p.close(p.closable(false), emit)
	if len(p.sensors) != 2 || got[len(got)-1].Start != base+3*300e9 {
		t.Errorf("b back: %d sensors, the last window closed %d (b is waited for at window 4)", len(p.sensors), (got[len(got)-1].Start-base)/300e9)
	}
}

// TestProgressDeliveredTwiceCountsOnce: a sensor's progress record that
// reaches the topic twice (a spool's redelivery, the same capture
// published again: the same run) is counted once; two runs that share a
// window (a restart within it) add up (a review: a part published twice
// doubled the fleet's syn_packets in 68 of 72 windows).
func TestProgressDeliveredTwiceCountsOnce(t *testing.T) {
	base := int64(1_231_545_600e9)
	p := newPart(PartitionOf("a", 1), 1, 300e9, 86400e9, 60e9)
	run1, run2 := base-5e9, base+100e9
	prog := func(run int64, syns uint64) *rec {
		return &rec{kind: kindProgress, sensor: "a", windowStart: base, windowEnd: base + 300e9, syns: syns, active: 2, newSrc: 1, run: run}
	}
	p.add(prog(run1, 10))
	p.add(prog(run1, 10)) // delivered again
	p.add(prog(run2, 7))  // the sensor restarted within the window
	p.add(prog(run2, 7))
	var got []*Partial
	p.close(p.closable(true), func(pa *Partial) { got = append(got, pa) })
	if len(got) != 1 {
		t.Fatalf("%d windows closed", len(got))
	}
	if c := got[0].Sensors["a"]; c.SynPackets != 17 || c.ActiveSources != 4 || c.NewSources != 2 || got[0].SynPackets != 17 {
		t.Errorf("sensor counts %+v, window's syn_packets %d; want 17 SYNs of two runs, each once", c, got[0].SynPackets)
	}
}

// TestSensorFarBehindNotWaitedFor: a sensor heard from but more than a
// lookback behind the others in event time (a clock a day back,
// yesterday's capture published beside today's) is not waited for and is
// named behind, not silent; within a lookback it is waited for (a review: a
// sensor 25 h behind held back every window of the fleet, then was named
// silent). Behind is measured from the median sensor, not the most
// advanced: one sensor a day ahead must not make the others behind (a
// review of the first version: the fleet's windows closed without them).
func TestSensorFarBehindNotWaitedFor(t *testing.T) {
	base := int64(1_231_545_600e9)
	lead := base + 2*86400e9
	for _, c := range []struct {
		name   string
		at     map[string]int64 // each sensor's progress
		upTo   int64            // windows may close up to
		behind []string
	}{
		{"one a day behind", map[string]int64{"a": lead, "b": lead - 25*3600e9, "c": lead}, lead, []string{"b"}},
		{"one an hour behind", map[string]int64{"a": lead, "b": lead - 3600e9, "c": lead}, lead - 3600e9, nil},
		{"one a day ahead", map[string]int64{"a": lead, "b": lead, "c": lead, "z": lead + 25*3600e9}, lead, nil},
		{"two a day apart", map[string]int64{"a": lead, "b": lead - 25*3600e9}, lead - 25*3600e9, nil},
	} {
		p := newPart(0, 1, 300e9, 86400e9, 600e9)
		for id, end := range c.at {
			p.add(&rec{kind: kindProgress, sensor: id, windowStart: end - 300e9, windowEnd: end})
		}
		if upTo := p.closable(false); upTo != c.upTo {
			t.Errorf("%s: windows may close up to %v before the lead, want %v", c.name, time.Duration(lead-upTo), time.Duration(lead-c.upTo))
		}
		var behind []string
		p.close(p.closable(false), func(pa *Partial) {
			if len(pa.Silent) > 0 {
				t.Errorf("%s: %v named silent", c.name, pa.Silent)
			}
			behind = pa.Behind
		})
		if !slices.Equal(behind, c.behind) {
			t.Errorf("%s: the last window closed names %v behind, want %v", c.name, behind, c.behind)
		}
	}
}

// TestRestartWithinAWindowAddsUp: a sensor stopped within a window
// (its last progress record has covered_to) and started again within it:
// a live collector waits for the restart and adds both runs' shares. It
// took the stopped run's progress as the window passed and closed it, and
// the restarted run's records came late (a review: 128 SYNs of 133). A
// sensor that does not come back is waited for restartWait, then silent;
// a snapshot keeps what it waits for.
func TestRestartWithinAWindowAddsUp(t *testing.T) {
	base := int64(1_231_545_600e9)
	now := int64(0)
	p := newPart(PartitionOf("a", 1), 1, 300e9, 86400e9, 600e9)
	p.now = func() int64 { return now }
	p.caughtUp = true
	var got []*Partial
	emit := func(pa *Partial) { got = append(got, pa) }
	run1, run2 := base-3600e9, base+180e9
	p.add(&rec{kind: kindSource, sensor: "a", src: netip.MustParseAddr("192.0.2.1"), ts: base + 10e9, windowStart: base})
	p.add(&rec{kind: kindProgress, sensor: "a", windowStart: base, windowEnd: base + 300e9, coveredTo: base + 120e9,
		syns: 10, active: 1, newSrc: 1, cover: 0.4, run: run1})
	p.close(p.closable(false), emit)
	if len(got) != 0 {
		t.Fatalf("the window closed when the sensor's run ended within it: %+v", got[0])
	}
	// A snapshot now (a collector restarted meanwhile) waits as well.
	q := newPart(PartitionOf("a", 1), 1, 300e9, 86400e9, 600e9)
	q.now = func() int64 { return now }
	q.caughtUp = true
	if err := q.restore(roundTrip(t, p.snapshot(3))); err != nil {
		t.Fatal(err)
	}
	q.close(q.closable(false), emit)
	if len(got) != 0 {
		t.Fatalf("restored from a snapshot, the window closed: %+v", got[0])
	}
	now += 60e9 // the restart, within the window
	if !p.add(&rec{kind: kindSource, sensor: "a", src: netip.MustParseAddr("192.0.2.2"), ts: base + 190e9, windowStart: base}) ||
		!p.add(&rec{kind: kindProgress, sensor: "a", windowStart: base, windowEnd: base + 300e9, syns: 7, active: 1, newSrc: 1, cover: 0.4, run: run2}) {
		t.Fatal("the restarted run's records were late")
	}
	p.close(p.closable(false), emit)
	if len(got) != 1 || got[0].Active != 2 || got[0].SynPackets != 17 || math.Abs(got[0].Coverage-0.8) > 1e-9 {
		t.Fatalf("the window of the restart: %+v; want 2 sources, 17 SYNs, coverage 0.8", got)
	}
	// Stopped again within the next window, and not back: waited for
	// restartWait (600 s here), then silent, and the window closes.
	p.add(&rec{kind: kindProgress, sensor: "a", windowStart: base + 300e9, windowEnd: base + 600e9, coveredTo: base + 400e9,
		syns: 3, active: 1, cover: 1.0 / 3, run: run2})
	p.close(p.closable(false), emit)
	now += 599e9
	p.close(p.closable(false), emit)
	if len(got) != 1 {
		t.Fatalf("closed before restartWait: %+v", got[1])
	}
	now += 2e9
	p.close(p.closable(false), emit)
	if len(got) != 2 || got[1].SynPackets != 3 || !slices.Equal(got[1].Silent, []string{"a"}) {
		t.Errorf("after restartWait: %+v; want the window closed, the sensor silent", got[1:])
	}
}
