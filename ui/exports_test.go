package ui

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"
	"github.com/google/go-cmp/cmp"

	"tranche.dev/tranche/core"
	"tranche.dev/tranche/core/workbench"
)

// addRegistration stores a registration and shows it in the screens.
func (f *fixture) addRegistration(t *testing.T, name string) *core.Registration {
	t.Helper()
	r := &core.Registration{Name: name, FHIRBaseURL: "https://ehr.example.org/fhir", ClientID: "c", KeyRef: "k"}
	if err := f.regs.CreateRegistration(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	f.ui.registrations.reload()
	return r
}

func TestNewExport_FlagsInvalidInputBeforeKickoff(t *testing.T) {
	f := newFixture(t)
	f.addRegistration(t, "Hospital")
	s := f.ui.newExport
	s.level.SetSelected(levelGroupText)
	test.Type(s.since, "last tuesday")
	test.Tap(s.startBtn)
	for _, want := range []string{"Pick a Group", "Since: \"last tuesday\" is not a date"} {
		if !strings.Contains(s.problems.Text, want) {
			t.Errorf("problems = %q, want %q", s.problems.Text, want)
		}
	}
	if len(f.exports.started) != 0 {
		t.Errorf("kicked off %d exports with invalid input, want 0", len(f.exports.started))
	}
	if got := f.ui.tabs.SelectedIndex(); got != TabRegistrations {
		t.Errorf("tab = %d, want to stay", got)
	}
}

func TestNewExport_GroupsTypesAndStart(t *testing.T) {
	f := newFixture(t)
	f.exports.groups = []core.Group{{ID: "g1", Name: "Diabetes", Quantity: 12}}
	f.addRegistration(t, "Hospital")
	f.ui.SelectTab(TabNewExport) // discovery fills the types
	s := f.ui.newExport
	if diff := cmp.Diff([]string{"Patient", "Observation", "Condition"}, s.types.options); diff != "" {
		t.Errorf("type options (-want +got):\n%s", diff)
	}
	s.level.SetSelected(levelGroupText)
	test.Tap(s.groupsBtn)
	if got, want := s.group.Text, "g1 — Diabetes (12)"; got != want {
		t.Errorf("group = %q, want %q", got, want)
	}
	s.types.setSelected([]string{"Observation"})
	s.addFilter("Observation?category=laboratory")
	test.Type(s.since, "2024-01-31")
	test.Tap(s.startBtn)

	want := []core.ExportRequest{{Level: core.LevelGroup, GroupID: "g1", Types: []string{"Observation"},
		Since: "2024-01-31T00:00:00Z", TypeFilters: []string{"Observation?category=laboratory"}}}
	if diff := cmp.Diff(want, f.exports.started); diff != "" {
		t.Errorf("kick-offs (-want +got):\n%s", diff)
	}
	if got := f.ui.tabs.SelectedIndex(); got != TabExports {
		t.Errorf("tab after start = %d, want Exports", got)
	}
}

func TestExports_LiveViewAndNotification(t *testing.T) {
	f := newFixture(t)
	reg := f.addRegistration(t, "Hospital")
	e := f.ui.exports
	var midway string
	f.exports.run = func(_ context.Context, x *core.Export, onEvent func(core.Event)) error {
		onEvent(core.Event{ExportID: x.ID, Kind: core.EventKickoff, Time: x.CreatedAt})
		f.exports.put(&core.Export{ID: x.ID, RegistrationID: reg.ID, State: core.StatePolling, Progress: "50% done",
			CreatedAt: x.CreatedAt, StatusURL: "http://x/jobs/1"})
		onEvent(core.Event{ExportID: x.ID, Kind: core.EventStatusProgress, Time: testNow, RetryAfter: 5 * time.Second})
		onEvent(core.Event{ExportID: x.ID, Kind: core.EventStatusComplete, Time: testNow})
		midway = e.progress.Text + " | " + e.nextPoll.Text + " | " + e.elapsed.Text
		f.exports.put(&core.Export{ID: x.ID, RegistrationID: reg.ID, State: core.StateComplete, CreatedAt: x.CreatedAt,
			FinishedAt: x.CreatedAt.Add(time.Minute), StatusURL: "http://x/jobs/1"},
			&core.ExportFile{ExportID: x.ID, Kind: core.KindOutput, Type: "Patient", URL: "u1", Count: 10, Lines: 10, Bytes: 2500, State: core.FileLoaded},
			&core.ExportFile{ExportID: x.ID, Kind: core.KindOutput, Type: "Observation", URL: "u2", Count: 30, Lines: 20, Bytes: 8000,
				Problems: 1, Error: "line 7: resourceType Patient, want Observation", State: core.FileFailed})
		onEvent(core.Event{ExportID: x.ID, Kind: core.EventExportComplete, Time: testNow})
		return nil
	}
	f.ui.newExport.setRegistrations([]*core.Registration{reg})
	test.AssertNotificationSent(t, fyne.NewNotification("Export complete", "Export #1 is in the catalogue."), func() {
		test.Tap(f.ui.newExport.startBtn)
	})

	if want := "Server says: 50% done | Next poll in 5s | Elapsed: 1m30s"; midway != want {
		t.Errorf("while polling, status = %q, want %q", midway, want)
	}
	if got := e.phase.Text; got != "Phase: complete" {
		t.Errorf("phase = %q, want complete", got)
	}
	if got, want := e.totals.Text, "2 files: 1 loaded, 1 failed, 0 to go · 30 lines of 40 · 10.5 kB · 1 problem lines"; got != want {
		t.Errorf("totals = %q, want %q", got, want)
	}
	if got := e.bar.Value; got != 1 {
		t.Errorf("progress bar = %v, want 1", got)
	}
	if got := e.fileCell(e.files[1], 6); got != "1: line 7: resourceType Patient, want Observation" {
		t.Errorf("problems cell = %q", got)
	}
	if got := len(e.logLines); got != 4 {
		t.Errorf("event log has %d lines, want 4: %q", got, e.logLines)
	} else if !strings.Contains(e.logLines[1], "status progress  retryAfter=5000") {
		t.Errorf("log line = %q", e.logLines[1])
	}
	if e.retryBtn.Disabled() || e.releaseBtn.Disabled() || !e.cancelBtn.Disabled() || !e.resumeBtn.Disabled() {
		t.Errorf("buttons: retry %v release %v cancel %v resume %v disabled; want retry and release enabled only",
			e.retryBtn.Disabled(), e.releaseBtn.Disabled(), e.cancelBtn.Disabled(), e.resumeBtn.Disabled())
	}

	test.Tap(e.releaseBtn)
	if diff := cmp.Diff([]int64{1}, f.exports.released); diff != "" {
		t.Errorf("released (-want +got):\n%s", diff)
	}
	if !e.releaseBtn.Disabled() {
		t.Errorf("Release still enabled after releasing")
	}

	test.Tap(e.browseBtn)
	if got := f.ui.tabs.SelectedIndex(); got != TabCatalog {
		t.Errorf("Browse went to tab %d, want the catalogue", got)
	}
	if got := f.ui.catalog.q.ExportID; got != 1 {
		t.Errorf("catalogue shows export %d, want 1", got)
	}
}

func TestExports_FailureShowsDialogAndNotifies(t *testing.T) {
	f := newFixture(t)
	reg := f.addRegistration(t, "Hospital")
	f.exports.run = func(_ context.Context, x *core.Export, onEvent func(core.Event)) error {
		f.exports.put(&core.Export{ID: x.ID, State: core.StateFailed, Error: "kick-off answered 400", CreatedAt: x.CreatedAt})
		return errors.New("kickoff: 400 Bad Request: unknown _type Claim")
	}
	f.ui.exports.start(reg, core.ExportRequest{Level: core.LevelSystem}, nil)
	texts := overlayTexts(f.win)
	for _, want := range []string{"The export stopped before it finished.", "unknown _type Claim"} {
		if !strings.Contains(texts, want) {
			t.Errorf("dialog = %q, want %q", texts, want)
		}
	}
	if got := f.ui.exports.progress.Text; got != "Problem: kick-off answered 400" {
		t.Errorf("progress = %q", got)
	}
}

func TestExports_CancelAndResume(t *testing.T) {
	f := newFixture(t)
	f.addRegistration(t, "Hospital")
	// An export left polling by an earlier run of the app.
	f.exports.put(&core.Export{ID: 1, State: core.StatePolling, StatusURL: "http://x/jobs/1", CreatedAt: testNow.Add(-time.Hour)})
	e := f.ui.exports
	e.reload()
	e.list.Select(0)
	if e.resumeBtn.Disabled() || e.cancelBtn.Disabled() {
		t.Fatalf("resume disabled %v, cancel disabled %v; want both enabled", e.resumeBtn.Disabled(), e.cancelBtn.Disabled())
	}
	test.Tap(e.resumeBtn)
	if got := e.detail.State; got != core.StateComplete {
		t.Errorf("after resume, state = %s, want complete", got)
	}

	f.exports.put(&core.Export{ID: 2, State: core.StateDownloading, StatusURL: "http://x/jobs/2", CreatedAt: testNow})
	e.reload()
	e.show(2)
	test.Tap(e.cancelBtn)
	if diff := cmp.Diff([]int64{2}, f.exports.cancelled); diff != "" {
		t.Errorf("cancelled (-want +got):\n%s", diff)
	}
	if got := e.phase.Text; got != "Phase: cancelled" {
		t.Errorf("phase = %q, want cancelled", got)
	}
}

// TestExports_EventsDoNotWaitForTheCatalogue checks that the engine's
// event handler never reads the catalogue on the engine's goroutine: it
// queues one reload, and folds the events that come before it starts.
func TestExports_EventsDoNotWaitForTheCatalogue(t *testing.T) {
	f := newFixture(t)
	f.exports.put(&core.Export{ID: 7, State: core.StateDownloading, StatusURL: "http://x/jobs/7", CreatedAt: testNow})
	e := f.ui.exports
	var queued []func()
	f.ui.runAsync = func(fn func()) { queued = append(queued, fn) }
	le := &liveExport{id: 7, firstSeen: map[string]time.Time{}}
	f.exports.mu.Lock()
	f.exports.reads = 0
	f.exports.mu.Unlock()
	reads := func() int {
		f.exports.mu.Lock()
		defer f.exports.mu.Unlock()
		return f.exports.reads
	}
	for _, kind := range []core.EventKind{core.EventDownloadComplete, core.EventDownloadError, core.EventDownloadComplete} {
		e.onEvent(le, core.Event{ExportID: 7, Kind: kind, Time: testNow})
	}
	if got := reads(); got != 0 {
		t.Fatalf("onEvent read the catalogue %d times on the engine's goroutine, want 0", got)
	}
	if got := len(queued); got != 1 {
		t.Fatalf("queued %d reloads for three events before the first ran, want 1", got)
	}
	queued[0]()
	if got := reads(); got != 1 {
		t.Errorf("the queued reload read the export %d times, want 1", got)
	}
	e.onEvent(le, core.Event{ExportID: 7, Kind: core.EventDownloadComplete, Time: testNow})
	if got := len(queued); got != 2 {
		t.Errorf("after the reload ran, a new event queued %d reloads in all, want 2", got)
	}
}

func TestExports_Helpers(t *testing.T) {
	for _, tt := range []struct {
		n    int64
		want string
	}{{0, "0 B"}, {999, "999 B"}, {1500, "1.5 kB"}, {2_500_000, "2.5 MB"}, {3_000_000_000, "3.0 GB"}} {
		if got := humanBytes(tt.n); got != tt.want {
			t.Errorf("humanBytes(%d) = %q, want %q", tt.n, got, tt.want)
		}
	}
	for _, tt := range []struct {
		n    int64
		want string
	}{{0, "0"}, {999, "999"}, {1000, "1,000"}, {1234567, "1,234,567"}} {
		if got := thousands(tt.n); got != tt.want {
			t.Errorf("thousands(%d) = %q, want %q", tt.n, got, tt.want)
		}
	}
}

var _ = widget.NewLabel

// TestExports_ButtonsFollowTheEngineRules: the buttons offer what
// core.Export allows, as tranche export does: a failed export is not
// resumed (its failed files are retried), a complete one is released once,
// an unfinished one is resumed or cancelled.
func TestExports_ButtonsFollowTheEngineRules(t *testing.T) {
	f := newFixture(t)
	e := f.ui.exports
	failedFile := &core.ExportFile{ExportID: 1, Kind: core.KindOutput, Type: "Patient", URL: "u1", State: core.FileFailed}
	f.exports.put(&core.Export{ID: 1, State: core.StateFailed, StatusURL: "http://x/jobs/1", CreatedAt: testNow,
		Manifest: []byte(`{"output":[]}`)}, failedFile)
	f.exports.put(&core.Export{ID: 2, State: core.StateComplete, StatusURL: "http://x/jobs/2", CreatedAt: testNow})
	f.exports.put(&core.Export{ID: 3, State: core.StateComplete, StatusURL: "http://x/jobs/3", CreatedAt: testNow, Released: true})
	f.exports.put(&core.Export{ID: 4, State: core.StateDownloading, StatusURL: "http://x/jobs/4", CreatedAt: testNow})
	f.exports.put(&core.Export{ID: 5, State: core.StateCancelled, StatusURL: "http://x/jobs/5", CreatedAt: testNow},
		&core.ExportFile{ExportID: 5, Kind: core.KindOutput, Type: "Patient", URL: "u5", State: core.FileFailed})
	e.reload()
	for _, tt := range []struct {
		id                             int64
		resume, cancel, retry, release bool
	}{
		{1, false, false, true, false},
		{2, false, false, false, true},
		{3, false, false, false, false},
		{4, true, true, false, false},
		{5, false, false, false, false},
	} {
		e.show(tt.id)
		got := [4]bool{!e.resumeBtn.Disabled(), !e.cancelBtn.Disabled(), !e.retryBtn.Disabled(), !e.releaseBtn.Disabled()}
		if want := [4]bool{tt.resume, tt.cancel, tt.retry, tt.release}; got != want {
			t.Errorf("export %d: resume, cancel, retry, release enabled = %v, want %v", tt.id, got, want)
		}
	}
}

// TestExports_SinkAndExpiredFiles: the status screen says where an export
// in object storage lands, and counts an expired file as failed, not as
// one to go (core.Sum, the summary tranche export prints too).
func TestExports_SinkAndExpiredFiles(t *testing.T) {
	f := newFixture(t)
	e := f.ui.exports
	f.exports.put(&core.Export{ID: 1, State: core.StateFailed, StatusURL: "http://x/jobs/1", CreatedAt: testNow, Sink: "s3://lake/ehr"},
		&core.ExportFile{ExportID: 1, Kind: core.KindOutput, Type: "Patient", URL: "u1", Count: 4, Lines: 4, Bytes: 1000, State: core.FileLoaded},
		&core.ExportFile{ExportID: 1, Kind: core.KindOutput, Type: "Observation", URL: "u2", Count: 6, State: core.FileExpired})
	e.reload()
	e.show(1)
	want := "2 files: 1 loaded, 1 failed, 0 to go · 4 lines of 10 · 1.0 kB\nLands in object storage at s3://lake/ehr."
	if got := e.totals.Text; got != want {
		t.Errorf("totals = %q, want %q", got, want)
	}
}

// TestNewExport_SinkViews checks that a registration landing its exports
// in object storage offers the library's views to land with an export,
// and that the ticked ones, and only for such a registration, go to Start.
func TestNewExport_SinkViews(t *testing.T) {
	views := &fakeViews{lib: []workbench.ViewSummary{
		{Name: "patient_demographics", Title: "Patient demographics", JSON: []byte(`{"name":"patient_demographics"}`)},
		{Name: "my_labs", JSON: []byte(`{"name":"my_labs"}`)},
	}}
	f := newFixture(t, func(d *Deps) { d.Views = views })
	plain := f.addRegistration(t, "Hospital")
	lake := &core.Registration{Name: "Lake", FHIRBaseURL: "https://ehr.example.org/fhir", ClientID: "c", KeyRef: "k",
		Sink: "s3://lake/fhir"}
	if err := f.regs.CreateRegistration(t.Context(), lake); err != nil {
		t.Fatal(err)
	}
	f.ui.registrations.reload()
	f.ui.SelectTab(TabNewExport)
	s := f.ui.newExport

	s.registration.SetSelected(plain.Name)
	if s.sinkBox.Visible() {
		t.Errorf("object storage choices shown for %s, which has no sink", plain.Name)
	}
	s.registration.SetSelected(lake.Name)
	if !s.sinkBox.Visible() {
		t.Fatalf("object storage choices hidden for %s (sink %s)", lake.Name, lake.Sink)
	}
	if want := []string{"Patient demographics (patient_demographics)", "my_labs"}; !cmp.Equal(want, s.sinkViews.Options) {
		t.Errorf("views offered = %q, want %q", s.sinkViews.Options, want)
	}
	if !strings.Contains(s.sinkNote.Text, "s3://lake/fhir") {
		t.Errorf("note = %q, want it to name the sink", s.sinkNote.Text)
	}
	s.sinkViews.SetSelected([]string{"my_labs"})
	test.Tap(s.startBtn)

	// Ticked, then a registration without a sink: nothing to land.
	f.ui.SelectTab(TabNewExport)
	s.registration.SetSelected(plain.Name)
	test.Tap(s.startBtn)

	want := [][][]byte{{[]byte(`{"name":"my_labs"}`)}, nil}
	if diff := cmp.Diff(want, f.exports.sinkViews); diff != "" {
		t.Errorf("views given to Start (-want +got):\n%s", diff)
	}
}
