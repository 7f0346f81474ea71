package chart

import (
	"image/color"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// maxLabelWidth caps a bar label's column; longer labels are truncated.
const maxLabelWidth = 220

// Bar is one bar of a BarChart: a value's text and its count.
type Bar struct {
	Label string
	Value float64
	Text  string // the value as shown after the bar, e.g. "1,204 (12%)"
}

// BarChart is a horizontal bar chart, one row per bar, largest first as
// given. Colours come from the theme, so it reads in light and dark.
type BarChart struct {
	widget.BaseWidget
	Bars []Bar
}

// NewBarChart returns a bar chart of bars.
func NewBarChart(bars []Bar) *BarChart {
	c := &BarChart{Bars: bars}
	c.ExtendBaseWidget(c)
	return c
}

// SetBars replaces the bars and redraws.
func (c *BarChart) SetBars(bars []Bar) {
	c.Bars = bars
	c.Refresh()
}

// CreateRenderer implements fyne.Widget.
func (c *BarChart) CreateRenderer() fyne.WidgetRenderer {
	r := &barRenderer{c: c}
	r.rebuild()
	return r
}

type barRenderer struct {
	c      *BarChart
	labels []*canvas.Text
	bars   []*canvas.Rectangle
	values []*canvas.Text
	objs   []fyne.CanvasObject
}

func (r *barRenderer) colours() (fg, bar color.Color, size float32) {
	th := r.c.Theme()
	v := fyne.CurrentApp().Settings().ThemeVariant()
	return th.Color(theme.ColorNameForeground, v), th.Color(theme.ColorNamePrimary, v), th.Size(theme.SizeNameText)
}

func (r *barRenderer) rebuild() {
	fg, bc, ts := r.colours()
	r.labels, r.bars, r.values, r.objs = nil, nil, nil, nil
	for _, b := range r.c.Bars {
		l := canvas.NewText(b.Label, fg)
		l.TextSize = ts
		rect := canvas.NewRectangle(bc)
		v := canvas.NewText(b.Text, fg)
		v.TextSize = ts
		r.labels = append(r.labels, l)
		r.bars = append(r.bars, rect)
		r.values = append(r.values, v)
		r.objs = append(r.objs, l, rect, v)
	}
}

func (r *barRenderer) metrics() barMetrics {
	_, _, ts := r.colours()
	m := barMetrics{Pad: theme.Padding()}
	for i := range r.labels {
		lw := fyne.MeasureText(r.labels[i].Text, ts, fyne.TextStyle{}).Width
		vw := fyne.MeasureText(r.values[i].Text, ts, fyne.TextStyle{}).Width
		m.LabelW = max(m.LabelW, min(lw, maxLabelWidth))
		m.ValueW = max(m.ValueW, vw)
	}
	m.RowH = fyne.MeasureText("Mg", ts, fyne.TextStyle{}).Height + m.Pad
	return m
}

func (r *barRenderer) Layout(size fyne.Size) {
	vals := make([]float64, len(r.c.Bars))
	for i, b := range r.c.Bars {
		vals[i] = b.Value
	}
	_, _, ts := r.colours()
	g := layoutBars(size, vals, r.metrics())
	for i, b := range g {
		r.labels[i].Text = fit(r.c.Bars[i].Label, b.LabelW, ts)
		r.labels[i].Move(b.Label)
		r.bars[i].Move(b.Bar)
		r.bars[i].Resize(b.BarSize)
		r.values[i].Move(b.Value)
		for _, o := range []fyne.CanvasObject{r.labels[i], r.bars[i], r.values[i]} {
			if b.Visible {
				o.Show()
			} else {
				o.Hide()
			}
		}
	}
}

func (r *barRenderer) MinSize() fyne.Size {
	m := r.metrics()
	return fyne.NewSize(m.LabelW+m.ValueW+60+3*m.Pad, float32(len(r.c.Bars))*m.RowH)
}

func (r *barRenderer) Refresh() {
	// A top-values chart has a dozen bars: rebuilding is cheaper than
	// diffing, and picks up a theme change (colours, text size).
	r.rebuild()
	r.Layout(r.c.Size())
	for _, o := range r.objs {
		o.Refresh()
	}
}

func (r *barRenderer) Objects() []fyne.CanvasObject { return r.objs }
func (r *barRenderer) Destroy()                     {}

// fit truncates s with an ellipsis to fit width w at text size ts.
func fit(s string, w, ts float32) string {
	if fyne.MeasureText(s, ts, fyne.TextStyle{}).Width <= w {
		return s
	}
	rs := []rune(s)
	for n := len(rs) - 1; n > 0; n-- {
		t := string(rs[:n]) + "…"
		if fyne.MeasureText(t, ts, fyne.TextStyle{}).Width <= w {
			return t
		}
	}
	return "…"
}

// Histogram draws counts as adjacent columns over a range, with the bin
// edges labelled underneath where they fit. Edges has len(Counts)+1
// labels, e.g. "0", "10", "20" for the bins [0,10) and [10,20].
type Histogram struct {
	widget.BaseWidget
	Counts []int64
	Edges  []string
}

// NewHistogram returns a histogram of counts with edge labels edges.
func NewHistogram(counts []int64, edges []string) *Histogram {
	h := &Histogram{Counts: counts, Edges: edges}
	h.ExtendBaseWidget(h)
	return h
}

// SetBins replaces the bins and redraws.
func (h *Histogram) SetBins(counts []int64, edges []string) {
	h.Counts, h.Edges = counts, edges
	h.Refresh()
}

// CreateRenderer implements fyne.Widget.
func (h *Histogram) CreateRenderer() fyne.WidgetRenderer {
	r := &histRenderer{h: h}
	r.rebuild()
	return r
}

type histRenderer struct {
	h      *Histogram
	axis   *canvas.Line
	cols   []*canvas.Rectangle
	labels []*canvas.Text
	objs   []fyne.CanvasObject
}

func (r *histRenderer) colours() (fg, col, axis color.Color, size float32) {
	th := r.h.Theme()
	v := fyne.CurrentApp().Settings().ThemeVariant()
	return th.Color(theme.ColorNameForeground, v), th.Color(theme.ColorNamePrimary, v),
		th.Color(theme.ColorNameDisabled, v), th.Size(theme.SizeNameCaptionText)
}

func (r *histRenderer) rebuild() {
	fg, cc, ac, ts := r.colours()
	r.axis = canvas.NewLine(ac)
	r.cols, r.labels = nil, nil
	r.objs = []fyne.CanvasObject{r.axis}
	for range r.h.Counts {
		c := canvas.NewRectangle(cc)
		r.cols = append(r.cols, c)
		r.objs = append(r.objs, c)
	}
	for _, e := range r.h.Edges {
		t := canvas.NewText(e, fg)
		t.TextSize = ts
		r.labels = append(r.labels, t)
		r.objs = append(r.objs, t)
	}
}

func (r *histRenderer) Layout(size fyne.Size) {
	_, _, _, ts := r.colours()
	widths := make([]float32, len(r.labels))
	labelH := fyne.MeasureText("0", ts, fyne.TextStyle{}).Height
	for i, l := range r.labels {
		widths[i] = fyne.MeasureText(l.Text, ts, fyne.TextStyle{}).Width
		l.Hide()
	}
	g := layoutHistogram(size, r.h.Counts, widths, labelH, theme.Padding()*2)
	for i, c := range r.cols {
		c.Move(g.Columns[i])
		c.Resize(g.Sizes[i])
	}
	for k, i := range g.Labels {
		r.labels[i].Move(g.LabelPos[k])
		r.labels[i].Show()
	}
	r.axis.Position1 = fyne.NewPos(0, g.AxisY)
	r.axis.Position2 = fyne.NewPos(size.Width, g.AxisY)
}

func (r *histRenderer) MinSize() fyne.Size {
	_, _, _, ts := r.colours()
	return fyne.NewSize(120, 80+fyne.MeasureText("0", ts, fyne.TextStyle{}).Height)
}

func (r *histRenderer) Refresh() {
	if len(r.cols) != len(r.h.Counts) || len(r.labels) != len(r.h.Edges) {
		r.rebuild()
	}
	fg, cc, ac, ts := r.colours()
	r.axis.StrokeColor = ac
	for _, c := range r.cols {
		c.FillColor = cc
	}
	for i, l := range r.labels {
		l.Text, l.Color, l.TextSize = r.h.Edges[i], fg, ts
	}
	r.Layout(r.h.Size())
	for _, o := range r.objs {
		o.Refresh()
	}
}

func (r *histRenderer) Objects() []fyne.CanvasObject { return r.objs }
func (r *histRenderer) Destroy()                     {}
