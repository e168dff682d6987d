package output

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/synscope/synscope/pkg/decode"
	"github.com/synscope/synscope/pkg/engine"
	"github.com/synscope/synscope/pkg/growth"
	"github.com/synscope/synscope/pkg/sources"
)

var t0 = time.Date(2009, 1, 10, 0, 0, 0, 0, time.UTC).UnixNano()

func sample(w *Writer) {
	s := decode.Syn{Ts: t0 + 1234, SrcPort: 1060, DstPort: 445, TTL: 113, WScale: 0xff, MSS: 1460, NOpts: 2, Opts: [12]uint8{2, 1}}
	copy(s.Src[:], []byte{203, 0, 113, 7})
	copy(s.Dst[:], []byte{198, 18, 0, 10})
	w.Source(&engine.SourceRecord{Syn: s, WindowStart: t0, PrevLastSeen: t0 - int64(48*time.Hour)})
	w.Window(&engine.WindowRecord{Start: t0, End: t0 + int64(5*time.Minute), SynPackets: 3, ActiveSources: 1, NewSources: 1, Warmup: true})
	w.Stats(&Stats{Ts: t0, Final: true})
	w.Summary(&Summary{Inputs: []Input{{Path: "a\"b\n.pcap", Format: "pcap", Err: "bad\x01"}},
		Top: []sources.TopSource{{Addr: netip.MustParseAddr("2001:db8::1"), SynPackets: 2}}})
}

func TestEveryLineIsOneValidObject(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf, "sensor \"one\"\t\xff\u2028")
	sample(w)
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(&buf)
	types := []string{}
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("invalid JSON line %q: %v", sc.Text(), err)
		}
		types = append(types, m["event_type"].(string))
		if m["sensor"] != "sensor \"one\"\t\ufffd\u2028" {
			t.Errorf("sensor id did not survive: %q", m["sensor"])
		}
		ts, err := time.Parse(time.RFC3339Nano, m["ts"].(string))
		if err != nil || !strings.HasSuffix(m["ts"].(string), "Z") {
			t.Errorf("ts %q: %v", m["ts"], err)
		}
		_ = ts
	}
	if strings.Join(types, ",") != "source,window,stats,summary" {
		t.Errorf("record types %v", types)
	}
}

func TestSourceRecordFields(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf, "s")
	sample(w)
	w.Flush()
	line, _, _ := strings.Cut(buf.String(), "\n")
	want := `{"event_type":"source","ts":"2009-01-10T00:00:00.000001234Z","sensor":"s","src_ip":"203.0.113.7","dst_ip":"198.18.0.10","src_port":1060,"dst_port":445,"window_start":"2009-01-10T00:00:00.000000000Z","ip_version":4,"ttl":113,"ip_id":0,"tcp_seq":0,"tcp_window":0,"tcp_options":"mss,nop","tool":"unknown","os":"unknown","mss":1460,"returning":true,"prev_last_seen":"2009-01-08T00:00:00.000000000Z"}`
	if line != want {
		t.Errorf("source record\n got %s\nwant %s", line, want)
	}
}

func TestFloatNeverWritesNaN(t *testing.T) {
	var o obj
	o.begin(nil)
	o.float("a", 0.25)
	nan := 0.0
	o.float("b", nan/nan)
	if got := string(o.end()); got != "{\"a\":0.25,\"b\":null}\n" {
		t.Errorf("%q", got)
	}
}

type failing struct{}

func (failing) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestWriteErrorSticks(t *testing.T) {
	w := NewWriter(failing{}, "s")
	for i := 0; i < 5000; i++ {
		sample(w)
	}
	if err := w.Flush(); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("flush error %v", err)
	}
}

func TestScannerRecord(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf, "gw1")
	first := time.Date(2009, 1, 12, 8, 0, 0, 0, time.UTC).UnixNano()
	s := decode.Syn{Ts: first + int64(19*time.Second), DstPort: 445, WScale: 0xff}
	copy(s.Src[:], []byte{10, 1, 1, 1})
	copy(s.Dst[:], []byte{198, 51, 100, 19})
	w.Scanner(&engine.ScannerRecord{Syn: s, Direction: sources.DirOutbound, FirstSeen: first, SynPackets: 20, DistinctTargets: 11})
	w.Flush()
	want := `{"event_type":"outbound_scanner","ts":"2009-01-12T08:00:19.000000000Z","sensor":"gw1","src_ip":"10.1.1.1","direction":"outbound","first_seen":"2009-01-12T08:00:00.000000000Z","syn_packets":20,"distinct_targets_est":11,"syn_per_minute":63.1579,"last_dst_ip":"198.51.100.19","last_dst_port":445}` + "\n"
	if buf.String() != want {
		t.Errorf("\n got %s\nwant %s", buf.String(), want)
	}
}

// TestTimeCacheEqualsFormat: the cached formatter writes what
// time.AppendFormat writes, across second, day and year boundaries, before
// 1970 and far ahead.
func TestTimeCacheEqualsFormat(t *testing.T) {
	var c timeCache
	for _, base := range []int64{0, 1231545599_999999999, 951782399_500000000, -1, -1_000_000_001, math.MaxInt64 - 4e14, math.MinInt64 + 4e14} {
		for d := int64(-3); d <= 3; d++ {
			for _, step := range []int64{1, 499_999_999, 1_000_000_000, 86400_000_000_000} {
				ns := base + d*step
				if got, want := string(c.append(nil, ns)), string(appendTime(nil, ns)); got != want {
					t.Fatalf("%d: %s, want %s", ns, got, want)
				}
			}
		}
	}
}

// With the growth classifier on a goroutine of its own (ClassifyAside),
// the records are the same byte for byte as with it in line: the verdicts
// and the alerts they raise and clear in their places, between the window
// records, the flood and activity records and the source records of the
// next windows; the alert hook called as often, in the same order. And the
// records waiting behind held places stay within the engine's bound when
// the driver asks for the verdicts now and then (as the split loop does,
// every chunk), through an epidemic and a spoofed flood that writes a
// record a source.
func TestVerdictsAsideSameRecords(t *testing.T) {
	gc := growth.DefaultConfig()
	run := func(aside bool) (string, []string, int) {
		var buf bytes.Buffer
		w := NewWriter(&buf, "aside")
		var alerts []string
		w.OnAlert(func(line []byte) { alerts = append(alerts, string(line)) })
		cfg := engine.DefaultConfig()
		cfg.Growth = &gc
		cfg.FloodSourceRecords = true
		eng, err := engine.New(cfg, w)
		if err != nil {
			t.Fatal(err)
		}
		if aside && !eng.ClassifyAside() {
			t.Fatal("ClassifyAside refused a Writer")
		}
		r := rand.New(rand.NewPCG(3, 3))
		maxHeld, n := 0, uint32(0)
		syn := func(ts int64, dst byte) {
			n++
			s := decode.Syn{Ts: ts, DstPort: 445, Flags: 2, TTL: 64}
			binary.BigEndian.PutUint32(s.Src[:4], 0x0b000000+n)
			s.Dst = [16]byte{198, 18, 0, dst}
			eng.Frame(ts, 60, &s)
		}
		// 48 hours: 2 new sources a window, then an epidemic doubling
		// every 2 hours from hour 8 that stops at hour 20 (its plateau
		// called linear in time to clear the alert); a flood of
		// 20,000 spoofed sources to one target in a minute at hour 25.
		for win := range 48 * 12 {
			start := t0 + int64(win)*int64(5*time.Minute)
			h := float64(win) / 12
			rate := 2.0
			if h >= 8 {
				rate += math.Exp2((math.Min(h, 20) - 8) / 2)
			}
			k := int(rate + r.Float64())
			for i := range k {
				syn(start+int64(i)*int64(5*time.Minute)/int64(k+1), byte(r.IntN(200)))
			}
			if win == 25*12 {
				for i := range 20000 {
					syn(start+int64(i)*int64(3*time.Millisecond), 250)
					if i%4096 == 0 {
						eng.VerdictsReady()
						maxHeld = max(maxHeld, w.Held())
					}
				}
			}
			eng.VerdictsReady()
			maxHeld = max(maxHeld, w.Held())
		}
		eng.Finish()
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		return buf.String(), alerts, maxHeld
	}
	inline, inAlerts, _ := run(false)
	out, outAlerts, held := run(true)
	if out != inline {
		t.Fatalf("records differ with the classifier aside (%d bytes, in line %d)", len(out), len(inline))
	}
	if strings.Join(outAlerts, "") != strings.Join(inAlerts, "") {
		t.Errorf("alert hook: %d calls aside, %d in line, or in another order", len(outAlerts), len(inAlerts))
	}
	for _, want := range []string{`"kind":"exponential"`, `"kind":"cleared"`, `"event_type":"flood"`, `"event_type":"activity"`} {
		if !strings.Contains(out, want) {
			t.Errorf("no %s in the records: the test does not exercise it", want)
		}
	}
	if g, wr := strings.Count(out, `"event_type":"growth"`), strings.Count(out, `"event_type":"window"`); g != wr || g == 0 {
		t.Errorf("%d growth records for %d windows", g, wr)
	}
	if held > 20<<20 {
		t.Errorf("up to %d bytes of records waited behind held places", held)
	}
}

// A place held in the stream (Hold, Fill): the records written after it
// wait, those written by Fill's function go into it, and the alert hooks
// see the alerts in the stream's order, not in the order they were made
// (a flood alert made while a verdict's place is open comes after the
// verdict's alert).
func TestHoldFillOrder(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf, "hold")
	var hooks []string
	w.OnAlert(func(line []byte) { hooks = append(hooks, string(line)) })
	win := &engine.WindowRecord{Start: t0, End: t0 + int64(5*time.Minute)}
	v := &growth.Verdict{Model: growth.Exponential, Confidence: 1}
	flood := &engine.AlertRecord{Kind: engine.AlertFlood, Ts: t0 + 1, Flood: &engine.FloodRecord{}}
	w.Window(win)
	w.Hold()
	w.Window(&engine.WindowRecord{Start: win.End, End: win.End + int64(5*time.Minute)})
	w.Alert(flood)
	if len(hooks) != 0 || w.Held() == 0 {
		t.Fatalf("behind a place: %d hooks called, %d bytes held", len(hooks), w.Held())
	}
	w.Fill(func() {
		w.Growth(win, v)
		w.Alert(&engine.AlertRecord{Kind: engine.AlertExponential, Ts: win.End, Window: win, Verdict: v})
	})
	if w.Held() != 0 {
		t.Errorf("%d bytes still held", w.Held())
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var r struct {
			Type string `json:"event_type"`
			Kind string `json:"kind"`
		}
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatal(err)
		}
		kinds = append(kinds, r.Type+"/"+r.Kind)
	}
	if got, want := strings.Join(kinds, " "), "window/ growth/ alert/exponential window/ alert/flood"; got != want {
		t.Errorf("stream %q, want %q", got, want)
	}
	if len(hooks) != 2 || !strings.Contains(hooks[0], `"kind":"exponential"`) || !strings.Contains(hooks[1], `"kind":"flood"`) {
		t.Errorf("hooks called %d times, in the order %q", len(hooks), hooks)
	}
}

// TestFloodModeLeftOutWhenNoSourceHasIt: the bounded count of IP IDs and
// TCP windows keeps no value under a flood where every source's differs;
// the record said "mode 0, shared by at least 0" there, a value no source
// had.
func TestFloodModeLeftOutWhenNoSourceHasIt(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf, "s")
	w.Flood(&engine.FloodRecord{WindowStart: t0, WindowEnd: t0 + int64(5*time.Minute), Sources: 1026,
		IPIDMode: 0, IPIDModeSources: 0, WindowMode: 1024, WindowModeSources: 3})
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	var rec struct {
		Pattern map[string]any `json:"pattern"`
	}
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
		t.Fatal(err)
	}
	if _, ok := rec.Pattern["ip_id_mode"]; ok {
		t.Errorf("ip_id_mode written with no source to its name: %v", rec.Pattern)
	}
	if rec.Pattern["tcp_window_mode"] != 1024.0 || rec.Pattern["tcp_window_mode_sources_min"] != 3.0 {
		t.Errorf("tcp_window_mode: %v", rec.Pattern)
	}
}

// The host name as the default sensor id holds only what an id may: the
// kernel takes any bytes for one (a host named dc\east put its name in
// every record, and the fleet's collector took them all as bad).
func TestSafeSensorID(t *testing.T) {
	for in, want := range map[string]string{
		"gw-1.example": "gw-1.example",
		`dc\east`:      "dc_east",
		"a\"b\x01c":    "a_b_c",
		"x\xffy":       "x_y",
		"ünï":          "ünï",
	} {
		if got := SafeSensorID(in); got != want || CheckSensorID(got) != nil {
			t.Errorf("SafeSensorID(%q) = %q, want %q (check %v)", in, got, want, CheckSensorID(got))
		}
	}
	if got := SafeSensorID(strings.Repeat("é", 200)); len(got) > MaxSensorID || CheckSensorID(got) != nil {
		t.Errorf("a long name: %d bytes", len(got))
	}
}
