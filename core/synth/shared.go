package synth

// Streams for shared resources sit far above any patient index.
const (
	streamOrg  = 1 << 60
	streamLoc  = 2 << 60
	streamPrac = 3 << 60
	streamRole = 4 << 60
)

// orgInfo returns organisation k's city and kind (indexes into cities and
// orgKinds); locations reuse it for their names and addresses.
func (p *Population) orgInfo(k int) (city, kind int) {
	r := newRNG(p.cfg.Seed, streamOrg+uint64(k))
	return r.intn(len(cities)), r.intn(len(orgKinds))
}

func (p *Population) orgName(k int) string {
	city, kind := p.orgInfo(k)
	return cities[city].City + " " + orgKinds[kind]
}

// npi returns a 10-digit National Provider Identifier with a valid Luhn
// check digit (computed over the "80840" prefix, as the NPI standard says).
func npi(base int) []byte {
	d := make([]byte, 0, 10)
	d = appendInt(d, 100000000+base%900000000)
	sum := 24 // the "80840" prefix contributes 24 to the Luhn sum
	for i := len(d) - 1; i >= 0; i-- {
		v := int(d[i] - '0')
		if (len(d)-1-i)%2 == 0 {
			v *= 2
			if v > 9 {
				v -= 9
			}
		}
		sum += v
	}
	return append(d, byte('0'+(10-sum%10)%10))
}

// shared writes Organizations, Locations, Practitioners and
// PractitionerRoles, in that order.
func (g *gen) shared() error {
	p, w := g.p, &g.w
	from := p.end - int64(History.Seconds())
	for k := range p.orgs {
		g.r = newRNG(p.cfg.Seed, streamOrg+uint64(k))
		city, _ := g.r.intn(len(cities)), g.r.intn(len(orgKinds))
		v, lu := g.stamp(from + g.r.int64n(p.end-from))
		id := p.orgIDs[k]
		g.begin("Organization", id, v, lu)
		w.raw(`,"identifier":[{"system":"http://hl7.org/fhir/sid/us-npi","value":"`)
		w.b = append(w.b, npi(7919*k+17)...)
		w.raw(`"}],"active":true,"type":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/organization-type","code":"prov","display":"Healthcare Provider"}]}],"name":`)
		w.str(p.orgName(k))
		g.telecomAddress(city, "info")
		if err := g.emit("Organization", id, "", lu, false); err != nil {
			return err
		}
	}
	for k := range p.locs {
		g.r = newRNG(p.cfg.Seed, streamLoc+uint64(k))
		org := k % p.orgs
		city, _ := p.orgInfo(org)
		v, lu := g.stamp(from + g.r.int64n(p.end-from))
		id := p.locIDs[k]
		g.begin("Location", id, v, lu)
		w.raw(`,"status":"active","name":`)
		if k < p.orgs {
			w.str(p.orgName(org) + " Main Campus")
		} else {
			w.str(p.orgName(org) + " Outpatient Clinic")
		}
		w.raw(`,"mode":"instance","type":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-RoleCode","code":"`)
		if k < p.orgs {
			w.raw(`HOSP","display":"Hospital"`)
		} else {
			w.raw(`OF","display":"Outpatient facility"`)
		}
		w.raw(`}]}]`)
		g.telecomAddress(city, "front-desk")
		w.raw(`,"managingOrganization":`)
		w.ref("Organization", p.orgIDs[org])
		if err := g.emit("Location", id, "", lu, false); err != nil {
			return err
		}
	}
	for k := range p.pracs {
		g.r = newRNG(p.cfg.Seed, streamPrac+uint64(k))
		female := g.r.intn(2) == 0
		given := givenMale[g.r.intn(len(givenMale))]
		if female {
			given = givenFemale[g.r.intn(len(givenFemale))]
		}
		family := families[g.r.intn(len(families))]
		city, _ := p.orgInfo(k % p.orgs)
		v, lu := g.stamp(from + g.r.int64n(p.end-from))
		id := p.pracIDs[k]
		g.begin("Practitioner", id, v, lu)
		w.raw(`,"identifier":[{"system":"http://hl7.org/fhir/sid/us-npi","value":"`)
		w.b = append(w.b, npi(104729*k+31)...)
		w.raw(`"}],"active":true,"name":[{"use":"official","family":`)
		w.str(family)
		w.raw(`,"given":[`)
		w.str(given)
		w.raw(`],"prefix":["Dr."]}]`)
		g.telecomAddress(city, "dr."+string(appendLowerASCII(nil, family))+appendIntString(k))
		if female {
			w.raw(`,"gender":"female"`)
		} else {
			w.raw(`,"gender":"male"`)
		}
		w.raw(`,"qualification":[{"code":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v2-0360","code":"MD","display":"Doctor of Medicine"}],"text":"MD"}}]`)
		if err := g.emit("Practitioner", id, "", lu, false); err != nil {
			return err
		}
	}
	for k := range p.pracs {
		g.r = newRNG(p.cfg.Seed, streamRole+uint64(k))
		org := k % p.orgs
		spec := specialties[g.r.intn(len(specialties))]
		v, lu := g.stamp(from + g.r.int64n(p.end-from))
		id := p.roleIDs[k]
		g.begin("PractitionerRole", id, v, lu)
		w.raw(`,"active":true,"practitioner":`)
		w.ref("Practitioner", p.pracIDs[k])
		w.raw(`,"organization":`)
		w.ref("Organization", p.orgIDs[org])
		w.raw(`,"code":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/practitioner-role","code":"doctor","display":"Doctor"}]}],"specialty":[`)
		w.concept(spec)
		w.raw(`],"location":[`)
		w.ref("Location", p.locIDs[org])
		w.raw(`,`)
		w.ref("Location", p.locIDs[org+p.orgs])
		w.raw(`]`)
		if err := g.emit("PractitionerRole", id, "", lu, false); err != nil {
			return err
		}
	}
	return nil
}

func appendIntString(n int) string { return string(appendInt(nil, n)) }

// telecomAddress writes a work phone, a work email and an address in city.
func (g *gen) telecomAddress(city int, mailbox string) {
	w, c := &g.w, cities[city]
	w.raw(`,"telecom":[{"system":"phone","value":"555-`)
	w.int(g.r.between(200, 999))
	w.b = append(w.b, '-')
	w.int(g.r.between(1000, 9999))
	w.raw(`","use":"work"},{"system":"email","value":`)
	w.str(mailbox + "@example.org")
	w.raw(`,"use":"work"}],"address":[{"use":"work","line":["`)
	w.int(g.r.between(1, 999))
	w.b = append(w.b, ' ')
	w.raw(streets[g.r.intn(len(streets))])
	w.raw(`"],"city":`)
	w.str(c.City)
	w.raw(`,"state":"`)
	w.raw(c.State)
	w.raw(`","postalCode":"`)
	w.raw(c.Zip)
	w.raw(`","country":"US"}]`)
}
