package ui

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"tranche.dev/tranche/core/profile"
	"tranche.dev/tranche/core/views"

	"tranche.dev/tranche/core/registry"

	"tranche.dev/tranche/core/workbench"
)

// fakeViews is a Views whose runs return what the test sets.
type fakeViews struct {
	stats     workbench.RunStats
	err       error
	previews  int
	cancelled int // previews whose context was cancelled when they ran
	ctxs      []context.Context
	lib       []workbench.ViewSummary
	saves     [][]byte
}

func (f *fakeViews) Library(context.Context) ([]workbench.ViewSummary, error) { return f.lib, nil }
func (f *fakeViews) Tables(context.Context) ([]workbench.ViewTable, error)    { return nil, nil }
func (f *fakeViews) Paths(_ context.Context, r string) (*workbench.PathSample, error) {
	return &workbench.PathSample{Resource: r}, nil
}
func (f *fakeViews) Preview(ctx context.Context, def []byte, limit int) (*workbench.Preview, error) {
	f.previews++
	f.ctxs = append(f.ctxs, ctx)
	if err := ctx.Err(); err != nil {
		f.cancelled++
		return nil, err
	}
	v, err := views.Parse(def)
	if err != nil {
		return nil, err
	}
	return &workbench.Preview{Columns: v.Columns(), Rows: [][]any{{"x"}}, Total: 7, Resources: 7}, nil
}
func (f *fakeViews) Materialise(_ context.Context, _ []byte, onProgress func(workbench.RunStats)) (workbench.RunStats, error) {
	return f.stats, f.err
}
func (f *fakeViews) Export(context.Context, []byte, io.Writer, string, func(workbench.RunStats)) (workbench.RunStats, error) {
	return f.stats, f.err
}
func (f *fakeViews) Profile(context.Context, workbench.ProfileSource, string) (*profile.Profile, error) {
	return &profile.Profile{}, nil
}
func (f *fakeViews) TableRows(context.Context, string, string, int, int) (*workbench.TablePage, error) {
	return &workbench.TablePage{}, nil
}
func (f *fakeViews) TableCount(context.Context, string, string) (int64, error) { return 0, nil }
func (f *fakeViews) SaveView(_ context.Context, def []byte) (bool, error) {
	f.saves = append(f.saves, def)
	return true, f.err
}
func (f *fakeViews) RenameView(context.Context, string, string) error             { return f.err }
func (f *fakeViews) DeleteView(context.Context, string) error                     { return f.err }
func (f *fakeViews) Demographics(context.Context, string) (map[string]any, error) { return nil, nil }
func (f *fakeViews) WriteTable(context.Context, string, io.Writer, string) (int64, error) {
	return 0, nil
}

func newViewsFixture(t *testing.T, fv *fakeViews, now func() time.Time) *UI {
	t.Helper()
	a := test.NewTempApp(t)
	w := test.NewTempWindow(t, nil)
	f := &fixture{regs: &fakeRegistrations{}, servers: &fakeServers{disc: &registry.Discovery{}}, exports: newFakeExports(),
		catalog: &fakeCatalog{observations: 3}, demo: &fakeDemo{}}
	return newTestUI(t, a, w, Deps{Registrations: f.regs, Servers: f.servers, Exports: f.exports, Catalog: f.catalog,
		Demo: f.demo, Views: fv, Now: now})
}

// TestViews_LongRunNotifies: a run that took longer than longRun ends
// with a desktop notification; a short one does not.
func TestViews_LongRunNotifies(t *testing.T) {
	fv := &fakeViews{stats: workbench.RunStats{Resources: 10, Rows: 12}}
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	now := func() time.Time { clock = clock.Add(11 * time.Second); return clock }
	u := newViewsFixture(t, fv, now)
	def := []byte(`{"resourceType":"ViewDefinition","name":"t","resource":"Patient","select":[{"column":[{"name":"id","path":"id"}]}]}`)
	test.AssertNotificationSent(t, &fyne.Notification{Title: "Tranche: run finished",
		Content: "Table t: 12 rows from 10 resources, 0 problems."}, func() {
		u.views.materialise(def)
	})
	if got := u.views.runInfo.Text; !strings.HasPrefix(got, "Table t: 12 rows") {
		t.Errorf("run info = %q", got)
	}
}

// TestViews_RunFailure shows a sentence, keeps the detail, and frees the
// run slot.
func TestViews_RunFailure(t *testing.T) {
	fv := &fakeViews{err: errors.New("disk full")}
	u := newViewsFixture(t, fv, nil)
	def := []byte(`{"resourceType":"ViewDefinition","name":"t","resource":"Patient","select":[{"column":[{"name":"id","path":"id"}]}]}`)
	u.views.materialise(def)
	if got := u.views.runInfo.Text; got != "Making table t: failed." {
		t.Errorf("run info = %q, want the failure said", got)
	}
	if u.views.runCancel != nil {
		t.Errorf("a failed run still holds the run slot")
	}
}

// TestBuilder_PreviewSuperseded: each change cancels the preview before
// it, so a superseded preview stops and only the newest is shown. The
// background work is queued here, so that the first preview runs after
// the second change, as when typing outpaces a run.
func TestBuilder_PreviewSuperseded(t *testing.T) {
	fv := &fakeViews{}
	a := test.NewTempApp(t)
	w := test.NewTempWindow(t, nil)
	var queue []func()
	u := New(t.Context(), a, w, Deps{Catalog: &fakeCatalog{}, Views: fv, Async: func(f func()) { queue = append(queue, f) }})
	w.SetContent(u.Content())
	b := u.views.b
	b.def.Resource = "Patient"
	b.def.addColumn(viewColumn{Name: "id", Path: "id"}, "", false)
	b.changed()
	b.def.addColumn(viewColumn{Name: "gender", Path: "gender"}, "", false)
	b.changed()
	for _, f := range queue {
		f()
	}
	if fv.previews != 2 || fv.cancelled != 1 || fv.ctxs[0].Err() == nil {
		t.Fatalf("previews = %d, cancelled when run = %d; want 2 and the first cancelled", fv.previews, fv.cancelled)
	}
	if got := b.previewState.Text; got != "First 1 of 7 rows from 7 resources; 0 problems." {
		t.Errorf("preview state = %q", got)
	}
	if got := len(b.previewData.Columns); got != 2 {
		t.Errorf("preview columns = %d, want the newest view's 2", got)
	}
	// An invalid view is flagged before any run.
	queue = nil
	b.def.addColumn(viewColumn{Name: "id", Path: "name"}, "", false)
	b.changed()
	if len(queue) != 0 || !strings.Contains(b.previewState.Text, "cannot run yet") {
		t.Errorf("duplicate column: %d runs queued, state %q; want none and the fault said", len(queue), b.previewState.Text)
	}
}

// TestBuilder_EditRows: a column row's name, expression and type, and a
// filter row's expression and a constant's value, edit the view in place;
// an invalid expression is flagged on its row; the row's button removes it.
func TestBuilder_EditRows(t *testing.T) {
	fv := &fakeViews{}
	u := newViewsFixture(t, fv, nil)
	b := u.views.b
	b.loadDef([]byte(`{"resourceType":"ViewDefinition","name":"t","resource":"Patient",
		"constant":[{"name":"sys","valueCode":"x"}],"where":[{"path":"active"}],
		"select":[{"column":[{"name":"id","path":"id"}]},{"forEach":"name","column":[{"name":"family","path":"family"}]}]}`))
	if got := b.editTabs.Items[0].Text + " / " + b.editTabs.Items[1].Text; got != "Columns (2) / Filters and constants (2)" {
		t.Errorf("tabs = %q, want the counts", got)
	}

	r := newColumnRow()
	b.showColumnRow(1, r)
	if r.name.Text != "family" || r.path.Text != "family" || r.each.Text != "each name" || !r.eachBox.Visible() {
		t.Fatalf("row 1 shows %q %q %q, want family, family, each name", r.name.Text, r.path.Text, r.each.Text)
	}
	r.name.SetText("family_name")
	r.path.SetText("family.first()")
	r.typ.SetSelected("string")
	if c, _ := b.def.columnAt(1); c.Name != "family_name" || c.Path != "family.first()" || c.Type != "string" {
		t.Errorf("column 1 after editing its row = %+v", c)
	}
	r.path.SetText("family.fooo(")
	if r.path.Validate() == nil || !strings.Contains(b.previewState.Text, "cannot run yet") {
		t.Errorf("invalid expression: row error %v, preview state %q; want both flagged", r.path.Validate(), b.previewState.Text)
	}
	r.remove.OnTapped()
	if cs := b.def.columns(); len(cs) != 1 || cs[0].Name != "id" {
		t.Errorf("columns after the row's remove = %+v, want id alone", cs)
	}

	f := newFilterRow()
	b.showFilterRow(0, f)
	f.where.SetText("active = true")
	b.showFilterRow(1, f) // the row is reused for the constant
	if !f.constBox.Visible() || f.whereBox.Visible() || f.constName.Text != "%sys" || f.constVal.Text != "x" {
		t.Fatalf("constant row shows %q = %q", f.constName.Text, f.constVal.Text)
	}
	f.constVal.SetText("y")
	if b.def.Where[0] != "active = true" || string(b.def.Constants[0].Value) != `"y"` {
		t.Errorf("after editing the rows: where %q, constant %s", b.def.Where[0], b.def.Constants[0].Value)
	}
	f.remove.OnTapped()
	if len(b.def.Constants) != 0 || len(b.def.Where) != 1 {
		t.Errorf("after the constant's remove: %d where, %d constants; want 1, 0", len(b.def.Where), len(b.def.Constants))
	}
}

// overlayButton is the button labelled text in the window's top overlay.
func overlayButton(t *testing.T, w fyne.Window, text string) *widget.Button {
	t.Helper()
	var found *widget.Button
	var walk func(o fyne.CanvasObject)
	walk = func(o fyne.CanvasObject) {
		switch o := o.(type) {
		case *widget.Button:
			if o.Text == text {
				found = o
			}
			return
		case *fyne.Container:
			for _, c := range o.Objects {
				walk(c)
			}
			return
		}
		if wid, ok := o.(fyne.Widget); ok {
			for _, c := range test.WidgetRenderer(wid).Objects() {
				walk(c)
			}
		}
	}
	if top := w.Canvas().Overlays().Top(); top != nil {
		walk(top)
	}
	if found == nil {
		t.Fatalf("no %q button in a dialog", text)
	}
	return found
}

// TestViews_SaveOverSavedAsks: saving a view under the name of another
// saved view asks before replacing it; saving the saved view that was
// opened from the library does not.
func TestViews_SaveOverSavedAsks(t *testing.T) {
	def := []byte(`{"resourceType":"ViewDefinition","name":"mine","resource":"Patient","select":[{"column":[{"name":"id","path":"id"}]}]}`)
	fv := &fakeViews{lib: []workbench.ViewSummary{{Name: "mine", Resource: "Patient", Saved: true, JSON: def}}}
	u := newViewsFixture(t, fv, nil)
	s := u.views

	s.reload()
	s.loadDef(def) // as from a file: not the saved view
	s.saveView(s.b.def.JSON())
	if !strings.Contains(overlayTexts(u.Window), "You have a saved view called mine already") || len(fv.saves) != 0 {
		t.Fatalf("saving over a saved view: dialog %q, %d saves; want a question and none", overlayTexts(u.Window), len(fv.saves))
	}
	test.Tap(overlayButton(t, u.Window, "Yes"))
	if len(fv.saves) != 1 {
		t.Fatalf("after Yes: %d saves, want 1", len(fv.saves))
	}

	// Opened from the library, it saves without a question.
	for u.Window.Canvas().Overlays().Top() != nil {
		u.Window.Canvas().Overlays().Remove(u.Window.Canvas().Overlays().Top())
	}
	s.libList.Select(0)
	s.openSelected()
	s.saveView(s.b.def.JSON())
	if top := u.Window.Canvas().Overlays().Top(); top != nil || len(fv.saves) != 2 {
		t.Errorf("saving the opened view: dialog %q, %d saves; want no question and a second save", overlayTexts(u.Window), len(fv.saves))
	}
	if got := s.runInfo.Text; got != "Saved view mine in the catalogue: it is in the Library." {
		t.Errorf("run info = %q", got)
	}
}
