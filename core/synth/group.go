package synth

// groupUpdated is the Groups' meta.lastUpdated: a day before End.
func (p *Population) groupUpdated() int64 { return p.end - day }

// Groups returns the cohorts, computed on first use from the patients'
// profiles (no resources are generated):
//
//   - "diabetes": patients with type 2 diabetes (about one in ten)
//   - "over-65": patients over 65 at End (about a third)
//   - "pilot": five patients spread across the population
//   - "withdrawn": an empty group, as left behind when a study closes
//
// Callers must not modify the result.
func (p *Population) Groups() []Group {
	p.groupsOnce.Do(func() {
		var diabetes, old, pilot []string
		for i := range p.cfg.Patients {
			pr, _ := p.profile(i)
			if pr.has(chronicDiabetes) {
				diabetes = append(diabetes, p.PatientID(i))
			}
			if pr.age(p.end) >= 65 {
				old = append(old, p.PatientID(i))
			}
		}
		n := min(5, p.cfg.Patients)
		for k := range n {
			pilot = append(pilot, p.PatientID(k*p.cfg.Patients/n))
		}
		p.groups = []Group{
			p.group("diabetes", "Diabetes cohort", diabetes, chronics[chronicDiabetes].code),
			p.group("over-65", "All patients over 65", old, code{}),
			p.group("pilot", "Remote monitoring pilot (5 patients)", pilot, code{}),
			p.group("withdrawn", "Withdrawn study arm (no members)", nil, code{}),
		}
	})
	return p.groups
}

// group renders a Group resource. Members are listed as Group.member
// entities, which is what Group-level $export reads.
func (p *Population) group(id, name string, members []string, characteristic code) Group {
	var w jw
	w.raw(`{"resourceType":"Group","id":"`)
	w.raw(id)
	w.b = append(w.b, '"')
	w.meta(1, p.groupUpdated())
	w.raw(`,"identifier":[{"system":"urn:tranche:synth:group","value":"`)
	w.raw(id)
	w.raw(`"}],"active":true,"type":"person","actual":true,"name":`)
	w.str(name)
	w.raw(`,"quantity":`)
	w.int(len(members))
	if characteristic.Code != "" {
		w.raw(`,"characteristic":[{"code":{"coding":[{"system":"http://loinc.org","code":"11450-4","display":"Problem list - Reported"}]},"valueCodeableConcept":`)
		w.concept(characteristic)
		w.raw(`,"exclude":false}]`)
	}
	if len(members) > 0 {
		w.raw(`,"member":[`)
		for k, m := range members {
			if k > 0 {
				w.b = append(w.b, ',')
			}
			w.raw(`{"entity":`)
			w.ref("Patient", m)
			w.b = append(w.b, '}')
		}
		w.b = append(w.b, ']')
	}
	w.b = append(w.b, '}')
	return Group{ID: id, Name: name, Members: members, JSON: w.b}
}
