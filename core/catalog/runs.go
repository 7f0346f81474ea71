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
	// The new lines, and how many runs they make.
	lines, runs := 0, 0
	var lo, hi int64
	patient := ""
	for i := range recs {
		r := &recs[i]
		if r.Line <= stored || r.Problem != "" {
			continue
		}
		if lines++; lines == 1 {
			lo = r.Line
		}
		hi = r.Line
		if r.Patient != patient {
			if patient = r.Patient; patient != "" {
				runs++
			}
		}
	}
	var err error
	switch {
	case runs == 0:
	case 2*runs > lines:
		_, err = ins.exec(insertRuns, ins.fileID, rowID(ins.fileID, lo), rowID(ins.fileID, hi), nil)
	default:
		buf := ins.appendRuns(ins.runs[:0], recs, stored)
		ins.runs = buf
		_, err = ins.exec(insertRuns, ins.fileID, rowID(ins.fileID, lo), rowID(ins.fileID, hi), rawText(buf))
	}
	return err
}

// appendRuns appends the runs of insertRuns to buf as a JSON array.
func (ins *inserter) appendRuns(buf []byte, recs []core.Record, stored int64) []byte {
	buf = append(buf, '[')
	var patient string
	var first, last int64
	flush := func() {
		if patient == "" {
			return
		}
		if len(buf) > 1 {
			buf = append(buf, ',')
		}
		buf = append(buf, '[')
		buf = appendJSONString(buf, patient)
		buf = append(buf, ',')
		buf = strconv.AppendInt(buf, first, 10)
		buf = append(buf, ',')
		buf = strconv.AppendInt(buf, last-first, 10)
		buf = append(buf, ']')
	}
	for i := range recs {
		r := &recs[i]
		if r.Line <= stored || r.Problem != "" {
			continue
		}
		rid := rowID(ins.fileID, r.Line)
		if r.Patient != "" && r.Patient == patient {
			last = rid
			continue
		}
		flush()
		patient, first, last = r.Patient, rid, rid
	}
	flush()
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
