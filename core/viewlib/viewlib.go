// Package viewlib is Tranche's library of built-in SQL on FHIR v2
// ViewDefinitions for the common analyses: patient demographics,
// observations (vital signs and laboratory results), blood pressures,
// conditions, medication requests, encounters, immunizations, procedures,
// allergies and diagnostic reports. They follow what analysts publish: the
// SQL on FHIR specification's own examples (patient_demographics,
// us_core_blood_pressures) and US Core's elements (LOINC, SNOMED CT,
// RxNorm, CVX codes), not the demo data. Each view gives one row per
// resource, with getResourceKey() as id and getReferenceKey(Patient) as
// patient_id, so any two views join on them.
package viewlib

import (
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
)

//go:embed views/*.json
var viewFS embed.FS

// View is one built-in ViewDefinition.
type View struct {
	Name        string // its name, also the file name and the table name
	Title       string
	Resource    string
	Description string
	JSON        []byte // the ViewDefinition
}

// All returns the built-in views, sorted by name.
func All() []View {
	names, err := fs.Glob(viewFS, "views/*.json")
	if err != nil {
		panic(err) // a malformed pattern: a programming error
	}
	var out []View
	for _, n := range names {
		v, err := load(n)
		if err != nil {
			panic(err) // the embedded files are tested
		}
		out = append(out, v)
	}
	slices.SortFunc(out, func(a, b View) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// Lookup returns the built-in view called name.
func Lookup(name string) (View, bool) {
	if name == "" || strings.ContainsAny(name, "/\\.") {
		return View{}, false
	}
	v, err := load(path.Join("views", name+".json"))
	return v, err == nil
}

func load(file string) (View, error) {
	b, err := viewFS.ReadFile(file)
	if err != nil {
		return View{}, err
	}
	var vd struct {
		Name, Title, Resource, Description string
	}
	if err := json.Unmarshal(b, &vd); err != nil {
		return View{}, fmt.Errorf("%s: %w", file, err)
	}
	return View{Name: vd.Name, Title: vd.Title, Resource: vd.Resource, Description: vd.Description, JSON: b}, nil
}
