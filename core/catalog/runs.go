package catalog

import (
	"encoding/json"
	"strconv"

	"tranche.dev/tranche/core"
)

// insertRuns appends the patient index entries of a batch of an output
// file's lines to pending_runs, for mergeLatest to move into patient_runs
// (see migration/0004_patient_runs.sql): each run of consecutive lines of
// one patient's resources, as [patient, first rid, last rid - first], in
// one JSON array, or, for a batch of more than one run for every two
// lines, just the range of its lines, whose runs the merge reads back from
// resources (a run parsed from JSON costs about twice a line read back).
// Lines at or below stored, the file's progress before this batch, were
// stored before and have their runs already. Problem lines belong to no
// one and do not end a run, as no resource can ever take their rid; a
// resource of no patient ends one.
func (ins *inserter) insertRuns(recs []core.Record, stored int64) error {
	var runs []patientRun
	var lines int
	var lo, hi int64 // the new lines' first and last rids
	prev := ""       // the patient of the last new line
	for i := range recs {
		r := &recs[i]
		if r.Line <= stored || r.Problem != "" {
			continue
		}
		rid := rowID(ins.fileID, r.Line)
		if lines++; lines == 1 {
			lo = rid
		}
		hi = rid
		if r.Patient != "" && r.Patient == prev {
			runs[len(runs)-1].last = rid
		} else if r.Patient != "" {
			runs = append(runs, patientRun{r.Patient, rid, rid})
		}
		prev = r.Patient
	}
	var err error
	switch {
	case len(runs) == 0:
	case 2*len(runs) > lines:
		_, err = ins.exec(insertRuns, ins.fileID, lo, hi, nil)
	default:
		_, err = ins.exec(insertRuns, ins.fileID, lo, hi, rawText(appendRuns(nil, runs)))
	}
	return err
}

// patientRun is one run of a file's consecutive lines in one patient's
// compartment, by rid.
type patientRun struct {
	patient     string
	first, last int64
}

// appendRuns appends runs to buf as the JSON array pending_runs keeps:
// [[patient, first, last - first], ...].
func appendRuns(buf []byte, runs []patientRun) []byte {
	buf = append(buf, '[')
	for i, r := range runs {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, '[')
		buf = appendJSONString(buf, r.patient)
		buf = append(buf, ',')
		buf = strconv.AppendInt(buf, r.first, 10)
		buf = append(buf, ',')
		buf = strconv.AppendInt(buf, r.last-r.first, 10)
		buf = append(buf, ']')
	}
	return append(buf, ']')
}

// appendJSONString appends s to buf as a JSON string.
func appendJSONString(buf []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= 0x80 {
			b, _ := json.Marshal(s) // a string always marshals
			return append(buf, b...)
		}
	}
	buf = append(buf, '"')
	buf = append(buf, s...)
	return append(buf, '"')
}
