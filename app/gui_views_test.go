package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"
	"github.com/parquet-go/parquet-go"

	"tranche.dev/tranche/core/workbench"
	"tranche.dev/tranche/ui/chart"
)

// viewsTab returns the Views screen's own tabs.
func viewsTabs(t *testing.T, root fyne.CanvasObject) *container.AppTabs {
	t.Helper()
	return find(t, root, func(a *container.AppTabs) bool {
		return len(a.Items) == 4 && a.Items[0].Text == "Library"
	})
}

func selectPlaceholder(t *testing.T, root fyne.CanvasObject, ph string) *widget.Select {
	t.Helper()
	return find(t, root, func(s *widget.Select) bool { return s.PlaceHolder == ph })
}

// previewCounts reads "First N of M rows from R resources; P problems."
func previewCounts(t *testing.T, root fyne.CanvasObject) (shown, total, problems int) {
	t.Helper()
	re := regexp.MustCompile(`^First ([\d,]+) of ([\d,]+) rows from [\d,]+ resources; ([\d,]+) problems\.$`)
	l := find(t, root, func(l *widget.Label) bool { return re.MatchString(l.Text) })
	m := re.FindStringSubmatch(l.Text)
	n := func(s string) int { v, _ := strconv.Atoi(strings.ReplaceAll(s, ",", "")); return v }
	return n(m[1]), n(m[2]), n(m[3])
}

// TestDemo_MakeTable is issue 14's done-when flow: from a demo export to a
// saved Parquet table of the analyst's own design, blood pressures by
// patient, and its column profile, by pointing and typing FHIRPath only
// (no JSON).
func TestDemo_MakeTable(t *testing.T) {
	d := newDemoGUI(t, 5)
	out := filepath.Join(d.saveDir, "bp_by_patient.parquet")
	root := d.win.Content()
	ctx := context.Background()
	d.shortcut(t, fyne.KeyE) // export the demo data

	d.shortcut(t, fyne.KeyT) // Make a table: the Views builder
	tabs := viewsTabs(t, root)
	if tabs.SelectedIndex() != 1 {
		t.Fatalf("Ctrl+T showed views tab %d, want the builder", tabs.SelectedIndex())
	}
	selectPlaceholder(t, root, "Resource type").SetSelected("Observation")
	tree := find(t, root, func(*widget.Tree) bool { return true })

	pick := func(path string, forEach bool) {
		t.Helper()
		tree.Select(path)
		each := find(t, root, func(c *widget.Check) bool { return strings.HasPrefix(c.Text, "One row per repeat") })
		each.SetChecked(forEach)
		info := labelPrefixed(t, root, path+": in ")
		if !strings.Contains(info.Text, "%") {
			t.Errorf("path info = %q, want its share", info.Text)
		}
		test.Tap(button(t, root, "Add column"))
	}
	pick("subject.reference", false)
	_, total1, _ := previewCounts(t, root)
	counts, err := d.g.db.Counts(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	var observations int
	for _, c := range counts {
		if c.Type == "Observation" {
			observations = int(c.Count)
		}
	}
	if total1 != observations {
		t.Errorf("preview after one column: %d rows, want one per Observation (%d)", total1, observations)
	}

	// One row per component: the blood pressure panels' systolic and
	// diastolic values; only Observations that have components.
	find(t, root, func(c *widget.Check) bool { return strings.HasPrefix(c.Text, "Keep resources without it") }).SetChecked(false)
	pick("component.code.coding.code", true)
	pick("component.value.ofType(Quantity).value", true)
	shown, total2, problems := previewCounts(t, root)
	if total2 >= total1 || total2 == 0 || shown != min(total2, 100) || problems != 0 {
		t.Errorf("preview with forEach component: first %d of %d rows, %d problems; want fewer rows than %d, none failing",
			shown, total2, problems, total1)
	}

	// An invalid expression is flagged under the field, with its place.
	expr := find(t, root, func(e *widget.Entry) bool { return strings.HasPrefix(e.PlaceHolder, "FHIRPath") })
	test.Type(expr, "subject.fooo(")
	flag := find(t, root, func(l *widget.Label) bool { return strings.Contains(l.Text, "(at character") })
	if flag.Text == "" || !button(t, root, "Add").Disabled() {
		t.Errorf("invalid expression: message %q, Add enabled %v; want a message and Add disabled", flag.Text, !button(t, root, "Add").Disabled())
	}
	expr.SetText("")

	name := find(t, root, func(e *widget.Entry) bool { return e.Text == "my_table" })
	name.SetText("bp_by_patient")

	test.Tap(button(t, root, "Save as table"))
	tbl, err := d.g.db.FindViewTable(ctx, "bp_by_patient")
	if err != nil {
		t.Fatalf("no table bp_by_patient after Save as table: %v", err)
	}
	if int(tbl.Rows) != total2 {
		t.Errorf("table rows = %d, want the preview's total %d", tbl.Rows, total2)
	}
	labelPrefixed(t, root, "Table bp_by_patient: "+thousands(total2)+" rows")

	// Export as Parquet (the format's default) and read it back with
	// parquet-go's generic reader, not the writer's code path.
	test.Tap(button(t, root, "Export…"))
	labelPrefixed(t, root, "Saved "+thousands(total2)+" rows to bp_by_patient.parquet")
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	pf, err := parquet.OpenFile(f, st.Size())
	if err != nil {
		t.Fatalf("open %s: %v", out, err)
	}
	if int(pf.NumRows()) != total2 {
		t.Errorf("Parquet rows = %d, want %d", pf.NumRows(), total2)
	}
	var cols []string
	for _, c := range pf.Schema().Fields() {
		cols = append(cols, c.Name())
	}
	if got, want := strings.Join(cols, ","), "subject_reference,component_code_coding_code,component_value_quantity_value"; got != want {
		t.Errorf("Parquet columns = %s, want %s", got, want)
	}

	// The column profile of the values, from the stored table.
	tabs.SelectIndex(3)
	find(t, root, func(s *widget.Select) bool { return strings.HasPrefix(s.Selected, "The view") }).
		SetSelected("Table bp_by_patient")
	find(t, root, func(s *widget.Select) bool { return s.PlaceHolder == "Column" }).
		SetSelected("component_value_quantity_value")
	summary := labelPrefixed(t, root, "component_value_quantity_value: ")
	// An independent count from the table.
	var n, empty int
	var lo, hi float64 = 1e9, -1e9
	if err := d.g.db.ViewTableRows(ctx, "bp_by_patient", func(row []any) error {
		n++
		if row[2] == nil {
			empty++
			return nil
		}
		x, err := strconv.ParseFloat(fmt.Sprint(row[2]), 64)
		if err != nil {
			return err
		}
		lo, hi = min(lo, x), max(hi, x)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	want := thousands(n) + " values, " + thousands(empty) + " empty"
	if !strings.Contains(summary.Text, want) {
		t.Errorf("profile = %q, want %q", summary.Text, want)
	}
	rng := "number from " + strconv.FormatFloat(lo, 'f', -1, 64) + " to " + strconv.FormatFloat(hi, 'f', -1, 64)
	if !strings.Contains(summary.Text, rng) {
		t.Errorf("profile = %q, want %q", summary.Text, rng)
	}
	hist := find(t, root, func(*chart.Histogram) bool { return true })
	var binned int64
	for _, c := range hist.Counts {
		binned += c
	}
	if int(binned) != n-empty {
		t.Errorf("histogram holds %d values, want %d", binned, n-empty)
	}
	bars := find(t, root, func(*chart.BarChart) bool { return true })
	if len(bars.Bars) == 0 {
		t.Errorf("no top values drawn")
	}

	// The library lists the new table as the user's own, fresh.
	lib, err := (&workbench.Workbench{DB: d.g.db}).Library(ctx)
	if err != nil {
		t.Fatal(err)
	}
	last := lib[len(lib)-1]
	if last.Name != "bp_by_patient" || last.BuiltIn || last.Table == nil || last.Table.Stale {
		t.Errorf("library's last view = %s (built in %v, table %+v), want bp_by_patient, the user's own, fresh", last.Name, last.BuiltIn, last.Table)
	}
}

// TestDemo_CatalogueTablesAndPatient browses a materialised table beside
// the resource types (paged, searched) and shows a patient's header from
// the demographics view.
func TestDemo_CatalogueTablesAndPatient(t *testing.T) {
	d := newDemoGUI(t, 3)
	ctx := context.Background()
	root := d.win.Content()
	d.shortcut(t, fyne.KeyE)
	gv := &workbench.Workbench{DB: d.g.db}
	lib, err := gv.Library(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var demo []byte
	for _, v := range lib {
		if v.Name == "patient_demographics" {
			demo = v.JSON
		}
	}
	if _, err := gv.Materialise(ctx, demo, nil); err != nil {
		t.Fatal(err)
	}

	d.shortcut(t, fyne.Key4)
	types := find(t, root, func(l *widget.List) bool { return l.Length() > 3 })
	types.Select(types.Length() - 1) // the table comes after the resource types
	labelPrefixed(t, root, "Rows 1–3 of 3")

	search := find(t, root, func(e *widget.Entry) bool { return strings.HasPrefix(e.PlaceHolder, "Search every resource") })
	rows := mustRows(t, gv, "patient_demographics")
	family := fmt.Sprint(rows[0][10]) // family_name
	test.Type(search, family)
	search.TypedKey(&fyne.KeyEvent{Name: fyne.KeyReturn})
	// The page and then its total: every row holding the name, counted
	// here from all the table's rows.
	var matches int
	for _, r := range rows {
		if strings.Contains(strings.ToLower(fmt.Sprint(r...)), strings.ToLower(family)) {
			matches++
		}
	}
	info := labelPrefixed(t, root, "Rows 1–")
	if want := fmt.Sprintf("Rows 1–%d of %d · search %q", matches, matches, family); matches == 0 || info.Text != want {
		t.Errorf("table search for %q: %q, want %q", family, info.Text, want)
	}

	// A patient's record has a header saying whose it is.
	test.Tap(button(t, root, "Clear"))
	types.Select(typeIndex(t, types, "Patient"))
	table := find(t, root, func(*widget.Table) bool { return true })
	table.Select(widget.TableCellID{Row: 0, Col: 1})
	test.Tap(button(t, root, "Patient view"))
	header := find(t, root, func(l *widget.Label) bool { return strings.Contains(l.Text, " · Patient/") })
	if !strings.Contains(header.Text, "born ") || !strings.Contains(header.Text, "(age ") {
		t.Errorf("patient header = %q, want name, sex, birth date and age", header.Text)
	}
}

func mustRows(t *testing.T, gv *workbench.Workbench, table string) [][]any {
	t.Helper()
	p, err := gv.TableRows(context.Background(), table, "", 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	return p.Rows
}

// typeIndex finds the catalogue's type list line for typ.
func typeIndex(t *testing.T, l *widget.List, typ string) int {
	t.Helper()
	for i := range l.Length() {
		o := l.CreateItem()
		l.UpdateItem(i, o)
		if strings.HasPrefix(o.(*widget.Label).Text, typ+" (") {
			return i
		}
	}
	t.Fatalf("no %s in the types list", typ)
	return 0
}

// listLine is the text of line i of a list of labels.
func listLine(l *widget.List, i int) string {
	o := l.CreateItem()
	l.UpdateItem(i, o)
	return o.(*widget.Label).Text
}

// selectLine selects the line of l that starts with prefix.
func selectLine(t *testing.T, l *widget.List, prefix string) {
	t.Helper()
	for i := range l.Length() {
		if strings.HasPrefix(listLine(l, i), prefix) {
			l.Select(i)
			return
		}
	}
	t.Fatalf("no line %q in the list", prefix)
}

// hasLine reports whether a line of l starts with prefix.
func hasLine(l *widget.List, prefix string) bool {
	for i := range l.Length() {
		if strings.HasPrefix(listLine(l, i), prefix) {
			return true
		}
	}
	return false
}

// builderJSON is the builder's view as the ViewDefinition tab shows it,
// without white space at its ends.
func builderJSON(t *testing.T, root fyne.CanvasObject, tabs *container.AppTabs) string {
	t.Helper()
	was := tabs.SelectedIndex()
	tabs.SelectIndex(2)
	defer tabs.SelectIndex(was)
	return strings.TrimSpace(find(t, root, func(*widget.TextGrid) bool { return true }).Text())
}

// overlay is the dialog on top of the window.
func overlay(t *testing.T, w fyne.Window) fyne.CanvasObject {
	t.Helper()
	o := w.Canvas().Overlays().Top()
	if o == nil {
		t.Fatal("no dialog shown")
	}
	return o
}

// TestDemo_SaveViewReopen saves a view from the builder without running
// it, finds it in the library beside the built-in views, opens it again
// in the builder after another view was loaded, then renames and deletes
// it from the library.
func TestDemo_SaveViewReopen(t *testing.T) {
	d := newDemoGUI(t, 2)
	root := d.win.Content()
	ctx := context.Background()
	d.shortcut(t, fyne.KeyE) // export the demo data

	d.shortcut(t, fyne.KeyT)
	tabs := viewsTabs(t, root)
	selectPlaceholder(t, root, "Resource type").SetSelected("Patient")
	find(t, root, func(*widget.Tree) bool { return true }).Select("gender")
	test.Tap(button(t, root, "Add column"))
	find(t, root, func(e *widget.Entry) bool { return e.Text == "my_table" }).SetText("my_patients")
	saved := builderJSON(t, root, tabs)

	test.Tap(button(t, root, "Save view"))
	labelPrefixed(t, root, "Saved view my_patients in the catalogue")
	def, err := d.g.db.FindViewDef(ctx, "my_patients")
	if err != nil {
		t.Fatalf("FindViewDef after Save view: %v", err)
	}
	if strings.TrimSpace(string(def.JSON)) != saved || def.Resource != "Patient" {
		t.Errorf("saved view = %s of %s, want the builder's JSON of Patient:\n%s", def.JSON, def.Resource, saved)
	}
	if _, err := d.g.db.FindViewTable(ctx, "my_patients"); err == nil {
		t.Errorf("Save view made a table; it must only save the view")
	}

	// The builder moves on to another view.
	selectPlaceholder(t, root, "Start from a built-in view…").SetSelected("Blood pressures")
	find(t, root, func(e *widget.Entry) bool { return e.Text == "blood_pressures" })

	// The library lists it beside the built-in views, with what it holds.
	tabs.SelectIndex(0)
	lib := find(t, root, func(l *widget.List) bool { return l.Length() > 3 })
	if !hasLine(lib, "Blood pressures (Observation)") {
		t.Errorf("the library lost the built-in views")
	}
	selectLine(t, lib, "my_patients (Patient) · saved")
	info := labelPrefixed(t, root, "my_patients\n")
	for _, want := range []string{"Reads: Patient", "Your own view, saved in the catalogue", "gender  (string)", "No table yet"} {
		if !strings.Contains(info.Text, want) {
			t.Errorf("library info = %q, want %q in it", info.Text, want)
		}
	}

	// Open it again: the builder holds it as saved.
	test.Tap(button(t, root, "Open in builder"))
	if tabs.SelectedIndex() != 1 {
		t.Fatalf("Open in builder showed views tab %d, want the builder", tabs.SelectedIndex())
	}
	find(t, root, func(e *widget.Entry) bool { return e.Text == "my_patients" })
	if s := selectPlaceholder(t, root, "Resource type"); s.Selected != "Patient" {
		t.Errorf("reopened view reads %q, want Patient", s.Selected)
	}
	find(t, root, func(e *widget.Entry) bool { return e.Text == "gender" && e.PlaceHolder == "name" })
	if got := builderJSON(t, root, tabs); got != saved {
		t.Errorf("reopened view = %s, want it as saved:\n%s", got, saved)
	}

	// Rename it from the library.
	tabs.SelectIndex(0)
	selectLine(t, lib, "my_patients (Patient)")
	test.Tap(button(t, root, "Rename…"))
	dlg := overlay(t, d.win)
	find(t, dlg, func(e *widget.Entry) bool { return e.Text == "my_patients" }).SetText("patients_by_gender")
	test.Tap(button(t, dlg, "Rename"))
	if _, err := d.g.db.FindViewDef(ctx, "patients_by_gender"); err != nil {
		t.Fatalf("after Rename: %v", err)
	}
	if hasLine(lib, "my_patients") || !hasLine(lib, "patients_by_gender (Patient) · saved") {
		t.Errorf("library after rename does not list patients_by_gender instead of my_patients")
	}

	// Delete it.
	selectLine(t, lib, "patients_by_gender")
	test.Tap(button(t, root, "Delete…"))
	test.Tap(button(t, overlay(t, d.win), "Yes"))
	if ds, err := d.g.db.ViewDefs(ctx); err != nil || len(ds) != 0 {
		t.Errorf("saved views after Delete = %v, %v; want none", ds, err)
	}
	if hasLine(lib, "patients_by_gender") {
		t.Errorf("the library still lists the deleted view")
	}
}
