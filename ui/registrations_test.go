package ui

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"
	"github.com/google/go-cmp/cmp"

	"tranche.dev/tranche/core"
	"tranche.dev/tranche/core/registry"
	"tranche.dev/tranche/core/smart"
)

func TestRegistrations_AddDiscoverGenerateRegisterTest(t *testing.T) {
	f := newFixture(t)
	s := f.ui.registrations

	test.Type(s.name, "County Hospital")
	test.Type(s.baseURL, "https://ehr.example.org/fhir/")
	test.Tap(s.discoverBtn)
	if got, want := s.tokenURL.Text, "https://ehr.example.org/token"; got != want {
		t.Errorf("after Discover, token URL = %q, want %q", got, want)
	}
	if !strings.Contains(s.supports.Text, "Dynamic registration: yes") {
		t.Errorf("supports = %q, want it to mention dynamic registration", s.supports.Text)
	}
	if !s.registerBtn.Disabled() {
		t.Errorf("Register dynamically enabled before there is a key")
	}

	test.Tap(s.generateBtn)
	if got, want := s.jwks.Text, `{"keys":[{"kid":"kid-County Hospital"}]}`; got != want {
		t.Errorf("JWKS = %q, want %q", got, want)
	}
	if s.copyBtn.Disabled() || s.saveJWKSBtn.Disabled() || s.registerBtn.Disabled() {
		t.Errorf("Copy/Save/Register disabled after a key was generated")
	}
	test.Tap(s.copyBtn)
	if got := f.ui.App.Clipboard().Content(); got != s.jwks.Text {
		t.Errorf("clipboard = %q, want the JWKS", got)
	}

	test.Tap(s.registerBtn)
	if got, want := s.clientID.Text, "client-County Hospital"; got != want {
		t.Errorf("client id after registering = %q, want %q", got, want)
	}
	regs, _ := f.regs.FindRegistrations(context.Background())
	if len(regs) != 1 {
		t.Fatalf("stored registrations = %d, want 1", len(regs))
	}
	want := &core.Registration{ID: 1, Name: "County Hospital", FHIRBaseURL: "https://ehr.example.org/fhir",
		TokenURL: "https://ehr.example.org/token", ClientID: "client-County Hospital", Scopes: "system/*.rs", Alg: "RS384",
		KeyID: "kid-County Hospital", KeyRef: "ref-County Hospital", PublicJWKS: `{"keys":[{"kid":"kid-County Hospital"}]}`,
		MaxParallel: DefaultMaxParallel, PollMin: DefaultPollMin, PollMax: DefaultPollMax}
	if diff := cmp.Diff(want, regs[0]); diff != "" {
		t.Errorf("stored registration (-want +got):\n%s", diff)
	}
	if got := s.list.Length(); got != 1 {
		t.Errorf("list length = %d, want 1", got)
	}
	if got := f.ui.newExport.registration.Selected; got != "County Hospital" {
		t.Errorf("New export registration = %q, want the new one", got)
	}

	test.Tap(s.testBtn)
	if !strings.HasPrefix(s.results.Text, "Connection works") || !strings.Contains(s.results.Text, "✓ Metadata read") {
		t.Errorf("test results = %q, want a working connection", s.results.Text)
	}
}

// TestRegistrations_RegisterByHand: an endpoint that is not RFC 7591 (the
// SMART reference server's form) is the usual way with many data holders:
// the screen says what to do instead of showing an error, as
// tranche registrations register does.
func TestRegistrations_RegisterByHand(t *testing.T) {
	f := newFixture(t)
	s := f.ui.registrations
	f.servers.registerErr = fmt.Errorf("registration endpoint: %w", smart.ErrNotRFC7591)
	test.Type(s.name, "Lab")
	test.Type(s.baseURL, "https://lab.example/fhir")
	test.Tap(s.discoverBtn)
	test.Tap(s.generateBtn)
	test.Tap(s.registerBtn)
	if got := s.results.Text; !strings.Contains(got, "does not register clients automatically") || !strings.Contains(got, "public JWKS") {
		t.Errorf("results = %q, want how to register by hand", got)
	}
	if got := s.clientID.Text; got != "" {
		t.Errorf("client id = %q, want none", got)
	}
	if regs, _ := f.regs.FindRegistrations(context.Background()); len(regs) != 0 {
		t.Errorf("%d registrations stored, want none", len(regs))
	}
}

func TestRegistrations_TestConnectionFails(t *testing.T) {
	f := newFixture(t)
	s := f.ui.registrations
	test.Type(s.name, "X")
	test.Type(s.baseURL, "https://x.example/fhir")
	test.Tap(s.generateBtn)
	test.Type(s.clientID, "bad")
	test.Tap(s.testBtn)
	for _, want := range []string{"does not work", "✗ Access token: invalid_client: unknown kid"} {
		if !strings.Contains(s.results.Text, want) {
			t.Errorf("results = %q, want it to contain %q", s.results.Text, want)
		}
	}
}

func TestRegistrations_SaveChecksInput(t *testing.T) {
	tests := []struct {
		name, regName, url, headers, want string
	}{
		{"NoName", "", "https://x.example/fhir", "", "Give the registration a name."},
		{"BadURL", "X", "ftp://x", "", "Enter the server's FHIR base URL"},
		{"BadHeader", "X", "https://x.example/fhir", "no colon", "Extra header line 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			s := f.ui.registrations
			test.Type(s.name, tt.regName)
			test.Type(s.baseURL, tt.url)
			s.headers.SetText(tt.headers)
			test.Tap(s.saveBtn)
			if !strings.HasPrefix(s.results.Text, tt.want) {
				t.Errorf("results = %q, want %q", s.results.Text, tt.want)
			}
			if regs, _ := f.regs.FindRegistrations(context.Background()); len(regs) != 0 {
				t.Errorf("saved %d registrations, want none", len(regs))
			}
		})
	}
}

func TestRegistrations_EditAndDelete(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.regs.CreateRegistration(ctx, &core.Registration{Name: "B", FHIRBaseURL: "https://b.example/fhir", Headers: map[string]string{"X-A": "1"}})
	f.regs.CreateRegistration(ctx, &core.Registration{Name: "A", FHIRBaseURL: "https://a.example/fhir"})
	s := f.ui.registrations
	s.reload()
	s.list.Select(1) // sorted: A, B
	if got := s.name.Text; got != "B" {
		t.Fatalf("selected name = %q, want B", got)
	}
	if got := s.headers.Text; got != "X-A: 1" {
		t.Errorf("headers = %q, want %q", got, "X-A: 1")
	}
	s.name.SetText("B2")
	test.Tap(s.saveBtn)
	regs, _ := f.regs.FindRegistrations(ctx)
	if got := regs[0].Name; got != "B2" {
		t.Errorf("after edit, name = %q, want B2", got)
	}
	if len(regs) != 2 {
		t.Fatalf("editing created a registration: have %d", len(regs))
	}

	s.delete(s.selected.ID)
	regs, _ = f.regs.FindRegistrations(ctx)
	if len(regs) != 1 || regs[0].Name != "A" {
		t.Errorf("after delete, registrations = %v, want only A", regs)
	}
	if s.selected != nil || s.name.Text != "" {
		t.Errorf("after delete the form still shows %q", s.name.Text)
	}
}

func TestRegistrations_DiscoverError(t *testing.T) {
	f := newFixture(t)
	f.servers.discoverErr = &testNetError{}
	s := f.ui.registrations
	test.Type(s.baseURL, "https://down.example/fhir")
	test.Tap(s.discoverBtn)
	texts := overlayTexts(f.win)
	if !strings.Contains(texts, "Could not read the server's SMART configuration.") {
		t.Errorf("dialog = %q, want the sentence", texts)
	}
	if !strings.Contains(texts, "did not answer in time") || !strings.Contains(texts, "dial tcp: i/o timeout") {
		t.Errorf("dialog = %q, want the hint and the detail", texts)
	}
}

func TestParseHeaders(t *testing.T) {
	got, err := parseHeaders("A: 1\n\n B :two: parts ")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"A": "1", "B": "two: parts"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("parseHeaders (-want +got):\n%s", diff)
	}
	if got := formatHeaders(want); got != "A: 1\nB: two: parts" {
		t.Errorf("formatHeaders = %q", got)
	}
}

// testNetError is a timeout from the network.
type testNetError struct{}

func (testNetError) Error() string   { return "dial tcp: i/o timeout" }
func (testNetError) Timeout() bool   { return true }
func (testNetError) Temporary() bool { return true }

// overlayTexts joins the text of every label in the window's top overlay
// (where dialogs show), including collapsed accordion details.
func overlayTexts(w fyne.Window) string {
	top := w.Canvas().Overlays().Top()
	if top == nil {
		return ""
	}
	var b strings.Builder
	var walk func(o fyne.CanvasObject)
	walk = func(o fyne.CanvasObject) {
		switch o := o.(type) {
		case *widget.Label:
			b.WriteString(o.Text + "\n")
			return
		case *widget.Accordion:
			for _, it := range o.Items {
				walk(it.Detail)
			}
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
	walk(top)
	return b.String()
}

func TestRegistrations_GenerateKeyRefusesTakenName(t *testing.T) {
	f := newFixture(t)
	f.regs.CreateRegistration(context.Background(), &core.Registration{Name: "A", FHIRBaseURL: "https://a.example/fhir"})
	s := f.ui.registrations
	s.reload()
	s.add()
	test.Type(s.name, "A")
	test.Tap(s.generateBtn)
	if len(f.servers.generatedFor) != 0 {
		t.Errorf("generated a key under the taken name %q", f.servers.generatedFor)
	}
	if !strings.Contains(s.results.Text, "Another registration is called A") {
		t.Errorf("results = %q", s.results.Text)
	}
}

// TestRegistrations_DiscoverSetsServerDefaults: a v1-only, ES384-only
// server gets system/*.read and ES384 on a new registration, as the CLI's
// registrations add gives it; scopes typed by hand stay.
func TestRegistrations_DiscoverSetsServerDefaults(t *testing.T) {
	f := newFixture(t)
	f.servers.disc = &registry.Discovery{TokenURL: "https://ehr.example.org/token",
		Capabilities: []string{"permission-v1"}, Algorithms: []string{"ES384"}}
	s := f.ui.registrations
	test.Type(s.name, "Old server")
	test.Type(s.baseURL, "https://ehr.example.org/fhir")
	test.Tap(s.discoverBtn)
	if got := s.scopes.Text; got != "system/*.read" {
		t.Errorf("scopes after Discover = %q, want system/*.read", got)
	}
	if got := s.alg.Selected; got != "ES384" {
		t.Errorf("algorithm after Discover = %q, want ES384", got)
	}
	s.scopes.SetText("system/Patient.read")
	test.Tap(s.discoverBtn)
	if got := s.scopes.Text; got != "system/Patient.read" {
		t.Errorf("scopes typed by hand became %q after Discover, want them kept", got)
	}
}

// TestRegistrations_Sink: a registration's object storage is set in the
// form (Advanced), checked by core's rule, and saved with the rest.
func TestRegistrations_Sink(t *testing.T) {
	f := newFixture(t)
	s := f.ui.registrations
	test.Type(s.name, "Lake")
	test.Type(s.baseURL, "https://ehr.example.org/fhir")
	test.Tap(s.generateBtn)
	test.Type(s.sink, "https://lake.example/ehr")
	test.Tap(s.saveBtn)
	if got := s.results.Text; !strings.Contains(got, "want s3://BUCKET/PREFIX") {
		t.Errorf("results = %q, want the sink refused", got)
	}
	s.sink.SetText("s3://lake/fhir/ehr")
	test.Tap(s.saveBtn)
	regs, _ := f.regs.FindRegistrations(context.Background())
	if len(regs) != 1 || regs[0].Sink != "s3://lake/fhir/ehr" {
		t.Fatalf("stored registrations = %+v, want one with its sink", regs)
	}
	s.add()
	if s.sink.Text != "" {
		t.Errorf("sink after New = %q, want empty", s.sink.Text)
	}
	s.edit(regs[0])
	if got := s.sink.Text; got != "s3://lake/fhir/ehr" {
		t.Errorf("sink shown = %q, want the stored one", got)
	}
}
