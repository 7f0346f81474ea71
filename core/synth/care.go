package synth

// acuteCondition writes an encounter diagnosis that resolves weeks later,
// and often a prescription for it.
func (g *gen) acuteCondition(e *encCtx) error {
	w := &g.w
	a := acutes[g.r.intn(len(acutes))]
	onset := e.start - g.r.int64n(5*day)
	abated := e.start + int64(g.r.between(7, 42))*day
	resolved := abated <= g.p.end
	v, lu := g.stamp(e.end)
	deleted, lu := g.tombstone(lu)
	g.n.cond++
	id := g.id("-cond-", g.n.cond)
	g.begin("Condition", id, v, lu)
	if resolved {
		w.raw(conditionResolved)
	} else {
		w.raw(conditionActive)
	}
	w.raw(categoryDiagnosis)
	w.raw(`,"code":`)
	w.concept(a.code)
	g.subject()
	w.raw(`,"encounter":`)
	w.ref("Encounter", e.id)
	w.raw(`,"onsetDateTime":"`)
	w.instant(onset)
	if resolved {
		w.raw(`","abatementDateTime":"`)
		w.instant(abated)
	}
	w.raw(`","recordedDate":"`)
	w.instant(e.end)
	w.raw(`","recorder":`)
	w.ref("Practitioner", g.p.pracIDs[e.prac])
	e.finding = a.code.Display
	if !deleted {
		g.addProv("Condition", id)
	}
	if err := g.emit("Condition", id, g.pid, lu, deleted); err != nil {
		return err
	}
	if a.med < 0 || g.r.pct(30) {
		return nil
	}
	ref := condRef{id: id, deleted: deleted}
	status := "completed"
	if !resolved {
		status = "active"
	}
	return g.medicationRequest(e, meds[a.med], ref, status, a.code)
}

// refill writes a MedicationRequest for one of the patient's long-term
// conditions.
func (g *gen) refill(e *encCtx) error {
	pr := &g.prof
	// Pick the k-th condition the patient has, k uniform.
	n := 0
	for c := range chronics {
		if pr.has(c) && len(chronics[c].meds) > 0 {
			n++
		}
	}
	if n == 0 {
		return nil
	}
	k := g.r.intn(n)
	for c, ch := range chronics {
		if !pr.has(c) || len(ch.meds) == 0 {
			continue
		}
		if k > 0 {
			k--
			continue
		}
		med := meds[ch.meds[g.r.intn(len(ch.meds))]]
		status := "active"
		if e.start < g.p.end-365*day {
			status = "completed"
		}
		return g.medicationRequest(e, med, g.conds[c], status, ch.code)
	}
	return nil
}

// medicationRequest writes a prescription. It refers to its reason
// Condition unless that was deleted, then it carries the reason as a code.
func (g *gen) medicationRequest(e *encCtx, med code, reason condRef, status string, reasonCode code) error {
	w := &g.w
	v, lu := g.stamp(e.end)
	deleted, lu := g.tombstone(lu)
	g.n.med++
	id := g.id("-med-", g.n.med)
	g.begin("MedicationRequest", id, v, lu)
	w.raw(`,"status":"`)
	w.raw(status)
	w.raw(`","intent":"order","medicationCodeableConcept":`)
	w.concept(med)
	g.subject()
	w.raw(`,"encounter":`)
	w.ref("Encounter", e.id)
	w.raw(`,"authoredOn":"`)
	w.instant(e.end)
	w.raw(`","requester":`)
	w.ref("Practitioner", g.p.pracIDs[e.prac])
	if reason.id != "" && !reason.deleted {
		w.raw(`,"reasonReference":[`)
		w.ref("Condition", reason.id)
		w.raw(`]`)
	} else {
		w.raw(`,"reasonCode":[`)
		w.concept(reasonCode)
		w.raw(`]`)
	}
	freq := g.r.between(1, 3)
	w.raw(`,"dosageInstruction":[{"sequence":1,"text":"Take 1 by mouth `)
	w.raw(frequencies[freq-1])
	w.raw(`","timing":{"repeat":{"frequency":`)
	w.int(freq)
	w.raw(`,"period":1,"periodUnit":"d"}},"asNeededBoolean":false}]`)
	if !deleted {
		g.addProv("MedicationRequest", id)
	}
	return g.emit("MedicationRequest", id, g.pid, lu, deleted)
}

var frequencies = []string{"once daily", "twice daily", "three times daily"}

func (g *gen) procedure(e *encCtx) error {
	w := &g.w
	pc := procedures[g.r.intn(len(procedures))]
	start := e.start + g.r.int64n(max(e.end-e.start, 1))
	end := min(start+int64(g.r.between(10, 60))*60, g.p.end)
	v, lu := g.stamp(end)
	deleted, lu := g.tombstone(lu)
	g.n.proc++
	id := g.id("-proc-", g.n.proc)
	g.begin("Procedure", id, v, lu)
	w.raw(`,"status":"completed","code":`)
	w.concept(pc)
	g.subject()
	w.raw(`,"encounter":`)
	w.ref("Encounter", e.id)
	w.raw(`,"performedPeriod":{"start":"`)
	w.instant(start)
	w.raw(`","end":"`)
	w.instant(end)
	w.raw(`"},"performer":[{"actor":`)
	w.ref("Practitioner", g.p.pracIDs[e.prac])
	w.raw(`}],"location":`)
	w.ref("Location", g.p.locIDs[e.loc])
	if !deleted {
		g.addProv("Procedure", id)
	}
	return g.emit("Procedure", id, g.pid, lu, deleted)
}

// immunization writes a vaccination: influenza in the autumn, otherwise one
// of the others.
func (g *gen) immunization(e *encCtx, flu bool) error {
	w := &g.w
	vc := vaccines[0]
	if !flu {
		vc = vaccines[1+g.r.intn(len(vaccines)-1)]
	}
	at := e.start + g.r.int64n(max(e.end-e.start, 1))
	v, lu := g.stamp(at)
	deleted, lu := g.tombstone(lu)
	g.n.imm++
	id := g.id("-imm-", g.n.imm)
	g.begin("Immunization", id, v, lu)
	w.raw(`,"status":"completed","vaccineCode":`)
	w.concept(vc)
	w.raw(`,"patient":`)
	w.ref("Patient", g.pid)
	w.raw(`,"encounter":`)
	w.ref("Encounter", e.id)
	w.raw(`,"occurrenceDateTime":"`)
	w.instant(at)
	w.raw(`","primarySource":true,"lotNumber":"`)
	w.b = append(w.b, byte('A'+g.r.intn(26)), byte('A'+g.r.intn(26)))
	w.int(g.r.between(1000, 9999))
	w.raw(`","performer":[{"actor":`)
	w.ref("Practitioner", g.p.pracIDs[e.prac])
	w.raw(`}]`)
	if !deleted {
		g.addProv("Immunization", id)
	}
	return g.emit("Immunization", id, g.pid, lu, deleted)
}

// provenance writes who authored the encounter's record: its targets are
// the Encounter and every non-Observation resource it produced that was
// not deleted.
func (g *gen) provenance(e *encCtx) error {
	w := &g.w
	v, lu := g.stamp(e.end)
	deleted, lu := g.tombstone(lu)
	g.n.prov++
	id := g.id("-prov-", g.n.prov)
	g.begin("Provenance", id, v, lu)
	w.raw(`,"target":[`)
	w.b = append(w.b, g.prov...)
	w.raw(`],"recorded":"`)
	w.instant(e.end)
	w.raw(`","agent":[{"type":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/provenance-participant-type","code":"author","display":"Author"}]},"who":`)
	w.ref("Practitioner", g.p.pracIDs[e.prac])
	w.raw(`,"onBehalfOf":`)
	w.ref("Organization", g.p.orgIDs[e.org])
	w.raw(`}]`)
	return g.emit("Provenance", id, g.pid, lu, deleted)
}
