package output

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/synscope/synscope/pkg/benign"
	"github.com/synscope/synscope/pkg/engine"
	"github.com/synscope/synscope/pkg/fingerprint"
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
	fleet   bool  // write the fleet's records too (see SetFleet)
	idle    int64 // the time of a run that read no packet (stamp)
	// onAlert gets each alert record's JSON line (valid only during the
	// call): the alert hooks.
	onAlert func(line []byte)
	// Places held in the stream (engine.Holder), oldest first: each with
	// the records written into it and those written after it; filling
	// says records go into the oldest; held counts the bytes after places.
	places  []*place
	spare   []*place
	filling bool
	held    int
	// shared: FlushEvery's goroutine flushes too; mu then guards bw and
	// err (set before that goroutine starts, never cleared).
	shared bool
	mu     sync.Mutex
}

var _ engine.Holder = (*Writer)(nil)

// place is a place held in the stream: the records that fill it, those
// written after it, which wait for it, and the alert lines among them (for
// the hooks, when they are written out).
type place struct {
	in, after []byte
	alerts    [][]byte
}

// CountDrivers has every stats record carry the counters of the counted
// drivers behind d (see CountedOf); a run without one writes none.
func (w *Writer) CountDrivers(d Driver) { w.counted = CountedOf(d) }

// AddCounted has every stats record carry c's counters too (the alert
// hooks').
func (w *Writer) AddCounted(c Counted) { w.counted = append(w.counted, c) }

// Counted is what every stats record counts besides the engine (the
// metrics read the same).
func (w *Writer) Counted() []Counted { return w.counted }

// OnAlert has f called with every alert record's JSON line, after it is
// written to the stream; f must copy what it keeps and must not block.
func (w *Writer) OnAlert(f func(line []byte)) { w.onAlert = f }

// MaxSensorID bounds a sensor id, in bytes: the config refuses a longer
// one, and the fleet's collector takes a record with one as bad (ids of
// any length, one per made-up record, held the collector's memory: a
// review).
const MaxSensorID = 256

// CheckSensorID refuses a sensor id longer than MaxSensorID bytes or
// holding what a JSON string must escape (a quotation mark, a backslash, a
// control character, U+2028 or U+2029) or invalid UTF-8: the id is in every
// record, and the fleet's collector reads it as written, without escapes,
// so every record of a sensor named dc\east was a bad record there and the
// sensor missing from the fleet, unsaid (a review).
// notInID says whether a sensor id may not hold r (CheckSensorID).
func notInID(r rune) bool {
	return r < 0x20 || r == 0x7f || r == '"' || r == '\\' || r == 0x2028 || r == 0x2029
}

// SafeSensorID is id with what CheckSensorID refuses replaced by _, cut
// to MaxSensorID bytes (the host name as the default id).
func SafeSensorID(id string) string {
	var b strings.Builder
	for _, r := range id {
		if notInID(r) || r == utf8.RuneError {
			r = '_'
		}
		if b.Len()+utf8.RuneLen(r) > MaxSensorID {
			break
		}
		b.WriteRune(r)
	}
	return b.String()
}

func CheckSensorID(id string) error {
	if len(id) > MaxSensorID {
		return fmt.Errorf("%d bytes: at most %d (it is in every record)", len(id), MaxSensorID)
	}
	if !utf8.ValidString(id) {
		return fmt.Errorf("%q is not valid UTF-8", id)
	}
	for _, r := range id {
		if notInID(r) {
			return fmt.Errorf("%q holds %q: an id may not hold quotation marks, backslashes or control characters (it is in every record, read as written by the fleet's collector)", id, r)
		}
	}
	return nil
}

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
	switch {
	case w.filling:
		w.places[0].in = append(w.places[0].in, w.buf...)
	case len(w.places) > 0:
		p := w.places[len(w.places)-1]
		p.after = append(p.after, w.buf...)
		w.held += len(w.buf)
	default:
		w.write(w.buf)
	}
}

func (w *Writer) write(b []byte) {
	if w.shared {
		w.mu.Lock()
		defer w.mu.Unlock()
	}
	if w.err == nil {
		_, w.err = w.bw.Write(b)
	}
}

// FlushEvery pushes what is buffered out every d, from a goroutine of its
// own, until stop is called (an offline run reading a pipe from a capture
// still running: its records come out as they are made, not at the end).
// Call it before the first record; records are never split.
func (w *Writer) FlushEvery(d time.Duration) (stop func()) {
	w.shared = true
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(d)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				w.Flush()
			}
		}
	}()
	return func() {
		close(done)
		wg.Wait()
	}
}

// Hold holds a place in the stream where the next record would go: the
// records written from now on wait behind it until Fill fills it
// (engine.Holder: a verdict made on another goroutine).
func (w *Writer) Hold() {
	var p *place
	if k := len(w.spare); k > 0 {
		p, w.spare = w.spare[k-1], w.spare[:k-1]
	} else {
		p = &place{}
	}
	w.places = append(w.places, p)
}

// Fill calls f, whose records fill the oldest place held, and writes them
// and the records that waited behind the place, up to the next one held.
func (w *Writer) Fill(f func()) {
	w.filling = true
	f()
	w.filling = false
	p := w.places[0]
	w.places = w.places[:copy(w.places, w.places[1:])]
	w.write(p.in)
	w.write(p.after)
	w.held -= len(p.after)
	for _, line := range p.alerts {
		w.onAlert(line)
	}
	p.in, p.after, p.alerts = p.in[:0], p.after[:0], p.alerts[:0]
	if cap(p.after) > 1<<20 {
		p.after = nil // a flood's window: not kept for the next
	}
	w.spare = append(w.spare, p)
}

// Held is the bytes of records waiting behind places held.
func (w *Writer) Held() int { return w.held }

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
	o.bool("returning", r.Returning || r.PrevLastSeen != 0)
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

func round(v float64) float64 {
	if v == 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return v
	}
	f, _ := strconv.ParseFloat(strconv.FormatFloat(v, 'g', 6, 64), 64)
	return f
}

// Flush pushes buffered records to the stream and reports the first error.
func (w *Writer) Flush() error {
	if w.shared {
		w.mu.Lock()
		defer w.mu.Unlock()
	}
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
	if w.shared {
		w.mu.Lock()
		defer w.mu.Unlock()
	}
	w.bw.Reset(dst)
	w.err = nil
	return err
}

// Err reports the first write error, if any.
func (w *Writer) Err() error {
	if w.shared {
		w.mu.Lock()
		defer w.mu.Unlock()
	}
	return w.err
}
