package report

import (
	"fmt"
	"math"
	"time"
)

// Colours, shared by SVG and PNG.
const (
	colNew        = "#3b7dd8"
	colFlood      = "#e8a33d"
	colCumulative = "#222222"
	colSteady     = "#2e9e5b"
	colMultiply   = "#d6423b"
	colWarmup     = "#f3f3f3"
	colSyn        = "#7a4fc2"
	colActive     = "#2aa3a3"
	colPrefix     = "#c25b8c"
	colConfidence = "#222222"
)

// modelColor is a verdict's colour in the timeline.
func modelColor(m string) string {
	switch m {
	case "exponential":
		return "#f4b6b2"
	case "linear":
		return "#bfe3c9"
	case "declining":
		return "#bcd3f0"
	case "saturating":
		return "#e3cdf0"
	case "step":
		return "#f6e0a6"
	}
	return "#e6e6e6"
}

// ChartNames are the charts a sensor's section holds, in order; --chart
// picks one of them for SVG or PNG output.
var ChartNames = []string{"new-sources", "verdict", "activity", "spread"}

// Charts builds a sensor's charts at the given width.
func (s *Sensor) Charts(width int) []*Chart {
	return []*Chart{s.newSourcesChart(width), s.verdictChart(width), s.activityChart(width), s.spreadChart(width)}
}

func (s *Sensor) span() (int64, int64) {
	return s.Windows[0].Start, s.Windows[len(s.Windows)-1].End
}

func (s *Sensor) chart(id, title string, width, height int) *Chart {
	x0, x1 := s.span()
	return &Chart{ID: s.ID + "-" + id, Title: title, W: width, H: height, X0: x0, X1: x1}
}

// warmupBands merges runs of warm-up windows into bands.
func (s *Sensor) warmupBands() []Band {
	var out []Band
	for _, w := range s.Windows {
		if !w.Warmup {
			continue
		}
		if n := len(out); n > 0 && out[n-1].X1 == w.Start {
			out[n-1].X1 = w.End
			continue
		}
		out = append(out, Band{X0: w.Start, X1: w.End, Color: colWarmup, Legend: "warm-up",
			Title: "warm-up: less than one lookback since the first packet, so every source counts as new"})
	}
	return out
}

// lastVerdict is the latest verdict that is not insufficient_data, or nil.
func (s *Sensor) lastVerdict() *Verdict {
	for i := len(s.Verdicts) - 1; i >= 0; i-- {
		if s.Verdicts[i].Model != "insufficient_data" {
			return &s.Verdicts[i]
		}
	}
	return nil
}

func (s *Sensor) newSourcesChart(width int) *Chart {
	c := s.chart("new-sources", "New sources per window", width, 320)
	c.Bands = s.warmupBands()
	var max, cum, flood float64
	cumLine := Line{Name: "cumulative (right)", Color: colCumulative, Right: true, Class: "cumulative"}
	for _, w := range s.Windows {
		organic := float64(w.New - min(w.Flood, w.New))
		when := time.Unix(0, w.Start).UTC().Format("2006-01-02 15:04")
		c.Bars = append(c.Bars, Bar{X0: w.Start, X1: w.End, Y: organic, Color: colNew, Class: "bar new", Legend: "new sources",
			Title: fmt.Sprintf("%s: %d new sources", when, uint64(organic))})
		if w.Flood > 0 {
			c.Bars = append(c.Bars, Bar{X0: w.Start, X1: w.End, Base: organic, Y: float64(w.Flood), Color: colFlood, Class: "bar flood",
				Legend: "flood sources (cut at the top)", Title: fmt.Sprintf("%s: %d flood sources (spoofed bursts, not growth)", when, w.Flood)})
			flood = math.Max(flood, float64(w.Flood))
		}
		max = math.Max(max, organic) // floods are cut at the top, not scaled to
		cum += organic
		cumLine.Pts = append(cumLine.Pts, Pt{w.End, cum})
	}
	if v := s.lastVerdict(); v != nil {
		steady, multiply := s.fitted(v)
		c.Lines = append(c.Lines, steady, multiply)
		for _, p := range append(steady.Pts, multiply.Pts...) {
			max = math.Max(max, p.Y)
		}
		c.Note = verdictText(v)
	} else {
		c.Note = "no verdict yet: too few windows or new sources"
	}
	c.Lines = append(c.Lines, cumLine)
	c.Left = Axis{Label: "new sources / window"}
	c.Left.Max, _ = niceMax(max)
	if flood > 0 {
		c.Note += fmt.Sprintf("; floods (up to %d a window) cut at the top", uint64(flood))
	}
	r := Axis{Label: "cumulative"}
	r.Max, _ = niceMax(cum)
	c.Right = &r
	return c
}

// fitted draws a verdict's two fits over its horizon, as new sources per
// window: the steady rate, and the multiplying curve c·e^(r·t) whose total
// over the horizon equals the new sources counted there (as the Poisson
// fit's does).
func (s *Sensor) fitted(v *Verdict) (steady, multiply Line) {
	steady = Line{Name: fmt.Sprintf("steady fit (%s/h)", fmtNum(round3(v.Steady))), Color: colSteady, Dashed: true, Class: "fit-steady"}
	name := "multiplying fit"
	if v.Doubling > 0 {
		name = fmt.Sprintf("multiplying fit (doubles in %s h)", fmtNum(round3(v.Doubling)))
	}
	multiply = Line{Name: name, Color: colMultiply, Dashed: true, Class: "fit-multiplying"}
	x0, x1 := s.span()
	h := math.Min(math.Max(v.Horizon, 0), float64(x1-x0)/float64(time.Hour)) // a horizon beyond the data is cut to it
	if math.IsNaN(h) {
		h = 0
	}
	hs := v.End - int64(h*float64(time.Hour))
	n, r := float64(v.NewSources), v.Rate
	total := h
	if math.Abs(r) > 1e-9 {
		total = math.Expm1(r*h) / r
	}
	for _, w := range s.Windows {
		if w.Start < hs || w.End > v.End {
			continue
		}
		t0, t1 := float64(w.Start-hs)/float64(time.Hour), float64(w.End-hs)/float64(time.Hour)
		mid := w.Start + (w.End-w.Start)/2
		steady.Pts = append(steady.Pts, Pt{mid, v.Steady * (t1 - t0)})
		part := t1 - t0
		if math.Abs(r) > 1e-9 {
			part = (math.Exp(r*t1) - math.Exp(r*t0)) / r
		}
		if total > 0 && !math.IsInf(total, 0) {
			multiply.Pts = append(multiply.Pts, Pt{mid, n * part / total})
		}
	}
	return steady, multiply
}

func round3(v float64) float64 { return math.Round(v*1000) / 1000 }

func verdictText(v *Verdict) string {
	t := fmt.Sprintf("latest verdict: %s (confidence %.2f, last %s h)", v.Model, v.Confidence, fmtNum(v.Horizon))
	if v.Model == "exponential" && v.Doubling > 0 {
		t += fmt.Sprintf(", doubling every %s h", fmtNum(round3(v.Doubling)))
	}
	if v.Steady > 0 {
		t += fmt.Sprintf(", steady rate %s/h", fmtNum(round3(v.Steady)))
	}
	return t
}

func (s *Sensor) verdictChart(width int) *Chart {
	c := s.chart("verdict", "Verdict over time (colour) and its confidence (line)", width, 220)
	c.Left = Axis{Label: "confidence", Max: 1}
	conf := Line{Name: "confidence", Color: colConfidence, Class: "confidence"}
	var prev string
	for _, v := range s.Verdicts {
		title := fmt.Sprintf("%s: %s (confidence %.2f)", time.Unix(0, v.End).UTC().Format("2006-01-02 15:04"), v.Model, v.Confidence)
		if n := len(c.Bands); n > 0 && c.Bands[n-1].X1 == v.Start && prev == v.Model {
			c.Bands[n-1].X1 = v.End
		} else {
			c.Bands = append(c.Bands, Band{X0: v.Start, X1: v.End, Color: modelColor(v.Model), Title: title})
		}
		if v.RegimeChanged {
			c.Marks = append(c.Marks, Mark{X: v.End, Color: "#444", Label: "regime change: " + v.Model + " from " + time.Unix(0, v.End).UTC().Format("2006-01-02 15:04")})
		}
		prev = v.Model
		conf.Pts = append(conf.Pts, Pt{v.Start + (v.End-v.Start)/2, v.Confidence})
	}
	c.Lines = []Line{conf}
	c.Note = "red: exponential, green: linear, blue: declining, violet: saturating (growth stopped), amber: step (a jump to a new level), grey: insufficient data; dashed lines: regime changes"
	return c
}

func (s *Sensor) activityChart(width int) *Chart {
	c := s.chart("activity", "SYN rate and active sources", width, 240)
	c.Bands = s.warmupBands()
	syn := Line{Name: "SYNs per minute", Color: colSyn, Class: "syn-rate"}
	act := Line{Name: "active sources (right)", Color: colActive, Right: true, Class: "active"}
	var ms, ma float64
	cut, organic := false, s.hasOrganic()
	for _, w := range s.Windows {
		mid := w.Start + (w.End-w.Start)/2
		per := float64(w.Syn) / (float64(w.End-w.Start) / float64(time.Minute))
		syn.Pts = append(syn.Pts, Pt{mid, per})
		act.Pts = append(act.Pts, Pt{mid, float64(w.Active)})
		if w.Flood > 0 && organic {
			cut = true // a flood's spike is cut at the top, not scaled to
			continue
		}
		ms, ma = math.Max(ms, per), math.Max(ma, float64(w.Active))
	}
	if cut {
		c.Note = "windows with floods are cut at the top"
	}
	c.Lines = []Line{syn, act}
	c.Left = Axis{Label: "SYNs / minute"}
	c.Left.Max, _ = niceMax(ms)
	r := Axis{Label: "active sources"}
	r.Max, _ = niceMax(ma)
	c.Right = &r
	return c
}

// hasOrganic says whether some window has no flood (so scaling the axes to
// those windows leaves something to see).
func (s *Sensor) hasOrganic() bool {
	for _, w := range s.Windows {
		if w.Flood == 0 {
			return true
		}
	}
	return false
}

func (s *Sensor) spreadChart(width int) *Chart {
	c := s.chart("spread", "New sources per address and per /24 (/48): churn or spread?", width, 240)
	c.Bands = s.warmupBands()
	addr := Line{Name: "new addresses", Color: colNew, Class: "new-addresses"}
	pfx := Line{Name: "new /24s and /48s", Color: colPrefix, Class: "new-prefixes"}
	var m float64
	cut, organic := false, s.hasOrganic()
	for _, w := range s.Windows {
		mid := w.Start + (w.End-w.Start)/2
		a := float64(w.New - min(w.Flood, w.New))
		addr.Pts = append(addr.Pts, Pt{mid, a})
		pfx.Pts = append(pfx.Pts, Pt{mid, float64(w.NewPrefixes)})
		if w.Flood > 0 && organic {
			cut = true // a flood's prefixes are cut at the top, not scaled to
			continue
		}
		m = math.Max(m, math.Max(a, float64(w.NewPrefixes)))
	}
	c.Lines = []Line{addr, pfx}
	c.Left = Axis{Label: "per window"}
	c.Left.Max, _ = niceMax(m)
	c.Note = "new addresses from few new prefixes: hosts changing addresses (churn); new prefixes too: spread"
	if cut {
		c.Note += "; windows with floods cut at the top"
	}
	return c
}
