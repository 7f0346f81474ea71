package catalog_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"tranche.dev/tranche/core"
	"tranche.dev/tranche/core/catalog"
)

// MustCreateExport stores a complete export with the given transaction time.
func MustCreateExport(tb testing.TB, db *catalog.DB, transactionTime string) *core.Export {
	tb.Helper()
	e := &core.Export{
		FHIRBaseURL:     "http://127.0.0.1/fhir",
		Request:         core.ExportRequest{Level: core.LevelSystem},
		State:           core.StateComplete,
		TransactionTime: transactionTime,
	}
	if err := db.CreateExport(tb.Context(), e); err != nil {
		tb.Fatalf("CreateExport() = %v", err)
	}
	return e
}

// MustAddFile adds one file of the given kind to an export.
func MustAddFile(tb testing.TB, db *catalog.DB, exportID int64, kind core.FileKind, typ string) *core.ExportFile {
	tb.Helper()
	f := &core.ExportFile{Kind: kind, Type: typ, URL: fmt.Sprintf("http://127.0.0.1/files/%d/%s/%s.ndjson", exportID, kind, typ), Count: -1}
	if err := db.AddFiles(tb.Context(), exportID, []*core.ExportFile{f}); err != nil {
		tb.Fatalf("AddFiles() = %v", err)
	}
	return f
}

// record builds the Record the export engine would make of one line,
// numbered line.
func record(tb testing.TB, line int64, raw string) core.Record {
	tb.Helper()
	var v struct {
		ResourceType string
		ID           string
		Meta         struct{ LastUpdated string }
		Subject      struct{ Reference string }
		Patient      struct{ Reference string }
	}
	if err := json.Unmarshal([]byte(raw), &v); err != nil {
		tb.Fatalf("fixture line %d: %v", line, err)
	}
	r := core.Record{Line: line, Raw: []byte(raw), ResourceType: v.ResourceType, ID: v.ID,
		LastUpdated: v.Meta.LastUpdated, Patient: v.Subject.Reference}
	if r.Patient == "" {
		r.Patient = v.Patient.Reference
	}
	if v.ResourceType == "Patient" {
		r.Patient = "Patient/" + v.ID
	}
	return r
}

// MustAppend appends the lines as consecutive records after f's progress
// and marks the file loaded, so they join the latest view.
func MustAppend(tb testing.TB, db *catalog.DB, f *core.ExportFile, lines ...string) {
	tb.Helper()
	var recs []core.Record
	for _, l := range lines {
		f.Lines++
		f.Bytes += int64(len(l)) + 1
		recs = append(recs, record(tb, f.Lines, l))
	}
	f.State = core.FileLoaded
	if err := db.AppendRecords(tb.Context(), f, recs); err != nil {
		tb.Fatalf("AppendRecords() = %v", err)
	}
}

func patient(id, family string) string {
	return fmt.Sprintf(`{"resourceType":"Patient","id":%q,"meta":{"lastUpdated":"2025-01-01T00:00:00Z"},"name":[{"family":%q,"given":["Ann","B"]}],"gender":"female","birthDate":"1970-02-03"}`, id, family)
}

func observation(id, patientID, code string, value float64) string {
	return fmt.Sprintf(`{"resourceType":"Observation","id":%q,"status":"final","code":{"coding":[{"system":"http://loinc.org","code":"1234-5","display":%q}]},"subject":{"reference":"Patient/%s"},"effectiveDateTime":"2024-05-06T07:08:09Z","valueQuantity":{"value":%v,"unit":"mg/dL"}}`, id, code, patientID, value)
}

func TestDB_AppendRecords(t *testing.T) {
	t.Run("Idempotent", func(t *testing.T) {
		db := MustOpenDB(t)
		e := MustCreateExport(t, db, "2025-01-01T00:00:00Z")
		f := MustAddFile(t, db, e.ID, core.KindOutput, "Patient")
		lines := []string{patient("a", "Ash"), patient("b", "Birch"), patient("c", "Cedar")}
		MustAppend(t, db, f, lines[:2]...)

		// A crash after the commit: the engine re-reads lines 1-3 and
		// appends them all again. Nothing may be duplicated.
		var recs []core.Record
		for i, l := range lines {
			recs = append(recs, record(t, int64(i+1), l))
		}
		f.Lines, f.State = 3, core.FileLoaded
		if err := db.AppendRecords(t.Context(), f, recs); err != nil {
			t.Fatal(err)
		}
		if err := db.AppendRecords(t.Context(), f, recs); err != nil {
			t.Fatal(err)
		}
		got, err := db.Counts(t.Context(), e.ID)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]catalog.TypeCount{{Type: "Patient", Count: 3}}, got); diff != "" {
			t.Errorf("Counts(export) (-want +got):\n%s", diff)
		}
		var buf strings.Builder
		if _, err := db.ExportNDJSON(t.Context(), &buf, catalog.ResourceFilter{ExportID: e.ID}); err != nil {
			t.Fatal(err)
		}
		if got, want := buf.String(), strings.Join(lines, "\n")+"\n"; got != want {
			t.Errorf("ExportNDJSON() =\n%s\nwant\n%s", got, want)
		}
	})

	t.Run("ProgressStoredWithRecords", func(t *testing.T) {
		db := MustOpenDB(t)
		e := MustCreateExport(t, db, "2025-01-01T00:00:00Z")
		f := MustAddFile(t, db, e.ID, core.KindOutput, "Patient")
		f.State, f.Problems, f.Error = core.FileDownloading, 1, "line 2: invalid JSON"
		recs := []core.Record{record(t, 1, patient("a", "Ash")), {Line: 2, Raw: []byte("{nope"), Problem: "invalid JSON"}}
		f.Lines, f.Bytes = 2, 1234
		if err := db.AppendRecords(t.Context(), f, recs); err != nil {
			t.Fatal(err)
		}

		// Re-adding the file (a resumed export reads the manifest again)
		// returns the stored progress.
		again := &core.ExportFile{Kind: f.Kind, Type: f.Type, URL: f.URL, Count: -1}
		if err := db.AddFiles(t.Context(), e.ID, []*core.ExportFile{again}); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(f, again); diff != "" {
			t.Errorf("AddFiles() after progress (-want +got):\n%s", diff)
		}
		files, err := db.FindFiles(t.Context(), e.ID)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]*core.ExportFile{f}, files); diff != "" {
			t.Errorf("FindFiles() (-want +got):\n%s", diff)
		}
	})

	t.Run("ProblemsKept", func(t *testing.T) {
		db := MustOpenDB(t)
		e := MustCreateExport(t, db, "2025-01-01T00:00:00Z")
		f := MustAddFile(t, db, e.ID, core.KindOutput, "Patient")
		bad := []byte("{\"resourceType\":\"Patient\",\xff")
		f.Lines, f.Problems = 1, 1
		if err := db.AppendRecords(t.Context(), f, []core.Record{{Line: 1, Raw: bad, Problem: "invalid JSON"}}); err != nil {
			t.Fatal(err)
		}
		got, err := db.Problems(t.Context(), e.ID, 0)
		if err != nil {
			t.Fatal(err)
		}
		want := []catalog.Problem{{ExportID: e.ID, FileID: f.ID, URL: f.URL, Line: 1, Problem: "invalid JSON", Raw: bad}}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("Problems() (-want +got):\n%s", diff)
		}
		if cs, err := db.Counts(t.Context(), 0); err != nil || len(cs) != 0 {
			t.Errorf("Counts(latest) = %v, %v; want none, <nil>", cs, err)
		}
	})

	t.Run("Outcomes", func(t *testing.T) {
		db := MustOpenDB(t)
		e := MustCreateExport(t, db, "2025-01-01T00:00:00Z")
		f := MustAddFile(t, db, e.ID, core.KindError, "OperationOutcome")
		lines := map[string]string{
			"error":       `{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"processing"}]}`,
			"warning":     `{"resourceType":"OperationOutcome","issue":[{"severity":"warning","code":"processing"}]}`,
			"information": `{"resourceType":"OperationOutcome","issue":[{"severity":"information","code":"informational"}]}`,
		}
		var recs []core.Record
		for i, sev := range []string{"warning", "error", "warning", "information"} {
			recs = append(recs, core.Record{Line: int64(i + 1), Raw: []byte(lines[sev]), ResourceType: "OperationOutcome", Severity: sev})
		}
		f.Lines = 4
		for range 2 { // twice: idempotent
			if err := db.AppendRecords(t.Context(), f, recs); err != nil {
				t.Fatal(err)
			}
		}
		got, err := db.OutcomeSummary(t.Context(), e.ID)
		if err != nil {
			t.Fatal(err)
		}
		want := catalog.Severities{{"error", 1}, {"warning", 2}, {"information", 1}}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("OutcomeSummary() (-want +got):\n%s", diff)
		}
		if got.Total() != 4 || got.Errors() != 1 {
			t.Errorf("Total, Errors = %d, %d; want 4, 1", got.Total(), got.Errors())
		}
		os, err := db.Outcomes(t.Context(), e.ID, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(os) != 4 || string(os[1].Raw) != lines["error"] || os[1].Severity != "error" {
			t.Errorf("Outcomes() = %d lines, [1] = %q %q; want 4, the error line", len(os), os[1].Severity, os[1].Raw)
		}
	})

	t.Run("ErrFileNotAdded", func(t *testing.T) {
		db := MustOpenDB(t)
		err := db.AppendRecords(t.Context(), &core.ExportFile{ID: 42, Kind: core.KindOutput}, nil)
		if !errors.Is(err, core.ErrNotFound) {
			t.Errorf("AppendRecords(unknown file) = %v, want core.ErrNotFound", err)
		}
	})
}

// TestDB_ReadDuringIngest checks that readers never wait for or fail on
// the writer (WAL, separate pools): two files load in parallel, as the
// export engine's downloads do, while pages and counts are read.
func TestDB_ReadDuringIngest(t *testing.T) {
	db := MustOpenDB(t)
	e := MustCreateExport(t, db, "2025-01-01T00:00:00Z")
	files := []*core.ExportFile{
		MustAddFile(t, db, e.ID, core.KindOutput, "Observation"),
		MustAddFile(t, db, e.ID, core.KindOutput, "Patient"),
	}
	const batches, perBatch = 20, 50
	errc := make(chan error, len(files))
	for fi, f := range files {
		go func() {
			for b := range batches {
				var recs []core.Record
				for i := range perBatch {
					n := b*perBatch + i
					f.Lines++
					line := observation(fmt.Sprintf("o%d-%d", fi, n), "p1", "x", 1)
					if f.Type == "Patient" {
						line = patient(fmt.Sprintf("p%d", n), "F")
					}
					recs = append(recs, record(t, f.Lines, line))
				}
				if b == batches-1 {
					f.State = core.FileLoaded
				}
				if err := db.AppendRecords(t.Context(), f, recs); err != nil {
					errc <- err
					return
				}
			}
			errc <- nil
		}()
	}
	done := 0
	for done < len(files) {
		select {
		case err := <-errc:
			if err != nil {
				t.Fatalf("AppendRecords() = %v", err)
			}
			done++
		default:
			if _, err := db.Resources(t.Context(), catalog.ResourceFilter{ExportID: e.ID, Limit: 10}); err != nil {
				t.Fatalf("Resources() during ingest = %v", err)
			}
			if _, err := db.Counts(t.Context(), 0); err != nil {
				t.Fatalf("Counts() during ingest = %v", err)
			}
		}
	}
	got, err := db.Counts(t.Context(), 0)
	if err != nil {
		t.Fatal(err)
	}
	want := []catalog.TypeCount{{Type: "Observation", Count: batches * perBatch}, {Type: "Patient", Count: batches * perBatch}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Counts(0) after ingest (-want +got):\n%s", diff)
	}
}
