package bulk

import (
	"encoding/json"
	"log/slog"
	"net/url"
	"strings"

	"tranche.dev/tranche/core"
)

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
// requests only" (Bulk Data Access IG, Export: Bulk Data Kick-off Request, Query Parameters), or the caller asked for it.
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
// complete), so a _custom value, which the server defines (Bulk Data Access IG, Export: Bulk Data Kick-off Request, Query Parameters), is sent
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
