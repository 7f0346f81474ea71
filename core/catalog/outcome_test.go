package catalog_test

import (
	"testing"

	"tranche.dev/tranche/core/catalog"
)

func TestSeverities(t *testing.T) {
	tests := []struct {
		s             catalog.Severities
		total, errors int64
	}{
		{nil, 0, 0},
		{catalog.Severities{{"fatal", 2}, {"error", 1}, {"warning", 5}, {"information", 1}}, 9, 3},
		{catalog.Severities{{"warning", 5}, {"bogus", 1}}, 6, 0},
	}
	for _, tt := range tests {
		if got, want := [2]int64{tt.s.Total(), tt.s.Errors()}, [2]int64{tt.total, tt.errors}; got != want {
			t.Errorf("%v: Total, Errors = %v, want %v", tt.s, got, want)
		}
	}
}
