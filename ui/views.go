package ui

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/storage"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"tranche.dev/tranche/core/views"

	"tranche.dev/tranche/core/workbench"
)

// previewRows is how many rows the live preview shows.
const previewRows = 100

// longRun is how long a run must take before its end is announced with a
// desktop notification (a person has likely looked away).
const longRun = 10 * time.Second

// viewsScreen makes tables from the catalogue: a library of views, a
// builder with a live preview, the ViewDefinition's JSON, runs to a table
// or a file, and column profiles.
type viewsScreen struct {
	u       *UI
	content fyne.CanvasObject
	tabs    *container.AppTabs

	library   []workbench.ViewSummary
	libList   *widget.List
	libInfo   *widget.Label
	libSel    int
	renameBtn *widget.Button
	deleteBtn *widget.Button

	b *builder

	jsonView *widget.TextGrid

	// run state: one run at a time
	runCancel context.CancelFunc
	runBar    *widget.ProgressBar
	runInfo   *widget.Label
	runStop   *widget.Button

	prof *profilePane
}

// Sub-tabs of the Views screen.
const (
	viewsLibrary = iota
	viewsBuilder
	viewsJSON
	viewsProfile
)

func newViewsScreen(u *UI) *viewsScreen {
	s := &viewsScreen{u: u, libSel: -1}
	if u.deps.Views == nil {
		l := widget.NewLabel("Views need a catalogue: start Tranche with one to make tables from its resources.")
		l.Wrapping = fyne.TextWrapWord
		s.content = l
		return s
	}
	s.libList = widget.NewList(
		func() int { return len(s.library) },
		func() fyne.CanvasObject { return widget.NewLabel("Medication requests (MedicationRequest) · stale") },
		func(i widget.ListItemID, o fyne.CanvasObject) { o.(*widget.Label).SetText(libraryLine(s.library[i])) },
	)
	s.libList.OnSelected = func(i widget.ListItemID) { s.onLibrary(i) }
	s.libInfo = widget.NewLabel(libraryHint)
	s.libInfo.Wrapping = fyne.TextWrapWord
	openBtn := widget.NewButtonWithIcon("Open in builder", theme.DocumentCreateIcon(), s.openSelected)
	runBtn := widget.NewButtonWithIcon("Run to table", theme.MediaPlayIcon(), s.runSelected)
	s.renameBtn = widget.NewButtonWithIcon("Rename…", theme.DocumentCreateIcon(), s.confirmRename)
	s.deleteBtn = widget.NewButtonWithIcon("Delete…", theme.DeleteIcon(), s.confirmDelete)
	s.renameBtn.Disable()
	s.deleteBtn.Disable()
	libRight := container.NewBorder(container.NewHBox(openBtn, runBtn, s.renameBtn, s.deleteBtn), nil, nil, nil,
		container.NewVScroll(s.libInfo))
	lib := container.NewHSplit(s.libList, libRight)
	lib.Offset = 0.35

	s.b = newBuilder(s)
	s.jsonView = widget.NewTextGrid() // the builder writes it; Load reads a file
	copyBtn := widget.NewButtonWithIcon("Copy", theme.ContentCopyIcon(), func() {
		u.App.Clipboard().SetContent(string(s.b.def.JSON()))
	})
	saveBtn := widget.NewButtonWithIcon("Save…", theme.DocumentSaveIcon(), s.saveJSON)
	loadBtn := widget.NewButtonWithIcon("Load…", theme.FolderOpenIcon(), s.loadJSON)
	jsonTab := container.NewBorder(container.NewHBox(copyBtn, saveBtn, loadBtn), nil, nil, nil, container.NewScroll(s.jsonView))

	s.prof = newProfilePane(s)

	s.runBar = widget.NewProgressBar()
	s.runBar.Hide()
	s.runInfo = widget.NewLabel("")
	s.runStop = widget.NewButtonWithIcon("Cancel", theme.CancelIcon(), s.cancelRun)
	s.runStop.Hide()

	s.tabs = container.NewAppTabs(
		container.NewTabItem("Library", lib),
		container.NewTabItem("Builder", s.b.content),
		container.NewTabItem("ViewDefinition", jsonTab),
		container.NewTabItem("Profile", s.prof.content),
	)
	s.tabs.OnSelected = func(*container.TabItem) {
		if s.tabs.SelectedIndex() == viewsJSON {
			s.jsonView.SetText(string(s.b.def.JSON()))
		}
	}
	runRow := container.NewBorder(nil, nil, nil, s.runStop, container.NewVBox(s.runInfo, s.runBar))
	s.content = container.NewBorder(nil, runRow, nil, nil, s.tabs)
	return s
}

// libraryLine is one line of the library list.
func libraryLine(v workbench.ViewSummary) string {
	title := libraryTitle(v)
	line := fmt.Sprintf("%s (%s)", title, v.Resource)
	switch {
	case v.Saved:
		line += " · saved"
	case !v.BuiltIn:
		line += " · table only"
	}
	if v.Table != nil {
		if v.Table.Stale || v.TableOtherVersion {
			line += " · table stale"
		} else {
			line += " · table fresh"
		}
	}
	return line
}

// libraryTitle names a view in the library: a built-in view by its
// title, the user's own by their name (which names the table), so that
// one started from a built-in view and saved under another name is told
// apart from it.
func libraryTitle(v workbench.ViewSummary) string {
	if v.BuiltIn && v.Title != "" {
		return v.Title
	}
	return v.Name
}

// reload reads the library and the builder's resource types.
func (s *viewsScreen) reload() {
	if s.u.deps.Views == nil {
		return
	}
	var lib []workbench.ViewSummary
	s.u.background("Could not read the views.", func(ctx context.Context) error {
		var err error
		lib, err = s.u.deps.Views.Library(ctx)
		return err
	}, func() {
		s.setLibrary(lib)
		s.b.setLibrary(lib)
	})
	s.b.reloadTypes()
	s.prof.reloadTables()
}

// libraryHint is the library's text while no view is selected.
const libraryHint = "Pick a view to see what it holds. Views you save from the builder are listed here with the built-in ones."

// setLibrary shows lib, keeping the selected view selected when it is
// still there.
func (s *viewsScreen) setLibrary(lib []workbench.ViewSummary) {
	var name string
	if s.libSel >= 0 && s.libSel < len(s.library) {
		name = s.library[s.libSel].Name
	}
	s.library = lib
	s.libList.Refresh()
	for i, v := range lib {
		if name != "" && v.Name == name {
			s.libList.Select(i) // shows it again, as it is now
			return
		}
	}
	s.libList.UnselectAll()
	s.libSel = -1
	s.libInfo.SetText(libraryHint)
	s.renameBtn.Disable()
	s.deleteBtn.Disable()
}

func (s *viewsScreen) onLibrary(i int) {
	if i < 0 || i >= len(s.library) {
		return
	}
	s.libSel = i
	v := s.library[i]
	setEnabled(s.renameBtn, v.Saved)
	setEnabled(s.deleteBtn, v.Saved)
	var b strings.Builder
	title := libraryTitle(v)
	if !v.BuiltIn && v.Title != "" {
		title += ": " + v.Title
	}
	fmt.Fprintf(&b, "%s\n\n", title)
	if v.Description != "" {
		fmt.Fprintf(&b, "%s\n\n", v.Description)
	}
	fmt.Fprintf(&b, "Reads: %s\nTable name: %s\n", v.Resource, v.Name)
	switch {
	case v.BuiltIn:
		b.WriteString("Built in.\n")
	case v.Saved:
		fmt.Fprintf(&b, "Your own view, saved in the catalogue %s.\n", v.Updated.Local().Format("2006-01-02 15:04"))
	default:
		b.WriteString("Your own view, not saved: only its table is in the catalogue. Open it in the builder and Save view to keep it.\n")
	}
	b.WriteString("\nColumns:\n")
	for _, c := range v.Columns {
		fmt.Fprintf(&b, "  %s  (%s)", c.Name, cmpOr(c.Type, "any"))
		if c.Description != "" {
			fmt.Fprintf(&b, ": %s", c.Description)
		}
		b.WriteString("\n")
	}
	b.WriteString("\n")
	b.WriteString(tableStatus(v.Table))
	if v.Table != nil && v.TableOtherVersion {
		b.WriteString("\nThe table was built from another version of this view: Run to table builds it from this one.")
	}
	s.libInfo.SetText(b.String())
}

// tableStatus says whether a view's table exists and is fresh.
func tableStatus(t *workbench.ViewTable) string {
	if t == nil {
		return "No table yet: Run to table stores one in the catalogue."
	}
	state := "fresh: built from every export so far"
	if t.Stale {
		state = "stale: a newer export is not in it; run it again"
	}
	return fmt.Sprintf("Table: %s rows, %s problems, built %s; %s.",
		thousands(t.Rows), thousands(t.Problems), t.BuiltAt.Local().Format("2006-01-02 15:04"), state)
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func (s *viewsScreen) openSelected() {
	if s.libSel < 0 || s.libSel >= len(s.library) {
		return
	}
	v := s.library[s.libSel]
	if s.b.loadDef(v.JSON) && v.Saved {
		s.b.opened = v.Name
	}
	s.tabs.SelectIndex(viewsBuilder)
}

func (s *viewsScreen) runSelected() {
	if s.libSel < 0 || s.libSel >= len(s.library) {
		return
	}
	s.materialise(s.library[s.libSel].JSON)
}

// validate parses def with the core rules; the error is what the person
// sees under the preview.
func validate(def []byte) error {
	_, err := views.Parse(def)
	return err
}

// viewError is a sentence for a fault in a ViewDefinition, with its place.
func viewError(err error) string {
	var ve *views.Error
	if errors.As(err, &ve) {
		return "This view cannot run yet: " + ve.Error()
	}
	return "This view cannot run yet: " + err.Error()
}

// materialise runs def into a catalogue table, with progress and Cancel.
func (s *viewsScreen) materialise(def []byte) {
	if err := validate(def); err != nil {
		s.u.showError(viewError(err), err)
		return
	}
	name := viewName(def)
	s.startRun("Making table "+name, func(ctx context.Context, progress func(workbench.RunStats)) (workbench.RunStats, error) {
		return s.u.deps.Views.Materialise(ctx, def, progress)
	}, func(st workbench.RunStats) string {
		return fmt.Sprintf("Table %s: %s rows from %s resources, %s problems.", name, thousands(st.Rows), thousands(st.Resources), thousands(st.Problems))
	}, func() {
		s.reload()
	})
}

// viewName is the name element of def, or "view".
func viewName(def []byte) string {
	if d, err := parseViewDef(def); err == nil && d.Name != "" {
		return d.Name
	}
	return "view"
}

// startRun runs a long view run off the UI goroutine with a progress bar
// and Cancel; done says what it did. One run at a time.
func (s *viewsScreen) startRun(title string, run func(context.Context, func(workbench.RunStats)) (workbench.RunStats, error), done func(workbench.RunStats) string, after func()) {
	if s.runCancel != nil {
		s.runInfo.SetText("A run is already going: cancel it or wait for it to finish.")
		return
	}
	ctx, cancel := context.WithCancel(s.u.ctx)
	s.runCancel = cancel
	s.runInfo.SetText(title + "…")
	s.runBar.SetValue(0)
	s.runBar.Show()
	s.runStop.Show()
	start := s.u.now()
	var mu sync.Mutex
	last := time.Time{}
	progress := func(st workbench.RunStats) {
		// At most ten updates a second reach the UI goroutine.
		mu.Lock()
		now := time.Now()
		if now.Sub(last) < 100*time.Millisecond {
			mu.Unlock()
			return
		}
		last = now
		mu.Unlock()
		fyne.Do(func() {
			if st.Total > 0 {
				s.runBar.SetValue(float64(st.Resources) / float64(st.Total))
			}
			s.runInfo.SetText(fmt.Sprintf("%s: %s resources read, %s rows, %s problems", title,
				thousands(st.Resources), thousands(st.Rows), thousands(st.Problems)))
		})
	}
	s.u.runAsync(func() {
		st, err := run(ctx, progress)
		fyne.Do(func() {
			cancel()
			s.runCancel = nil
			s.runBar.Hide()
			s.runStop.Hide()
			if err != nil {
				if errors.Is(err, context.Canceled) {
					s.runInfo.SetText(title + ": cancelled.")
					return
				}
				s.runInfo.SetText(title + ": failed.")
				s.u.showError(title+" did not finish.", err)
				return
			}
			msg := done(st)
			s.runInfo.SetText(msg)
			if s.u.now().Sub(start) >= longRun {
				s.u.notify("Tranche: run finished", msg)
			}
			if after != nil {
				after()
			}
		})
	})
}

func (s *viewsScreen) cancelRun() {
	if s.runCancel != nil {
		s.runCancel()
	}
}

// exportTo asks for a file and writes def's rows to it in format.
func (s *viewsScreen) exportTo(def []byte, format string) {
	if err := validate(def); err != nil {
		s.u.showError(viewError(err), err)
		return
	}
	name := viewName(def)
	s.u.saveFile(name+"."+format, func(w fyne.URIWriteCloser) {
		s.startRun("Writing "+w.URI().Name(), func(ctx context.Context, progress func(workbench.RunStats)) (workbench.RunStats, error) {
			st, err := s.u.deps.Views.Export(ctx, def, w, format, progress)
			if cerr := w.Close(); err == nil {
				err = cerr
			}
			return st, err
		}, func(st workbench.RunStats) string {
			return fmt.Sprintf("Saved %s rows to %s (%s problems).", thousands(st.Rows), w.URI().Name(), thousands(st.Problems))
		}, nil)
	})
}

// saveFile asks where to save a file called name (Deps.SaveFile) and gives
// write the file opened there. A file that cannot be opened is reported;
// Cancel does nothing.
func (u *UI) saveFile(name string, write func(fyne.URIWriteCloser)) {
	done := func(w fyne.URIWriteCloser, err error) {
		if err != nil {
			u.showError("Could not open the file to write.", err)
			return
		}
		if w != nil {
			write(w)
		}
	}
	if u.deps.SaveFile != nil {
		u.deps.SaveFile(name, done)
		return
	}
	d := dialog.NewFileSave(done, u.Window)
	d.SetFileName(name)
	d.Show()
}

func (s *viewsScreen) saveJSON() {
	def := s.b.def.JSON()
	s.u.saveFile(viewName(def)+".json", func(w fyne.URIWriteCloser) {
		_, err := w.Write(def)
		if cerr := w.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			s.u.showError("Could not save the ViewDefinition.", err)
		}
	})
}

func (s *viewsScreen) loadJSON() {
	d := dialog.NewFileOpen(func(r fyne.URIReadCloser, err error) {
		if err != nil {
			s.u.showError("Could not open the file.", err)
			return
		}
		if r == nil {
			return
		}
		defer r.Close()
		data, err := readBounded(r, maxViewFile)
		if err != nil {
			s.u.showError("Could not read the ViewDefinition.", err)
			return
		}
		s.loadDef(data)
	}, s.u.Window)
	d.SetFilter(storage.NewExtensionFileFilter([]string{".json"}))
	d.Show()
}

// loadDef puts a ViewDefinition into the builder and shows its JSON.
func (s *viewsScreen) loadDef(data []byte) {
	if !s.b.loadDef(data) {
		return
	}
	s.jsonView.SetText(string(s.b.def.JSON()))
}

// maxViewFile bounds a ViewDefinition file read by Load.
const maxViewFile = 4 << 20

// showBuilder brings the builder forward.
func (s *viewsScreen) showBuilder() {
	if s.tabs != nil {
		s.tabs.SelectIndex(viewsBuilder)
	}
}
