package ui

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/theme"

	"tranche.dev/tranche/core"
	"tranche.dev/tranche/core/demo"
)

func TestUI_TabShortcuts(t *testing.T) {
	f := newFixture(t)
	for i, key := range []fyne.KeyName{fyne.Key1, fyne.Key2, fyne.Key3, fyne.Key4, fyne.Key5, fyne.Key6, fyne.Key7} {
		typeShortcut(f.win, key)
		if got := f.ui.tabs.SelectedIndex(); got != i {
			t.Errorf("Ctrl+%s selected tab %d, want %d", key, got, i)
		}
	}
	typeShortcut(f.win, fyne.KeyN)
	if got := f.ui.tabs.SelectedIndex(); got != TabNewExport {
		t.Errorf("Ctrl+N selected tab %d, want New export", got)
	}
	if menu := f.win.MainMenu(); menu == nil || len(menu.Items) != 2 {
		t.Errorf("main menu = %v, want File and View", menu)
	}
}

func TestUI_StartExportShortcut(t *testing.T) {
	f := newFixture(t)
	f.addRegistration(t, "Hospital")
	typeShortcut(f.win, fyne.KeyE)
	if got := len(f.exports.started); got != 1 {
		t.Fatalf("Ctrl+E started %d exports, want 1", got)
	}
	if got := f.ui.tabs.SelectedIndex(); got != TabExports {
		t.Errorf("tab = %d, want Exports", got)
	}
}

func TestUI_ErrorHints(t *testing.T) {
	for _, tt := range []struct {
		err  error
		want string
	}{
		{fmt.Errorf("store key: %w", core.ErrKeychainUnavailable), "No keychain could be reached"},
		{fmt.Errorf("store key: %w: %w", core.ErrKeychainUnavailable, core.ErrKeychainLocked), "The keychain is locked"},
		{fmt.Errorf("status: %w", core.ErrExpired), "no longer has this export"},
		{context.Canceled, "cancelled"},
		{testNetError{}, "did not answer in time"},
		{errors.New("other"), ""},
	} {
		got := errorHint(tt.err)
		if (tt.want == "") != (got == "") || !strings.Contains(got, tt.want) {
			t.Errorf("errorHint(%v) = %q, want %q", tt.err, got, tt.want)
		}
	}
}

func TestSettings_SaveAndTheme(t *testing.T) {
	f := newFixture(t)
	s := f.ui.settings
	s.pollMin.SetText("60")
	s.pollMax.SetText("10")
	s.save()
	if got := s.status.Text; !strings.Contains(got, "shortest poll is longer") {
		t.Errorf("status = %q", got)
	}
	s.pollMax.SetText("600")
	s.maxParallel.SetText("8")
	s.dataDir.SetText("/tmp/tranche")
	s.save()
	p := f.ui.App.Preferences()
	if got := p.Int(PrefMaxParallel); got != 8 {
		t.Errorf("saved parallel = %d, want 8", got)
	}
	if got := p.Int(PrefPollMax); got != 600 {
		t.Errorf("saved poll max = %d", got)
	}
	if got := p.String(PrefDataDir); got != "/tmp/tranche" {
		t.Errorf("saved data dir = %q", got)
	}
	f.ui.registrations.add()
	if got := f.ui.registrations.maxParallel.Text; got != "8" {
		t.Errorf("a new registration's parallel downloads = %q, want the new default 8", got)
	}

	s.theme.SetSelected(ThemeDark)
	bg := f.ui.App.Settings().Theme().Color(theme.ColorNameBackground, theme.VariantLight)
	if want := theme.DefaultTheme().Color(theme.ColorNameBackground, theme.VariantDark); bg != want {
		t.Errorf("dark theme background = %v, want %v", bg, want)
	}
	if got := p.String(PrefTheme); got != ThemeDark {
		t.Errorf("saved theme = %q", got)
	}
}

func TestDemo_StartFaultsLogStop(t *testing.T) {
	f := newFixture(t)
	d := f.ui.demo
	f.ui.SelectTab(TabDemo)
	if got := d.status.Text; got != "Stopped." {
		t.Errorf("status = %q, want Stopped.", got)
	}
	d.patients.SetText("7")
	test.Tap(d.startBtn)
	if got := d.status.Text; got != "Running." {
		t.Fatalf("status = %q, want Running.", got)
	}
	for _, want := range []string{"FHIR base URL: http://127.0.0.1:8087/fhir", "Client id tranche-demo-rs384 (RS384)"} {
		if !strings.Contains(d.info.Text, want) {
			t.Errorf("info = %q, want %q", d.info.Text, want)
		}
	}
	if !d.startBtn.Disabled() || d.stopBtn.Disabled() || !d.patients.Disabled() {
		t.Errorf("while running: start disabled %v, stop disabled %v, patients disabled %v",
			d.startBtn.Disabled(), d.stopBtn.Disabled(), d.patients.Disabled())
	}
	test.Tap(d.statusErrors)
	if n := len(f.demo.faults); n != 1 || !f.demo.faults[0].StatusErrors {
		t.Errorf("faults applied = %+v, want one with status errors", f.demo.faults)
	}
	f.demo.log(demo.RequestLog{Time: testNow, Method: "GET", Path: "/fhir/metadata", Status: 200, Duration: 3 * time.Millisecond, ClientID: "c1"})
	if got := d.logList.Length(); got != 1 {
		t.Fatalf("request log length = %d, want 1", got)
	}
	if !strings.Contains(d.reqs[0], "GET  /fhir/metadata  200  3ms  c1") {
		t.Errorf("log line = %q", d.reqs[0])
	}
	test.Tap(d.stopBtn)
	if got := d.status.Text; got != "Stopped." {
		t.Errorf("after Stop, status = %q", got)
	}
}

func TestDemo_Unavailable(t *testing.T) {
	a := test.NewTempApp(t)
	w := test.NewTempWindow(t, nil)
	u := newTestUI(t, a, w, Deps{Registrations: &fakeRegistrations{}, Servers: &fakeServers{}, Exports: newFakeExports(), Catalog: &fakeCatalog{}})
	if !u.demo.startBtn.Disabled() || !strings.Contains(u.demo.info.Text, "tranche demo") {
		t.Errorf("without a demo server: start disabled %v, info %q", u.demo.startBtn.Disabled(), u.demo.info.Text)
	}
}
