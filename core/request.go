package core

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Reason says what is wrong with one value of an export request.
type Reason string

// Reasons a request is refused.
const (
	ReasonBadLevel        Reason = "bad level"           // not system, patient or group
	ReasonNoGroup         Reason = "no group"            // group level without a group id
	ReasonGroupNotWanted  Reason = "group not wanted"    // a group id at another level
	ReasonNotID           Reason = "not an id"           // not a FHIR id ([A-Za-z0-9-.]{1,64})
	ReasonNotInstant      Reason = "not an instant"      // not a FHIR instant
	ReasonInFuture        Reason = "in the future"       // _since after now
	ReasonNotBefore       Reason = "not before"          // _since not before _until
	ReasonNotTypeName     Reason = "not a type name"     // not a resource type name
	ReasonUnknownType     Reason = "unknown type"        // not in the CapabilityStatement (and not lenient)
	ReasonNotElement      Reason = "not an element"      // _elements: not Type.element or element
	ReasonNotFilter       Reason = "not a filter"        // _typeFilter: not Type?query
	ReasonResultParam     Reason = "result parameter"    // _typeFilter: a result parameter such as _sort
	ReasonTypeNotAsked    Reason = "type not asked"      // _typeFilter for a type not in _type
	ReasonAtSystemLevel   Reason = "at system level"     // patient at system level
	ReasonNotAssociated   Reason = "not associated data" // includeAssociatedData: an unknown value
	ReasonCodingNeedsPOST Reason = "coding needs POST"   // includeAssociatedData as Coding in a GET
	ReasonBadEncoding     Reason = "bad encoding"        // AssociatedDataAs: not code or coding
	ReasonBadFormat       Reason = "bad format"          // _outputFormat: not NDJSON
)

// Problem is one mistake in an export request: the parameter (as the Bulk
// Data IG names it), which of its values (Index, 0-based), the value and
// why it is refused. Its Error is a sentence for the command line; the
// desktop app words its own from Param, Index and Reason.
type Problem struct {
	Param  string
	Index  int
	Value  string
	Reason Reason
	Detail string // more about Reason, e.g. the result parameter's name
}

func (p *Problem) Error() string {
	switch p.Reason {
	case ReasonBadLevel:
		return fmt.Sprintf("level %q: want system, patient or group", p.Value)
	case ReasonNoGroup:
		return "group level needs a group id"
	case ReasonGroupNotWanted:
		return "a group id needs the group level"
	case ReasonNotID:
		return fmt.Sprintf("%s %q: a bare FHIR id (letters, digits, - and ., at most 64), without slashes", p.Param, p.Value)
	case ReasonNotInstant:
		return fmt.Sprintf("%s %q is not a FHIR instant such as 2024-01-31T00:00:00Z (date, time with seconds, and timezone)", p.Param, p.Value)
	case ReasonInFuture:
		return fmt.Sprintf("_since %s is in the future: nothing can have changed after it", p.Value)
	case ReasonNotBefore:
		return fmt.Sprintf("_since %s is not before _until %s", p.Value, p.Detail)
	case ReasonNotTypeName:
		return fmt.Sprintf("%s %q is not a resource type name", p.Param, p.Value)
	case ReasonUnknownType:
		return fmt.Sprintf("%s %q: the server's CapabilityStatement does not list this type (check the spelling, or use lenient mode to ask the server anyway)", p.Param, p.Value)
	case ReasonNotElement:
		return fmt.Sprintf("_elements %q: want Type.element or element (top-level elements only)", p.Value)
	case ReasonNotFilter:
		return fmt.Sprintf("_typeFilter %q: want Type?param=value, e.g. Observation?category=laboratory", p.Value)
	case ReasonResultParam:
		return fmt.Sprintf("_typeFilter %q: %s is a result parameter and not allowed in a filter", p.Value, p.Detail)
	case ReasonTypeNotAsked:
		return fmt.Sprintf("_typeFilter %q: %s is not among the _type types, so the filter would select nothing", p.Value, p.Detail)
	case ReasonAtSystemLevel:
		return "patient cannot be used at system level (use patient or group level)"
	case ReasonNotAssociated:
		return fmt.Sprintf("includeAssociatedData %q: want LatestProvenanceResources, RelevantProvenanceResources or a _custom value", p.Value)
	case ReasonCodingNeedsPOST:
		return "includeAssociatedData as a Coding needs a POST kick-off"
	case ReasonBadEncoding:
		return fmt.Sprintf("includeAssociatedData encoding %q: want %s or %s", p.Value, AssociatedDataCode, AssociatedDataCoding)
	case ReasonBadFormat:
		return fmt.Sprintf("_outputFormat %q: want application/fhir+ndjson (or application/ndjson, ndjson)", p.Value)
	}
	return fmt.Sprintf("%s %q: %s", p.Param, p.Value, p.Reason)
}

// RequestError lists every problem of an export request.
type RequestError struct {
	Problems []*Problem
}

func (e *RequestError) Error() string {
	var b strings.Builder
	b.WriteString("invalid export request: ")
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteString("\n")
		}
		b.WriteString(p.Error())
	}
	return b.String()
}

// Unwrap returns the problems, for errors.As.
func (e *RequestError) Unwrap() []error {
	errs := make([]error, len(e.Problems))
	for i, p := range e.Problems {
		errs[i] = p
	}
	return errs
}

// Checks is what Validate checks a request against.
type Checks struct {
	// KnownTypes lists the resource types the server's CapabilityStatement
	// declares; nil when unknown. Other types are refused unless the
	// request is lenient.
	KnownTypes []string
	// Now, when set, refuses a _since in the future.
	Now time.Time
}

var (
	// instantRE is a FHIR instant: a full date-time with seconds and a
	// timezone (FHIR R4, Data Types: instant).
	instantRE = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?(Z|[+-][0-9]{2}:[0-9]{2})$`)
	// typeRE is a FHIR resource type name.
	typeRE = regexp.MustCompile(`^[A-Z][A-Za-z]{1,63}$`)
	// idRE is a FHIR id (FHIR R4, Data Types: id).
	idRE = regexp.MustCompile(`^[A-Za-z0-9\-.]{1,64}$`)
	// elementRE is a top-level element name.
	elementRE = regexp.MustCompile(`^[a-z][A-Za-z0-9]*$`)
)

// resultParams may not appear in a _typeFilter query (Bulk Data Access IG
// v2, Export Request Flow: _typeFilter).
var resultParams = []string{"_sort", "_include", "_revinclude", "_elements", "_count", "_summary", "_contained", "_containedType", "_total"}

// outputFormats are the _outputFormat spellings the IG defines for NDJSON.
var outputFormats = []string{"application/fhir+ndjson", "application/ndjson", "ndjson"}

// ValidInstant reports whether s is a FHIR instant.
func ValidInstant(s string) bool {
	if !instantRE.MatchString(s) {
		return false
	}
	_, err := time.Parse(time.RFC3339Nano, s)
	return err == nil
}

// ValidID reports whether s is a FHIR id.
func ValidID(s string) bool { return idRE.MatchString(s) }

// Validate checks an export request before anything is sent, so a typo is
// a clear error rather than a filter the server silently ignores. It is
// the one rule the command line, the desktop app and the engine apply; it
// returns a *RequestError listing every problem, or nil.
func (r ExportRequest) Validate(c Checks) error {
	var ps []*Problem
	bad := func(param string, i int, v string, why Reason, detail string) {
		ps = append(ps, &Problem{Param: param, Index: i, Value: v, Reason: why, Detail: detail})
	}
	switch r.Level {
	case LevelSystem, LevelPatient:
		if r.GroupID != "" {
			bad("groupId", 0, r.GroupID, ReasonGroupNotWanted, "")
		}
	case LevelGroup:
		if r.GroupID == "" {
			bad("groupId", 0, "", ReasonNoGroup, "")
		} else if !ValidID(r.GroupID) {
			bad("groupId", 0, r.GroupID, ReasonNotID, "")
		}
	default:
		bad("level", 0, r.Level, ReasonBadLevel, "")
	}
	since, until := r.Since, r.Until
	if strings.EqualFold(since, "auto") {
		since = ""
	}
	for _, p := range []struct{ name, v string }{{"_since", since}, {"_until", until}} {
		if p.v != "" && !ValidInstant(p.v) {
			bad(p.name, 0, p.v, ReasonNotInstant, "")
		}
	}
	if since != "" && ValidInstant(since) {
		s, _ := time.Parse(time.RFC3339Nano, since)
		if !c.Now.IsZero() && s.After(c.Now) {
			bad("_since", 0, since, ReasonInFuture, "")
		}
		if until != "" && ValidInstant(until) {
			u, _ := time.Parse(time.RFC3339Nano, until)
			if !s.Before(u) {
				bad("_since", 0, since, ReasonNotBefore, until)
			}
		}
	}
	checkType := func(param string, i int, t string) bool {
		switch {
		case !typeRE.MatchString(t):
			bad(param, i, t, ReasonNotTypeName, "")
			return false
		case c.KnownTypes != nil && !slices.Contains(c.KnownTypes, t) && !r.Lenient:
			// Lenient mode skips this check: some servers export types
			// their CapabilityStatement does not list (the SMART reference
			// server lists 14 of its 19), and lenient asks the server to
			// decide (Bulk Data Access IG v2, Export Request Flow: Headers,
			// Prefer: handling=lenient).
			bad(param, i, t, ReasonUnknownType, "")
			return false
		}
		return true
	}
	for i, t := range r.Types {
		checkType("_type", i, t)
	}
	for i, e := range r.Elements {
		typ, elem, ok := strings.Cut(e, ".")
		if !ok {
			elem, typ = typ, ""
		}
		if typ != "" && !checkType("_elements", i, typ) {
			continue
		}
		if !elementRE.MatchString(elem) {
			bad("_elements", i, e, ReasonNotElement, "")
		}
	}
	for i, f := range r.TypeFilters {
		typ, q, ok := strings.Cut(f, "?")
		vals, err := url.ParseQuery(q)
		switch {
		case !ok || typ == "" || q == "" || err != nil || vals.Has(""):
			bad("_typeFilter", i, f, ReasonNotFilter, "")
			continue
		}
		if rp := slices.IndexFunc(resultParams, vals.Has); rp >= 0 {
			bad("_typeFilter", i, f, ReasonResultParam, resultParams[rp])
			continue
		}
		if !checkType("_typeFilter", i, typ) {
			continue
		}
		if len(r.Types) > 0 && !slices.Contains(r.Types, typ) {
			bad("_typeFilter", i, f, ReasonTypeNotAsked, typ)
		}
	}
	if len(r.Patients) > 0 && r.Level == LevelSystem {
		bad("patient", 0, "", ReasonAtSystemLevel, "")
	}
	for i, p := range r.Patients {
		if !ValidID(strings.TrimPrefix(p, "Patient/")) {
			bad("patient", i, p, ReasonNotID, "")
		}
	}
	for i, v := range r.IncludeAssociatedData {
		if v != "LatestProvenanceResources" && v != "RelevantProvenanceResources" && !strings.HasPrefix(v, "_") {
			bad("includeAssociatedData", i, v, ReasonNotAssociated, "")
		}
	}
	switch r.AssociatedDataAs {
	case "", AssociatedDataCode:
	case AssociatedDataCoding:
		if len(r.IncludeAssociatedData) > 0 && !r.POST && len(r.Patients) == 0 {
			// A GET query has no place for a Coding's system.
			bad("includeAssociatedData", 0, "", ReasonCodingNeedsPOST, "")
		}
	default:
		bad("associatedDataAs", 0, r.AssociatedDataAs, ReasonBadEncoding, "")
	}
	if r.OutputFormat != "" && !slices.Contains(outputFormats, r.OutputFormat) {
		bad("_outputFormat", 0, r.OutputFormat, ReasonBadFormat, "")
	}
	if r.OrganizeOutputBy != "" {
		checkType("organizeOutputBy", 0, r.OrganizeOutputBy)
	}
	if len(ps) > 0 {
		return &RequestError{Problems: ps}
	}
	return nil
}
