package bulk

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"tranche.dev/tranche/core"
)

// instantRE is a FHIR instant: a full date-time with seconds and a timezone.
var instantRE = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?(Z|[+-][0-9]{2}:[0-9]{2})$`)

// typeRE is a FHIR resource type name.
var typeRE = regexp.MustCompile(`^[A-Z][A-Za-z]{1,63}$`)

// resultParams may not appear in a _typeFilter query (§2.5).
var resultParams = []string{"_sort", "_include", "_revinclude", "_elements", "_count", "_summary", "_contained", "_containedType", "_total"}

// Validate checks an export request before anything is sent, so a typo is a
// clear error rather than a filter the server silently ignores
// (bulk-data-client #12). known, when not nil, lists the resource types the
// server's CapabilityStatement declares; types outside it are refused.
func Validate(req core.ExportRequest, known []string) error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	switch req.Level {
	case core.LevelSystem, core.LevelPatient:
		if req.GroupID != "" {
			bad("a group id needs the group level")
		}
	case core.LevelGroup:
		if req.GroupID == "" {
			bad("group level needs a group id")
		} else if strings.ContainsAny(req.GroupID, "/?#") {
			bad("group id %q: a bare id, without slashes", req.GroupID)
		}
	default:
		bad("level %q: want system, patient or group", req.Level)
	}
	for _, p := range []struct{ name, v string }{{"_since", req.Since}, {"_until", req.Until}} {
		if p.v != "" && !ValidInstant(p.v) {
			bad("%s %q is not a FHIR instant such as 2024-01-31T00:00:00Z (date, time with seconds, and timezone)", p.name, p.v)
		}
	}
	if req.Since != "" && req.Until != "" && ValidInstant(req.Since) && ValidInstant(req.Until) {
		s, _ := time.Parse(time.RFC3339Nano, req.Since)
		u, _ := time.Parse(time.RFC3339Nano, req.Until)
		if !s.Before(u) {
			bad("_since %s is not before _until %s", req.Since, req.Until)
		}
	}
	checkType := func(what, t string) {
		switch {
		case !typeRE.MatchString(t):
			bad("%s %q is not a resource type name", what, t)
		case known != nil && !slices.Contains(known, t) && !req.Lenient:
			// Lenient mode skips this check: some servers export types
			// their CapabilityStatement does not list (the SMART reference
			// server lists 14 of its 19), and lenient asks the server to
			// decide (Bulk Data Access IG, Export: Bulk Data Kick-off Request, Headers).
			bad("%s %q: the server's CapabilityStatement does not list this type (check the spelling, or use lenient mode to ask the server anyway)", what, t)
		}
	}
	for _, t := range req.Types {
		checkType("_type", t)
	}
	for _, e := range req.Elements {
		typ, elem, ok := strings.Cut(e, ".")
		if !ok {
			elem, typ = typ, ""
		}
		if typ != "" {
			checkType("_elements", typ)
		}
		if elem == "" || strings.ContainsAny(elem, ".,/ ") {
			bad("_elements %q: want Type.element or element (top-level elements only)", e)
		}
	}
	for _, f := range req.TypeFilters {
		if err := checkTypeFilter(f); err != nil {
			errs = append(errs, err)
		} else {
			typ, _, _ := strings.Cut(f, "?")
			checkType("_typeFilter", typ)
		}
	}
	if len(req.Patients) > 0 && req.Level == core.LevelSystem {
		bad("patient cannot be used at system level (use patient or group level)")
	}
	for _, p := range req.Patients {
		if id := strings.TrimPrefix(p, "Patient/"); id == "" || strings.ContainsAny(id, "/?# ") {
			bad("patient %q: want Patient/<id> or <id>", p)
		}
	}
	for _, v := range req.IncludeAssociatedData {
		if v != "LatestProvenanceResources" && v != "RelevantProvenanceResources" && !strings.HasPrefix(v, "_") {
			bad("includeAssociatedData %q: want LatestProvenanceResources, RelevantProvenanceResources or a _custom value", v)
		}
	}
	switch req.AssociatedDataAs {
	case "", core.AssociatedDataCode:
	case core.AssociatedDataCoding:
		if len(req.IncludeAssociatedData) > 0 && !usePOST(req) {
			// A GET query has no place for a Coding's system (§2.2).
			bad("includeAssociatedData as a Coding needs a POST kick-off")
		}
	default:
		bad("includeAssociatedData encoding %q: want %s or %s", req.AssociatedDataAs, core.AssociatedDataCode, core.AssociatedDataCoding)
	}
	if req.OrganizeOutputBy != "" {
		checkType("organizeOutputBy", req.OrganizeOutputBy)
	}
	if len(errs) > 0 {
		return fmt.Errorf("invalid export request: %w", errors.Join(errs...))
	}
	return nil
}

// ValidInstant reports whether s is a FHIR instant.
func ValidInstant(s string) bool {
	if !instantRE.MatchString(s) {
		return false
	}
	_, err := time.Parse(time.RFC3339Nano, s)
	return err == nil
}

// checkTypeFilter checks one _typeFilter value: a single "Type?query" (v3
// semantics, §2.5) without result parameters.
func checkTypeFilter(f string) error {
	typ, q, ok := strings.Cut(f, "?")
	if !ok || typ == "" || q == "" {
		return fmt.Errorf("_typeFilter %q: want Type?param=value, e.g. Observation?category=laboratory", f)
	}
	vals, err := url.ParseQuery(q)
	if err != nil {
		return fmt.Errorf("_typeFilter %q: %w", f, err)
	}
	for k := range vals {
		if k == "" {
			return fmt.Errorf("_typeFilter %q: empty parameter name", f)
		}
		if slices.Contains(resultParams, k) {
			return fmt.Errorf("_typeFilter %q: %s is a result parameter and not allowed in a filter", f, k)
		}
	}
	return nil
}

// kickoffPath is the path below the FHIR base for req's level.
func kickoffPath(req core.ExportRequest) string {
	switch req.Level {
	case core.LevelSystem:
		return "$export"
	case core.LevelGroup:
		return "Group/" + url.PathEscape(req.GroupID) + "/$export"
	}
	return "Patient/$export"
}

// adaptToServer settles what the server's Bulk Data version decides and
// req leaves open (Bulk Data Access IG, Export: Bulk Data Kick-off Request (GET and POST); docs/protocol.md, Versions): a v4 server takes
// kick-offs by POST only ("GET requests SHALL NOT be used to kick off")
// and includeAssociatedData as a Coding; other and unknown versions take
// it as a code. caps may be empty (no CapabilityStatement). The settled
// request is what gets stored, so a resumed kick-off sends the same.
func adaptToServer(req *core.ExportRequest, caps *Capabilities, log *slog.Logger) {
	version := caps.BulkDataVersion(req.Level)
	v4 := majorVersion(version) >= 4
	if v4 && !req.POST {
		req.POST = true
		log.Info("the server follows Bulk Data v4, which takes no GET kick-off: kicking off by POST", "version", version)
	}
	if req.AssociatedDataAs == "" && len(req.IncludeAssociatedData) > 0 {
		req.AssociatedDataAs = core.AssociatedDataCode
		if v4 {
			req.AssociatedDataAs = core.AssociatedDataCoding
		}
	}
}

// usePOST reports whether the kick-off must be a POST: patient is "POST
// requests only" (§2.4), or the caller asked for it.
func usePOST(req core.ExportRequest) bool {
	return req.POST || len(req.Patients) > 0
}

// query returns the GET parameters. Lists that v1 servers accept only
// comma-joined (_type, _elements, includeAssociatedData) are joined;
// _typeFilter is one parameter per query (v3 semantics, valid in v2).
func query(req core.ExportRequest) url.Values {
	v := url.Values{}
	set := func(k, s string) {
		if s != "" {
			v.Set(k, s)
		}
	}
	set("_outputFormat", req.OutputFormat)
	set("_since", req.Since)
	set("_until", req.Until)
	set("_type", strings.Join(req.Types, ","))
	set("_elements", strings.Join(req.Elements, ","))
	set("includeAssociatedData", strings.Join(req.IncludeAssociatedData, ","))
	for _, f := range req.TypeFilters {
		v.Add("_typeFilter", f)
	}
	set("organizeOutputBy", req.OrganizeOutputBy)
	if req.AllowPartialManifests {
		v.Set("allowPartialManifests", "true")
	}
	return v
}

type parameter struct {
	Name           string          `json:"name"`
	ValueString    string          `json:"valueString,omitempty"`
	ValueInstant   string          `json:"valueInstant,omitempty"`
	ValueCode      string          `json:"valueCode,omitempty"`
	ValueCoding    *coding         `json:"valueCoding,omitempty"`
	ValueBoolean   *bool           `json:"valueBoolean,omitempty"`
	ValueReference *referenceValue `json:"valueReference,omitempty"`
}

type referenceValue struct {
	Reference string `json:"reference"`
}

type coding struct {
	System string `json:"system,omitempty"`
	Code   string `json:"code"`
}

// associatedDataSystem is the Bulk Data IG's CodeSystem for the predefined
// includeAssociatedData values (v4, Bulk Data Access IG, Export: Bulk Data Kick-off Request (GET and POST)).
const associatedDataSystem = "http://hl7.org/fhir/uv/bulkdata/CodeSystem/include-associated-data"

// associatedData returns one includeAssociatedData entry. v2/v3 take a
// valueCode; v4 a valueCoding (Bulk Data Access IG, Export: Bulk Data Kick-off Request (GET and POST); docs/protocol.md, Versions). The IG's
// CodeSystem holds only the two predefined values (its content is
// complete), so a _custom value, which the server defines (§2.4), is sent
// as a Coding with its code alone: naming the IG's system would claim a
// code it does not have, and we know no other.
func associatedData(code string, asCoding bool) parameter {
	p := parameter{Name: "includeAssociatedData"}
	switch {
	case !asCoding:
		p.ValueCode = code
	case strings.HasPrefix(code, "_"):
		p.ValueCoding = &coding{Code: code}
	default:
		p.ValueCoding = &coding{System: associatedDataSystem, Code: code}
	}
	return p
}

// parameters returns the POST body: a FHIR Parameters resource with one
// entry per value (v4 forbids comma lists; v2/v3 treat repeats as one list).
// associatedAsCoding encodes includeAssociatedData the v4 way.
func parameters(req core.ExportRequest, associatedAsCoding bool) ([]byte, error) {
	var ps []parameter
	str := func(name string, vals ...string) {
		for _, s := range vals {
			if s != "" {
				ps = append(ps, parameter{Name: name, ValueString: s})
			}
		}
	}
	str("_outputFormat", req.OutputFormat)
	if req.Since != "" {
		ps = append(ps, parameter{Name: "_since", ValueInstant: req.Since})
	}
	if req.Until != "" {
		ps = append(ps, parameter{Name: "_until", ValueInstant: req.Until})
	}
	str("_type", req.Types...)
	str("_elements", req.Elements...)
	for _, p := range req.Patients {
		if !strings.HasPrefix(p, "Patient/") {
			p = "Patient/" + p
		}
		ps = append(ps, parameter{Name: "patient", ValueReference: &referenceValue{Reference: p}})
	}
	for _, c := range req.IncludeAssociatedData {
		ps = append(ps, associatedData(c, associatedAsCoding))
	}
	str("_typeFilter", req.TypeFilters...)
	str("organizeOutputBy", req.OrganizeOutputBy)
	if req.AllowPartialManifests {
		t := true
		ps = append(ps, parameter{Name: "allowPartialManifests", ValueBoolean: &t})
	}
	if ps == nil {
		ps = []parameter{}
	}
	return json.Marshal(map[string]any{"resourceType": "Parameters", "parameter": ps})
}
