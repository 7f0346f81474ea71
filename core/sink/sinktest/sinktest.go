// Package sinktest checks what a sink wrote, reading it back with code
// independent of the writer: gzip for raw files, parquet-go's generic
// reader over each file's own schema for the tables.
package sinktest

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"strconv"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"
	"github.com/parquet-go/parquet-go"

	"tranche.dev/tranche/core"
	"tranche.dev/tranche/core/sink"
)

// listKeys lists every object under prefix.
func ListKeys(tb testing.TB, c *minio.Core, bucket, prefix string) []string {
	tb.Helper()
	var keys []string
	for o := range c.Client.ListObjects(tb.Context(), bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
		if o.Err != nil {
			tb.Fatalf("list %s: %v", prefix, o.Err)
		}
		keys = append(keys, o.Key)
	}
	return keys
}

func GetObject(tb testing.TB, c *minio.Core, bucket, key string) []byte {
	tb.Helper()
	rc, _, _, err := c.GetObject(tb.Context(), bucket, key, minio.GetObjectOptions{})
	if err != nil {
		tb.Fatalf("get %s: %v", key, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		tb.Fatalf("get %s: %v", key, err)
	}
	return b
}

// GetRaw returns a raw file object's lines as served: the object read
// and gunzipped (its concatenated gzip members as one stream).
func GetRaw(tb testing.TB, c *minio.Core, bucket, key string) []byte {
	tb.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(GetObject(tb, c, bucket, key)))
	if err != nil {
		tb.Fatalf("raw %s: %v", key, err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		tb.Fatalf("raw %s: %v", key, err)
	}
	return b
}

// readParquet reads a Parquet object with parquet-go's generic reader over
// the file's own schema (not the writer's Row type): it returns the rows
// as maps of column name to value.
func ReadParquet(tb testing.TB, b []byte) []map[string]any {
	tb.Helper()
	var out []map[string]any
	EachParquetRow(tb, b, func(m map[string]any) { out = append(out, m) })
	return out
}

// EachParquetRow calls fn with each row of a Parquet object, read as
// ReadParquet does, one at a time, and returns how many there were.
func EachParquetRow(tb testing.TB, b []byte, fn func(map[string]any)) int64 {
	tb.Helper()
	pf, err := parquet.OpenFile(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		tb.Fatalf("open parquet: %v", err)
	}
	r := parquet.NewReader(pf)
	defer r.Close()
	var n int64
	for {
		m := map[string]any{}
		if err := r.Read(&m); err == io.EOF {
			break
		} else if err != nil {
			tb.Fatalf("read parquet: %v", err)
		}
		n++
		fn(m)
	}
	if n != pf.NumRows() {
		tb.Fatalf("read %d rows, footer says %d", n, pf.NumRows())
	}
	return n
}

// Check compares the bucket with the catalogue's files of export id: the
// completion manifest lists every file and table; every raw object has
// the file's lines; every Parquet file, read back, has the rows the
// manifest counts, per type equal to the server's manifest, with no
// resource twice.
func Check(tb testing.TB, c *minio.Core, bucket, prefix string, exportID int64, files []*core.ExportFile) sink.Completion {
	tb.Helper()
	var comp sink.Completion
	key := prefix + "/exports/export=" + itoa(exportID) + ".json"
	if err := json.Unmarshal(GetObject(tb, c, bucket, key), &comp); err != nil {
		tb.Fatalf("completion manifest %s: %v", key, err)
	}
	if got, want := len(comp.Files), len(files); got != want {
		tb.Errorf("completion lists %d files, want %d", got, want)
	}
	wantRows := map[string]int64{}
	for _, f := range files {
		if f.State != core.FileLoaded {
			tb.Errorf("file %s: state %s (%s), want loaded", f.URL, f.State, f.Error)
		}
		if f.Kind == core.KindOutput {
			wantRows[f.Type] += f.Count
		}
	}
	for _, f := range comp.Files {
		b := GetRaw(tb, c, bucket, f.Raw)
		if got := int64(bytes.Count(b, []byte{'\n'})); got != f.Lines {
			tb.Errorf("raw %s has %d lines, want %d", f.Raw, got, f.Lines)
		}
	}
	gotRows := map[string]int64{}
	seen := map[string]string{} // type/id -> table key, to catch duplicates
	for _, t := range comp.Tables {
		n := EachParquetRow(tb, GetObject(tb, c, bucket, t.Key), func(r map[string]any) {
			typ, _ := r["resource_type"].(string)
			id, _ := r["id"].(string)
			if del, _ := r["deleted"].(bool); del {
				return
			}
			gotRows[typ]++
			var res struct{ ResourceType, ID string }
			if err := json.Unmarshal([]byte(r["json"].(string)), &res); err != nil || res.ResourceType != typ || res.ID != id {
				tb.Errorf("%s: row %s/%s has json for %s/%s (%v)", t.Key, typ, id, res.ResourceType, res.ID, err)
			}
			if prev, dup := seen[typ+"/"+id]; dup {
				tb.Errorf("%s/%s twice: in %s and %s", typ, id, prev, t.Key)
			}
			seen[typ+"/"+id] = t.Key
			if !strings.Contains(t.Key, "/type="+typ+"/export="+itoa(exportID)+"/") {
				tb.Errorf("%s holds a %s row", t.Key, typ)
			}
		})
		if n != t.Rows {
			tb.Errorf("%s: %d rows, manifest says %d", t.Key, n, t.Rows)
		}
	}
	for typ, n := range wantRows {
		if gotRows[typ] != n {
			tb.Errorf("parquet %s: %d rows, want %d (server manifest)", typ, gotRows[typ], n)
		}
		if comp.Rows[typ] != n {
			tb.Errorf("completion rows_by_type[%s] = %d, want %d", typ, comp.Rows[typ], n)
		}
	}
	for _, v := range comp.Views {
		if n := EachParquetRow(tb, GetObject(tb, c, bucket, v.Key), func(map[string]any) {}); n != v.Rows {
			tb.Errorf("%s: %d rows, manifest says %d", v.Key, n, v.Rows)
		}
	}
	if len(gotRows) != len(wantRows) {
		tb.Errorf("parquet types %v, want %v", gotRows, wantRows)
	}
	return comp
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
