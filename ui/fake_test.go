package ui

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"

	"tranche.dev/tranche/core"
	"tranche.dev/tranche/core/demo"
	"tranche.dev/tranche/core/registry"
)

// fakeRegistrations is an in-memory Registrations.
type fakeRegistrations struct {
	mu     sync.Mutex
	regs   []*core.Registration
	nextID int64
}

func (f *fakeRegistrations) FindRegistrations(context.Context) ([]*core.Registration, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []*core.Registration
	for _, r := range f.regs {
		c := *r
		out = append(out, &c)
	}
	return out, nil
}

func (f *fakeRegistrations) CreateRegistration(_ context.Context, r *core.Registration) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, x := range f.regs {
		if x.Name == r.Name {
			return fmt.Errorf("create registration %q: name already used", r.Name)
		}
	}
	f.nextID++
	r.ID = f.nextID
	c := *r
	f.regs = append(f.regs, &c)
	return nil
}

func (f *fakeRegistrations) UpdateRegistration(_ context.Context, r *core.Registration) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, x := range f.regs {
		if x.ID == r.ID {
			c := *r
			f.regs[i] = &c
			return nil
		}
	}
	return core.ErrNotFound
}

func (f *fakeRegistrations) DeleteRegistration(_ context.Context, id int64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, x := range f.regs {
		if x.ID == id {
			f.regs = append(f.regs[:i], f.regs[i+1:]...)
			return nil
		}
	}
	return core.ErrNotFound
}

// fakeServers answers as a server with dynamic registration would.
type fakeServers struct {
	disc         *registry.Discovery
	discoverErr  error
	registerErr  error    // what Register answers, when set
	registered   []string // base URLs registered with
	generatedFor []string
}

func (f *fakeServers) Discover(_ context.Context, base string) (*registry.Discovery, error) {
	if f.discoverErr != nil {
		return nil, f.discoverErr
	}
	return f.disc, nil
}

func (f *fakeServers) GenerateKey(_ context.Context, name, alg string) (*registry.Key, error) {
	f.generatedFor = append(f.generatedFor, name)
	return &registry.Key{Alg: alg, KeyID: "kid-" + name, KeyRef: "ref-" + name, PublicJWKS: `{"keys":[{"kid":"kid-` + name + `"}]}`}, nil
}

func (f *fakeServers) ImportKey(_ context.Context, name string, data []byte) (*registry.Key, error) {
	if len(data) == 0 {
		return nil, errors.New("empty key")
	}
	return &registry.Key{Alg: "ES384", KeyID: "imported", KeyRef: "ref-" + name, PublicJWKS: "{}"}, nil
}

func (f *fakeServers) Register(_ context.Context, reg *core.Registration, d *registry.Discovery, _ string) (*registry.Discovery, error) {
	if d == nil {
		d = f.disc
	}
	if d.RegistrationURL == "" {
		return d, registry.ErrNoRegistrationEndpoint
	}
	if f.registerErr != nil {
		return d, f.registerErr
	}
	f.registered = append(f.registered, reg.FHIRBaseURL)
	reg.ClientID = "client-" + reg.Name
	if reg.TokenURL == "" {
		reg.TokenURL = d.TokenURL
	}
	return d, nil
}

func (f *fakeServers) TestConnection(_ context.Context, reg *core.Registration) ([]registry.Check, error) {
	if reg.ClientID == "bad" {
		return []registry.Check{{Name: "Discovery", OK: true}, {Name: "Access token", OK: false, Detail: "invalid_client: unknown kid"}}, nil
	}
	return []registry.Check{{Name: "Discovery", OK: true}, {Name: "Access token", OK: true}, {Name: "Metadata read", OK: true}}, nil
}

// fakeExports runs a scripted export: the events in script, then the
// export in final state with files.
type fakeExports struct {
	mu      sync.Mutex
	exports map[int64]*core.Export
	files   map[int64][]*core.ExportFile
	started []core.ExportRequest
	// sinkViews holds each Start's views to land in object storage.
	sinkViews [][][]byte
	// run makes one export happen; nil completes it at once.
	run       func(ctx context.Context, e *core.Export, onEvent func(core.Event)) error
	cancelled []int64
	released  []int64
	reads     int // FindExport calls
	groups    []core.Group
}

func (f *fakeExports) Groups(context.Context, *core.Registration) ([]core.Group, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.groups, nil
}

func newFakeExports() *fakeExports {
	return &fakeExports{exports: map[int64]*core.Export{}, files: map[int64][]*core.ExportFile{}}
}

func (f *fakeExports) FindExports(context.Context, int) ([]*core.Export, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []*core.Export
	for id := int64(len(f.exports)); id > 0; id-- {
		if e, ok := f.exports[id]; ok {
			c := *e
			out = append(out, &c)
		}
	}
	return out, nil
}

func (f *fakeExports) FindExport(_ context.Context, id int64) (*core.Export, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reads++
	e, ok := f.exports[id]
	if !ok {
		return nil, core.ErrNotFound
	}
	c := *e
	return &c, nil
}

func (f *fakeExports) FindFiles(_ context.Context, id int64) ([]*core.ExportFile, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []*core.ExportFile
	for _, x := range f.files[id] {
		c := *x
		out = append(out, &c)
	}
	return out, nil
}

func (f *fakeExports) put(e *core.Export, files ...*core.ExportFile) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.exports[e.ID] = e
	if files != nil {
		f.files[e.ID] = files
	}
}

func (f *fakeExports) Start(ctx context.Context, reg *core.Registration, req core.ExportRequest, sinkViews [][]byte, onEvent func(core.Event)) (*core.Export, error) {
	f.mu.Lock()
	id := int64(len(f.exports) + 1)
	e := &core.Export{ID: id, RegistrationID: reg.ID, FHIRBaseURL: reg.FHIRBaseURL, Request: req,
		State: core.StateKickoff, CreatedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	f.exports[id] = e
	f.started = append(f.started, req)
	f.sinkViews = append(f.sinkViews, sinkViews)
	run := f.run
	f.mu.Unlock()
	return f.runExport(ctx, e, onEvent, run)
}

func (f *fakeExports) runExport(ctx context.Context, e *core.Export, onEvent func(core.Event), run func(context.Context, *core.Export, func(core.Event)) error) (*core.Export, error) {
	if run == nil {
		run = func(_ context.Context, e *core.Export, onEvent func(core.Event)) error {
			onEvent(core.Event{ExportID: e.ID, Kind: core.EventKickoff, Time: e.CreatedAt})
			f.put(&core.Export{ID: e.ID, RegistrationID: e.RegistrationID, Request: e.Request, FHIRBaseURL: e.FHIRBaseURL,
				State: core.StateComplete, CreatedAt: e.CreatedAt, FinishedAt: e.CreatedAt.Add(90 * time.Second), StatusURL: "http://x/jobs/1"},
				&core.ExportFile{ExportID: e.ID, Kind: core.KindOutput, Type: "Patient", URL: "u1", Count: 10, Lines: 10, Bytes: 5000, State: core.FileLoaded},
				&core.ExportFile{ExportID: e.ID, Kind: core.KindOutput, Type: "Observation", URL: "u2", Count: 20, Lines: 20, Bytes: 9000, State: core.FileLoaded})
			onEvent(core.Event{ExportID: e.ID, Kind: core.EventExportComplete, Time: e.CreatedAt.Add(90 * time.Second)})
			return nil
		}
	}
	err := run(ctx, e, onEvent)
	got, ferr := f.FindExport(ctx, e.ID)
	if ferr != nil {
		return nil, ferr
	}
	return got, err
}

func (f *fakeExports) Resume(ctx context.Context, id int64, onEvent func(core.Event)) (*core.Export, error) {
	e, err := f.FindExport(ctx, id)
	if err != nil {
		return nil, err
	}
	return f.runExport(ctx, e, onEvent, f.run)
}

func (f *fakeExports) RetryFailed(ctx context.Context, id int64, onEvent func(core.Event)) (*core.Export, error) {
	return f.Resume(ctx, id, onEvent)
}

func (f *fakeExports) Cancel(_ context.Context, id int64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cancelled = append(f.cancelled, id)
	if e, ok := f.exports[id]; ok {
		e.State = core.StateCancelled
	}
	return nil
}

func (f *fakeExports) Release(_ context.Context, id int64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.released = append(f.released, id)
	if e, ok := f.exports[id]; ok {
		e.Released = true
	}
	return nil
}

// fakeCatalog serves n Observations and a few Patients.
type fakeCatalog struct {
	observations int
	queries      []core.RecordQuery
}

func (f *fakeCatalog) Counts(context.Context, int64) ([]core.TypeCount, error) {
	return []core.TypeCount{{Type: "Observation", Count: int64(f.observations)}, {Type: "Patient", Count: 2}}, nil
}

func (f *fakeCatalog) DeletedCount(context.Context, int64) (int64, error) { return 1, nil }
func (f *fakeCatalog) ErrorCount(context.Context, int64) (int64, error)   { return 0, nil }

func (f *fakeCatalog) Records(_ context.Context, q core.RecordQuery) (*core.RecordPage, error) {
	f.queries = append(f.queries, q)
	p := &core.RecordPage{Columns: []string{"Type", "ID", "Patient"}}
	var all []core.RecordRow
	if q.Type == "" || q.Type == "Patient" {
		for i := range 2 {
			id := fmt.Sprintf("p%d", i)
			all = append(all, core.RecordRow{Type: "Patient", ID: id, Cells: []string{"Patient", id, ""}})
		}
	}
	if q.Type == "" || q.Type == "Observation" {
		for i := range f.observations {
			id := fmt.Sprintf("o%d", i)
			all = append(all, core.RecordRow{Type: "Observation", ID: id, Patient: "Patient/p0", Cells: []string{"Observation", id, "Patient/p0"}})
		}
	}
	var rows []core.RecordRow
	for _, r := range all {
		if q.Patient != "" && r.Patient != q.Patient && "Patient/"+r.ID != q.Patient {
			continue
		}
		if q.Text != "" && q.Text != r.ID {
			continue
		}
		rows = append(rows, r)
	}
	p.Total = int64(len(rows))
	rows = rows[min(q.Offset, len(rows)):]
	p.Rows = rows[:min(q.Limit, len(rows))]
	return p, nil
}

func (f *fakeCatalog) Resource(_ context.Context, kind core.RecordKind, r core.RecordRow) ([]byte, error) {
	return []byte(`{"resourceType":"` + r.Type + `","id":"` + r.ID + `"}`), nil
}

func (f *fakeCatalog) Write(_ context.Context, w io.Writer, q core.RecordQuery, format string) (int64, error) {
	n, err := io.WriteString(w, format)
	return int64(n), err
}

// fakeDemo is a demo server that never listens.
type fakeDemo struct {
	info   *demo.TrainingInfo
	faults []demo.FaultSwitches
	log    func(demo.RequestLog)
}

func (f *fakeDemo) Start(cfg demo.TrainingConfig, onRequest func(demo.RequestLog)) (*demo.TrainingInfo, error) {
	f.info = &demo.TrainingInfo{URL: fmt.Sprintf("http://127.0.0.1:%d/fhir", 8080+cfg.Patients), TokenURL: "http://127.0.0.1/token",
		Clients: []demo.SampleClient{{ID: "tranche-demo-rs384", Alg: "RS384", KeyFile: "RS384.private.json"}}}
	f.log = onRequest
	return f.info, nil
}

func (f *fakeDemo) Stop() error                 { f.info = nil; return nil }
func (f *fakeDemo) Running() *demo.TrainingInfo { return f.info }
func (f *fakeDemo) SetFaults(d demo.FaultSwitches) error {
	f.faults = append(f.faults, d)
	return nil
}

// fixture is a UI on fakes with synchronous background work.
type fixture struct {
	ui      *UI
	win     fyne.Window
	regs    *fakeRegistrations
	servers *fakeServers
	exports *fakeExports
	catalog *fakeCatalog
	demo    *fakeDemo
}

var testNow = time.Date(2026, 1, 2, 3, 5, 35, 0, time.UTC)

func newFixture(t *testing.T, opts ...func(*Deps)) *fixture {
	t.Helper()
	a := test.NewTempApp(t)
	f := &fixture{
		regs: &fakeRegistrations{},
		servers: &fakeServers{disc: &registry.Discovery{TokenURL: "https://ehr.example.org/token", RegistrationURL: "https://ehr.example.org/register",
			Types: []string{"Patient", "Observation", "Condition"}, Operations: []string{"export", "patient-export", "group-export"}}},
		exports: newFakeExports(),
		catalog: &fakeCatalog{observations: 250},
		demo:    &fakeDemo{},
	}
	w := test.NewTempWindow(t, nil)
	f.win = w
	deps := Deps{Registrations: f.regs, Servers: f.servers, Exports: f.exports, Catalog: f.catalog, Demo: f.demo}
	for _, o := range opts {
		o(&deps)
	}
	f.ui = newTestUI(t, a, w, deps)
	return f
}

// newTestUI builds a UI whose background work runs inline.
func newTestUI(t *testing.T, a fyne.App, w fyne.Window, deps Deps) *UI {
	t.Helper()
	if deps.Now == nil {
		deps.Now = func() time.Time { return testNow }
	}
	deps.Async = func(f func()) { f() }
	u := New(t.Context(), a, w, deps)
	w.SetContent(u.Content())
	w.Resize(fyne.NewSize(1200, 800))
	u.Start()
	return u
}
