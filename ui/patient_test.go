package ui

import (
	"testing"
	"time"
)

func TestPatientHeader(t *testing.T) {
	now := time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		name string
		d    map[string]any
		want string
	}{
		{"Full", map[string]any{"given_name": "Ann", "family_name": "Lee", "gender": "female", "birth_date": "1970-12-04"},
			"Ann Lee · female · born 1970-12-04 (age 55) · Patient/1"},
		{"BirthdayToday", map[string]any{"family_name": "Lee", "birth_date": "1970-12-03"},
			"Lee · born 1970-12-03 (age 56) · Patient/1"},
		{"PartialBirthDate", map[string]any{"given_name": "Bo", "birth_date": "1980"},
			"Bo · born 1980 (age 46) · Patient/1"},
		{"NoName", map[string]any{"gender": "male", "deceased": true},
			"Patient/1 · male · deceased · Patient/1"},
		{"NotInCatalogue", nil, "Patient/1 (not in the catalogue)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := patientHeader("Patient/1", tt.d, now); got != tt.want {
				t.Errorf("patientHeader = %q, want %q", got, tt.want)
			}
		})
	}
}
