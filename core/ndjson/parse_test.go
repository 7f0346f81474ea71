package ndjson_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"tranche.dev/tranche/core"
	"tranche.dev/tranche/core/ndjson"
)

var parseTests = []struct {
	name string
	line string
	kind core.FileKind
	typ  string
	want core.Record
}{
	{"Patient", `{"resourceType":"Patient","id":"p1","meta":{"lastUpdated":"2024-01-02T03:04:05Z"}}`, core.KindOutput, "Patient",
		core.Record{ResourceType: "Patient", ID: "p1", LastUpdated: "2024-01-02T03:04:05Z", Patient: "Patient/p1"}},
	{"Subject", `{"resourceType":"Observation","id":"o1","subject":{"reference":"Patient/p2"},"valueQuantity":{"value":1.50}}`, core.KindOutput, "Observation",
		core.Record{ResourceType: "Observation", ID: "o1", Patient: "Patient/p2"}},
	{"AbsolutePatientReference", `{"resourceType":"Claim","id":"c","patient":{"reference":"https://ehr.example/fhir/Patient/p3/_history/2"}}`, core.KindOutput, "Claim",
		core.Record{ResourceType: "Claim", ID: "c", Patient: "Patient/p3"}},
	{"Beneficiary", `{"resourceType":"Coverage","id":"cv","beneficiary":{"reference":"Patient/p4"}}`, core.KindOutput, "",
		core.Record{ResourceType: "Coverage", ID: "cv", Patient: "Patient/p4"}},
	{"SubjectNotAPatient", `{"resourceType":"Observation","id":"o2","subject":{"reference":"Group/g"}}`, core.KindOutput, "Observation",
		core.Record{ResourceType: "Observation", ID: "o2"}},
	{"OddlyTypedSubject", `{"resourceType":"Observation","id":"o3","subject":"Patient/p"}`, core.KindOutput, "Observation",
		core.Record{ResourceType: "Observation", ID: "o3"}},
	{"NotPatientPrefix", `{"resourceType":"Observation","id":"o4","subject":{"reference":"RelatedPatient/x"}}`, core.KindOutput, "Observation",
		core.Record{ResourceType: "Observation", ID: "o4"}},
	{"InvalidJSON", `{"resourceType":"Patient",`, core.KindOutput, "Patient", core.Record{Problem: "invalid JSON"}},
	{"NotAnObject", `[1,2]`, core.KindOutput, "Patient", core.Record{Problem: "not a JSON object"}},
	{"NoResourceType", `{"id":"x"}`, core.KindOutput, "Patient", core.Record{ID: "x", Problem: "no resourceType"}},
	// FHIR JSON rules: UTF-8, each property once, a string id.
	{"InvalidUTF8", "{\"resourceType\":\"Patient\",\"id\":\"p\",\"name\":[{\"text\":\"Jos\xe9\"}]}", core.KindOutput, "Patient",
		core.Record{ResourceType: "Patient", ID: "p", Patient: "Patient/p", Problem: "not valid UTF-8"}},
	{"InvalidUTF8Outcome", "{\"resourceType\":\"OperationOutcome\",\"issue\":[{\"severity\":\"error\",\"diagnostics\":\"\xff\"}]}", core.KindError, "",
		core.Record{ResourceType: "OperationOutcome", Severity: "error", Problem: "not valid UTF-8"}},
	{"NoID", `{"resourceType":"Patient","active":true}`, core.KindOutput, "Patient",
		core.Record{ResourceType: "Patient", Problem: "no id"}},
	{"NumericID", `{"resourceType":"Patient","id":7}`, core.KindOutput, "Patient",
		core.Record{ResourceType: "Patient", Problem: "id is not a string"}},
	{"NullID", `{"resourceType":"Patient","id":null}`, core.KindOutput, "Patient",
		core.Record{ResourceType: "Patient", Problem: "id is not a string"}},
	{"EmptyID", `{"resourceType":"Patient","id":""}`, core.KindOutput, "Patient",
		core.Record{ResourceType: "Patient", Problem: "empty id"}},
	{"DuplicateKey", `{"resourceType":"Patient","id":"a","active":true,"id":"b"}`, core.KindOutput, "Patient",
		core.Record{ResourceType: "Patient", ID: "b", Patient: "Patient/b", Problem: `the property "id" appears twice (FHIR JSON allows each once)`}},
	{"DuplicateResourceType", `{"resourceType":"Patient","id":"a","resourceType":"Group"}`, core.KindOutput, "",
		core.Record{ResourceType: "Group", ID: "a", Problem: `the property "resourceType" appears twice (FHIR JSON allows each once)`}},
	// FHIR JSON allows each property once at every depth, not only at the top.
	{"DuplicateInMeta", `{"resourceType":"Patient","id":"p","meta":{"versionId":"1","versionId":"2"}}`, core.KindOutput, "Patient",
		core.Record{ResourceType: "Patient", ID: "p", Patient: "Patient/p", Problem: nestedDup("versionId")}},
	{"DuplicateInArrayOfObjects", `{"resourceType":"Patient","id":"p","name":[{"family":"A"},{"family":"B","given":["x"],"family":"C"}]}`, core.KindOutput, "Patient",
		core.Record{ResourceType: "Patient", ID: "p", Patient: "Patient/p", Problem: nestedDup("family")}},
	{"DuplicateInExtension", `{"resourceType":"Patient","id":"p","extension":[{"url":"http://x.example/a","valueString":"a","url":"http://x.example/b"}]}`, core.KindOutput, "Patient",
		core.Record{ResourceType: "Patient", ID: "p", Patient: "Patient/p", Problem: nestedDup("url")}},
	{"DuplicateInNestedExtension", `{"resourceType":"Patient","id":"p","extension":[{"url":"a","extension":[{"url":"b","valueCode":"c"},{"url":"b","valueCode":"c","valueCode":"d"}]}]}`, core.KindOutput, "Patient",
		core.Record{ResourceType: "Patient", ID: "p", Patient: "Patient/p", Problem: nestedDup("valueCode")}},
	{"DuplicateInPrimitiveExtension", `{"resourceType":"Patient","id":"p","birthDate":"2000-01-01","_birthDate":{"id":"x","id":"y"}}`, core.KindOutput, "Patient",
		core.Record{ResourceType: "Patient", ID: "p", Patient: "Patient/p", Problem: nestedDup("id")}},
	{"DuplicateEscaped", `{"resourceType":"Patient","id":"p","meta":{"source":"a","sourc\u0065":"b"}}`, core.KindOutput, "Patient",
		core.Record{ResourceType: "Patient", ID: "p", Patient: "Patient/p", Problem: nestedDup("source")}},
	{"DuplicateDeep", `{"resourceType":"Observation","id":"o","component":[{"code":{"coding":[{"system":"s","code":"1","system":"t"}]}}]}`, core.KindOutput, "Observation",
		core.Record{ResourceType: "Observation", ID: "o", Problem: nestedDup("system")}},
	{"SameKeyInSiblingsAndDepths", `{"resourceType":"Patient","id":"p","meta":{"id":"m","tag":[{"id":"t","code":"a"},{"id":"u","code":"b"}]},"contact":[{"id":"c","name":{"id":"n"}}]}`, core.KindOutput, "Patient",
		core.Record{ResourceType: "Patient", ID: "p", Patient: "Patient/p"}},
	{"KeyAfterNestedObjectCloses", `{"resourceType":"Patient","id":"p","a":{"b":1},"b":2}`, core.KindOutput, "Patient",
		core.Record{ResourceType: "Patient", ID: "p", Patient: "Patient/p"}},
	{"WrongType", `{"resourceType":"Encounter","id":"e"}`, core.KindOutput, "Patient",
		core.Record{ResourceType: "Encounter", ID: "e", Problem: `resourceType "Encounter" in a file of type "Patient"`}},
	{"Deleted", `{"resourceType":"Bundle","type":"transaction","entry":[{"request":{"method":"DELETE","url":"Patient/1"}},{"request":{"method":"delete","url":"https://x/fhir/Observation/2/_history/3"}},{"request":{"method":"PUT","url":"Patient/9"}}]}`, core.KindDeleted, "",
		core.Record{ResourceType: "Bundle", Deletes: []string{"Patient/1", "Observation/2"}}},
	{"DeletedNotBundle", `{"resourceType":"Patient","id":"1"}`, core.KindDeleted, "",
		core.Record{ResourceType: "Patient", ID: "1", Problem: `resourceType "Patient" in a file of type "Bundle"`}},
	{"Outcome", `{"resourceType":"OperationOutcome","id":"oo","issue":[{"severity":"warning"},{"severity":"fatal"},{"severity":"error"}]}`, core.KindError, "OperationOutcome",
		core.Record{ResourceType: "OperationOutcome", ID: "oo", Severity: "fatal"}},
	{"OutcomeInformation", `{"resourceType":"OperationOutcome","issue":[{"severity":"information"}]}`, core.KindError, "",
		core.Record{ResourceType: "OperationOutcome", Severity: "information"}},
}

// firstDupKey walks data's tokens and returns the first key that repeats
// one of its object, at any depth.
func firstDupKey(data []byte) (string, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	type frame struct {
		obj    bool
		keys   map[string]bool
		expect bool // an object expecting a key next
	}
	var stack []*frame
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return "", nil
		}
		if err != nil {
			return "", err
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if top != nil && top.obj && top.expect {
			if d, ok := tok.(json.Delim); !ok || d != '}' {
				k := tok.(string)
				if top.keys[k] {
					return k, nil
				}
				top.keys[k] = true
				top.expect = false
				continue
			}
			stack = stack[:len(stack)-1]
			tok = nil // the object is a value that ended
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &frame{obj: true, keys: map[string]bool{}, expect: true})
			continue
		case json.Delim('['):
			stack = append(stack, &frame{})
			continue
		case json.Delim(']'):
			stack = stack[:len(stack)-1]
		}
		// A value ended: its object expects a key next.
		if len(stack) > 0 && stack[len(stack)-1].obj {
			stack[len(stack)-1].expect = true
		}
	}
}

func nestedDup(key string) string {
	return fmt.Sprintf("the property %q appears twice in one nested element (FHIR JSON allows each once)", key)
}

// TestParseWideObject: duplicates are found in objects with many keys at
// any depth, and an object with 200,000 distinct keys passes (a quadratic
// check would make 2e10 comparisons here).
func TestParseWideObject(t *testing.T) {
	wide := func(n int, dupAt int) string {
		var b strings.Builder
		b.WriteString(`{"resourceType":"Basic","id":"b","extension":[{"url":"u","extension":[{`)
		for i := range n {
			if i > 0 {
				b.WriteByte(',')
			}
			k := i
			if i == dupAt {
				k = n / 3
			}
			fmt.Fprintf(&b, `"k%d":%d`, k, i)
		}
		b.WriteString(`}]}]}`)
		return b.String()
	}
	tests := []struct {
		name    string
		n, dup  int
		problem string
	}{
		{"Distinct", 200000, -1, ""},
		{"DupLast", 200000, 199999, nestedDup("k66666")},
		{"DupNarrow", 20, 19, nestedDup("k6")},
		{"DupJustWide", 40, 39, nestedDup("k13")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := ndjson.Parse([]byte(wide(tt.n, tt.dup)), core.KindOutput, "Basic")
			if rec.Problem != tt.problem {
				t.Errorf("Problem = %q, want %q", rec.Problem, tt.problem)
			}
		})
	}
}

func TestParse(t *testing.T) {
	for _, tt := range parseTests {
		t.Run(tt.name, func(t *testing.T) {
			got := ndjson.Parse([]byte(tt.line), tt.kind, tt.typ)
			if string(got.Raw) != tt.line {
				t.Errorf("Raw = %q, want the line unchanged %q", got.Raw, tt.line)
			}
			got.Raw = nil
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Parse(%s) (-want +got):\n%s", tt.line, diff)
			}
		})
	}
}

func TestOversized(t *testing.T) {
	got := ndjson.Oversized(ndjson.Line{Num: 3, Raw: []byte("{\"a"), Size: 99}, 10)
	want := core.Record{Line: 3, Raw: []byte("{\"a"), Problem: "line of 99 bytes exceeds the 10 byte limit (first 3 bytes kept)"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Oversized (-want +got):\n%s", diff)
	}
}

func FuzzParse(f *testing.F) {
	for _, tt := range parseTests {
		f.Add([]byte(tt.line), string(tt.kind), tt.typ)
	}
	f.Fuzz(func(t *testing.T, line []byte, kind, typ string) {
		in := bytes.Clone(line)
		rec := ndjson.Parse(line, core.FileKind(kind), typ)
		if !bytes.Equal(rec.Raw, in) || !bytes.Equal(line, in) {
			t.Fatalf("Parse changed the line: %q -> %q", in, rec.Raw)
		}
		if rec.Problem == "" && rec.ResourceType == "" {
			t.Fatalf("Parse(%q) passed a line without resourceType", in)
		}
		// The hand-written scanner must agree with encoding/json.
		var ref struct {
			ResourceType string `json:"resourceType"`
			ID           string `json:"id"`
			Meta         struct {
				LastUpdated string `json:"lastUpdated"`
			} `json:"meta"`
		}
		// encoding/json also matches keys case-insensitively; FHIR does not.
		caseVariant := false
		for _, k := range []string{`"resourceType"`, `"id"`, `"meta"`, `"lastUpdated"`} {
			if bytes.Count(bytes.ToLower(in), bytes.ToLower([]byte(k))) != bytes.Count(in, []byte(k)) {
				caseVariant = true
			}
		}
		// The duplicate check must agree with a token walk at every depth.
		if t0 := bytes.TrimLeft(in, " \t\r\n"); core.FileKind(kind) == core.KindOutput && len(t0) > 0 && t0[0] == '{' &&
			json.Valid(in) && utf8.Valid(in) {
			want, _ := firstDupKey(in)
			got := ""
			if _, rest, ok := strings.Cut(rec.Problem, "the property "); ok {
				got, _ = strconv.Unquote(rest[:strings.Index(rest, " appears twice")])
			}
			if got != want {
				t.Fatalf("Parse(%q) found duplicate key %q, want %q (%s)", in, got, want, rec.Problem)
			}
		}
		if !caseVariant && core.FileKind(kind) == core.KindOutput && rec.Problem == "" && json.Unmarshal(in, &ref) == nil {
			if ref.ResourceType != rec.ResourceType || ref.ID != rec.ID || ref.Meta.LastUpdated != rec.LastUpdated {
				t.Fatalf("Parse(%q) = %q %q %q; encoding/json says %q %q %q", in, rec.ResourceType, rec.ID, rec.LastUpdated,
					ref.ResourceType, ref.ID, ref.Meta.LastUpdated)
			}
		}
	})
}

// sampleFile builds n Observation lines of realistic size.
func sampleFile(n int) []byte {
	var b bytes.Buffer
	for i := range n {
		fmt.Fprintf(&b, `{"resourceType":"Observation","id":"obs-%d","meta":{"lastUpdated":"2024-05-01T10:00:00.000Z"},"status":"final","category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"vital-signs","display":"Vital signs"}]}],"code":{"coding":[{"system":"http://loinc.org","code":"8867-4","display":"Heart rate"}],"text":"Heart rate"},"subject":{"reference":"Patient/pat-%d"},"encounter":{"reference":"Encounter/enc-%d"},"effectiveDateTime":"2024-04-30T09:12:00Z","issued":"2024-04-30T09:12:00.000Z","valueQuantity":{"value":72.50,"unit":"/min","system":"http://unitsofmeasure.org","code":"/min"}}`+"\n", i, i%1000, i)
	}
	return b.Bytes()
}

func BenchmarkParse(b *testing.B) {
	data := sampleFile(10000)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		r := ndjson.NewReader(bytes.NewReader(data))
		for {
			l, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			if rec := ndjson.Parse(l.Raw, core.KindOutput, "Observation"); rec.Problem != "" {
				b.Fatal(rec.Problem)
			}
		}
	}
}

func BenchmarkReader(b *testing.B) {
	data := sampleFile(10000)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		r := ndjson.NewReader(bytes.NewReader(data))
		for {
			if _, err := r.Next(); err == io.EOF {
				break
			}
		}
	}
}
