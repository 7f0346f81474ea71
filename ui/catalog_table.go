package ui

import (
	"context"
	"fmt"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/widget"

	"tranche.dev/tranche/core"
	"tranche.dev/tranche/core/tables"
)

// newRecordTable is the catalogue's record table: one row per record, the
// page's columns as headings. Only the rows on screen are rendered, so a
// page costs the same whatever the catalogue's size.
func newRecordTable(s *catalogScreen) *widget.Table {
	t := widget.NewTableWithHeaders(
		func() (int, int) {
			if s.page == nil {
				return 0, 0
			}
			return len(s.page.Rows), len(s.page.Columns)
		},
		func() fyne.CanvasObject {
			l := widget.NewLabel("")
			l.Truncation = fyne.TextTruncateEllipsis
			return l
		},
		func(id widget.TableCellID, o fyne.CanvasObject) {
			if s.page == nil || id.Row >= len(s.page.Rows) {
				return
			}
			cells := s.page.Rows[id.Row].Cells
			text := ""
			if id.Col < len(cells) {
				text = cells[id.Col]
			}
			o.(*widget.Label).SetText(text)
		},
	)
	t.ShowHeaderColumn = false
	t.CreateHeader = func() fyne.CanvasObject {
		l := widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
		l.Truncation = fyne.TextTruncateEllipsis
		return l
	}
	t.UpdateHeader = func(id widget.TableCellID, o fyne.CanvasObject) {
		if s.page != nil && id.Col >= 0 && id.Col < len(s.page.Columns) {
			o.(*widget.Label).SetText(s.page.Columns[id.Col])
		}
	}
	t.OnSelected = func(id widget.TableCellID) { s.selectRow(id.Row) }
	s.onColumns = func(cols []string) {
		for i, c := range cols {
			t.SetColumnWidth(i, columnWidth(c))
		}
	}
	return t
}

// columnWidth picks a width that fits a column's usual content.
func columnWidth(col string) float32 {
	switch strings.ToLower(col) {
	case "type", "resourcetype":
		return 150
	case "id", "patient", "subject":
		return 200
	case "lastupdated", "date", "effective", "period", "authored", "recorded", "onset", "birthdate":
		return 190
	case "status", "gender", "class":
		return 100
	}
	return 230
}

// exportSelection writes every record the current query selects (all
// pages) to a file the person picks.
func (s *catalogScreen) exportSelection() {
	q := s.q
	opts := []string{"NDJSON (records exactly as received)", "CSV (a flat column set per type)"}
	if q.Kind == core.RecordsTable {
		opts = []string{"Parquet (typed columns)", "CSV", "NDJSON"}
	}
	format := widget.NewRadioGroup(opts, nil)
	format.SetSelected(format.Options[0])
	dialog.ShowCustomConfirm("Export selection", "Choose a file…", "Cancel",
		widget.NewForm(widget.NewFormItem("Format", format), widget.NewFormItem("Selection", widget.NewLabel(describeQuery(q)))),
		func(ok bool) {
			if !ok {
				return
			}
			f := tables.FormatNDJSON
			switch {
			case strings.HasPrefix(format.Selected, "CSV"):
				f = tables.FormatCSV
			case strings.HasPrefix(format.Selected, "Parquet"):
				f = tables.FormatParquet
			}
			s.saveSelection(q, f, tables.Ext(f))
		}, s.u.Window)
}

func (s *catalogScreen) saveSelection(q core.RecordQuery, format, ext string) {
	if q.Kind == core.RecordsTable {
		s.saveTable(q.Type, format, ext)
		return
	}
	name := "tranche"
	if q.Type != "" {
		name = q.Type
	}
	s.u.saveFile(name+ext, func(w fyne.URIWriteCloser) {
		var n int64
		s.u.background("Could not export the selection.", func(ctx context.Context) error {
			var err error
			n, err = s.u.deps.Catalog.Write(ctx, w, q, format)
			if cerr := w.Close(); err == nil {
				err = cerr
			}
			return err
		}, func() {
			s.pageInfo.SetText(fmt.Sprintf("Exported %s records to %s", thousands(n), w.URI().Name()))
		})
	})
}

// describeQuery says in words what a query selects.
func describeQuery(q core.RecordQuery) string {
	var parts []string
	switch q.Kind {
	case core.RecordsDeleted:
		parts = append(parts, "deleted entries")
	case core.RecordsErrors:
		parts = append(parts, "error entries")
	case core.RecordsTable:
		parts = append(parts, "every row of table "+q.Type)
	default:
		if q.Type != "" {
			parts = append(parts, "every "+q.Type)
		} else {
			parts = append(parts, "every resource")
		}
	}
	if q.ExportID != 0 {
		parts = append(parts, fmt.Sprintf("of export #%d", q.ExportID))
	} else {
		parts = append(parts, "in the latest view")
	}
	if q.Patient != "" {
		parts = append(parts, "for "+q.Patient)
	}
	if q.Text != "" {
		parts = append(parts, fmt.Sprintf("matching %q", q.Text))
	}
	return strings.Join(parts, " ")
}

// saveTable writes a whole materialised table to a file.
func (s *catalogScreen) saveTable(name, format, ext string) {
	s.u.saveFile(name+ext, func(w fyne.URIWriteCloser) {
		var n int64
		s.u.background("Could not export the table.", func(ctx context.Context) error {
			var err error
			n, err = s.u.deps.Views.WriteTable(ctx, name, w, format)
			if cerr := w.Close(); err == nil {
				err = cerr
			}
			return err
		}, func() {
			s.pageInfo.SetText(fmt.Sprintf("Exported %s rows of table %s to %s", thousands(n), name, w.URI().Name()))
		})
	})
}
