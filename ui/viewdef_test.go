package ui

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"tranche.dev/tranche/core/views"
)

func TestViewDef_Build(t *testing.T) {
	d := &viewDef{Name: "bp", Resource: "Observation"}
	d.addColumn(viewColumn{Name: d.columnName("subject.reference"), Path: "subject.reference", Type: "string"}, "", true)
	d.addColumn(viewColumn{Name: d.columnName("component.value.ofType(Quantity).value"), Path: "value.ofType(Quantity).value", Type: "decimal"}, "component", false)
	d.addColumn(viewColumn{Name: d.columnName("component.code.coding.code"), Path: "code.coding.code.first()", Type: "string"}, "component", false)
	d.addColumn(viewColumn{Name: d.columnName("subject.reference"), Path: "subject.display", Type: "string"}, "", true)
	d.Where = []string{"status = 'final'"}
	d.Constants = []viewConstant{{Name: "bp", Type: "code", Value: []byte(`"85354-9"`)}}

	v, err := views.Parse(d.JSON())
	if err != nil {
		t.Fatalf("views.Parse(builder JSON) = %v\n%s", err, d.JSON())
	}
	var got []string
	for _, c := range v.Columns() {
		got = append(got, c.Name+":"+c.Type)
	}
	want := []string{"subject_reference:string", "subject_reference_2:string", "component_value_quantity_value:decimal", "component_code_coding_code:string"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("columns (-want +got):\n%s", diff)
	}
	if len(d.Select) != 2 || d.Select[1].ForEach != "component" {
		t.Errorf("selects = %+v, want a plain one and one forEach component", d.Select)
	}

	d.removeColumn("component_value_quantity_value")
	d.removeColumn("component_code_coding_code")
	if len(d.Select) != 1 {
		t.Errorf("after removing the forEach's columns: %d selects, want the empty one pruned", len(d.Select))
	}
}

func TestViewDef_RoundTrip(t *testing.T) {
	src := `{"resourceType":"ViewDefinition","name":"pd","version":"2","fhirVersion":["4.0.1"],"status":"active","resource":"Patient",
	"constant":[{"name":"sys","valueUri":"http://x"}],
	"select":[{"column":[{"name":"id","path":"getResourceKey()"}]},{"unionAll":[{"forEach":"name","column":[{"name":"n","path":"family"}]},{"forEach":"address","column":[{"name":"n","path":"city"}]}]}]}`
	d, err := parseViewDef([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	out := d.JSON()
	for _, want := range []string{`"version": "2"`, `"fhirVersion"`, `"status": "active"`, `"valueUri": "http://x"`, `"unionAll"`} {
		if !strings.Contains(string(out), want) {
			t.Errorf("round-tripped JSON lacks %s:\n%s", want, out)
		}
	}
	if _, err := views.Parse(out); err != nil {
		t.Errorf("views.Parse(round trip) = %v", err)
	}
	if got := len(d.columns()); got != 2 {
		t.Errorf("columns() = %d, want 2 (union branches share theirs)", got)
	}
}

func TestParseViewDef_Errors(t *testing.T) {
	for _, src := range []string{`[]`, `{"resourceType":"Patient"}`, `{"select":{}}`, `{"where":"x"}`, `{"name":1}`} {
		if _, err := parseViewDef([]byte(src)); err == nil {
			t.Errorf("parseViewDef(%s) = nil error, want one", src)
		}
	}
}

func TestExprProblem(t *testing.T) {
	for _, tt := range []struct{ src, want string }{
		{"", ""},
		{"name.family", ""},
		{"name.fooo()", "unknown function 'fooo'"},
		{"name.where(", "(at character"},
	} {
		if got := exprProblem(tt.src); tt.want == "" && got != "" || !strings.Contains(got, tt.want) {
			t.Errorf("exprProblem(%q) = %q, want %q", tt.src, got, tt.want)
		}
	}
}

func FuzzParseViewDef(f *testing.F) {
	f.Add([]byte(`{"resourceType":"ViewDefinition","resource":"Patient","select":[{"column":[{"name":"id","path":"id"}]}]}`))
	f.Add([]byte(`{"constant":[{"name":"a","valueInteger":1}],"where":[{"path":"x"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := parseViewDef(data)
		if err != nil {
			return
		}
		again, err := parseViewDef(d.JSON())
		if err != nil {
			t.Fatalf("parseViewDef(JSON()) = %v\n%s", err, d.JSON())
		}
		if string(again.JSON()) != string(d.JSON()) {
			t.Fatalf("JSON not stable:\n%s\n%s", d.JSON(), again.JSON())
		}
	})
}

// TestViewDef_ColumnAt: columnAt walks the columns in columns()' order,
// into nested selects and the first unionAll branch, and says what each
// column's select iterates.
func TestViewDef_ColumnAt(t *testing.T) {
	d, err := parseViewDef([]byte(`{"resourceType":"ViewDefinition","name":"v","resource":"Patient","select":[
		{"column":[{"name":"id","path":"id"}]},
		{"forEach":"name","column":[{"name":"family","path":"family"}],
		 "select":[{"forEachOrNull":"given","column":[{"name":"given","path":"$this"}]}]},
		{"unionAll":[{"forEach":"telecom","column":[{"name":"tel","path":"value"}]},
		             {"forEach":"contact.telecom","column":[{"name":"tel","path":"value"}]}]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for i := range len(d.columns()) + 1 {
		c, each := d.columnAt(i)
		if c == nil {
			got = append(got, "nil")
			continue
		}
		got = append(got, c.Name+"|"+each)
	}
	want := []string{"id|", "family|name", "given|given (or null)", "tel|telecom", "nil"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("columnAt (-want +got):\n%s", diff)
	}
	if c, _ := d.columnAt(-1); c != nil {
		t.Errorf("columnAt(-1) = %+v, want nil", c)
	}
	// The pointer edits the view in place.
	c, _ := d.columnAt(2)
	c.Name = "first_name"
	if names := d.columns(); names[2].Name != "first_name" {
		t.Errorf("after an edit through columnAt, columns = %+v", names)
	}
}
