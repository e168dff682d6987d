package fleet

import (
	"bytes"
	"fmt"
	"math"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/synscope/synscope/pkg/output"
)

// FuzzParse: no record on the topic crashes the collector; what parses
// has the fields the collector relies on.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		`{"event_type":"sighting","ts":"2009-01-10T00:22:28.260306844Z","sensor":"s1","src_ip":"62.128.97.143","dst_ip":"198.18.226.180","dst_port":445,"window_start":"2009-01-10T00:20:00.000000000Z","prev_seen":"2009-01-10T00:19:57.375000000Z"}`,
		`{"event_type":"progress","ts":"2009-01-10T02:30:00.000000000Z","sensor":"s1","window_start":"2009-01-10T02:25:00.000000000Z","window_end":"2009-01-10T02:30:00.000000000Z","syn_packets":43,"active_sources":12,"new_sources":1,"warmup":true}`,
		`{"event_type":"progress","ts":"2009-01-10T02:30:00.000000000Z","sensor":"s1","window_start":"2009-01-10T02:25:00.000000000Z","window_end":"2009-01-10T02:30:00.000000000Z","syn_packets":43,"active_sources":12,"new_sources":1,"flood_new_sources":0,"coverage":0.933857,"warmup":true,"run_first_packet":"2009-01-10T00:00:19.843033376Z"}`,
		`{"event_type":"source","ts":"2009-01-10T00:22:28Z","sensor":"s1","src_ip":"2001:db8::1","window_start":"2009-01-10T00:20:00Z","returning":true,"prev_last_seen":"2009-01-08T00:00:00Z"}`,
		`{"event_type":"window"}`, `{}`, `{"event_type":"source"`, "", "\x00",
	} {
		f.Add([]byte(s))
	}
	f.Add([]byte("1.2.3.4"))
	f.Add([]byte("2009-01-10T00:22:28.260306844Z"))
	f.Fuzz(func(t *testing.T, b []byte) {
		// The hand-written readers agree with the library's.
		if a, err := parseAddr(b); err == nil {
			if w, werr := netip.ParseAddr(string(b)); werr != nil || w != a {
				t.Fatalf("parseAddr(%q) = %v, netip says %v %v", b, a, w, werr)
			}
		} else if w, werr := netip.ParseAddr(string(b)); werr == nil && w.Is4() && len(b) <= 15 {
			t.Fatalf("parseAddr(%q) refused what netip reads as %v", b, w)
		}
		if ns, ok := fixedTime(b); ok {
			if w, err := time.Parse(time.RFC3339Nano, string(b)); err != nil || w.UnixNano() != ns {
				t.Fatalf("fixedTime(%q) = %d, time.Parse says %v %v", b, ns, w, err)
			}
		}
		var r rec
		if err := parse(b, &r, map[string]string{}); err != nil || r.kind == kindOther {
			return
		}
		if r.sensor == "" {
			t.Fatalf("a record without a sensor parsed: %q", b)
		}
		if r.kind == kindProgress && r.windowEnd <= r.windowStart {
			t.Fatalf("a progress record ending before it starts parsed: %q", b)
		}
		if r.kind == kindProgress && !(r.cover >= 0 && r.cover <= 1) {
			t.Fatalf("a progress record with coverage %v parsed: %q", r.cover, b)
		}
		if r.kind != kindProgress && !r.src.IsValid() {
			t.Fatalf("a source record without a source parsed: %q", b)
		}
	})
}

// A sensor that stops while the others go on is not waited for beyond
// --max-lag: the windows close without it and say so; when it is heard from
// again it is waited for again.
func TestSilentSensorReported(t *testing.T) {
	now := int64(0)
	p := newPart(0, 1, 300e9, 86400e9, 60e9)
	p.now = func() int64 { return now }
	prog := func(s string, end int64) {
		r := rec{kind: kindProgress, sensor: s, windowStart: end - 300e9, windowEnd: end}
		p.add(&r)
	}
	var got []*Partial
	emit := func(pa *Partial) { got = append(got, pa) }
	base := int64(1_231_545_600e9) // 2009-01-10, a window boundary
	prog("a", base+300e9)
	prog("b", base+300e9)
	p.close(p.closable(false), emit)
	now = 30e9
	prog("a", base+600e9)
	prog("a", base+900e9)
	p.close(p.closable(false), emit)
	if len(got) != 1 {
		t.Fatalf("%d windows closed while b was only 30 s quiet", len(got))
	}
	now = 120e9 // b not heard from for 2 minutes: silent
	p.close(p.closable(false), emit)
	if len(got) != 3 || len(got[2].Silent) != 1 || got[2].Silent[0] != "b" {
		t.Fatalf("windows %d, silent %v", len(got), got[len(got)-1].Silent)
	}
	// b comes back, late: its progress for a closed window counts as late.
	if p.add(&rec{kind: kindProgress, sensor: "b", windowStart: base + 300e9, windowEnd: base + 600e9}) {
		t.Errorf("a record for a closed window was taken")
	}
	prog("b", base+1200e9)
	prog("a", base+1200e9)
	p.close(p.closable(false), emit)
	if last := got[len(got)-1]; len(last.Silent) != 0 || last.Late != 1 {
		t.Errorf("after b came back: silent %v, late %d", last.Silent, last.Late)
	}
}

// A partition restored from its snapshot closes the next windows exactly
// as the partition that went on would.
func TestSnapshotRoundTrip(t *testing.T) {
	base := int64(1_231_545_600e9)
	feed := func(p *part, from, to int) {
		for w := from; w < to; w++ {
			ws := base + int64(w)*300e9
			for i := range 5 {
				src := netip.AddrFrom4([4]byte{10, 0, byte(w % 3), byte(i)})
				p.add(&rec{kind: kindSighting, sensor: "a", src: src, ts: ws + int64(i)*1e9, windowStart: ws, prev: ws - 400e9})
			}
			p.add(&rec{kind: kindProgress, sensor: "a", windowStart: ws, windowEnd: ws + 300e9, syns: 5})
		}
	}
	run := func(p *part) []Partial {
		var out []Partial
		p.close(p.closable(false), func(pa *Partial) { out = append(out, *pa) })
		return out
	}
	a := newPart(0, 1, 300e9, 3600e9, 60e9)
	feed(a, 0, 10)
	run(a)
	feed(a, 10, 11) // a window in progress goes into the snapshot too
	s := a.snapshot(42)
	b := newPart(0, 1, 300e9, 3600e9, 60e9)
	if err := b.restore(s); err != nil || b.next != 42 {
		t.Fatal(err, b.next)
	}
	feed(a, 11, 20)
	feed(b, 11, 20)
	pa, pb := run(a), run(b)
	if len(pa) != 10 || len(pa) != len(pb) {
		t.Fatalf("%d and %d windows", len(pa), len(pb))
	}
	for i := range pa {
		if pa[i].Active != pb[i].Active || pa[i].New != pb[i].New || pa[i].SynPackets != pb[i].SynPackets {
			t.Errorf("window %d: %+v went on, %+v restored", i, pa[i], pb[i])
		}
	}
}

// TestNumBounds: a count longer than a uint64 holds is refused, not
// wrapped (20 digits of 9 read as a small number before).
func TestNumBounds(t *testing.T) {
	for in, want := range map[string]uint64{`"n":12345,`: 12345, `"n":0}`: 0, `"n":1844674407370955160,`: 1844674407370955160} {
		if got, ok := num([]byte(in), `"n":`); !ok || got != want {
			t.Errorf("%s: %d %v, want %d", in, got, ok, want)
		}
	}
	for _, in := range []string{`"n":99999999999999999999,`, `"n":184467440737095516150}`, `"n":x`} {
		if got, ok := num([]byte(in), `"n":`); ok {
			t.Errorf("%s: read %d", in, got)
		}
	}
}

// TestProgressCoverage: a progress record's coverage is a fraction of a
// window; one written before it was kept covered the whole window; any
// other value is not a sensor's record.
func TestProgressCoverage(t *testing.T) {
	rec1 := `{"event_type":"progress","sensor":"s1","window_start":"2009-01-10T02:25:00Z","window_end":"2009-01-10T02:30:00Z","syn_packets":4,"active_sources":2,"new_sources":1`
	for tail, want := range map[string]float64{`}`: 1, `,"coverage":0.933857}`: 0.933857, `,"coverage":1,"warmup":false}`: 1, `,"coverage":2.5e-05}`: 2.5e-05, `,"coverage":0}`: 0} {
		var r rec
		if err := parse([]byte(rec1+tail), &r, map[string]string{}); err != nil || r.cover != want {
			t.Errorf("%s: coverage %v, %v; want %v", tail, r.cover, err, want)
		}
	}
	for _, tail := range []string{`,"coverage":1.5}`, `,"coverage":-0.5}`, `,"coverage":NaN}`, `,"coverage":"1"}`, `,"coverage":}`} {
		var r rec
		if err := parse([]byte(rec1+tail), &r, map[string]string{}); err == nil {
			t.Errorf("%s: parsed, coverage %v", tail, r.cover)
		}
	}
}

// TestPartialOfAnotherPartitionRefused: a partial read from the partials
// topic must name one of the topic's partitions (one naming partition 7 of
// 2 was counted as a share, the window written without partition 1's
// counts, and the real partial then dropped as a duplicate).
func TestPartialOfAnotherPartitionRefused(t *testing.T) {
	for _, c := range []struct {
		pa   Partial
		want bool
	}{
		{Partial{Partition: 1, Partitions: 2, Start: 1, End: 2}, true},
		{Partial{Partition: 7, Partitions: 2, Start: 1, End: 2}, false},
		{Partial{Partition: -1, Partitions: 2, Start: 1, End: 2}, false},
		{Partial{Partition: 0, Partitions: 3, Start: 1, End: 2}, false}, // the topic has 2
		{Partial{Partition: 0, Partitions: 2, Start: 2, End: 2}, false},
	} {
		if got := c.pa.wellFormed(2); got != c.want {
			t.Errorf("%+v: well formed %v, want %v", c.pa, got, c.want)
		}
	}
}

// TestTimesOutsideNanosecondsRefused: a record time int64 nanoseconds since
// 1970 cannot hold is a bad record (year 0000 read as a time in 1754,
// wrapped; review).
func TestTimesOutsideNanosecondsRefused(t *testing.T) {
	for s, want := range map[string]bool{
		"0000-01-10T00:00:00.000000000Z": false,
		"1969-12-31T23:59:59.000000000Z": false,
		"2262-01-01T00:00:00.000000000Z": false,
		"1970-01-01T00:00:00.000000000Z": true,
		"2261-12-31T23:59:59.999999999Z": true,
	} {
		if _, ok := fixedTime([]byte(s)); ok != want {
			t.Errorf("%s: read %v, want %v", s, ok, want)
		}
		// The general path (another form of the same time) too.
		other := strings.Replace(s, ".000000000Z", "Z", 1)
		if _, err := tm([]byte(`"t":"`+other+`"`), `"t":"`); (err == nil) != want {
			t.Errorf("%s by time.Parse: %v, want read %v", other, err, want)
		}
	}
}

// TestRecordAfterItsProduceTime: a record whose times run past the time
// Kafka stamped it, by more than a sensor clock's error, is not a sensor's
// (one window_end in 2100 made the collector close every window up to it).
func TestRecordAfterItsProduceTime(t *testing.T) {
	produced := time.Date(2026, 12, 6, 8, 0, 0, 0, time.UTC).UnixNano()
	var r rec
	if err := parse([]byte(`{"event_type":"progress","ts":"2100-01-01T00:05:00.000000000Z","sensor":"x","window_start":"2100-01-01T00:00:00.000000000Z","window_end":"2100-01-01T00:05:00.000000000Z","syn_packets":1,"active_sources":1,"new_sources":1,"flood_new_sources":0,"warmup":false}`), &r, map[string]string{}); err != nil {
		t.Fatal(err)
	}
	if !r.after(produced + produceSkew) {
		t.Error("a window of 2100 produced in 2026 taken")
	}
	if err := parse([]byte(`{"event_type":"progress","ts":"2009-01-10T00:05:00.000000000Z","sensor":"x","window_start":"2009-01-10T00:00:00.000000000Z","window_end":"2009-01-10T00:05:00.000000000Z","syn_packets":1,"active_sources":1,"new_sources":1,"flood_new_sources":0,"warmup":false}`), &r, map[string]string{}); err != nil {
		t.Fatal(err)
	}
	if r.after(produced + produceSkew) {
		t.Error("a capture of 2009 replayed in 2026 refused")
	}
}

// TestWindowCoverage: a window's coverage is that of the sensor that
// covered most of it; a sensor restarted within the window covered it in
// two runs, which add up (each alone would halve the window's exposure and
// double its rate), and the same run's record again replaces its share.
func TestWindowCoverage(t *testing.T) {
	base := int64(1_231_545_600e9)
	cases := []struct {
		name string
		recs []rec
		want float64
	}{
		{"one sensor, its capture's first window", []rec{{sensor: "a", run: 1, cover: 0.4}}, 0.4},
		{"two sensors", []rec{{sensor: "a", run: 1, cover: 0.4}, {sensor: "b", run: 5, cover: 0.7}}, 0.7},
		{"a sensor restarted within the window", []rec{{sensor: "a", run: 1, cover: 0.4}, {sensor: "a", run: 2, cover: 0.6}}, 1},
		{"and its second run's record again", []rec{{sensor: "a", run: 1, cover: 0.4}, {sensor: "a", run: 2, cover: 0.5}, {sensor: "a", run: 2, cover: 0.5}}, 0.9},
		{"records without a run", []rec{{sensor: "a", cover: 0.4}, {sensor: "a", cover: 0.3}}, 0.4},
	}
	for _, c := range cases {
		var got []float64
		for p := range 2 {
			pt := newPart(p, 2, 300e9, 86400e9, 60e9)
			for _, r := range c.recs {
				r.kind, r.windowStart, r.windowEnd, r.syns, r.active, r.newSrc = kindProgress, base, base+300e9, 1, 1, 1
				pt.add(&r)
			}
			pt.close(pt.closable(true), func(pa *Partial) { got = append(got, pa.Coverage) })
		}
		if len(got) != 2 || max(got[0], got[1]) != c.want {
			t.Errorf("%s: the partitions' coverage %v, want %v at the most", c.name, got, c.want)
		}
	}
}

// TestCoverageAcrossVersions: a partial written by a collector before
// coverage was kept (none, but a sensor's counts) covered its window
// whole, as it then did, beside a newer partition's partial; a snapshot of
// that layout restores the sensors it counted as whole too; a sensor whose
// windows are shorter than the collector's covers its share of each.
func TestCoverageAcrossVersions(t *testing.T) {
	const win = int64(300e9)
	const base = int64(1_231_545_600e9)
	var out bytes.Buffer
	w := output.NewWriter(&out, "fleet")
	c := newCombiner(w, int64(86400e9), nil, 0)
	c.add(&Partial{Partition: 0, Partitions: 2, Start: base, End: base + win, New: 1, Active: 1, Sensors: map[string]Counts{"a": {1, 1, 1, 0}}})
	c.add(&Partial{Partition: 1, Partitions: 2, Start: base, End: base + win, New: 1, Active: 1, Coverage: 0.3, Sensors: map[string]Counts{"b": {1, 1, 1, 0}}})
	w.Flush()
	if !bytes.Contains(out.Bytes(), []byte(`"coverage":1,`)) {
		t.Errorf("an older collector's partial beside one covering 0.3: %s", out.Bytes())
	}

	id := PartitionOf("a", 2)
	other := "b"
	for i := 0; PartitionOf(other, 2) != id; i++ {
		other = fmt.Sprintf("b%d", i)
	}
	p := newPart(id, 2, win, 86400e9, 60e9)
	old := &snapshot{V: 1, Window: win, First: base, Pending: map[int64]snapWin{base: {Srcs: map[string][3]int64{}, Sensors: map[string]Counts{"a": {1, 1, 1, 0}}}},
		Progress: map[string]int64{"a": base + win}, Last: map[string]int64{}}
	if err := p.restore(roundTrip(t, old)); err != nil {
		t.Fatal(err)
	}
	p.add(&rec{kind: kindProgress, sensor: other, run: 3, windowStart: base, windowEnd: base + win, syns: 1, active: 1, newSrc: 1, cover: 0.3})
	var got []float64
	p.close(p.closable(true), func(pa *Partial) { got = append(got, pa.Coverage) })
	if len(got) != 1 || got[0] != 1 {
		t.Errorf("restored from a snapshot without coverage, the window's coverage %v, want 1", got)
	}

	q := newPart(id, 2, win, 86400e9, 60e9)
	for m := int64(0); m < 3; m++ { // one-minute windows: three of the five
		s := base + m*60e9
		q.add(&rec{kind: kindProgress, sensor: "a", run: 3, windowStart: s, windowEnd: s + 60e9, syns: 1, active: 1, newSrc: 1, cover: 1})
	}
	got = got[:0]
	q.close(base+win, func(pa *Partial) { got = append(got, pa.Coverage) })
	if len(got) != 1 || math.Abs(got[0]-0.6) > 1e-9 {
		t.Errorf("a sensor with one-minute windows that covered three of five: coverage %v, want 0.6", got)
	}
}

// TestLongSensorIDIsBad: a record whose sensor id is longer than any
// sensor may have (output.MaxSensorID bytes, escaped at most six a byte)
// is bad, and not remembered: 400 records with ids of 250 KB held 100 MB
// of the collector's memory for good (a review).
func TestLongSensorIDIsBad(t *testing.T) {
	names := map[string]string{}
	var r rec
	ok := strings.Repeat("g", output.MaxSensorID)
	if err := parse([]byte(progress(ok, time.Unix(1e9, 0))), &r, names); err != nil || r.sensor != ok {
		t.Errorf("an id of %d bytes: %v", len(ok), err)
	}
	long := strings.Repeat("g", 6*output.MaxSensorID+1)
	if err := parse([]byte(progress(long, time.Unix(1e9, 0))), &r, names); err == nil {
		t.Errorf("an id of %d bytes was taken", len(long))
	}
	if _, kept := names[long]; kept {
		t.Error("the long id was remembered")
	}
}
