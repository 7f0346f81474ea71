package sink

import (
	"encoding/json"
	"os"
	"strings"
	"unsafe"

	"github.com/parquet-go/parquet-go"

	"tranche.dev/tranche/core"
)

// Row is one line of the resources table: the key columns and the
// resource's exact JSON. A deletion (Bulk Data Access IG v2, Deleted
// Resources: a Bundle of DELETE entries) is one row per entry with
// Deleted set and no JSON. ResourceType and ExportID repeat the partition
// values so a file read on its own still says what it holds.
type Row struct {
	ResourceType string `parquet:"resource_type"`
	ID           string `parquet:"id"`
	LastUpdated  string `parquet:"last_updated"`
	VersionID    string `parquet:"version_id"`
	Patient      string `parquet:"patient"`
	ExportID     int64  `parquet:"export_id"`
	SourceFile   string `parquet:"source_file"`
	Line         int64  `parquet:"line"`
	Deleted      bool   `parquet:"deleted"`
	Problem      string `parquet:"problem"`
	JSON         string `parquet:"json"`
}

// rows turns one record into its table rows, appended to dst.
func rows(dst []Row, exportID int64, f *core.ExportFile, rec *core.Record) []Row {
	switch f.Kind {
	case core.KindDeleted:
		for _, ref := range rec.Deletes {
			typ, id, _ := strings.Cut(ref, "/")
			dst = append(dst, Row{
				ResourceType: typ, ID: id, LastUpdated: rec.LastUpdated, ExportID: exportID,
				SourceFile: f.URL, Line: rec.Line, Deleted: true,
			})
		}
		return dst
	case core.KindError:
		return dst // error files are kept raw only
	}
	typ := rec.ResourceType
	if typ == "" {
		typ = f.Type
	}
	return append(dst, Row{
		ResourceType: typ, ID: rec.ID, LastUpdated: rec.LastUpdated, VersionID: versionID(rec.Raw),
		Patient: rec.Patient, ExportID: exportID, SourceFile: f.URL, Line: rec.Line,
		Problem: rec.Problem, JSON: borrowString(rec.Raw),
	})
}

// borrowString is b as a string without a copy. The runner's batch (Raw)
// does not change during AppendRecords, and Store.write hands every row
// to the Parquet writer, which copies it, before AppendRecords returns: a
// copy per line was a fifth of the sink's live heap.
func borrowString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// versionID reads meta.versionId (FHIR R4, Resource: Meta.versionId) of a
// valid resource line; "" when absent or unreadable.
func versionID(raw []byte) string {
	var v struct {
		Meta struct {
			VersionID string `json:"versionId"`
		} `json:"meta"`
	}
	if json.Unmarshal(raw, &v) != nil {
		return ""
	}
	return v.Meta.VersionID
}

// RowGroupBytes is the size of one Parquet row group's values: the writer
// holds one row group's column buffers and encoded pages, so its memory is
// this, whatever the size of the runner's batches or of a segment.
// Engines read row groups of a megabyte or more in one request.
const RowGroupBytes = 1 << 20

// rowChunk is how many rows a table buffers before it hands them to the
// Parquet writer, which copies them into its column buffers.
const rowChunk = 64

// tableSpool is one Parquet file being written to a temporary file.
type tableSpool struct {
	typ  string
	file *os.File
	w    *parquet.GenericWriter[Row]
	rowGroups[Row]
}

// rowGroups buffers the rows of one Parquet writer (a resources table or
// a view's): it hands them to write a chunk of at most rowChunk at a time,
// and ends the open row group (end) once it holds RowGroupBytes.
type rowGroups[T any] struct {
	write func([]T) (int, error)
	end   func() error
	buf   []T   // at most rowChunk rows not yet written
	group int   // bytes in the open row group
	rows  int64 // rows written
}

// buffer adds one row of about size bytes; spill writes when it is time.
func (g *rowGroups[T]) buffer(r T, size int) {
	g.buf = append(g.buf, r)
	g.group += size
}

// spill hands a full chunk of rows to the writer and ends the row group
// at RowGroupBytes.
func (g *rowGroups[T]) spill() error {
	if len(g.buf) < rowChunk && g.group < RowGroupBytes {
		return nil
	}
	if err := g.flush(); err != nil {
		return err
	}
	if g.group >= RowGroupBytes {
		g.group = 0
		return g.end()
	}
	return nil
}

// flush hands the buffered rows to the writer, which copies them; the row
// group stays open.
func (g *rowGroups[T]) flush() error {
	if len(g.buf) == 0 {
		return nil
	}
	if _, err := g.write(g.buf); err != nil {
		return err
	}
	g.rows += int64(len(g.buf))
	clear(g.buf)
	g.buf = g.buf[:0]
	return nil
}

// rowSize is about what a row costs in the writer's column buffers: its
// strings and a word per other column (a tombstone has no JSON, and a
// deleted file's rows count too).
func rowSize(r *Row) int {
	return len(r.ResourceType) + len(r.ID) + len(r.LastUpdated) + len(r.VersionID) + len(r.Patient) +
		len(r.SourceFile) + len(r.Problem) + len(r.JSON) + 3*8
}

func newTableSpool(dir, typ string) (*tableSpool, error) {
	f, err := os.CreateTemp(dir, "tranche-sink-*.parquet")
	if err != nil {
		return nil, err
	}
	w := parquet.NewGenericWriter[Row](f, parquet.Compression(&parquet.Snappy),
		parquet.CreatedBy("tranche", "", ""))
	return &tableSpool{typ: typ, file: f, w: w, rowGroups: rowGroups[Row]{write: w.Write, end: w.Flush}}, nil
}

func (t *tableSpool) discard() {
	t.file.Close()
	os.Remove(t.file.Name())
}

// add buffers one row, hands a full chunk to the writer, and ends the row
// group at RowGroupBytes. A row's strings may point into the runner's
// batch (see rows): flush before the batch is given back.
func (t *tableSpool) add(r Row) error {
	t.buffer(r, rowSize(&r))
	return t.spill()
}
