package output

import (
	"time"

	"github.com/synscope/synscope/pkg/capture"
	"github.com/synscope/synscope/pkg/decode"
	"github.com/synscope/synscope/pkg/engine"
	"github.com/synscope/synscope/pkg/sources"
)

// Stats is what a `stats` record reports: every packet is accounted for by
// exactly one decode result, and every loss has a named cause.
type Stats struct {
	Ts           int64
	Final        bool
	Results      [decode.NumResults]uint64
	Engine       engine.Counters
	RingFull     uint64
	KernelDrops  uint64
	InputsFailed uint64
	Capture      *capture.Stats // a live source's own counters; nil offline
	Drivers      []DriverCounts // counted drivers' (Kafka); none by default
}

// DecodeErrors is the frames the decoder could not walk.
func (s *Stats) DecodeErrors() uint64 {
	var n uint64
	for r := decode.Result(0); r < decode.NumResults; r++ {
		if r.IsError() {
			n += s.Results[r]
		}
	}
	return n
}

// stamp is a record's time: packet time, or, before the clock has started
// (a run that read no packet), the idle time: the one SetIdleTime gave (an
// offline run: its newest input's modification time, so a rerun writes the
// same bytes), else the wall clock when first needed; 1970-01-01 would be a
// lie. Every such record of a run has the same.
func (w *Writer) stamp(ts int64, c *engine.Counters) int64 {
	if c.StartedAnything {
		return ts
	}
	if w.idle == 0 {
		w.idle = time.Now().UnixNano()
	}
	return w.idle
}

// SetIdleTime sets the time stamped on the stats and summary records of a
// run that reads no packet (see stamp); 0 leaves the wall clock.
func (w *Writer) SetIdleTime(ns int64) { w.idle = ns }

// Stats writes a `stats` record. It fills s.Drivers from the counted
// drivers, so the caller (metrics) sees the same figures.
func (w *Writer) Stats(s *Stats) {
	if len(w.counted) > 0 {
		s.Drivers = s.Drivers[:0]
		for _, c := range w.counted {
			s.Drivers = append(s.Drivers, c.DriverCounts())
		}
	}
	o := w.begin("stats", w.stamp(s.Ts, &s.Engine))
	o.bool("final", s.Final)
	o.uint("packets", s.Engine.Packets)
	o.uint("bytes", s.Engine.Bytes)
	o.uint("syn_matched", s.Results[decode.Matched])
	o.uint("decode_errors", s.DecodeErrors())
	o.open("frames")
	for r := decode.Result(0); r < decode.NumResults; r++ {
		o.uint(r.String(), s.Results[r])
	}
	o.close()
	o.open("drops")
	s.EachDrop(o.uint)
	for i := range s.Drivers {
		o.uint(s.Drivers[i].Name, s.Drivers[i].Lost())
	}
	o.close()
	o.uint("out_of_order", s.Engine.OutOfOrder)
	o.uint("time_jumps", s.Engine.TimeJumps)
	o.uint("gaps", s.Engine.Gaps)
	o.uint("sources_tracked", s.Engine.TrackedSources)
	o.uint("sources_expired", s.Engine.Expired)
	o.uint("sources_remembered", s.Engine.Remembered)
	o.uint("inputs_failed", s.InputsFailed)
	if s.Capture != nil {
		o.open("capture")
		o.uint("packets", s.Capture.Packets)
		o.uint("matched", s.Capture.Matched)
		o.uint("kernel_drops", s.Capture.KernelDrops)
		o.uint("ring_full", s.Capture.RingFull)
		o.uint("parse_errors", s.Capture.ParseErrors)
		o.close()
	}
	for i := range s.Drivers {
		d := &s.Drivers[i]
		o.open(d.Name)
		o.uint("produced", d.Produced)
		o.uint("delivered", d.Delivered)
		o.uint("failed", d.Failed)
		o.uint("spooled", d.Spooled)
		o.uint("dropped", d.Dropped)
		o.uint("spool_corrupt", d.Corrupt)
		o.int("buffered_bytes", d.Buffered)
		o.int("spool_bytes", d.SpoolBytes)
		o.close()
	}
	w.finish()
}

// Input describes one capture file in the summary.
type Input struct {
	Path    string
	Format  string
	Packets uint64
	Err     string
	Skipped string // why a file found in a directory was not read (not a capture)
}

// Summary is the last record of a run.
type Summary struct {
	Engine   engine.Counters
	Top      []sources.TopSource
	Inputs   []Input
	Ports    string
	Window   time.Duration
	Lookback time.Duration
}

// Summary writes the final `summary` record.
func (w *Writer) Summary(s *Summary) {
	c := &s.Engine
	o := w.begin("summary", w.stamp(c.LastPacket, c))
	if c.StartedAnything {
		o.time("first_packet", c.FirstPacket)
		o.time("last_packet", c.LastPacket)
	} else {
		o.bool("no_packets", true) // nothing read: no window, no verdict
	}
	o.uint("windows", c.Windows)
	o.uint("packets", c.Packets)
	o.uint("syn_packets", c.SynPackets)
	o.uint("new_sources", c.NewSources)
	o.uint("returning_sources", c.Returning)
	o.uint("flood_new_sources", c.FloodSources)
	o.uint("alerts", c.Alerts)
	o.str("ports", s.Ports)
	o.str("window", s.Window.String())
	o.str("lookback", s.Lookback.String())
	o.openArray("inputs")
	skipped := 0
	for _, in := range s.Inputs {
		if in.Skipped != "" {
			skipped++
		}
		o.open("")
		o.str("file", in.Path)
		o.str("format", in.Format)
		o.uint("packets", in.Packets)
		if in.Err != "" {
			o.str("error", in.Err)
		}
		if in.Skipped != "" {
			o.str("skipped", in.Skipped)
		}
		o.close()
	}
	o.closeArray()
	o.uint("skipped_inputs", uint64(skipped))
	o.openArray("top_sources")
	for _, t := range s.Top {
		o.open("")
		o.str("src_ip", t.Addr.String())
		o.uint("syn_packets", uint64(t.SynPackets))
		o.time("first_seen", t.FirstSeen)
		o.time("last_seen", t.LastSeen)
		o.int("distinct_targets_est", int64(t.DistinctTargets))
		o.int("distinct_ports_est", int64(t.DistinctPorts))
		o.close()
	}
	o.closeArray()
	w.finish()
}

// EachDrop calls f with each loss the sensor counts itself, by the name the
// stats record's drops and the metrics' cause give it, in the record's
// order (the drivers' losses, kafka and alert_hooks, follow them there).
// One list for both: the metrics had lost two causes the record gained
// (reach_full, remember_full: a review).
func (s *Stats) EachDrop(f func(cause string, n uint64)) {
	f("ring_full", s.RingFull)
	f("kernel", s.KernelDrops)
	f("untracked_sources", s.Engine.Untracked)
	f("evicted_sources", s.Engine.Evicted)
	f("shard_ring_full", s.Engine.ShardDrops)
	f("reach_full", s.Engine.ReachFull)
	f("remember_full", s.Engine.RememberFull)
	f("decoy_alerts", s.Engine.DecoyDropped)
}
