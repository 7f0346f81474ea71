package chart

import (
	"testing"

	"fyne.io/fyne/v2"
	"github.com/google/go-cmp/cmp"
)

func TestLayoutBars(t *testing.T) {
	m := barMetrics{LabelW: 50, ValueW: 20, RowH: 10, Pad: 5}
	// Room for bars: 200 - 50 - 20 - 15 = 115; bars start at 55; values
	// follow a bar after a pad of 5.
	tests := []struct {
		name    string
		size    fyne.Size
		values  []float64
		widths  []float32
		valueX  []float32
		visible []bool
	}{
		{"Proportional", fyne.NewSize(200, 100), []float64{10, 5, 0}, []float32{115, 57.5, 0}, []float32{175, 117.5, 60}, []bool{true, true, true}},
		{"TinyValueStillShows", fyne.NewSize(200, 100), []float64{10000, 1}, []float32{115, 1}, []float32{175, 61}, []bool{true, true}},
		{"AllZero", fyne.NewSize(200, 100), []float64{0, 0}, []float32{0, 0}, []float32{60, 60}, []bool{true, true}},
		{"RowsBeyondHeightHidden", fyne.NewSize(200, 25), []float64{4, 2, 1}, []float32{115, 57.5, 28.75}, nil, []bool{true, true, false}},
		{"TooNarrowForBars", fyne.NewSize(45, 100), []float64{1}, []float32{0}, []float32{25}, []bool{true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := layoutBars(tt.size, tt.values, m)
			var widths, valueX []float32
			var visible []bool
			for i, b := range g {
				widths = append(widths, b.BarSize.Width)
				valueX = append(valueX, b.Value.X)
				visible = append(visible, b.Visible)
				if got, want := b.Label.Y, float32(i)*m.RowH; got != want {
					t.Errorf("row %d label y = %v, want %v", i, got, want)
				}
				if b.Bar.X != b.Label.X+b.LabelW+m.Pad {
					t.Errorf("row %d bar x = %v, want label end + pad %v", i, b.Bar.X, b.Label.X+b.LabelW+m.Pad)
				}
			}
			if diff := cmp.Diff(tt.widths, widths); diff != "" {
				t.Errorf("bar widths (-want +got):\n%s", diff)
			}
			if tt.valueX != nil {
				if diff := cmp.Diff(tt.valueX, valueX); diff != "" {
					t.Errorf("value text x (-want +got):\n%s", diff)
				}
			}
			if diff := cmp.Diff(tt.visible, visible); diff != "" {
				t.Errorf("visible (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLayoutBars_LabelColumnCapped(t *testing.T) {
	g := layoutBars(fyne.NewSize(300, 50), []float64{1}, barMetrics{LabelW: 500, ValueW: 10, RowH: 10, Pad: 2})
	if got, want := g[0].LabelW, float32(100); got != want {
		t.Fatalf("label width = %v, want a third of the width, %v", got, want)
	}
}

func TestLayoutHistogram(t *testing.T) {
	tests := []struct {
		name    string
		size    fyne.Size
		counts  []int64
		labelW  []float32
		edges   []float32
		heights []float32
		labels  []int
		labelX  []float32
	}{
		{
			name:   "FourBinsAllLabelsFit",
			size:   fyne.NewSize(400, 110),
			counts: []int64{1, 4, 2, 0},
			labelW: []float32{10, 10, 10, 10, 10},
			edges:  []float32{0, 100, 200, 300, 400},
			// Plot height 100 above a 10-high label row.
			heights: []float32{25, 100, 50, 0},
			labels:  []int{0, 1, 2, 3, 4},
			labelX:  []float32{0, 95, 195, 295, 390},
		},
		{
			name:    "CrowdedLabelsDropped",
			size:    fyne.NewSize(100, 60),
			counts:  []int64{5, 5, 5, 5, 5},
			labelW:  []float32{30, 30, 30, 30, 30, 30},
			edges:   []float32{0, 20, 40, 60, 80, 100},
			heights: []float32{50, 50, 50, 50, 50},
			// 0 at x=0..30; 2 at 25 < 30+4: dropped; 2 at x=25: dropped;
			// edge 5 sits at 70..100; edge 2 (25..55) fits before it.
			labels: []int{0, 5},
			labelX: []float32{0, 70},
		},
		{
			name:    "OneInAThousandStillVisible",
			size:    fyne.NewSize(20, 1010),
			counts:  []int64{1000, 1},
			labelW:  []float32{2, 2, 2},
			edges:   []float32{0, 10, 20},
			heights: []float32{1000, 1},
			labels:  []int{0, 1, 2},
			labelX:  []float32{0, 9, 18},
		},
		{
			name:    "NoLabelsWhenCountsMismatch",
			size:    fyne.NewSize(100, 60),
			counts:  []int64{1},
			labelW:  []float32{1},
			edges:   []float32{0, 100},
			heights: []float32{50},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := layoutHistogram(tt.size, tt.counts, tt.labelW, 10, 4)
			if diff := cmp.Diff(tt.edges, g.Edges); diff != "" {
				t.Errorf("edges (-want +got):\n%s", diff)
			}
			var heights []float32
			for i, s := range g.Sizes {
				heights = append(heights, s.Height)
				if got, want := g.Columns[i].Y+s.Height, g.AxisY; got != want {
					t.Errorf("column %d bottom = %v, want the axis %v", i, got, want)
				}
				if g.Columns[i].X != g.Edges[i] {
					t.Errorf("column %d x = %v, want its left edge %v", i, g.Columns[i].X, g.Edges[i])
				}
			}
			if diff := cmp.Diff(tt.heights, heights); diff != "" {
				t.Errorf("column heights (-want +got):\n%s", diff)
			}
			var labelX []float32
			for _, p := range g.LabelPos {
				labelX = append(labelX, p.X)
			}
			if diff := cmp.Diff(tt.labels, g.Labels); diff != "" {
				t.Errorf("labels shown (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.labelX, labelX); diff != "" {
				t.Errorf("label x (-want +got):\n%s", diff)
			}
		})
	}
}
