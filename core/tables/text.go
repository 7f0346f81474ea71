package tables

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// CSVWriter writes RFC 4180 CSV: a header of column names, then one record
// per row, each ending in CRLF; a field is quoted when it holds a comma, a
// quote, CR or LF, with quotes doubled, and its line breaks are kept as
// they are (encoding/csv would turn LF into CRLF with UseCRLF, changing
// the value). NULL is the empty field and an empty string "" (as DuckDB
// and pandas read them); a collection is its JSON array.
type CSVWriter struct {
	bw   *bufio.Writer
	cols []Column
}

// NewCSVWriter writes the header to w and returns the writer.
func NewCSVWriter(w io.Writer, cols []Column) (*CSVWriter, error) {
	cw := &CSVWriter{bw: bufio.NewWriterSize(w, 256<<10), cols: cols}
	for i, c := range cols {
		cw.field(i, c.Name)
	}
	if _, err := cw.bw.WriteString("\r\n"); err != nil {
		return nil, fmt.Errorf("csv header: %w", err)
	}
	return cw, nil
}

func (w *CSVWriter) field(i int, s string) {
	if i > 0 {
		w.bw.WriteByte(',')
	}
	if s != "" && !strings.ContainsAny(s, ",\"\r\n") {
		w.bw.WriteString(s)
		return
	}
	w.bw.WriteByte('"')
	w.bw.WriteString(strings.ReplaceAll(s, `"`, `""`))
	w.bw.WriteByte('"')
}

// Write writes one row.
func (w *CSVWriter) Write(row []any) error {
	if len(row) != len(w.cols) {
		return fmt.Errorf("row has %d values for %d columns", len(row), len(w.cols))
	}
	for i, v := range row {
		var s string
		var err error
		switch v := v.(type) {
		case nil:
			if i > 0 {
				w.bw.WriteByte(',')
			}
			continue
		case []any:
			var b []byte
			b, err = appendJSON(nil, v)
			s = string(b)
		default:
			s, err = formatScalar(v)
		}
		if err != nil {
			return fmt.Errorf("column %s: %w", w.cols[i].Name, err)
		}
		w.field(i, s)
	}
	_, err := w.bw.WriteString("\r\n")
	return err
}

// Close flushes the output.
func (w *CSVWriter) Close() error { return w.bw.Flush() }

// NDJSONWriter writes one JSON object per row, keys in column order, NULL
// as null, decimals as JSON numbers with their exact text, collections as
// arrays.
type NDJSONWriter struct {
	bw   *bufio.Writer
	cols []Column
	keys [][]byte // `"name":` per column, the first without a comma
	buf  []byte
}

// NewNDJSONWriter returns a writer to w.
func NewNDJSONWriter(w io.Writer, cols []Column) *NDJSONWriter {
	nw := &NDJSONWriter{bw: bufio.NewWriterSize(w, 256<<10), cols: cols}
	for i, c := range cols {
		var k []byte
		if i > 0 {
			k = append(k, ',')
		}
		k, _ = appendJSON(k, c.Name)
		nw.keys = append(nw.keys, append(k, ':'))
	}
	return nw
}

// Write writes one row as a line.
func (w *NDJSONWriter) Write(row []any) error {
	if len(row) != len(w.cols) {
		return fmt.Errorf("row has %d values for %d columns", len(row), len(w.cols))
	}
	b := append(w.buf[:0], '{')
	for i, v := range row {
		b = append(b, w.keys[i]...)
		var err error
		if b, err = appendJSON(b, v); err != nil {
			return fmt.Errorf("column %s: %w", w.cols[i].Name, err)
		}
	}
	b = append(b, '}', '\n')
	w.buf = b
	_, err := w.bw.Write(b)
	return err
}

// Close flushes the output.
func (w *NDJSONWriter) Close() error { return w.bw.Flush() }

// appendJSON appends v as JSON. json.Number is written as is, after a
// check that it is a JSON number, so "1.50" stays 1.50.
func appendJSON(b []byte, v any) ([]byte, error) {
	switch v := v.(type) {
	case nil:
		return append(b, "null"...), nil
	case bool:
		return strconv.AppendBool(b, v), nil
	case int64:
		return strconv.AppendInt(b, v, 10), nil
	case int:
		return strconv.AppendInt(b, int64(v), 10), nil
	case json.Number:
		if !json.Valid([]byte(v)) {
			return b, fmt.Errorf("decimal %q is not a number", string(v))
		}
		return append(b, v...), nil
	case string:
		enc, err := json.Marshal(v)
		return append(b, enc...), err
	case []any:
		b = append(b, '[')
		for i, e := range v {
			if i > 0 {
				b = append(b, ',')
			}
			var err error
			if b, err = appendJSON(b, e); err != nil {
				return b, err
			}
		}
		return append(b, ']'), nil
	}
	enc, err := json.Marshal(v)
	if err != nil {
		return b, fmt.Errorf("unsupported value %T", v)
	}
	return append(b, enc...), nil
}
