package ndjson

import (
	"encoding/json"
	"errors"
	"unicode/utf8"
)

// The scanner below reads the top level of a JSON object, picking out the
// few members Parse indexes and validating every other value without
// decoding it. It accepts exactly what json.Valid accepts, in one pass over
// the line instead of json.Valid's pass and then its own, and is several
// times faster than json.Unmarshal into a struct, which matters when every
// line of a multi-gigabyte export goes through it.

var (
	errInvalid   = errors.New("invalid JSON")
	errNotObject = errors.New("not a JSON object")
)

// fields are the members of an output resource that Parse indexes, and
// what the FHIR JSON rules need checked at the top level.
type fields struct {
	resourceType, id, lastUpdated string
	subject, patient, beneficiary []byte // raw values
	idKind                        byte   // first byte of the id value ('"' for a string), 0 when absent
	dupKey                        string // a key that appears twice in one object, if any
	dupNested                     bool   // dupKey is not a top-level key
}

// scanResource fills f from data, a JSON object. It returns errInvalid when
// json.Valid would reject data, and errNotObject when data is valid JSON but
// not an object.
func scanResource(data []byte, f *fields) error {
	n := len(data)
	i := skipSpace(data, 0)
	if i >= n || data[i] != '{' {
		if valid(data) {
			return errNotObject
		}
		return errInvalid
	}
	if i = skipSpace(data, i+1); i < n && data[i] == '}' {
		return endOfLine(data, i+1)
	}
	dc := newDupCheck(data) // duplicate keys, at every depth
	defer dc.release()
	dc.open()
	for {
		if i >= n || data[i] != '"' {
			return errInvalid
		}
		ks, ke := i, endOfString(data, i+1)
		if ke < 0 {
			return errInvalid
		}
		if i = skipSpace(data, ke); i >= n || data[i] != ':' {
			return errInvalid
		}
		key := data[ks+1 : ke-1]
		dc.key(ks+1, ke-1)
		vs := skipSpace(data, i+1)
		if i = endOfValue(data, vs, 1, dc); i < 0 {
			return errInvalid
		}
		val := data[vs:i]
		switch string(key) {
		case "resourceType":
			f.resourceType = stringValue(val)
		case "id":
			f.id, f.idKind = stringValue(val), val[0]
		case "meta":
			f.lastUpdated = memberString(val, "lastUpdated")
		case "subject":
			f.subject = val
		case "patient":
			f.patient = val
		case "beneficiary":
			f.beneficiary = val
		}
		if i = skipSpace(data, i); i >= n {
			return errInvalid
		}
		switch data[i] {
		case ',':
			i = skipSpace(data, i+1)
		case '}':
			f.dupKey, f.dupNested = dc.dup, dc.depth > 1
			return endOfLine(data, i+1)
		default:
			return errInvalid
		}
	}
}

// endOfLine checks that only space follows the object ending at data[i-1].
func endOfLine(data []byte, i int) error {
	if skipSpace(data, i) != len(data) {
		return errInvalid
	}
	return nil
}

// memberString returns the string member name of the object obj, or "".
// obj must be valid JSON.
func memberString(obj []byte, name string) string {
	if len(obj) == 0 || obj[0] != '{' {
		return ""
	}
	i := 1
	for {
		i = skipSpace(obj, i)
		if i >= len(obj) || obj[i] == '}' {
			return ""
		}
		if obj[i] == ',' {
			i = skipSpace(obj, i+1)
		}
		ks, ke := i, skipString(obj, i)
		i = skipSpace(obj, ke)
		i = skipSpace(obj, i+1)
		vs := i
		i = skipValue(obj, i)
		if string(obj[ks+1:ke-1]) == name {
			return stringValue(obj[vs:i])
		}
	}
}

// stringValue decodes a JSON string value; anything else gives "".
func stringValue(v []byte) string {
	if len(v) < 2 || v[0] != '"' {
		return ""
	}
	inner := v[1 : len(v)-1]
	for _, c := range inner {
		if c == '\\' {
			var s string
			if json.Unmarshal(v, &s) != nil {
				return ""
			}
			return s
		}
	}
	if !utf8.Valid(inner) {
		var s string
		json.Unmarshal(v, &s) // replaces invalid bytes as encoding/json does
		return s
	}
	return string(inner)
}

// skipSpace returns the index of the first byte at or after i that is not
// JSON white space.
func skipSpace(d []byte, i int) int {
	for i < len(d) && d[i] <= ' ' {
		switch d[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// skipString returns the index just past the string starting at d[i] == '"'.
func skipString(d []byte, i int) int {
	i++
	for i < len(d) {
		switch d[i] {
		case '\\':
			i += 2
		case '"':
			return i + 1
		default:
			i++
		}
	}
	return len(d)
}

// skipValue returns the index just past the value starting at d[i].
func skipValue(d []byte, i int) int {
	if i >= len(d) {
		return i
	}
	switch d[i] {
	case '"':
		return skipString(d, i)
	case '{', '[':
		depth := 0
		for i < len(d) {
			switch d[i] {
			case '"':
				i = skipString(d, i)
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return len(d)
	}
	for i < len(d) {
		switch d[i] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return i
		}
		i++
	}
	return i
}
