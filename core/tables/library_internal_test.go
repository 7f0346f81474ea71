package tables

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestRenamed(t *testing.T) {
	for _, tt := range []struct {
		def, want string
	}{
		{`{"name":"a"}`, `{"name":"b_2"}`},
		{"{ \"name\" :\n\t\"a\" , \"x\": 1}", "{ \"name\" :\n\t\"b_2\" , \"x\": 1}"},
		{`{"select":[{"name":"keep"}],"name":"a\u0041"}`, `{"select":[{"name":"keep"}],"name":"b_2"}`},
		{`{"name":"a","name":"b"}`, `{"name":"b_2","name":"b_2"}`},
		{`{"name":null}`, `{"name":"b_2"}`},
	} {
		got, err := renamed([]byte(tt.def), "b_2")
		if err != nil || string(got) != tt.want {
			t.Errorf("renamed(%s) = %s, %v; want %s", tt.def, got, err, tt.want)
		}
	}
	for _, def := range []string{``, `[]`, `{"title":"no name"}`, `{"name":`, `"name"`, `{"name":"a"`} {
		if got, err := renamed([]byte(def), "b"); err == nil {
			t.Errorf("renamed(%s) = %s, nil; want an error", def, got)
		}
	}
}

// FuzzRenamed: for any JSON object with a name, the result is JSON whose
// name is the new one and whose other members are unchanged.
func FuzzRenamed(f *testing.F) {
	for _, s := range []string{`{"name":"a"}`, "{ \"name\" :\n\"a\", \"x\": [1, {\"name\": 2}]}", `{"name":"a","name":"b"}`,
		`{"a":"\"name\":","name":"x"}`, `{"name":1e3}`, `{}`, `[`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, def string) {
		got, err := renamed([]byte(def), "new_name")
		var before map[string]json.RawMessage
		if err != nil || json.Unmarshal([]byte(def), &before) != nil {
			return
		}
		var after map[string]json.RawMessage
		if err := json.Unmarshal(got, &after); err != nil {
			t.Fatalf("renamed(%s) = %s, not JSON: %v", def, got, err)
		}
		if string(after["name"]) != `"new_name"` || len(after) != len(before) {
			t.Fatalf("renamed(%s) = %s, want the name new_name and the same members", def, got)
		}
		for k, v := range before {
			if k != "name" && strings.TrimSpace(string(after[k])) != strings.TrimSpace(string(v)) {
				t.Fatalf("renamed(%s) = %s: member %s changed", def, got, k)
			}
		}
	})
}
