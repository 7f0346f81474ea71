package sink

import (
	"encoding/json"
	"os"
	"strings"

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
		Problem: rec.Problem, JSON: string(rec.Raw),
	})
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

// tableSpool is one Parquet file being written to a temporary file.
type tableSpool struct {
	typ  string
	file *os.File
	w    *parquet.GenericWriter[Row]
	rows int64
	buf  []Row
}

func newTableSpool(dir, typ string) (*tableSpool, error) {
	f, err := os.CreateTemp(dir, "tranche-sink-*.parquet")
	if err != nil {
		return nil, err
	}
	w := parquet.NewGenericWriter[Row](f, parquet.Compression(&parquet.Snappy),
		parquet.CreatedBy("tranche", "", ""))
	return &tableSpool{typ: typ, file: f, w: w}, nil
}

// write adds rows and flushes them as a row group, so memory holds one
// batch, not the whole segment.
func (t *tableSpool) write(rs []Row) error {
	if len(rs) == 0 {
		return nil
	}
	if _, err := t.w.Write(rs); err != nil {
		return err
	}
	t.rows += int64(len(rs))
	return t.w.Flush()
}

func (t *tableSpool) discard() {
	t.file.Close()
	os.Remove(t.file.Name())
}

// add buffers one row; flush writes the buffered rows as a row group.
func (t *tableSpool) add(r Row) error {
	t.buf = append(t.buf, r)
	return nil
}

func (t *tableSpool) flush() error {
	err := t.write(t.buf)
	clear(t.buf)
	t.buf = t.buf[:0]
	return err
}
