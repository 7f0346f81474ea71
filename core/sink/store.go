package sink

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/minio/minio-go/v7"
	"golang.org/x/sync/errgroup"

	"tranche.dev/tranche/core"
	"tranche.dev/tranche/core/views"
)

// Segment sizes. S3 parts other than the last must be at least 5 MiB
// (Amazon S3 API Reference, UploadPart), so a raw file's segments are too.
const (
	MinPartSize     = 5 << 20
	MaxPartSize     = 5 << 30
	DefaultPartSize = 16 << 20
)

// Requests a segment's landing sends at once: its raw part and its
// Parquet objects, one per resource type and view.
const (
	DefaultUploads = 4
	MaxUploads     = 64
)

// MemoryLimit is the soft memory limit (runtime/debug.SetMemoryLimit) a
// process running a sink export sets unless GOMEMLIMIT is given, as a
// margin: the export's memory is bounded by construction. Per file being
// downloaded (bulk.DefaultMaxParallel of them): the runner's batch arena,
// a gzip writer (about 1 MB at BestSpeed), and per resource type and view
// in the segment one Parquet row group (RowGroupBytes of values, plus its
// encoded pages); per segment landing, Uploads requests that stream their
// spooled parts and Parquet files (the part size is on disk, not in
// memory). At 1,000 patients (273 MB of NDJSON) the live heap peaks at
// 33-35 MB, and the peak RSS is 97-98 MB with no limit at all (it was
// 105-106 MB when a row group was a whole batch of copied rows).
const MemoryLimit = 80 << 20

// Store is a core.ExportStore that lands every export file in the bucket: the
// raw file as one gzip object (a multipart upload whose parts are whole
// gzip members, one per segment of lines), the segment's rows as Parquet,
// and a small state object per file. Inner (the catalogue) records the
// file's progress only up to the last segment that is in the bucket, so
// the runner resumes exactly there after a crash and every object name
// repeats: re-uploads overwrite, nothing is doubled or missing.
type Store struct {
	Inner  core.ExportStore
	Client *minio.Core
	Target Target
	// KeepLocal also stores the records in Inner; otherwise Inner keeps
	// only exports and files, a few rows per file whatever their size.
	KeepLocal bool
	// PartSize is the compressed raw bytes per segment; 0 =
	// DefaultPartSize. S3 refuses parts under MinPartSize but the last;
	// a smaller size is for servers that take them (tests).
	PartSize int64
	// Uploads is how many requests a segment's landing sends at once (its
	// raw part, its Parquet objects); 0 = DefaultUploads.
	Uploads int
	TempDir string // spool files; "" = os.TempDir()
	// Views are SQL on FHIR views written as Parquet tables beside the
	// resources, from the output lines of their resource type. Each needs
	// a name that passes ValidViewName.
	Views  []*views.View
	Logger *slog.Logger
	Now    func() time.Time

	mu    sync.Mutex
	files map[int64]*fileSink
}

var (
	_ core.ExportStore  = (*Store)(nil)
	_ core.FileResetter = (*Store)(nil)
)

func (s *Store) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default().With("system", "sink")
}

func (s *Store) uploads() int {
	if s.Uploads <= 0 {
		return DefaultUploads
	}
	return min(s.Uploads, MaxUploads)
}

func (s *Store) partSize() int64 {
	if s.PartSize <= 0 {
		return DefaultPartSize
	}
	return s.PartSize
}

// fileState is what the bucket holds of one export file, kept next to it
// as _tranche/state/export=N/file-F.json and written after each segment.
type fileState struct {
	Layout   int            `json:"layout"`
	ExportID int64          `json:"export_id"`
	FileID   int64          `json:"file_id"`
	Kind     core.FileKind  `json:"kind"`
	Type     string         `json:"type"`
	URL      string         `json:"url"`
	RawKey   string         `json:"raw_key"`
	UploadID string         `json:"upload_id,omitempty"`
	Parts    []rawPart      `json:"parts,omitempty"`
	Lines    int64          `json:"lines"`
	Bytes    int64          `json:"bytes"`
	Problems int64          `json:"problems"`
	State    core.FileState `json:"state"`
	Error    string         `json:"error,omitempty"`
	Done     bool           `json:"done"`
	Tables   []tableObject  `json:"tables,omitempty"`
}

type rawPart struct {
	Number int    `json:"n"`
	ETag   string `json:"etag"`
	Size   int64  `json:"size"`
	Last   int64  `json:"last_line"`
}

type tableObject struct {
	Key  string `json:"key"`
	Type string `json:"type,omitempty"`
	View string `json:"view,omitempty"`
	Rows int64  `json:"rows"`
}

type fileSink struct {
	mu     sync.Mutex
	loaded bool
	st     fileState
	seg    *segment
}

// segment is the open run of lines since the last landed one.
type segment struct {
	first  int64 // first line
	last   int64
	raw    *os.File
	gz     *gzip.Writer
	size   countWriter
	tables map[string]*tableSpool
	views  map[int]*viewTable // by index in Store.Views
	rowBuf []Row
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

func (g *segment) discard() {
	if g == nil {
		return
	}
	g.raw.Close()
	os.Remove(g.raw.Name())
	for _, t := range g.tables {
		t.discard()
	}
	for _, t := range g.views {
		t.discard()
	}
}

func (s *Store) file(id int64) *fileSink {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.files == nil {
		s.files = map[int64]*fileSink{}
	}
	fs := s.files[id]
	if fs == nil {
		fs = &fileSink{}
		s.files[id] = fs
	}
	return fs
}

// load reads the file's state from the bucket the first time it is used.
func (s *Store) load(ctx context.Context, fs *fileSink, exportID int64, f *core.ExportFile) error {
	if fs.loaded {
		return nil
	}
	st, err := s.readState(ctx, exportID, f.ID)
	switch {
	case err == nil:
		fs.st = *st
	case errors.Is(err, core.ErrNotFound):
		fs.st = fileState{Layout: LayoutVersion, ExportID: exportID, FileID: f.ID, Kind: f.Kind, Type: f.Type,
			URL: f.URL, RawKey: s.Target.rawKey(exportID, f), State: core.FilePending}
	default:
		return err
	}
	fs.loaded = true
	return nil
}

func (s *Store) readState(ctx context.Context, exportID, fileID int64) (*fileState, error) {
	b, err := s.get(ctx, s.Target.stateKey(exportID, fileID))
	if err != nil {
		return nil, err
	}
	var st fileState
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("state of file %d: %w", fileID, err)
	}
	return &st, nil
}

// get reads a small object; core.ErrNotFound when there is none.
func (s *Store) get(ctx context.Context, key string) ([]byte, error) {
	rc, _, _, err := s.Client.GetObject(ctx, s.Target.Bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return nil, notFound(fmt.Errorf("get %s: %w", key, err))
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, 64<<20))
	if err != nil {
		return nil, notFound(fmt.Errorf("get %s: %w", key, err))
	}
	return b, nil
}

func notFound(err error) error {
	var er minio.ErrorResponse
	if errors.As(err, &er) && er.Code == minio.NoSuchKey {
		return fmt.Errorf("%w: %w", core.ErrNotFound, err)
	}
	return err
}

func (s *Store) putBytes(ctx context.Context, key string, b []byte, contentType string) error {
	_, err := s.Client.PutObject(ctx, s.Target.Bucket, key, bytes.NewReader(b), int64(len(b)), "", "",
		minio.PutObjectOptions{ContentType: contentType})
	if err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	return nil
}

func (s *Store) writeState(ctx context.Context, st *fileState) error {
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	return s.putBytes(ctx, s.Target.stateKey(st.ExportID, st.FileID), b, "application/json")
}

// committed is f with the progress the bucket holds: what Inner may record.
func (fs *fileSink) committed(f *core.ExportFile) *core.ExportFile {
	c := *f
	c.Lines, c.Bytes, c.Problems = fs.st.Lines, fs.st.Bytes, fs.st.Problems
	if fs.st.Done {
		c.State, c.Error = fs.st.State, fs.st.Error
	} else if c.State == core.FileLoaded || c.State == core.FileInvalid {
		c.State = core.FileDownloading
	}
	return &c
}

// AppendRecords writes recs into the file's open segment and lands the
// segment when it is big enough or the file is done (f.State Loaded or
// Invalid); then Inner records the landed progress.
func (s *Store) AppendRecords(ctx context.Context, f *core.ExportFile, recs []core.Record) error {
	fs := s.file(f.ID)
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if err := s.load(ctx, fs, f.ExportID, f); err != nil {
		return err
	}
	if !fs.st.Done {
		if err := s.write(fs, f, recs); err != nil {
			fs.seg.discard()
			fs.seg = nil
			return fmt.Errorf("sink file %d: %w", f.ID, err)
		}
		final := f.State == core.FileLoaded || f.State == core.FileInvalid
		if final || (fs.seg != nil && fs.seg.size.n >= s.partSize()) {
			if err := s.land(ctx, fs, f, final); err != nil {
				return fmt.Errorf("sink file %d: %w", f.ID, err)
			}
		}
	}
	var keep []core.Record
	if s.KeepLocal {
		keep = recs
	}
	return s.Inner.AppendRecords(ctx, fs.committed(f), keep)
}

// ResetFile forgets what the bucket holds of f, so that it can be downloaded
// again from its first line (the runner does this for a file corrupted in
// transit): the open segment, an unfinished multipart upload and the
// segments' tables are dropped, the state starts again, and then Inner
// forgets its progress. Object names repeat, so the next landing of the
// first segment overwrites rather than doubles.
func (s *Store) ResetFile(ctx context.Context, f *core.ExportFile) error {
	fs := s.file(f.ID)
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if err := s.load(ctx, fs, f.ExportID, f); err != nil {
		return err
	}
	fs.seg.discard()
	fs.seg = nil
	st := fs.st
	if st.UploadID != "" {
		err := s.Client.AbortMultipartUpload(ctx, s.Target.Bucket, st.RawKey, st.UploadID)
		var er minio.ErrorResponse
		if err != nil && (!errors.As(err, &er) || er.Code != minio.NoSuchUpload) {
			return fmt.Errorf("abort upload %s: %w", st.RawKey, err)
		}
	}
	for _, t := range st.Tables {
		if err := s.Client.RemoveObject(ctx, s.Target.Bucket, t.Key, minio.RemoveObjectOptions{}); err != nil {
			return fmt.Errorf("remove %s: %w", t.Key, err)
		}
	}
	fresh := fileState{Layout: LayoutVersion, ExportID: st.ExportID, FileID: st.FileID, Kind: st.Kind, Type: st.Type,
		URL: st.URL, RawKey: st.RawKey, State: core.FilePending}
	if err := s.writeState(ctx, &fresh); err != nil {
		return err
	}
	fs.st = fresh
	r, ok := s.Inner.(core.FileResetter)
	if !ok {
		return fmt.Errorf("sink file %d: the local store cannot forget a file's lines", f.ID)
	}
	return r.ResetFile(ctx, f)
}

// write adds the records not yet in the bucket or the open segment.
func (s *Store) write(fs *fileSink, f *core.ExportFile, recs []core.Record) error {
	for i := range recs {
		rec := &recs[i]
		if rec.Line <= fs.st.Lines || (fs.seg != nil && rec.Line <= fs.seg.last) {
			continue // landed before a crash, replayed by the runner
		}
		if fs.seg == nil {
			g, err := s.openSegment(rec.Line)
			if err != nil {
				return err
			}
			fs.seg = g
		}
		g := fs.seg
		if _, err := g.gz.Write(rec.Raw); err != nil {
			return err
		}
		if _, err := g.gz.Write([]byte{'\n'}); err != nil {
			return err
		}
		g.last = rec.Line
		g.rowBuf = rows(g.rowBuf[:0], fs.st.ExportID, f, rec)
		for _, r := range g.rowBuf {
			typ := partitionValue(r.ResourceType)
			t := g.tables[typ]
			if t == nil {
				var err error
				if t, err = newTableSpool(s.TempDir, typ); err != nil {
					return err
				}
				g.tables[typ] = t
			}
			if err := t.add(r); err != nil {
				return err
			}
		}
		if f.Kind == core.KindOutput && rec.Problem == "" {
			if err := s.addViews(g, rec); err != nil {
				return err
			}
		}
	}
	if fs.seg != nil {
		// Rows borrow the batch's bytes (borrowString): every one goes to
		// its writer, which copies it, before the batch is given back.
		clear(fs.seg.rowBuf)
		for _, t := range fs.seg.tables {
			if err := t.flush(); err != nil {
				return err
			}
		}
		for _, t := range fs.seg.views {
			if err := t.flush(); err != nil {
				return err
			}
		}
	}
	return nil
}

// addViews adds a resource's rows to the views of its type. A resource a
// view cannot turn into rows is left out of that view, with a warning:
// the resource itself is in the resources table.
func (s *Store) addViews(g *segment, rec *core.Record) error {
	for i, v := range s.Views {
		if v.Resource() != rec.ResourceType {
			continue
		}
		t := g.views[i]
		if t == nil {
			var err error
			if t, err = newViewTable(s.TempDir, v); err != nil {
				return err
			}
			g.views[i] = t
		}
		if err := t.add(rec.Raw); err != nil {
			s.logger().Warn("view skips a resource", "view", v.Name(), "resource", rec.ResourceType+"/"+rec.ID, "err", err)
		}
		if err := t.spill(); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) openSegment(first int64) (*segment, error) {
	raw, err := os.CreateTemp(s.TempDir, "tranche-sink-*.ndjson.gz")
	if err != nil {
		return nil, err
	}
	g := &segment{first: first, raw: raw, tables: map[string]*tableSpool{}, views: map[int]*viewTable{}}
	g.size.w = raw
	g.gz, _ = gzip.NewWriterLevel(&g.size, gzip.BestSpeed)
	return g, nil
}

// land uploads the open segment (an empty one when the file ends on a
// segment boundary): the raw part and the Parquet files in parallel, then
// the file's state. final completes the raw object.
func (s *Store) land(ctx context.Context, fs *fileSink, f *core.ExportFile, final bool) error {
	if fs.seg == nil {
		g, err := s.openSegment(fs.st.Lines + 1)
		if err != nil {
			return err
		}
		fs.seg = g
	}
	g := fs.seg
	defer func() {
		g.discard()
		fs.seg = nil
	}()
	if err := g.gz.Close(); err != nil {
		return err
	}
	st := &fs.st
	size := g.size.n
	single := final && len(st.Parts) == 0
	if !single && st.UploadID == "" {
		id, err := s.Client.NewMultipartUpload(ctx, s.Target.Bucket, st.RawKey,
			minio.PutObjectOptions{ContentType: "application/gzip"})
		if err != nil {
			return fmt.Errorf("start upload %s: %w", st.RawKey, err)
		}
		st.UploadID = id
		// Recorded before any part is sent, so a resume finds it and no
		// upload is left behind unreferenced.
		if err := s.writeState(ctx, st); err != nil {
			s.Client.AbortMultipartUpload(context.WithoutCancel(ctx), s.Target.Bucket, st.RawKey, id)
			return err
		}
	}
	var part rawPart
	var tables []tableObject
	var eg errgroup.Group
	eg.SetLimit(s.uploads())
	eg.Go(func() error {
		if single {
			_, err := s.Client.PutObject(ctx, s.Target.Bucket, st.RawKey, io.NewSectionReader(g.raw, 0, size), size, "", "",
				minio.PutObjectOptions{ContentType: "application/gzip"})
			if err != nil {
				return fmt.Errorf("put %s: %w", st.RawKey, err)
			}
			return nil
		}
		n := len(st.Parts) + 1
		p, err := s.Client.PutObjectPart(ctx, s.Target.Bucket, st.RawKey, st.UploadID, n,
			io.NewSectionReader(g.raw, 0, size), size, minio.PutObjectPartOptions{})
		if err != nil {
			return fmt.Errorf("upload part %d of %s: %w", n, st.RawKey, err)
		}
		part = rawPart{Number: n, ETag: p.ETag, Size: size, Last: g.last}
		return nil
	})
	types := make([]string, 0, len(g.tables))
	for typ := range g.tables {
		types = append(types, typ)
	}
	sort.Strings(types)
	tables = make([]tableObject, len(types))
	for i, typ := range types {
		t := g.tables[typ]
		key := s.Target.tableKey(st.ExportID, typ, st.FileID, g.first)
		tables[i] = tableObject{Key: key, Type: typ, Rows: t.rows}
		eg.Go(func() error {
			if err := t.w.Close(); err != nil {
				return fmt.Errorf("parquet %s: %w", key, err)
			}
			return s.putFile(ctx, key, t.file)
		})
	}
	for i, v := range s.Views {
		t := g.views[i]
		if t == nil || t.rows == 0 {
			continue
		}
		key := s.Target.viewKey(v.Name(), st.ExportID, st.FileID, g.first)
		tables = append(tables, tableObject{Key: key, View: v.Name(), Rows: t.rows})
		eg.Go(func() error {
			if err := t.w.Close(); err != nil {
				return fmt.Errorf("parquet %s: %w", key, err)
			}
			return s.putFile(ctx, key, t.file)
		})
	}
	if err := eg.Wait(); err != nil {
		return err
	}
	next := *st
	if !single {
		next.Parts = append(append([]rawPart(nil), st.Parts...), part)
	}
	next.Tables = append(append([]tableObject(nil), st.Tables...), tables...)
	next.Lines, next.Bytes, next.Problems = f.Lines, f.Bytes, f.Problems
	next.State = f.State
	if final {
		if !single {
			parts := make([]minio.CompletePart, len(next.Parts))
			for i, p := range next.Parts {
				parts[i] = minio.CompletePart{PartNumber: p.Number, ETag: p.ETag}
			}
			if _, err := s.Client.CompleteMultipartUpload(ctx, s.Target.Bucket, st.RawKey, st.UploadID, parts,
				minio.PutObjectOptions{ContentType: "application/gzip"}); err != nil {
				return fmt.Errorf("complete upload %s: %w", st.RawKey, err)
			}
			next.UploadID = ""
		}
		next.Done, next.Error = true, f.Error
	}
	if err := s.writeState(ctx, &next); err != nil {
		return err
	}
	*st = next
	return nil
}

// putFile uploads a spooled Parquet file.
func (s *Store) putFile(ctx context.Context, key string, f *os.File) error {
	n, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return err
	}
	_, err = s.Client.PutObject(ctx, s.Target.Bucket, key, io.NewSectionReader(f, 0, n), n, "", "",
		minio.PutObjectOptions{ContentType: "application/vnd.apache.parquet"})
	if err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	return nil
}

// UpdateFile records a file's failure or progress in Inner with only the
// landed progress; an open segment is dropped and is downloaded again.
func (s *Store) UpdateFile(ctx context.Context, f *core.ExportFile) error {
	fs := s.file(f.ID)
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if !fs.loaded {
		return s.Inner.UpdateFile(ctx, f)
	}
	fs.seg.discard()
	fs.seg = nil
	return s.Inner.UpdateFile(ctx, fs.committed(f))
}

// UpdateExport stores the server's manifest when it is recorded, and the
// completion manifest and the latest pointer, in that order, before Inner
// records the export complete.
func (s *Store) UpdateExport(ctx context.Context, e *core.Export) error {
	if e.State == core.StateDownloading && len(e.Manifest) > 0 {
		if err := s.putBytes(ctx, s.Target.manifestKey(e.ID), e.Manifest, "application/json"); err != nil {
			return fmt.Errorf("sink manifest: %w", err)
		}
	}
	if e.State == core.StateComplete {
		if err := s.complete(ctx, e); err != nil {
			return fmt.Errorf("sink completion: %w", err)
		}
	}
	return s.Inner.UpdateExport(ctx, e)
}

// The rest of core.ExportStore goes to Inner unchanged.

func (s *Store) CreateExport(ctx context.Context, e *core.Export) error {
	return s.Inner.CreateExport(ctx, e)
}
func (s *Store) FindExport(ctx context.Context, id int64) (*core.Export, error) {
	return s.Inner.FindExport(ctx, id)
}
func (s *Store) FindExportByStatusURL(ctx context.Context, u string) (*core.Export, error) {
	return s.Inner.FindExportByStatusURL(ctx, u)
}
func (s *Store) UnfinishedExports(ctx context.Context) ([]*core.Export, error) {
	return s.Inner.UnfinishedExports(ctx)
}
func (s *Store) LastTransactionTime(ctx context.Context, e *core.Export) (string, error) {
	return s.Inner.LastTransactionTime(ctx, e)
}
func (s *Store) AddFiles(ctx context.Context, exportID int64, files []*core.ExportFile) error {
	return s.Inner.AddFiles(ctx, exportID, files)
}
func (s *Store) FindFiles(ctx context.Context, exportID int64) ([]*core.ExportFile, error) {
	return s.Inner.FindFiles(ctx, exportID)
}
