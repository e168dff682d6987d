package report

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// ErrNoWindows is returned when the input holds no window record: there is
// nothing to draw.
var ErrNoWindows = errors.New("no window records: nothing to draw (is this the sensor's JSONL output?)")

// ChartWidth is the width the page draws charts at (they scale down on a
// narrow screen and in print).
const ChartWidth = 1100

const css = `
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;color:#111;margin:24px auto;max-width:1160px;padding:0 16px}
h1{font-size:22px;margin:0 0 4px} h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}
h3{font-size:15px;margin:18px 0 6px}
.meta{color:#555;font-size:13px}
.verdict{font-size:16px;padding:10px 14px;border-radius:6px;margin:10px 0;border:1px solid #ccc}
.verdict.exponential{background:#fde9e7;border-color:#e5a29c}.verdict.linear{background:#e8f5ec;border-color:#9ccfab}
.verdict.declining{background:#e8f0fb;border-color:#a3bfe6}.verdict.none{background:#f3f3f3}
.verdict.saturating{background:#f5ecfa;border-color:#c9a6de}.verdict.step{background:#fdf5e1;border-color:#e3c677}
svg.chart{width:100%;height:auto;display:block;margin:8px 0 16px;border:1px solid #e5e5e5}
table{border-collapse:collapse;font-size:13px;margin:4px 0 12px} th,td{padding:3px 10px;border-bottom:1px solid #e5e5e5;text-align:left}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
.cols{display:flex;gap:32px;flex-wrap:wrap}
.problems{font-size:12px;color:#7a3b00;background:#fff6e8;border:1px solid #f0d2a8;padding:8px 12px;border-radius:4px}
@media print{body{margin:0;max-width:none}.chart,table{page-break-inside:avoid}h2{page-break-before:auto}}
`

// HTML writes the whole report page: self-contained, no script, no fetch.
func (d *Data) HTML(w io.Writer, inputs []string) error {
	ids := d.SensorIDs()
	if len(ids) == 0 {
		return ErrNoWindows
	}
	var b strings.Builder
	b.WriteString("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">")
	b.WriteString(`<meta name="viewport" content="width=device-width, initial-scale=1">`)
	fmt.Fprintf(&b, "<title>synscope report: %s</title><style>%s</style></head><body>\n", esc(strings.Join(ids, ", ")), css)
	b.WriteString("<h1>synscope: new sources scanning, and how they grow</h1>\n")
	fmt.Fprintf(&b, `<p class="meta">%d records from %s; %d sensor(s): %s. Times are UTC.</p>`+"\n",
		d.Records, esc(strings.Join(inputs, ", ")), len(ids), esc(strings.Join(ids, ", ")))
	if d.Skipped > 0 || len(d.Problems) > 0 {
		fmt.Fprintf(&b, `<div class="problems"><b>%d line(s) skipped.</b><ul>`, d.Skipped)
		for _, p := range d.Problems {
			fmt.Fprintf(&b, "<li>%s</li>", esc(p))
		}
		if d.Skipped > len(d.Problems) {
			fmt.Fprintf(&b, "<li>… and %d more</li>", d.Skipped-len(d.Problems))
		}
		b.WriteString("</ul></div>\n")
	}
	if len(d.Notes) > 0 {
		b.WriteString(`<div class="problems"><b>Noted.</b><ul>`)
		for _, n := range d.Notes {
			fmt.Fprintf(&b, "<li>%s</li>", esc(n))
		}
		b.WriteString("</ul></div>\n")
	}
	for _, id := range ids {
		d.Sensors[id].section(&b)
	}
	b.WriteString("</body></html>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func (s *Sensor) section(b *strings.Builder) {
	x0, x1 := s.span()
	fmt.Fprintf(b, "<h2>Sensor %s</h2>\n", esc(s.ID))
	all, flood := s.newSources()
	fmt.Fprintf(b, `<p class="meta">%d windows from %s to %s; %d new sources`, len(s.Windows),
		time.Unix(0, x0).UTC().Format("2006-01-02 15:04"), time.Unix(0, x1).UTC().Format("2006-01-02 15:04"), all)
	if flood > 0 {
		fmt.Fprintf(b, " (%d of them flood sources, summarized in flood records)", flood)
	}
	if s.Alerts > 0 {
		fmt.Fprintf(b, "; %d alerts", s.Alerts)
	}
	if s.Packets > 0 {
		fmt.Fprintf(b, "; %d packets, %d SYNs matched", s.Packets, s.SynMatch)
	}
	b.WriteString(".</p>\n")
	if v := s.lastVerdict(); v != nil {
		fmt.Fprintf(b, `<div class="verdict %s"><b>%s</b>: %s.`, esc(v.Model), esc(capitalized(v.Model)),
			esc(strings.TrimPrefix(verdictText(v), "latest verdict: "+v.Model+" ")))
		if since := s.regimeSince(); since != 0 {
			fmt.Fprintf(b, " This model since %s.", time.Unix(0, since).UTC().Format("2006-01-02 15:04"))
		}
		if last := &s.Verdicts[len(s.Verdicts)-1]; last != v {
			// Later windows were undecided: say as of when this holds.
			after := "the window after it, to %s, was undecided (%s)"
			if n := s.undecidedAfter(v); n > 1 {
				after = fmt.Sprintf("the %d windows after it, to %%s, were undecided (the last: %%s)", n)
			}
			fmt.Fprintf(b, " As of the window ending %s; "+after+".", time.Unix(0, v.End).UTC().Format("2006-01-02 15:04"),
				time.Unix(0, last.End).UTC().Format("2006-01-02 15:04"), esc(last.Model))
		}
		b.WriteString("</div>\n")
	} else if len(s.Verdicts) == 0 && len(s.Windows) > 0 {
		// With the classifier on, every window has its growth record.
		b.WriteString(`<div class="verdict none">No growth records: the run had the classifier off (--growth=false).</div>` + "\n")
	} else {
		b.WriteString(`<div class="verdict none">No verdict yet: too few windows or too few new sources.</div>` + "\n")
	}
	for _, c := range s.Charts(ChartWidth) {
		b.WriteString(c.SVG())
		b.WriteByte('\n')
	}
	b.WriteString(`<div class="cols">`)
	if len(s.Top) > 0 {
		b.WriteString("<div><h3>Busiest sources</h3><table><tr><th>source</th><th class=n>SYNs</th><th>first seen</th><th>last seen</th><th class=n>targets (est.)</th><th class=n>ports (est.)</th></tr>")
		for _, t := range s.Top {
			ports := "" // summaries of sensors before the reach was kept have none
			if t.DistinctPortsEst > 0 {
				ports = strconv.FormatInt(t.DistinctPortsEst, 10)
			}
			fmt.Fprintf(b, "<tr><td>%s</td><td class=n>%d</td><td>%s</td><td>%s</td><td class=n>%d</td><td class=n>%s</td></tr>", esc(t.Src), t.Syns,
				esc(shortTime(t.FirstSeen)), esc(shortTime(t.Last)), t.DistinctTargetEst, ports)
		}
		b.WriteString("</table></div>")
	}
	for _, t := range []struct {
		title, col string
		top        []PrefixCount
	}{
		{"Prefixes with the most new sources", "prefix", s.TopPrefixes(10)},
		{"Countries with the most new sources", "country", s.TopCountries(10)},
		{"Networks with the most new sources", "network", s.TopNetworks(10)},
	} {
		if len(t.top) == 0 {
			continue
		}
		fmt.Fprintf(b, "<div><h3>%s</h3><table><tr><th>%s</th><th class=n>new sources</th></tr>", t.title, t.col)
		for _, p := range t.top {
			fmt.Fprintf(b, "<tr><td>%s</td><td class=n>%d</td></tr>", esc(p.Prefix), p.N)
		}
		b.WriteString("</table></div>")
	}
	b.WriteString("</div>\n")
	if ins := s.InboundScanners(); len(ins) > 0 {
		fmt.Fprintf(b, "<h3>Scanners (%d episodes, most SYNs first)</h3><table><tr><th>source</th><th>kind</th><th>tool</th><th class=n>SYNs</th><th class=n>targets</th><th class=n>ports</th><th>first seen</th><th>last record</th><th>network</th></tr>", len(ins))
		for i, sc := range ins {
			if i == 100 {
				fmt.Fprintf(b, "<tr><td colspan=9>… %d more</td></tr>", len(ins)-100)
				break
			}
			network := sc.Country
			if sc.ASN != 0 {
				network = strings.TrimSpace(fmt.Sprintf("%s AS%d %s", sc.Country, sc.ASN, sc.ASOrg))
			}
			if sc.Benign != "" {
				network = strings.TrimSpace(network + " (benign: " + sc.Benign + ")")
			}
			fmt.Fprintf(b, "<tr><td>%s</td><td>%s</td><td>%s</td><td class=n>%d</td><td class=n>%d</td><td class=n>%d</td><td>%s</td><td>%s</td><td>%s</td></tr>",
				esc(sc.Src), esc(sc.Kind), esc(sc.Tool), sc.Syns, sc.Targets, sc.Ports, esc(shortTime(sc.FirstSeen)),
				time.Unix(0, sc.Ts).UTC().Format("2006-01-02 15:04:05"), esc(network))
		}
		b.WriteString("</table>\n")
	}
	if len(s.Scanners) > 0 {
		fmt.Fprintf(b, "<h3>Our own hosts scanning (%d)</h3><table><tr><th>when</th><th>host</th><th>direction</th><th class=n>SYNs</th><th class=n>targets (est.)</th><th class=n>SYNs/min</th></tr>", len(s.Scanners))
		for i, sc := range s.Scanners {
			if i == 100 {
				fmt.Fprintf(b, "<tr><td colspan=6>… %d more</td></tr>", len(s.Scanners)-100)
				break
			}
			fmt.Fprintf(b, "<tr><td>%s</td><td>%s</td><td>%s</td><td class=n>%d</td><td class=n>%d</td><td class=n>%s</td></tr>",
				time.Unix(0, sc.Ts).UTC().Format("2006-01-02 15:04:05"), esc(sc.Src), esc(sc.Direction), sc.Syns, sc.Targets, fmtNum(round3(sc.PerMinute)))
		}
		b.WriteString("</table>\n")
	}
}

// regimeSince is when the latest verdict's model took over: the end of the
// last window whose verdict changed regime, 0 when none did.
func (s *Sensor) regimeSince() int64 {
	for i := len(s.Verdicts) - 1; i >= 0; i-- {
		if v := &s.Verdicts[i]; v.RegimeSince != 0 {
			return v.RegimeSince // the record's own
		} else if v.RegimeChanged {
			return v.Start // a sensor that did not write regime_since: the window it changed in
		}
	}
	return 0
}

func shortTime(s string) string {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return s
	}
	return t.UTC().Format("2006-01-02 15:04:05")
}

// Chart returns the named chart (see ChartNames) of one sensor: the only
// one with windows, or the one given.
func (d *Data) Chart(name, sensor string, width int) (*Chart, error) {
	ids := d.SensorIDs()
	if len(ids) == 0 {
		return nil, ErrNoWindows
	}
	id := sensor
	if id == "" {
		if len(ids) > 1 {
			return nil, fmt.Errorf("the input holds %d sensors (%s): pick one with --sensor", len(ids), strings.Join(ids, ", "))
		}
		id = ids[0]
	}
	s := d.Sensors[id]
	if s == nil || len(s.Windows) == 0 {
		return nil, fmt.Errorf("no windows for sensor %q (sensors: %s)", id, strings.Join(ids, ", "))
	}
	for i, n := range ChartNames {
		if n == name {
			return s.Charts(width)[i], nil
		}
	}
	return nil, fmt.Errorf("unknown chart %q (one of: %s)", name, strings.Join(ChartNames, ", "))
}

// InboundScanners are the scanning episodes of s, each as its latest
// record says, most SYNs first (then by source, for the same page every
// time).
func (s *Sensor) InboundScanners() []Inbound {
	out := make([]Inbound, 0, len(s.Inbound))
	for _, in := range s.Inbound {
		out = append(out, in)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := &out[i], &out[j]
		if a.Syns != b.Syns {
			return a.Syns > b.Syns
		}
		if a.Src != b.Src {
			return a.Src < b.Src
		}
		return a.FirstSeen < b.FirstSeen
	})
	return out
}

// undecidedAfter counts the verdicts after v (all of them undecided).
func (s *Sensor) undecidedAfter(v *Verdict) int {
	for i := range s.Verdicts {
		if &s.Verdicts[i] == v {
			return len(s.Verdicts) - 1 - i
		}
	}
	return 0
}

// capitalized is s with its first letter upper case (a letter, not a byte:
// a model name from hostile JSONL that starts with a multibyte character
// was cut in two and shown as U+FFFD).
func capitalized(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	if n == 0 {
		return s
	}
	return string(unicode.ToUpper(r)) + s[n:]
}
