package synth

import "encoding/base64"

// encounter writes one encounter and everything it produced, ending with
// the Provenance that records who authored it.
func (g *gen) encounter(t int64) error {
	p, pr, w := g.p, &g.prof, &g.w
	kind := encounterKinds[g.r.intn(len(encounterKinds))]
	prac := pr.gp
	if g.r.pct(25) {
		prac = g.r.intn(p.pracs)
	}
	org := prac % p.orgs
	loc := org + p.orgs*g.r.intn(2)
	dur := int64(kind.minutes)*60 + g.r.int64n(int64(kind.minutes)*30+1)
	if kind.class == classIMP {
		dur += int64(g.r.between(1, 5)) * day
	}
	start, end := t, min(t+dur, p.end)
	v, lu := g.stamp(end)
	g.n.enc++
	enc := g.id("-enc-", g.n.enc)
	g.begin("Encounter", enc, v, lu)
	w.raw(`,"status":"finished","class":`)
	w.coding(kind.class)
	w.raw(`,"type":[`)
	w.concept(kind.typ)
	w.raw(`]`)
	g.subject()
	w.raw(`,"participant":[{"type":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ParticipationType","code":"PPRF","display":"primary performer"}]}],"individual":`)
	w.ref("Practitioner", p.pracIDs[prac])
	w.raw(`}],"period":{"start":"`)
	w.instant(start)
	w.raw(`","end":"`)
	w.instant(end)
	w.raw(`"},"location":[{"location":`)
	w.ref("Location", p.locIDs[loc])
	w.raw(`}],"serviceProvider":`)
	w.ref("Organization", p.orgIDs[org])
	if err := g.emit("Encounter", enc, g.pid, lu, false); err != nil {
		return err
	}
	g.prov = append(g.prov[:0], `{"reference":"Encounter/`...)
	g.prov = append(g.prov, enc...)
	g.prov = append(g.prov, `"}`...)

	e := encCtx{id: enc, start: start, end: end, prac: prac, org: org, loc: loc, kind: kind}
	if err := g.vitals(&e); err != nil {
		return err
	}
	if g.r.pct(40) {
		if err := g.labs(&e); err != nil {
			return err
		}
	}
	if kind.symptom && g.r.pct(60) {
		if err := g.acuteCondition(&e); err != nil {
			return err
		}
	}
	if g.r.pct(35) {
		if err := g.procedure(&e); err != nil {
			return err
		}
	}
	if pr.chronic != 0 && g.r.pct(40) {
		if err := g.refill(&e); err != nil {
			return err
		}
	}
	_, month, _, _, _, _ := civil(start)
	if (month >= 9 && g.r.pct(45)) || g.r.pct(12) {
		if err := g.immunization(&e, month >= 9); err != nil {
			return err
		}
	}
	if kind.class == classIMP || g.r.pct(20) {
		if err := g.document(&e); err != nil {
			return err
		}
	}
	return g.provenance(&e)
}

// encCtx is what an encounter's resources share.
type encCtx struct {
	id             string
	start, end     int64
	prac, org, loc int
	kind           encounterKind
	sys, dia, hr   int    // for the note
	finding        string // for the note: the acute diagnosis, if any
}

const (
	catVitals = `,"category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"vital-signs","display":"Vital Signs"}],"text":"Vital Signs"}]`
	catLab    = `,"category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"laboratory","display":"Laboratory"}],"text":"Laboratory"}]`
)

// vitals writes the blood pressure panel and the other vital signs.
func (g *gen) vitals(e *encCtx) error {
	pr, w := &g.prof, &g.w
	eff := e.start + 300 + g.r.int64n(600)
	sysMean, diaMean := 118.0, 76.0
	if pr.has(1) { // hypertension
		sysMean, diaMean = 136, 86
	}
	e.sys = int(g.r.normal(sysMean, 10))
	e.dia = int(g.r.normal(diaMean, 7))

	id, lu, deleted := g.obsHeader(eff, catVitals)
	w.raw(`,"code":`)
	w.concept(bpPanel)
	g.obsRefs(e, eff)
	w.raw(`,"component":[{"code":`)
	w.concept(systolic)
	w.raw(`,"valueQuantity":`)
	g.quantity(float64(e.sys), 0, "mm[Hg]")
	w.raw(`},{"code":`)
	w.concept(diastolic)
	w.raw(`,"valueQuantity":`)
	g.quantity(float64(e.dia), 0, "mm[Hg]")
	w.raw(`}]`)
	if err := g.emit("Observation", id, g.pid, lu, deleted); err != nil {
		return err
	}

	height := pr.height + g.r.normal(0, 0.4)
	bmi := pr.bmi * (1 + g.r.normal(0, 0.02))
	weight := bmi * height * height / 10000
	for k, q := range vitals {
		var value float64
		switch k {
		case vitalWeight:
			value = weight
		case vitalHeight:
			value = height
		case vitalBMI:
			value = bmi
		default:
			value = g.r.normal(q.mean, q.sd)
		}
		if k == 0 {
			e.hr = int(value)
		}
		if err := g.observation(e, eff, catVitals, q, value); err != nil {
			return err
		}
	}
	return nil
}

// obsHeader starts an Observation: id, meta, status, category.
func (g *gen) obsHeader(eff int64, category string) (id string, lu int64, deleted bool) {
	v, lu := g.stamp(eff)
	deleted, lu = g.tombstone(lu)
	g.n.obs++
	id = g.id("-obs-", g.n.obs)
	g.begin("Observation", id, v, lu)
	g.w.raw(`,"status":"final"`)
	g.w.raw(category)
	return id, lu, deleted
}

// obsRefs writes subject, encounter, effective and issued.
func (g *gen) obsRefs(e *encCtx, eff int64) {
	w := &g.w
	g.subject()
	w.raw(`,"encounter":`)
	w.ref("Encounter", e.id)
	w.raw(`,"effectiveDateTime":"`)
	w.instant(eff)
	w.raw(`","issued":"`)
	w.instant(min(eff+3600, g.p.end))
	w.b = append(w.b, '"')
}

func (g *gen) quantity(value float64, decimals int, unit string) {
	w := &g.w
	w.raw(`{"value":`)
	w.float(value, decimals)
	w.raw(`,"unit":"`)
	w.raw(unit)
	w.raw(`","system":"http://unitsofmeasure.org","code":"`)
	w.raw(unit)
	w.raw(`"}`)
}

// observation writes one quantitative Observation; laboratory results get
// a reference range and an interpretation. Non-deleted lab results are
// added to g.rslt for their DiagnosticReport.
func (g *gen) observation(e *encCtx, eff int64, category string, q quantity, value float64) error {
	w := &g.w
	id, lu, deleted := g.obsHeader(eff, category)
	w.raw(`,"code":`)
	w.concept(q.code)
	g.obsRefs(e, eff)
	w.raw(`,"valueQuantity":`)
	g.quantity(value, q.decimals, q.unit)
	if category == catLab {
		interp := `N","display":"Normal`
		switch {
		case q.high > 0 && value > q.high:
			interp = `H","display":"High`
		case q.low > 0 && value < q.low:
			interp = `L","display":"Low`
		}
		w.raw(`,"interpretation":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation","code":"`)
		w.raw(interp)
		w.raw(`"}]}],"referenceRange":[{`)
		if q.low > 0 {
			w.raw(`"low":`)
			g.quantity(q.low, q.decimals, q.unit)
			if q.high > 0 {
				w.b = append(w.b, ',')
			}
		}
		if q.high > 0 {
			w.raw(`"high":`)
			g.quantity(q.high, q.decimals, q.unit)
		}
		w.raw(`}]`)
		if !deleted {
			if len(g.rslt) > 0 {
				g.rslt = append(g.rslt, ',')
			}
			g.rslt = append(g.rslt, `{"reference":"Observation/`...)
			g.rslt = append(g.rslt, id...)
			g.rslt = append(g.rslt, `"}`...)
		}
	}
	return g.emit("Observation", id, g.pid, lu, deleted)
}

// labs writes one panel (sometimes two) and a DiagnosticReport for each.
func (g *gen) labs(e *encCtx) error {
	pr := &g.prof
	n := 1
	if g.r.pct(15) {
		n = 2
	}
	for range n {
		pi := g.r.intn(panelA1c) // BMP, lipids or CBC
		if pr.has(chronicDiabetes) && g.r.pct(40) {
			pi = panelA1c
		}
		if err := g.panel(e, panels[pi]); err != nil {
			return err
		}
	}
	return nil
}

func (g *gen) panel(e *encCtx, pn panel) error {
	pr, w := &g.prof, &g.w
	eff := e.start + 900 + g.r.int64n(1800)
	g.rslt = g.rslt[:0]
	for _, q := range pn.results {
		mean := q.mean
		if pr.has(chronicDiabetes) {
			switch q.code.Code {
			case "2345-7":
				mean += 45
			case "4548-4":
				mean += 1.8
			}
		}
		if err := g.observation(e, eff, catLab, q, max(g.r.normal(mean, q.sd), 0)); err != nil {
			return err
		}
	}
	issued := min(eff+4*3600+g.r.int64n(20*3600), g.p.end)
	v, lu := g.stamp(issued)
	deleted, lu := g.tombstone(lu)
	g.n.dr++
	id := g.id("-dr-", g.n.dr)
	g.begin("DiagnosticReport", id, v, lu)
	w.raw(`,"status":"final","category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v2-0074","code":"LAB","display":"Laboratory"}]}],"code":`)
	w.concept(pn.code)
	g.subject()
	w.raw(`,"encounter":`)
	w.ref("Encounter", e.id)
	w.raw(`,"effectiveDateTime":"`)
	w.instant(eff)
	w.raw(`","issued":"`)
	w.instant(issued)
	w.raw(`","performer":[`)
	w.ref("Organization", g.p.orgIDs[e.org])
	w.raw(`],"resultsInterpreter":[`)
	w.ref("Practitioner", g.p.pracIDs[e.prac])
	w.raw(`]`)
	if len(g.rslt) > 0 {
		w.raw(`,"result":[`)
		w.b = append(w.b, g.rslt...)
		w.raw(`]`)
	}
	if !deleted {
		g.addProv("DiagnosticReport", id)
	}
	return g.emit("DiagnosticReport", id, g.pid, lu, deleted)
}

// appendNote writes the plain-text clinical note of an encounter.
func (g *gen) appendNote(b []byte, e *encCtx, title string) []byte {
	pr := &g.prof
	b = append(b, title...)
	b = append(b, "\nPatient: "...)
	b = append(b, pr.givenName()...)
	b = append(b, ' ')
	b = append(b, families[pr.family]...)
	if pr.female {
		b = append(b, " (female, "...)
	} else {
		b = append(b, " (male, "...)
	}
	b = appendInt(b, pr.age(e.start))
	b = append(b, " y)\nEncounter: "...)
	b = append(b, e.kind.typ.Display...)
	b = append(b, "\nVitals: BP "...)
	b = appendInt(b, e.sys)
	b = append(b, '/')
	b = appendInt(b, e.dia)
	b = append(b, " mmHg, HR "...)
	b = appendInt(b, e.hr)
	b = append(b, " /min.\nAssessment: "...)
	if e.finding != "" {
		b = append(b, e.finding...)
	} else {
		b = append(b, "No acute findings."...)
	}
	b = append(b, "\nPlan: follow up in "...)
	b = appendInt(b, g.r.between(2, 26))
	b = append(b, " weeks.\n"...)
	return b
}

func appendInt(b []byte, n int) []byte {
	w := jw{b: b}
	w.int(n)
	return w.b
}

// document writes a DocumentReference carrying the note inline as base64.
func (g *gen) document(e *encCtx) error {
	w := &g.w
	dt := docTypes[0]
	switch {
	case e.kind.class == classIMP:
		dt = docTypes[2]
	case g.r.pct(30):
		dt = docTypes[1]
	}
	g.note = g.appendNote(g.note[:0], e, dt.Display)
	v, lu := g.stamp(e.end)
	deleted, lu := g.tombstone(lu)
	g.n.doc++
	id := g.id("-doc-", g.n.doc)
	g.begin("DocumentReference", id, v, lu)
	w.raw(`,"status":"current","docStatus":"final","type":`)
	w.concept(dt)
	w.raw(`,"category":[{"coding":[{"system":"http://hl7.org/fhir/us/core/CodeSystem/us-core-documentreference-category","code":"clinical-note","display":"Clinical Note"}]}]`)
	g.subject()
	w.raw(`,"date":"`)
	w.instant(e.end)
	w.raw(`","author":[`)
	w.ref("Practitioner", g.p.pracIDs[e.prac])
	w.raw(`],"custodian":`)
	w.ref("Organization", g.p.orgIDs[e.org])
	w.raw(`,"content":[{"attachment":{"contentType":"text/plain","language":"en-US","data":"`)
	w.b = base64.StdEncoding.AppendEncode(w.b, g.note)
	w.raw(`","title":"`)
	w.raw(dt.Display)
	w.raw(`","creation":"`)
	w.instant(e.end)
	w.raw(`"}}],"context":{"encounter":[`)
	w.ref("Encounter", e.id)
	w.raw(`],"period":{"start":"`)
	w.instant(e.start)
	w.raw(`","end":"`)
	w.instant(e.end)
	w.raw(`"}}`)
	if !deleted {
		g.addProv("DocumentReference", id)
	}
	return g.emit("DocumentReference", id, g.pid, lu, deleted)
}
