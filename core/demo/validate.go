package demo

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// parseExport validates a kick-off at level for the token's scopes. With
// handling=lenient, parameters it cannot honour are dropped and noted
// (one note each, for error[]); otherwise they fail the request.
func (s *Server) parseExport(r *http.Request, l level, groupID string, tok *accessToken, lenient bool) (*exportParams, *kickoffError) {
	raw, kerr := readParams(r)
	if kerr != nil {
		return nil, kerr
	}
	ep := &exportParams{level: l, groupID: groupID}
	// soft reports a problem that lenient handling may ignore.
	soft := func(e *kickoffError) *kickoffError {
		if lenient {
			ep.notes = append(ep.notes, e.msg+" (ignored: handling=lenient)")
			return nil
		}
		return e
	}
	for _, name := range sortedKeys(raw) {
		if _, ok := paramKinds[name]; !ok {
			if e := soft(badRequest("parameter %q is not supported", name)); e != nil {
				return nil, e
			}
			delete(raw, name)
		}
	}

	if v, e := raw.one("_outputFormat"); e != nil {
		return nil, e
	} else if v != "" && !slices.Contains(outputFormats, v) {
		return nil, badRequest("_outputFormat %q not supported (use %s)", v, strings.Join(outputFormats, ", "))
	}
	for _, name := range []string{"_since", "_until"} {
		v, e := raw.one(name)
		if e != nil {
			return nil, e
		}
		if v == "" {
			continue
		}
		t, err := parseInstant(v)
		if err != nil {
			return nil, badRequest("%s: %v", name, err)
		}
		if name == "_since" {
			ep.since = &t
		} else {
			ep.until = &t
		}
	}
	if ep.since != nil && ep.until != nil && !ep.until.After(*ep.since) {
		return nil, badRequest("_until must be after _since")
	}

	if e := s.pickTypes(ep, raw.list("_type"), tok, soft); e != nil {
		return nil, e
	}

	els, errs := parseElements(raw.list("_elements"), s.cat.isKnown)
	for _, err := range errs {
		if e := soft(badRequest("%v", err)); e != nil {
			return nil, e
		}
	}
	ep.elements = els

	if e := s.pickPatients(ep, r, raw.list("patient"), soft); e != nil {
		return nil, e
	}

	ep.typeFilters = make(map[string][]typeFilter)
	for _, v := range raw.list("_typeFilter") {
		f, ignored, err := parseTypeFilter(v, s.cat.isKnown, lenient)
		if err != nil {
			if e := soft(badRequest("%v", err)); e != nil {
				return nil, e
			}
			continue
		}
		ep.notes = append(ep.notes, ignored...)
		if len(f.conds) > 0 {
			ep.typeFilters[f.typ] = append(ep.typeFilters[f.typ], f)
		}
	}

	for _, v := range raw.list("includeAssociatedData") {
		switch {
		case v == provRelevant:
			ep.provenance = provRelevant // the least restrictive wins
		case v == provLatest:
			if ep.provenance == provDefault {
				ep.provenance = provLatest
			}
		case strings.HasPrefix(v, "_"):
			if e := soft(badRequest("includeAssociatedData %q: custom values are not supported", v)); e != nil {
				return nil, e
			}
		default:
			if e := soft(badRequest("includeAssociatedData %q is not a known value", v)); e != nil {
				return nil, e
			}
		}
	}
	if ep.provenance != provDefault && !tok.scopes.canRead("Provenance") {
		if e := soft(&kickoffError{http.StatusForbidden, "forbidden",
			"includeAssociatedData needs read access to Provenance"}); e != nil {
			return nil, e
		}
		ep.provenance = provDefault
	}

	if v, e := raw.one("organizeOutputBy"); e != nil {
		return nil, e
	} else if v != "" {
		if e := soft(badRequest("organizeOutputBy is not supported: output is one resource type per file")); e != nil {
			return nil, e
		}
	}
	// allowPartialManifests only permits paging; a server that always
	// returns one complete manifest honours it (Bulk Data Access IG, Export: Bulk Data Status Request, Response - In-Progress Status (partial manifests, v3)).
	if v, e := raw.one("allowPartialManifests"); e != nil {
		return nil, e
	} else if v != "" && v != "true" && v != "false" {
		return nil, badRequest("allowPartialManifests must be true or false")
	}
	return ep, nil
}

// pickTypes sets ep.types from _type (or every readable type at the level),
// enforcing the token's scopes (Bulk Data Access IG, Export: access control; Bulk Data Access IG, Export: Bulk Data Output File Request (requiresAccessToken)).
func (s *Server) pickTypes(ep *exportParams, asked []string, tok *accessToken, soft func(*kickoffError) *kickoffError) *kickoffError {
	levelTypes := s.cat.levelTypes(ep.level)
	if len(asked) == 0 {
		for _, t := range levelTypes {
			if tok.scopes.canRead(t) {
				ep.types = append(ep.types, t)
			}
		}
		if len(ep.types) == 0 {
			return &kickoffError{http.StatusForbidden, "forbidden", "the access token grants read access to no resource type exportable here"}
		}
		return nil
	}
	for _, t := range asked {
		switch {
		case !s.cat.isKnown(t):
			if e := soft(badRequest("_type %q: this server has no resources of that type", t)); e != nil {
				return e
			}
		case !slices.Contains(levelTypes, t):
			if e := soft(badRequest("_type %q is outside the Patient compartment; use a system-level export", t)); e != nil {
				return e
			}
		case !tok.scopes.canRead(t):
			if e := soft(&kickoffError{http.StatusForbidden, "forbidden",
				fmt.Sprintf("_type %q: the access token's scopes do not allow reading it", t)}); e != nil {
				return e
			}
		case !slices.Contains(ep.types, t):
			ep.types = append(ep.types, t)
		}
	}
	slices.Sort(ep.types)
	if len(ep.types) == 0 {
		return badRequest("no exportable resource type left in _type")
	}
	return nil
}

// pickPatients applies the patient parameter (POST only, not at system
// level) and the group's membership.
func (s *Server) pickPatients(ep *exportParams, r *http.Request, refs []string, soft func(*kickoffError) *kickoffError) *kickoffError {
	var members map[int]bool
	if ep.level == levelGroup {
		g, _ := s.cat.group(ep.groupID)
		members = make(map[int]bool, len(g.Members))
		for _, id := range g.Members {
			if i, ok := s.pop.PatientIndex(id); ok {
				members[i] = true
				ep.patients = append(ep.patients, i)
			}
		}
		slices.Sort(ep.patients)
		if ep.patients == nil {
			ep.patients = []int{}
		}
	}
	if len(refs) == 0 {
		return nil
	}
	switch {
	case ep.level == levelSystem:
		return badRequest("patient is not allowed in a system-level export")
	case r.Method != http.MethodPost:
		return badRequest("patient is only allowed in a POST kick-off (Parameters body)")
	}
	chosen := []int{}
	for _, ref := range refs {
		id, ok := strings.CutPrefix(ref, "Patient/")
		if !ok {
			id = "" // not a Patient reference
		}
		i, found := s.pop.PatientIndex(id)
		switch {
		case !found:
			if e := soft(badRequest("patient %q: no such patient", ref)); e != nil {
				return e
			}
		case members != nil && !members[i]:
			if e := soft(badRequest("patient %q is not a member of Group/%s", ref, ep.groupID)); e != nil {
				return e
			}
		case !slices.Contains(chosen, i):
			chosen = append(chosen, i)
		}
	}
	slices.Sort(chosen)
	ep.patients = chosen
	return nil
}
