package demo

import (
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strings"
)

// searchParam is one search parameter usable in _typeFilter.
type searchParam struct {
	Name  string
	Kind  string   // "token" or "date" (FHIR search parameter types)
	Paths []string // dotted JSON paths from the resource root
	Doc   string
}

// commonParams apply to every type.
var commonParams = []searchParam{
	{Name: "_id", Kind: "token", Paths: []string{"id"}, Doc: "Logical id"},
	{Name: "_lastUpdated", Kind: "date", Paths: []string{"meta.lastUpdated"}, Doc: "When the resource last changed"},
}

// searchParams are the _typeFilter parameters per type: a useful subset of
// the R4 definitions, token params by code or system|code with comma OR,
// date params with the eq, ne, gt, ge, lt, le, sa and eb prefixes.
var searchParams = map[string][]searchParam{
	"Observation": {
		{Name: "code", Kind: "token", Paths: []string{"code"}, Doc: "The code of the observation type"},
		{Name: "category", Kind: "token", Paths: []string{"category"}, Doc: "The classification of the type of observation"},
		{Name: "status", Kind: "token", Paths: []string{"status"}, Doc: "The status of the observation"},
		{Name: "date", Kind: "date", Paths: []string{"effectiveDateTime", "effectivePeriod", "effectiveInstant"}, Doc: "Clinically relevant time"},
	},
	"Condition": {
		{Name: "code", Kind: "token", Paths: []string{"code"}, Doc: "Code for the condition"},
		{Name: "category", Kind: "token", Paths: []string{"category"}, Doc: "The category of the condition"},
		{Name: "clinical-status", Kind: "token", Paths: []string{"clinicalStatus"}, Doc: "The clinical status of the condition"},
		{Name: "verification-status", Kind: "token", Paths: []string{"verificationStatus"}, Doc: "unconfirmed | provisional | differential | confirmed | refuted | entered-in-error"},
		{Name: "onset-date", Kind: "date", Paths: []string{"onsetDateTime", "onsetPeriod"}, Doc: "Date related onsets"},
	},
	"MedicationRequest": {
		{Name: "status", Kind: "token", Paths: []string{"status"}, Doc: "Status of the prescription"},
		{Name: "intent", Kind: "token", Paths: []string{"intent"}, Doc: "Returns prescriptions with different intents"},
		{Name: "code", Kind: "token", Paths: []string{"medicationCodeableConcept"}, Doc: "Return prescriptions of this medication code"},
		{Name: "authoredon", Kind: "date", Paths: []string{"authoredOn"}, Doc: "Return prescriptions written on this date"},
	},
	"Encounter": {
		{Name: "class", Kind: "token", Paths: []string{"class"}, Doc: "Classification of patient encounter"},
		{Name: "type", Kind: "token", Paths: []string{"type"}, Doc: "Specific type of encounter"},
		{Name: "status", Kind: "token", Paths: []string{"status"}, Doc: "planned | arrived | triaged | in-progress | onleave | finished | cancelled +"},
		{Name: "date", Kind: "date", Paths: []string{"period"}, Doc: "A date within the period the Encounter lasted"},
	},
	"Patient": {
		{Name: "gender", Kind: "token", Paths: []string{"gender"}, Doc: "Gender of the patient"},
		{Name: "birthdate", Kind: "date", Paths: []string{"birthDate"}, Doc: "The patient's date of birth"},
	},
	"Procedure": {
		{Name: "code", Kind: "token", Paths: []string{"code"}, Doc: "A code to identify a procedure"},
		{Name: "status", Kind: "token", Paths: []string{"status"}, Doc: "preparation | in-progress | not-done | on-hold | stopped | completed | entered-in-error | unknown"},
		{Name: "date", Kind: "date", Paths: []string{"performedDateTime", "performedPeriod"}, Doc: "When the procedure was performed"},
	},
	"Immunization": {
		{Name: "vaccine-code", Kind: "token", Paths: []string{"vaccineCode"}, Doc: "Vaccine Product Administered"},
		{Name: "status", Kind: "token", Paths: []string{"status"}, Doc: "Immunization event status"},
		{Name: "date", Kind: "date", Paths: []string{"occurrenceDateTime"}, Doc: "Vaccination (non)-Administration Date"},
	},
	"AllergyIntolerance": {
		{Name: "code", Kind: "token", Paths: []string{"code"}, Doc: "Code that identifies the allergy or intolerance"},
		{Name: "clinical-status", Kind: "token", Paths: []string{"clinicalStatus"}, Doc: "active | inactive | resolved"},
		{Name: "category", Kind: "token", Paths: []string{"category"}, Doc: "food | medication | environment | biologic"},
	},
	"DiagnosticReport": {
		{Name: "code", Kind: "token", Paths: []string{"code"}, Doc: "The code for the report"},
		{Name: "category", Kind: "token", Paths: []string{"category"}, Doc: "Which diagnostic discipline/department created the report"},
		{Name: "status", Kind: "token", Paths: []string{"status"}, Doc: "The status of the report"},
		{Name: "date", Kind: "date", Paths: []string{"effectiveDateTime", "effectivePeriod"}, Doc: "The clinically relevant time of the report"},
	},
	"DocumentReference": {
		{Name: "type", Kind: "token", Paths: []string{"type"}, Doc: "Kind of document"},
		{Name: "status", Kind: "token", Paths: []string{"status"}, Doc: "current | superseded | entered-in-error"},
		{Name: "date", Kind: "date", Paths: []string{"date"}, Doc: "When this document reference was created"},
	},
}

// paramsFor returns the _typeFilter parameters of typ, common ones last.
func paramsFor(typ string) []searchParam {
	return append(append([]searchParam(nil), searchParams[typ]...), commonParams...)
}

func findParam(typ, name string) (searchParam, bool) {
	for _, p := range paramsFor(typ) {
		if p.Name == name {
			return p, true
		}
	}
	return searchParam{}, false
}

// typeFilter is one _typeFilter value: all its conditions must hold (AND).
type typeFilter struct {
	typ   string
	conds []condition
}

// condition is one search parameter: any of its values may match (OR).
type condition struct {
	param  searchParam
	tokens []tokenValue
	dates  []dateValue
}

type tokenValue struct {
	system    string
	hasSystem bool // "system|code" or "|code" (empty system means none)
	code      string
}

// resultParams may not appear in a _typeFilter (Bulk Data Access IG v3, Export: Bulk Data Kick-off Request, _typeFilter).
var resultParams = map[string]bool{
	"_sort": true, "_count": true, "_include": true, "_revinclude": true, "_summary": true,
	"_elements": true, "_contained": true, "_containedType": true, "_total": true, "_format": true,
}

// parseTypeFilter parses one v3 _typeFilter value, "Type?param=value&...".
// Problems in single parameters come back in ignored when lenient, else as
// the error.
func parseTypeFilter(v string, known func(string) bool, lenient bool) (typeFilter, []string, error) {
	typ, query, ok := strings.Cut(v, "?")
	if !ok || typ == "" {
		return typeFilter{}, nil, fmt.Errorf("_typeFilter %q: want ResourceType?query", v)
	}
	if !known(typ) {
		return typeFilter{}, nil, fmt.Errorf("_typeFilter %q: unknown resource type %q", v, typ)
	}
	q, err := url.ParseQuery(query)
	if err != nil {
		return typeFilter{}, nil, fmt.Errorf("_typeFilter %q: bad query: %w", v, err)
	}
	if len(q) == 0 {
		return typeFilter{}, nil, fmt.Errorf("_typeFilter %q: empty query", v)
	}
	f := typeFilter{typ: typ}
	var ignored []string
	names := make([]string, 0, len(q))
	for name := range q {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		for _, val := range q[name] {
			c, err := parseCondition(typ, name, val)
			if err != nil {
				if lenient && !errors.Is(err, errResultParam) {
					ignored = append(ignored, fmt.Sprintf("_typeFilter %q: %v (ignored)", v, err))
					continue
				}
				return typeFilter{}, nil, fmt.Errorf("_typeFilter %q: %w", v, err)
			}
			f.conds = append(f.conds, c)
		}
	}
	return f, ignored, nil
}

var errResultParam = errors.New("result parameters are not allowed in _typeFilter")

func parseCondition(typ, name, val string) (condition, error) {
	if resultParams[name] {
		return condition{}, fmt.Errorf("%s: %w", name, errResultParam)
	}
	if strings.Contains(name, ":") || strings.Contains(name, ".") {
		return condition{}, fmt.Errorf("%s: modifiers and chained parameters are not supported", name)
	}
	p, ok := findParam(typ, name)
	if !ok {
		return condition{}, fmt.Errorf("search parameter %s not supported for %s", name, typ)
	}
	c := condition{param: p}
	for _, part := range splitEscaped(val, ',') {
		if part == "" {
			return condition{}, fmt.Errorf("%s: empty value", name)
		}
		switch p.Kind {
		case "token":
			t := tokenValue{code: part}
			if sys, code, ok := cutEscaped(part, '|'); ok {
				t = tokenValue{system: sys, hasSystem: true, code: code}
			}
			t.system, t.code = unescape(t.system), unescape(t.code)
			c.tokens = append(c.tokens, t)
		case "date":
			d, err := parseDateValue(unescape(part))
			if err != nil {
				return condition{}, fmt.Errorf("%s: %w", name, err)
			}
			c.dates = append(c.dates, d)
		}
	}
	return c, nil
}

// splitEscaped splits s at sep characters not escaped by a backslash.
func splitEscaped(s string, sep byte) []string {
	var parts []string
	start := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case sep:
			parts = append(parts, s[start:i])
			start = i + 1
		}
	}
	return append(parts, s[start:])
}

func cutEscaped(s string, sep byte) (string, string, bool) {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case sep:
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// matches reports whether the decoded resource satisfies every condition.
func (f typeFilter) matches(res map[string]any) bool {
	for _, c := range f.conds {
		if !c.matches(res) {
			return false
		}
	}
	return true
}

func (c condition) matches(res map[string]any) bool {
	var vals []any
	for _, p := range c.param.Paths {
		vals = appendPath(vals, res, strings.Split(p, "."))
	}
	switch c.param.Kind {
	case "token":
		for _, v := range vals {
			for _, have := range tokensOf(v) {
				for _, want := range c.tokens {
					if want.matches(have) {
						return true
					}
				}
			}
		}
	case "date":
		for _, v := range vals {
			sp, ok := spanOf(v)
			if !ok {
				continue
			}
			for _, d := range c.dates {
				if d.matches(sp) {
					return true
				}
			}
		}
	}
	return false
}

// appendPath appends the values at path in v, flattening arrays.
func appendPath(out []any, v any, path []string) []any {
	switch x := v.(type) {
	case []any:
		for _, e := range x {
			out = appendPath(out, e, path)
		}
		return out
	case map[string]any:
		if len(path) == 0 {
			return append(out, x)
		}
		if next, ok := x[path[0]]; ok {
			return appendPath(out, next, path[1:])
		}
		return out
	default:
		if len(path) == 0 && v != nil {
			return append(out, v)
		}
		return out
	}
}

// tokensOf reads codes from a code, Coding or CodeableConcept.
func tokensOf(v any) []tokenValue {
	switch x := v.(type) {
	case string:
		return []tokenValue{{code: x}}
	case map[string]any:
		if codings, ok := x["coding"].([]any); ok {
			var out []tokenValue
			for _, c := range codings {
				out = append(out, tokensOf(c)...)
			}
			return out
		}
		code, _ := x["code"].(string)
		sys, hasSys := x["system"].(string)
		if code != "" {
			return []tokenValue{{system: sys, hasSystem: hasSys, code: code}}
		}
	}
	return nil
}

func (want tokenValue) matches(have tokenValue) bool {
	if want.code != "" && want.code != have.code {
		return false
	}
	if !want.hasSystem {
		return want.code != ""
	}
	if want.system == "" { // "|code": codes with no system
		return !have.hasSystem || have.system == ""
	}
	return have.system == want.system
}
