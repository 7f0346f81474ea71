package ui

import (
	"context"
	"fmt"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"

	"tranche.dev/tranche/core/profile"
	"tranche.dev/tranche/core/views"
	"tranche.dev/tranche/ui/chart"

	"tranche.dev/tranche/core/workbench"
)

// previewSource is the profile source meaning "the view in the builder".
const previewSource = "The view in the builder"

// profilePane shows one column's profile: its empty share, distinct
// count, top values as bars and, for numbers and dates, a histogram with
// min, median and max.
type profilePane struct {
	s       *viewsScreen
	content fyne.CanvasObject

	tables  []workbench.ViewTable
	source  *widget.Select
	column  *widget.Select
	columns []views.Column
	seq     int

	summary *widget.Label
	bars    *chart.BarChart
	hist    *chart.Histogram
	histBox *fyne.Container
	last    *profile.Profile
}

func newProfilePane(s *viewsScreen) *profilePane {
	p := &profilePane{s: s}
	p.source = widget.NewSelect([]string{previewSource}, func(string) { p.onSource() })
	p.source.SetSelected(previewSource)
	p.column = widget.NewSelect(nil, func(string) { p.run() })
	p.column.PlaceHolder = "Column"
	p.summary = widget.NewLabel("Pick a column, or a cell of the builder's preview, to see its profile.")
	p.summary.Wrapping = fyne.TextWrapWord
	p.bars = chart.NewBarChart(nil)
	p.hist = chart.NewHistogram(nil, nil)
	top := container.NewGridWithColumns(2,
		widget.NewForm(widget.NewFormItem("Table", p.source)),
		widget.NewForm(widget.NewFormItem("Column", p.column)))
	topValues := container.NewBorder(widget.NewLabelWithStyle("Most frequent values", fyne.TextAlignLeading, fyne.TextStyle{Bold: true}),
		nil, nil, nil, container.NewVScroll(p.bars))
	p.histBox = container.NewBorder(widget.NewLabelWithStyle("Histogram", fyne.TextAlignLeading, fyne.TextStyle{Bold: true}),
		nil, nil, nil, p.hist)
	p.histBox.Hide()
	charts := container.NewGridWithColumns(2, topValues, p.histBox)
	p.content = container.NewBorder(container.NewVBox(top, p.summary), nil, nil, nil, charts)
	return p
}

func (p *profilePane) reloadTables() {
	var ts []workbench.ViewTable
	p.s.u.background("Could not list the catalogue's tables.", func(ctx context.Context) error {
		var err error
		ts, err = p.s.u.deps.Views.Tables(ctx)
		return err
	}, func() {
		p.tables = ts
		opts := []string{previewSource}
		for _, t := range ts {
			opts = append(opts, "Table "+t.Name)
		}
		p.source.SetOptions(opts)
	})
}

// setPreviewColumns offers the builder's columns when it is the source.
func (p *profilePane) setPreviewColumns(cols []views.Column) {
	if p.source.Selected != previewSource {
		return
	}
	p.setColumns(cols)
}

func (p *profilePane) setColumns(cols []views.Column) {
	p.columns = cols
	var names []string
	for _, c := range cols {
		names = append(names, c.Name)
	}
	keep := p.column.Selected
	p.column.OnChanged = nil
	p.column.SetOptions(names)
	p.column.ClearSelected()
	for _, n := range names {
		if n == keep {
			p.column.SetSelected(n)
		}
	}
	p.column.OnChanged = func(string) { p.run() }
}

func (p *profilePane) onSource() {
	if p.source.Selected == previewSource {
		if d := p.s.b; d != nil && d.previewData != nil {
			p.setColumns(d.previewData.Columns)
		}
		return
	}
	name := strings.TrimPrefix(p.source.Selected, "Table ")
	for _, t := range p.tables {
		if t.Name == name {
			p.setColumns(t.Columns)
		}
	}
}

// showPreviewColumn profiles column i of the builder's preview.
func (p *profilePane) showPreviewColumn(i int) {
	b := p.s.b
	if b.previewData == nil || i < 0 || i >= len(b.previewData.Columns) {
		return
	}
	p.source.SetSelected(previewSource)
	p.setColumns(b.previewData.Columns)
	p.s.tabs.SelectIndex(viewsProfile)
	p.column.SetSelected(b.previewData.Columns[i].Name)
}

// ShowTableColumn profiles one column of a materialised table.
func (p *profilePane) showTableColumn(table, column string) {
	p.source.SetSelected("Table " + table)
	p.s.tabs.SelectIndex(viewsProfile)
	p.column.SetSelected(column)
}

// run computes the selected column's profile in the background.
func (p *profilePane) run() {
	col := p.column.Selected
	if col == "" {
		return
	}
	src := workbench.ProfileSource{View: p.s.b.def.JSON()}
	if p.source.Selected != previewSource {
		src = workbench.ProfileSource{Table: strings.TrimPrefix(p.source.Selected, "Table ")}
	}
	p.seq++
	seq := p.seq
	p.summary.SetText("Profiling " + col + "…")
	var prof *profile.Profile
	p.s.u.background("Could not profile the column "+col+".", func(ctx context.Context) error {
		var err error
		prof, err = p.s.u.deps.Views.Profile(ctx, src, col)
		return err
	}, func() {
		if seq != p.seq {
			return
		}
		p.show(col, prof)
	})
}

func (p *profilePane) show(col string, pr *profile.Profile) {
	p.last = pr
	p.summary.SetText(profileText(col, pr))
	var bars []chart.Bar
	nonEmpty := pr.Count - pr.Empty
	for _, v := range pr.Top {
		bars = append(bars, chart.Bar{Label: v.Value, Value: float64(v.Count),
			Text: fmt.Sprintf("%s (%s)", thousands(v.Count), share(float64(v.Count)/float64(max(nonEmpty, 1))))})
	}
	p.bars.SetBars(bars)
	if len(pr.Bins) == 0 {
		p.histBox.Hide()
		return
	}
	counts := make([]int64, len(pr.Bins))
	edges := make([]string, len(pr.Bins)+1)
	for i, b := range pr.Bins {
		counts[i] = b.Count
		edges[i] = b.Lo
		edges[i+1] = b.Hi
	}
	p.hist.SetBins(counts, edges)
	p.histBox.Show()
}

// profileText is a profile's numbers as sentences.
func profileText(col string, pr *profile.Profile) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s values, %s empty (%s); ", col, thousands(pr.Count), thousands(pr.Empty), share(pr.EmptyShare()))
	if pr.DistinctCapped {
		fmt.Fprintf(&b, "at least %s distinct (counted exactly up to that many).", thousands(pr.Distinct))
	} else {
		fmt.Fprintf(&b, "%s distinct.", thousands(pr.Distinct))
	}
	if pr.Kind != profile.Text && pr.Min != "" {
		fmt.Fprintf(&b, "\n%s from %s to %s, median %s.", pr.Kind, pr.Min, pr.Max, pr.Median)
		if pr.Sampled {
			b.WriteString(" The median and histogram come from a uniform sample of the values.")
		}
	}
	return b.String()
}
