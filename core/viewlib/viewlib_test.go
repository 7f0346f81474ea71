package viewlib_test

import (
	"testing"

	"tranche.dev/tranche/core/viewlib"
)

// The list of analyses, each a built-in view.
var wantViews = map[string]string{
	"patient_demographics": "Patient",
	"observations":         "Observation",
	"blood_pressures":      "Observation",
	"conditions":           "Condition",
	"medication_requests":  "MedicationRequest",
	"encounters":           "Encounter",
	"immunizations":        "Immunization",
	"procedures":           "Procedure",
	"allergies":            "AllergyIntolerance",
	"diagnostic_reports":   "DiagnosticReport",
}

func TestAll(t *testing.T) {
	all := viewlib.All()
	if len(all) != len(wantViews) {
		t.Errorf("All() has %d views, want %d", len(all), len(wantViews))
	}
	for i, v := range all {
		if i > 0 && all[i-1].Name >= v.Name {
			t.Errorf("All() not sorted by name: %s before %s", all[i-1].Name, v.Name)
		}
		if want, ok := wantViews[v.Name]; !ok || v.Resource != want {
			t.Errorf("view %s reads %s, want one of the expected views (%s)", v.Name, v.Resource, want)
		}
		if v.Title == "" || len(v.Description) < 40 {
			t.Errorf("view %s: title %q, description %q; want both, documented", v.Name, v.Title, v.Description)
		}
		got, ok := viewlib.Lookup(v.Name)
		if !ok || string(got.JSON) != string(v.JSON) {
			t.Errorf("Lookup(%s) = %v, want the view All() lists", v.Name, ok)
		}
	}
	for _, name := range []string{"", "nope", "../viewlib", "observations.json", "views/observations"} {
		if _, ok := viewlib.Lookup(name); ok {
			t.Errorf("Lookup(%q) found a view", name)
		}
	}
}
