package main

import (
	"io"
	"testing"
	"time"

	"tranche.dev/tranche/core"
	"tranche.dev/tranche/ui"
)

// The command line and the desktop app accept the same export requests:
// each case goes through tranche export's flags and through the New export
// form, and both must agree with want (issue 11: the GUI refused a
// _typeFilter type that --lenient accepted, and had its own group id rule).
func TestFrontEndsAgreeOnRequests(t *testing.T) {
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	known := []string{"Patient", "Observation", "Condition"}
	tests := []struct {
		name string
		args []string             // tranche export flags
		form func(*ui.ExportForm) // the same request on the form
		ok   bool
	}{
		{"PatientLevel", nil, func(*ui.ExportForm) {}, true},
		{"System", []string{"--global"}, func(f *ui.ExportForm) { f.Level = core.LevelSystem }, true},
		{"Group", []string{"-g", "g-1.a"}, func(f *ui.ExportForm) { f.Level, f.GroupID = core.LevelGroup, "g-1.a" }, true},
		{"GroupSlash", []string{"-g", "a/b"}, func(f *ui.ExportForm) { f.Level, f.GroupID = core.LevelGroup, "a/b" }, false},
		{"GroupSpace", []string{"-g", "a b"}, func(f *ui.ExportForm) { f.Level, f.GroupID = core.LevelGroup, "a b" }, false},
		{"GroupUnderscore", []string{"-g", "a_b"}, func(f *ui.ExportForm) { f.Level, f.GroupID = core.LevelGroup, "a_b" }, false},
		{"Types", []string{"-t", "Patient,Observation"}, func(f *ui.ExportForm) { f.Types = []string{"Patient", "Observation"} }, true},
		{"UnknownType", []string{"-t", "Claim"}, func(f *ui.ExportForm) { f.Types = []string{"Claim"} }, false},
		{"UnknownTypeLenient", []string{"-t", "Claim", "--lenient"}, func(f *ui.ExportForm) { f.Types, f.Lenient = []string{"Claim"}, true }, true},
		{"FilterUnknownType", []string{"-q", "Claim?status=active"}, func(f *ui.ExportForm) { f.TypeFilters = []string{"Claim?status=active"} }, false},
		{"FilterUnknownTypeLenient", []string{"-q", "Claim?status=active", "--lenient"},
			func(f *ui.ExportForm) { f.TypeFilters, f.Lenient = []string{"Claim?status=active"}, true }, true},
		{"FilterNotInTypes", []string{"-t", "Patient", "-q", "Observation?code=1"},
			func(f *ui.ExportForm) { f.Types, f.TypeFilters = []string{"Patient"}, []string{"Observation?code=1"} }, false},
		{"FilterResultParam", []string{"-q", "Observation?_sort=date"}, func(f *ui.ExportForm) { f.TypeFilters = []string{"Observation?_sort=date"} }, false},
		{"FilterNoQuery", []string{"-q", "Observation"}, func(f *ui.ExportForm) { f.TypeFilters = []string{"Observation"} }, false},
		{"Since", []string{"-s", "2024-01-31T00:00:00Z"}, func(f *ui.ExportForm) { f.Since = "2024-01-31T00:00:00Z" }, true},
		{"SinceFuture", []string{"-s", "2027-01-01T00:00:00Z"}, func(f *ui.ExportForm) { f.Since = "2027-01-01T00:00:00Z" }, false},
		{"SinceAfterUntil", []string{"-s", "2024-02-01T00:00:00Z", "--_until", "2024-01-01T00:00:00Z"},
			func(f *ui.ExportForm) { f.Since, f.Until = "2024-02-01T00:00:00Z", "2024-01-01T00:00:00Z" }, false},
		{"SinceAuto", []string{"-s", "auto"}, func(f *ui.ExportForm) { f.SinceLast = true }, true},
		{"Elements", []string{"-e", "id,Observation.code"}, func(f *ui.ExportForm) { f.Elements = "id,Observation.code" }, true},
		{"ElementNested", []string{"-e", "Observation.code.coding"}, func(f *ui.ExportForm) { f.Elements = "Observation.code.coding" }, false},
		{"Patients", []string{"-p", "1,Patient/2"}, func(f *ui.ExportForm) { f.Patients = "1\nPatient/2" }, true},
		{"PatientBad", []string{"-p", "a b"}, func(f *ui.ExportForm) { f.Patients = "a b" }, false},
		{"PatientsAtSystem", []string{"--global", "-p", "1"}, func(f *ui.ExportForm) { f.Level, f.Patients = core.LevelSystem, "1" }, false},
		{"OutputFormat", []string{"--_outputFormat", "application/fhir+ndjson"}, func(f *ui.ExportForm) { f.OutputFormat = "application/fhir+ndjson" }, true},
		{"OutputFormatCSV", []string{"--_outputFormat", "text/csv"}, func(f *ui.ExportForm) { f.OutputFormat = "text/csv" }, false},
		{"Associated", []string{"-i", "LatestProvenanceResources,_mine"}, func(f *ui.ExportForm) { f.Associated = "LatestProvenanceResources,_mine" }, true},
		{"AssociatedBad", []string{"-i", "AllProvenance"}, func(f *ui.ExportForm) { f.Associated = "AllProvenance" }, false},
		{"OrganizeBy", []string{"--organizeOutputBy", "Patient"}, func(f *ui.ExportForm) { f.OrganizeBy = "Patient" }, true},
		{"OrganizeByLower", []string{"--organizeOutputBy", "patient"}, func(f *ui.ExportForm) { f.OrganizeBy = "patient" }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			flags, _, err := parseExportFlags(tt.args, io.Discard)
			if err != nil {
				t.Fatalf("flags %q: %v", tt.args, err)
			}
			// What the engine checks before it sends anything
			// (bulk.Runner.Start, with the server's types).
			cliErr := flags.request().Validate(core.Checks{KnownTypes: known, Now: now})
			form := ui.ExportForm{Level: core.LevelPatient, HasRegistered: true, KnownTypes: known, Now: now}
			tt.form(&form)
			_, problems := form.Request()
			if got := cliErr == nil; got != tt.ok {
				t.Errorf("tranche export %q: accepted %v (%v), want %v", tt.args, got, cliErr, tt.ok)
			}
			if got := len(problems) == 0; got != tt.ok {
				t.Errorf("New export form: accepted %v (%q), want %v", got, problems, tt.ok)
			}
		})
	}
}
