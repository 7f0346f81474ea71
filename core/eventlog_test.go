package core_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"tranche.dev/tranche/core"
)

// NewLogItem is the one mapping from typed events to the bulk-data-client's
// log.ndjson: each kind's eventDetail has that client's field names.
func TestNewLogItem(t *testing.T) {
	at := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tt := range []struct {
		ev   core.Event
		want string
	}{
		{core.Event{Kind: core.EventStatusProgress, Progress: "50%", RetryAfter: 1500 * time.Millisecond},
			`{"retryAfter":1500,"xProgress":"50%"}`},
		{core.Event{Kind: core.EventStatusError, Message: "status x: HTTP 500", Code: 500, Body: "boom", Transient: true, Attempt: 2},
			`{"attempt":2,"body":"boom","code":500,"message":"status x: HTTP 500","responseHeaders":null,"transient":true}`},
		{core.Event{Kind: core.EventStatusError, Message: "status: connection refused", Attempt: 1},
			`{"attempt":1,"message":"status: connection refused","transient":false}`},
		{core.Event{Kind: core.EventManifestComplete, TransactionTime: "2024-01-01T00:00:00Z", OutputFiles: 3, DeletedFiles: 1, ErrorFiles: 2, Manifests: 1},
			`{"totalDeletedFileCount":1,"totalErrorFileCount":2,"totalManifests":1,"totalOutputFileCount":3,"transactionTime":"2024-01-01T00:00:00Z"}`},
		{core.Event{Kind: core.EventDownloadRequest, FileURL: "u", FileKind: core.KindOutput, ResourceType: "Patient", Attempt: 1, Offset: 10},
			`{"attempt":1,"fileUrl":"u","itemType":"output","offset":10,"resourceType":"Patient"}`},
		{core.Event{Kind: core.EventDownloadComplete, FileURL: "u", FileKind: core.KindError, Lines: 4, Bytes: 40, Verified: true, Severities: map[string]int64{"error": 4}},
			`{"blankLines":0,"bytes":40,"fileUrl":"u","itemType":"error","problems":0,"resourceCount":4,"resourceType":"","severities":{"error":4},"verified":true}`},
		{core.Event{Kind: core.EventExportComplete, Files: 2, Resources: 7, Bytes: 70, Duration: 2 * time.Second, FilesNotVerified: 1},
			`{"attachments":null,"bytes":70,"duration":2000,"files":2,"filesNotVerified":1,"resources":7}`},
		{core.Event{Kind: core.EventKickoff, KickoffURL: "k", Request: &core.ExportRequest{Level: core.LevelSystem}, Code: 401, Body: "no", Message: "kick-off k: HTTP 401: no"},
			`{"errorBody":"no","errorCode":401,"exportUrl":"k","fhirVersion":"","requestParameters":{"level":"system"},"responseHeaders":null,"softwareName":"","softwareReleaseDate":"","softwareVersion":""}`},
	} {
		tt.ev.StatusURL, tt.ev.Time = "s", at
		item := core.NewLogItem(tt.ev)
		got, err := json.Marshal(item.EventDetail)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tt.want, string(got)); diff != "" || item.EventID != string(tt.ev.Kind) || item.ExportID != "s" || item.Timestamp != "2024-01-02T03:04:05Z" {
			t.Errorf("NewLogItem(%s) = %s %s %s %s; want %s (-want +got):\n%s", tt.ev.Kind, item.ExportID, item.Timestamp, item.EventID, got, tt.want, diff)
		}
	}
}
