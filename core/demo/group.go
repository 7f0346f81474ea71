package demo

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"tranche.dev/tranche/core/synth"
)

// handleGroupRead is GET Group/[id] (Bulk Data Access IG, Export: Bulk Data Kick-off Request (endpoints): a server with Group
// export SHOULD support Group read and search).
func (s *Server) handleGroupRead(w http.ResponseWriter, r *http.Request) {
	tok, ok := s.authorize(w, r)
	if !ok {
		return
	}
	if !tok.scopes.canRead("Group") {
		writeOutcome(w, http.StatusForbidden, "forbidden", "reading Group needs system/Group.rs (or .read)")
		return
	}
	g, found := s.cat.group(r.PathValue("id"))
	if !found {
		writeOutcome(w, http.StatusNotFound, "not-found", "no Group with id "+strconv.Quote(r.PathValue("id")))
		return
	}
	w.Header().Set("Content-Type", ctFHIRJSON)
	w.Write(append(append([]byte(nil), g.JSON...), '\n'))
}

// handleGroupSearch is GET Group?name=&identifier=&_id= returning a
// searchset Bundle. Other parameters are ignored, as FHIR search allows,
// and left out of the self link.
func (s *Server) handleGroupSearch(w http.ResponseWriter, r *http.Request) {
	tok, ok := s.authorize(w, r)
	if !ok {
		return
	}
	if !tok.scopes.canRead("Group") {
		writeOutcome(w, http.StatusForbidden, "forbidden", "searching Group needs system/Group.rs (or .s / .read)")
		return
	}
	q := r.URL.Query()
	used := make(map[string][]string)
	var matches []synth.Group
	for _, g := range s.cat.groups {
		ok := true
		for name, vals := range q {
			base, mod, _ := strings.Cut(name, ":")
			var match func(string) bool
			switch base {
			case "name":
				match = func(v string) bool { return matchString(g.Name, v, mod) }
			case "_id":
				match = func(v string) bool { return mod == "" && g.ID == v }
			case "identifier":
				match = func(v string) bool { return mod == "" && groupHasIdentifier(g.JSON, v) }
			default:
				continue
			}
			used[name] = vals
			for _, v := range vals { // repeats AND, commas OR
				if !slices.ContainsFunc(splitEscaped(v, ','), func(p string) bool { return match(unescape(p)) }) {
					ok = false
				}
			}
		}
		if ok {
			matches = append(matches, g)
		}
	}
	type entry struct {
		FullURL  string            `json:"fullUrl"`
		Resource json.RawMessage   `json:"resource"`
		Search   map[string]string `json:"search"`
	}
	entries := []entry{}
	for _, g := range matches {
		entries = append(entries, entry{FullURL: s.URL() + "/Group/" + g.ID, Resource: g.JSON,
			Search: map[string]string{"mode": "match"}})
	}
	self := s.URL() + "/Group"
	if len(used) > 0 {
		self += "?" + encodeQuery(used)
	}
	writeJSON(w, http.StatusOK, ctFHIRJSON, map[string]any{
		"resourceType": "Bundle",
		"type":         "searchset",
		"total":        len(entries),
		"link":         []map[string]string{{"relation": "self", "url": self}},
		"entry":        entries,
	})
}

func encodeQuery(q map[string][]string) string {
	var parts []string
	for _, k := range sortedKeys(q) {
		for _, v := range q[k] {
			parts = append(parts, k+"="+strings.ReplaceAll(v, "&", "%26"))
		}
	}
	return strings.Join(parts, "&")
}

// matchString applies FHIR string search: case-insensitive prefix by
// default, :exact and :contains modifiers.
func matchString(have, want, mod string) bool {
	switch mod {
	case "exact":
		return have == want
	case "contains":
		return strings.Contains(strings.ToLower(have), strings.ToLower(want))
	case "":
		return strings.HasPrefix(strings.ToLower(have), strings.ToLower(want))
	}
	return false
}

// groupHasIdentifier matches a token "system|value", "value" or "|value"
// against Group.identifier.
func groupHasIdentifier(js []byte, token string) bool {
	var g struct {
		Identifier []struct{ System, Value string }
	}
	if json.Unmarshal(js, &g) != nil {
		return false
	}
	sys, val, hasSys := cutEscaped(token, '|')
	for _, id := range g.Identifier {
		if !hasSys && id.Value == unescape(token) {
			return true
		}
		if hasSys && val == "" && sys != "" && id.System == unescape(sys) {
			return true
		}
		if hasSys && id.Value == unescape(val) && id.System == unescape(sys) {
			return true
		}
	}
	return false
}
