package fhirpath_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"tranche.dev/tranche/core/fhirpath"
)

const patient = `{
  "resourceType": "Patient", "id": "p1", "active": true, "birthDate": "1970-06",
  "name": [
    {"use": "official", "family": "Smith", "given": ["Ann", "B."]},
    {"use": "maiden", "family": "Jones"}
  ],
  "deceasedBoolean": false,
  "extension": [
    {"url": "http://example.org/race", "extension": [{"url": "ombCategory", "valueCoding": {"code": "2106-3"}}]},
    {"url": "http://example.org/birthsex", "valueCode": "F"}
  ],
  "managingOrganization": {"reference": "https://ehr.example.org/fhir/Organization/o1/_history/2"},
  "link": [{"other": {"reference": "Patient/p1"}}],
  "multipleBirthInteger": 2,
  "weight": {"value": 72.50, "unit": "kg"},
  "score": 0.1
}`

// render prints a collection compactly: [a, 1.5, true].
func render(items []fhirpath.Item) string {
	var parts []string
	for _, it := range items {
		switch v := it.Value.(type) {
		case map[string]any:
			parts = append(parts, "{"+it.Type+"}")
		default:
			parts = append(parts, fmt.Sprint(v))
		}
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

func TestEvaluate(t *testing.T) {
	res, err := fhirpath.Decode([]byte(patient))
	if err != nil {
		t.Fatal(err)
	}
	clock := func() time.Time { return time.Date(2026, 12, 3, 9, 30, 0, 0, time.UTC) }
	env := &fhirpath.Env{
		Resource: res,
		Vars: map[string][]fhirpath.Item{
			"use": {{Value: "official", Type: "string"}},
			"two": {{Value: fhirpath.Number("2"), Type: "integer"}},
		},
		Now: clock,
	}
	tests := []struct{ expr, want string }{
		// Paths, indexers, the resource type prefix.
		{"id", "[p1]"},
		{"Patient.name.family", "[Smith, Jones]"},
		{"name.given", "[Ann, B.]"},
		{"name[1].family", "[Jones]"},
		{"name[5].family", "[]"},
		{"name[%two - 1].family", "[Jones]"},
		{"nothing.here", "[]"},
		// Choice types resolve by suffix and carry their type.
		{"deceased", "[false]"},
		{"deceased.ofType(boolean)", "[false]"},
		{"deceased.ofType(string)", "[]"},
		{"multipleBirth.ofType(integer) + 1", "[3]"},
		{"deceased is boolean", "[true]"},
		// Literals.
		{"'a\\'b'", "[a'b]"},
		{"1.50", "[1.50]"},
		{"-2", "[-2]"},
		{"{}", "[]"},
		{"@2020-01-02", "[2020-01-02]"},
		{"@T10:30", "[10:30]"},
		// Constants.
		{"name.where(use = %use).family", "[Smith]"},
		{"%resource.id", "[p1]"},
		// Existence and filtering.
		{"name.exists()", "[true]"},
		{"name.exists(use = 'nickname')", "[false]"},
		{"name.empty()", "[false]"},
		{"telecom.empty()", "[true]"},
		{"name.count()", "[2]"},
		{"name.select(given).count()", "[2]"},
		{"name.all(family.exists())", "[true]"},
		{"name.first().family", "[Smith]"},
		{"name.last().family", "[Jones]"},
		{"name.tail().family", "[Jones]"},
		{"name.skip(1).family", "[Jones]"},
		{"name.take(1).family", "[Smith]"},
		{"(1 | 2 | 2).distinct().count()", "[2]"},
		{"(1).combine(1).count()", "[2]"},
		{"(1 | 1.0 | 'a' | 'a' | true).count()", "[3]"},
		{"name.combine(name).distinct().count()", "[2]"},
		{"name.combine(name).isDistinct()", "[false]"},
		{"name.family.intersect('Jones' | 'Brown')", "[Jones]"},
		{"name.family.exclude('Jones')", "[Smith]"},
		{"name.family.subsetOf('Jones' | 'Smith' | 'Brown')", "[true]"},
		{"extension.repeat(extension).url", "[ombCategory]"},
		{"name.family.join(', ')", "[Smith, Jones]"},
		{"telecom.value.join(',')", "[]"},
		{"iif(active, 'yes', 'no')", "[yes]"},
		{"iif({}, 'yes', 'no')", "[no]"},
		// Boolean logic with empty (three-valued).
		{"true and {}", "[]"},
		{"false and {}", "[false]"},
		{"true or {}", "[true]"},
		{"{} or false", "[]"},
		{"true xor false", "[true]"},
		{"false implies {}", "[true]"},
		{"active.not()", "[false]"},
		{"{}.not()", "[]"},
		// Arithmetic keeps exact decimals; integers stay integers.
		{"weight.value", "[72.50]"},
		{"weight.value + 0.25", "[72.75]"},
		{"score + 0.2", "[0.3]"},
		{"3 / 2", "[1.5]"},
		{"1 / 3", "[0.33333333]"},
		{"1 / 0", "[]"},
		{"7 div 2", "[3]"},
		{"7 mod 2", "[1]"},
		{"2 * 1.5", "[3.0]"},
		{"'a' + 'b'", "[ab]"},
		{"'a' & {}", "[a]"},
		{"{} + 1", "[]"},
		{"0.1 + 0.2 = 0.3", "[true]"},
		{"9223372036854775807 + 1", "[]"}, // integer overflow is empty
		{"1.5 * -2", "[-3.0]"},
		{"-(1 + 2)", "[-3]"},
		// Lexical forms.
		{"name.`given`.count()", "[2]"},
		{"'\\u0041\\t'.length()", "[2]"},
		{"1 // a comment\n + 1", "[2]"},
		{"/* block */ 2", "[2]"},
		{"5 'mg' = 5.0 'mg'", "[true]"},
		{"5 'mg' < 6 'mg'", "[true]"},
		{"Patient.name.count()", "[2]"},
		{"Observation.name.count()", "[0]"},
		// implies and xor with empty.
		{"{} implies true", "[true]"},
		{"{} implies false", "[]"},
		{"true implies {}", "[]"},
		{"{} xor true", "[]"},
		// Comparison and equality.
		{"1 = 1.0", "[true]"},
		{"1 != 2", "[true]"},
		{"name.family = 'Smith'", "[false]"}, // two items against one
		{"{} = 1", "[]"},
		{"weight.value > 72.4", "[true]"},
		{"'abc' < 'abd'", "[true]"},
		{"@2020-01-02 < @2020-01-03", "[true]"},
		{"@2020-01 = @2020-01-02", "[]"}, // different precision
		{"birthDate = @1970-06", "[true]"},
		{"@2020-01-01T10:00:00+02:00 = @2020-01-01T08:00:00Z", "[true]"},
		{"'Smith' ~ 'smith'", "[true]"},
		{"'a  b' ~ 'A B'", "[true]"},
		{"1.2 ~ 1.23", "[true]"},
		{"{} ~ {}", "[true]"},
		{"@2020-01-01 ~ @2020-01-01T10:00", "[false]"},
		{"'x' !~ 'y'", "[true]"},
		{"(1 | 2) = (1 | 2)", "[true]"},
		{"(1 | 2) = (2 | 1)", "[false]"},
		{"'Smith' in name.family", "[true]"},
		{"name.family contains 'Jones'", "[true]"},
		// Strings.
		{"id.length()", "[2]"},
		{"name.first().family.upper()", "[SMITH]"},
		{"name.first().family.substring(1, 2)", "[mi]"},
		{"name.first().family.startsWith('Sm')", "[true]"},
		{"name.first().family.indexOf('t')", "[3]"},
		{"name.first().family.replace('S', 's')", "[smith]"},
		{"name.first().family.matches('^S.*h$')", "[true]"},
		{"'a,b'.split(',').count()", "[2]"},
		{"'abc'.matches('b')", "[true]"},
		{"'abc'.matchesFull('b')", "[false]"},
		{"'a1b22'.replaceMatches('[0-9]+', '#')", "[a#b#]"},
		{"'abc'.toChars().count()", "[3]"},
		{"'  x '.trim()", "[x]"},
		{"'abc'.endsWith('bc')", "[true]"},
		{"'abc'.contains('d')", "[false]"},
		{"'true'.toBoolean() and 'T'.convertsToBoolean()", "[true]"},
		{"'1.50'.toDecimal()", "[1.50]"},
		{"'x'.toInteger()", "[]"},
		{"'x'.convertsToInteger()", "[false]"},
		{"'2020-01-02T10:00:00Z'.toDate()", "[2020-01-02]"},
		{"1.toString() + 'x'", "[1x]"},
		{"'12'.toInteger() + 1", "[13]"},
		// FHIR and SQL on FHIR functions.
		{"extension('http://example.org/birthsex').value.ofType(code)", "[F]"},
		{"extension('http://example.org/race').extension('ombCategory').value.ofType(Coding).code", "[2106-3]"},
		{"getResourceKey()", "[p1]"},
		{"managingOrganization.getReferenceKey()", "[o1]"},
		{"managingOrganization.getReferenceKey(Organization)", "[o1]"},
		{"managingOrganization.getReferenceKey(Patient)", "[]"},
		{"getResourceKey() = link.other.getReferenceKey()", "[true]"},
		{"weight.value.lowBoundary()", "[72.495]"},
		{"weight.value.highBoundary()", "[72.505]"},
		{"1.lowBoundary()", "[0.5]"},
		{"1.587.lowBoundary(6)", "[1.586500]"},
		{"1.587.highBoundary(2)", "[1.59]"},
		{"(-1.587).lowBoundary()", "[-1.5875]"},
		{"1.587.precision()", "[3]"},
		{"@2014-01-05T10:30.precision()", "[12]"},
		{"birthDate.lowBoundary()", "[1970-06-01]"},
		{"birthDate.highBoundary()", "[1970-06-30]"},
		{"@2024-02.highBoundary()", "[2024-02-29]"},
		{"@2010-10-10T.lowBoundary()", "[2010-10-10T00:00:00.000+14:00]"},
		{"@2010-10-10T10:00:00Z.highBoundary()", "[2010-10-10T10:00:00.999Z]"},
		{"@T12:34.highBoundary()", "[12:34:59.999]"},
		// Date arithmetic keeps the precision.
		{"birthDate + 18 years", "[1988-06]"},
		{"@2024-02-29 + 1 year", "[2025-02-28]"},
		{"@2024-01-31 + 1 month", "[2024-02-29]"},
		{"@2024-01-31 - 2 'mo'", "[2023-11-30]"},
		{"@2024-12-30 + 2 weeks", "[2025-01-13]"},
		{"@2024-01-01T23:30:00+02:00 + 45 minutes", "[2024-01-02T00:15:00+02:00]"},
		{"@2024-01-01T10:00:00.250Z + 1500 'ms'", "[2024-01-01T10:00:01.750Z]"},
		{"@T23:30 + 1 hour", "[00:30]"},
		{"birthDate + 18 years <= today()", "[true]"},
		// The clock is injected.
		{"today()", "[2026-12-03]"},
		{"now()", "[2026-12-03T09:30:00.000Z]"},
		{"today() > @2026-12-02", "[true]"},
		// Math.
		{"(-2.5).abs()", "[2.5]"},
		{"2.5.floor()", "[2]"},
		{"(-2.5).ceiling()", "[-2]"},
		{"2.345.round(2)", "[2.35]"},
	}
	for _, tt := range tests {
		x, err := fhirpath.Parse(tt.expr)
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.expr, err)
			continue
		}
		got, err := x.Evaluate(env, fhirpath.FromJSON(res))
		if err != nil {
			t.Errorf("Evaluate(%q): %v", tt.expr, err)
			continue
		}
		if g := render(got); g != tt.want {
			t.Errorf("Evaluate(%q) = %s, want %s", tt.expr, g, tt.want)
		}
	}
}

func TestEvaluateErrors(t *testing.T) {
	res, _ := fhirpath.Decode([]byte(patient))
	tests := []struct{ expr, want string }{
		{"name.family < 'x'", "'<' wants single items, got 2 and 1 at 13"},
		{"name.family.substring(0)", "substring(): expected one string, got 2 items at 13"},
		{"1 + 'a'", "'+' cannot combine integer and string at 3"},
		{"%missing", "unknown constant '%missing' at 1"},
		{"name.single()", "single(): collection has 2 items at 6"},
		{"@2020-01-01 + 1 'kg'", "'+': cannot add a quantity in 'kg' to a date at 13"},
	}
	for _, tt := range tests {
		x, err := fhirpath.Parse(tt.expr)
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.expr, err)
			continue
		}
		_, err = x.Evaluate(&fhirpath.Env{Resource: res}, fhirpath.FromJSON(res))
		var e *fhirpath.Error
		if !errors.As(err, &e) {
			t.Errorf("Evaluate(%q) error = %v, want a *fhirpath.Error", tt.expr, err)
			continue
		}
		if got := e.Short(); got != tt.want {
			t.Errorf("Evaluate(%q) error = %q, want %q", tt.expr, got, tt.want)
		}
		if e.Expr != tt.expr {
			t.Errorf("Evaluate(%q) error names %q", tt.expr, e.Expr)
		}
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct{ expr, want string }{
		{"", "empty expression at 1"},
		{"@@", "empty date/time literal at 1"},
		{"name.fooo()", "unknown function 'fooo' at 6"},
		{"name.where(fooo())", "unknown function 'fooo' at 12"},
		{"name.first(1)", "function 'first' takes no arguments, got 1 at 6"},
		{"name.where()", "function 'where' takes 1 argument, got 0 at 6"},
		{"name.", "expected a name after '.', found end of expression at 6"},
		{"(1 + 2", "expected ')', found end of expression at 7"},
		{"'open", "unterminated string at 1"},
		{"name[0", "expected ']', found end of expression at 7"},
		{"1 2", "unexpected '2' at 3"},
		{"'it''s'", "unexpected string 's' at 5"},
		{"a ! b", "unexpected character '!' at 3"},
		{"$foo", "unknown variable '$foo' at 1"},
		{"value.ofType('x')", "function 'ofType' wants a type name at 14"},
		{"@2020-13-01", "bad date/time literal '@2020-13-01' at 1"},
		{strings.Repeat("(", 300) + "1" + strings.Repeat(")", 300), "expression nested too deeply at 201"},
	}
	for _, tt := range tests {
		_, err := fhirpath.Parse(tt.expr)
		var e *fhirpath.Error
		if !errors.As(err, &e) {
			t.Errorf("Parse(%q) error = %v, want a *fhirpath.Error", tt.expr, err)
			continue
		}
		if got := e.Short(); got != tt.want {
			t.Errorf("Parse(%q) error = %q, want %q", tt.expr, got, tt.want)
		}
		if !strings.Contains(err.Error(), fmt.Sprintf("%q", tt.expr)) {
			t.Errorf("Parse(%q) error %q does not name the expression", tt.expr, err)
		}
	}
}

func TestResultType(t *testing.T) {
	tests := []struct{ expr, want string }{
		{"name.family", ""},
		{"name.exists()", "boolean"},
		{"a = b", "boolean"},
		{"a is string", "boolean"},
		{"given.join(' ')", "string"},
		{"'x'", "string"},
		{"1.5", "decimal"},
		{"name.count()", "integer"},
		{"iif(a, 'x', 'y')", ""},
		{"a + b", ""},
	}
	for _, tt := range tests {
		if got := fhirpath.MustParse(tt.expr).ResultType(); got != tt.want {
			t.Errorf("ResultType(%q) = %q, want %q", tt.expr, got, tt.want)
		}
	}
}

func TestVars(t *testing.T) {
	x := fhirpath.MustParse("name.where(use = %a and family = %b).given | %a")
	if got, want := strings.Join(x.Vars(), ","), "a,b"; got != want {
		t.Errorf("Vars() = %s, want %s", got, want)
	}
	err := x.CheckVars(func(n string) bool { return n == "a" })
	if err == nil || err.(*fhirpath.Error).Short() != "unknown constant '%b' at 34" {
		t.Errorf("CheckVars error = %v, want unknown constant '%%b' at 34", err)
	}
}

// TestConcurrent evaluates one expression from many goroutines; run with -race.
func TestConcurrent(t *testing.T) {
	x := fhirpath.MustParse("name.where(use = 'official').given.join(' ') & ' ' & name.first().family")
	res, _ := fhirpath.Decode([]byte(patient))
	env := &fhirpath.Env{Resource: res}
	errs := make(chan error, 8)
	for range 8 {
		go func() {
			for range 100 {
				got, err := x.Evaluate(env, fhirpath.FromJSON(res))
				if err == nil && render(got) != "[Ann B. Smith]" {
					err = fmt.Errorf("got %s", render(got))
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
	for _, s := range []string{
		"name.where(use = 'official').family.first()",
		"value.ofType(Quantity).value.lowBoundary()",
		"extension('http://x').value.ofType(Coding).code",
		"iif(a > 1, 'x', 'y') & %c",
		"@2020-01-01T10:00:00.000+01:00 < now()",
		"(1 | 2).select($this * 2.5) div 3 mod 2",
		"a.b[0].c implies d xor e or f and g",
		"`delimited`.x is FHIR.string",
		"5 'mg' = 5 'mg'",
		"// comment\n/* block */ -x",
	} {
		f.Add(s)
	}
	res, _ := fhirpath.Decode([]byte(patient))
	f.Fuzz(func(t *testing.T, src string) {
		x, err := fhirpath.Parse(src)
		if err != nil {
			var e *fhirpath.Error
			if !errors.As(err, &e) {
				t.Fatalf("Parse(%q): error %T is not a *fhirpath.Error", src, err)
			}
			if e.Pos < 1 || e.Pos > len(src)+1 {
				t.Fatalf("Parse(%q): position %d outside the expression", src, e.Pos)
			}
			return
		}
		if x.String() != src {
			t.Fatalf("String() = %q, want %q", x.String(), src)
		}
		// Whatever parses must evaluate without panicking.
		x.Evaluate(&fhirpath.Env{Resource: res, Now: time.Now}, fhirpath.FromJSON(res))
	})
}
