package ui

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"tranche.dev/tranche/core"
)

// ExportForm is what the New export screen's fields say, as plain values,
// so that checking it needs no widgets.
type ExportForm struct {
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

// Request builds the kick-off request from the form and checks it with
// core.ExportRequest.Validate, the rule the command line and the engine
// apply too. The form only turns text into values (a date into an instant,
// lines and commas into lists); problems come back as sentences a person
// can act on, one per mistake. The request is only meaningful when there
// are none.
func (f ExportForm) Request() (core.ExportRequest, []string) {
	var p []string
	req := core.ExportRequest{
		Level:                 f.Level,
		Types:                 f.Types,
		Elements:              splitList(f.Elements),
		IncludeAssociatedData: splitList(f.Associated),
		OutputFormat:          strings.TrimSpace(f.OutputFormat),
		OrganizeOutputBy:      strings.TrimSpace(f.OrganizeBy),
		AllowPartialManifests: f.Partial,
		Lenient:               f.Lenient,
		POST:                  f.POST,
	}
	if !f.HasRegistered {
		p = append(p, "Pick a registration: which server to export from.")
	}
	if f.Level == core.LevelGroup {
		req.GroupID = groupID(f.GroupID)
	}
	if f.SinceLast {
		req.Since = "auto"
	} else if strings.TrimSpace(f.Since) != "" {
		if instant, err := parseInstant(f.Since); err != nil {
			p = append(p, "Since: "+err.Error())
		} else {
			req.Since = instant
		}
	}
	if strings.TrimSpace(f.Until) != "" {
		if instant, err := parseInstant(f.Until); err != nil {
			p = append(p, "Until: "+err.Error())
		} else {
			req.Until = instant
		}
	}
	for _, tf := range f.TypeFilters {
		if tf = strings.TrimSpace(tf); tf != "" {
			req.TypeFilters = append(req.TypeFilters, tf)
		}
	}
	for _, line := range strings.Split(f.Patients, "\n") {
		if line = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), "Patient/")); line != "" {
			req.Patients = append(req.Patients, "Patient/"+line)
		}
	}
	if len(req.Patients) > 0 {
		req.POST = true // the patient parameter is POST only
	}
	var rerr *core.RequestError
	if errors.As(req.Validate(core.Checks{KnownTypes: f.KnownTypes, Now: f.Now}), &rerr) {
		for _, pr := range rerr.Problems {
			p = append(p, problemSentence(pr))
		}
	}
	return req, p
}

// problemSentence words one problem of the request for the New export
// screen, naming its fields.
func problemSentence(pr *core.Problem) string {
	switch {
	case pr.Param == "level":
		return "Pick the export level: system, all patients or a Group."
	case pr.Reason == core.ReasonNoGroup:
		return "Pick a Group, or type its id."
	case pr.Param == "groupId" && pr.Reason == core.ReasonNotID:
		return fmt.Sprintf("%q is not a valid Group id (letters, digits, - and . only).", pr.Value)
	case pr.Reason == core.ReasonInFuture:
		return "Since is in the future: nothing could have changed after it."
	case pr.Reason == core.ReasonNotBefore:
		return "Since must be before until."
	case pr.Param == "_typeFilter":
		switch pr.Reason {
		case core.ReasonUnknownType:
			return fmt.Sprintf("Filter %d: the server does not list %s among its resource types.", pr.Index+1, pr.Value)
		case core.ReasonTypeNotAsked:
			return fmt.Sprintf("Filter %d is for %s, which is not among the ticked resource types.", pr.Index+1, pr.Detail)
		case core.ReasonResultParam:
			return fmt.Sprintf("Filter %d: %s is a result parameter, which a filter cannot hold.", pr.Index+1, pr.Detail)
		}
		return fmt.Sprintf("Filter %d should read Type?search, e.g. Observation?category=laboratory.", pr.Index+1)
	case pr.Param == "_elements":
		return fmt.Sprintf("_elements: %q should be an element name like \"status\" or \"Observation.code\".", pr.Value)
	case pr.Reason == core.ReasonUnknownType:
		return fmt.Sprintf("The server does not list %s among its resource types (tick Lenient to ask it anyway).", pr.Value)
	case pr.Reason == core.ReasonAtSystemLevel:
		return "Patients can only be picked for an all-patients or Group export."
	case pr.Param == "patient":
		return fmt.Sprintf("Patients: %q is not a valid patient id.", strings.TrimPrefix(pr.Value, "Patient/"))
	case pr.Param == "_outputFormat":
		return "Output format must be application/fhir+ndjson (or leave it empty)."
	case pr.Param == "organizeOutputBy":
		return "Organize output by must be a resource type such as Patient."
	case pr.Param == "includeAssociatedData" && pr.Reason == core.ReasonNotAssociated:
		return fmt.Sprintf("Associated data: %q should be LatestProvenanceResources, RelevantProvenanceResources or a _custom value.", pr.Value)
	}
	return pr.Error() + "."
}

// groupID takes the id out of a Group choice shown as "id — name".
func groupID(choice string) string {
	id, _, _ := strings.Cut(choice, " — ")
	return strings.TrimSpace(id)
}

// groupChoice shows a Group in the picker.
func groupChoice(g core.Group) string {
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
func parseInstant(s string) (string, error) {
	s = strings.TrimSpace(s)
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t.Format(time.RFC3339), nil
	}
	if _, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return s, nil
	}
	return "", fmt.Errorf("%q is not a date like 2024-01-31 or an instant like 2024-01-31T12:00:00Z.", s)
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
