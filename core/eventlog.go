package core

import (
	"encoding/json"
	"time"
)

// LogItem is one log.ndjson line.
type LogItem struct {
	ExportID    string         `json:"exportId"`
	Timestamp   string         `json:"timestamp"`
	EventID     string         `json:"eventId"`
	EventDetail map[string]any `json:"eventDetail"`
}

// NewLogItem maps ev to its log.ndjson line: the one place that knows the
// bulk-data-client's eventDetail layout of each event kind (bulk.LogWriter
// writes it; the desktop app's event log shows it).
func NewLogItem(ev Event) LogItem {
	return LogItem{
		ExportID:    ev.StatusURL,
		Timestamp:   ev.Time.UTC().Format(time.RFC3339Nano),
		EventID:     string(ev.Kind),
		EventDetail: eventDetail(ev),
	}
}

func eventDetail(ev Event) map[string]any {
	failure := func(d map[string]any) map[string]any {
		if ev.Code != 0 {
			d["code"], d["body"], d["responseHeaders"] = ev.Code, ev.Body, ev.Headers
		}
		return d
	}
	switch ev.Kind {
	case EventKickoff:
		params, _ := json.Marshal(ev.Request)
		d := map[string]any{
			"exportUrl": ev.KickoffURL, "errorCode": nil, "errorBody": nil,
			"softwareName": ev.Server.Name, "softwareVersion": ev.Server.Version,
			"softwareReleaseDate": ev.Server.ReleaseDate, "fhirVersion": ev.Server.FHIRVersion,
			"requestParameters": json.RawMessage(params),
		}
		switch {
		case ev.Code != 0:
			d["errorCode"], d["errorBody"], d["responseHeaders"] = ev.Code, ev.Body, ev.Headers
		case ev.Message != "":
			d["errorBody"] = ev.Message
		}
		return d
	case EventStatusProgress:
		return map[string]any{"xProgress": ev.Progress, "retryAfter": ev.RetryAfter.Milliseconds()}
	case EventStatusComplete:
		return map[string]any{
			"transactionTime": ev.TransactionTime, "outputFileCount": ev.OutputFiles,
			"deletedFileCount": ev.DeletedFiles, "errorFileCount": ev.ErrorFiles,
		}
	case EventStatusError:
		return failure(map[string]any{"message": ev.Message, "transient": ev.Transient, "attempt": ev.Attempt})
	case EventManifestComplete:
		return map[string]any{
			"transactionTime": ev.TransactionTime, "totalOutputFileCount": ev.OutputFiles,
			"totalDeletedFileCount": ev.DeletedFiles, "totalErrorFileCount": ev.ErrorFiles, "totalManifests": ev.Manifests,
		}
	case EventDownloadRequest:
		return map[string]any{
			"fileUrl": ev.FileURL, "itemType": string(ev.FileKind), "resourceType": ev.ResourceType,
			"attempt": ev.Attempt, "offset": ev.Offset,
		}
	case EventDownloadProgress:
		return map[string]any{
			"fileUrl": ev.FileURL, "resources": ev.Lines, "bytes": ev.Bytes, "batch": ev.BatchLines, "batchBytes": ev.BatchBytes,
		}
	case EventDownloadComplete:
		d := map[string]any{
			"fileUrl": ev.FileURL, "itemType": string(ev.FileKind), "resourceType": ev.ResourceType,
			"resourceCount": ev.Lines, "bytes": ev.Bytes, "problems": ev.Problems, "blankLines": ev.BlankLines,
			"verified": ev.Verified,
		}
		if ev.FileError != "" {
			d["error"] = ev.FileError
		}
		if len(ev.Severities) > 0 {
			d["severities"] = ev.Severities
		}
		return d
	case EventDownloadError:
		return failure(map[string]any{"fileUrl": ev.FileURL, "message": ev.Message, "resources": ev.Lines, "transient": ev.Transient})
	case EventExportComplete:
		return map[string]any{
			"files": ev.Files, "resources": ev.Resources, "bytes": ev.Bytes, "attachments": nil,
			"duration": ev.Duration.Milliseconds(), "filesNotVerified": ev.FilesNotVerified,
		}
	}
	return map[string]any{}
}
