package fleet

import (
	"bytes"
	"encoding/json"
	"hash/crc32"
	"net/netip"
	"testing"
	"time"

	"github.com/synscope/synscope/pkg/output"
)

// snapshotSeed is a partition's snapshot in the middle of a capture: a
// window closed, two open (one only passed), a gap skipped.
func snapshotSeed(f *testing.F) []byte {
	base := int64(1_231_545_600e9)
	p := newPart(1, 2, 300e9, 86400e9, 60e9)
	gapSensor(p, base-86400e9*2, base, 3)
	p.close(base+300e9, func(*Partial) {})
	b, err := json.Marshal(p.snapshot(99))
	if err != nil {
		f.Fatal(err)
	}
	return b
}

// FuzzSnapshot: a snapshot in the state topic (compacted, written by
// collectors of any version, or by anyone who can produce to it) never
// crashes or stalls the collector restoring it: what restores closes at
// most the windows it names and the records after it name, one partial
// each, and a snapshot that does not check out is refused with an error.
func FuzzSnapshot(f *testing.F) {
	f.Add(snapshotSeed(f))
	f.Add([]byte(`{"offset":5,"first":1231545600000000000,"closed":1231545900000000000,"progress":{"a":1231546800000000000}}`)) // the first layout
	f.Add([]byte(`{"v":1,"first":1,"closed":-300000000000,"passed":[9223372036854775807]}`))
	f.Add([]byte(`{"v":1,"pending":{"1231545600000000000":{"srcs":{"10.0.0.1":[-1,0,9223372036854775807]}}}}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, _ := json.Marshal(manifest{Chunks: 1, Offset: 0, Sum: crc32.ChecksumIEEE(b)})
		state := map[string][]byte{"p1": m, "p1/0/0": b}
		var off struct {
			Offset int64 `json:"offset"`
		}
		if json.Unmarshal(b, &off) == nil {
			m, _ = json.Marshal(manifest{Chunks: 1, Offset: off.Offset, Sum: crc32.ChecksumIEEE(b)})
			state["p1"] = m
		}
		s, err := loadSnapshot(state, 1)
		if err != nil || s == nil {
			return
		}
		p := newPart(1, 2, 300e9, 86400e9, 60e9)
		p.now = func() int64 { return 0 }
		if err := p.restore(s); err != nil {
			return
		}
		// A sensor's next window, as the records after the snapshot bring.
		ws := int64(1_231_545_600e9) + 3600e9
		p.add(&rec{kind: kindSighting, sensor: "a", src: netip.AddrFrom4([4]byte{10, 0, 0, 1}), ts: ws, windowStart: ws})
		p.add(&rec{kind: kindProgress, sensor: "a", windowStart: ws, windowEnd: ws + 300e9})
		named := len(p.namedFrom(0))
		n := 0
		p.close(p.closable(true), func(pa *Partial) {
			if n++; n > named {
				t.Fatalf("more partials than the %d windows named", named)
			}
			if pa.End-pa.Start != p.window || pa.Start%p.window != 0 {
				t.Fatalf("a partial of %d to %d", pa.Start, pa.End)
			}
		})
	})
}

// FuzzPartials: whatever the partials topic holds, the combiner neither
// crashes nor writes a window twice or out of order.
func FuzzPartials(f *testing.F) {
	f.Add([]byte(`{"partition":0,"partitions":2,"window_start":1231545600000000000,"window_end":1231545900000000000,"active_sources":3,"new_sources":2,"syn_packets":9,"flood_new_sources":0,"late_records":0}
{"partition":1,"partitions":2,"window_start":1231545600000000000,"window_end":1231545900000000000,"active_sources":1,"new_sources":1,"syn_packets":0,"flood_new_sources":0,"late_records":0,"sensors":{"a":{"syn_packets":9,"active_sources":4,"new_sources":3,"flood_new_sources":0}}}
{"partition":0,"partitions":2,"window_start":1231546200000000000,"window_end":1231546500000000000,"active_sources":0,"new_sources":0,"syn_packets":0,"flood_new_sources":0,"late_records":0,"skipped_from":1231545900000000000}`))
	f.Add([]byte(`{"partition":0,"partitions":2,"window_start":-5,"window_end":9223372036854775807,"new_sources":18446744073709551615,"flood_new_sources":1}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var out bytes.Buffer
		w := output.NewWriter(&out, "fleet")
		c := newCombiner(w, 86400e9, nil, 0)
		for _, line := range bytes.Split(b, []byte("\n")) {
			var pa Partial
			if json.Unmarshal(line, &pa) != nil || !pa.wellFormed(2) {
				continue
			}
			c.add(&pa)
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		var last time.Time
		for _, line := range bytes.Split(bytes.TrimSpace(out.Bytes()), []byte("\n")) {
			var r struct {
				Type  string    `json:"event_type"`
				Start time.Time `json:"window_start"`
			}
			if len(line) == 0 {
				continue
			}
			if err := json.Unmarshal(line, &r); err != nil {
				t.Fatalf("a record the writer wrote does not read back: %v: %s", err, line)
			}
			if r.Type != "window" {
				continue
			}
			if !last.IsZero() && !r.Start.After(last) {
				t.Fatalf("window %v written after %v", r.Start, last)
			}
			last = r.Start
		}
		for s := range c.wins {
			if c.next != 0 && s < c.next {
				t.Fatalf("window %d held behind the next to write, %d", s, c.next)
			}
		}
	})
}

// TestSnapshotKeepsRuns: a sensor's progress record delivered again after
// the collector restarted from a snapshot (a spool's redelivery) replaces
// what it added before, as it does in a collector that went on. The
// snapshot did not keep which run's record had added what, so the restored
// partition added it a second time: the window's counts doubled.
func TestSnapshotKeepsRuns(t *testing.T) {
	base := int64(1_231_545_600e9)
	id := PartitionOf("a", 2)
	r := rec{kind: kindProgress, sensor: "a", run: 77, windowStart: base, windowEnd: base + 300e9, syns: 5, active: 3, newSrc: 2, flood: 1}
	a := newPart(id, 2, 300e9, 86400e9, 60e9)
	first := r
	a.add(&first)
	b := newPart(id, 2, 300e9, 86400e9, 60e9)
	if err := b.restore(roundTrip(t, a.snapshot(7))); err != nil {
		t.Fatal(err)
	}
	for name, p := range map[string]*part{"went on": a, "restored": b} {
		again := r
		p.add(&again)
		if got, want := p.pending[base].sensors["a"], (Counts{SynPackets: 5, ActiveSources: 3, NewSources: 2, FloodSources: 1}); got != want {
			t.Errorf("%s: the window's counts of the sensor after its record came again: %+v, want %+v", name, got, want)
		}
	}
}
