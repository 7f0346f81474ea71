package shape_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"tranche.dev/tranche/core/shape"
)

func TestSampler(t *testing.T) {
	var s shape.Sampler
	for _, r := range []string{
		`{"resourceType":"Observation","id":"1","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"8480-6"}]},"valueQuantity":{"value":120.5,"unit":"mm[Hg]"},"effectiveDateTime":"2020-01-02T10:00:00Z","text":{"div":"<div/>"}}`,
		`{"resourceType":"Observation","id":"2","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"8462-4"},{"system":"http://loinc.org","code":"8462-4"}]},"valueQuantity":{"value":80,"unit":"mm[Hg]"}}`,
		`{"resourceType":"Observation","id":"3","status":"amended","valueString":"see note","issued":"2020-01-03"}`,
		`{"resourceType":"Patient","id":"4","birthDate":"1970-05-06","deceasedBoolean":false,"name":[{"given":["Ann","B"]}]}`,
	} {
		if err := s.Add([]byte(r)); err != nil {
			t.Fatalf("Add(%s): %v", r, err)
		}
	}
	got := map[string]shape.Path{}
	for _, p := range s.Paths() {
		p.Share = 0
		got[p.Path] = p
	}
	want := map[string]shape.Path{
		"name": {Path: "name", Name: "name", Resources: 1, Repeats: true, Each: "name"},
		"name.given": {Path: "name.given", Parent: "name", Name: "given", Resources: 1, Repeats: true, Each: "name", Nested: true,
			Leaf: true, Type: "string", Examples: []string{"Ann", "B"}},
		"id":     {Path: "id", Name: "id", Resources: 4, Leaf: true, Type: "string", Examples: []string{"1", "2", "3"}},
		"status": {Path: "status", Name: "status", Resources: 3, Leaf: true, Type: "string", Examples: []string{"final", "amended"}},
		"code":   {Path: "code", Name: "code", Resources: 2},
		"code.coding": {Path: "code.coding", Parent: "code", Name: "coding", Resources: 2,
			Repeats: true, Each: "code.coding"},
		"code.coding.code": {Path: "code.coding.code", Parent: "code.coding", Name: "code", Resources: 2,
			Repeats: true, Each: "code.coding", Leaf: true, Type: "string", Examples: []string{"8480-6", "8462-4"}},
		"code.coding.system": {Path: "code.coding.system", Parent: "code.coding", Name: "system", Resources: 2,
			Repeats: true, Each: "code.coding", Leaf: true, Type: "string", Examples: []string{"http://loinc.org"}},
		"value.ofType(Quantity)": {Path: "value.ofType(Quantity)", Name: "value.ofType(Quantity)", Resources: 2},
		"value.ofType(Quantity).value": {Path: "value.ofType(Quantity).value", Parent: "value.ofType(Quantity)", Name: "value",
			Resources: 2, Leaf: true, Type: "decimal", Examples: []string{"120.5", "80"}},
		"value.ofType(Quantity).unit": {Path: "value.ofType(Quantity).unit", Parent: "value.ofType(Quantity)", Name: "unit",
			Resources: 2, Leaf: true, Type: "string", Examples: []string{"mm[Hg]"}},
		"value.ofType(string)": {Path: "value.ofType(string)", Name: "value.ofType(string)", Resources: 1,
			Leaf: true, Type: "string", Examples: []string{"see note"}},
		"effective.ofType(dateTime)": {Path: "effective.ofType(dateTime)", Name: "effective.ofType(dateTime)", Resources: 1,
			Leaf: true, Type: "dateTime", Examples: []string{"2020-01-02T10:00:00Z"}},
		"issued": {Path: "issued", Name: "issued", Resources: 1, Leaf: true, Type: "date", Examples: []string{"2020-01-03"}},
		// birthDate is not a choice element.
		"birthDate": {Path: "birthDate", Name: "birthDate", Resources: 1, Leaf: true, Type: "date", Examples: []string{"1970-05-06"}},
		"deceased.ofType(boolean)": {Path: "deceased.ofType(boolean)", Name: "deceased.ofType(boolean)", Resources: 1,
			Leaf: true, Type: "boolean", Examples: []string{"false"}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Paths() (-want +got):\n%s", diff)
	}
	if got, want := s.Resources(), 4; got != want {
		t.Errorf("Resources() = %d, want %d", got, want)
	}
}

func TestSampler_Share(t *testing.T) {
	var s shape.Sampler
	for _, r := range []string{`{"a":1}`, `{"a":2}`, `{"b":1}`, `{"a":[3,4]}`} {
		if err := s.Add([]byte(r)); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range s.Paths() {
		if p.Path == "a" && p.Share != 0.75 {
			t.Errorf("share of a = %v, want 0.75 (three resources of four, counted once each)", p.Share)
		}
	}
}

func TestSampler_Bounded(t *testing.T) {
	s := shape.Sampler{MaxPaths: 2, MaxExamples: 1}
	if err := s.Add([]byte(`{"a":"x","b":"y","c":"z","d":{"e":1}}`)); err != nil {
		t.Fatal(err)
	}
	if err := s.Add([]byte(`{"a":"w"}`)); err != nil {
		t.Fatal(err)
	}
	ps := s.Paths()
	if len(ps) != 2 {
		t.Fatalf("Paths() = %d paths, want MaxPaths 2", len(ps))
	}
	for _, p := range ps {
		if len(p.Examples) > 1 {
			t.Errorf("%s has examples %q, want at most 1", p.Path, p.Examples)
		}
	}
}

func TestSampler_BadJSON(t *testing.T) {
	var s shape.Sampler
	if err := s.Add([]byte(`{"a":`)); err == nil {
		t.Fatal("Add(truncated JSON) = nil, want an error")
	}
	if err := s.Add([]byte(`[1]`)); err == nil {
		t.Fatal("Add(a list) = nil, want an error")
	}
}

func FuzzSampler(f *testing.F) {
	f.Add([]byte(`{"resourceType":"Observation","valueQuantity":{"value":1},"code":{"coding":[{"code":"x"}]}}`))
	f.Add([]byte(`{"a":[[[{"b":[1,2]}]]],"valueX":"y"}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		s := shape.Sampler{MaxPaths: 50}
		if s.Add(raw) != nil {
			return
		}
		for _, p := range s.Paths() {
			if p.Resources != 1 || p.Share != 1 {
				t.Fatalf("%s: Resources %d Share %v after one resource", p.Path, p.Resources, p.Share)
			}
		}
	})
}
