package synth

import "slices"

// patient writes patient i and its compartment.
func (g *gen) patient(i int) error {
	p := g.p
	g.prof, g.r = p.profile(i)
	g.pid = p.PatientID(i)
	g.n = counters{}
	pr := &g.prof

	// The record's window: the last History before End, or since birth.
	from := max(p.end-int64(History.Seconds()), pr.birth+day)
	if from >= p.end {
		from = p.end - day
	}
	if err := g.patientResource(i, from); err != nil {
		return err
	}
	for c := range chronics {
		g.conds[c] = condRef{}
		if pr.has(c) {
			if err := g.chronicCondition(c, from); err != nil {
				return err
			}
		}
	}
	nAlg := 0
	switch v := g.r.intn(100); {
	case v < 5:
		nAlg = 3
	case v < 15:
		nAlg = 2
	case v < 40:
		nAlg = 1
	}
	for range nAlg {
		if err := g.allergy(from); err != nil {
			return err
		}
	}

	// Encounters: uniformly spread over the window, in date order. Their
	// count sets the size of the record (about 14 resources each).
	n := g.r.between(12, 36)
	g.times = g.times[:0]
	span := p.end - from - 6*3600
	for range n {
		g.times = append(g.times, from+g.r.int64n(max(span, 1)))
	}
	slices.Sort(g.times)
	for _, t := range g.times {
		if err := g.encounter(t); err != nil {
			return err
		}
	}
	return nil
}

func (g *gen) patientResource(i int, from int64) error {
	pr, w := &g.prof, &g.w
	v, lu := g.stamp(from + g.r.int64n(g.p.end-from))
	g.begin("Patient", g.pid, v, lu)
	w.raw(`,"identifier":[{"use":"usual","type":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v2-0203","code":"MR","display":"Medical record number"}]},"system":"urn:oid:2.16.840.1.113883.19.5.99999","value":"MRN`)
	w.int(10000000 + i)
	w.raw(`"},{"type":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v2-0203","code":"SS","display":"Social Security number"}]},"system":"http://hl7.org/fhir/sid/us-ssn","value":"999-`)
	w.int(g.r.between(10, 99))
	w.b = append(w.b, '-')
	w.int(g.r.between(1000, 9999))
	w.raw(`"}],"active":true,"name":[{"use":"official","family":`)
	w.str(families[pr.family])
	w.raw(`,"given":[`)
	w.str(pr.givenName())
	w.b = append(w.b, ',')
	w.str(pr.middleName())
	w.raw(`]`)
	if pr.age(g.p.end) >= 18 {
		if pr.female {
			w.raw(`,"prefix":["Ms."]`)
		} else {
			w.raw(`,"prefix":["Mr."]`)
		}
	}
	w.raw(`}],"telecom":[{"system":"phone","value":"555-`)
	w.int(g.r.between(200, 999))
	w.b = append(w.b, '-')
	w.int(g.r.between(1000, 9999))
	w.raw(`","use":"home"},{"system":"email","value":"`)
	w.b = appendLowerASCII(w.b, pr.givenName())
	w.b = append(w.b, '.')
	w.b = appendLowerASCII(w.b, families[pr.family])
	w.int(i)
	w.raw(`@example.org"}],"gender":"`)
	if pr.female {
		w.raw(`female`)
	} else {
		w.raw(`male`)
	}
	w.raw(`","birthDate":"`)
	w.date(pr.birth)
	c := cities[pr.city]
	w.raw(`","address":[{"use":"home","line":["`)
	w.int(pr.house)
	w.b = append(w.b, ' ')
	w.raw(streets[pr.street])
	w.raw(`"],"city":`)
	w.str(c.City)
	w.raw(`,"state":"`)
	w.raw(c.State)
	w.raw(`","postalCode":"`)
	w.raw(c.Zip)
	w.raw(`","country":"US"}]`)
	if pr.age(g.p.end) >= 18 {
		ms := maritalStatuses[g.r.intn(len(maritalStatuses))]
		w.raw(`,"maritalStatus":`)
		w.concept(ms)
	}
	lang := languages[g.r.intn(len(languages))]
	w.raw(`,"communication":[{"language":`)
	w.concept(lang)
	w.raw(`,"preferred":true}],"generalPractitioner":[`)
	w.ref("Practitioner", g.p.pracIDs[pr.gp])
	w.raw(`],"managingOrganization":`)
	w.ref("Organization", g.p.orgIDs[pr.gp%g.p.orgs])
	return g.emit("Patient", g.pid, g.pid, lu, false)
}

var (
	maritalStatuses = []code{
		{"http://terminology.hl7.org/CodeSystem/v3-MaritalStatus", "M", "Married"},
		{"http://terminology.hl7.org/CodeSystem/v3-MaritalStatus", "S", "Never Married"},
		{"http://terminology.hl7.org/CodeSystem/v3-MaritalStatus", "D", "Divorced"},
		{"http://terminology.hl7.org/CodeSystem/v3-MaritalStatus", "W", "Widowed"},
	}
	languages = []code{
		{"urn:ietf:bcp:47", "en-US", "English (United States)"},
		{"urn:ietf:bcp:47", "en-US", "English (United States)"},
		{"urn:ietf:bcp:47", "en-US", "English (United States)"},
		{"urn:ietf:bcp:47", "es", "Spanish"},
	}
)

// appendLowerASCII appends the ASCII letters of s in lower case, for email
// local parts.
func appendLowerASCII(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'A' && c <= 'Z':
			b = append(b, c+'a'-'A')
		case c >= 'a' && c <= 'z':
			b = append(b, c)
		}
	}
	return b
}

const (
	conditionActive   = `,"clinicalStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/condition-clinical","code":"active"}]},"verificationStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/condition-ver-status","code":"confirmed"}]}`
	conditionResolved = `,"clinicalStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/condition-clinical","code":"resolved"}]},"verificationStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/condition-ver-status","code":"confirmed"}]}`
	categoryProblem   = `,"category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/condition-category","code":"problem-list-item","display":"Problem List Item"}]}]`
	categoryDiagnosis = `,"category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/condition-category","code":"encounter-diagnosis","display":"Encounter Diagnosis"}]}]`
)

// chronicCondition writes a long-term problem-list Condition, onset after
// the disease's minimum age and recorded within the window.
func (g *gen) chronicCondition(c int, from int64) error {
	pr, w, ch := &g.prof, &g.w, chronics[c]
	earliest := pr.birth + int64(ch.minAge)*year
	onset := earliest + g.r.int64n(max(g.p.end-earliest, day))
	recorded := max(onset, from) + g.r.int64n(30*day)
	recorded = min(recorded, g.p.end)
	onset = min(onset, recorded)
	v, lu := g.stamp(recorded)
	deleted, lu := g.tombstone(lu)
	g.n.cond++
	id := g.id("-cond-", g.n.cond)
	g.conds[c] = condRef{id: id, deleted: deleted}
	g.begin("Condition", id, v, lu)
	w.raw(conditionActive)
	w.raw(categoryProblem)
	w.raw(`,"code":`)
	w.concept(ch.code)
	g.subject()
	w.raw(`,"onsetDateTime":"`)
	w.instant(onset)
	w.raw(`","recordedDate":"`)
	w.instant(recorded)
	w.raw(`","recorder":`)
	w.ref("Practitioner", g.p.pracIDs[pr.gp])
	return g.emit("Condition", id, g.pid, lu, deleted)
}

func (g *gen) allergy(from int64) error {
	pr, w := &g.prof, &g.w
	a := allergies[g.r.intn(len(allergies))]
	recorded := from + g.r.int64n(max(g.p.end-from, 1))
	v, lu := g.stamp(recorded)
	deleted, lu := g.tombstone(lu)
	g.n.alg++
	id := g.id("-alg-", g.n.alg)
	g.begin("AllergyIntolerance", id, v, lu)
	w.raw(`,"clinicalStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical","code":"active"}]},"verificationStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/allergyintolerance-verification","code":"confirmed"}]},"type":"allergy","category":["`)
	w.raw(a.category)
	w.raw(`"],"criticality":"`)
	w.raw(criticalities[g.r.intn(len(criticalities))])
	w.raw(`","code":`)
	w.concept(a.code)
	w.raw(`,"patient":`)
	w.ref("Patient", g.pid)
	w.raw(`,"recordedDate":"`)
	w.instant(recorded)
	w.raw(`","recorder":`)
	w.ref("Practitioner", g.p.pracIDs[pr.gp])
	w.raw(`,"reaction":[{"manifestation":[`)
	w.concept(reactions[g.r.intn(len(reactions))])
	w.raw(`],"severity":"`)
	w.raw(severities[g.r.intn(len(severities))])
	w.raw(`"}]`)
	return g.emit("AllergyIntolerance", id, g.pid, lu, deleted)
}

var (
	criticalities = []string{"low", "low", "high", "unable-to-assess"}
	severities    = []string{"mild", "mild", "moderate", "severe"}
)
