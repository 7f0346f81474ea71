package chart_test

import (
	"image/color"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/theme"

	"tranche.dev/tranche/ui/chart"
)

// TestCharts_ThemeColours draws both charts under the light and the dark
// theme and checks bars and text take the theme's colours, so they stay
// legible in either.
func TestCharts_ThemeColours(t *testing.T) {
	for _, variant := range []fyne.ThemeVariant{theme.VariantLight, theme.VariantDark} {
		a := test.NewTempApp(t)
		if variant == theme.VariantDark {
			a.Settings().SetTheme(darkTheme{theme.DefaultTheme()})
		}
		v := a.Settings().ThemeVariant()
		th := a.Settings().Theme()
		fg, primary := th.Color(theme.ColorNameForeground, v), th.Color(theme.ColorNamePrimary, v)

		bars := chart.NewBarChart([]chart.Bar{{Label: "male", Value: 60, Text: "60"}, {Label: "female", Value: 40, Text: "40"}})
		hist := chart.NewHistogram([]int64{1, 3, 2}, []string{"0", "10", "20", "30"})
		for _, w := range []fyne.Widget{bars, hist} {
			win := test.NewTempWindow(t, w)
			win.Resize(fyne.NewSize(300, 200))
			var rects, texts int
			for _, o := range test.WidgetRenderer(w).Objects() {
				switch o := o.(type) {
				case *canvas.Rectangle:
					rects++
					if o.FillColor != primary {
						t.Errorf("%T bar colour = %v, want the theme's primary %v", w, o.FillColor, primary)
					}
				case *canvas.Text:
					texts++
					if o.Color != fg {
						t.Errorf("%T text %q colour = %v, want the theme's foreground %v", w, o.Text, o.Color, fg)
					}
				}
			}
			if rects == 0 || texts == 0 {
				t.Errorf("%T drew %d bars and %d texts, want some of each", w, rects, texts)
			}
		}
	}
}

// TestBarChart_Refresh redraws with new bars.
func TestBarChart_Refresh(t *testing.T) {
	test.NewTempApp(t)
	c := chart.NewBarChart([]chart.Bar{{Label: "a", Value: 1, Text: "1"}})
	w := test.NewTempWindow(t, c)
	w.Resize(fyne.NewSize(300, 200))
	c.SetBars([]chart.Bar{{Label: "x", Value: 2, Text: "2"}, {Label: "y", Value: 1, Text: "1"}})
	var labels []string
	for _, o := range test.WidgetRenderer(c).Objects() {
		if tx, ok := o.(*canvas.Text); ok {
			labels = append(labels, tx.Text)
		}
	}
	if got, want := len(labels), 4; got != want {
		t.Fatalf("texts after SetBars = %q, want %d (two labels, two values)", labels, want)
	}
}

// darkTheme is the default theme always in its dark variant.
type darkTheme struct{ fyne.Theme }

func (d darkTheme) Color(n fyne.ThemeColorName, _ fyne.ThemeVariant) color.Color {
	return d.Theme.Color(n, theme.VariantDark)
}
