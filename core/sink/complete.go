package sink

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"

	"tranche.dev/tranche/core"
)

// Completion is the manifest of a completed export, written last: a
// reader that finds it finds every object it lists. One JSON line, so
// engines read the exports/ directory as a table.
type Completion struct {
	Layout          int              `json:"layout"`
	ExportID        int64            `json:"export_id"`
	TransactionTime string           `json:"transaction_time"`
	FHIRBaseURL     string           `json:"fhir_base_url"`
	Since           string           `json:"since"`
	CompletedAt     string           `json:"completed_at"`
	Resources       int64            `json:"resources"`
	Rows            map[string]int64 `json:"rows_by_type"`
	Manifest        string           `json:"manifest"`
	Files           []CompletedFile  `json:"files"`
	Tables          []CompletedTable `json:"tables"`
	Views           []CompletedView  `json:"views,omitempty"`
	ViewRows        map[string]int64 `json:"rows_by_view,omitempty"`
}

// CompletedView is one Parquet object of a view.
type CompletedView struct {
	Key  string `json:"key"`
	View string `json:"view"`
	Rows int64  `json:"rows"`
}

// CompletedFile is one file of the server's manifest, as landed.
type CompletedFile struct {
	Kind  core.FileKind  `json:"kind"`
	Type  string         `json:"type"`
	URL   string         `json:"url"`
	Lines int64          `json:"lines"`
	State core.FileState `json:"state"`
	Raw   string         `json:"raw"`
}

// CompletedTable is one Parquet object of the export.
type CompletedTable struct {
	Key  string `json:"key"`
	Type string `json:"type"`
	Rows int64  `json:"rows"`
}

// Latest is the pointer object latest.json: the newest completed export.
type Latest struct {
	ExportID        int64  `json:"export_id"`
	TransactionTime string `json:"transaction_time"`
	Manifest        string `json:"manifest"`
}

func (s *Store) complete(ctx context.Context, e *core.Export) error {
	files, err := s.Inner.FindFiles(ctx, e.ID)
	if err != nil {
		return err
	}
	c := Completion{
		Layout: LayoutVersion, ExportID: e.ID, TransactionTime: e.TransactionTime, FHIRBaseURL: e.FHIRBaseURL,
		Since: e.Request.Since, Rows: map[string]int64{}, Manifest: s.Target.manifestKey(e.ID),
		Files: []CompletedFile{}, Tables: []CompletedTable{},
	}
	if !e.FinishedAt.IsZero() {
		c.CompletedAt = e.FinishedAt.UTC().Format(time.RFC3339Nano)
	}
	for _, f := range files {
		st, err := s.stateOf(ctx, e.ID, f)
		if err != nil {
			return err
		}
		if !st.Done {
			return fmt.Errorf("file %d (%s) is not in the bucket", f.ID, f.URL)
		}
		c.Files = append(c.Files, CompletedFile{Kind: f.Kind, Type: f.Type, URL: f.URL, Lines: st.Lines, State: st.State, Raw: st.RawKey})
		if f.Kind == core.KindOutput {
			c.Resources += st.Lines
		}
		for _, t := range st.Tables {
			if t.View != "" {
				c.Views = append(c.Views, CompletedView{Key: t.Key, View: t.View, Rows: t.Rows})
				if c.ViewRows == nil {
					c.ViewRows = map[string]int64{}
				}
				c.ViewRows[t.View] += t.Rows
				continue
			}
			c.Tables = append(c.Tables, CompletedTable{Key: t.Key, Type: t.Type, Rows: t.Rows})
			c.Rows[t.Type] += t.Rows
		}
	}
	b, err := json.Marshal(c)
	if err != nil {
		return err
	}
	if err := s.putBytes(ctx, s.Target.exportKey(e.ID), append(b, '\n'), "application/json"); err != nil {
		return err
	}
	// The pointer moves forward only: finishing an older export late
	// does not make it the latest.
	if b, err := s.get(ctx, s.Target.latestKey()); err == nil {
		var cur Latest
		if json.Unmarshal(b, &cur) == nil && cur.ExportID > e.ID {
			return nil
		}
	} else if !errors.Is(err, core.ErrNotFound) {
		return err
	}
	lb, _ := json.Marshal(Latest{ExportID: e.ID, TransactionTime: e.TransactionTime, Manifest: s.Target.exportKey(e.ID)})
	return s.putBytes(ctx, s.Target.latestKey(), append(lb, '\n'), "application/json")
}

func (s *Store) stateOf(ctx context.Context, exportID int64, f *core.ExportFile) (*fileState, error) {
	fs := s.file(f.ID)
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if err := s.load(ctx, fs, exportID, f); err != nil {
		return nil, err
	}
	st := fs.st
	return &st, nil
}

// Sweep aborts the multipart uploads under the raw/ prefix that no file's
// state refers to: left by a crash between starting an upload and
// recording it, or by an export that ended. Run it before resuming.
func (s *Store) Sweep(ctx context.Context) (aborted int, err error) {
	live := map[string]bool{}
	byExport := map[int64]bool{}
	prefix := s.Target.key(rawDir) + "/"
	var uploads []minio.ObjectMultipartInfo
	keyMarker, idMarker := "", ""
	for {
		res, err := s.Client.ListMultipartUploads(ctx, s.Target.Bucket, prefix, keyMarker, idMarker, "", 1000)
		if err != nil {
			return 0, fmt.Errorf("list uploads: %w", err)
		}
		uploads = append(uploads, res.Uploads...)
		if !res.IsTruncated {
			break
		}
		keyMarker, idMarker = res.NextKeyMarker, res.NextUploadIDMarker
	}
	for _, u := range uploads {
		id, ok := exportOfKey(strings.TrimPrefix(u.Key, prefix))
		if !ok || byExport[id] {
			continue
		}
		byExport[id] = true
		if err := s.liveUploads(ctx, id, live); err != nil {
			return 0, err
		}
	}
	for _, u := range uploads {
		if live[u.UploadID] {
			continue
		}
		if err := s.Client.AbortMultipartUpload(ctx, s.Target.Bucket, u.Key, u.UploadID); err != nil {
			return aborted, fmt.Errorf("abort upload of %s: %w", u.Key, err)
		}
		aborted++
	}
	return aborted, nil
}

// liveUploads adds the upload ids the states of an unfinished export
// refer to.
func (s *Store) liveUploads(ctx context.Context, exportID int64, live map[string]bool) error {
	e, err := s.Inner.FindExport(ctx, exportID)
	if errors.Is(err, core.ErrNotFound) {
		return nil
	} else if err != nil {
		return err
	}
	if e.State.Final() {
		return nil
	}
	for obj := range s.Client.Client.ListObjects(ctx, s.Target.Bucket, minio.ListObjectsOptions{Prefix: s.Target.stateExportPrefix(exportID), Recursive: true}) {
		if obj.Err != nil {
			return fmt.Errorf("list states: %w", obj.Err)
		}
		b, err := s.get(ctx, obj.Key)
		if err != nil {
			return err
		}
		var st fileState
		if json.Unmarshal(b, &st) == nil && st.UploadID != "" {
			live[st.UploadID] = true
		}
	}
	return nil
}

// exportOfKey reads N from "export=N/..." (a key below raw/).
func exportOfKey(k string) (int64, bool) {
	seg, _, _ := strings.Cut(k, "/")
	v, ok := strings.CutPrefix(seg, "export=")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(v, 10, 64)
	return n, err == nil
}
