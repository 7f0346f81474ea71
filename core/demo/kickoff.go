package demo

import (
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"
)

// level is the scope of an export (Bulk Data Access IG, Export: Bulk Data Kick-off Request (endpoints)).
type level int

const (
	levelSystem level = iota
	levelPatient
	levelGroup
)

func (l level) String() string {
	return [...]string{"system", "patient", "group"}[l]
}

// outputFormats are the _outputFormat spellings of NDJSON (Bulk Data Access IG, Export: Bulk Data Kick-off Request, Query Parameters).
var outputFormats = []string{"application/fhir+ndjson", "application/ndjson", "ndjson"}

// provenance modes of includeAssociatedData.
const (
	provDefault  = ""
	provRelevant = "RelevantProvenanceResources"
	provLatest   = "LatestProvenanceResources"
)

// exportParams is a validated kick-off.
type exportParams struct {
	level       level
	groupID     string
	types       []string // sorted, all readable and exportable
	since       *time.Time
	until       *time.Time
	elements    *elements
	patients    []int // patient indexes; nil = everyone at this level
	typeFilters map[string][]typeFilter
	provenance  string   // provRelevant, provLatest or provDefault
	notes       []string // lenient: one per ignored parameter (for error[])
}

// kickoffError is a rejected kick-off: status and OperationOutcome.
type kickoffError struct {
	status int
	code   string
	msg    string
}

func (e *kickoffError) Error() string { return e.msg }

func badRequest(format string, args ...any) *kickoffError {
	return &kickoffError{status: http.StatusBadRequest, code: "invalid", msg: fmt.Sprintf(format, args...)}
}

// paramKinds are the kick-off parameters and the Parameters value[x] each
// takes in a POST body (Bulk Data Access IG, Export: Bulk Data Kick-off Request (GET and POST)). comma marks the ones whose GET
// values are comma lists (repeats are joined, Bulk Data v2).
var paramKinds = map[string]struct {
	value []string
	comma bool
}{
	"_outputFormat":         {[]string{"valueString"}, false},
	"_since":                {[]string{"valueInstant"}, false},
	"_until":                {[]string{"valueInstant"}, false},
	"_type":                 {[]string{"valueString"}, true},
	"_elements":             {[]string{"valueString"}, true},
	"patient":               {[]string{"valueReference"}, false},
	"_typeFilter":           {[]string{"valueString"}, false},
	"includeAssociatedData": {[]string{"valueCode", "valueCoding"}, true},
	"organizeOutputBy":      {[]string{"valueString"}, false},
	"allowPartialManifests": {[]string{"valueBoolean"}, false},
}

// rawParams are kick-off parameters as strings, by name, in order.
type rawParams map[string][]string

// readParams collects parameters from the query string (GET) or from the
// Parameters body (POST).
func readParams(r *http.Request) (rawParams, *kickoffError) {
	p := rawParams{}
	for name, vals := range r.URL.Query() {
		p[name] = append(p[name], vals...)
	}
	if r.Method != http.MethodPost {
		return p, nil
	}
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt != ctFHIRJSON && mt != ctJSON {
		return nil, badRequest("POST kick-off needs a Parameters body with Content-Type application/fhir+json")
	}
	var body struct {
		ResourceType string                       `json:"resourceType"`
		Parameter    []map[string]json.RawMessage `json:"parameter"`
	}
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, maxKickoffBody))
	if err := dec.Decode(&body); err != nil {
		if tooLarge(err) {
			return nil, &kickoffError{status: http.StatusRequestEntityTooLarge, code: "too-costly",
				msg: fmt.Sprintf("POST body is over %d bytes", maxKickoffBody)}
		}
		return nil, badRequest("POST body is not JSON: %v", err)
	}
	if body.ResourceType != "Parameters" {
		return nil, badRequest("POST body must be a FHIR Parameters resource, got resourceType %q", body.ResourceType)
	}
	for i, prm := range body.Parameter {
		var name string
		if err := json.Unmarshal(prm["name"], &name); err != nil || name == "" {
			return nil, badRequest("Parameters.parameter[%d] has no name", i)
		}
		kind, known := paramKinds[name]
		if !known {
			p[name] = append(p[name], "") // reported as unknown later
			continue
		}
		v, err := paramValue(name, prm, kind.value)
		if err != nil {
			return nil, badRequest("Parameters.parameter[%d] (%s): %v", i, name, err)
		}
		p[name] = append(p[name], v)
	}
	return p, nil
}

// paramValue reads the value[x] of one Parameters entry as a string.
func paramValue(name string, prm map[string]json.RawMessage, allowed []string) (string, error) {
	var key string
	for k := range prm {
		if strings.HasPrefix(k, "value") {
			if key != "" {
				return "", errors.New("more than one value[x]")
			}
			key = k
		}
	}
	if !slices.Contains(allowed, key) {
		return "", fmt.Errorf("want %s, got %q", strings.Join(allowed, " or "), key)
	}
	raw := prm[key]
	switch key {
	case "valueBoolean":
		var b bool
		if err := json.Unmarshal(raw, &b); err != nil {
			return "", errors.New("valueBoolean is not a boolean")
		}
		return fmt.Sprint(b), nil
	case "valueReference":
		var ref struct{ Reference string }
		if err := json.Unmarshal(raw, &ref); err != nil || ref.Reference == "" {
			return "", errors.New("valueReference needs a reference")
		}
		return ref.Reference, nil
	case "valueCoding":
		var c struct{ System, Code string }
		if err := json.Unmarshal(raw, &c); err != nil || c.Code == "" {
			return "", errors.New("valueCoding needs a code")
		}
		if err := checkCodingSystem(name, c.System, c.Code); err != nil {
			return "", err
		}
		return c.Code, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil || s == "" {
		return "", fmt.Errorf("%s must be a non-empty string", key)
	}
	return s, nil
}

// associatedDataSystem is the IG CodeSystem of the predefined
// includeAssociatedData values, which v4 sends as a Coding (Bulk Data
// Access IG v4, Export: Bulk Data Kick-off Request; docs/protocol.md,
// Versions).
const associatedDataSystem = "http://hl7.org/fhir/uv/bulkdata/CodeSystem/include-associated-data"

// checkCodingSystem checks the system of an includeAssociatedData Coding.
// A predefined value may name the IG's CodeSystem or no system at all; a
// _custom value is the server's own, not in that CodeSystem, so it has no
// system (Tranche's client sends it so). Any other system is a 400: this
// server knows no other code system for the parameter, and reading the
// code alone would guess at what the client meant.
func checkCodingSystem(name, system, code string) error {
	switch {
	case name != "includeAssociatedData" || system == "":
		return nil
	case system != associatedDataSystem:
		return fmt.Errorf("valueCoding system %q is not %s", system, associatedDataSystem)
	case strings.HasPrefix(code, "_"):
		return fmt.Errorf("custom value %q is not a code of %s; send it without a system", code, system)
	}
	return nil
}

// list returns a parameter's values, comma lists split when the parameter
// allows them.
func (p rawParams) list(name string) []string {
	var out []string
	for _, v := range p[name] {
		if paramKinds[name].comma {
			for _, part := range strings.Split(v, ",") {
				if part = strings.TrimSpace(part); part != "" {
					out = append(out, part)
				}
			}
		} else if v != "" {
			out = append(out, v)
		}
	}
	return out
}

// one returns the single value of name, or an error if it is repeated.
func (p rawParams) one(name string) (string, *kickoffError) {
	vals := p[name]
	switch len(vals) {
	case 0:
		return "", nil
	case 1:
		return vals[0], nil
	}
	return "", badRequest("%s may be given only once", name)
}

// preferences reads the Prefer header(s).
type preferences struct {
	async, lenient, separate bool
}

func readPrefer(r *http.Request) preferences {
	var p preferences
	for _, h := range r.Header.Values("Prefer") {
		for _, tok := range strings.Split(h, ",") {
			switch strings.ToLower(strings.ReplaceAll(strings.TrimSpace(tok), " ", "")) {
			case "respond-async":
				p.async = true
			case "handling=lenient":
				p.lenient = true
			case "separate-export-status":
				p.separate = true
			}
		}
	}
	return p
}

// acceptsFHIRJSON reports whether the kick-off's Accept allows the
// OperationOutcome format, application/fhir+json (Bulk Data Access IG, Export: Bulk Data Kick-off Request, Headers): that
// type itself or a range covering it (*/*, as curl sends, or application/*).
func acceptsFHIRJSON(accept string) bool {
	if strings.TrimSpace(accept) == "" {
		return true // v2: the server MAY assume application/fhir+json
	}
	for _, part := range strings.Split(accept, ",") {
		mt, _, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err == nil && (mt == ctFHIRJSON || mt == "*/*" || mt == "application/*") {
			return true
		}
	}
	return false
}

// sortedKeys returns the map's keys in order, for deterministic messages.
func sortedKeys(p rawParams) []string {
	keys := make([]string, 0, len(p))
	for k := range p {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// requestURL is the manifest's "request": the kick-off URL, without the
// parameters for a POST (v2).
func (s *Server) requestURL(r *http.Request) string {
	u := url.URL{Path: r.URL.Path}
	if r.Method == http.MethodGet {
		u.RawQuery = r.URL.RawQuery
	}
	return s.root + u.String()
}
