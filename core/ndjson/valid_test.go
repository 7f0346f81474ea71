package ndjson

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"tranche.dev/tranche/core/synth"
)

var validTests = []struct {
	name string
	in   string
	want bool
}{
	// Top level.
	{"Empty", ``, false},
	{"OnlySpace", " \t\r\n", false},
	{"Object", `{}`, true},
	{"Array", `[]`, true},
	{"String", `""`, true},
	{"Number", `0`, true},
	{"True", `true`, true},
	{"False", `false`, true},
	{"Null", `null`, true},
	{"SpaceAround", " \t\r\n{} \t\r\n", true},
	{"FormFeedIsNotSpace", "\f{}", false},
	{"VerticalTabIsNotSpace", "{}\v", false},
	{"NBSPIsNotSpace", "\u00a0{}", false},
	{"BOM", "\ufeff{}", false},
	{"NUL", "{}\x00", false},
	{"TrailingValue", `{} {}`, false},
	{"TrailingComma", `{},`, false},
	{"TrailingGarbage", `1x`, false},
	{"TwoNumbers", `1 2`, false},
	{"CloseOnly", `}`, false},
	{"UnmatchedClose", `{}}`, false},

	// Literals.
	{"TrueShort", `tru`, false},
	{"TrueLong", `truee`, false},
	{"TrueCase", `True`, false},
	{"FalseShort", `fals`, false},
	{"NullShort", `nul`, false},
	{"NullInArray", `[null,true,false]`, true},
	{"LiteralGlued", `[truefalse]`, false},
	{"NaN", `NaN`, false},
	{"Infinity", `-Infinity`, false},

	// Numbers.
	{"Zero", `0`, true},
	{"NegZero", `-0`, true},
	{"Int", `1234567890`, true},
	{"Neg", `-12`, true},
	{"LeadingZero", `01`, false},
	{"NegLeadingZero", `-01`, false},
	{"ZeroZero", `00`, false},
	{"Plus", `+1`, false},
	{"MinusOnly", `-`, false},
	{"MinusSpace", `- 1`, false},
	{"Frac", `0.5`, true},
	{"FracLong", `-123.456789`, true},
	{"DotEnd", `1.`, false},
	{"DotStart", `.5`, false},
	{"DotExp", `1.e5`, false},
	{"TwoDots", `1.2.3`, false},
	{"Exp", `1e5`, true},
	{"ExpUpper", `1E5`, true},
	{"ExpPlus", `1e+5`, true},
	{"ExpMinus", `1.5e-05`, true},
	{"ExpEmpty", `1e`, false},
	{"ExpSignOnly", `1e+`, false},
	{"ExpTwoSigns", `1e+-5`, false},
	{"ExpFrac", `1e5.5`, false},
	{"ZeroExp", `0e0`, true},
	{"NegZeroFrac", `-0.0`, true},
	{"Hex", `0x1`, false},
	{"NumberInArray", `[1,-0,2.5e3,0]`, true},
	{"NumberBeforeClose", `{"a":1}`, true},
	{"NumberBeforeSpace", `[1 ]`, true},
	{"Huge", `1` + strings.Repeat("0", 400), true},

	// Strings.
	{"Unclosed", `"abc`, false},
	{"UnclosedLong", `"` + strings.Repeat("a", 40), false},
	{"QuoteOnly", `"`, false},
	{"Escapes", `"\" \\ \/ \b \f \n \r \t"`, true},
	{"EscapeUnicode", `"\u00e9\uD834\uDD1E\uFFFF"`, true},
	{"EscapeUnicodeLoneSurrogate", `"\ud800"`, true},
	{"EscapeUnicodeShort", `"\u12"`, false},
	{"EscapeUnicodeShortEOF", `"\u12`, false},
	{"EscapeUnicodeNotHex", `"\u12g4"`, false},
	{"EscapeUnicodeUpper", `"\U0041"`, false},
	{"EscapeBad", `"\a"`, false},
	{"EscapeApostrophe", `"\'"`, false},
	{"EscapeZero", `"\0"`, false},
	{"EscapeX", `"\x41"`, false},
	{"EscapeAtEOF", `"\`, false},
	{"EscapedQuoteAtEnd", `"\"`, false},
	{"EscapedBackslashThenQuote", `"\\"`, true},
	{"EscapeAfterEightBytes", `"abcdefgh\n"`, true},
	{"BadEscapeAfterEightBytes", `"abcdefgh\q"`, false},
	{"RawNewline", "\"a\nb\"", false},
	{"RawTab", "\"a\tb\"", false},
	{"RawNUL", "\"a\x00b\"", false},
	{"Raw1F", "\"\x1f\"", false},
	{"RawControlAfterEightBytes", "\"abcdefghijk\x01\"", false},
	{"RawControlLate", "\"" + strings.Repeat("x", 23) + "\x1f" + "\"", false},
	{"Space", "\" \"", true},
	{"DEL", "\"\x7f\"", true},
	{"UTF8", `"héllo wörld ✓ 𝄞"`, true},
	{"InvalidUTF8", "\"\xff\xfe\x80\"", true},
	{"TruncatedUTF8", "\"\xe2\x9c\"", true},
	{"HighBytesLong", "\"" + strings.Repeat("\xa0\xc0\xff", 9) + "\"", true},
	{"QuoteAtEachOffset", `["a","ab","abc","abcd","abcde","abcdef","abcdefg","abcdefgh","abcdefghi"]`, true},
	{"LongString", `"` + strings.Repeat("0123456789", 30) + `"`, true},
	{"SingleQuotes", `'a'`, false},

	// Arrays.
	{"ArrayNested", `[[],[[]],[1,[2,[3]]]]`, true},
	{"ArraySpaces", "[ 1 , 2 ,\n3\t]", true},
	{"ArrayEmptySpaces", `[  ]`, true},
	{"ArrayTrailingComma", `[1,]`, false},
	{"ArrayLeadingComma", `[,1]`, false},
	{"ArrayDoubleComma", `[1,,2]`, false},
	{"ArrayNoComma", `[1 2]`, false},
	{"ArrayUnclosed", `[1,2`, false},
	{"ArrayUnclosedAfterComma", `[1,`, false},
	{"ArrayOpen", `[`, false},
	{"ArrayClosedByBrace", `[1}`, false},
	{"ArrayEmptyClosedByBrace", `[}`, false},
	{"ArrayColon", `[1:2]`, false},

	// Objects.
	{"ObjectMembers", `{"a":1,"b":[true],"c":{"d":null},"e":"f"}`, true},
	{"ObjectSpaces", "{ \"a\" : 1 ,\r\n \"b\" :\t2 }", true},
	{"ObjectEmptySpaces", "{ \n }", true},
	{"ObjectEmptyKey", `{"":""}`, true},
	{"ObjectDuplicateKeys", `{"a":1,"a":2}`, true},
	{"ObjectTrailingComma", `{"a":1,}`, false},
	{"ObjectLeadingComma", `{,"a":1}`, false},
	{"ObjectNoColon", `{"a" 1}`, false},
	{"ObjectNoValue", `{"a":}`, false},
	{"ObjectNoValueEOF", `{"a":`, false},
	{"ObjectKeyOnly", `{"a"}`, false},
	{"ObjectKeyEOF", `{"a"`, false},
	{"ObjectTwoColons", `{"a"::1}`, false},
	{"ObjectNumberKey", `{1:2}`, false},
	{"ObjectBareKey", `{a:2}`, false},
	{"ObjectLiteralKey", `{null:2}`, false},
	{"ObjectArrayKey", `{[]:2}`, false},
	{"ObjectBadKeyAfterComma", `{"a":1,2:3}`, false},
	{"ObjectBadKeyString", "{\"a\nb\":1}", false},
	{"ObjectNoComma", `{"a":1 "b":2}`, false},
	{"ObjectClosedByBracket", `{"a":1]`, false},
	{"ObjectEmptyClosedByBracket", `{]`, false},
	{"ObjectUnclosed", `{"a":1`, false},
	{"ObjectOpen", `{`, false},
	{"ObjectCommaOnly", `{,}`, false},
	{"ObjectInArray", `[{"a":[{"b":{}}]},{}]`, true},

	// Nesting: encoding/json rejects more than 10000 levels, even empty.
	{"Depth10000", strings.Repeat("[", 10000) + strings.Repeat("]", 10000), true},
	{"Depth10001", strings.Repeat("[", 10001) + strings.Repeat("]", 10001), false},
	{"Depth10000Objects", strings.Repeat(`{"a":`, 9999) + "{}" + strings.Repeat("}", 9999), true},
	{"Depth10001Objects", strings.Repeat(`{"a":`, 10000) + "{}" + strings.Repeat("}", 10000), false},
	{"Depth10000Mixed", strings.Repeat(`[{"a":`, 5000) + "1" + strings.Repeat("}]", 5000), true},
	{"Depth10001Mixed", strings.Repeat(`[{"a":`, 5000) + "[]" + strings.Repeat("}]", 5000), false},
	{"Depth100Unbalanced", strings.Repeat("[", 100) + strings.Repeat("]", 99), false},
	{"Depth100Mismatched", strings.Repeat("[{\"k\":", 50) + "0" + strings.Repeat("]}", 50), false},
	{"DeepUnclosed", strings.Repeat("[", 20000), false},

	// FHIR.
	{"Resource", `{"resourceType":"Patient","id":"p1","meta":{"lastUpdated":"2024-01-02T03:04:05Z"},"active":true,"multipleBirthInteger":2,"extension":[{"url":"http://x","valueDecimal":-1.50e+2}]}`, true},
	{"ResourceTruncated", `{"resourceType":"Patient","id":"p1","meta":{"lastUpdated":"2024-01-02T03:04:05Z"}`, false},
	{"ResourceCRLF", "{\"resourceType\":\"Patient\"}\r\n", true},
}

func TestValid(t *testing.T) {
	for _, tt := range validTests {
		t.Run(tt.name, func(t *testing.T) {
			in := []byte(tt.in)
			if ref := json.Valid(in); ref != tt.want {
				t.Fatalf("json.Valid(%s) = %v, but the table wants %v", abbrev(in), ref, tt.want)
			}
			if got := valid(in); got != tt.want {
				t.Errorf("valid(%s) = %v, want %v", abbrev(in), got, tt.want)
			}
		})
	}
}

// TestScanResourceValid checks that scanResource, which validates as it
// scans, rejects exactly what json.Valid rejects.
func TestScanResourceValid(t *testing.T) {
	for _, tt := range validTests {
		t.Run(tt.name, func(t *testing.T) {
			checkScan(t, []byte(tt.in))
		})
	}
}

// checkScan fails t unless scanResource(b) returns errInvalid when
// json.Valid rejects b, errNotObject when b is some other valid value, and
// nil for an object.
func checkScan(t *testing.T, b []byte) {
	t.Helper()
	var want error
	switch {
	case !json.Valid(b):
		want = errInvalid
	case bytes.TrimLeft(b, " \t\r\n")[0] != '{':
		want = errNotObject
	}
	var f fields
	if got := scanResource(b, &f); got != want {
		t.Errorf("scanResource(%s) = %v, want %v", abbrev(b), got, want)
	}
}

// TestValidPrefixes checks every prefix of the table cases and of real
// lines: each cut is a chance to fall off the end of the input mid-token.
func TestValidPrefixes(t *testing.T) {
	var inputs [][]byte
	for _, tt := range validTests {
		if len(tt.in) < 1000 {
			inputs = append(inputs, []byte(tt.in))
		}
	}
	seen := make(map[string]bool) // one line per resource type keeps -race quick
	for _, l := range fhirLines(t) {
		var f fields
		if scanResource(l, &f) == nil && !seen[f.resourceType] {
			seen[f.resourceType] = true
			inputs = append(inputs, l)
		}
	}
	for _, in := range inputs {
		for n := range len(in) + 1 {
			if got, want := valid(in[:n]), json.Valid(in[:n]); got != want {
				t.Errorf("valid(%s) = %v, want %v (json.Valid)", abbrev(in[:n]), got, want)
			}
			checkScan(t, in[:n])
		}
	}
}

// TestValidNoAlloc guards the common case: no allocation below 64 levels.
func TestValidNoAlloc(t *testing.T) {
	lines := fhirLines(t)
	allocs := testing.AllocsPerRun(10, func() {
		for _, l := range lines {
			valid(l)
		}
	})
	if allocs != 0 {
		t.Errorf("valid allocates %v times per run of %d lines, want 0", allocs, len(lines))
	}
}

func FuzzValid(f *testing.F) {
	for _, tt := range validTests {
		f.Add([]byte(tt.in))
	}
	for _, l := range fhirLines(f) {
		f.Add(l)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if got, want := valid(b), json.Valid(b); got != want {
			t.Errorf("valid(%q) = %v, want %v (json.Valid)", b, got, want)
		}
		checkScan(t, b)
	})
}

// BenchmarkValid compares json.Valid with valid on synthetic FHIR lines,
// the data an end-to-end export of the demo server parses. The valid
// sub-benchmark reports its speed-up over the fastest json.Valid run of the
// same invocation as "x-json.Valid" (when both sub-benchmarks run).
func BenchmarkValid(b *testing.B) {
	lines := synthLines(b, 20)
	var size int64
	for _, l := range lines {
		size += int64(len(l))
	}
	b.Logf("%d lines, %d bytes per line on average", len(lines), size/int64(len(lines)))
	var base float64 // ns per op of json.Valid
	run := func(name string, fn func([]byte) bool, ns *float64) {
		b.Run(name, func(b *testing.B) {
			b.SetBytes(size)
			b.ReportAllocs()
			ops := 0
			for b.Loop() {
				for _, l := range lines {
					if !fn(l) {
						b.Fatalf("%s rejects %s", name, abbrev(l))
					}
				}
				ops++
			}
			perOp := float64(b.Elapsed().Nanoseconds()) / float64(ops)
			if ns != nil {
				if *ns == 0 || perOp < *ns {
					*ns = perOp
				}
			} else if base > 0 {
				b.ReportMetric(base/perOp, "x-json.Valid")
			}
		})
	}
	run("json.Valid", json.Valid, &base)
	run("valid", valid, nil)
}

// fhirLines returns the lines of the shared NDJSON fixtures and a few
// synthetic patients' resources.
func fhirLines(tb testing.TB) [][]byte {
	tb.Helper()
	files, err := filepath.Glob("../../testdata/ndjson/*.ndjson")
	if err != nil || len(files) == 0 {
		tb.Fatalf("no NDJSON fixtures: %v", err)
	}
	var lines [][]byte
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			tb.Fatal(err)
		}
		s := bufio.NewScanner(bytes.NewReader(data))
		for s.Scan() {
			lines = append(lines, bytes.Clone(s.Bytes()))
		}
	}
	return append(lines, synthLines(tb, 2)...)
}

// synthLines returns every resource of the first n synthetic patients.
func synthLines(tb testing.TB, n int) [][]byte {
	tb.Helper()
	p := synth.New(synth.Config{Patients: n})
	var lines [][]byte
	keep := func(r *synth.Resource) error {
		if !r.Deleted {
			lines = append(lines, bytes.Clone(r.JSON))
		}
		return nil
	}
	if err := p.EachShared(keep); err != nil {
		tb.Fatal(err)
	}
	for i := range n {
		if err := p.EachOfPatient(i, keep); err != nil {
			tb.Fatal(err)
		}
	}
	return lines
}

// abbrev quotes b for a failure message, shortening long inputs.
func abbrev(b []byte) string {
	if len(b) > 120 {
		return fmt.Sprintf("%q…%q (%d bytes)", b[:60], b[len(b)-60:], len(b))
	}
	return fmt.Sprintf("%q", b)
}
