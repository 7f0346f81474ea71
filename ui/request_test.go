package ui

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"tranche.dev/tranche/core"
)

func TestExportForm_Request(t *testing.T) {
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	base := ExportForm{Level: core.LevelPatient, HasRegistered: true, Now: now, KnownTypes: []string{"Patient", "Observation"}}
	tests := []struct {
		name    string
		edit    func(*ExportForm)
		want    core.ExportRequest
		problem string // a substring of the one expected problem; "" for none
	}{
		{"OK", func(*ExportForm) {}, core.ExportRequest{Level: core.LevelPatient}, ""},
		{"NoRegistration", func(f *ExportForm) { f.HasRegistered = false }, core.ExportRequest{}, "Pick a registration"},
		{"NoLevel", func(f *ExportForm) { f.Level = "" }, core.ExportRequest{}, "export level"},
		{"Group", func(f *ExportForm) { f.Level, f.GroupID = core.LevelGroup, "g1 — Diabetes (12)" },
			core.ExportRequest{Level: core.LevelGroup, GroupID: "g1"}, ""},
		{"GroupMissing", func(f *ExportForm) { f.Level = core.LevelGroup }, core.ExportRequest{}, "Pick a Group"},
		{"GroupBadID", func(f *ExportForm) { f.Level, f.GroupID = core.LevelGroup, "a/b" }, core.ExportRequest{}, "not a valid Group id"},
		{"Types", func(f *ExportForm) { f.Types = []string{"Observation"} },
			core.ExportRequest{Level: core.LevelPatient, Types: []string{"Observation"}}, ""},
		{"UnknownType", func(f *ExportForm) { f.Types = []string{"Claim"} }, core.ExportRequest{}, "does not list Claim"},
		{"SinceDate", func(f *ExportForm) { f.Since = "2024-01-31" },
			core.ExportRequest{Level: core.LevelPatient, Since: "2024-01-31T00:00:00Z"}, ""},
		{"SinceInstant", func(f *ExportForm) { f.Since = "2024-01-31T12:00:00+02:00" },
			core.ExportRequest{Level: core.LevelPatient, Since: "2024-01-31T12:00:00+02:00"}, ""},
		{"SinceBad", func(f *ExportForm) { f.Since = "31/01/2024" }, core.ExportRequest{}, "not a date"},
		{"SinceNoZone", func(f *ExportForm) { f.Since = "2024-01-31T12:00:00" }, core.ExportRequest{}, "not a date"},
		{"SinceFuture", func(f *ExportForm) { f.Since = "2027-01-01" }, core.ExportRequest{}, "in the future"},
		{"SinceLast", func(f *ExportForm) { f.SinceLast, f.Since = true, "garbage" },
			core.ExportRequest{Level: core.LevelPatient, Since: "auto"}, ""},
		{"UntilBeforeSince", func(f *ExportForm) { f.Since, f.Until = "2024-02-01", "2024-01-01" }, core.ExportRequest{}, "before until"},
		{"Elements", func(f *ExportForm) { f.Elements = "id, Observation.code ,status" },
			core.ExportRequest{Level: core.LevelPatient, Elements: []string{"id", "Observation.code", "status"}}, ""},
		{"ElementBad", func(f *ExportForm) { f.Elements = "code.coding" }, core.ExportRequest{}, "_elements"},
		{"TypeFilter", func(f *ExportForm) { f.TypeFilters = []string{"Observation?category=laboratory", " "} },
			core.ExportRequest{Level: core.LevelPatient, TypeFilters: []string{"Observation?category=laboratory"}}, ""},
		{"TypeFilterNoQuery", func(f *ExportForm) { f.TypeFilters = []string{"Observation"} }, core.ExportRequest{}, "Filter 1 should read"},
		{"TypeFilterUnknownType", func(f *ExportForm) { f.TypeFilters = []string{"Claim?status=active"} }, core.ExportRequest{}, "does not list Claim"},
		{"TypeFilterNotTicked", func(f *ExportForm) {
			f.Types, f.TypeFilters = []string{"Patient"}, []string{"Observation?code=1"}
		}, core.ExportRequest{}, "not among the ticked"},
		{"Patients", func(f *ExportForm) { f.Patients = "Patient/1\n\n 2 " },
			core.ExportRequest{Level: core.LevelPatient, Patients: []string{"Patient/1", "Patient/2"}, POST: true}, ""},
		{"PatientsAtSystem", func(f *ExportForm) { f.Level, f.Patients = core.LevelSystem, "1" }, core.ExportRequest{}, "all-patients or Group"},
		{"PatientBad", func(f *ExportForm) { f.Patients = "Patient/1 2" }, core.ExportRequest{}, "not a valid patient id"},
		{"Advanced", func(f *ExportForm) {
			f.OutputFormat, f.Associated, f.OrganizeBy, f.Partial, f.Lenient = "ndjson", "LatestProvenanceResources", "Patient", true, true
		}, core.ExportRequest{Level: core.LevelPatient, OutputFormat: "ndjson", IncludeAssociatedData: []string{"LatestProvenanceResources"},
			OrganizeOutputBy: "Patient", AllowPartialManifests: true, Lenient: true}, ""},
		{"OutputFormatBad", func(f *ExportForm) { f.OutputFormat = "text/csv" }, core.ExportRequest{}, "Output format"},
		{"OrganizeByBad", func(f *ExportForm) { f.OrganizeBy = "patient" }, core.ExportRequest{}, "Organize output by"},
		{"TypesUnknownServer", func(f *ExportForm) { f.KnownTypes, f.Types = nil, []string{"Claim"} },
			core.ExportRequest{Level: core.LevelPatient, Types: []string{"Claim"}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := base
			tt.edit(&f)
			got, problems := f.Request()
			if tt.problem == "" {
				if len(problems) != 0 {
					t.Fatalf("request() problems = %q, want none", problems)
				}
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("request() (-want +got):\n%s", diff)
				}
				return
			}
			if len(problems) != 1 || !strings.Contains(problems[0], tt.problem) {
				t.Errorf("request() problems = %q, want one containing %q", problems, tt.problem)
			}
		})
	}
}

func TestGroupChoice(t *testing.T) {
	for _, g := range []core.Group{{ID: "g1"}, {ID: "g2", Name: "Diabetes"}, {ID: "g3", Name: "Over 65", Quantity: 40}} {
		if got := groupID(groupChoice(g)); got != g.ID {
			t.Errorf("groupID(groupChoice(%+v)) = %q, want %q", g, got, g.ID)
		}
	}
}
