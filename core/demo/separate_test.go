package demo_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"tranche.dev/tranche/core/demo"
)

// poll is one status answer, reduced to what separate-export-status
// changes.
type poll struct {
	status       int    // HTTP status
	exportStatus string // X-Export-Status
	issueCode    string // the OperationOutcome's first issue code, if any
	manifest     bool   // the body is a manifest
}

func readPoll(tb testing.TB, r response) poll {
	tb.Helper()
	p := poll{status: r.status, exportStatus: r.header.Get("X-Export-Status")}
	if len(r.body) == 0 {
		return p
	}
	m := r.json(tb)
	if m["resourceType"] == "OperationOutcome" {
		p.issueCode = r.issueCode(tb)
	}
	_, p.manifest = m["output"]
	return p
}

// TestJob_SeparateExportStatus: with Prefer: separate-export-status the
// kick-off says Preference-Applied and every status answer about the job
// is 200 with the job's status in X-Export-Status; throttling stays a 429
// (Bulk Data Access IG, Export: Bulk Data Kick-off Request, Headers; Bulk Data Access IG, Export: Bulk Data Status Request, Response). Without the preference nothing changes.
func TestJob_SeparateExportStatus(t *testing.T) {
	const applied = "respond-async,separate-export-status"
	running := poll{status: 200, exportStatus: "202 Accepted"}
	tests := []struct {
		name        string
		faults      demo.Faults
		prefer      []string // Prefer headers
		wantApplied string
		wantRunning poll   // what an in-progress answer looks like
		want        []poll // the other answers, in order, up to the job's end
	}{
		{"Complete", demo.Faults{JobDelay: 3 * time.Second}, []string{"respond-async,separate-export-status"}, applied, running,
			[]poll{{status: 200, exportStatus: "200 OK", manifest: true}}},
		{"RepeatedPrefer", demo.Faults{JobDelay: 3 * time.Second}, []string{"respond-async", "separate-export-status"}, applied, running,
			[]poll{{status: 200, exportStatus: "200 OK", manifest: true}}},
		{"FailedJob", demo.Faults{FailJobs: true}, []string{"respond-async, separate-export-status"}, applied, running,
			[]poll{{status: 200, exportStatus: "500 Internal Server Error", issueCode: "processing"}}},
		{"Transient", demo.Faults{StatusErrors: 2}, []string{"respond-async,separate-export-status"}, applied, running,
			[]poll{{status: 200, exportStatus: "500 Internal Server Error", issueCode: "transient"},
				{status: 200, exportStatus: "500 Internal Server Error", issueCode: "transient"},
				{status: 200, exportStatus: "200 OK", manifest: true}}},
		{"ThrottledKeepsHTTPStatus", demo.Faults{Burst429: 1}, []string{"respond-async,separate-export-status"}, applied, running,
			[]poll{{status: 429, issueCode: "throttled"}, {status: 200, exportStatus: "200 OK", manifest: true}}},
		{"NotAsked", demo.Faults{JobDelay: 3 * time.Second}, []string{"respond-async"}, "", poll{status: 202},
			[]poll{{status: 200, manifest: true}}},
		{"NotAskedFailedJob", demo.Faults{FailJobs: true}, []string{"respond-async"}, "", poll{status: 202},
			[]poll{{status: 500, issueCode: "processing"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newServer(t, demo.Config{Faults: tt.faults, MinPoll: -1})
			tok := s.demoToken(t)
			h := []string{"Accept: application/fhir+json"}
			for _, p := range tt.prefer {
				h = append(h, "Prefer: "+p)
			}
			r := do(t, "GET", s.URL()+"/Patient/$export?_type=Patient", tok, nil, h...)
			if r.status != http.StatusAccepted {
				t.Fatalf("kick-off = %d %s, want 202", r.status, r.body)
			}
			if got := r.header.Get("Preference-Applied"); got != tt.wantApplied {
				t.Errorf("Preference-Applied = %q, want %q", got, tt.wantApplied)
			}
			statusURL := r.header.Get("Content-Location")
			var got []poll
			runs := 0
			for i := 0; i < 2000; i++ {
				r := do(t, "GET", statusURL, tok, nil, "Accept: application/json")
				p := readPoll(t, r)
				if p.status == 202 || p.exportStatus == "202 Accepted" {
					runs++
					if p != tt.wantRunning {
						t.Fatalf("in-progress answer = %+v, want %+v", p, tt.wantRunning)
					}
					if r.header.Get("Retry-After") == "" || r.header.Get("X-Progress") == "" {
						t.Errorf("in-progress answer without Retry-After or X-Progress: %v", r.header)
					}
					s.clock.Advance(time.Second)
					continue
				}
				if p.manifest && !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
					t.Errorf("manifest Content-Type = %q, want application/json", r.header.Get("Content-Type"))
				}
				got = append(got, p)
				if p.manifest || p.issueCode == "processing" {
					break
				}
			}
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(poll{})); diff != "" {
				t.Errorf("status answers (-want +got):\n%s", diff)
			}
			if tt.faults.JobDelay > 0 && runs == 0 {
				t.Errorf("no in-progress answer from a job delayed %s", tt.faults.JobDelay)
			}
		})
	}
}
