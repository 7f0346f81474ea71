package core_test

import (
	"strings"
	"testing"

	"tranche.dev/tranche/core"
)

func TestValidate(t *testing.T) {
	known := []string{"Patient", "Observation", "Condition"}
	tests := []struct {
		name    string
		req     core.ExportRequest
		wantErr string // substring; "" = valid
	}{
		{"PatientLevel", core.ExportRequest{Level: core.LevelPatient}, ""},
		{"Everything", core.ExportRequest{Level: core.LevelGroup, GroupID: "g1", Since: "2024-01-01T00:00:00Z", Until: "2024-06-01T00:00:00.123+02:00",
			Types: []string{"Patient", "Observation"}, Elements: []string{"Observation.code", "id"}, Patients: []string{"Patient/1", "2"},
			TypeFilters: []string{"Observation?category=laboratory,vital-signs&date=gt2024-01-01"}, IncludeAssociatedData: []string{"LatestProvenanceResources", "_mine"},
			OrganizeOutputBy: "Patient", AllowPartialManifests: true, OutputFormat: "application/fhir+ndjson"}, ""},
		{"BadLevel", core.ExportRequest{Level: "everything"}, "level"},
		{"GroupWithoutID", core.ExportRequest{Level: core.LevelGroup}, "group id"},
		{"SinceDateOnly", core.ExportRequest{Level: core.LevelPatient, Since: "2024-01-01"}, "_since"},
		{"SinceNoZone", core.ExportRequest{Level: core.LevelPatient, Since: "2024-01-01T00:00:00"}, "timezone"},
		{"SinceBadMonth", core.ExportRequest{Level: core.LevelPatient, Since: "2024-13-01T00:00:00Z"}, "_since"},
		{"UntilBeforeSince", core.ExportRequest{Level: core.LevelPatient, Since: "2024-02-01T00:00:00Z", Until: "2024-01-01T00:00:00Z"}, "not before"},
		{"UnknownType", core.ExportRequest{Level: core.LevelPatient, Types: []string{"Observaton"}}, "CapabilityStatement"},
		{"UnknownTypeLenient", core.ExportRequest{Level: core.LevelPatient, Types: []string{"Claim"}, Lenient: true}, ""},
		{"LowercaseTypeLenient", core.ExportRequest{Level: core.LevelPatient, Types: []string{"claim"}, Lenient: true}, "not a resource type"},
		{"LowercaseType", core.ExportRequest{Level: core.LevelPatient, Types: []string{"patient"}}, "not a resource type"},
		{"PatientAtSystemLevel", core.ExportRequest{Level: core.LevelSystem, Patients: []string{"Patient/1"}}, "system level"},
		{"TypeFilterNoQuery", core.ExportRequest{Level: core.LevelPatient, TypeFilters: []string{"Observation"}}, "_typeFilter"},
		{"TypeFilterResultParam", core.ExportRequest{Level: core.LevelPatient, TypeFilters: []string{"Observation?_sort=date"}}, "result parameter"},
		{"TypeFilterUnknownType", core.ExportRequest{Level: core.LevelPatient, TypeFilters: []string{"Foo?x=1"}}, "CapabilityStatement"},
		{"BadAssociated", core.ExportRequest{Level: core.LevelPatient, IncludeAssociatedData: []string{"AllProvenance"}}, "includeAssociatedData"},
		{"BadElements", core.ExportRequest{Level: core.LevelPatient, Elements: []string{"Observation.code.coding"}}, "_elements"},
		{"AssociatedCodingPOST", core.ExportRequest{Level: core.LevelPatient, POST: true, IncludeAssociatedData: []string{"LatestProvenanceResources"}, AssociatedDataAs: core.AssociatedDataCoding}, ""},
		{"AssociatedCodingPatientsPOST", core.ExportRequest{Level: core.LevelPatient, Patients: []string{"1"}, IncludeAssociatedData: []string{"LatestProvenanceResources"}, AssociatedDataAs: core.AssociatedDataCoding}, ""},
		{"AssociatedCodingGET", core.ExportRequest{Level: core.LevelPatient, IncludeAssociatedData: []string{"LatestProvenanceResources"}, AssociatedDataAs: core.AssociatedDataCoding}, "needs a POST"},
		{"AssociatedCodingNothingToSend", core.ExportRequest{Level: core.LevelPatient, AssociatedDataAs: core.AssociatedDataCoding}, ""},
		{"AssociatedAsUnknown", core.ExportRequest{Level: core.LevelPatient, AssociatedDataAs: "valueCoding"}, "want code or coding"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.req.Validate(core.Checks{KnownTypes: known})
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("Validate() = %v, want nil", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("Validate() = %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
	if err := (core.ExportRequest{Level: core.LevelPatient, Types: []string{"Anything"}}).Validate(core.Checks{}); err != nil {
		t.Errorf("Validate(no CapabilityStatement) = %v, want nil: types cannot be checked", err)
	}
}
