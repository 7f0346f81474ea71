package demo

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
)

// mandatory lists the R4 elements with minimum cardinality 1 per type;
// _elements never removes them (Bulk Data: "SHOULD always keep mandatory
// elements"). Choice elements are named without [x].
var mandatory = map[string][]string{
	"AllergyIntolerance": {"patient"},
	"Condition":          {"subject"},
	"DiagnosticReport":   {"status", "code"},
	"DocumentReference":  {"status", "content"},
	"Encounter":          {"status", "class"},
	"Group":              {"type", "actual"},
	"Immunization":       {"status", "vaccineCode", "patient", "occurrence"},
	"MedicationRequest":  {"status", "intent", "medication", "subject"},
	"Observation":        {"status", "code"},
	"Procedure":          {"status", "subject"},
	"Provenance":         {"target", "recorded", "agent"},
	"PractitionerRole":   {},
	"Bundle":             {"type"},
}

// choiceElements are the [x] elements of the types we serve, so that
// "value" keeps valueQuantity but "status" does not keep statusReason.
var choiceElements = map[string]bool{
	"value": true, "effective": true, "onset": true, "abatement": true, "occurrence": true,
	"medication": true, "deceased": true, "multipleBirth": true, "performed": true,
	"reported": true, "born": true, "asserted": true, "occurred": true, "timing": true,
}

var elementRE = regexp.MustCompile(`^[a-z][A-Za-z0-9]*$`)

// elements is a parsed _elements parameter: names for every type and
// names qualified with one type.
type elements struct {
	any    []string
	byType map[string][]string
}

// parseElements parses the comma-joined _elements values.
func parseElements(vals []string, known func(string) bool) (*elements, []error) {
	if len(vals) == 0 {
		return nil, nil
	}
	e := &elements{byType: make(map[string][]string)}
	var errs []error
	for _, v := range vals {
		typ, name, qualified := strings.Cut(v, ".")
		if !qualified {
			typ, name = "", v
		}
		switch {
		case qualified && !known(typ):
			errs = append(errs, fmt.Errorf("_elements %q: unknown resource type %q", v, typ))
		case !elementRE.MatchString(name):
			errs = append(errs, fmt.Errorf("_elements %q: only root element names are allowed", v))
		case qualified:
			e.byType[typ] = append(e.byType[typ], name)
		default:
			e.any = append(e.any, name)
		}
	}
	return e, errs
}

// keep returns the set of root elements kept for typ.
func (e *elements) keep(typ string) map[string]bool {
	k := map[string]bool{"resourceType": true, "id": true, "meta": true}
	for _, n := range e.any {
		k[n] = true
	}
	for _, n := range e.byType[typ] {
		k[n] = true
	}
	for _, n := range mandatory[typ] {
		k[n] = true
	}
	return k
}

func kept(key string, keep map[string]bool) bool {
	key = strings.TrimPrefix(key, "_") // primitive extensions follow their element
	if keep[key] {
		return true
	}
	for name := range choiceElements {
		if len(key) > len(name) && strings.HasPrefix(key, name) && keep[name] {
			c := key[len(name)]
			return c >= 'A' && c <= 'Z'
		}
	}
	return false
}

var subsettedTag = json.RawMessage(`{"system":"http://terminology.hl7.org/CodeSystem/v3-ObservationValue","code":"SUBSETTED","display":"subsetted"}`)

// subset removes unkept root elements from one resource, keeping the
// order of the rest, and tags it SUBSETTED in meta.tag.
func subset(js []byte, keep map[string]bool) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(js))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, fmt.Errorf("subset: resource is not a JSON object")
	}
	var out bytes.Buffer
	out.WriteByte('{')
	first, sawMeta := true, false
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("subset: %w", err)
		}
		key, _ := t.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, fmt.Errorf("subset: %w", err)
		}
		if !kept(key, keep) {
			continue
		}
		if key == "meta" {
			sawMeta = true
			if raw, err = tagSubsetted(raw); err != nil {
				return nil, err
			}
		}
		if !first {
			out.WriteByte(',')
		}
		first = false
		kb, _ := json.Marshal(key)
		out.Write(kb)
		out.WriteByte(':')
		out.Write(raw)
	}
	if !sawMeta {
		if !first {
			out.WriteByte(',')
		}
		out.WriteString(`"meta":{"tag":[`)
		out.Write(subsettedTag)
		out.WriteString(`]}`)
	}
	out.WriteByte('}')
	return out.Bytes(), nil
}

func tagSubsetted(meta json.RawMessage) (json.RawMessage, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(meta, &m); err != nil {
		return nil, fmt.Errorf("subset: meta: %w", err)
	}
	var tags []json.RawMessage
	if t, ok := m["tag"]; ok {
		if err := json.Unmarshal(t, &tags); err != nil {
			return nil, fmt.Errorf("subset: meta.tag: %w", err)
		}
	}
	tags = append(tags, subsettedTag)
	tb, _ := json.Marshal(tags)
	m["tag"] = tb
	return json.Marshal(m)
}
