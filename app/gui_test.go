package main

import (
	"context"
	"crypto"
	"io"
	"log/slog"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/storage"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"
	"github.com/google/go-cmp/cmp"

	"tranche.dev/tranche/core"
	"tranche.dev/tranche/core/catalog"
	"tranche.dev/tranche/core/demo"
	"tranche.dev/tranche/core/demo/demotest"
	"tranche.dev/tranche/core/keychain"
	"tranche.dev/tranche/ui"
)

// demoGUI is the app as tranche demo builds it, on the real demo server,
// catalogue and export engine, in a test window with synchronous
// background work.
type demoGUI struct {
	// saveDir is where the file dialog "saves" (ui.Deps.SaveFile).
	saveDir string
	g       *gui
	demo    *demo.Training
	ui      *ui.UI
	win     fyne.Window
}

func newDemoGUI(t *testing.T, patients int) *demoGUI {
	t.Helper()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	g, err := openGUI(t.TempDir(), logger, true)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	d := &demo.Training{Registrations: g.db, Seed: 1, Logger: logger}
	if _, err := d.Start(demo.TrainingConfig{Patients: patients}, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Stop() })

	a := test.NewTempApp(t)
	w := test.NewTempWindow(t, nil)
	deps := g.deps(d, "demo")
	deps.Async = func(f func()) { f() }
	saveDir := t.TempDir()
	deps.SaveFile = func(name string, done func(fyne.URIWriteCloser, error)) {
		w, err := storage.Writer(storage.NewFileURI(filepath.Join(saveDir, name)))
		done(w, err)
	}
	u := ui.New(t.Context(), a, w, deps)
	w.SetContent(u.Content())
	w.Resize(windowSize)
	u.Start()
	return &demoGUI{saveDir: saveDir, g: g, demo: d, ui: u, win: w}
}

// shortcut presses Ctrl+key the way the desktop driver delivers it: through
// the main menu item carrying the shortcut.
func (d *demoGUI) shortcut(t *testing.T, key fyne.KeyName) {
	t.Helper()
	want := (&desktop.CustomShortcut{KeyName: key, Modifier: fyne.KeyModifierShortcutDefault}).ShortcutName()
	for _, m := range d.win.MainMenu().Items {
		for _, it := range m.Items {
			if it.Shortcut != nil && it.Shortcut.ShortcutName() == want {
				it.Action()
				return
			}
		}
	}
	t.Fatalf("no menu item for %s", want)
}

// find returns the first object on screen that match accepts.
func find[T fyne.CanvasObject](t *testing.T, root fyne.CanvasObject, match func(T) bool) T {
	t.Helper()
	var found T
	var ok bool
	var walk func(o fyne.CanvasObject)
	walk = func(o fyne.CanvasObject) {
		if ok || o == nil || !o.Visible() {
			return
		}
		if v, is := o.(T); is && match(v) {
			found, ok = v, true
			return
		}
		switch o := o.(type) {
		case *fyne.Container:
			for _, c := range o.Objects {
				walk(c)
			}
		case *container.AppTabs:
			walk(o.Selected().Content)
		case fyne.Widget:
			for _, c := range test.WidgetRenderer(o).Objects() {
				walk(c)
			}
		}
	}
	walk(root)
	if !ok {
		t.Fatalf("no %T on screen matches", found)
	}
	return found
}

func button(t *testing.T, root fyne.CanvasObject, text string) *widget.Button {
	t.Helper()
	return find(t, root, func(b *widget.Button) bool { return b.Text == text })
}

func labelPrefixed(t *testing.T, root fyne.CanvasObject, prefix string) *widget.Label {
	t.Helper()
	return find(t, root, func(l *widget.Label) bool { return strings.HasPrefix(l.Text, prefix) })
}

// TestDemo_ExportThenBrowse is the done-when flow: in tranche demo,
// export and then browse the demo data with keyboard and mouse only.
func TestDemo_ExportThenBrowse(t *testing.T) {
	d := newDemoGUI(t, 10)
	root := d.win.Content()

	d.shortcut(t, fyne.Key2) // New export: the demo registration is ready
	reg := find(t, root, func(s *widget.Select) bool { return s.Selected == demo.RegistrationName })
	if reg == nil {
		t.Fatal("no registration picked")
	}
	d.shortcut(t, fyne.KeyE) // Start export; runs to the end (synchronous here)

	totals := labelPrefixed(t, root, "Export #1 complete").Text
	re := regexp.MustCompile(`^(\d+) files: (\d+) loaded, 0 failed, 0 to go · (\d+) lines of (\d+)`)
	summary := find(t, root, func(l *widget.Label) bool { return re.MatchString(l.Text) }).Text
	m := re.FindStringSubmatch(summary)
	if m[1] != m[2] || m[3] != m[4] {
		t.Fatalf("export summary = %q (title %q), want every file loaded and every line counted", summary, totals)
	}
	lines, _ := strconv.Atoi(m[3])

	exps, err := d.g.db.FindExports(context.Background(), 10)
	if err != nil || len(exps) != 1 || exps[0].State != core.StateComplete || !exps[0].Released {
		t.Fatalf("catalogue exports = %+v, %v; want one complete and released", exps, err)
	}

	test.Tap(button(t, root, "Browse")) // mouse
	all := labelPrefixed(t, root, "All types (")
	if want := "All types (" + thousands(lines) + ")"; all.Text != want {
		t.Errorf("catalogue total = %q, want %q (the manifest's count)", all.Text, want)
	}
	counts, err := d.g.catalog.Counts(context.Background(), exps[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range counts {
		if c.Type == "Patient" && c.Count != 10 {
			t.Errorf("Patient count = %d, want 10", c.Count)
		}
	}

	table := find(t, root, func(*widget.Table) bool { return true })
	table.Select(widget.TableCellID{Row: 0, Col: 1})
	grid := find(t, root, func(*widget.TextGrid) bool { return true })
	if !strings.Contains(grid.Text(), `"resourceType": "`) {
		t.Errorf("JSON view = %.200q, want a pretty-printed resource", grid.Text())
	}

	d.shortcut(t, fyne.KeyF) // search, from the keyboard
	search := find(t, root, func(e *widget.Entry) bool { return strings.HasPrefix(e.PlaceHolder, "Search every resource") })
	if d.win.Canvas().Focused() != search {
		t.Fatalf("Ctrl+F did not focus the search entry")
	}
	test.Type(search, "Patient")
	search.TypedKey(&fyne.KeyEvent{Name: fyne.KeyReturn})
	info := labelPrefixed(t, root, "Rows 1–")
	if !strings.Contains(info.Text, `search "Patient"`) {
		t.Errorf("page info after search = %q", info.Text)
	}
}

func thousands(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// TestGUICatalog_Paging walks pages of a real catalogue by cursor, jumps and
// goes back, and checks every row comes once, in order.
func TestGUICatalog_Paging(t *testing.T) {
	d := newDemoGUI(t, 3)
	d.shortcut(t, fyne.KeyE)
	c := d.g.catalog
	ctx := context.Background()
	counts, err := c.Counts(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	for _, tc := range counts {
		total += tc.Count
	}
	var walked []string
	for off := 0; off < int(total); off += 50 {
		p, err := c.Records(ctx, core.RecordQuery{Offset: off, Limit: 50})
		if err != nil {
			t.Fatalf("Records(offset %d): %v", off, err)
		}
		if p.Total != total {
			t.Errorf("Records(offset %d).Total = %d, want %d", off, p.Total, total)
		}
		for _, r := range p.Rows {
			walked = append(walked, r.Type+"/"+r.ID)
		}
	}
	if int64(len(walked)) != total {
		t.Fatalf("walked %d rows, want %d", len(walked), total)
	}
	// Back to an earlier page, and a jump on a fresh query, agree with the walk.
	for _, off := range []int{100, 0, 150} {
		if off == 150 {
			c = &catalog.Browser{DB: d.g.db} // no cursors known: the browser walks forward itself
		}
		p, err := c.Records(ctx, core.RecordQuery{Offset: off, Limit: 50})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range p.Rows {
			got = append(got, r.Type+"/"+r.ID)
		}
		if diff := cmp.Diff(walked[off:min(off+50, len(walked))], got); diff != "" {
			t.Errorf("page at %d (-walk +got):\n%s", off, diff)
		}
	}
	p, err := c.Records(ctx, core.RecordQuery{Type: "Patient", Limit: 1})
	if err != nil || len(p.Rows) != 1 {
		t.Fatalf("Records(Patient) = %+v, %v", p, err)
	}
	raw, err := c.Resource(ctx, core.RecordsResources, p.Rows[0])
	if err != nil || !strings.Contains(string(raw), `"id":"`+p.Rows[0].ID+`"`) {
		t.Errorf("Resource(%s) = %.80q, %v", p.Rows[0].ID, raw, err)
	}
}

// TestReadyDemoRegistration makes the demo registration and, on the next
// start, points it at the new URL instead of adding another.
func TestReadyDemoRegistration(t *testing.T) {
	g, err := openGUI(t.TempDir(), slog.New(slog.NewTextHandler(io.Discard, nil)), true)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	ctx := context.Background()
	for _, base := range []string{"http://127.0.0.1:1/fhir", "http://127.0.0.1:2/fhir"} {
		if err := demo.ReadyRegistration(ctx, g.db, base, base+"/token"); err != nil {
			t.Fatal(err)
		}
	}
	regs, err := g.db.FindRegistrations(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(regs) != 1 {
		t.Fatalf("registrations = %d, want 1", len(regs))
	}
	r := regs[0]
	if r.FHIRBaseURL != "http://127.0.0.1:2/fhir" || r.ClientID != "tranche-demo-rs384" || r.KeyRef != "sample:RS384" || r.KeyID == "" {
		t.Errorf("demo registration = %+v", r)
	}
	// Outside the demo, the sample key is refused.
	g.services.env.Reg.SampleKeys = false
	if _, err := g.services.env.Reg.LoadKey(r); err == nil || !strings.Contains(err.Error(), "only tranche demo") {
		t.Errorf("loadKey outside the demo = %v, want a refusal", err)
	}
}

// memKeys is an in-memory keychain.
type memKeys struct {
	mu   sync.Mutex
	keys map[string]crypto.Signer
}

func (m *memKeys) SetKey(ref string, k crypto.Signer) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.keys[ref] = k
	return nil
}

func (m *memKeys) Key(ref string) (crypto.Signer, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if k, ok := m.keys[ref]; ok {
		return k, nil
	}
	return nil, core.ErrNotFound
}

func (m *memKeys) DeleteKey(ref string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.keys[ref]; !ok {
		return core.ErrNotFound
	}
	delete(m.keys, ref)
	return nil
}

// TestGUI_RegisterDynamicallyAndExport is the second done-when
// flow, through the Registrations screen against the server tranche serve
// runs: generate a key, register dynamically, test the connection, export.
// The private key ends up in the keychain only.
func TestGUI_RegisterDynamicallyAndExport(t *testing.T) {
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	g, err := openGUI(t.TempDir(), logger, false)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	keys := &memKeys{keys: map[string]crypto.Signer{}}
	g.services.env.Reg.Keychain = func() (keychain.Keys, error) { return keys, nil }
	srv := demotest.Start(t, demo.Config{Patients: 3, Logger: logger})

	a := test.NewTempApp(t)
	w := test.NewTempWindow(t, nil)
	deps := g.deps(nil, "")
	deps.Async = func(f func()) { f() }
	u := ui.New(t.Context(), a, w, deps)
	w.SetContent(u.Content())
	w.Resize(windowSize)
	u.Start()
	root := w.Content()

	test.Tap(button(t, root, "Add registration"))
	entry := func(placeholder string) *widget.Entry {
		return find(t, root, func(e *widget.Entry) bool { return e.PlaceHolder == placeholder })
	}
	test.Type(entry("e.g. County Hospital"), "Loopback")
	test.Type(entry("https://ehr.example.org/fhir"), srv.URL())
	test.Tap(button(t, root, "Discover"))
	if got := entry("found by Discover").Text; got != srv.TokenURL() {
		t.Fatalf("token URL after Discover = %q, want %q", got, srv.TokenURL())
	}
	test.Tap(button(t, root, "Generate key"))
	test.Tap(button(t, root, "Register dynamically"))
	test.Tap(button(t, root, "Test connection"))
	if got := labelPrefixed(t, root, "Connection ").Text; !strings.HasPrefix(got, "Connection works") {
		t.Fatalf("test connection = %q", got)
	}

	reg, err := g.db.FindRegistrationByName(context.Background(), "Loopback")
	if err != nil {
		t.Fatal(err)
	}
	if reg.ClientID == "" || reg.KeyRef == "" {
		t.Fatalf("registration = %+v, want a client id and a key", reg)
	}
	if _, err := keys.Key(reg.KeyRef); err != nil {
		t.Errorf("keychain has no key under %q: %v", reg.KeyRef, err)
	}
	if strings.Contains(reg.PublicJWKS, `"d"`) {
		t.Errorf("the catalogue holds private key material: %s", reg.PublicJWKS)
	}

	u.SelectTab(ui.TabNewExport)
	find(t, root, func(s *widget.Select) bool { return s.Selected == "Loopback" })
	test.Tap(button(t, root, "Start export"))
	labelPrefixed(t, root, "Export #1 complete")
}

// TestGUICatalog_ErrorsAndWrite checks that error entries from a server
// that fails some files are listed and readable, and that a selection is
// written as NDJSON and CSV.
func TestGUICatalog_ErrorsAndWrite(t *testing.T) {
	d := newDemoGUI(t, 3)
	if err := d.demo.SetFaults(demo.FaultSwitches{FailSomeFiles: true}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	reg, err := d.g.db.FindRegistrationByName(ctx, demo.RegistrationName)
	if err != nil {
		t.Fatal(err)
	}
	exp, err := d.g.services.Start(ctx, reg, core.ExportRequest{Level: core.LevelSystem}, nil, func(core.Event) {})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	c := d.g.catalog
	n, err := c.ErrorCount(ctx, exp.ID)
	if err != nil || n == 0 {
		t.Fatalf("ErrorCount = %d, %v; want some error entries", n, err)
	}
	p, err := c.Records(ctx, core.RecordQuery{Kind: core.RecordsErrors, Limit: 10})
	if err != nil || len(p.Rows) == 0 {
		t.Fatalf("Records(errors) = %+v, %v", p, err)
	}
	raw, err := c.Resource(ctx, core.RecordsErrors, p.Rows[0])
	if err != nil || !strings.Contains(string(raw), "OperationOutcome") {
		t.Errorf("error entry JSON = %.100q, %v", raw, err)
	}

	counts, err := c.Counts(ctx, 0)
	if err != nil || len(counts) == 0 {
		t.Fatalf("Counts = %v, %v", counts, err)
	}
	tc := counts[0]
	var nd, csv strings.Builder
	if n, err := c.Write(ctx, &nd, core.RecordQuery{Type: tc.Type}, core.FormatNDJSON); err != nil || n != tc.Count {
		t.Errorf("Write(NDJSON, %s) = %d, %v; want %d", tc.Type, n, err, tc.Count)
	}
	if got := int64(strings.Count(nd.String(), "\n")); got != tc.Count {
		t.Errorf("NDJSON has %d lines, want %d", got, tc.Count)
	}
	if n, err := c.Write(ctx, &csv, core.RecordQuery{Type: tc.Type}, core.FormatCSV); err != nil || n != tc.Count {
		t.Errorf("Write(CSV, %s) = %d, %v; want %d", tc.Type, n, err, tc.Count)
	}
	if got := int64(strings.Count(csv.String(), "\n")); got != tc.Count+1 {
		t.Errorf("CSV has %d lines, want a header and %d rows", got, tc.Count)
	}
}
