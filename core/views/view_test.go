package views_test

import (
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
	"time"

	"tranche.dev/tranche/core/views"
)

func TestParseErrors(t *testing.T) {
	tests := []struct{ name, view, want string }{
		{"NotObject", `[]`, "a ViewDefinition is a JSON object"},
		{"NoResource", `{"select":[{"column":[{"name":"id","path":"id"}]}]}`, "resource: missing"},
		{"BadResource", `{"resource":"patient","select":[{"column":[{"name":"id","path":"id"}]}]}`, `resource: "patient" is not a FHIR resource type`},
		{"ResourceTypo", `{"resource":"Observaton","select":[{"column":[{"name":"id","path":"id"}]}]}`, `resource: "Observaton" is not a FHIR resource type`},
		{"WrongResourceType", `{"resourceType":"Patient","resource":"Patient","select":[{"column":[{"name":"id","path":"id"}]}]}`, "resourceType: want ViewDefinition, got Patient"},
		{"NoSelect", `{"resource":"Patient"}`, "select: a view needs at least one select"},
		{"BadName", `{"resource":"Patient","name":"1x","select":[{"column":[{"name":"id","path":"id"}]}]}`, `name: "1x" is not a valid name (letters, digits and _, starting with a letter)`},
		{"UnknownFunction", `{"resource":"Patient","select":[{"column":[{"name":"id","path":"id"}]},{"column":[{"name":"a","path":"id"},{"name":"b","path":"name.where(fooo())"}]}]}`,
			"select[1].column[1].path: unknown function 'fooo' at 12"},
		{"DuplicateColumn", `{"resource":"Patient","select":[{"column":[{"name":"id","path":"id"}]},{"forEach":"name","column":[{"name":"id","path":"family"}]}]}`,
			`select[1].column[0].name: column name "id" is already used at select[0].column[0]`},
		{"BadColumnName", `{"resource":"Patient","select":[{"column":[{"name":"my col","path":"id"}]}]}`,
			`select[0].column[0].name: "my col" is not a valid column name (letters, digits and _, starting with a letter)`},
		{"MissingPath", `{"resource":"Patient","select":[{"column":[{"name":"id"}]}]}`, "select[0].column[0].path: missing"},
		{"BadType", `{"resource":"Patient","select":[{"column":[{"name":"id","path":"id","type":"HumanName"}]}]}`,
			`select[0].column[0].type: "HumanName" is not a FHIR primitive type`},
		{"TypeURI", `{"resource":"Patient","select":[{"column":[{"name":"id","path":"id","type":"http://hl7.org/fhir/StructureDefinition/idd"}]}]}`,
			`select[0].column[0].type: "idd" is not a FHIR primitive type`},
		{"CollectionNotBool", `{"resource":"Patient","select":[{"column":[{"name":"id","path":"id","collection":"yes"}]}]}`,
			`select[0].column[0].collection: want true or false, got "yes"`},
		{"ForEachNotString", `{"resource":"Patient","select":[{"forEach":1,"column":[{"name":"id","path":"id"}]}]}`,
			"select[0].forEach: want a string, got 1"},
		{"ForEachAndOrNull", `{"resource":"Patient","select":[{"forEach":"name","forEachOrNull":"name","column":[{"name":"id","path":"id"}]}]}`,
			"select[0]: a select has at most one of forEach, forEachOrNull and repeat"},
		{"ForEachAndRepeat", `{"resource":"Patient","select":[{"forEach":"name","repeat":["item"],"column":[{"name":"id","path":"id"}]}]}`,
			"select[0]: a select has at most one of forEach, forEachOrNull and repeat"},
		{"EmptyRepeat", `{"resource":"Patient","select":[{"repeat":[],"column":[{"name":"id","path":"id"}]}]}`,
			"select[0].repeat: want a non-empty list of FHIRPath expressions"},
		{"BadRepeat", `{"resource":"Patient","select":[{"repeat":["item","item.("],"column":[{"name":"id","path":"id"}]}]}`,
			"select[0].repeat[1]: expected a name after '.', found '(' at 6"},
		{"EmptySelect", `{"resource":"Patient","select":[{"forEach":"name"}]}`, "select[0]: a select needs a column, select or unionAll"},
		{"UnionMismatch", `{"resource":"Patient","select":[{"unionAll":[{"column":[{"name":"a","path":"id"},{"name":"b","path":"id"}]},{"column":[{"name":"b","path":"id"},{"name":"a","path":"id"}]}]}]}`,
			"select[0].unionAll[1]: unionAll branches must have the same columns in the same order: (a, b) and (b, a)"},
		{"UnionCount", `{"resource":"Patient","select":[{"unionAll":[{"column":[{"name":"a","path":"id"}]},{"column":[{"name":"a","path":"id"},{"name":"b","path":"id"}]}]}]}`,
			"select[0].unionAll[1]: unionAll branches must have the same columns: (a) and (a, b)"},
		{"UnionTypes", `{"resource":"Patient","select":[{"unionAll":[{"column":[{"name":"a","path":"id","type":"id"}]},{"column":[{"name":"a","path":"id","type":"string"}]}]}]}`,
			"select[0].unionAll[1]: column a is id in one unionAll branch and string in another"},
		{"UnionDuplicatesOuter", `{"resource":"Patient","select":[{"column":[{"name":"a","path":"id"}],"unionAll":[{"column":[{"name":"a","path":"id"}]}]}]}`,
			`select[0].unionAll[0].column[0].name: column name "a" is already used at select[0].column[0]`},
		{"UnknownConstant", `{"resource":"Patient","select":[{"column":[{"name":"a","path":"name.where(use = %nope)"}]}]}`,
			"select[0].column[0].path: unknown constant '%nope' at 18"},
		{"ConstantNoValue", `{"resource":"Patient","constant":[{"name":"x"}],"select":[{"column":[{"name":"a","path":"%x"}]}]}`,
			`constant[0]: constant "x" has no value[x]`},
		{"ConstantTwoValues", `{"resource":"Patient","constant":[{"name":"x","valueString":"a","valueCode":"b"}],"select":[{"column":[{"name":"a","path":"%x"}]}]}`,
			"constant[0]: a constant has exactly one value[x]"},
		{"ConstantBadInteger", `{"resource":"Patient","constant":[{"name":"x","valueInteger":1.5}],"select":[{"column":[{"name":"a","path":"%x"}]}]}`,
			"constant[0].valueInteger: 1.5 is not an integer"},
		{"ConstantBadDate", `{"resource":"Patient","constant":[{"name":"x","valueDate":"2020-02-30"}],"select":[{"column":[{"name":"a","path":"%x"}]}]}`,
			`constant[0].valueDate: "2020-02-30" is not a valid date`},
		{"ConstantWrongKind", `{"resource":"Patient","constant":[{"name":"x","valueBoolean":"true"}],"select":[{"column":[{"name":"a","path":"%x"}]}]}`,
			`constant[0].valueBoolean: "true" is not a valid boolean`},
		{"ConstantDuplicate", `{"resource":"Patient","constant":[{"name":"x","valueString":"a"},{"name":"x","valueString":"b"}],"select":[{"column":[{"name":"a","path":"%x"}]}]}`,
			`constant[1].name: constant "x" is defined twice`},
		{"ConstantRowIndex", `{"resource":"Patient","constant":[{"name":"rowIndex","valueInteger":1}],"select":[{"column":[{"name":"a","path":"%rowIndex"}]}]}`,
			"constant[0].name: rowIndex is reserved for %rowIndex"},
		{"WherePath", `{"resource":"Patient","select":[{"column":[{"name":"a","path":"id"}]}],"where":[{"path":"active and"}]}`,
			"where[0].path: unexpected end of expression at 11"},
		{"WhereNotCondition", `{"resource":"Patient","select":[{"column":[{"name":"a","path":"id"}]}],"where":[{"path":"active"},{"path":"name.family.join(',')"}]}`,
			"where[1].path: gives a string, not a boolean"},
		{"WhereMissingPath", `{"resource":"Patient","select":[{"column":[{"name":"a","path":"id"}]}],"where":[{}]}`,
			"where[0].path: missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := views.Parse([]byte(tt.view))
			if err == nil {
				t.Fatalf("Parse succeeded, want error %q", tt.want)
			}
			if got := err.Error(); got != tt.want {
				t.Errorf("Parse error = %q, want %q", got, tt.want)
			}
		})
	}
}

const obsView = `{
  "resourceType": "ViewDefinition", "name": "obs", "resource": "Observation", "status": "active",
  "constant": [{"name": "loinc", "valueUri": "http://loinc.org"}],
  "select": [
    {"column": [
      {"name": "id", "path": "getResourceKey()", "type": "id", "description": "the key"},
      {"name": "patient", "path": "subject.getReferenceKey(Patient)", "type": "string"},
      {"name": "value", "path": "value.ofType(Quantity).value", "type": "decimal"},
      {"name": "when", "path": "effective.ofType(dateTime)", "type": "dateTime"},
      {"name": "n", "path": "component.count()", "type": "integer"},
      {"name": "final", "path": "status = 'final'", "type": "boolean"}
    ]},
    {"forEachOrNull": "code.coding.where(system = %loinc)", "column": [
      {"name": "code", "path": "code", "type": "code"},
      {"name": "codes", "path": "%resource.code.coding.code", "type": "code", "collection": true}
    ]}
  ],
  "where": [{"path": "status != 'cancelled'"}]
}`

func TestRows(t *testing.T) {
	v, err := views.Parse([]byte(obsView))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := v.Resource(), "Observation"; got != want {
		t.Errorf("Resource() = %q, want %q", got, want)
	}
	if got, want := v.Name(), "obs"; got != want {
		t.Errorf("Name() = %q, want %q", got, want)
	}
	wantCols := []views.Column{
		{Name: "id", Type: "id", Description: "the key"}, {Name: "patient", Type: "string"},
		{Name: "value", Type: "decimal"}, {Name: "when", Type: "dateTime"}, {Name: "n", Type: "integer"},
		{Name: "final", Type: "boolean"}, {Name: "code", Type: "code"}, {Name: "codes", Type: "code", Collection: true},
	}
	if got := v.Columns(); !reflect.DeepEqual(got, wantCols) {
		t.Errorf("Columns() = %+v, want %+v", got, wantCols)
	}
	tests := []struct {
		name, resource string
		want           [][]any
	}{
		{"TwoCodings",
			`{"resourceType":"Observation","id":"o1","status":"final","subject":{"reference":"Patient/p1"},
			  "code":{"coding":[{"system":"http://loinc.org","code":"8867-4"},{"system":"http://snomed.info/sct","code":"364075005"},{"system":"http://loinc.org","code":"8889-8"}]},
			  "valueQuantity":{"value":72.50,"unit":"/min"},"effectiveDateTime":"2020-01-02T10:00:00+01:00","component":[{},{}]}`,
			[][]any{
				{"o1", "p1", json.Number("72.50"), "2020-01-02T10:00:00+01:00", int64(2), true, "8867-4", []any{"8867-4", "364075005", "8889-8"}},
				{"o1", "p1", json.Number("72.50"), "2020-01-02T10:00:00+01:00", int64(2), true, "8889-8", []any{"8867-4", "364075005", "8889-8"}},
			}},
		{"NoCodingIsOneNullRow",
			`{"resourceType":"Observation","id":"o2","status":"preliminary","subject":{"reference":"Group/g1"},"valueQuantity":{"value":1e2}}`,
			[][]any{{"o2", nil, json.Number("1e2"), nil, int64(0), false, nil, []any{}}}},
		{"FilteredByWhere", `{"resourceType":"Observation","id":"o3","status":"cancelled"}`, nil},
		{"OtherResourceType", `{"resourceType":"Patient","id":"p1"}`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := v.Rows([]byte(tt.resource))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Rows =\n%#v\nwant\n%#v", got, tt.want)
			}
		})
	}
}

func TestRowsErrors(t *testing.T) {
	tests := []struct{ name, view, resource, want string }{
		{"NotJSON", `{"resource":"Patient","select":[{"column":[{"name":"id","path":"id"}]}]}`, `{"resourceType":`,
			"resource: unexpected EOF"},
		{"NotObject", `{"resource":"Patient","select":[{"column":[{"name":"id","path":"id"}]}]}`, `[1]`,
			"resource: not a JSON object"},
		{"CollectionNotDeclared", `{"resource":"Patient","select":[{"column":[{"name":"fam","path":"name.family"}]}]}`,
			`{"resourceType":"Patient","name":[{"family":"a"},{"family":"b"}]}`,
			"select[0].column[0].path: 2 values in column fam, which is not declared a collection"},
		{"ComplexValue", `{"resource":"Patient","select":[{"column":[{"name":"n","path":"name"}]}]}`,
			`{"resourceType":"Patient","name":[{"family":"a"}]}`,
			"select[0].column[0].path: column n holds an element, not a primitive value"},
		{"WhereNotBoolean", `{"resource":"Patient","select":[{"column":[{"name":"id","path":"id"}]}],"where":[{"path":"name.family"}]}`,
			`{"resourceType":"Patient","name":[{"family":"a"}]}`,
			"where[0].path: want a boolean, got a string"},
		{"ExpressionFails", `{"resource":"Patient","select":[{"column":[{"name":"x","path":"name.family.upper()"}]}]}`,
			`{"resourceType":"Patient","name":[{"family":"a"},{"family":"b"}]}`,
			"select[0].column[0].path: upper(): expected one string, got 2 items at 13"},
		{"ForEachFails", `{"resource":"Patient","select":[{"forEach":"name.family.lower()","column":[{"name":"x","path":"$this"}]}]}`,
			`{"resourceType":"Patient","name":[{"family":"a"},{"family":"b"}]}`,
			"select[0].forEach: lower(): expected one string, got 2 items at 13"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := views.Parse([]byte(tt.view))
			if err != nil {
				t.Fatal(err)
			}
			rows, err := v.Rows([]byte(tt.resource))
			if err == nil {
				t.Fatalf("Rows = %v, want error %q", rows, tt.want)
			}
			if got := err.Error(); got != tt.want {
				t.Errorf("Rows error = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestRowShapes covers forEach, nested selects, unionAll, repeat and
// %rowIndex on one questionnaire-like resource.
func TestRowShapes(t *testing.T) {
	res := `{"resourceType":"QuestionnaireResponse","id":"q",
	  "item":[{"linkId":"1","item":[{"linkId":"1.1","answer":[{"valueInteger":5,"item":[{"linkId":"1.1.1"}]}]}]},{"linkId":"2"}]}`
	tests := []struct {
		name, view string
		want       [][]any
	}{
		{"RepeatDepthFirst",
			`{"resource":"QuestionnaireResponse","select":[{"repeat":["item","answer.item"],"column":[{"name":"i","path":"%rowIndex"},{"name":"l","path":"linkId"}]}]}`,
			[][]any{{int64(0), "1"}, {int64(1), "1.1"}, {int64(2), "1.1.1"}, {int64(3), "2"}}},
		{"ForEachEmptyDropsResource",
			`{"resource":"QuestionnaireResponse","select":[{"column":[{"name":"id","path":"id"}]},{"forEach":"author","column":[{"name":"a","path":"display"}]}]}`,
			nil},
		{"NestedForEachOrNull",
			`{"resource":"QuestionnaireResponse","select":[{"forEach":"item","column":[{"name":"l","path":"linkId"}],"select":[{"forEachOrNull":"item","column":[{"name":"c","path":"linkId"},{"name":"i","path":"%rowIndex"}]}]}]}`,
			[][]any{{"1", "1.1", int64(0)}, {"2", nil, int64(0)}}},
		{"UnionAllOrder",
			`{"resource":"QuestionnaireResponse","select":[{"column":[{"name":"id","path":"id"}],"unionAll":[{"forEach":"item","column":[{"name":"x","path":"linkId"}]},{"column":[{"name":"x","path":"'none'"}]}]}]}`,
			[][]any{{"q", "1"}, {"q", "2"}, {"q", "none"}}},
		{"ChoiceValue",
			`{"resource":"QuestionnaireResponse","select":[{"forEach":"item.item.answer","column":[{"name":"v","path":"value.ofType(integer) * 2"},{"name":"s","path":"value.ofType(string)"}]}]}`,
			[][]any{{int64(10), nil}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := views.Parse([]byte(tt.view))
			if err != nil {
				t.Fatal(err)
			}
			got, err := v.Rows([]byte(res))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Rows = %#v, want %#v", got, tt.want)
			}
		})
	}
}

func TestWithClock(t *testing.T) {
	v, err := views.Parse([]byte(`{"resource":"Patient","select":[{"column":[{"name":"age","path":"today().toString().substring(0, 4).toInteger() - birthDate.substring(0, 4).toInteger()"}]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	v = v.WithClock(func() time.Time { return time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC) })
	got, err := v.Rows([]byte(`{"resourceType":"Patient","birthDate":"1970-06-01"}`))
	if err != nil {
		t.Fatal(err)
	}
	if want := [][]any{{int64(56)}}; !reflect.DeepEqual(got, want) {
		t.Errorf("Rows = %v, want %v", got, want)
	}
}

// TestConcurrentRows runs one View from many goroutines; run with -race.
func TestConcurrentRows(t *testing.T) {
	v, err := views.Parse([]byte(obsView))
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 8)
	for g := range 8 {
		go func() {
			for i := range 50 {
				id := fmt.Sprintf("o%d-%d", g, i)
				rows, err := v.Rows([]byte(`{"resourceType":"Observation","id":"` + id + `","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"1"}]}}`))
				if err == nil && (len(rows) != 1 || rows[0][0] != id) {
					err = fmt.Errorf("rows %v for %s", rows, id)
				}
				if err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(obsView))
	f.Add([]byte(`{"resource":"Patient","select":[{"unionAll":[{"column":[{"name":"a","path":"id"}]},{"repeat":["link"],"column":[{"name":"a","path":"id"}]}]}]}`))
	f.Add([]byte(`{"resource":"Patient","constant":[{"name":"d","valueDate":"2020"}],"select":[{"column":[{"name":"a","path":"birthDate < %d"}]}]}`))
	resource := []byte(`{"resourceType":"Patient","id":"p","name":[{"family":"a","given":["b","c"]}],"link":[{"other":{"reference":"Patient/p"}}]}`)
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := views.Parse(data)
		if err != nil {
			return
		}
		cols := v.Columns()
		rows, err := v.Rows(resource)
		if err != nil {
			return
		}
		for _, r := range rows {
			if len(r) != len(cols) {
				t.Fatalf("row %v has %d values for %d columns", r, len(r), len(cols))
			}
		}
	})
}
