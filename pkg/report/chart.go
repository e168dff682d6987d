package report

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Chart is a time-series chart, drawn the same way as SVG (chart.svg) and
// as PNG (png.go): bars and lines over a time axis, on a left axis and
// optionally a right one, with shaded bands and vertical marks.
type Chart struct {
	ID, Title string
	W, H      int
	X0, X1    int64 // ns
	Left      Axis
	Right     *Axis
	Bands     []Band
	Bars      []Bar
	Lines     []Line
	Marks     []Mark
	Note      string // a line under the title
}

// Axis is a y axis from 0 to Max.
type Axis struct {
	Label string
	Max   float64
}

// Band shades [X0, X1) behind the data.
type Band struct {
	X0, X1 int64
	Color  string
	Title  string
	Legend string // its name in the legend ("" for none)
}

// Bar is one bar from 0 to Y on the left axis, stacked on Base.
type Bar struct {
	X0, X1  int64
	Base, Y float64
	Color   string
	Class   string
	Title   string
	Legend  string
}

// Line is a polyline; Right puts it on the right axis.
type Line struct {
	Name   string
	Color  string
	Right  bool
	Dashed bool
	Class  string
	Pts    []Pt
}

// Pt is a point of a line.
type Pt struct {
	X int64
	Y float64
}

// Mark is a vertical line with a label.
type Mark struct {
	X     int64
	Color string
	Label string
}

const (
	marginL = 64
	marginR = 64
	marginT = 66 // title, note, legend, axis labels
	marginB = 40
	legendY = 50
)

func (c *Chart) px(x int64) float64 {
	span := float64(c.X1 - c.X0)
	if span <= 0 {
		span = 1
	}
	px := marginL + float64(x-c.X0)/span*float64(c.W-marginL-marginR)
	return math.Min(math.Max(px, -10), float64(c.W+10)) // what lies outside is not drawn out there
}

func (c *Chart) py(y float64, right bool) float64 {
	max := c.Left.Max
	if right && c.Right != nil {
		max = c.Right.Max
	}
	if max <= 0 {
		max = 1
	}
	h := float64(c.H - marginT - marginB)
	if math.IsNaN(y) {
		y = 0
	}
	return float64(c.H-marginB) - math.Min(math.Max(y/max, -0.05), 1.05)*h
}

// niceMax rounds v up to 1, 2 or 5 times a power of ten, and returns the
// tick step.
func niceMax(v float64) (max, step float64) {
	if !(v >= 1e-9) || math.IsInf(v, 0) { // also NaN
		return 1, 0.25
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if v <= m*p {
			max = m * p
			break
		}
	}
	step = max / 4
	return max, step
}

// maxTicks bounds the time axis' ticks whatever the span.
const maxTicks = 64

// yTicks are the values an axis labels: 0 to its nice maximum in four steps.
func yTicks(a Axis) [5]float64 {
	_, step := niceMax(a.Max)
	var t [5]float64
	for k := range t {
		t[k] = float64(k) * step
	}
	return t
}

// timeTicks picks a round step giving at most about eight ticks.
func timeTicks(x0, x1 int64) (first int64, step int64) {
	span := time.Duration(x1 - x0)
	steps := []time.Duration{time.Minute, 5 * time.Minute, 15 * time.Minute, 30 * time.Minute, time.Hour,
		2 * time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour, 24 * time.Hour, 48 * time.Hour,
		7 * 24 * time.Hour, 14 * 24 * time.Hour, 28 * 24 * time.Hour, 91 * 24 * time.Hour, 365 * 24 * time.Hour}
	s := steps[len(steps)-1]
	for _, c := range steps {
		if span/c <= 8 {
			s = c
			break
		}
	}
	step = int64(s)
	first = x0 - x0%step
	if first < x0 {
		first += step
	}
	return first, step
}

func timeLabel(ns, step int64) string {
	t := time.Unix(0, ns).UTC()
	if time.Duration(step) >= 24*time.Hour {
		return t.Format("2006-01-02")
	}
	if t.Hour() == 0 && t.Minute() == 0 {
		return t.Format("01-02 15:04")
	}
	return t.Format("15:04")
}

func fmtNum(v float64) string {
	switch {
	case v == math.Trunc(v) && math.Abs(v) < 1e15:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case math.Abs(v) >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	default:
		return strconv.FormatFloat(v, 'g', 3, 64)
	}
}

// esc makes s text or an attribute value of XML 1.0: the markup
// characters escaped, and what XML cannot hold at all (control characters
// but tab and newlines, invalid UTF-8, U+FFFE and U+FFFF) as U+FFFD: a
// sensor id of "gw\x01" made an SVG no XML parser would read (a review).
func esc(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		switch {
		case r == '&':
			b.WriteString("&amp;")
		case r == '<':
			b.WriteString("&lt;")
		case r == '>':
			b.WriteString("&gt;")
		case r == '"':
			b.WriteString("&quot;")
		case r == '\t' || r == '\n' || r == '\r' || (r >= 0x20 && r < 0xd800) || (r >= 0xe000 && r <= 0xfffd && r != utf8.RuneError) || r >= 0x10000:
			b.WriteRune(r)
		default:
			b.WriteRune(utf8.RuneError)
		}
	}
	return b.String()
}

func f1(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }

type legendItem struct{ name, color string }

// legend lists the lines, then the bar and band kinds drawn.
func (c *Chart) legend() []legendItem {
	var out []legendItem
	seen := map[string]bool{}
	for _, br := range c.Bars {
		if br.Legend != "" && !seen[br.Legend] {
			seen[br.Legend] = true
			out = append(out, legendItem{br.Legend, br.Color})
		}
	}
	for _, ln := range c.Lines {
		out = append(out, legendItem{ln.Name, ln.Color})
	}
	for _, bd := range c.Bands {
		if bd.Legend != "" && !seen[bd.Legend] {
			seen[bd.Legend] = true
			out = append(out, legendItem{bd.Legend, bd.Color})
		}
	}
	return out
}

// SVG renders the chart as a standalone <svg> element. Every bar and line
// point is an element with a class, so a test can count what was drawn.
func (c *Chart) SVG() string {
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" id="%s" class="chart" viewBox="0 0 %d %d" width="%d" height="%d" role="img" aria-label="%s">`,
		esc(c.ID), c.W, c.H, c.W, c.H, esc(c.Title))
	fmt.Fprintf(&b, `<rect x="0" y="0" width="%d" height="%d" fill="#fff"/>`, c.W, c.H)
	fmt.Fprintf(&b, `<text x="%d" y="18" class="title" font-size="15" font-weight="600" fill="#111">%s</text>`, marginL, esc(c.Title))
	if c.Note != "" {
		fmt.Fprintf(&b, `<text x="%d" y="34" font-size="11" fill="#555">%s</text>`, marginL, esc(c.Note))
	}
	top, bot := float64(marginT), float64(c.H-marginB)
	for _, bd := range c.Bands {
		x0, x1 := c.px(bd.X0), c.px(bd.X1)
		fmt.Fprintf(&b, `<rect class="band" x="%s" y="%s" width="%s" height="%s" fill="%s"><title>%s</title></rect>`,
			f1(x0), f1(top), f1(math.Max(x1-x0, 0.5)), f1(bot-top), bd.Color, esc(bd.Title))
	}
	// axes and grid
	for _, v := range yTicks(c.Left) {
		y := c.py(v, false)
		fmt.Fprintf(&b, `<line x1="%d" y1="%s" x2="%d" y2="%s" stroke="#e3e3e3"/>`, marginL, f1(y), c.W-marginR, f1(y))
		fmt.Fprintf(&b, `<text x="%d" y="%s" font-size="11" fill="#333" text-anchor="end">%s</text>`, marginL-6, f1(y+4), fmtNum(v))
	}
	if c.Right != nil {
		for _, v := range yTicks(*c.Right) {
			y := c.py(v, true)
			fmt.Fprintf(&b, `<text x="%d" y="%s" font-size="11" fill="#333">%s</text>`, c.W-marginR+6, f1(y+4), fmtNum(v))
		}
		fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="11" fill="#333" text-anchor="end">%s</text>`, c.W-4, marginT-4, esc(c.Right.Label))
	}
	fmt.Fprintf(&b, `<text x="4" y="%d" font-size="11" fill="#333">%s</text>`, marginT-4, esc(c.Left.Label))
	first, step := timeTicks(c.X0, c.X1)
	for k, x := 0, first; x <= c.X1 && k < maxTicks; k, x = k+1, x+step {
		px := c.px(x)
		fmt.Fprintf(&b, `<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="#999"/>`, f1(px), f1(bot), f1(px), f1(bot+4))
		fmt.Fprintf(&b, `<text x="%s" y="%s" font-size="11" fill="#333" text-anchor="middle">%s</text>`, f1(px), f1(bot+17), timeLabel(x, step))
	}
	fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="10" fill="#777" text-anchor="end">UTC</text>`, c.W-marginR, c.H-4)
	fmt.Fprintf(&b, `<line x1="%d" y1="%s" x2="%d" y2="%s" stroke="#333"/>`, marginL, f1(bot), c.W-marginR, f1(bot))
	for _, br := range c.Bars {
		x0, x1 := c.px(br.X0), c.px(br.X1)
		y0, y1 := c.py(br.Base, false), c.py(br.Base+br.Y, false)
		w := math.Max(x1-x0-0.6, 0.6)
		fmt.Fprintf(&b, `<rect class="%s" x="%s" y="%s" width="%s" height="%s" fill="%s"><title>%s</title></rect>`,
			esc(br.Class), f1(x0), f1(y1), f1(w), f1(math.Max(y0-y1, 0)), br.Color, esc(br.Title))
	}
	for _, ln := range c.Lines {
		if len(ln.Pts) == 0 {
			continue
		}
		dash := ""
		if ln.Dashed {
			dash = ` stroke-dasharray="6 4"`
		}
		fmt.Fprintf(&b, `<g class="series %s" data-name="%s" data-points="%d">`, esc(ln.Class), esc(ln.Name), len(ln.Pts))
		var pts strings.Builder
		for i, p := range ln.Pts {
			if i > 0 {
				pts.WriteByte(' ')
			}
			pts.WriteString(f1(c.px(p.X)))
			pts.WriteByte(',')
			pts.WriteString(f1(c.py(p.Y, ln.Right)))
		}
		fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2"%s points="%s"/>`, ln.Color, dash, pts.String())
		b.WriteString(`</g>`)
	}
	for _, m := range c.Marks {
		x := c.px(m.X)
		fmt.Fprintf(&b, `<line class="mark" x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s" stroke-width="1.5" stroke-dasharray="3 3"><title>%s</title></line>`,
			f1(x), f1(top), f1(x), f1(bot), m.Color, esc(m.Label))
	}
	// legend, a row under the note
	lx := float64(marginL)
	for _, it := range c.legend() {
		fmt.Fprintf(&b, `<rect x="%s" y="%d" width="12" height="6" fill="%s"/><text x="%s" y="%d" font-size="11" fill="#333">%s</text>`,
			f1(lx), legendY-6, it.color, f1(lx+16), legendY, esc(it.name))
		lx += float64(len(it.name))*6.4 + 30
	}
	b.WriteString(`</svg>`)
	return b.String()
}
