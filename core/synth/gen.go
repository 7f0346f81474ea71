package synth

import "strconv"

// gen writes one stream of resources: one patient, or the shared pool. It is
// pooled by Population and reset at the start of each patient.
type gen struct {
	p   *Population
	r   rng
	w   jw
	res Resource
	fn  func(*Resource) error

	// Patient state.
	pid   string
	prof  profile
	n     counters
	conds [16]condRef // long-term Conditions, by chronics index
	times []int64     // encounter start times
	note  []byte      // DocumentReference text before base64
	prov  []byte      // Provenance target references of the current encounter
	rslt  []byte      // DiagnosticReport result references of the current panel
}

type counters struct{ enc, obs, dr, cond, med, proc, imm, alg, doc, prov int }

type condRef struct {
	id      string
	deleted bool
}

// deletedPct is the share of deletable resources that are tombstones.
// Encounters, Patients and shared resources are never deleted because other
// resources refer to them; references to deleted leaves are left out.
const deletedPct = 1

// begin resets the buffer and writes the resource header.
func (g *gen) begin(typ, id string, version int, lastUpdated int64) {
	g.w.b = g.w.b[:0]
	g.w.raw(`{"resourceType":"`)
	g.w.raw(typ)
	g.w.raw(`","id":"`)
	g.w.raw(id)
	g.w.b = append(g.w.b, '"')
	g.w.meta(version, lastUpdated)
}

// emit closes the JSON object and hands the resource to fn. A deleted
// resource is still written (so the random stream does not depend on it)
// but handed over without JSON.
func (g *gen) emit(typ, id, patient string, lastUpdated int64, deleted bool) error {
	g.w.b = append(g.w.b, '}')
	g.res = Resource{Type: typ, ID: id, Patient: patient, LastUpdated: utc(lastUpdated), Deleted: deleted, JSON: g.w.b}
	if deleted {
		g.res.JSON = nil
	}
	return g.fn(&g.res)
}

// stamp draws a version and meta.lastUpdated for something that happened
// at t: recorded within two days, sometimes amended months later, never
// after End.
func (g *gen) stamp(t int64) (version int, lastUpdated int64) {
	lu := t + g.r.int64n(2*day)
	version = 1
	switch v := g.r.intn(100); {
	case v < 5:
		version = 3
		lu += g.r.int64n(400 * day)
	case v < 20:
		version = 2
		lu += g.r.int64n(180 * day)
	}
	return version, min(lu, g.p.end)
}

// tombstone decides whether a resource last updated at lu is deleted, and
// if so when.
func (g *gen) tombstone(lu int64) (deleted bool, at int64) {
	if g.r.intn(100) >= deletedPct {
		return false, lu
	}
	return true, lu + g.r.int64n(g.p.end-lu+1)
}

// id returns pid + kind + n, e.g. "pat-7-obs-12".
func (g *gen) id(kind string, n int) string {
	b := make([]byte, 0, len(g.pid)+len(kind)+6)
	b = append(b, g.pid...)
	b = append(b, kind...)
	b = strconv.AppendInt(b, int64(n), 10)
	return string(b)
}

// addProv records a reference for the current encounter's Provenance.
func (g *gen) addProv(typ, id string) {
	if len(g.prov) > 0 {
		g.prov = append(g.prov, ',')
	}
	g.prov = append(g.prov, `{"reference":"`...)
	g.prov = append(g.prov, typ...)
	g.prov = append(g.prov, '/')
	g.prov = append(g.prov, id...)
	g.prov = append(g.prov, `"}`...)
}

func (g *gen) subject() {
	g.w.raw(`,"subject":`)
	g.w.ref("Patient", g.pid)
}
