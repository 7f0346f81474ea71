package ndjson

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"tranche.dev/tranche/core"
)

type deletedHead struct {
	ResourceType string `json:"resourceType"`
	ID           string `json:"id"`
	Entry        []struct {
		Request struct {
			Method string `json:"method"`
			URL    string `json:"url"`
		} `json:"request"`
	} `json:"entry"`
}

// Parse returns the Record for one line of a file of the given kind. Raw is
// the line itself, not a copy and never re-serialised. wantType is the
// manifest's type for the file; when it is "" (v4 deleted and outcome items
// carry no type) deleted files must hold Bundles, error files
// OperationOutcomes, and output files any type.
//
// A line that fails a check still yields a Record, with Problem saying why:
// invalid JSON, no resourceType, a resourceType other than wantType, or (for
// lines marked oversized by the caller) "line exceeds the limit".
func Parse(line []byte, kind core.FileKind, wantType string) core.Record {
	rec := core.Record{Raw: line}
	if wantType == "" {
		switch kind {
		case core.KindDeleted:
			wantType = "Bundle"
		case core.KindError:
			wantType = "OperationOutcome"
		}
	}
	switch kind {
	case core.KindDeleted:
		var h deletedHead
		if err := json.Unmarshal(line, &h); err != nil {
			rec.Problem = problem(err, "not a deleted-resources Bundle: ")
		}
		rec.ResourceType, rec.ID = h.ResourceType, h.ID
		for _, e := range h.Entry {
			if strings.EqualFold(e.Request.Method, "DELETE") && e.Request.URL != "" {
				rec.Deletes = append(rec.Deletes, deletedRef(e.Request.URL))
			}
		}
	case core.KindError:
		o, err := core.ParseOutcome(line)
		if err != nil {
			rec.Problem = problem(err, "not an OperationOutcome: ")
			break
		}
		rec.ResourceType, rec.ID, rec.Severity = o.ResourceType, o.ID, o.Severity()
	default:
		var h fields // scanResource also checks the line is valid JSON
		if err := scanResource(line, &h); err != nil {
			rec.Problem = err.Error()
			return rec
		}
		rec.ResourceType, rec.ID, rec.LastUpdated = h.resourceType, h.id, h.lastUpdated
		// FHIR R4 JSON Representation (Resource Format): a resource is a JSON object
		// in UTF-8 whose properties appear once, and resources a server
		// exports carry their logical id (Resource.id, a string). Each
		// property appears once in its object, at every depth.
		switch {
		case h.dupKey != "" && h.dupNested:
			rec.Problem = fmt.Sprintf("the property %q appears twice in one nested element (FHIR JSON allows each once)", h.dupKey)
		case h.dupKey != "":
			rec.Problem = fmt.Sprintf("the property %q appears twice (FHIR JSON allows each once)", h.dupKey)
		case h.idKind == 0:
			rec.Problem = "no id"
		case h.idKind != '"':
			rec.Problem = "id is not a string"
		case h.id == "":
			rec.Problem = "empty id"
		}
		if h.resourceType == "Patient" && h.id != "" {
			rec.Patient = "Patient/" + h.id
		} else {
			for _, raw := range [][]byte{h.subject, h.patient, h.beneficiary} {
				if p := patientRef(raw); p != "" {
					rec.Patient = p
					break
				}
			}
		}
	}
	if rec.Problem == "" && !utf8.Valid(line) {
		// FHIR JSON is UTF-8 (R4 JSON Representation, Resource Format).
		rec.Problem = "not valid UTF-8"
	}
	if rec.Problem != "" {
		return rec
	}
	switch {
	case rec.ResourceType == "":
		rec.Problem = "no resourceType"
	case wantType != "" && rec.ResourceType != wantType:
		rec.Problem = fmt.Sprintf("resourceType %q in a file of type %q", rec.ResourceType, wantType)
	}
	return rec
}

// Oversized returns the Record for a line longer than max bytes: its first
// bytes as Raw, and the problem.
func Oversized(l Line, max int) core.Record {
	if max <= 0 {
		max = DefaultMaxLine
	}
	return core.Record{
		Line:    l.Num,
		Raw:     l.Raw,
		Problem: fmt.Sprintf("line of %d bytes exceeds the %d byte limit (first %d bytes kept)", l.Size, max, len(l.Raw)),
	}
}

// patientRef returns "Patient/x" when raw is a Reference to a Patient,
// relative ("Patient/x") or absolute ("https://…/Patient/x"), else "".
func patientRef(raw []byte) string {
	ref := memberString(raw, "reference")
	if i := strings.LastIndex(ref, "Patient/"); i >= 0 && (i == 0 || ref[i-1] == '/') {
		id := ref[i+len("Patient/"):]
		if j := strings.IndexAny(id, "/?#"); j >= 0 {
			id = id[:j] // drop a "/_history/n" suffix
		}
		if id != "" {
			return "Patient/" + id
		}
	}
	return ""
}

// deletedRef reduces a DELETE request URL to "Type/id" when it is an
// absolute URL or carries a query.
func deletedRef(u string) string {
	if i := strings.IndexAny(u, "?#"); i >= 0 {
		u = u[:i]
	}
	parts := strings.Split(strings.TrimRight(u, "/"), "/")
	if n := len(parts); n >= 4 && parts[n-2] == "_history" {
		parts = parts[:n-2]
	}
	if len(parts) >= 2 {
		return parts[len(parts)-2] + "/" + parts[len(parts)-1]
	}
	return u
}

// problem describes a decoding error. json.Unmarshal checks the whole line
// before decoding, so a syntax error leaves nothing half-filled.
func problem(err error, prefix string) string {
	var syn *json.SyntaxError
	if errors.As(err, &syn) {
		return "invalid JSON"
	}
	return prefix + shortError(err)
}

func shortError(err error) string {
	s := err.Error()
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}
