package output

import "github.com/synscope/synscope/pkg/engine"

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
	o.bool("warmup", r.Warmup)
	w.finish()
}
