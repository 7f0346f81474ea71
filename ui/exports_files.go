package ui

import (
	"fmt"
	"strconv"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/widget"

	"tranche.dev/tranche/core"
)

var fileColumns = []struct {
	title string
	width float32
}{
	{"Type", 170}, {"Kind", 70}, {"State", 100}, {"Bytes", 90}, {"Lines", 130}, {"Rate", 90}, {"Problems", 320},
}

func newFileTable(s *exportsScreen) *widget.Table {
	t := widget.NewTableWithHeaders(
		func() (int, int) { return len(s.files), len(fileColumns) },
		func() fyne.CanvasObject {
			l := widget.NewLabel("")
			l.Truncation = fyne.TextTruncateEllipsis
			return l
		},
		func(id widget.TableCellID, o fyne.CanvasObject) {
			if id.Row >= len(s.files) {
				return
			}
			o.(*widget.Label).SetText(s.fileCell(s.files[id.Row], id.Col))
		},
	)
	t.ShowHeaderColumn = false
	t.CreateHeader = func() fyne.CanvasObject {
		return widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	}
	t.UpdateHeader = func(id widget.TableCellID, o fyne.CanvasObject) {
		if id.Col >= 0 {
			o.(*widget.Label).SetText(fileColumns[id.Col].title)
		}
	}
	for i, c := range fileColumns {
		t.SetColumnWidth(i, c.width)
	}
	return t
}

func (s *exportsScreen) fileCell(f *core.ExportFile, col int) string {
	switch col {
	case 0:
		if f.Type == "" {
			return "(untyped)"
		}
		return f.Type
	case 1:
		return string(f.Kind)
	case 2:
		return string(f.State)
	case 3:
		return humanBytes(f.Bytes)
	case 4:
		if f.Count >= 0 {
			return fmt.Sprintf("%d / %d", f.Lines, f.Count)
		}
		return strconv.FormatInt(f.Lines, 10)
	case 5:
		return s.rate(f)
	case 6:
		switch {
		case f.Problems > 0 && f.Error != "":
			return fmt.Sprintf("%d: %s", f.Problems, f.Error)
		case f.Problems > 0:
			return strconv.FormatInt(f.Problems, 10)
		}
		return f.Error
	}
	return ""
}

// rate is a downloading file's average speed since it started, when this
// window saw it start.
func (s *exportsScreen) rate(f *core.ExportFile) string {
	le := s.live.get(f.ExportID)
	if le == nil || f.Bytes == 0 {
		return ""
	}
	le.mu.Lock()
	start, ok := le.firstSeen[f.URL]
	le.mu.Unlock()
	if !ok {
		return ""
	}
	d := s.u.now().Sub(start)
	if d < time.Second/10 {
		return ""
	}
	return humanBytes(int64(float64(f.Bytes)/d.Seconds())) + "/s"
}

// describeTotals is the status screen's one-line summary of an export's
// files (core.Sum).
func describeTotals(t core.Totals) string {
	if t.Files == 0 {
		return "No files yet."
	}
	s := fmt.Sprintf("%d files: %d loaded, %d failed, %d to go · %d lines", t.Files, t.Loaded, t.Failed, t.Pending, t.Lines)
	if t.CountKnown {
		s += fmt.Sprintf(" of %d", t.Count)
	}
	s += " · " + humanBytes(t.Bytes)
	if t.Problems > 0 {
		s += fmt.Sprintf(" · %d problem lines", t.Problems)
	}
	return s
}

// humanBytes formats a byte count as 1.5 MB.
func humanBytes(n int64) string {
	const unit = 1000
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %cB", float64(n)/float64(div), "kMGTPE"[exp])
}
