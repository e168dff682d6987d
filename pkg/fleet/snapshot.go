package fleet

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// A partition's state is checkpointed in the compacted state topic, so a
// collector assigned the partition resumes from the checkpoint instead of
// replaying the partition from its start. A snapshot is JSON cut into
// chunks under keys "p<partition>/<slot>/<i>", then a manifest under
// "p<partition>" names the slot, the chunks, their checksum and the offset
// the snapshot was taken before. Two slots alternate, so the chunks the
// latest manifest names are never overwritten by a snapshot being written;
// the state topic keeps one partition, so the manifest lands after its
// chunks. A snapshot that does not check out is ignored (the partition is
// replayed).

// snapEvery is how many windows a partition closes between snapshots.
const snapEvery = 12

// chunkMax keeps a chunk under Kafka's default 1 MB record limit.
const chunkMax = 512 << 10

type snapshot struct {
	slot int // the manifest's slot (not in the chunks: loadSnapshot sets it)
	// V is the snapshot's layout: 1 since the windows sensors passed are
	// kept (Passed, SkipFrom, Window); 0 before.
	V        int               `json:"v,omitempty"`
	Window   int64             `json:"window,omitempty"` // the collector's --window, ns
	Offset   int64             `json:"offset"`
	First    int64             `json:"first"`
	Closed   int64             `json:"closed"`
	Late     uint64            `json:"late"`
	Swept    int64             `json:"swept"`
	Last     map[string]int64  `json:"last"`
	Pending  map[int64]snapWin `json:"pending"`
	Progress map[string]int64  `json:"progress"`
	// Ended: the sensors whose run ended within a window (covered_to),
	// with the end of that window (absent from snapshots before it).
	Ended    map[string]int64 `json:"ended,omitempty"`
	Passed   []int64          `json:"passed,omitempty"`    // open windows a sensor passed, in order
	SkipFrom int64            `json:"skip_from,omitempty"` // the first window skipped since the last partial
}

type snapWin struct {
	Srcs    map[string][3]int64 `json:"srcs"` // first, last, prev
	Sensors map[string]Counts   `json:"sensors,omitempty"`
	// Runs: what each run's progress record added to Sensors, so that the
	// same record delivered again after a restart replaces it rather than
	// adding up (absent from snapshots written before it was kept).
	Runs   []snapRun          `json:"runs,omitempty"`
	Covers map[string]float64 `json:"covers,omitempty"` // each sensor's coverage of the window
}

// snapRun is one entry of a window's runs.
type snapRun struct {
	Sensor string `json:"sensor"`
	Run    int64  `json:"run"`
	Start  int64  `json:"start"`
	Counts
	Cover float64 `json:"cover,omitempty"`
}

type manifest struct {
	Slot, Chunks int
	Offset       int64
	Sum          uint32
}

func (p *part) snapshot(offset int64) *snapshot {
	s := &snapshot{V: 1, Window: p.window, Offset: offset, First: p.first, Closed: p.closed, Late: p.late, Swept: p.swept, SkipFrom: p.skipFrom,
		Last: make(map[string]int64, len(p.last)), Pending: map[int64]snapWin{}, Progress: map[string]int64{}}
	for w := range p.passed {
		s.Passed = append(s.Passed, w)
	}
	slices.Sort(s.Passed)
	for a, t := range p.last {
		s.Last[a.String()] = t
	}
	for start, w := range p.pending {
		sw := snapWin{Srcs: make(map[string][3]int64, len(w.srcs)), Sensors: w.sensors, Covers: w.covers}
		for a, v := range w.srcs {
			sw.Srcs[a.String()] = [3]int64{v.first, v.last, v.prev}
		}
		for k, c := range w.runs {
			sw.Runs = append(sw.Runs, snapRun{Sensor: k.sensor, Run: k.run, Start: k.start, Counts: c.counts, Cover: c.cover})
		}
		slices.SortFunc(sw.Runs, func(a, b snapRun) int {
			if a.Sensor != b.Sensor {
				return strings.Compare(a.Sensor, b.Sensor)
			}
			return cmp.Or(cmp.Compare(a.Run, b.Run), cmp.Compare(a.Start, b.Start))
		})
		s.Pending[start] = sw
	}
	for id, st := range p.sensors {
		s.Progress[id] = st.progress
		if st.progress < st.reach {
			if s.Ended == nil {
				s.Ended = map[string]int64{}
			}
			s.Ended[id] = st.reach
		}
	}
	return s
}

// restore sets the partition's state from a snapshot. The sensors are
// heard from now: a silent one is told by the wall clock from here. A
// snapshot whose times a sensor's records cannot carry, or whose windows
// are not this collector's (another --window), is refused: the partition
// is replayed.
func (p *part) restore(s *snapshot) error {
	if err := s.check(p.window); err != nil {
		return err
	}
	p.first, p.closed, p.late, p.swept, p.skipFrom = s.First, s.Closed, s.Late, s.Swept, s.SkipFrom
	p.next, p.saved = s.Offset, s.Closed
	for a, t := range s.Last {
		addr, err := netip.ParseAddr(a)
		if err != nil {
			return err
		}
		p.last[addr] = t
	}
	for _, w := range s.Passed {
		p.passed[w] = true
	}
	if s.V == 0 {
		// Written before the windows sensors passed were kept: every
		// window up to the furthest sensor's progress was to close, as
		// it then would have (at most maxLegacy of them).
		var lead int64
		for _, t := range s.Progress {
			lead = max(lead, t)
		}
		for w, n := max(s.Closed, s.First), 0; w+p.window <= lead && n < maxLegacy; w, n = w+p.window, n+1 {
			p.passed[w] = true
		}
	}
	for start, sw := range s.Pending {
		w := p.buf(start)
		w.sensors = sw.Sensors
		if len(sw.Sensors) > 0 {
			w.covers = map[string]float64{}
		}
		for s := range sw.Sensors {
			// A snapshot before coverage was kept: the sensors counted
			// covered the window, as they then did.
			w.covers[s] = 1
			if v, ok := sw.Covers[s]; ok && v >= 0 && v <= float64(len(sw.Runs)+1) { // a sum over runs, each at most 1
				w.covers[s] = v
			}
		}
		for _, r := range sw.Runs {
			if w.runs == nil {
				w.runs = map[runWindow]runShare{}
			}
			w.runs[runWindow{r.Sensor, r.Run, r.Start}] = runShare{r.Counts, r.Cover}
		}
		for a, v := range sw.Srcs {
			addr, err := netip.ParseAddr(a)
			if err != nil {
				return err
			}
			w.srcs[addr] = sight{first: v[0], last: v[1], prev: v[2]}
		}
	}
	now := p.now()
	for id, prog := range s.Progress {
		st := &sensorState{progress: prog, reach: prog, heard: now}
		if r, ok := s.Ended[id]; ok && r > prog {
			st.reach = r
		}
		p.sensors[id] = st
	}
	return nil
}

// maxLegacy bounds the windows a snapshot of the first layout marks
// passed on restore.
const maxLegacy = 1 << 16

// check says whether the snapshot's times are ones records carry (1970 to
// 2261) and its windows the collector's of window ns.
func (s *snapshot) check(window int64) error {
	hi := maxTime.UnixNano()
	bad := func(what string, t int64) error { return fmt.Errorf("snapshot: %s %d out of range", what, t) }
	aligned := func(what string, t int64) error {
		if t < 0 || t >= hi {
			return bad(what, t)
		}
		if t%window != 0 {
			return fmt.Errorf("snapshot: %s %d is not on a %v window's boundary (was --window changed?)", what, t, time.Duration(window))
		}
		return nil
	}
	if s.Offset < 0 {
		return bad("offset", s.Offset)
	}
	if s.V < 0 || s.V > 1 {
		return fmt.Errorf("snapshot: layout %d, not one this collector reads (0 or 1)", s.V)
	}
	if s.V > 0 && s.Window != window {
		return fmt.Errorf("snapshot: written with %v windows, not %v (was --window changed?)", time.Duration(s.Window), time.Duration(window))
	}
	for what, t := range map[string]int64{"first window": s.First, "closed": s.Closed, "swept": s.Swept, "skipped window": s.SkipFrom} {
		if err := aligned(what, t); err != nil {
			return err
		}
	}
	for _, t := range s.Last {
		if t < 0 || t >= hi {
			return bad("last SYN", t)
		}
	}
	for _, t := range s.Progress {
		if t < 0 || t >= hi {
			return bad("progress", t)
		}
	}
	for _, t := range s.Ended {
		if t < 0 || t >= hi {
			return bad("ended window", t)
		}
	}
	for _, w := range s.Passed {
		if err := aligned("passed window", w); err != nil {
			return err
		}
	}
	for start, sw := range s.Pending {
		if err := aligned("open window", start); err != nil {
			return err
		}
		for _, v := range sw.Srcs {
			for _, t := range v {
				if t < 0 || t >= hi {
					return bad("sighting", t)
				}
			}
		}
	}
	return nil
}

// saveSnapshot writes the partition's state as of offset (the next record
// to read) to the state topic.
func (c *Collector) saveSnapshot(pt *part, offset int64) {
	b, err := json.Marshal(pt.snapshot(offset))
	if err != nil {
		c.log("snapshot not saved", "partition", pt.id, "error", err.Error())
		return
	}
	pt.slot ^= 1
	m := manifest{Slot: pt.slot, Offset: offset, Sum: crc32.ChecksumIEEE(b)}
	topic := stateTopic(c.cfg.Kafka.Topic)
	for i := 0; i*chunkMax < len(b) || i == 0; i++ {
		chunk := b[i*chunkMax : min(len(b), (i+1)*chunkMax)]
		c.produceState(topic, fmt.Sprintf("p%d/%d/%d", pt.id, pt.slot, i), chunk)
		m.Chunks++
	}
	mb, _ := json.Marshal(m)
	c.produceState(topic, "p"+strconv.Itoa(pt.id), mb)
	pt.saved = pt.closed
}

func (c *Collector) produceState(topic, key string, v []byte) {
	c.cl.Produce(context.Background(), &kgo.Record{Topic: topic, Key: []byte(key), Value: v}, func(_ *kgo.Record, err error) {
		if err != nil {
			c.log("checkpoint not saved", "key", key, "error", err.Error())
		}
	})
}

// loadSnapshot finds partition id's latest snapshot in the state read at
// assignment; nil when there is none or it does not check out.
func loadSnapshot(state map[string][]byte, id int) (*snapshot, error) {
	mb, ok := state["p"+strconv.Itoa(id)]
	if !ok {
		return nil, nil
	}
	var m manifest
	if err := json.Unmarshal(mb, &m); err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	var b []byte
	for i := range m.Chunks {
		chunk, ok := state[fmt.Sprintf("p%d/%d/%d", id, m.Slot, i)]
		if !ok {
			return nil, fmt.Errorf("chunk %d of %d missing", i, m.Chunks)
		}
		b = append(b, chunk...)
	}
	if crc32.ChecksumIEEE(b) != m.Sum {
		return nil, fmt.Errorf("checksum mismatch")
	}
	var s snapshot
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, err
	}
	if s.Offset != m.Offset {
		return nil, fmt.Errorf("offset %d, manifest %d", s.Offset, m.Offset)
	}
	s.slot = m.Slot
	return &s, nil
}
