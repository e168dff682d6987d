package output

import (
	"bufio"
	"io"
	"math"
	"strconv"
	"time"

	"github.com/synscope/synscope/pkg/benign"
	"github.com/synscope/synscope/pkg/capture"
	"github.com/synscope/synscope/pkg/decode"
	"github.com/synscope/synscope/pkg/engine"
	"github.com/synscope/synscope/pkg/fingerprint"
	"github.com/synscope/synscope/pkg/growth"
	"github.com/synscope/synscope/pkg/sources"
)

// Writer encodes records onto one stream. It implements engine.Emitter.
// The first write error sticks: later writes are skipped and Err reports it,
// so a full disk or a closed pipe stops the run with a clear message instead
// of a silent loss.
type Writer struct {
	bw     *bufio.Writer
	sensor string
	buf    []byte
	o      obj
	err    error
	nets   netCounts    // set by SetNetworks
	benign *benign.List // set by SetBenign
	// counted are the counted drivers (Kafka) whose counters every stats
	// record carries; none by default.
	counted []Counted
	fleet   bool // write the fleet's records too (see SetFleet)
	// onAlert gets each alert record's JSON line (valid only during the
	// call): the alert hooks.
	onAlert func(line []byte)
}

// CountDrivers has every stats record carry the counters of the counted
// drivers behind d (see CountedOf); a run without one writes none.
func (w *Writer) CountDrivers(d Driver) { w.counted = CountedOf(d) }

// OnAlert has f called with every alert record's JSON line, after it is
// written to the stream; f must copy what it keeps and must not block.
func (w *Writer) OnAlert(f func(line []byte)) { w.onAlert = f }

// NewWriter writes records for the sensor id to w through a buffer; call
// Flush to push them out.
func NewWriter(w io.Writer, sensor string) *Writer {
	return &Writer{bw: bufio.NewWriterSize(w, 256<<10), sensor: sensor, buf: make([]byte, 0, 1024)}
}

func (w *Writer) begin(eventType string, ts int64) *obj {
	w.o.begin(w.buf[:0])
	w.o.str("event_type", eventType)
	w.o.time("ts", ts)
	w.o.str("sensor", w.sensor)
	return &w.o
}

func (w *Writer) finish() {
	w.buf = w.o.end()
	if w.err == nil {
		_, w.err = w.bw.Write(w.buf)
	}
}

// Source writes a `source` record: a new source's first SYN.
func (w *Writer) Source(r *engine.SourceRecord) {
	s := &r.Syn
	o := w.begin("source", s.Ts)
	o.str("src_ip", s.SrcAddr().String())
	o.str("dst_ip", s.DstAddr().String())
	o.uint("src_port", uint64(s.SrcPort))
	o.uint("dst_port", uint64(s.DstPort))
	o.time("window_start", r.WindowStart)
	if s.V6 {
		o.uint("ip_version", 6)
	} else {
		o.uint("ip_version", 4)
	}
	o.uint("ttl", uint64(s.TTL))
	o.uint("ip_id", uint64(s.IPID))
	o.uint("tcp_seq", uint64(s.Seq))
	o.uint("tcp_window", uint64(s.Window))
	o.str("tcp_options", s.OptionLayout())
	o.str("tool", fingerprint.ToolOf(s).String())
	o.str("os", fingerprint.OSOf(s).String())
	w.countNew(w.netFields(o, s.SrcAddr()))
	w.benignField(o, s)
	if s.MSS != 0 {
		o.uint("mss", uint64(s.MSS))
	}
	if s.WScale != 0xff {
		o.uint("wscale", uint64(s.WScale))
	}
	if s.VLAN != 0 {
		o.uint("vlan", uint64(s.VLAN))
	}
	if s.Tunnel != 0 {
		o.uint("tunnel_depth", uint64(s.Tunnel))
	}
	if r.Direction != sources.DirUnknown {
		o.str("direction", r.Direction.String())
	}
	o.bool("returning", r.PrevLastSeen != 0)
	if r.PrevLastSeen != 0 {
		o.time("prev_last_seen", r.PrevLastSeen)
	}
	if r.Flood {
		o.bool("flood", true) // --flood-sources: also counted in its window's flood record
	}
	w.finish()
}

// Scanner writes an `outbound_scanner` record: one of our own hosts has
// started scanning.
func (w *Writer) Scanner(r *engine.ScannerRecord) {
	s := &r.Syn
	o := w.begin("outbound_scanner", s.Ts)
	o.str("src_ip", s.SrcAddr().String())
	w.netFields(o, s.SrcAddr())
	w.benignField(o, s)
	o.str("direction", r.Direction.String())
	o.time("first_seen", r.FirstSeen)
	o.uint("syn_packets", uint64(r.SynPackets))
	o.int("distinct_targets_est", int64(r.DistinctTargets))
	minutes := float64(s.Ts-r.FirstSeen) / 6e10
	if minutes > 0 {
		o.float("syn_per_minute", round(float64(r.SynPackets)/minutes))
	}
	o.str("last_dst_ip", s.DstAddr().String())
	o.uint("last_dst_port", uint64(s.DstPort))
	w.finish()
}

// Window writes a `window` record when a window closes.
func (w *Writer) Window(r *engine.WindowRecord) {
	o := w.begin("window", r.End)
	o.time("window_start", r.Start)
	o.time("window_end", r.End)
	o.uint("packets", r.Packets)
	o.uint("syn_packets", r.SynPackets)
	o.uint("active_sources", r.ActiveSources)
	o.uint("new_sources", r.NewSources)
	o.uint("returning_sources", r.ReturningSources)
	o.uint("distinct_targets", r.DistinctTargets)
	o.bool("distinct_targets_capped", r.TargetsCapped)
	o.uint("out_of_order", r.OutOfOrder)
	o.uint("untracked_sources", r.Untracked)
	o.uint("evicted_sources", r.Evicted)
	o.uint("time_jumps", r.TimeJumps)
	o.bool("gap_before", r.GapBefore)
	o.uint("new_prefixes", r.NewPrefixes)
	o.uint("flood_new_sources", r.FloodSources)
	o.uint("new_outbound_sources", r.NewOutbound)
	o.uint("new_internal_sources", r.NewInternal)
	o.open("new_sources_by_tool")
	for _, t := range fingerprint.Tools() {
		o.uint(t.String(), r.NewByTool[t])
	}
	o.close()
	w.windowNets(o)
	if w.benign != nil {
		o.uint("benign_new_sources", r.BenignSources)
	}
	o.float("coverage", round(r.Exposure))
	o.bool("warmup", r.Warmup)
	w.finish()
	if w.fleet {
		w.progress(r)
	}
}

// Flood writes a `flood` record: one window's flood sources, summarized
// (they get no source record each unless --flood-sources).
func (w *Writer) Flood(r *engine.FloodRecord) {
	o := w.begin("flood", r.WindowEnd)
	o.time("window_start", r.WindowStart)
	o.time("window_end", r.WindowEnd)
	o.uint("sources", r.Sources)
	o.time("first_seen", r.First)
	o.time("last_seen", r.Last)
	o.openArray("targets")
	for _, t := range r.Targets {
		o.open("")
		o.str("dst_ip", t.Addr.Netip().String())
		o.uint("dst_port", uint64(t.Port))
		o.uint("sources", t.Sources)
		o.close()
	}
	o.closeArray()
	o.uint("other_targets_sources", r.OtherTargets)
	o.open("pattern")
	o.uint("ttl_min", uint64(r.TTLMin))
	o.uint("ttl_max", uint64(r.TTLMax))
	o.uint("ttl_mode", uint64(r.TTLMode))
	o.uint("ttl_mode_sources", r.TTLModeSources)
	o.uint("ip_id_zero_sources", r.IPIDZero)
	o.uint("ip_id_mode", uint64(r.IPIDMode))
	o.uint("ip_id_mode_sources_min", r.IPIDModeSources)
	o.uint("tcp_window_mode", uint64(r.WindowMode))
	o.uint("tcp_window_mode_sources_min", r.WindowModeSources)
	o.close()
	o.openArray("sample_src_ips")
	for _, a := range r.Sample {
		o.elemStr(a.Netip().String())
	}
	o.closeArray()
	w.finish()
}

// Growth writes a `growth` record: the verdict after the window r.
func (w *Writer) Growth(r *engine.WindowRecord, v *growth.Verdict) {
	o := w.begin("growth", r.End)
	o.time("window_start", r.Start)
	o.time("window_end", r.End)
	o.str("model", v.Model)
	o.float("confidence", round(v.Confidence))
	if v.Reason != "" {
		o.str("reason", v.Reason)
	}
	o.float("growth_rate_per_hour", round(v.RatePerHour))
	o.float("growth_rate_low", round(v.RateLow))
	o.float("growth_rate_high", round(v.RateHigh))
	o.float("bound_per_hour", round(v.Bound))
	if v.Model == growth.Exponential && v.DoublingHours > 0 {
		o.float("doubling_time_hours", round(v.DoublingHours))
	}
	o.float("steady_rate_per_hour", round(v.SteadyPerHour))
	o.float("horizon_hours", round(v.Horizon.Hours()))
	o.uint("windows", uint64(v.Windows))
	o.uint("new_sources", uint64(v.NewSources))
	o.bool("diurnal", v.Diurnal)
	o.open("evidence")
	o.float("loglik_steady", round(v.LogLikSteady))
	o.float("loglik_multiplying", round(v.LogLikMultiply))
	o.float("aic_steady", round(v.AICSteady))
	o.float("aic_multiplying", round(v.AICMultiply))
	o.float("z", round(v.Z))
	o.float("dispersion", round(v.Dispersion))
	o.close()
	o.bool("regime_changed", v.RegimeChanged)
	if v.RegimeSince != 0 {
		o.time("regime_since", v.RegimeSince)
	}
	if v.Onset != 0 {
		o.time("onset", v.Onset)
		o.time("onset_low", v.OnsetLow)
		o.time("onset_high", v.OnsetHigh)
	}
	if v.Model == growth.Saturating {
		o.time("stopped_at", v.StoppedAt)
		o.float("rate_after_per_hour", round(v.RateAfterPerHour))
	}
	if v.Model == growth.Step {
		o.time("step_at", v.StepAt)
		o.float("level_before_per_hour", round(v.LevelBeforePerHour))
		o.float("level_after_per_hour", round(v.LevelAfter))
	}
	o.bool("warmup", v.Warmup)
	w.finish()
}

// round keeps six significant digits: enough for any decision, short to
// read, and stable across runs.
func round(v float64) float64 {
	if v == 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return v
	}
	f, _ := strconv.ParseFloat(strconv.FormatFloat(v, 'g', 6, 64), 64)
	return f
}

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
// (a run that read no packet), the wall clock, which is when the record was
// written; 1970-01-01 would be a lie.
func stamp(ts int64, c *engine.Counters) int64 {
	if c.StartedAnything {
		return ts
	}
	return time.Now().UnixNano()
}

// Stats writes a `stats` record. It fills s.Drivers from the counted
// drivers, so the caller (metrics) sees the same figures.
func (w *Writer) Stats(s *Stats) {
	if len(w.counted) > 0 {
		s.Drivers = s.Drivers[:0]
		for _, c := range w.counted {
			s.Drivers = append(s.Drivers, c.DriverCounts())
		}
	}
	o := w.begin("stats", stamp(s.Ts, &s.Engine))
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
	o.uint("ring_full", s.RingFull)
	o.uint("kernel", s.KernelDrops)
	o.uint("untracked_sources", s.Engine.Untracked)
	o.uint("evicted_sources", s.Engine.Evicted)
	o.uint("shard_ring_full", s.Engine.ShardDrops)
	o.uint("reach_full", s.Engine.ReachFull)
	for i := range s.Drivers {
		o.uint(s.Drivers[i].Name, s.Drivers[i].Lost())
	}
	o.close()
	o.uint("out_of_order", s.Engine.OutOfOrder)
	o.uint("time_jumps", s.Engine.TimeJumps)
	o.uint("gaps", s.Engine.Gaps)
	o.uint("sources_tracked", s.Engine.TrackedSources)
	o.uint("sources_expired", s.Engine.Expired)
	o.uint("inputs_failed", s.InputsFailed)
	if s.Capture != nil {
		o.open("capture")
		o.uint("packets", s.Capture.Packets)
		o.uint("matched", s.Capture.Matched)
		o.uint("kernel_drops", s.Capture.KernelDrops)
		o.uint("ring_full", s.Capture.RingFull)
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
	o := w.begin("summary", stamp(c.LastPacket, c))
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

// Flush pushes buffered records to the stream and reports the first error.
func (w *Writer) Flush() error {
	if w.err == nil {
		w.err = w.bw.Flush()
	}
	return w.err
}

// Reset flushes what is buffered to the old stream and writes to dst from
// now on (log rotation). A write error on the old stream is returned and
// cleared, so the new stream gets its chance.
func (w *Writer) Reset(dst io.Writer) error {
	err := w.Flush()
	w.bw.Reset(dst)
	w.err = nil
	return err
}

// Err reports the first write error, if any.
func (w *Writer) Err() error { return w.err }
