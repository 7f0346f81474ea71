// Package shape finds which element paths occur in a sample of FHIR
// resources, how often, and with which example values: what a person picks
// columns from when building a view. It reads JSON only, no definitions, so
// it shows what the data holds rather than what FHIR allows.
package shape

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Defaults for zero Sampler fields.
const (
	DefaultMaxPaths    = 2000 // distinct paths kept; later new ones are dropped
	DefaultMaxExamples = 3
	maxDepth           = 12
	maxExampleLen      = 60
)

// Path is one element path seen in the sample.
type Path struct {
	// Path is the FHIRPath from the resource, e.g. "code.coding.code" or
	// "value.ofType(Quantity).value" for a choice element (FHIR R4, Choice
	// of Data Types [x]).
	Path   string
	Parent string // "" for a top-level element
	Name   string // the last step, as shown in a tree
	// Resources is how many sampled resources hold the path at least once.
	Resources int
	Share     float64 // Resources over the sample's size
	// Repeats says some step on the way is a list: a column needs forEach
	// (or a collection column) to take every value.
	Repeats  bool
	Leaf     bool     // a primitive value (string, number, boolean)
	Type     string   // for leaves: the FHIR type the JSON suggests (string, decimal, integer, boolean, dateTime...)
	Examples []string // up to MaxExamples distinct values
	// Each is the path's outermost repeating prefix (e.g. "component" for
	// "component.code.coding.code"): the forEach a column on this path
	// would want; "" when nothing repeats. Nested says something repeats
	// again below Each, so a column under forEach Each still needs first()
	// (or collection) there.
	Each   string
	Nested bool
}

// Sampler collects paths from resources given to Add. The zero value is
// ready to use; it is not safe for concurrent use.
type Sampler struct {
	MaxPaths    int
	MaxExamples int

	n     int
	paths map[string]*Path
	seen  map[string]bool // paths seen in the current resource
}

// Add records the paths of one resource's JSON.
func (s *Sampler) Add(raw []byte) error {
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		return fmt.Errorf("resource: %w", err)
	}
	if s.paths == nil {
		s.paths = make(map[string]*Path)
	}
	s.n++
	s.seen = make(map[string]bool)
	s.object(m, "", "", false, 0)
	return nil
}

// Resources is how many resources were added.
func (s *Sampler) Resources() int { return s.n }

// Paths returns the paths seen, parents before children, siblings by name.
func (s *Sampler) Paths() []Path {
	out := make([]Path, 0, len(s.paths))
	for _, p := range s.paths {
		c := *p
		c.Share = float64(c.Resources) / float64(s.n)
		c.Examples = slices.Clone(p.Examples)
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b Path) int { return cmp.Compare(a.Path, b.Path) })
	return out
}

func (s *Sampler) object(m map[string]any, parent, each string, nested bool, depth int) {
	if depth > maxDepth {
		return
	}
	for k, v := range m {
		if k == "resourceType" || k == "contained" || (parent == "" && k == "text") || strings.HasPrefix(k, "_") {
			continue
		}
		name := step(k)
		p := name
		if parent != "" {
			p = parent + "." + name
		}
		s.value(v, p, parent, name, each, nested, depth, choiceType(k))
	}
}

func (s *Sampler) value(v any, path, parent, name, each string, nested bool, depth int, typ string) {
	if list, ok := v.([]any); ok {
		if each == "" {
			each = path
		} else {
			nested = true
		}
		for _, e := range list {
			if _, ok := e.([]any); ok {
				continue // JSON allows a list in a list; FHIR does not
			}
			s.value(e, path, parent, name, each, nested, depth, typ)
		}
		return
	}
	p := s.record(path, parent, name, each, nested)
	if p == nil {
		return
	}
	switch v := v.(type) {
	case map[string]any:
		s.object(v, path, each, nested, depth+1)
	case string:
		p.Leaf = true
		p.Type = cmp.Or(typ, p.Type, textType(v))
		s.example(p, v)
	case float64:
		p.Leaf = true
		if p.Type == "" || p.Type == "integer" {
			p.Type = cmp.Or(typ, "integer")
			if v != float64(int64(v)) {
				p.Type = cmp.Or(typ, "decimal")
			}
		}
		s.example(p, fmt.Sprint(v))
	case bool:
		p.Leaf = true
		p.Type = "boolean"
		s.example(p, fmt.Sprint(v))
	}
}

func (s *Sampler) record(path, parent, name, each string, nested bool) *Path {
	p, ok := s.paths[path]
	if !ok {
		if len(s.paths) >= cmp.Or(s.MaxPaths, DefaultMaxPaths) {
			return nil
		}
		p = &Path{Path: path, Parent: parent, Name: name}
		s.paths[path] = p
	}
	if each != "" {
		p.Repeats = true
		if p.Each == "" || len(each) < len(p.Each) {
			p.Each = each
		}
		p.Nested = p.Nested || nested
	}
	if !s.seen[path] {
		s.seen[path] = true
		p.Resources++
	}
	return p
}

func (s *Sampler) example(p *Path, v string) {
	if len(p.Examples) >= cmp.Or(s.MaxExamples, DefaultMaxExamples) {
		return
	}
	if len(v) > maxExampleLen {
		cut := maxExampleLen
		for cut > 0 && !utf8.RuneStart(v[cut]) {
			cut--
		}
		v = v[:cut] + "…"
	}
	if !slices.Contains(p.Examples, v) {
		p.Examples = append(p.Examples, v)
	}
}

// choicePrefixes are the choice elements ([x]) analysts meet most, in FHIR
// R4's clinical resources: a key such as valueQuantity is the element value
// of type Quantity. Other keys are taken as they are, so that an element
// like birthDate is never mistaken for a choice.
var choicePrefixes = []string{
	"value", "effective", "onset", "abatement", "deceased", "multipleBirth", "occurrence",
	"performed", "medication", "reported", "asNeeded", "serviced", "born", "timing",
}

// step is the FHIRPath step for a JSON key: a choice element becomes
// name.ofType(Type) (FHIRPath, Types and Reflection: ofType).
func step(key string) string {
	for _, pre := range choicePrefixes {
		if len(key) > len(pre) && strings.HasPrefix(key, pre) {
			suffix := key[len(pre):]
			if r, _ := utf8.DecodeRuneInString(suffix); unicode.IsUpper(r) {
				return pre + ".ofType(" + fhirType(suffix) + ")"
			}
		}
	}
	return key
}

// choiceType is the FHIR type a choice key names, "" for other keys.
func choiceType(key string) string {
	st := step(key)
	if i := strings.Index(st, ".ofType("); i >= 0 {
		return strings.TrimSuffix(st[i+len(".ofType("):], ")")
	}
	return ""
}

// fhirType turns a choice suffix into its type name: primitive types start
// in lower case (DateTime is dateTime), complex ones as they are.
func fhirType(suffix string) string {
	switch suffix {
	case "Boolean", "Integer", "Decimal", "String", "Date", "DateTime", "Instant", "Time", "Uri", "Code", "Canonical", "Url", "Id", "Markdown", "Base64Binary", "Oid", "Uuid", "PositiveInt", "UnsignedInt", "Integer64":
		return strings.ToLower(suffix[:1]) + suffix[1:]
	}
	return suffix
}

// textType guesses a string's FHIR type from its form: a date
// (YYYY-MM-DD), a dateTime (with a time), else string.
func textType(v string) string {
	isDigits := func(s string) bool {
		for _, r := range s {
			if r < '0' || r > '9' {
				return false
			}
		}
		return s != ""
	}
	if len(v) >= 10 && isDigits(v[0:4]) && v[4] == '-' && isDigits(v[5:7]) && v[7] == '-' && isDigits(v[8:10]) {
		if len(v) == 10 {
			return "date"
		}
		if v[10] == 'T' {
			return "dateTime"
		}
	}
	return "string"
}
