package report

import (
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"io"
	"math"
	"strconv"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"
)

// PNG draws the chart as the SVG does, into a PNG (for a ticket or a chat).
func (c *Chart) PNG(w io.Writer) error {
	img := image.NewRGBA(image.Rect(0, 0, c.W, c.H))
	draw.Draw(img, img.Bounds(), image.White, image.Point{}, draw.Src)
	r := raster{img}
	top, bot := float64(marginT), float64(c.H-marginB)
	for _, bd := range c.Bands {
		r.fill(c.px(bd.X0), top, c.px(bd.X1), bot, hexColor(bd.Color))
	}
	grid, ink := hexColor("#e3e3e3"), hexColor("#333333")
	for _, v := range yTicks(c.Left) {
		y := c.py(v, false)
		r.line(marginL, y, float64(c.W-marginR), y, grid, 1, false)
		r.text(marginL-6, y+4, fmtNum(v), ink, alignRight)
	}
	if c.Right != nil {
		for _, v := range yTicks(*c.Right) {
			r.text(float64(c.W-marginR+6), c.py(v, true)+4, fmtNum(v), ink, alignLeft)
		}
		r.text(float64(c.W-4), marginT-4, c.Right.Label, ink, alignRight)
	}
	r.text(4, marginT-4, c.Left.Label, ink, alignLeft)
	first, step := timeTicks(c.X0, c.X1)
	for k, x := 0, first; x <= c.X1 && k < maxTicks; k, x = k+1, x+step {
		px := c.px(x)
		r.line(px, bot, px, bot+4, hexColor("#999999"), 1, false)
		r.text(px, bot+17, timeLabel(x, step), ink, alignCenter)
	}
	r.text(float64(c.W-marginR), float64(c.H-4), "UTC", hexColor("#777777"), alignRight)
	r.line(marginL, bot, float64(c.W-marginR), bot, ink, 1, false)
	for _, br := range c.Bars {
		x0, x1 := c.px(br.X0), c.px(br.X1)
		r.fill(x0, c.py(br.Base+br.Y, false), math.Max(x1-0.6, x0+0.6), c.py(br.Base, false), hexColor(br.Color))
	}
	for _, ln := range c.Lines {
		col := hexColor(ln.Color)
		for i := 1; i < len(ln.Pts); i++ {
			a, b := ln.Pts[i-1], ln.Pts[i]
			r.line(c.px(a.X), c.py(a.Y, ln.Right), c.px(b.X), c.py(b.Y, ln.Right), col, 2, ln.Dashed)
		}
	}
	for _, m := range c.Marks {
		x := c.px(m.X)
		r.line(x, top, x, bot, hexColor(m.Color), 1, true)
	}
	r.text(marginL, 18, c.Title, hexColor("#111111"), alignLeft)
	if c.Note != "" {
		r.text(marginL, 34, c.Note, hexColor("#555555"), alignLeft)
	}
	lx := float64(marginL)
	for _, it := range c.legend() {
		r.fill(lx, legendY-6, lx+12, legendY, hexColor(it.color))
		r.text(lx+16, legendY, it.name, ink, alignLeft)
		lx += float64(font.MeasureString(basicfont.Face7x13, it.name).Round()) + 30
	}
	return png.Encode(w, img)
}

type raster struct{ img *image.RGBA }

func (r raster) fill(x0, y0, x1, y1 float64, c color.RGBA) {
	rect := image.Rect(int(math.Round(x0)), int(math.Round(y0)), int(math.Round(x1)), int(math.Round(y1)))
	if rect.Dx() == 0 {
		rect.Max.X++
	}
	draw.Draw(r.img, rect.Canon().Intersect(r.img.Bounds()), &image.Uniform{c}, image.Point{}, draw.Over)
}

// line draws from (x0,y0) to (x1,y1), width px wide, dashed 6-on 4-off.
func (r raster) line(x0, y0, x1, y1 float64, c color.RGBA, width int, dashed bool) {
	dx, dy := x1-x0, y1-y0
	n := int(math.Max(math.Abs(dx), math.Abs(dy)))
	if n == 0 {
		n = 1
	}
	for i := 0; i <= n; i++ {
		if dashed && (i%10) >= 6 {
			continue
		}
		x := int(math.Round(x0 + dx*float64(i)/float64(n)))
		y := int(math.Round(y0 + dy*float64(i)/float64(n)))
		for o := 0; o < width; o++ {
			if math.Abs(dx) >= math.Abs(dy) {
				r.set(x, y+o, c)
			} else {
				r.set(x+o, y, c)
			}
		}
	}
}

func (r raster) set(x, y int, c color.RGBA) {
	if image.Pt(x, y).In(r.img.Bounds()) {
		r.img.SetRGBA(x, y, c)
	}
}

type align int

const (
	alignLeft align = iota
	alignCenter
	alignRight
)

func (r raster) text(x, y float64, s string, c color.RGBA, a align) {
	face := basicfont.Face7x13
	w := font.MeasureString(face, s).Round()
	switch a {
	case alignCenter:
		x -= float64(w) / 2
	case alignRight:
		x -= float64(w)
	}
	d := font.Drawer{Dst: r.img, Src: &image.Uniform{c}, Face: face, Dot: fixed.P(int(math.Round(x)), int(math.Round(y)))}
	d.DrawString(s)
}

func hexColor(s string) color.RGBA {
	if len(s) != 7 || s[0] != '#' {
		return color.RGBA{0, 0, 0, 255}
	}
	v, err := strconv.ParseUint(s[1:], 16, 32)
	if err != nil {
		return color.RGBA{0, 0, 0, 255}
	}
	return color.RGBA{uint8(v >> 16), uint8(v >> 8), uint8(v), 255}
}
