package report

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"image/png"
	"io"
	"maps"
	"math"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2009, 1, 10, 0, 0, 0, 0, time.UTC)

func ts(d time.Duration) string { return t0.Add(d).Format("2006-01-02T15:04:05.000000000Z") }

// jsonl writes n windows (5 min) of a sensor, with a growth record after
// each and a source record per new source.
func jsonl(sensor string, n int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		s, e := time.Duration(i)*5*time.Minute, time.Duration(i+1)*5*time.Minute
		newSrc := 1 + i%4
		for j := 0; j < newSrc; j++ {
			fmt.Fprintf(&b, `{"event_type":"source","ts":%q,"sensor":%q,"src_ip":"192.0.%d.%d","dst_ip":"198.18.0.1","dst_port":445,"window_start":%q}`+"\n",
				ts(s+time.Second), sensor, i%7, j, ts(s))
		}
		fmt.Fprintf(&b, `{"event_type":"window","ts":%q,"sensor":%q,"window_start":%q,"window_end":%q,"packets":100,"syn_packets":%d,"active_sources":%d,"new_sources":%d,"new_prefixes":1,"flood_new_sources":0,"warmup":%v}`+"\n",
			ts(e), sensor, ts(s), ts(e), 10+i, 3+i%5, newSrc, i < 3)
		model := "insufficient_data"
		if i >= 6 {
			model = "linear"
		}
		fmt.Fprintf(&b, `{"event_type":"growth","ts":%q,"sensor":%q,"window_start":%q,"window_end":%q,"model":%q,"confidence":0.97,"growth_rate_per_hour":0.01,"steady_rate_per_hour":30,"horizon_hours":%d,"windows":%d,"new_sources":%d,"regime_changed":%v,"warmup":false}`+"\n",
			ts(e), sensor, ts(s), ts(e), model, 1, i+1, 30, i == 6)
	}
	fmt.Fprintf(&b, `{"event_type":"summary","ts":%q,"sensor":%q,"top_sources":[{"src_ip":"192.0.2.1","syn_packets":40,"first_seen":%q,"last_seen":%q,"distinct_targets_est":12007,"distinct_ports_est":3}]}`+"\n",
		ts(time.Duration(n)*5*time.Minute), sensor, ts(0), ts(time.Hour))
	return b.String()
}

func read(t *testing.T, inputs ...string) *Data {
	t.Helper()
	d := NewData()
	for i, in := range inputs {
		if err := d.Read(strings.NewReader(in), fmt.Sprintf("in%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	d.Finish()
	return d
}

// TestBadLinesAreNamedAndSkipped: a truncated line, an unknown event_type,
// a record without what its type needs, a line that is not JSON, a record
// of a newer sensor with fields this report does not know: the bad ones
// are named by input and line and skipped, the rest is drawn.
func TestBadLinesAreNamedAndSkipped(t *testing.T) {
	good := jsonl("s1", 10)
	lines := strings.Split(strings.TrimSpace(good), "\n")
	bad := []string{
		lines[0][:len(lines[0])/2], // truncated
		`{"event_type":"telemetry","ts":"2009-01-10T00:00:00Z","sensor":"s1"}`,
		`{"event_type":"window","sensor":"s1","new_sources":3}`,
		`GET / HTTP/1.1`,
		`{"sensor":"s1"}`,
		`{"event_type":"window","ts":"2009-01-10T09:00:00Z","sensor":"s1","window_start":"2009-01-10T08:55:00Z","window_end":"2009-01-10T09:00:00Z","syn_packets":1,"new_sources":1,"active_sources":1,"schema_version":99,"something_new":{"a":1}}`,
		`{"event_type":"window","ts":"2009-01-10T09:05:00Z","sensor":"s1","window_start":"2009-01-10T09:00:00Z","window_end":"2009-01-10T09:05:00Z","syn_packets":"many","new_sources":1}`,
	}
	d := read(t, good+strings.Join(bad, "\n")+"\n")
	if d.Skipped != 6 {
		t.Errorf("%d lines skipped, want 6: %v", d.Skipped, d.Problems)
	}
	n := len(lines)
	for i, want := range []string{
		fmt.Sprintf("in0:%d: not a JSON record", n+1),
		fmt.Sprintf("in0:%d: unknown event_type \"telemetry\"", n+2),
		fmt.Sprintf("in0:%d: window record without", n+3),
		fmt.Sprintf("in0:%d: not a JSON record", n+4),
		fmt.Sprintf("in0:%d: no event_type", n+5),
		fmt.Sprintf("in0:%d: a record with a field of the wrong type", n+7), // not "truncated?"
	} {
		if i >= len(d.Problems) || !strings.HasPrefix(d.Problems[i], want) {
			t.Errorf("problem %d: %q, want it to start with %q", i, d.Problems, want)
		}
	}
	s := d.Sensors["s1"]
	if len(s.Windows) != 11 || len(s.Verdicts) != 10 || len(s.Top) != 1 {
		t.Errorf("%d windows (want 11, the newer sensor's included), %d verdicts, %d top", len(s.Windows), len(s.Verdicts), len(s.Top))
	}
}

func TestNoWindowsIsAClearError(t *testing.T) {
	for _, in := range []string{"", "not json at all\n", `{"event_type":"stats","sensor":"x","packets":1}` + "\n"} {
		d := read(t, in)
		if err := d.HTML(io.Discard, []string{"x"}); !errors.Is(err, ErrNoWindows) {
			t.Errorf("%q: %v, want ErrNoWindows", in, err)
		}
		if _, err := d.Chart("new-sources", "", 800); !errors.Is(err, ErrNoWindows) {
			t.Errorf("%q: chart: %v", in, err)
		}
	}
}

// TestHTMLDrawsEveryWindow: a section per sensor; every <svg> is
// well-formed XML; the new-sources chart has a bar per window and each
// line a point per window (or per verdict).
func TestHTMLDrawsEveryWindow(t *testing.T) {
	d := read(t, jsonl("gw1", 40), jsonl("gw2", 25))
	var out bytes.Buffer
	if err := d.HTML(&out, []string{"a", "b"}); err != nil {
		t.Fatal(err)
	}
	html := out.String()
	for _, bad := range []string{"<script", "http://", "https://", "@import", "url("} {
		if strings.Contains(strings.ReplaceAll(html, `xmlns="http://www.w3.org/2000/svg"`, ""), bad) {
			t.Errorf("the page is not self-contained: it holds %q", bad)
		}
	}
	svgs := regexp.MustCompile(`(?s)<svg .*?</svg>`).FindAllString(html, -1)
	if len(svgs) != 2*len(ChartNames) {
		t.Fatalf("%d charts, want %d", len(svgs), 2*len(ChartNames))
	}
	for i, s := range svgs {
		dec := xml.NewDecoder(strings.NewReader(s))
		for {
			_, err := dec.Token()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("chart %d is not well-formed: %v", i, err)
			}
		}
	}
	for sensor, n := range map[string]int{"gw1": 40, "gw2": 25} {
		chart := regexp.MustCompile(`(?s)<svg [^>]*id="` + sensor + `-new-sources".*?</svg>`).FindString(html)
		if got := strings.Count(chart, `class="bar new"`); got != n {
			t.Errorf("%s: %d bars, want %d", sensor, got, n)
		}
		if !strings.Contains(chart, fmt.Sprintf(`class="series cumulative" data-name="cumulative (right)" data-points="%d"`, n)) {
			t.Errorf("%s: the cumulative line does not have %d points", sensor, n)
		}
		if !strings.Contains(chart, `class="series fit-steady"`) || !strings.Contains(chart, `class="series fit-multiplying"`) {
			t.Errorf("%s: the fitted curves are not drawn", sensor)
		}
		if !strings.Contains(html, "<h2>Sensor "+sensor+"</h2>") {
			t.Errorf("no section for %s", sensor)
		}
	}
	if !strings.Contains(html, `class="mark"`) {
		t.Error("the regime change is not marked")
	}
	// The busiest sources show their reach as the summary gives it.
	if !strings.Contains(html, "<td class=n>12007</td><td class=n>3</td>") {
		t.Error("the busiest sources do not show targets and ports")
	}
}

// An SVG chart of a sensor whose id holds characters XML cannot (a control
// character, U+FFFE; JSON carries them) is still well-formed XML: expat
// refused it (a review).
func TestSVGOfAHostileSensorID(t *testing.T) {
	d := read(t, strings.ReplaceAll(jsonl("gwX", 12), `"gwX"`, `"gw\u0001\ufffe<&"`))
	for _, name := range ChartNames {
		c, err := d.Chart(name, "", 900)
		if err != nil {
			t.Fatal(err)
		}
		svg := c.SVG()
		if !strings.Contains(svg, "gw\ufffd\ufffd&lt;&amp;") {
			t.Errorf("%s: the sensor id is not in the chart as gw\ufffd\ufffd&lt;&amp;", name)
		}
		if err := xml.Unmarshal([]byte(svg), new(struct{})); err != nil {
			t.Errorf("%s: svg: %v", name, err)
		}
	}
}

func TestPNGAndSVGChart(t *testing.T) {
	d := read(t, jsonl("one", 30))
	for _, name := range ChartNames {
		c, err := d.Chart(name, "", 900)
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		if err := c.PNG(&b); err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(&b)
		if err != nil || img.Bounds().Dx() != 900 {
			t.Fatalf("%s: png %v %v", name, err, img)
		}
		if err := xml.Unmarshal([]byte(c.SVG()), new(struct{})); err != nil {
			t.Errorf("%s: svg: %v", name, err)
		}
	}
	if _, err := d.Chart("pie", "", 900); err == nil || !strings.Contains(err.Error(), "new-sources") {
		t.Errorf("unknown chart: %v", err)
	}
	d2 := read(t, jsonl("a", 5), jsonl("b", 5))
	if _, err := d2.Chart("new-sources", "", 900); err == nil || !strings.Contains(err.Error(), "--sensor") {
		t.Errorf("two sensors without --sensor: %v", err)
	}
}

// BenchmarkMillionRecords reads and draws a million records: about 8,600
// windows of a busy sensor (30 days of 5-minute windows) and their source
// records.
//
//	go test ./pkg/report -run '^$' -bench Million -benchtime 1x
func BenchmarkMillionRecords(b *testing.B) {
	var buf bytes.Buffer
	var nrec int
	for i := 0; nrec < 1_000_000; i++ {
		s, e := time.Duration(i)*5*time.Minute, time.Duration(i+1)*5*time.Minute
		for j := 0; j < 113; j++ {
			fmt.Fprintf(&buf, `{"event_type":"source","ts":%q,"sensor":"big","src_ip":"10.%d.%d.%d","dst_ip":"198.18.0.1","src_port":5000,"dst_port":445,"window_start":%q,"ip_version":4,"ttl":100,"ip_id":1,"tcp_seq":1,"tcp_window":8192,"tcp_options":"mss,nop,ws,nop,nop,sok","mss":1460,"wscale":8,"returning":false}`+"\n",
				ts(s+time.Second), i%256, j, i/256%256, ts(s))
			nrec++
		}
		fmt.Fprintf(&buf, `{"event_type":"window","ts":%q,"sensor":"big","window_start":%q,"window_end":%q,"syn_packets":500,"active_sources":300,"new_sources":113,"new_prefixes":40,"warmup":false}`+"\n", ts(e), ts(s), ts(e))
		fmt.Fprintf(&buf, `{"event_type":"growth","ts":%q,"sensor":"big","window_start":%q,"window_end":%q,"model":"linear","confidence":0.99,"growth_rate_per_hour":0,"steady_rate_per_hour":1356,"horizon_hours":24,"windows":288,"new_sources":32544,"regime_changed":false}`+"\n", ts(e), ts(s), ts(e))
		nrec += 2
	}
	in := buf.Bytes()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		d := NewData()
		if err := d.Read(bytes.NewReader(in), "big"); err != nil {
			b.Fatal(err)
		}
		d.Finish()
		if err := d.HTML(io.Discard, []string{"big"}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(nrec), "records")
}

// FuzzReport: any bytes read as JSONL and drawn neither panic nor write a
// page whose charts are not well-formed.
func FuzzReport(f *testing.F) {
	f.Add([]byte(jsonl("f", 8)))
	f.Add([]byte(`{"event_type":"window","sensor":"x","window_start":"2009-01-10T00:00:00Z","window_end":"2009-01-10T00:05:00Z","syn_packets":1,"new_sources":18446744073709551615,"flood_new_sources":5}` + "\n"))
	f.Add([]byte(`{"event_type":"growth","sensor":"x","window_start":"2009-01-10T00:00:00Z","window_end":"2009-01-10T00:05:00Z","model":"<b>","horizon_hours":1e308,"growth_rate_per_hour":-1e308,"new_sources":3}` + "\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		d := NewData()
		if err := d.Read(bytes.NewReader(b), "fuzz"); err != nil {
			return
		}
		d.Finish()
		var out bytes.Buffer
		if err := d.HTML(&out, []string{"fuzz"}); err != nil {
			return
		}
		for _, s := range regexp.MustCompile(`(?s)<svg .*?</svg>`).FindAllString(out.String(), -1) {
			if err := xml.Unmarshal([]byte(s), new(struct{})); err != nil {
				t.Fatalf("a chart is not well-formed: %v", err)
			}
		}
		if ids := d.SensorIDs(); len(ids) > 0 { // one PNG: encoding is the slow part
			// (A sensor id "" among others is not one --sensor can name:
			// Chart refuses it, with the ids to pick from.)
			if c, err := d.Chart("new-sources", ids[0], 400); err == nil {
				c.PNG(io.Discard)
			} else if ids[0] != "" {
				t.Fatalf("chart of sensor %q: %v", ids[0], err)
			}
		}
	})
}

// Sources named by --mmdb are counted by country and network.
func TestCountriesAndNetworks(t *testing.T) {
	in := jsonl("gw1", 5) +
		`{"event_type":"source","ts":"2009-01-10T00:00:01Z","sensor":"gw1","src_ip":"198.51.100.1","asn":64501,"as_org":"Example Net","country":"NL"}` + "\n" +
		`{"event_type":"source","ts":"2009-01-10T00:00:02Z","sensor":"gw1","src_ip":"198.51.100.2","asn":64501,"as_org":"Example Net","country":"NL"}` + "\n" +
		`{"event_type":"source","ts":"2009-01-10T00:00:03Z","sensor":"gw1","src_ip":"203.0.113.9","asn":64502,"as_org":"Other","country":"BR"}` + "\n"
	d := read(t, in)
	s := d.Sensors["gw1"]
	if c := s.TopCountries(10); len(c) != 2 || c[0] != (PrefixCount{"NL", 2}) || c[1] != (PrefixCount{"BR", 1}) {
		t.Errorf("countries %v", c)
	}
	var out bytes.Buffer
	if err := d.HTML(&out, []string{"in"}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Countries with the most new sources", "<td>AS64501 Example Net</td><td class=n>2</td>"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the page lacks %q", want)
		}
	}
}

// The fleet's own records (a sensor with Kafka on, sensor collect) are
// read past without a complaint.
func TestFleetRecordsPassedOver(t *testing.T) {
	extra := `{"event_type":"sighting","ts":"2009-01-10T00:00:01Z","sensor":"s1","src_ip":"192.0.2.1","window_start":"2009-01-10T00:00:00Z","prev_seen":"2009-01-09T23:59:00Z"}
{"event_type":"progress","ts":"2009-01-10T00:05:00Z","sensor":"s1","window_start":"2009-01-10T00:00:00Z","window_end":"2009-01-10T00:05:00Z","syn_packets":1,"active_sources":1,"new_sources":1,"flood_new_sources":0,"warmup":true}
{"event_type":"fleet","ts":"2009-01-10T00:05:00Z","sensor":"fleet","window_start":"2009-01-10T00:00:00Z","window_end":"2009-01-10T00:05:00Z","sensors":[],"silent":[],"late_records":0}
{"event_type":"collect_stats","ts":"2026-12-02T00:00:00Z","sensor":"fleet","records":1,"bad_records":0,"late_records":0,"partials_published":0,"duplicate_partials":0,"windows":1}
`
	if d := read(t, jsonl("s1", 10)+extra); d.Skipped != 0 {
		t.Errorf("%d lines skipped: %v", d.Skipped, d.Problems)
	}
}

// TestFloodAndAlertRecordsAreRead: the golden demo output (a flood
// summarized in a flood record, alert records) reads without a skipped
// line, and every new source is counted once, whether it has a source
// record or is in a flood record (--flood-sources: both, counted once).
func TestFloodAndAlertRecordsAreRead(t *testing.T) {
	golden, err := os.ReadFile("../../testdata/demo.golden.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	d := read(t, string(golden))
	s := d.Sensors["golden"]
	if d.Skipped != 0 || s == nil || s.recorded() != 2091 || s.Flooded != 2000 || s.Alerts == 0 {
		t.Fatalf("skipped %d %v; sensor %+v", d.Skipped, d.Problems, s)
	}
	both := `{"event_type":"source","ts":"2009-01-10T00:00:01.000000000Z","sensor":"f","src_ip":"192.0.2.1","flood":true}` + "\n" +
		`{"event_type":"flood","ts":"2009-01-10T00:05:00.000000000Z","sensor":"f","sources":1}` + "\n"
	if s := read(t, both).Sensors["f"]; s.recorded() != 1 {
		t.Errorf("a flood source with its record counted %d times", s.recorded())
	}
}

// TestEveryGoldenRecordIsRead: every record type the sensor writes in the
// golden outputs is one the report knows (it named the `scanner` records
// "unknown" and skipped them), and an inbound scanner's table shows each
// episode as its latest record says (an update replaces the record at
// the threshold).
func TestEveryGoldenRecordIsRead(t *testing.T) {
	for _, f := range []string{"../../testdata/demo.golden.jsonl", "../../testdata/scan.golden.jsonl"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if d := read(t, string(b)); d.Skipped != 0 {
			t.Errorf("%s: %d lines skipped: %v", f, d.Skipped, d.Problems)
		}
	}
	b, _ := os.ReadFile("../../testdata/scan.golden.jsonl")
	ins := read(t, string(b)).Sensors["golden"].InboundScanners()
	if len(ins) != 2 || ins[0].Src != "203.0.113.5" || ins[0].Syns != 400 || ins[0].Targets != 400 || ins[1].Kind != "port_scan" {
		t.Errorf("scanners: %+v", ins)
	}
	var html bytes.Buffer
	if err := read(t, string(b)).HTML(&html, nil); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(html.String(), "<h3>Scanners (2 episodes") {
		t.Error("no table of scanners in the page")
	}
	// The demo's last window is undecided: the headline verdict (the one
	// before) says as of when it holds.
	demo, _ := os.ReadFile("../../testdata/demo.golden.jsonl")
	html.Reset()
	if err := read(t, string(demo)).HTML(&html, nil); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(html.String(), "As of the window ending 2009-01-10 05:55; the window after it, to 2009-01-10 06:00, was undecided (insufficient_data).") {
		t.Error("the headline verdict does not say as of when")
	}
}

// TestGiantLineIsSkipped: a line longer than any record (17 MiB of NUL
// bytes, a crash's tail) is named and skipped; the records before and
// after it are read (it ended the whole read: "token too long"). Lines
// longer than the reader's buffer but short enough are still records.
func TestGiantLineIsSkipped(t *testing.T) {
	good := jsonl("s1", 4)
	lines := strings.Split(strings.TrimSpace(good), "\n")
	padded := strings.Replace(lines[1], `"sensor":"s1"`, `"sensor":"s1","pad":"`+strings.Repeat("x", 200<<10)+`"`, 1)
	in := lines[0] + "\n" + padded + "\n" + strings.Repeat("\x00", 17<<20) + "\n" + strings.Join(lines[2:], "\n") // no newline at the end
	d := read(t, in)
	if d.Skipped != 1 || len(d.Problems) != 1 || !strings.HasPrefix(d.Problems[0], "in0:3: longer than 16 MiB") {
		t.Errorf("%d skipped: %q", d.Skipped, d.Problems)
	}
	if d.Lines != len(lines)+1 {
		t.Errorf("%d lines read, want %d", d.Lines, len(lines)+1)
	}
	if s := d.Sensors["s1"]; s == nil || len(s.Windows) != 4 {
		t.Errorf("the records around the giant line: %+v", s)
	}
}

// TestPacketsOverEveryRun: a live sensor appends run after run to one
// file, each run's stats counting from 0; the report counted the last run's
// packets beside every run's windows. Each run's final stats record is
// added up, and so is the latest of a run that ended without one.
func TestPacketsOverEveryRun(t *testing.T) {
	stats := func(ts string, final bool, pkts, syns int) string {
		return fmt.Sprintf(`{"event_type":"stats","ts":"%s","sensor":"s1","final":%v,"packets":%d,"syn_matched":%d}`+"\n", ts, final, pkts, syns)
	}
	in := jsonl("s1", 10) +
		stats("2009-01-10T00:10:00Z", false, 100, 10) + stats("2009-01-10T00:20:00Z", true, 150, 15) + // run 1
		stats("2009-01-11T00:10:00Z", false, 40, 4) + stats("2009-01-11T00:20:00Z", false, 70, 7) + // run 2, crashed
		stats("2009-01-12T00:10:00Z", false, 20, 2) + stats("2009-01-12T00:20:00Z", true, 30, 3) + // run 3
		stats("2009-01-13T00:10:00Z", false, 5, 1) // run 4, going on
	s := read(t, in).Sensors["s1"]
	if s.Packets != 150+70+30+5 || s.SynMatch != 15+7+3+1 {
		t.Errorf("packets %d, SYNs %d; want %d and %d", s.Packets, s.SynMatch, 150+70+30+5, 15+7+3+1)
	}
}

// TestRegimeSinceIsTheRecords: "This model since" is the growth record's
// regime_since (it was the end of the window where regime_changed was
// set, five minutes late), and a step or saturating verdict has its own
// colour (both were drawn grey, as insufficient data).
func TestRegimeSinceIsTheRecords(t *testing.T) {
	g := `{"event_type":"growth","ts":"2009-01-10T07:05:00Z","sensor":"s1","window_start":"2009-01-10T07:00:00Z","window_end":"2009-01-10T07:05:00Z","model":"exponential","regime_changed":true,"regime_since":"2009-01-10T07:00:00Z"}
{"event_type":"growth","ts":"2009-01-10T07:10:00Z","sensor":"s1","window_start":"2009-01-10T07:05:00Z","window_end":"2009-01-10T07:10:00Z","model":"saturating","regime_since":"2009-01-10T07:00:00Z"}
`
	s := read(t, jsonl("s1", 10)+g).Sensors["s1"]
	if want := time.Date(2009, 1, 10, 7, 0, 0, 0, time.UTC).UnixNano(); s.regimeSince() != want {
		t.Errorf("regime since %v", time.Unix(0, s.regimeSince()).UTC())
	}
	for _, m := range []string{"step", "saturating"} {
		if modelColor(m) == modelColor("insufficient_data") {
			t.Errorf("%s drawn as insufficient data", m)
		}
	}
}

// TestWindowInTwoPartsIsAdded: a sensor stopped and started again within
// a window (its state file kept) writes that window twice, each part with
// its coverage; the parts add up (the report drew the first and named the
// second a duplicate, its bars a source short of the header's total).
// Two whole windows with one start (overlapping inputs) stay one, named.
func TestWindowInTwoPartsIsAdded(t *testing.T) {
	win := func(syn, active, newSrc int, cov float64) string {
		return fmt.Sprintf(`{"event_type":"window","ts":%q,"sensor":"s","window_start":%q,"window_end":%q,"syn_packets":%d,"active_sources":%d,"new_sources":%d,"new_prefixes":%d,"flood_new_sources":0,"coverage":%v,"warmup":false}`+"\n",
			ts(5*time.Minute), ts(0), ts(5*time.Minute), syn, active, newSrc, newSrc, cov)
	}
	d := read(t, win(2015, 2010, 2000, 0.5)+win(22, 5, 1, 0.5))
	ws := d.Sensors["s"].Windows
	if len(ws) != 1 || ws[0].Syn != 2037 || ws[0].New != 2001 || ws[0].Active != 2015 || ws[0].Coverage != 1 || len(d.Problems) != 0 {
		t.Errorf("windows %+v, problems %v", ws, d.Problems)
	}
	d = read(t, win(10, 3, 2, 1)+win(12, 4, 3, 1))
	if ws := d.Sensors["s"].Windows; len(ws) != 1 || ws[0].Syn != 10 || len(d.Notes) != 1 || len(d.Problems) != 0 {
		t.Errorf("two whole windows: %+v, notes %v, problems %v", ws, d.Notes, d.Problems)
	}
}

// Source records whose keys the sensor never writes so are read as the
// general path (Go's JSON decoder) reads them, not by the fast path: a key
// given twice (the last value taken: src_ip, sensor, event_type), a space
// before a colon, another case (keys match case-insensitively), a flood key
// spaced.
func TestKeysWrittenOtherwiseReadAsTheGeneralPath(t *testing.T) {
	in := jsonl("gw1", 5) +
		`{"event_type":"source","ts":"2009-01-10T00:00:01Z","sensor":"gw1","src_ip":"203.0.113.1","src_ip":"198.51.100.1"}` + "\n" +
		`{"event_type":"source","ts":"2009-01-10T00:00:02Z","sensor":"gw9","sensor":"gw1","src_ip":"198.51.100.2"}` + "\n" +
		`{"event_type":"source","ts":"2009-01-10T00:00:03Z","sensor":"gw1","src_ip":"203.0.113.3","event_type":"sighting"}` + "\n" +
		`{"event_type":"source","ts":"2009-01-10T00:00:04Z","sensor":"gw1","src_ip":"203.0.113.4","SRC_IP":"198.51.100.4"}` + "\n" +
		`{"event_type":"source","ts":"2009-01-10T00:00:05Z","sensor":"gw1","src_ip" :"203.0.113.5","src_ip":"198.51.100.5"}` + "\n" +
		`{"event_type":"source","ts":"2009-01-10T00:00:06Z","sensor":"gw1","src_ip":"203.0.113.6","flood": true}` + "\n" +
		`{"event_type":"source","ts":"2009-01-10T00:00:07Z","sensor":"gw1","Sensor":"gw9","src_ip":"203.0.113.7"}` + "\n"
	d := read(t, in)
	gw1, gw9 := d.Sensors["gw1"], d.Sensors["gw9"]
	if gw1 == nil || gw9 == nil {
		t.Fatalf("sensors %v, want gw1 and gw9 (the last sensor key, case aside)", d.SensorIDs())
	}
	if got := gw1.Prefixes["198.51.100.0/24"]; got != 4 {
		t.Errorf("gw1's 198.51.100.0/24: %d new sources, want 4 (prefixes %v)", got, gw1.Prefixes)
	}
	if got := gw1.Prefixes["203.0.113.0/24"]; got != 0 {
		t.Errorf("gw1's 203.0.113.0/24: %d new sources (a first value, a sighting or a flood source), want 0", got)
	}
	if gw9.Sources != 1 || gw9.Prefixes["203.0.113.0/24"] != 1 {
		t.Errorf("gw9: %d new sources, prefixes %v; want the one record whose last sensor key names it", gw9.Sources, gw9.Prefixes)
	}
}

// FuzzSourceFastPath: whatever line the fast path takes, the general path
// reads the same: the same sensor, source count and prefix, or the same
// complaint.
func FuzzSourceFastPath(f *testing.F) {
	for _, s := range []string{
		`{"event_type":"source","ts":"2009-01-10T00:00:01Z","sensor":"gw1","src_ip":"198.51.100.1","dst_port":445}`,
		`{"event_type":"source","ts":"2009-01-10T00:00:01Z","sensor":"gw1","src_ip":"2001:db8::1","returning":false}`,
		`{"event_type":"source","sensor":"gw1","src_ip":"203.0.113.1","SRC_IP":"198.51.100.1"}`,
		`{"event_type":"source","sensor":"a","src_ip":"nonsense"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		fast := NewData()
		reason, done := fast.addSource(b)
		if !done {
			return
		}
		slow := NewData()
		want := slow.addRecord(b)
		if (reason == "") != (want == "") {
			t.Fatalf("%q: fast path %q, general path %q", b, reason, want)
		}
		if reason != "" {
			return
		}
		for id, s := range fast.Sensors {
			o := slow.Sensors[id]
			if o == nil || o.Sources != s.Sources || !maps.Equal(o.Prefixes, s.Prefixes) || o.Flooded != s.Flooded {
				t.Fatalf("%q: fast path sensor %q %+v, general path %+v", b, id, s, o)
			}
		}
		if len(fast.Sensors) != len(slow.Sensors) {
			t.Fatalf("%q: sensors %v against %v", b, fast.SensorIDs(), slow.SensorIDs())
		}
	})
}

// TestCapitalizedByLetter: the verdict's model is capitalized by letter,
// not by byte (a model from hostile JSONL starting with a multibyte
// character was cut in two and shown as U+FFFD; an empty one panicked).
func TestCapitalizedByLetter(t *testing.T) {
	for in, want := range map[string]string{"exponential": "Exponential", "élan": "Élan", "": "", "日本": "日本"} {
		if got := capitalized(in); got != want {
			t.Errorf("capitalized(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestHostileCountsDoNotWrap: counts near 2^64 in hostile JSONL are held
// at the largest, not wrapped (2^64-1 packets and 5 more read as 4).
func TestHostileCountsDoNotWrap(t *testing.T) {
	if sat(math.MaxUint64, 5) != math.MaxUint64 || sat(2, 3) != 5 {
		t.Errorf("sat: %d, %d", sat(math.MaxUint64, 5), sat(2, 3))
	}
	s := &Sensor{Sources: 3, Flooded: math.MaxUint64}
	if s.recorded() != math.MaxUint64 {
		t.Errorf("recorded %d", s.recorded())
	}
}

// TestMetaLineCountsTheWindows: a fleet collector's output (window and
// growth records, no source records) was reported as "0 new sources
// recorded" beside windows that held 2091; and a run with the classifier
// off was "No verdict yet: too few windows or too few new sources".
func TestMetaLineCountsTheWindows(t *testing.T) {
	golden, err := os.ReadFile("../../testdata/demo.golden.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	var windowsOnly, noGrowth strings.Builder
	for _, l := range strings.SplitAfter(string(golden), "\n") {
		if strings.Contains(l, `"event_type":"window"`) || strings.Contains(l, `"event_type":"growth"`) {
			windowsOnly.WriteString(l)
		}
		if !strings.Contains(l, `"event_type":"growth"`) {
			noGrowth.WriteString(l)
		}
	}
	for _, tc := range []struct{ in, want string }{
		{windowsOnly.String(), "; 2091 new sources (2000 of them flood sources"},
		{noGrowth.String(), "the classifier off"},
		{string(golden), "; 2091 new sources (2000 of them flood sources"},
	} {
		var b strings.Builder
		if err := read(t, tc.in).HTML(&b, []string{"x.jsonl"}); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(b.String(), tc.want) {
			i := strings.Index(b.String(), `class="meta"`)
			t.Errorf("want %q in the report: %.300s", tc.want, b.String()[max(i, 0):])
		}
	}
}

// TestMixedWindowLengthsSaid: the same capture's records at 5-minute and
// at 1-minute windows, reported together, added up to twice its new
// sources without a word; now the report says why.
func TestMixedWindowLengthsSaid(t *testing.T) {
	golden, err := os.ReadFile("../../testdata/demo.golden.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	one := `{"event_type":"window","ts":"2009-01-10T00:01:00Z","sensor":"golden","window_start":"2009-01-10T00:00:00Z","window_end":"2009-01-10T00:01:00Z","syn_packets":3,"active_sources":1,"new_sources":1,"coverage":1}` + "\n"
	d := read(t, string(golden), one)
	if len(d.Notes) == 0 || !strings.Contains(d.Notes[0], "5m0s and 1m0s") || !strings.Contains(d.Notes[0], "--window") || len(d.Problems) != 0 {
		t.Errorf("notes %q, problems %q", d.Notes, d.Problems)
	}
	if d := read(t, string(golden)); len(d.Problems) != 0 || len(d.Notes) != 0 {
		t.Errorf("one run: problems %q, notes %q", d.Problems, d.Notes)
	}
}

// TestRunsInAnyOrder: one live run's output rotated into three files and
// given newest first (sensor report sensor.jsonl*: sensor.jsonl, .1, .2)
// is one run, as in order: read in order, a count that went down was taken
// for a new run and the packets were added up twice (a review). The
// busiest sources are the latest summary's, not the one read last.
func TestRunsInAnyOrder(t *testing.T) {
	stats := func(ts string, final bool, pkts int) string {
		return fmt.Sprintf(`{"event_type":"stats","ts":"%s","sensor":"s1","final":%v,"packets":%d,"syn_matched":%d}`+"\n", ts, final, pkts, pkts/10)
	}
	summary := func(ts, src string) string {
		return fmt.Sprintf(`{"event_type":"summary","ts":%q,"sensor":"s1","top_sources":[{"src_ip":%q,"syn_packets":40,"first_seen":%q,"last_seen":%q,"distinct_targets_est":12,"distinct_ports_est":3}]}`+"\n", ts, src, ts, ts)
	}
	day1 := jsonl("s1", 10) + stats("2009-01-10T06:00:00Z", false, 100) + stats("2009-01-10T12:00:00Z", false, 200)
	day2 := stats("2009-01-11T06:00:00Z", false, 300) + stats("2009-01-11T12:00:00Z", false, 400)
	day3 := stats("2009-01-12T06:00:00Z", false, 500) + stats("2009-01-12T12:00:00Z", true, 600) + summary("2009-01-12T12:00:00Z", "192.0.2.99")
	older := summary("2009-01-09T12:00:00Z", "192.0.2.1") // an earlier run's, in an older file
	for _, order := range [][]string{{older, day1, day2, day3}, {day3, day2, day1, older}, {day2, older, day3, day1}} {
		s := read(t, order...).Sensors["s1"]
		if s.Packets != 600 || s.SynMatch != 60 {
			t.Errorf("packets %d, SYNs %d; want the one run's 600 and 60", s.Packets, s.SynMatch)
		}
		if len(s.Top) != 1 || s.Top[0].Src != "192.0.2.99" {
			t.Errorf("busiest sources %+v, want the latest summary's", s.Top)
		}
	}
}

// TestRecordsCountedOnce: the page's "N records" counts each record once:
// not the blank lines, the skipped ones, nor a file given twice (it said
// 494 records for the demo's 247 given twice, a review); the repetition is
// noted, not called skipped.
func TestRecordsCountedOnce(t *testing.T) {
	in := jsonl("s1", 10)
	n := strings.Count(in, "\n")
	d := read(t, in, in+"\n\n\n{not json}\n")
	if d.Records != n || d.Duplicates != n || len(d.Problems) != 1 || len(d.Notes) != 1 || !strings.Contains(d.Notes[0], "more than once") {
		t.Errorf("records %d of %d, duplicates %d, problems %q, notes %q", d.Records, n, d.Duplicates, d.Problems, d.Notes)
	}
	var b strings.Builder
	if err := d.HTML(&b, []string{"a", "b"}); err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("%d records from", n); !strings.Contains(b.String(), want) {
		t.Errorf("the page does not say %q", want)
	}
}
