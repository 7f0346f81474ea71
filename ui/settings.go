package ui

import (
	"fmt"
	"image/color"
	"strconv"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"tranche.dev/tranche/core/bulk"
)

// Preference keys. Settings live in fyne.Preferences (a plain JSON file):
// never a secret.
const (
	PrefDataDir     = "dataDir"
	PrefTheme       = "theme"
	PrefMaxParallel = "maxParallel"
	PrefPollMin     = "pollMinSeconds"
	PrefPollMax     = "pollMaxSeconds"
	PrefPageSize    = "pageSize"
)

// Defaults for the settings: the engine's, so a registration saved here
// runs as one made by the CLI, which leaves them to the engine.
const (
	DefaultMaxParallel = bulk.DefaultMaxParallel
	DefaultPollMin     = bulk.DefaultPollMin
	DefaultPollMax     = bulk.DefaultPollMax
	DefaultPageSize    = 100
)

// Theme choices.
const (
	ThemeSystem = "System"
	ThemeLight  = "Light"
	ThemeDark   = "Dark"
)

type settingsScreen struct {
	u       *UI
	content fyne.CanvasObject

	dataDir     *widget.Entry
	theme       *widget.RadioGroup
	maxParallel *widget.Entry
	pollMin     *widget.Entry
	pollMax     *widget.Entry
	pageSize    *widget.Entry
	status      *widget.Label
}

func newSettingsScreen(u *UI) *settingsScreen {
	s := &settingsScreen{u: u}
	p := u.App.Preferences()

	s.dataDir = widget.NewEntry()
	s.dataDir.SetText(p.String(PrefDataDir))
	s.dataDir.SetPlaceHolder("default: $TRANCHE_HOME or your config directory")
	s.theme = widget.NewRadioGroup([]string{ThemeSystem, ThemeLight, ThemeDark}, func(string) { s.onThemeChanged() })
	s.theme.Horizontal = true
	s.theme.SetSelected(p.StringWithFallback(PrefTheme, ThemeSystem))
	s.maxParallel = intEntry(p.IntWithFallback(PrefMaxParallel, DefaultMaxParallel))
	s.pollMin = intEntry(p.IntWithFallback(PrefPollMin, int(DefaultPollMin/time.Second)))
	s.pollMax = intEntry(p.IntWithFallback(PrefPollMax, int(DefaultPollMax/time.Second)))
	s.pageSize = intEntry(p.IntWithFallback(PrefPageSize, DefaultPageSize))
	s.status = widget.NewLabel("")

	form := widget.NewForm(
		&widget.FormItem{Text: "Data directory", Widget: s.dataDir,
			HintText: "Where the catalogue lives. Takes effect when Tranche next starts."},
		&widget.FormItem{Text: "Theme", Widget: s.theme},
		&widget.FormItem{Text: "Parallel downloads", Widget: s.maxParallel,
			HintText: "Default for new registrations: files downloaded at once from one server."},
		&widget.FormItem{Text: "Shortest poll (s)", Widget: s.pollMin,
			HintText: "Never poll an export's status more often than this, whatever Retry-After says."},
		&widget.FormItem{Text: "Longest poll (s)", Widget: s.pollMax,
			HintText: "Never wait longer than this between status polls."},
		&widget.FormItem{Text: "Rows per page", Widget: s.pageSize,
			HintText: "Catalogue table page size."},
	)
	form.SubmitText = "Save settings"
	form.OnSubmit = s.save
	s.content = container.NewVScroll(container.NewPadded(container.NewVBox(
		widget.NewLabelWithStyle("Settings", fyne.TextAlignLeading, fyne.TextStyle{Bold: true}),
		form, s.status)))
	return s
}

func intEntry(v int) *widget.Entry {
	e := widget.NewEntry()
	e.SetText(strconv.Itoa(v))
	e.Validator = func(s string) error {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			return fmt.Errorf("enter a whole number of at least 1")
		}
		return nil
	}
	return e
}

func (s *settingsScreen) save() {
	ints := map[string]*widget.Entry{
		PrefMaxParallel: s.maxParallel, PrefPollMin: s.pollMin, PrefPollMax: s.pollMax, PrefPageSize: s.pageSize,
	}
	for _, e := range ints {
		if err := e.Validate(); err != nil {
			s.status.SetText("Not saved: every number must be a whole number of at least 1.")
			return
		}
	}
	min, _ := strconv.Atoi(s.pollMin.Text)
	max, _ := strconv.Atoi(s.pollMax.Text)
	if min > max {
		s.status.SetText("Not saved: the shortest poll is longer than the longest.")
		return
	}
	p := s.u.App.Preferences()
	for key, e := range ints {
		n, _ := strconv.Atoi(e.Text)
		p.SetInt(key, n)
	}
	p.SetString(PrefDataDir, s.dataDir.Text)
	p.SetString(PrefTheme, s.theme.Selected)
	s.status.SetText("Saved.")
}

func (s *settingsScreen) onThemeChanged() {
	s.u.App.Preferences().SetString(PrefTheme, s.theme.Selected)
	s.applyTheme()
}

// applyTheme applies the theme preference; "System" follows the desktop.
func (s *settingsScreen) applyTheme() {
	switch s.theme.Selected {
	case ThemeLight:
		s.u.App.Settings().SetTheme(variantTheme{theme.DefaultTheme(), theme.VariantLight})
	case ThemeDark:
		s.u.App.Settings().SetTheme(variantTheme{theme.DefaultTheme(), theme.VariantDark})
	default:
		s.u.App.Settings().SetTheme(theme.DefaultTheme())
	}
}

// maxParallel, pollRange and pageSize are the saved defaults.
func (s *settingsScreen) defaultMaxParallel() int {
	return s.u.App.Preferences().IntWithFallback(PrefMaxParallel, DefaultMaxParallel)
}

func (s *settingsScreen) pageSizeValue() int {
	return s.u.App.Preferences().IntWithFallback(PrefPageSize, DefaultPageSize)
}

func (s *settingsScreen) pollRange() (time.Duration, time.Duration) {
	p := s.u.App.Preferences()
	return time.Duration(p.IntWithFallback(PrefPollMin, int(DefaultPollMin/time.Second))) * time.Second,
		time.Duration(p.IntWithFallback(PrefPollMax, int(DefaultPollMax/time.Second))) * time.Second
}

// variantTheme is the default theme held to one variant (light or dark).
type variantTheme struct {
	fyne.Theme
	variant fyne.ThemeVariant
}

func (t variantTheme) Color(n fyne.ThemeColorName, _ fyne.ThemeVariant) color.Color {
	return t.Theme.Color(n, t.variant)
}
