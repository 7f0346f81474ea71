// Package synth generates a deterministic synthetic FHIR R4 population for
// the demo server and benchmarks. Nothing is held in memory: each patient's
// resources are regenerated on demand from (Seed, patient index), so any
// range of patients can be streamed, in parallel and repeatedly, with
// byte-identical output.
package synth

import (
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Defaults for zero Config fields.
const (
	DefaultPatients = 100
	DefaultSeed     = 1
)

// DefaultEnd is the latest meta.lastUpdated when Config.End is zero. It is
// fixed, not time.Now, so that output never depends on when it was made.
var DefaultEnd = time.Date(2026, 6, 30, 0, 0, 0, 0, time.UTC)

// History is how far before End the data reaches: meta.lastUpdated and
// encounter dates spread over this span so _since and _until select real
// subsets.
const History = 6 * 365 * 24 * time.Hour

// Config shapes a population. The zero value is valid.
type Config struct {
	Patients int       // default DefaultPatients when 0
	Seed     int64     // default DefaultSeed when 0
	End      time.Time // latest meta.lastUpdated; zero = DefaultEnd
}

// Resource is one generated resource. Callbacks may be handed the same
// *Resource (and the same JSON backing array) on every call: copy what you
// keep beyond the call.
type Resource struct {
	Type, ID    string
	Patient     string // patient id when in that patient's compartment (the Patient too), else ""
	LastUpdated time.Time
	// Deleted marks a tombstone: the resource was deleted at LastUpdated.
	// Servers leave it out of output and list it in deleted[] for _since
	// exports (Bulk Data manifest deleted[], Bulk Data Access IG, Export: Bulk Data Status Request, Response - Complete Status (deleted)).
	Deleted bool
	JSON    []byte // one line of R4 JSON, no newline; nil when Deleted
}

// Group is a cohort of patients, with its FHIR Group resource.
type Group struct {
	ID, Name string
	Members  []string // patient ids
	JSON     []byte   // the Group resource
}

// Population is a synthetic population. It is safe for concurrent use.
type Population struct {
	cfg Config
	end int64 // Unix seconds
	// Shared pool sizes, derived from Patients, and their ids.
	orgs, pracs, locs       int
	orgIDs, pracIDs, locIDs []string
	roleIDs                 []string

	groupsOnce sync.Once
	groups     []Group

	gens sync.Pool // *gen
}

// New returns the population cfg describes. It generates nothing up front.
func New(cfg Config) *Population {
	if cfg.Patients <= 0 {
		cfg.Patients = DefaultPatients
	}
	if cfg.Seed == 0 {
		cfg.Seed = DefaultSeed
	}
	if cfg.End.IsZero() {
		cfg.End = DefaultEnd
	}
	cfg.End = cfg.End.UTC().Truncate(time.Second)
	p := &Population{cfg: cfg, end: cfg.End.Unix()}
	// Shared pools grow with the square root of the population: a hundred
	// patients see a handful of organisations, 100,000 see about eighty.
	root := isqrt(cfg.Patients)
	p.orgs = 3 + root/4
	p.pracs = 5 + root
	p.locs = 2 * p.orgs
	for k := range p.orgs {
		p.orgIDs = append(p.orgIDs, "org-"+strconv.Itoa(k))
	}
	for k := range p.locs {
		p.locIDs = append(p.locIDs, "loc-"+strconv.Itoa(k))
	}
	for k := range p.pracs {
		p.pracIDs = append(p.pracIDs, "prac-"+strconv.Itoa(k))
		p.roleIDs = append(p.roleIDs, "role-"+strconv.Itoa(k))
	}
	return p
}

func isqrt(n int) int {
	r := 0
	for (r+1)*(r+1) <= n {
		r++
	}
	return r
}

// Config returns the configuration with defaults filled in.
func (p *Population) Config() Config { return p.cfg }

// NumPatients returns the number of patients.
func (p *Population) NumPatients() int { return p.cfg.Patients }

// PatientID returns the id of patient i, 0 <= i < NumPatients.
func (p *Population) PatientID(i int) string { return "pat-" + strconv.Itoa(i) }

// PatientIndex is the inverse of PatientID. It reports false for ids that
// name no patient of this population.
func (p *Population) PatientIndex(id string) (int, bool) {
	s, ok := strings.CutPrefix(id, "pat-")
	if !ok || s == "" || (len(s) > 1 && s[0] == '0') {
		return 0, false
	}
	i, err := strconv.Atoi(s)
	if err != nil || i < 0 || i >= p.cfg.Patients {
		return 0, false
	}
	return i, true
}

var types = []string{
	"AllergyIntolerance", "Condition", "DiagnosticReport", "DocumentReference", "Encounter", "Group",
	"Immunization", "Location", "MedicationRequest", "Observation", "Organization", "Patient",
	"Practitioner", "PractitionerRole", "Procedure", "Provenance",
}

// Types returns every resource type the population produces, sorted.
func (p *Population) Types() []string { return slices.Clone(types) }

// EachShared calls fn for the resources outside any patient compartment, in
// this fixed order: Organization, Location, Practitioner, PractitionerRole,
// Group. Shared resources are never deleted. It stops at fn's first error
// and returns it.
func (p *Population) EachShared(fn func(*Resource) error) error {
	g := p.getGen()
	defer p.gens.Put(g)
	g.fn = fn
	if err := g.shared(); err != nil {
		return err
	}
	for _, grp := range p.Groups() {
		g.res = Resource{Type: "Group", ID: grp.ID, LastUpdated: utc(p.groupUpdated()), JSON: grp.JSON}
		if err := fn(&g.res); err != nil {
			return err
		}
	}
	return nil
}

// EachOfPatient calls fn for every resource of patient i: the Patient first,
// then its long-term Conditions and AllergyIntolerances, then each encounter
// in date order with what it produced (Encounter, Observations,
// DiagnosticReport, Condition, Procedure, MedicationRequest, Immunization,
// DocumentReference, Provenance). The output depends only on (Seed, End,
// Patients, i). It stops at fn's first error and returns it.
func (p *Population) EachOfPatient(i int, fn func(*Resource) error) error {
	if i < 0 || i >= p.cfg.Patients {
		return &IndexError{Index: i, Patients: p.cfg.Patients}
	}
	g := p.getGen()
	defer p.gens.Put(g)
	g.fn = fn
	return g.patient(i)
}

// IndexError reports a patient index out of range.
type IndexError struct{ Index, Patients int }

func (e *IndexError) Error() string {
	return "synth: patient index " + strconv.Itoa(e.Index) + " out of range [0, " + strconv.Itoa(e.Patients) + ")"
}

func (p *Population) getGen() *gen {
	if g, ok := p.gens.Get().(*gen); ok {
		return g
	}
	return &gen{p: p, w: jw{b: make([]byte, 0, 4096)}}
}
