package ui

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"tranche.dev/tranche/core"
)

// exportForm is what the New export screen's fields say, as plain values,
// so that checking it needs no widgets.
type exportForm struct {
	Level         string // core.LevelSystem, LevelPatient or LevelGroup
	GroupID       string
	Types         []string
	Since         string
	SinceLast     bool
	Until         string
	Elements      string // comma separated
	TypeFilters   []string
	Patients      string // one a line
	OutputFormat  string
	Associated    string // comma separated
	OrganizeBy    string
	Partial       bool
	Lenient       bool
	POST          bool
	KnownTypes    []string // the server's resource types; nil when unknown
	Now           time.Time
	HasRegistered bool // a registration is picked
}

var (
	reElement  = regexp.MustCompile(`^([A-Z][A-Za-z]+\.)?[a-z][A-Za-z0-9]*$`)
	reFHIRID   = regexp.MustCompile(`^[A-Za-z0-9\-.]{1,64}$`)
	reTypeName = regexp.MustCompile(`^[A-Z][A-Za-z]+$`)
)

// outputFormats are the _outputFormat spellings the IG allows for NDJSON.
var outputFormats = []string{"application/fhir+ndjson", "application/ndjson", "ndjson"}

// request checks the form and builds the kick-off request. Problems are
// sentences a person can act on, one per mistake; the request is only
// meaningful when there are none.
func (f exportForm) request() (core.ExportRequest, []string) {
	var p []string
	req := core.ExportRequest{
		Level:                 f.Level,
		AllowPartialManifests: f.Partial,
		Lenient:               f.Lenient,
		POST:                  f.POST,
	}
	if !f.HasRegistered {
		p = append(p, "Pick a registration: which server to export from.")
	}
	switch f.Level {
	case core.LevelSystem, core.LevelPatient:
	case core.LevelGroup:
		req.GroupID = groupID(f.GroupID)
		if req.GroupID == "" {
			p = append(p, "Pick a Group, or type its id.")
		} else if !reFHIRID.MatchString(req.GroupID) {
			p = append(p, fmt.Sprintf("%q is not a valid Group id (letters, digits, - and . only).", req.GroupID))
		}
	default:
		p = append(p, "Pick the export level: system, all patients or a Group.")
	}

	for _, t := range f.Types {
		if f.KnownTypes != nil && !slices.Contains(f.KnownTypes, t) {
			p = append(p, fmt.Sprintf("The server does not list %s among its resource types.", t))
		}
	}
	req.Types = f.Types

	var since, until time.Time
	if f.SinceLast {
		req.Since = "auto"
	} else if strings.TrimSpace(f.Since) != "" {
		t, instant, err := parseInstant(f.Since)
		if err != nil {
			p = append(p, "Since: "+err.Error())
		} else if t.After(f.Now) {
			p = append(p, "Since is in the future: nothing could have changed after it.")
		} else {
			since, req.Since = t, instant
		}
	}
	if strings.TrimSpace(f.Until) != "" {
		t, instant, err := parseInstant(f.Until)
		if err != nil {
			p = append(p, "Until: "+err.Error())
		} else {
			until, req.Until = t, instant
		}
	}
	if !since.IsZero() && !until.IsZero() && !since.Before(until) {
		p = append(p, "Since must be before until.")
	}

	for _, e := range splitList(f.Elements) {
		if !reElement.MatchString(e) {
			p = append(p, fmt.Sprintf("_elements: %q should be an element name like \"status\" or \"Observation.code\".", e))
			continue
		}
		req.Elements = append(req.Elements, e)
	}

	for i, tf := range f.TypeFilters {
		tf = strings.TrimSpace(tf)
		if tf == "" {
			continue
		}
		typ, query, ok := strings.Cut(tf, "?")
		switch {
		case !ok || query == "" || !reTypeName.MatchString(typ):
			p = append(p, fmt.Sprintf("Filter %d should read Type?search, e.g. Observation?category=laboratory.", i+1))
		case f.KnownTypes != nil && !slices.Contains(f.KnownTypes, typ):
			p = append(p, fmt.Sprintf("Filter %d: the server does not list %s among its resource types.", i+1, typ))
		case len(f.Types) > 0 && !slices.Contains(f.Types, typ):
			p = append(p, fmt.Sprintf("Filter %d is for %s, which is not among the ticked resource types.", i+1, typ))
		default:
			req.TypeFilters = append(req.TypeFilters, tf)
		}
	}

	for _, line := range strings.Split(f.Patients, "\n") {
		line = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), "Patient/"))
		if line == "" {
			continue
		}
		if !reFHIRID.MatchString(line) {
			p = append(p, fmt.Sprintf("Patients: %q is not a valid patient id.", line))
			continue
		}
		req.Patients = append(req.Patients, "Patient/"+line)
	}
	if len(req.Patients) > 0 {
		if f.Level == core.LevelSystem {
			p = append(p, "Patients can only be picked for an all-patients or Group export.")
		}
		req.POST = true // the patient parameter is POST only (IG §2.1)
	}

	if of := strings.TrimSpace(f.OutputFormat); of != "" {
		if !slices.Contains(outputFormats, of) {
			p = append(p, "Output format must be application/fhir+ndjson (or leave it empty).")
		} else {
			req.OutputFormat = of
		}
	}
	req.IncludeAssociatedData = splitList(f.Associated)
	if ob := strings.TrimSpace(f.OrganizeBy); ob != "" {
		if !reTypeName.MatchString(ob) {
			p = append(p, "Organize output by must be a resource type such as Patient.")
		} else {
			req.OrganizeOutputBy = ob
		}
	}
	return req, p
}

// groupID takes the id out of a Group choice shown as "id — name".
func groupID(choice string) string {
	id, _, _ := strings.Cut(choice, " — ")
	return strings.TrimSpace(id)
}

// groupChoice shows a Group in the picker.
func groupChoice(g Group) string {
	s := g.ID
	if g.Name != "" {
		s += " — " + g.Name
	}
	if g.Quantity > 0 {
		s += fmt.Sprintf(" (%d)", g.Quantity)
	}
	return s
}

// parseInstant reads a date (2024-01-31, taken as midnight UTC) or a FHIR
// instant (2024-01-31T12:00:00Z, with a zone) and returns it as an instant.
func parseInstant(s string) (time.Time, string, error) {
	s = strings.TrimSpace(s)
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, t.Format(time.RFC3339), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, s, nil
	}
	return time.Time{}, "", fmt.Errorf("%q is not a date like 2024-01-31 or an instant like 2024-01-31T12:00:00Z.", s)
}

// splitList splits a comma separated list and drops empty items.
func splitList(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}
