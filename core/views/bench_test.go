package views_test

import (
	"testing"
	"time"

	"tranche.dev/tranche/core/fhirpath"
	"tranche.dev/tranche/core/synth"
	"tranche.dev/tranche/core/views"

	"tranche.dev/tranche/core/rss"
)

// benchView is an observations view as analysts write it: one row per
// Observation with its LOINC code and display, value, unit, time and patient.
const benchView = `{
  "resourceType": "ViewDefinition", "name": "observations", "resource": "Observation", "status": "active",
  "constant": [{"name": "loinc", "valueUri": "http://loinc.org"}],
  "select": [{"column": [
    {"name": "id", "path": "getResourceKey()", "type": "id"},
    {"name": "patient_id", "path": "subject.getReferenceKey(Patient)", "type": "string"},
    {"name": "encounter_id", "path": "encounter.getReferenceKey(Encounter)", "type": "string"},
    {"name": "status", "path": "status", "type": "code"},
    {"name": "category", "path": "category.coding.code.first()", "type": "code"},
    {"name": "code", "path": "code.coding.where(system = %loinc).code.first()", "type": "code"},
    {"name": "display", "path": "code.coding.where(system = %loinc).display.first()", "type": "string"},
    {"name": "value", "path": "value.ofType(Quantity).value", "type": "decimal"},
    {"name": "unit", "path": "value.ofType(Quantity).code", "type": "code"},
    {"name": "value_code", "path": "value.ofType(CodeableConcept).coding.code.first()", "type": "code"},
    {"name": "effective", "path": "effective.ofType(dateTime)", "type": "dateTime"},
    {"name": "issued", "path": "issued", "type": "instant"}
  ]}]
}`

// observationLines returns the Observations of the first patients of the
// synthetic population, one JSON line each.
func observationLines(b *testing.B, patients int) (lines [][]byte, size int64) {
	p := synth.New(synth.Config{Patients: patients})
	for i := range patients {
		err := p.EachOfPatient(i, func(r *synth.Resource) error {
			if r.Type == "Observation" && !r.Deleted {
				lines = append(lines, append([]byte(nil), r.JSON...))
				size += int64(len(r.JSON)) + 1
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	return lines, size
}

// BenchmarkObservationsView evaluates the observations view over the
// Observation lines of 20 synthetic patients, and in the same run a baseline
// that only decodes the same lines' JSON as Rows does (numbers exact). Each
// op is one baseline pass then one view pass over all lines, so that both
// see the same machine load; x-decode is the view's CPU time per line over
// the baseline's (wall time when CPU time is not available).
func BenchmarkObservationsView(b *testing.B) {
	lines, size := observationLines(b, 20)
	v, err := views.Parse([]byte(benchView))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(size)
	b.ReportAllocs()
	var decodeWall, viewWall, decodeCPU, viewCPU time.Duration
	rows := 0
	for b.Loop() {
		w0, c0 := time.Now(), rss.CPUTime()
		for _, l := range lines {
			if _, err := fhirpath.Decode(l); err != nil {
				b.Fatal(err)
			}
		}
		w1, c1 := time.Now(), rss.CPUTime()
		for _, l := range lines {
			r, err := v.Rows(l)
			if err != nil {
				b.Fatal(err)
			}
			rows += len(r)
		}
		w2, c2 := time.Now(), rss.CPUTime()
		decodeWall, viewWall = decodeWall+w1.Sub(w0), viewWall+w2.Sub(w1)
		decodeCPU, viewCPU = decodeCPU+c1-c0, viewCPU+c2-c1
	}
	n := b.N * len(lines)
	if rows != n {
		b.Fatalf("%d rows from %d Observations, want one each", rows, n)
	}
	b.ReportMetric(float64(n)/viewWall.Seconds(), "view-rows/s")
	b.ReportMetric(float64(size)*float64(b.N)/viewWall.Seconds()/1e6, "view-MB/s")
	b.ReportMetric(float64(n)/decodeWall.Seconds(), "decode-rows/s")
	ratio := float64(viewWall) / float64(decodeWall)
	if decodeCPU > 0 && viewCPU > 0 {
		ratio = float64(viewCPU) / float64(decodeCPU)
		b.ReportMetric(float64(viewCPU.Microseconds())/float64(n), "view-cpu-µs/row")
	}
	b.ReportMetric(ratio, "x-decode")
}
