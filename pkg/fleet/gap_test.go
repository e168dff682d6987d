package fleet

import (
	"bytes"
	"encoding/json"
	"hash/crc32"
	"net/netip"
	"slices"
	"testing"

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
			if got[0].Start != early || got[0].Gap || !got[1].Gap || got[1].Start != base || got[2].Gap {
				t.Errorf("partition %d: starts %d, %d; gap flags %v %v %v", id, got[0].Start, got[1].Start, got[0].Gap, got[1].Gap, got[2].Gap)
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
		var wins []map[string]any
		for _, line := range bytes.Split(bytes.TrimSpace(out.Bytes()), []byte("\n")) {
			var m map[string]any
			if err := json.Unmarshal(line, &m); err != nil {
				t.Fatal(err)
			}
			if m["event_type"] == "window" {
				wins = append(wins, m)
			}
		}
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
	gapSensor(a, early, base, 4) // nothing closed yet: every window is in the snapshot
	b := newPart(id, 2, 300e9, 86400e9, 60e9)
	if err := b.restore(roundTrip(t, a.snapshot(7))); err != nil {
		t.Fatal(err)
	}
	var pa, pb []int64
	a.close(a.closable(true), func(p *Partial) { pa = append(pa, p.Start) })
	b.close(b.closable(true), func(p *Partial) { pb = append(pb, p.Start) })
	if len(pa) != 5 || !slices.Equal(pa, pb) {
		t.Errorf("windows closed: %v went on, %v restored; want 5", pa, pb)
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
