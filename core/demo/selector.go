package demo

import (
	"encoding/json"
	"time"

	"tranche.dev/tranche/core/synth"
)

// selector turns a validated kick-off into output lines. It is pure: the
// same selector yields the same lines in the same order every time, which
// lets a file be a small descriptor regenerated on each download.
type selector struct {
	pop     *synth.Population
	ep      *exportParams
	txTime  time.Time
	types   []string       // output file types, index = type number
	index   map[string]int // type → number
	deleted int            // type number of deleted[] lines, or -1
	prov    int            // type number of includeAssociatedData Provenance, or -1
	keep    map[string]map[string]bool
}

func newSelector(pop *synth.Population, ep *exportParams, txTime time.Time) *selector {
	sel := &selector{pop: pop, ep: ep, txTime: txTime, index: make(map[string]int),
		deleted: -1, prov: -1, keep: make(map[string]map[string]bool)}
	for _, t := range ep.types {
		sel.index[t] = len(sel.types)
		sel.types = append(sel.types, t)
	}
	if ep.provenance != provDefault {
		// Associated Provenance replaces plain Provenance output: it is
		// the Provenance of exported resources (Bulk Data Access IG, Export: Bulk Data Kick-off Request, Query Parameters).
		if i, ok := sel.index["Provenance"]; ok {
			sel.prov = i
		} else {
			sel.prov = len(sel.types)
			sel.types = append(sel.types, "Provenance")
		}
	}
	if ep.elements != nil {
		for _, t := range sel.types {
			sel.keep[t] = ep.elements.keep(t)
		}
	}
	if ep.since != nil {
		sel.deleted = len(sel.types)
		sel.types = append(sel.types, "Bundle")
	}
	return sel
}

// positions is how many patients the export covers.
func (sel *selector) positions() int {
	if sel.ep.patients != nil {
		return len(sel.ep.patients)
	}
	return sel.pop.NumPatients()
}

func (sel *selector) patientAt(pos int) int {
	if sel.ep.patients != nil {
		return sel.ep.patients[pos]
	}
	return pos
}

// emitFunc receives one output line of type number t. line is only valid
// during the call.
type emitFunc func(t int, line []byte) error

// inWindow applies _since (exclusive), _until (inclusive) and the job's
// transaction time.
func (sel *selector) inWindow(t time.Time) bool {
	if t.After(sel.txTime) {
		return false
	}
	if sel.ep.since != nil && !t.After(*sel.ep.since) {
		return false
	}
	return sel.ep.until == nil || !t.After(*sel.ep.until)
}

// shared emits the resources outside patient compartments (system level).
// only limits the work to one type number; -1 means all.
func (sel *selector) shared(only int, emit emitFunc) error {
	if sel.ep.level != levelSystem {
		return nil
	}
	return sel.pop.EachShared(func(r *synth.Resource) error {
		return sel.resource(r, only, nil, emit)
	})
}

// patient emits the lines of the patient at position pos.
func (sel *selector) patient(pos, only int, emit emitFunc) error {
	var st *provState
	if sel.prov >= 0 && (only < 0 || only == sel.prov) {
		st = &provState{refs: make(map[string]bool)}
	}
	err := sel.pop.EachOfPatient(sel.patientAt(pos), func(r *synth.Resource) error {
		return sel.resource(r, only, st, emit)
	})
	if err != nil || st == nil {
		return err
	}
	return st.flush(sel, emit)
}

func (sel *selector) resource(r *synth.Resource, only int, st *provState, emit emitFunc) error {
	if r.Deleted {
		if sel.deleted < 0 || (only >= 0 && only != sel.deleted) {
			return nil
		}
		if _, ok := sel.index[r.Type]; !ok || !sel.inWindow(r.LastUpdated) {
			return nil
		}
		return emit(sel.deleted, deleteBundle(r.Type, r.ID))
	}
	if r.Type == "Provenance" && sel.prov >= 0 {
		if st != nil {
			return st.offer(r)
		}
		return nil
	}
	t, ok := sel.index[r.Type]
	if !ok || (only >= 0 && only != t && st == nil) {
		return nil
	}
	if !sel.inWindow(r.LastUpdated) {
		return nil
	}
	if filters := sel.ep.typeFilters[r.Type]; len(filters) > 0 {
		var m map[string]any
		if err := json.Unmarshal(r.JSON, &m); err != nil {
			return err
		}
		matched := false
		for _, f := range filters {
			if f.matches(m) {
				matched = true
				break
			}
		}
		if !matched {
			return nil
		}
	}
	if st != nil {
		st.refs[r.Type+"/"+r.ID] = true
	}
	if only >= 0 && only != t {
		return nil
	}
	return sel.emitResource(t, r.Type, r.JSON, emit)
}

func (sel *selector) emitResource(t int, typ string, js []byte, emit emitFunc) error {
	if keep := sel.keep[typ]; keep != nil {
		sub, err := subset(js, keep)
		if err != nil {
			return err
		}
		js = sub
	}
	return emit(t, js)
}

// deleteBundle is one deleted[] line: a transaction Bundle with a DELETE
// entry (Bulk Data Access IG, Export: Bulk Data Status Request, Response - Complete Status (deleted)).
func deleteBundle(typ, id string) []byte {
	b, _ := json.Marshal(map[string]any{
		"resourceType": "Bundle",
		"type":         "transaction",
		"entry": []any{map[string]any{
			"request": map[string]string{"method": "DELETE", "url": typ + "/" + id},
		}},
	})
	return b
}

// provState gathers one patient's Provenance for includeAssociatedData:
// the exported resources' references, and the Provenance seen so far.
type provState struct {
	refs  map[string]bool
	provs []provCandidate
}

type provCandidate struct {
	js       []byte
	targets  []string
	recorded string
}

func (st *provState) offer(r *synth.Resource) error {
	var p struct {
		Recorded string `json:"recorded"`
		Target   []struct {
			Reference string `json:"reference"`
		} `json:"target"`
	}
	if err := json.Unmarshal(r.JSON, &p); err != nil {
		return err
	}
	c := provCandidate{js: append([]byte(nil), r.JSON...), recorded: p.Recorded}
	for _, t := range p.Target {
		c.targets = append(c.targets, t.Reference)
	}
	st.provs = append(st.provs, c)
	return nil
}

// flush emits the Provenance of exported resources: all of it
// (RelevantProvenanceResources) or only the latest per target
// (LatestProvenanceResources).
func (st *provState) flush(sel *selector, emit emitFunc) error {
	latest := make(map[string]int) // target → index of its latest Provenance
	for i, c := range st.provs {
		for _, t := range c.targets {
			if !st.refs[t] {
				continue
			}
			if j, ok := latest[t]; !ok || st.provs[j].recorded <= c.recorded {
				latest[t] = i
			}
		}
	}
	for i, c := range st.provs {
		use := false
		for _, t := range c.targets {
			if j, ok := latest[t]; ok && (sel.ep.provenance == provRelevant || j == i) {
				use = true
				break
			}
		}
		if use {
			if err := sel.emitResource(sel.prov, "Provenance", c.js, emit); err != nil {
				return err
			}
		}
	}
	return nil
}
