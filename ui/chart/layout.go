// Package chart draws the two charts Tranche's column profile needs, a
// horizontal bar chart of top values and a histogram, with Fyne's canvas
// primitives and the theme's colours (Fyne has no chart widget). The
// geometry is computed by plain functions, tested without rendering.
package chart

import "fyne.io/fyne/v2"

// barGeom is where one bar of a BarChart goes.
type barGeom struct {
	Label    fyne.Position // top-left of the label text
	LabelW   float32       // width the label may take
	Bar      fyne.Position
	BarSize  fyne.Size
	Value    fyne.Position // top-left of the value text, just after the bar
	Visible  bool          // false when the row does not fit in the height
	RowIndex int
}

// barMetrics are the measures a bar chart's layout needs from the text.
type barMetrics struct {
	LabelW float32 // the widest label, capped by the caller
	ValueW float32 // the widest value text
	RowH   float32 // one row: text height plus padding
	Pad    float32
}

// layoutBars lays out one row per value, top to bottom: the label in a
// column of width m.LabelW, then a bar whose length is value/max of the
// room left after the label and the value text, then the value text. A
// non-zero value always gets at least one pixel, so it never looks absent.
// Rows that do not fit in size.Height are not visible.
func layoutBars(size fyne.Size, values []float64, m barMetrics) []barGeom {
	out := make([]barGeom, len(values))
	maxV := 0.0
	for _, v := range values {
		if v > maxV {
			maxV = v
		}
	}
	labelW := min(m.LabelW, size.Width/3)
	room := size.Width - labelW - m.ValueW - 3*m.Pad
	if room < 0 {
		room = 0
	}
	barH := m.RowH - m.Pad
	for i, v := range values {
		y := float32(i) * m.RowH
		var w float32
		if maxV > 0 && v > 0 {
			w = float32(v/maxV) * room
			if w < 1 && room >= 1 {
				w = 1
			}
		}
		barX := labelW + m.Pad
		out[i] = barGeom{
			Label:    fyne.NewPos(0, y),
			LabelW:   labelW,
			Bar:      fyne.NewPos(barX, y+m.Pad/2),
			BarSize:  fyne.NewSize(w, barH),
			Value:    fyne.NewPos(barX+w+m.Pad, y),
			Visible:  y+m.RowH <= size.Height+0.5,
			RowIndex: i,
		}
	}
	return out
}

// histGeom is where a histogram's columns and edge labels go.
type histGeom struct {
	Columns []fyne.Position // top-left of each column
	Sizes   []fyne.Size
	// Edges are the x of each bin edge (len(counts)+1), from the plot's left.
	Edges []float32
	// Labels are the edge labels shown (indexes into Edges), with their
	// top-left; labels that would overlap the previous one are left out.
	Labels    []int
	LabelPos  []fyne.Position
	AxisY     float32 // the baseline
	PlotWidth float32
}

// layoutHistogram lays out equal-width columns for counts over the full
// width, heights proportional to count/max in the height left above a row
// of edge labels (labelH high). labelW[i] is the width of edge label i;
// each label is centred on its edge, kept inside the chart, and dropped if
// it would come within gap of the last label shown. The first edge is
// always labelled, and the last one wins over its inner neighbours, so
// both ends of the range are readable whenever they fit side by side.
func layoutHistogram(size fyne.Size, counts []int64, labelW []float32, labelH, gap float32) histGeom {
	g := histGeom{AxisY: size.Height - labelH, PlotWidth: size.Width}
	if g.AxisY < 0 {
		g.AxisY = 0
	}
	n := len(counts)
	if n == 0 {
		return g
	}
	var maxC int64
	for _, c := range counts {
		maxC = max(maxC, c)
	}
	colW := size.Width / float32(n)
	g.Edges = make([]float32, n+1)
	for i := range g.Edges {
		g.Edges[i] = float32(i) * colW
	}
	g.Edges[n] = size.Width // no rounding drift at the right end
	for i, c := range counts {
		var h float32
		if maxC > 0 && c > 0 {
			h = max(float32(float64(c)/float64(maxC))*g.AxisY, 1)
		}
		// One pixel between columns keeps neighbours apart when wide enough.
		w := colW
		if w > 3 {
			w--
		}
		g.Columns = append(g.Columns, fyne.NewPos(g.Edges[i], g.AxisY-h))
		g.Sizes = append(g.Sizes, fyne.NewSize(w, h))
	}
	if len(labelW) != n+1 {
		return g
	}
	place := func(i int) float32 {
		x := g.Edges[i] - labelW[i]/2
		return max(0, min(x, size.Width-labelW[i]))
	}
	lastEnd := float32(-1e9)
	for i := 0; i <= n; i++ {
		x := place(i)
		if x < lastEnd+gap {
			continue
		}
		if i < n {
			// Leave room for the final label.
			if x+labelW[i]+gap > place(n) && i != 0 {
				continue
			}
		}
		g.Labels = append(g.Labels, i)
		g.LabelPos = append(g.LabelPos, fyne.NewPos(x, g.AxisY))
		lastEnd = x + labelW[i]
	}
	return g
}
