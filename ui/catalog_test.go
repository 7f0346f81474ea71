package ui

import (
	"strings"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"tranche.dev/tranche/core"
)

func TestCatalog_CountsPagingJSONAndPatient(t *testing.T) {
	f := newFixture(t)
	c := f.ui.catalog
	f.ui.SelectTab(TabCatalog)

	var labels []string
	for _, e := range c.types {
		labels = append(labels, e.label)
	}
	want := "All types (252)|Observation (250)|Patient (2)|Deleted — tombstones (1)|Errors — OperationOutcome (0)"
	if got := strings.Join(labels, "|"); got != want {
		t.Errorf("types = %q, want %q", got, want)
	}
	if got, want := c.pageInfo.Text, "Rows 1–100 of 252"; got != want {
		t.Errorf("page info = %q, want %q", got, want)
	}
	if !c.prevBtn.Disabled() || c.nextBtn.Disabled() {
		t.Errorf("first page: prev disabled %v, next disabled %v", c.prevBtn.Disabled(), c.nextBtn.Disabled())
	}
	test.Tap(c.nextBtn)
	test.Tap(c.nextBtn)
	if got, want := c.pageInfo.Text, "Rows 201–252 of 252"; got != want {
		t.Errorf("last page info = %q, want %q", got, want)
	}
	if !c.nextBtn.Disabled() {
		t.Errorf("Next enabled on the last page")
	}
	test.Tap(c.prevBtn)
	if got := c.q.Offset; got != 100 {
		t.Errorf("offset after Previous = %d, want 100", got)
	}

	c.typeList.Select(1) // Observation
	if got := c.q.Type; got != "Observation" {
		t.Errorf("query type = %q, want Observation", got)
	}
	if got := c.q.Offset; got != 0 {
		t.Errorf("picking a type kept offset %d", got)
	}
	c.table.Select(widget.TableCellID{Row: 3, Col: 1})
	if got, want := c.jsonTitle.Text, "Observation/o3"; got != want {
		t.Errorf("JSON title = %q, want %q", got, want)
	}
	if got, want := c.jsonView.Text(), "{\n  \"resourceType\": \"Observation\",\n  \"id\": \"o3\"\n}"; got != want {
		t.Errorf("JSON = %q, want %q", got, want)
	}
	test.Tap(c.copyBtn)
	if got := f.ui.App.Clipboard().Content(); got != c.jsonView.Text() {
		t.Errorf("clipboard = %q", got)
	}

	test.Tap(c.patientBtn)
	if got := c.q.Patient; got != "Patient/p0" {
		t.Errorf("patient view query = %q, want Patient/p0", got)
	}
	if got := c.pageInfo.Text; got != "Rows 1–100 of 251" {
		t.Errorf("patient view page = %q", got)
	}
	if got := c.patient.Text; got != "Everything for Patient/p0" {
		t.Errorf("patient label = %q", got)
	}
	test.Tap(c.clearBtn)
	if c.q.Patient != "" {
		t.Errorf("Clear kept patient %q", c.q.Patient)
	}
}

func TestCatalog_SearchWithShortcut(t *testing.T) {
	f := newFixture(t)
	c := f.ui.catalog
	typeShortcut(f.win, fyne.KeyF)
	if got := f.ui.tabs.SelectedIndex(); got != TabCatalog {
		t.Fatalf("Ctrl+F showed tab %d, want the catalogue", got)
	}
	if f.win.Canvas().Focused() != c.search {
		t.Fatalf("Ctrl+F did not focus the search entry")
	}
	test.Type(c.search, "o42")
	c.search.TypedKey(&fyne.KeyEvent{Name: fyne.KeyReturn})
	if got := c.q.Text; got != "o42" {
		t.Errorf("search text = %q", got)
	}
	if got := c.pageInfo.Text; got != `Rows 1–1 of 1 · search "o42"` {
		t.Errorf("page info = %q", got)
	}
}

func TestCatalog_DescribeQuery(t *testing.T) {
	for _, tt := range []struct {
		q    core.RecordQuery
		want string
	}{
		{core.RecordQuery{}, "every resource in the latest view"},
		{core.RecordQuery{Type: "Observation", ExportID: 3}, "every Observation of export #3"},
		{core.RecordQuery{Kind: core.RecordsDeleted}, "deleted entries in the latest view"},
		{core.RecordQuery{Patient: "Patient/1", Text: "flu"}, `every resource in the latest view for Patient/1 matching "flu"`},
	} {
		if got := describeQuery(tt.q); got != tt.want {
			t.Errorf("describeQuery(%+v) = %q, want %q", tt.q, got, tt.want)
		}
	}
}

func TestPrettyJSON(t *testing.T) {
	if got := prettyJSON([]byte("not json")); got != "not json" {
		t.Errorf("prettyJSON(not json) = %q", got)
	}
	big := []byte(`{"a":"` + strings.Repeat("x", maxJSONView) + `"}`)
	if got := prettyJSON(big); !strings.HasSuffix(got, "Copy JSON copies all of it)") {
		t.Errorf("prettyJSON(big) not cut")
	}
	if got := indentJSON(big); len(got) < maxJSONView {
		t.Errorf("indentJSON cut the text")
	}
}

// typeShortcut presses Ctrl (or Cmd) + key as the desktop driver does:
// through the main menu item that carries the shortcut.
func typeShortcut(w fyne.Window, key fyne.KeyName) {
	want := &desktop.CustomShortcut{KeyName: key, Modifier: fyne.KeyModifierShortcutDefault}
	for _, m := range w.MainMenu().Items {
		for _, it := range m.Items {
			if it.Shortcut != nil && it.Shortcut.ShortcutName() == want.ShortcutName() {
				it.Action()
				return
			}
		}
	}
	panic("no menu item for " + want.ShortcutName())
}
