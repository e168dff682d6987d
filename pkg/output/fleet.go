package output

import (
	"time"

	"github.com/synscope/synscope/pkg/engine"
)

// SetFleet has the writer add what a fleet collector needs (sensor
// --kafka-brokers): a `sighting` record for each SightingRecord, and a
// `progress` record after every window. They are not written otherwise, so
// a sensor's default output is unchanged.
func (w *Writer) SetFleet(on bool) { w.fleet = on }

// Sighting writes a `sighting` record: a known source's first SYN in a
// refresh period (a new source's is its `source` record).
func (w *Writer) Sighting(r *engine.SightingRecord) {
	if !w.fleet {
		return
	}
	s := &r.Syn
	o := w.begin("sighting", s.Ts)
	o.str("src_ip", s.SrcAddr().String())
	o.str("dst_ip", s.DstAddr().String())
	o.uint("dst_port", uint64(s.DstPort))
	o.time("window_start", r.WindowStart)
	o.time("prev_seen", r.PrevSeen)
	w.finish()
}

// progress writes a `progress` record after the window r: the sensor's
// event time has passed r.End, and every sighting before it is written.
// The Kafka driver sends it to every partition, so each partition's
// collector knows how far each sensor has got there.
func (w *Writer) progress(r *engine.WindowRecord) {
	o := w.begin("progress", r.End)
	o.time("window_start", r.Start)
	o.time("window_end", r.End)
	o.uint("syn_packets", r.SynPackets)
	o.uint("active_sources", r.ActiveSources)
	o.uint("new_sources", r.NewSources)
	o.uint("flood_new_sources", r.FloodSources)
	o.float("coverage", round(r.Exposure))
	o.bool("warmup", r.Warmup)
	o.time("run_first_packet", r.RunFirst)
	if r.CoveredTo != 0 {
		o.time("covered_to", r.CoveredTo)
	}
	w.finish()
}

// FleetWindow is what `sensor collect` adds to a fleet window record: each
// sensor's own counts, the sensors it did not wait for, and the records
// that came too late for their window.
type FleetWindow struct {
	Start, End int64
	Sensors    []FleetSensor
	Silent     []string
	Behind     []string
	Late       uint64
}

// FleetSensor is one sensor's own counts of a window.
type FleetSensor struct {
	ID                                    string
	SynPackets, ActiveSources, NewSources uint64
	FloodSources                          uint64
}

// Fleet writes a `fleet` record after a fleet `window` record.
func (w *Writer) Fleet(f *FleetWindow) {
	o := w.begin("fleet", f.End)
	o.time("window_start", f.Start)
	o.time("window_end", f.End)
	o.openArray("sensors")
	for _, s := range f.Sensors {
		o.open("")
		o.str("id", s.ID)
		o.uint("syn_packets", s.SynPackets)
		o.uint("active_sources", s.ActiveSources)
		o.uint("new_sources", s.NewSources)
		o.uint("flood_new_sources", s.FloodSources)
		o.close()
	}
	o.closeArray()
	o.openArray("silent")
	for _, s := range f.Silent {
		o.arrayStr(s)
	}
	o.closeArray()
	o.openArray("behind")
	for _, s := range f.Behind {
		o.arrayStr(s)
	}
	o.closeArray()
	o.uint("late_records", f.Late)
	w.finish()
}

// CollectStats are a collector's counters.
type CollectStats struct {
	Records, Bad, Late, Partials, Dupes, Windows, Incomplete uint64
}

// CollectStats writes a `collect_stats` record: what a collector read and
// what it skipped. Its time is the wall clock (a collector has no packets).
func (w *Writer) CollectStats(s *CollectStats) {
	o := w.begin("collect_stats", time.Now().UnixNano())
	o.uint("records", s.Records)
	o.uint("bad_records", s.Bad)
	o.uint("late_records", s.Late)
	o.uint("partials_published", s.Partials)
	o.uint("duplicate_partials", s.Dupes)
	o.uint("windows", s.Windows)
	o.uint("incomplete_windows", s.Incomplete)
	w.finish()
}
