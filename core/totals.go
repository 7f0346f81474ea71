package core

// Totals sums an export's files: what the desktop app's status screen and
// the command line's summary both show, counted by one rule.
type Totals struct {
	Files   int // in the manifest
	Loaded  int // every line stored and the checks passed (FileLoaded)
	Failed  int // stopped short: failed, invalid or expired
	Pending int // still to download (pending or downloading)

	Lines    int64 // lines stored, of every kind
	Bytes    int64 // bytes consumed
	Problems int64 // lines that failed validation, stored as received
	// Count is the manifest's line count over all files, when every file
	// gave one (CountKnown).
	Count      int64
	CountKnown bool

	// The valid lines by kind: resources in output files, deletion
	// entries, and the server's error (OperationOutcome) lines.
	Resources, Deleted, ErrorLines int64
}

// Sum totals files.
func Sum(files []*ExportFile) Totals {
	t := Totals{Files: len(files), CountKnown: len(files) > 0}
	for _, f := range files {
		t.Lines += f.Lines
		t.Bytes += f.Bytes
		t.Problems += f.Problems
		if f.Count < 0 {
			t.CountKnown = false
		} else {
			t.Count += f.Count
		}
		valid := f.Lines - f.Problems
		switch f.Kind {
		case KindDeleted:
			t.Deleted += valid
		case KindError:
			t.ErrorLines += valid
		default:
			t.Resources += valid
		}
		switch f.State {
		case FileLoaded:
			t.Loaded++
		case FileFailed, FileInvalid, FileExpired:
			t.Failed++
		default:
			t.Pending++
		}
	}
	return t
}

// Fraction is how far an export in state st is, from 0 to 1: by lines
// when the manifest counted them, else by files settled.
func (t Totals) Fraction(st ExportState) float64 {
	switch {
	case st == StateComplete:
		return 1
	case t.Files == 0:
		return 0
	case t.CountKnown && t.Count > 0:
		return min(1, float64(t.Lines)/float64(t.Count))
	}
	return float64(t.Loaded+t.Failed) / float64(t.Files)
}
