package ui

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"tranche.dev/tranche/core"
	"tranche.dev/tranche/core/workbench"
)

// maxJSONView bounds the JSON shown for one resource; Copy copies it all.
const maxJSONView = 256 << 10

const latestView = "Latest view (all exports)"

// typeEntry is one line of the types list.
type typeEntry struct {
	label string
	kind  core.RecordKind
	typ   string
}

// catalogScreen browses the catalogue: types with counts, a paged table,
// one resource's JSON, a patient's records, full-text search and export.
type catalogScreen struct {
	u       *UI
	content fyne.CanvasObject

	exportIDs []int64 // parallel to exportPick options after the first
	types     []typeEntry
	q         core.RecordQuery
	page      *core.RecordPage
	seq       int // drops answers to superseded queries
	row       *core.RecordRow
	json      []byte

	exportPick  *widget.Select
	typeList    *widget.List
	search      *widget.Entry
	patient     *widget.Label
	header      *widget.Label // whose record, above a patient's resources
	patientBtn  *widget.Button
	clearBtn    *widget.Button
	table       *widget.Table
	pageInfo    *widget.Label
	prevBtn     *widget.Button
	nextBtn     *widget.Button
	jsonView    *widget.TextGrid
	jsonTitle   *widget.Label
	copyBtn     *widget.Button
	exportBtn   *widget.Button
	typeIndex   int // selected line of typeList
	initialised bool
	// matches is the count of a table search's matches, kept while
	// paging through them (see countMatches).
	matches struct {
		table, text string
		n           int64
	}
	onColumns func([]string) // sizes the table's columns
}

func newCatalogScreen(u *UI) *catalogScreen {
	s := &catalogScreen{u: u}
	s.exportPick = widget.NewSelect([]string{latestView}, nil)
	s.exportPick.SetSelected(latestView)
	s.exportPick.OnChanged = func(string) { s.onExportPicked() }
	s.typeList = widget.NewList(
		func() int { return len(s.types) },
		func() fyne.CanvasObject { return widget.NewLabel("DocumentReference (1,000,000)") },
		func(i widget.ListItemID, o fyne.CanvasObject) { o.(*widget.Label).SetText(s.types[i].label) },
	)
	s.typeList.OnSelected = func(i widget.ListItemID) { s.onType(i) }
	s.search = widget.NewEntry()
	s.search.SetPlaceHolder("Search every resource (Ctrl+F), e.g. diabetes")
	s.search.OnSubmitted = func(string) { s.runSearch() }
	searchBtn := widget.NewButtonWithIcon("Search", theme.SearchIcon(), s.runSearch)
	s.patient = widget.NewLabel("")
	s.header = widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	s.header.Hide()
	s.patientBtn = widget.NewButtonWithIcon("Patient view", theme.AccountIcon(), s.patientView)
	s.clearBtn = widget.NewButtonWithIcon("Clear", theme.ContentClearIcon(), s.clearFilters)
	s.exportBtn = widget.NewButtonWithIcon("Export selection…", theme.DocumentSaveIcon(), s.exportSelection)
	s.table = newRecordTable(s)
	s.pageInfo = widget.NewLabel("")
	s.prevBtn = widget.NewButtonWithIcon("Previous", theme.NavigateBackIcon(), func() { s.turn(-1) })
	s.nextBtn = widget.NewButtonWithIcon("Next", theme.NavigateNextIcon(), func() { s.turn(1) })
	s.jsonTitle = widget.NewLabelWithStyle("Select a row to see its JSON.", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	s.jsonView = widget.NewTextGrid()
	s.copyBtn = widget.NewButtonWithIcon("Copy JSON", theme.ContentCopyIcon(), s.copyJSON)

	toolbar := container.NewBorder(nil, nil,
		container.NewHBox(widget.NewLabel("Export:"), s.exportPick),
		container.NewHBox(searchBtn, s.clearBtn, s.patientBtn, s.exportBtn),
		s.search)
	pager := container.NewHBox(s.prevBtn, s.nextBtn, s.pageInfo, s.patient)
	tablePane := container.NewBorder(s.header, pager, nil, nil, s.table)
	jsonPane := container.NewBorder(container.NewBorder(nil, nil, nil, s.copyBtn, s.jsonTitle), nil, nil, nil,
		container.NewScroll(s.jsonView))
	right := container.NewVSplit(tablePane, jsonPane)
	right.SetOffset(0.6)
	left := container.NewBorder(widget.NewLabelWithStyle("Resource types", fyne.TextAlignLeading, fyne.TextStyle{Bold: true}), nil, nil, nil, s.typeList)
	body := container.NewHSplit(left, right)
	body.SetOffset(0.2)
	s.content = container.NewBorder(container.NewPadded(toolbar), nil, nil, nil, body)
	s.q.Limit = DefaultPageSize
	s.updateButtons()
	return s
}

// reload reads the exports and the counts, then the current page.
func (s *catalogScreen) reload() {
	if n := s.u.settings.pageSizeValue(); n != s.q.Limit {
		s.q.Limit, s.q.Offset = n, 0
	}
	var exports []*core.Export
	s.u.background("Could not read the catalogue's exports.", func(ctx context.Context) (err error) {
		exports, err = s.u.deps.Exports.FindExports(ctx, exportListLimit)
		return err
	}, func() {
		opts := []string{latestView}
		s.exportIDs = nil
		for _, e := range exports {
			if e.State == core.StateKickoff || e.State == core.StatePolling {
				continue // nothing to browse yet
			}
			opts = append(opts, fmt.Sprintf("#%d %s, %s", e.ID, e.State, e.CreatedAt.Local().Format("2006-01-02 15:04")))
			s.exportIDs = append(s.exportIDs, e.ID)
		}
		s.exportPick.SetOptions(opts)
		s.selectExportOption()
		s.loadCounts()
	})
}

// invalidate marks the data stale after an export finished.
func (s *catalogScreen) invalidate() { s.initialised = false }

// showExport browses one export.
func (s *catalogScreen) showExport(id int64) {
	s.q = core.RecordQuery{ExportID: id, Limit: s.u.settings.pageSizeValue()}
	s.search.SetText("")
	s.reload()
}

func (s *catalogScreen) selectExportOption() {
	opt := latestView
	for i, id := range s.exportIDs {
		if id == s.q.ExportID {
			opt = s.exportPick.Options[i+1]
		}
	}
	if s.q.ExportID != 0 && opt == latestView {
		s.q.ExportID = 0
	}
	if s.exportPick.Selected != opt {
		onChanged := s.exportPick.OnChanged
		s.exportPick.OnChanged = nil
		s.exportPick.SetSelected(opt)
		s.exportPick.OnChanged = onChanged
	}
}

func (s *catalogScreen) onExportPicked() {
	s.q.ExportID = 0
	for i, o := range s.exportPick.Options {
		if o == s.exportPick.Selected && i > 0 {
			s.q.ExportID = s.exportIDs[i-1]
		}
	}
	s.q.Offset = 0
	s.loadCounts()
}

// loadCounts fills the types list, then the table.
func (s *catalogScreen) loadCounts() {
	exportID := s.q.ExportID
	var counts []core.TypeCount
	var deleted, errs int64
	var tables []workbench.ViewTable
	s.u.background("Could not count the catalogue's records.", func(ctx context.Context) (err error) {
		if counts, err = s.u.deps.Catalog.Counts(ctx, exportID); err != nil {
			return err
		}
		if s.u.deps.Views != nil && exportID == 0 {
			if tables, err = s.u.deps.Views.Tables(ctx); err != nil {
				return err
			}
		}
		if deleted, err = s.u.deps.Catalog.DeletedCount(ctx, exportID); err != nil {
			return err
		}
		errs, err = s.u.deps.Catalog.ErrorCount(ctx, exportID)
		return err
	}, func() {
		var total int64
		for _, c := range counts {
			total += c.Count
		}
		s.types = []typeEntry{{label: fmt.Sprintf("All types (%s)", thousands(total))}}
		for _, c := range counts {
			s.types = append(s.types, typeEntry{label: fmt.Sprintf("%s (%s)", c.Type, thousands(c.Count)), typ: c.Type})
		}
		s.types = append(s.types,
			typeEntry{label: fmt.Sprintf("Deleted — tombstones (%s)", thousands(deleted)), kind: core.RecordsDeleted},
			typeEntry{label: fmt.Sprintf("Errors — OperationOutcome (%s)", thousands(errs)), kind: core.RecordsErrors})
		for _, t := range tables {
			label := fmt.Sprintf("Table %s (%s)", t.Name, thousands(t.Rows))
			if t.Stale {
				label += " · stale"
			}
			s.types = append(s.types, typeEntry{label: label, kind: core.RecordsTable, typ: t.Name})
		}
		s.initialised = true
		s.typeList.Refresh()
		i := s.typeIndexFor(s.q.Kind, s.q.Type)
		s.typeIndex = i
		onSel := s.typeList.OnSelected
		s.typeList.OnSelected = nil
		s.typeList.Select(i)
		s.typeList.OnSelected = onSel
		s.query()
	})
}

func (s *catalogScreen) typeIndexFor(kind core.RecordKind, typ string) int {
	for i, t := range s.types {
		if t.kind == kind && t.typ == typ {
			return i
		}
	}
	return 0
}

func (s *catalogScreen) onType(i int) {
	t := s.types[i]
	s.typeIndex = i
	s.q.Kind, s.q.Type, s.q.Offset = t.kind, t.typ, 0
	s.query()
}

func (s *catalogScreen) runSearch() {
	s.q.Text = strings.TrimSpace(s.search.Text)
	s.q.Offset = 0
	s.query()
}

func (s *catalogScreen) clearFilters() {
	s.header.Hide()
	s.search.SetText("")
	s.q.Text, s.q.Patient, s.q.Offset = "", "", 0
	s.query()
}

// patientView shows everything for the selected row's patient.
func (s *catalogScreen) patientView() {
	if s.row == nil {
		return
	}
	p := s.row.Patient
	if p == "" && s.row.Type == "Patient" {
		p = "Patient/" + s.row.ID
	}
	if p == "" {
		return
	}
	s.q.Patient, s.q.Kind, s.q.Type, s.q.Offset = p, core.RecordsResources, "", 0
	s.typeList.UnselectAll()
	s.query()
	s.loadHeader(p)
}

// loadHeader shows whose record this is, from the demographics view:
// name, sex, birth date and age.
func (s *catalogScreen) loadHeader(ref string) {
	if s.u.deps.Views == nil {
		return
	}
	var demo map[string]any
	s.u.background("Could not read the patient's demographics.", func(ctx context.Context) (err error) {
		demo, err = s.u.deps.Views.Demographics(ctx, ref)
		if errors.Is(err, core.ErrNotFound) {
			demo, err = nil, nil
		}
		return err
	}, func() {
		if s.q.Patient != ref {
			return
		}
		s.header.SetText(patientHeader(ref, demo, s.u.now()))
		s.header.Show()
	})
}

// patientHeader is one line saying whose record it is.
func patientHeader(ref string, d map[string]any, now time.Time) string {
	if d == nil {
		return ref + " (not in the catalogue)"
	}
	str := func(k string) string { return cellText(d[k]) }
	name := strings.TrimSpace(strings.ReplaceAll(str("given_name"), ",", " ") + " " + str("family_name"))
	if name == "" {
		name = ref
	}
	parts := []string{name}
	if g := str("gender"); g != "" {
		parts = append(parts, g)
	}
	if b := str("birth_date"); b != "" {
		if age, ok := ageOn(b, now); ok {
			parts = append(parts, fmt.Sprintf("born %s (age %d)", b, age))
		} else {
			parts = append(parts, "born "+b)
		}
	}
	if str("deceased") == "true" || str("deceased_date_time") != "" {
		parts = append(parts, "deceased")
	}
	return strings.Join(parts, " · ") + " · " + ref
}

// ageOn is the age in whole years on now of someone born on birth (a
// FHIR date: YYYY, YYYY-MM or YYYY-MM-DD; a partial date counts from its
// first day).
func ageOn(birth string, now time.Time) (int, bool) {
	var t time.Time
	var err error
	for _, layout := range []string{"2006-01-02", "2006-01", "2006"} {
		if t, err = time.Parse(layout, birth); err == nil {
			break
		}
	}
	if err != nil || t.After(now) {
		return 0, false
	}
	age := now.Year() - t.Year()
	if now.Month() < t.Month() || now.Month() == t.Month() && now.Day() < t.Day() {
		age-- // no birthday yet this year
	}
	return age, true
}

func (s *catalogScreen) focusSearch() {
	s.u.Window.Canvas().Focus(s.search)
}

func (s *catalogScreen) turn(dir int) {
	next := s.q.Offset + dir*s.q.Limit
	if next < 0 {
		return
	}
	s.q.Offset = next
	s.query()
}

// query loads the page the query selects; older answers are dropped.
func (s *catalogScreen) query() {
	s.seq++
	seq, q := s.seq, s.q
	if q.Limit <= 0 {
		q.Limit = s.u.settings.pageSizeValue()
		s.q.Limit = q.Limit
	}
	s.pageInfo.SetText("Loading…")
	var page *core.RecordPage
	s.u.background("Could not read the catalogue.", func(ctx context.Context) (err error) {
		if q.Kind == core.RecordsTable {
			page, err = s.tablePage(ctx, q)
			return err
		}
		page, err = s.u.deps.Catalog.Records(ctx, q)
		return err
	}, func() {
		if seq != s.seq {
			return
		}
		s.page = page
		if q.Kind == core.RecordsTable && page.Total < 0 {
			s.countMatches(seq, q)
		}
		s.onColumns(page.Columns)
		s.row = nil
		s.setJSON("Select a row to see its JSON.", nil)
		s.table.UnselectAll()
		s.table.Refresh()
		s.table.ScrollToTop()
		s.showPageInfo()
		s.updateButtons()
	})
}

// countMatches fills in the total of a table search's page, which comes
// without one so that the page shows first: from the count kept while
// paging through the same search, or counted in the background.
func (s *catalogScreen) countMatches(seq int, q core.RecordQuery) {
	if q.Offset > 0 && s.matches.table == q.Type && s.matches.text == q.Text {
		s.page.Total = s.matches.n
		return
	}
	var n int64
	s.u.background("Could not count the matching rows.", func(ctx context.Context) (err error) {
		n, err = s.u.deps.Views.TableCount(ctx, q.Type, q.Text)
		return err
	}, func() {
		s.matches.table, s.matches.text, s.matches.n = q.Type, q.Text, n
		if seq != s.seq || s.page == nil {
			return
		}
		s.page.Total = n
		s.showPageInfo()
		s.updateButtons()
	})
}

func (s *catalogScreen) showPageInfo() {
	n := len(s.page.Rows)
	from, to := s.q.Offset+1, s.q.Offset+n
	var b strings.Builder
	switch {
	case n == 0:
		b.WriteString("No records match.")
	case s.page.Total >= 0:
		fmt.Fprintf(&b, "Rows %s–%s of %s", thousands(int64(from)), thousands(int64(to)), thousands(s.page.Total))
	default:
		fmt.Fprintf(&b, "Rows %s–%s", thousands(int64(from)), thousands(int64(to)))
	}
	if s.q.Text != "" {
		fmt.Fprintf(&b, " · search %q", s.q.Text)
	}
	s.pageInfo.SetText(b.String())
	if s.q.Patient != "" {
		s.patient.SetText("Everything for " + s.q.Patient)
	} else {
		s.patient.SetText("")
		s.header.Hide()
	}
}

func (s *catalogScreen) updateButtons() {
	n := 0
	if s.page != nil {
		n = len(s.page.Rows)
	}
	setEnabled(s.prevBtn, s.q.Offset > 0)
	more := n == s.q.Limit && n > 0
	if s.page != nil && s.page.Total >= 0 {
		more = int64(s.q.Offset+n) < s.page.Total
	}
	setEnabled(s.nextBtn, more)
	setEnabled(s.patientBtn, s.row != nil && (s.row.Patient != "" || s.row.Type == "Patient"))
	setEnabled(s.copyBtn, s.json != nil)
	setEnabled(s.exportBtn, n > 0)
	setEnabled(s.clearBtn, s.q.Text != "" || s.q.Patient != "")
}

// selectRow loads one record's JSON.
func (s *catalogScreen) selectRow(i int) {
	if s.page == nil || i < 0 || i >= len(s.page.Rows) {
		return
	}
	r := s.page.Rows[i]
	s.row = &r
	s.updateButtons()
	kind := s.q.Kind
	if kind == core.RecordsTable {
		s.setJSON(fmt.Sprintf("core.RecordRow %d of table %s", s.q.Offset+i+1, s.q.Type), tableRowJSON(s.page.Columns, r.Cells))
		s.updateButtons()
		return
	}
	var raw []byte
	s.u.background("Could not read the resource.", func(ctx context.Context) (err error) {
		raw, err = s.u.deps.Catalog.Resource(ctx, kind, r)
		return err
	}, func() {
		if s.row == nil || s.row.ID != r.ID || s.row.Type != r.Type {
			return
		}
		s.setJSON(r.Type+"/"+r.ID, raw)
		s.updateButtons()
	})
}

func (s *catalogScreen) setJSON(title string, raw []byte) {
	s.json = raw
	s.jsonTitle.SetText(title)
	s.jsonView.SetText(prettyJSON(raw))
}

// prettyJSON indents JSON for reading, cut at maxJSONView.
func prettyJSON(raw []byte) string {
	s := indentJSON(raw)
	if len(s) > maxJSONView {
		return s[:maxJSONView] + "\n… (cut here; Copy JSON copies all of it)"
	}
	return s
}

// indentJSON indents JSON; text that is not JSON comes back as it is.
func indentJSON(raw []byte) string {
	if raw == nil {
		return ""
	}
	var b bytes.Buffer
	if err := json.Indent(&b, raw, "", "  "); err != nil {
		return string(raw)
	}
	return b.String()
}

func (s *catalogScreen) copyJSON() {
	if s.json == nil {
		return
	}
	s.u.App.Clipboard().SetContent(indentJSON(s.json))
}

// thousands formats n as 1,234,567.
func thousands(n int64) string {
	s := fmt.Sprint(n)
	if n < 0 {
		return s
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// tablePage reads a page of a materialised view table as catalogue rows.
func (s *catalogScreen) tablePage(ctx context.Context, q core.RecordQuery) (*core.RecordPage, error) {
	tp, err := s.u.deps.Views.TableRows(ctx, q.Type, q.Text, q.Offset, q.Limit)
	if err != nil {
		return nil, err
	}
	page := &core.RecordPage{Total: tp.Total}
	for _, c := range tp.Columns {
		page.Columns = append(page.Columns, c.Name)
	}
	for _, row := range tp.Rows {
		r := core.RecordRow{Type: q.Type}
		for _, v := range row {
			r.Cells = append(r.Cells, cellText(v))
		}
		page.Rows = append(page.Rows, r)
	}
	return page, nil
}

// tableRowJSON shows one table row as a JSON object, column by column.
func tableRowJSON(cols, cells []string) []byte {
	var b bytes.Buffer
	b.WriteString("{")
	for i, c := range cols {
		if i > 0 {
			b.WriteString(",")
		}
		k, _ := json.Marshal(c)
		v, _ := json.Marshal(cells[i])
		b.Write(k)
		b.WriteString(":")
		b.Write(v)
	}
	b.WriteString("}")
	return b.Bytes()
}
