package sink

import (
	"bytes"
	"fmt"
	"io"
	"testing"

	"github.com/parquet-go/parquet-go"
)

// TestTableSpoolRowGroups writes resources and tombstones through a table
// spool: row groups end near RowGroupBytes whatever the rows are (the
// writer's memory), and rows whose JSON is borrowed from a buffer that is
// overwritten after each flush read back as written.
func TestTableSpoolRowGroups(t *testing.T) {
	sp, err := newTableSpool(t.TempDir(), "Observation")
	if err != nil {
		t.Fatal(err)
	}
	defer sp.discard()
	const resources, tombstones = 3000, 20000
	batch := make([]byte, 0, 64<<10) // the runner's arena, reused per batch
	var want []string
	for i := 0; i < resources; i += 50 {
		batch = batch[:0]
		var rs []Row
		for j := i; j < i+50; j++ {
			n := len(batch)
			batch = fmt.Appendf(batch, `{"resourceType":"Observation","id":"o%d","note":[{"text":"%s"}]}`, j, bytes.Repeat([]byte{'a' + byte(j%26)}, 900))
			want = append(want, string(batch[n:]))
			rs = append(rs, Row{ResourceType: "Observation", ID: fmt.Sprint("o", j), Line: int64(j + 1), JSON: borrowString(batch[n:])})
		}
		for _, r := range rs {
			if err := sp.add(r); err != nil {
				t.Fatal(err)
			}
		}
		if err := sp.flush(); err != nil {
			t.Fatal(err)
		}
		clear(batch[:cap(batch)]) // the runner reuses its arena
	}
	for i := range tombstones {
		if err := sp.add(Row{ResourceType: "Observation", ID: fmt.Sprint("d", i), SourceFile: "http://127.0.0.1:1/f/deleted.ndjson", Deleted: true}); err != nil {
			t.Fatal(err)
		}
	}
	if err := sp.flush(); err != nil {
		t.Fatal(err)
	}
	if err := sp.w.Close(); err != nil {
		t.Fatal(err)
	}
	size, err := sp.file.Seek(0, io.SeekEnd)
	if err != nil {
		t.Fatal(err)
	}
	f, err := parquet.OpenFile(sp.file, size)
	if err != nil {
		t.Fatal(err)
	}
	if got := f.NumRows(); got != resources+tombstones || sp.rows != got {
		t.Fatalf("%d rows in the file, %d counted; want %d", got, sp.rows, resources+tombstones)
	}
	groups := f.Metadata().RowGroups
	if len(groups) < 4 {
		t.Errorf("%d row groups, want at least 4 (3 MB of resources and 20,000 tombstones at %d bytes a group)", len(groups), RowGroupBytes)
	}
	for i, g := range groups {
		// A group ends at the chunk that crosses the limit.
		if limit := int64(RowGroupBytes + rowChunk*1024); g.TotalByteSize > limit {
			t.Errorf("row group %d: %d bytes, want at most %d", i, g.TotalByteSize, limit)
		}
	}
	r := parquet.NewGenericReader[Row](f)
	rows := make([]Row, resources)
	if n, err := r.Read(rows); n != resources || (err != nil && err != io.EOF) {
		t.Fatalf("read %d rows: %v", n, err)
	}
	for i, row := range rows {
		if row.JSON != want[i] {
			t.Fatalf("row %d: json %.40q..., want %.40q...", i, row.JSON, want[i])
		}
	}
}
