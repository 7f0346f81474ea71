package ui

import (
	"context"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"tranche.dev/tranche/core"
	"tranche.dev/tranche/core/registry"
	"tranche.dev/tranche/core/workbench"
)

// Level choices as the screen shows them.
const (
	levelSystemText  = "Whole server (system)"
	levelPatientText = "All patients"
	levelGroupText   = "A Group"
)

type newExportScreen struct {
	u       *UI
	content fyne.CanvasObject

	regs      []*core.Registration
	discovery map[string]*registry.Discovery // by FHIR base URL

	registration *widget.Select
	level        *widget.RadioGroup
	group        *widget.SelectEntry
	groupsBtn    *widget.Button
	types        *typeChecklist
	typesNote    *widget.Label
	since        *widget.Entry
	sinceLast    *widget.Check
	until        *widget.Entry
	elements     *widget.Entry
	filters      *fyne.Container
	filterRows   []*widget.Entry
	patients     *widget.Entry
	outputFormat *widget.Entry
	associated   *widget.Entry
	organizeBy   *widget.Entry
	partial      *widget.Check
	lenient      *widget.Check
	post         *widget.Check
	problems     *widget.Label
	startBtn     *widget.Button

	// Shown when the registration lands its exports in object storage:
	// the library's views to land beside the records, as Parquet.
	sinkBox   *fyne.Container
	sinkNote  *widget.Label
	sinkViews *widget.CheckGroup
	sinkDefs  map[string][]byte // ViewDefinition JSON by sinkViews option
}

// commonTypes are offered until the server's CapabilityStatement is known.
var commonTypes = []string{
	"AllergyIntolerance", "Condition", "DiagnosticReport", "DocumentReference", "Encounter",
	"Group", "Immunization", "Location", "MedicationRequest", "Observation", "Organization",
	"Patient", "Practitioner", "PractitionerRole", "Procedure", "Provenance",
}

func newNewExportScreen(u *UI) *newExportScreen {
	s := &newExportScreen{u: u, discovery: map[string]*registry.Discovery{}}
	s.registration = widget.NewSelect(nil, func(string) { s.onRegistration() })
	s.registration.PlaceHolder = "(add one under Registrations)"
	s.level = widget.NewRadioGroup([]string{levelSystemText, levelPatientText, levelGroupText}, func(string) { s.onLevel() })
	s.level.Horizontal = true
	s.level.Required = true
	s.group = widget.NewSelectEntry(nil)
	s.group.SetPlaceHolder("Group id, or load the server's Groups")
	s.groupsBtn = widget.NewButtonWithIcon("Load Groups", theme.ViewRefreshIcon(), s.loadGroups)
	s.types = newTypeChecklist(commonTypes)
	s.typesNote = widget.NewLabel("None ticked: every type the server has. (Common types shown until the server's list is known.)")
	s.typesNote.Wrapping = fyne.TextWrapWord
	all := widget.NewButton("All", func() { s.types.setSelected(s.types.options) })
	none := widget.NewButton("None", func() { s.types.setSelected(nil) })
	s.since = widget.NewEntry()
	s.since.SetPlaceHolder("2024-01-31 or 2024-01-31T12:00:00Z")
	s.sinceLast = widget.NewCheck("Since the last export from this registration", func(on bool) { setEnabled(s.since, !on) })
	s.until = widget.NewEntry()
	s.until.SetPlaceHolder("optional")
	s.elements = widget.NewEntry()
	s.elements.SetPlaceHolder("e.g. id, status, Observation.code")
	s.filters = container.NewVBox()
	addFilter := widget.NewButtonWithIcon("Add filter", theme.ContentAddIcon(), func() { s.addFilter("") })
	s.patients = widget.NewMultiLineEntry()
	s.patients.SetPlaceHolder("Patient/123, one a line (optional)")
	s.patients.SetMinRowsVisible(2)
	s.outputFormat = widget.NewEntry()
	s.outputFormat.SetPlaceHolder("application/fhir+ndjson")
	s.associated = widget.NewEntry()
	s.associated.SetPlaceHolder("e.g. LatestProvenanceResources")
	s.organizeBy = widget.NewEntry()
	s.organizeBy.SetPlaceHolder("e.g. Patient")
	s.partial = widget.NewCheck("Accept partial manifests (allowPartialManifests)", nil)
	s.lenient = widget.NewCheck("Lenient: skip parameters the server does not support", nil)
	s.post = widget.NewCheck("Kick off with POST", nil)
	s.problems = widget.NewLabel("")
	s.problems.Wrapping = fyne.TextWrapWord
	s.problems.Importance = widget.DangerImportance
	s.sinkNote = widget.NewLabel("")
	s.sinkNote.Wrapping = fyne.TextWrapWord
	s.sinkViews = widget.NewCheckGroup(nil, nil)
	s.sinkBox = container.NewVBox(
		widget.NewLabelWithStyle("Object storage", fyne.TextAlignLeading, fyne.TextStyle{Bold: true}),
		s.sinkNote, s.sinkViews)
	s.sinkBox.Hide()
	s.startBtn = widget.NewButtonWithIcon("Start export", theme.MediaPlayIcon(), s.start)
	s.startBtn.Importance = widget.HighImportance

	form := widget.NewForm(
		widget.NewFormItem("Registration", s.registration),
		&widget.FormItem{Text: "Level", Widget: s.level,
			HintText: "System: everything on the server. All patients: every patient's compartment. Group: one cohort."},
		&widget.FormItem{Text: "Group", Widget: container.NewBorder(nil, nil, nil, s.groupsBtn, s.group)},
		&widget.FormItem{Text: "Resource types", Widget: container.NewVBox(s.types.content, container.NewHBox(all, none), s.typesNote)},
		&widget.FormItem{Text: "Since (_since)", Widget: container.NewVBox(dateField(s.since, u), s.sinceLast),
			HintText: "Only resources changed after this. Dates are midnight UTC."},
		&widget.FormItem{Text: "Until (_until)", Widget: dateField(s.until, u),
			HintText: "Only resources changed before this."},
		&widget.FormItem{Text: "Elements", Widget: s.elements,
			HintText: "_elements: only these elements (plus the mandatory ones); comma separated."},
		&widget.FormItem{Text: "Filters", Widget: container.NewVBox(s.filters, addFilter),
			HintText: "_typeFilter: one search per row, e.g. Observation?category=laboratory."},
		&widget.FormItem{Text: "Patients", Widget: s.patients,
			HintText: "Only these patients (sent with POST). All-patients and Group exports only."},
	)
	advanced := widget.NewAccordion(widget.NewAccordionItem("Advanced options", widget.NewForm(
		&widget.FormItem{Text: "Output format", Widget: s.outputFormat, HintText: "_outputFormat; NDJSON is the only format every server supports."},
		&widget.FormItem{Text: "Associated data", Widget: s.associated, HintText: "includeAssociatedData, comma separated."},
		&widget.FormItem{Text: "Organize output by", Widget: s.organizeBy, HintText: "organizeOutputBy: group files by this type (Bulk Data v3)."},
		&widget.FormItem{Widget: s.partial, HintText: "Let the server hand out files before the whole export is done."},
		&widget.FormItem{Widget: s.lenient, HintText: "Prefer: handling=lenient. Without it, an unsupported parameter fails the kick-off."},
		&widget.FormItem{Widget: s.post, HintText: "POST with a Parameters body instead of GET; needed for long requests."},
	)))
	s.content = container.NewVScroll(container.NewPadded(container.NewVBox(
		widget.NewLabelWithStyle("New export", fyne.TextAlignLeading, fyne.TextStyle{Bold: true}),
		form, s.sinkBox, advanced, s.problems,
		container.NewHBox(s.startBtn, widget.NewLabel("Ctrl+E starts the export from any tab.")),
	)))
	s.level.SetSelected(levelPatientText)
	return s
}

// dateField is an entry with a calendar button that fills in a date.
func dateField(e *widget.Entry, u *UI) fyne.CanvasObject {
	var btn *widget.Button
	btn = widget.NewButtonWithIcon("", theme.CalendarIcon(), func() {
		var pop *widget.PopUp
		start := u.now()
		if instant, err := parseInstant(e.Text); err == nil {
			start, _ = time.Parse(time.RFC3339Nano, instant)
		}
		cal := widget.NewCalendar(start, func(t time.Time) {
			e.SetText(t.Format(time.DateOnly))
			pop.Hide()
		})
		pop = widget.NewPopUp(cal, u.Window.Canvas())
		pop.ShowAtRelativePosition(fyne.NewPos(0, btn.Size().Height), btn)
	})
	return container.NewBorder(nil, nil, nil, btn, e)
}

func (s *newExportScreen) addFilter(text string) {
	e := widget.NewEntry()
	e.SetPlaceHolder("Type?search, e.g. Observation?category=laboratory")
	e.SetText(text)
	s.filterRows = append(s.filterRows, e)
	var row *fyne.Container
	remove := widget.NewButtonWithIcon("", theme.ContentRemoveIcon(), func() {
		s.filters.Remove(row)
		for i, r := range s.filterRows {
			if r == e {
				s.filterRows = append(s.filterRows[:i], s.filterRows[i+1:]...)
				break
			}
		}
	})
	row = container.NewBorder(nil, nil, nil, remove, e)
	s.filters.Add(row)
}

// setRegistrations offers the registrations, keeping the current choice.
func (s *newExportScreen) setRegistrations(regs []*core.Registration) {
	s.regs = regs
	names := make([]string, len(regs))
	for i, r := range regs {
		names[i] = r.Name
	}
	cur := s.registration.Selected
	s.registration.SetOptions(names)
	if cur == "" && len(names) > 0 {
		s.registration.SetSelected(names[0])
	}
}

func (s *newExportScreen) selectedRegistration() *core.Registration {
	for _, r := range s.regs {
		if r.Name == s.registration.Selected {
			return r
		}
	}
	return nil
}

// setDiscovery remembers what a server supports and offers its types.
func (s *newExportScreen) setDiscovery(baseURL string, d *registry.Discovery) {
	s.discovery[baseURL] = d
	if r := s.selectedRegistration(); r != nil && r.FHIRBaseURL == baseURL {
		s.showTypes(d)
	}
}

func (s *newExportScreen) showTypes(d *registry.Discovery) {
	if d == nil || len(d.Types) == 0 {
		return
	}
	s.types.setOptions(d.Types)
	s.typesNote.SetText("None ticked: every type the server has.")
}

// refresh runs when the tab is shown.
func (s *newExportScreen) refresh() { s.onRegistration() }

func (s *newExportScreen) onRegistration() {
	r := s.selectedRegistration()
	s.showSink(r)
	if r == nil {
		return
	}
	if d, ok := s.discovery[r.FHIRBaseURL]; ok {
		s.showTypes(d)
		return
	}
	base := r.FHIRBaseURL
	var d *registry.Discovery
	// Discovery failing here is not worth a dialog: the common types stay.
	s.u.runAsync(func() {
		got, err := s.u.deps.Servers.Discover(s.u.ctx, base)
		if err != nil {
			s.u.logger.Info("discovery for the new export form", "url", base, "err", err)
			return
		}
		d = got
		fyne.Do(func() { s.setDiscovery(base, d) })
	})
}

// showSink offers the library's views to land with the export when r
// lands its exports in object storage, and hides the choice otherwise.
func (s *newExportScreen) showSink(r *core.Registration) {
	if r == nil || r.Sink == "" || s.u.deps.Views == nil {
		s.sinkBox.Hide()
		return
	}
	s.sinkNote.SetText("Exports from " + r.Name + " land in object storage at " + r.Sink +
		". Views ticked here land there too, each as a Parquet table (views/NAME/), in open formats Spark, Trino and DuckDB read.")
	s.sinkBox.Show()
	var lib []workbench.ViewSummary
	s.u.background("Could not list the views.", func(ctx context.Context) (err error) {
		lib, err = s.u.deps.Views.Library(ctx)
		return err
	}, func() { s.setSinkViews(lib) })
}

// setSinkViews offers lib's views, keeping those ticked that remain.
func (s *newExportScreen) setSinkViews(lib []workbench.ViewSummary) {
	s.sinkDefs = make(map[string][]byte, len(lib))
	opts := make([]string, 0, len(lib))
	for _, v := range lib {
		opt := v.Name
		if v.Title != "" {
			opt = v.Title + " (" + v.Name + ")"
		}
		s.sinkDefs[opt] = v.JSON
		opts = append(opts, opt)
	}
	var keep []string
	for _, o := range s.sinkViews.Selected {
		if _, ok := s.sinkDefs[o]; ok {
			keep = append(keep, o)
		}
	}
	s.sinkViews.Options = opts
	s.sinkViews.SetSelected(keep)
}

// chosenSinkViews returns the ViewDefinitions ticked to land with an
// export of r: none unless r lands in object storage.
func (s *newExportScreen) chosenSinkViews(r *core.Registration) [][]byte {
	if r == nil || r.Sink == "" {
		return nil
	}
	var defs [][]byte
	for _, o := range s.sinkViews.Selected {
		defs = append(defs, s.sinkDefs[o])
	}
	return defs
}

func (s *newExportScreen) onLevel() {
	setEnabled(s.group, s.level.Selected == levelGroupText)
	setEnabled(s.groupsBtn, s.level.Selected == levelGroupText)
}

// loadGroups fills the Group picker from the server (GET [base]/Group).
func (s *newExportScreen) loadGroups() {
	r := s.selectedRegistration()
	if r == nil {
		s.problems.SetText("Pick a registration first.")
		return
	}
	var groups []core.Group
	s.u.background("Could not load the server's Groups.", func(ctx context.Context) (err error) {
		groups, err = s.u.deps.Exports.Groups(ctx, r)
		return err
	}, func() {
		opts := make([]string, len(groups))
		for i, g := range groups {
			opts[i] = groupChoice(g)
		}
		s.group.SetOptions(opts)
		if len(opts) > 0 && s.group.Text == "" {
			s.group.SetText(opts[0])
		}
		if len(opts) == 0 {
			s.problems.SetText("The server has no Groups.")
		}
	})
}

// form reads the widgets.
func (s *newExportScreen) form() ExportForm {
	f := ExportForm{
		GroupID:       s.group.Text,
		Types:         s.types.selected(),
		Since:         s.since.Text,
		SinceLast:     s.sinceLast.Checked,
		Until:         s.until.Text,
		Elements:      s.elements.Text,
		Patients:      s.patients.Text,
		OutputFormat:  s.outputFormat.Text,
		Associated:    s.associated.Text,
		OrganizeBy:    s.organizeBy.Text,
		Partial:       s.partial.Checked,
		Lenient:       s.lenient.Checked,
		POST:          s.post.Checked,
		Now:           s.u.now(),
		HasRegistered: s.selectedRegistration() != nil,
	}
	switch s.level.Selected {
	case levelSystemText:
		f.Level = core.LevelSystem
	case levelPatientText:
		f.Level = core.LevelPatient
	case levelGroupText:
		f.Level = core.LevelGroup
	}
	for _, e := range s.filterRows {
		f.TypeFilters = append(f.TypeFilters, e.Text)
	}
	if r := s.selectedRegistration(); r != nil {
		if d := s.discovery[r.FHIRBaseURL]; d != nil && len(d.Types) > 0 {
			f.KnownTypes = d.Types
		}
	}
	return f
}

// start checks the form and, when it is right, starts the export and
// shows it under Exports.
func (s *newExportScreen) start() {
	req, problems := s.form().Request()
	if len(problems) > 0 {
		s.problems.SetText("Please fix before starting:\n• " + strings.Join(problems, "\n• "))
		return
	}
	s.problems.SetText("")
	reg := s.selectedRegistration()
	s.u.SelectTab(TabExports)
	s.u.exports.start(reg, req, s.chosenSinkViews(reg))
}
