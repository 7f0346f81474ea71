package core_test

import (
	"testing"

	"tranche.dev/tranche/core"
)

func TestSum(t *testing.T) {
	files := []*core.ExportFile{
		{Kind: core.KindOutput, State: core.FileLoaded, Count: 10, Lines: 10, Bytes: 1000, Problems: 1},
		{Kind: core.KindOutput, State: core.FileExpired, Count: 5, Lines: 2, Bytes: 200},
		{Kind: core.KindOutput, State: core.FileDownloading, Count: 5, Lines: 1, Bytes: 100},
		{Kind: core.KindDeleted, State: core.FileLoaded, Count: 3, Lines: 3, Bytes: 30},
		{Kind: core.KindError, State: core.FileInvalid, Count: 4, Lines: 4, Bytes: 40, Problems: 2},
		{Kind: core.KindOutput, State: core.FilePending, Count: 2},
		{Kind: core.KindOutput, State: core.FileFailed, Count: 1},
	}
	got := core.Sum(files)
	want := core.Totals{Files: 7, Loaded: 2, Failed: 3, Pending: 2, Lines: 20, Bytes: 1370, Problems: 3,
		Count: 30, CountKnown: true, Resources: 12, Deleted: 3, ErrorLines: 2}
	if got != want {
		t.Errorf("Sum =\n%+v, want\n%+v", got, want)
	}
}

func TestTotalsFraction(t *testing.T) {
	tests := []struct {
		name  string
		files []*core.ExportFile
		state core.ExportState
		want  float64
	}{
		{"no files", nil, core.StateDownloading, 0},
		{"complete", nil, core.StateComplete, 1},
		{"by lines", []*core.ExportFile{{Count: 4, Lines: 1}, {Count: 4, Lines: 1}}, core.StateDownloading, 0.25},
		{"lines capped", []*core.ExportFile{{Count: 1, Lines: 3}}, core.StateDownloading, 1},
		{"by files without counts", []*core.ExportFile{{Count: -1, State: core.FileLoaded}, {Count: -1, State: core.FileExpired},
			{Count: -1, State: core.FileDownloading}, {Count: -1}}, core.StateDownloading, 0.5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := core.Sum(tt.files).Fraction(tt.state); got != tt.want {
				t.Errorf("Fraction = %v, want %v", got, tt.want)
			}
		})
	}
}
