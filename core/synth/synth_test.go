package synth_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"tranche.dev/tranche/core/synth"
)

// line is the part of a resource every test looks at.
type line struct {
	ResourceType string `json:"resourceType"`
	ID           string `json:"id"`
	Meta         struct {
		VersionID   string `json:"versionId"`
		LastUpdated string `json:"lastUpdated"`
	} `json:"meta"`
}

// copied is a Resource with its JSON copied out of the reused buffer.
type copied struct {
	synth.Resource
}

// collect returns copies of every resource of patients [0, n), then the
// shared ones.
func collect(tb testing.TB, p *synth.Population, n int) []copied {
	tb.Helper()
	var out []copied
	keep := func(r *synth.Resource) error {
		c := copied{*r}
		c.JSON = bytes.Clone(r.JSON)
		out = append(out, c)
		return nil
	}
	for i := range n {
		if err := p.EachOfPatient(i, keep); err != nil {
			tb.Fatalf("EachOfPatient(%d) = %v", i, err)
		}
	}
	if err := p.EachShared(keep); err != nil {
		tb.Fatalf("EachShared = %v", err)
	}
	return out
}

// digest hashes patient i's output, tombstones included.
func digest(tb testing.TB, p *synth.Population, i int) [32]byte {
	tb.Helper()
	h := sha256.New()
	err := p.EachOfPatient(i, func(r *synth.Resource) error {
		h.Write([]byte(r.Type + "/" + r.ID + "/" + r.Patient + "/" + r.LastUpdated.Format(time.RFC3339)))
		if r.Deleted {
			h.Write([]byte("deleted"))
		}
		h.Write(r.JSON)
		h.Write([]byte{'\n'})
		return nil
	})
	if err != nil {
		tb.Fatalf("EachOfPatient(%d) = %v", i, err)
	}
	return [32]byte(h.Sum(nil))
}

func TestNew_Defaults(t *testing.T) {
	got := synth.New(synth.Config{}).Config()
	want := synth.Config{Patients: 100, Seed: 1, End: time.Date(2026, 6, 30, 0, 0, 0, 0, time.UTC)}
	if got != want {
		t.Fatalf("New(Config{}).Config() = %+v, want %+v", got, want)
	}
	if n := synth.New(synth.Config{}).NumPatients(); n != 100 {
		t.Fatalf("NumPatients() = %d, want 100", n)
	}
}

func TestPopulation_Determinism(t *testing.T) {
	t.Parallel()
	const n = 12
	a := synth.New(synth.Config{Patients: n, Seed: 7})
	b := synth.New(synth.Config{Patients: n, Seed: 7})
	other := synth.New(synth.Config{Patients: n, Seed: 8})

	t.Run("SameSeed", func(t *testing.T) {
		for i := range n {
			if digest(t, a, i) != digest(t, b, i) {
				t.Errorf("patient %d differs between two populations with seed 7", i)
			}
		}
	})
	t.Run("DifferentSeed", func(t *testing.T) {
		for i := range n {
			if digest(t, a, i) == digest(t, other, i) {
				t.Errorf("patient %d is the same with seeds 7 and 8", i)
			}
		}
	})
	t.Run("AloneEqualsFullPass", func(t *testing.T) {
		// Generate the full pass first, then single patients in reverse
		// order on a fresh population and concurrently.
		var full [n][32]byte
		for i := range n {
			full[i] = digest(t, a, i)
		}
		fresh := synth.New(synth.Config{Patients: n, Seed: 7})
		got := make(chan [2][32]byte, n)
		for i := n - 1; i >= 0; i-- {
			go func() {
				d := digest(t, fresh, i)
				got <- [2][32]byte{d, full[i]}
			}()
		}
		for range n {
			if d := <-got; d[0] != d[1] {
				t.Errorf("a patient regenerated alone differs from the full pass")
			}
		}
	})
	t.Run("Shared", func(t *testing.T) {
		sa, sb := collect(t, a, 0), collect(t, b, 0)
		if len(sa) != len(sb) {
			t.Fatalf("EachShared gave %d and %d resources", len(sa), len(sb))
		}
		for k := range sa {
			if !bytes.Equal(sa[k].JSON, sb[k].JSON) {
				t.Fatalf("shared resource %d differs:\n%s\n%s", k, sa[k].JSON, sb[k].JSON)
			}
		}
	})
}

var idPattern = regexp.MustCompile(`^[A-Za-z0-9\-.]{1,64}$`)

func TestPopulation_ValidJSON(t *testing.T) {
	t.Parallel()
	p := synth.New(synth.Config{Patients: 10, Seed: 3})
	seen := map[string]bool{}
	for _, r := range collect(t, p, 10) {
		key := r.Type + "/" + r.ID
		if seen[key] {
			t.Errorf("%s appears twice", key)
		}
		seen[key] = true
		if !idPattern.MatchString(r.ID) {
			t.Errorf("%s: id does not match %s", key, idPattern)
		}
		if r.Deleted {
			if r.JSON != nil {
				t.Errorf("%s: deleted but JSON = %.80s", key, r.JSON)
			}
			continue
		}
		if bytes.IndexByte(r.JSON, '\n') >= 0 || !json.Valid(r.JSON) {
			t.Fatalf("%s: not one line of valid JSON: %s", key, r.JSON)
		}
		var l line
		if err := json.Unmarshal(r.JSON, &l); err != nil {
			t.Fatalf("%s: %v", key, err)
		}
		if l.ResourceType != r.Type || l.ID != r.ID {
			t.Errorf("JSON says %s/%s, Resource says %s", l.ResourceType, l.ID, key)
		}
		if got, want := l.Meta.LastUpdated, r.LastUpdated.Format(time.RFC3339); got != want {
			t.Errorf("%s: meta.lastUpdated = %s, want %s", key, got, want)
		}
		if l.Meta.VersionID == "" {
			t.Errorf("%s: no meta.versionId", key)
		}
		// Compartment resources name their patient.
		if r.Patient != "" && r.Type != "Patient" && r.Type != "Provenance" {
			want := `{"reference":"Patient/` + r.Patient + `"}`
			if !bytes.Contains(r.JSON, []byte(want)) {
				t.Errorf("%s: in the compartment of %s but does not refer to it", key, r.Patient)
			}
		}
		if r.Type == "Patient" && r.Patient != r.ID {
			t.Errorf("Patient/%s: Resource.Patient = %q, want its own id", r.ID, r.Patient)
		}
	}
}

// references returns every "reference" value in a JSON document.
func references(tb testing.TB, doc []byte) []string {
	tb.Helper()
	var v any
	if err := json.Unmarshal(doc, &v); err != nil {
		tb.Fatalf("unmarshal: %v", err)
	}
	var refs []string
	var walk func(any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				if s, ok := x.(string); ok && k == "reference" {
					refs = append(refs, s)
				}
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(v)
	return refs
}

func TestPopulation_ReferencesResolve(t *testing.T) {
	t.Parallel()
	p := synth.New(synth.Config{Patients: 20, Seed: 11})
	all := collect(t, p, 20)
	exists := map[string]bool{}
	for _, r := range all {
		if !r.Deleted {
			exists[r.Type+"/"+r.ID] = true
		}
	}
	byType := map[string]int{}
	for _, r := range all {
		if r.Deleted {
			continue
		}
		for _, ref := range references(t, r.JSON) {
			typ, _, _ := strings.Cut(ref, "/")
			byType[typ]++
			if !exists[ref] {
				t.Errorf("%s/%s refers to %s, which does not exist", r.Type, r.ID, ref)
			}
		}
		if r.Type == "DiagnosticReport" && !bytes.Contains(r.JSON, []byte(`"result":[{"reference":"Observation/`)) {
			t.Errorf("DiagnosticReport/%s has no results: %s", r.ID, r.JSON)
		}
	}
	for _, typ := range []string{"Patient", "Practitioner", "Organization", "Location", "Encounter", "Observation", "Condition"} {
		if byType[typ] == 0 {
			t.Errorf("no references to %s", typ)
		}
	}
}

func TestPopulation_ResourcesPerPatient(t *testing.T) {
	t.Parallel()
	const n = 50
	p := synth.New(synth.Config{Patients: n})
	total := 0
	counts := map[string]int{}
	for i := range n {
		err := p.EachOfPatient(i, func(r *synth.Resource) error {
			total++
			counts[r.Type]++
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if avg := total / n; avg < 300 || avg > 400 {
		t.Errorf("average resources per patient = %d, want 300..400 (%v)", avg, counts)
	}
	if counts["Observation"] < total/2 {
		t.Errorf("Observations = %d of %d, want most", counts["Observation"], total)
	}
	if counts["Patient"] != n {
		t.Errorf("Patients = %d, want %d", counts["Patient"], n)
	}
}

func TestPopulation_LastUpdated(t *testing.T) {
	t.Parallel()
	for _, end := range []time.Time{{}, time.Date(2031, 2, 3, 4, 5, 6, 0, time.UTC)} {
		p := synth.New(synth.Config{Patients: 20, End: end})
		end := p.Config().End
		lo, hi := end, time.Time{}
		for _, r := range collect(t, p, 20) {
			if r.LastUpdated.After(end) {
				t.Errorf("%s/%s: lastUpdated %v after End %v", r.Type, r.ID, r.LastUpdated, end)
			}
			if r.LastUpdated.Before(lo) {
				lo = r.LastUpdated
			}
			if r.LastUpdated.After(hi) {
				hi = r.LastUpdated
			}
		}
		if spread := hi.Sub(lo); spread < 3*365*24*time.Hour {
			t.Errorf("End %v: lastUpdated spans %v..%v (%v), want more than 3 years", end, lo, hi, spread)
		}
		if lo.Before(end.Add(-synth.History - 24*time.Hour)) {
			t.Errorf("End %v: earliest lastUpdated %v is before End-History", end, lo)
		}
	}
}

func TestPopulation_Deleted(t *testing.T) {
	t.Parallel()
	p := synth.New(synth.Config{Patients: 50, Seed: 5})
	deleted, total := 0, 0
	for _, r := range collect(t, p, 50) {
		switch r.Type {
		case "Patient", "Encounter", "Organization", "Practitioner", "PractitionerRole", "Location", "Group":
			if r.Deleted {
				t.Errorf("%s/%s is deleted; resources of this type are referred to and must stay", r.Type, r.ID)
			}
		}
		if r.Type == "Patient" {
			continue
		}
		total++
		if r.Deleted {
			deleted++
		}
	}
	if pct := 100 * float64(deleted) / float64(total); pct < 0.5 || pct > 1.5 {
		t.Errorf("deleted %d of %d non-Patient resources (%.2f%%), want about 1%%", deleted, total, pct)
	}
}

func TestPopulation_Groups(t *testing.T) {
	t.Parallel()
	p := synth.New(synth.Config{Patients: 60, Seed: 2})
	groups := p.Groups()
	if len(groups) < 4 {
		t.Fatalf("Groups() = %d groups, want at least 4", len(groups))
	}
	sizes := map[int]bool{}
	for _, g := range groups {
		sizes[len(g.Members)] = true
		var res struct {
			ResourceType string
			ID           string
			Name         string
			Quantity     int
			Member       []struct{ Entity struct{ Reference string } }
		}
		if err := json.Unmarshal(g.JSON, &res); err != nil {
			t.Fatalf("Group %s: %v", g.ID, err)
		}
		if res.ResourceType != "Group" || res.ID != g.ID || res.Name != g.Name || res.Quantity != len(g.Members) {
			t.Errorf("Group %s JSON = %+v, want id %s name %q quantity %d", g.ID, res, g.ID, g.Name, len(g.Members))
		}
		if len(res.Member) != len(g.Members) {
			t.Fatalf("Group %s: %d members in JSON, %d in Members", g.ID, len(res.Member), len(g.Members))
		}
		for k, m := range g.Members {
			if _, ok := p.PatientIndex(m); !ok {
				t.Errorf("Group %s: member %q is not a patient", g.ID, m)
			}
			if got, want := res.Member[k].Entity.Reference, "Patient/"+m; got != want {
				t.Errorf("Group %s: member %d = %q, want %q", g.ID, k, got, want)
			}
		}
	}
	// Over-65 members are over 65 at End; the others are not.
	cutoff := p.Config().End.AddDate(-65, 0, 0).Format("2006-01-02")
	old := map[string]bool{}
	for _, id := range groups[1].Members {
		old[id] = true
	}
	for _, r := range collect(t, p, p.NumPatients()) {
		if r.Type != "Patient" {
			continue
		}
		var pt struct{ BirthDate string }
		if err := json.Unmarshal(r.JSON, &pt); err != nil {
			t.Fatal(err)
		}
		// Ages are whole years of 365.25 days: allow a day either side.
		if near := pt.BirthDate[:7] == cutoff[:7]; !near && old[r.ID] != (pt.BirthDate < cutoff) {
			t.Errorf("Patient/%s born %s: in over-65 = %v, cutoff %s", r.ID, pt.BirthDate, old[r.ID], cutoff)
		}
	}
	if groups[1].ID != "over-65" || len(old) == 0 {
		t.Errorf("Groups()[1] = %s with %d members, want over-65 with some", groups[1].ID, len(old))
	}
	for _, want := range []int{0, 5} {
		if !sizes[want] {
			t.Errorf("no group with %d members", want)
		}
	}

	// The diabetes cohort is exactly the patients with a diabetes Condition.
	// A patient whose first Condition is a tombstone cannot be told apart
	// (diabetes comes first when present), so it is left out of the check.
	var want []string
	unknown := map[string]bool{}
	for i := range p.NumPatients() {
		id := p.PatientID(i)
		err := p.EachOfPatient(i, func(r *synth.Resource) error {
			switch {
			case r.Type != "Condition":
			case r.Deleted && r.ID == id+"-cond-1":
				unknown[id] = true
			case bytes.Contains(r.JSON, []byte(`"code":"44054006"`)):
				want = append(want, id)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if groups[0].ID != "diabetes" {
		t.Fatalf("Groups()[0].ID = %q, want diabetes", groups[0].ID)
	}
	got := slices.DeleteFunc(slices.Clone(groups[0].Members), func(id string) bool { return unknown[id] })
	if len(want) == 0 || !slices.Equal(got, want) {
		t.Errorf("diabetes members = %v, want the patients with a diabetes Condition %v", got, want)
	}
}

func TestPopulation_Types(t *testing.T) {
	t.Parallel()
	p := synth.New(synth.Config{Patients: 5})
	seen := map[string]bool{}
	for _, r := range collect(t, p, 5) {
		seen[r.Type] = true
	}
	got := p.Types()
	if !slices.IsSorted(got) {
		t.Errorf("Types() = %v, not sorted", got)
	}
	want := make([]string, 0, len(seen))
	for typ := range seen {
		want = append(want, typ)
	}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("Types() = %v, want the types seen %v", got, want)
	}
}

func TestPopulation_EachOfPatient(t *testing.T) {
	t.Parallel()
	p := synth.New(synth.Config{Patients: 3})
	t.Run("OutOfRange", func(t *testing.T) {
		for _, i := range []int{-1, 3} {
			err := p.EachOfPatient(i, func(*synth.Resource) error { return nil })
			var ie *synth.IndexError
			if !errors.As(err, &ie) {
				t.Errorf("EachOfPatient(%d) = %v, want *IndexError", i, err)
			}
		}
	})
	t.Run("StopsAtError", func(t *testing.T) {
		stop := errors.New("stop")
		calls := 0
		err := p.EachOfPatient(1, func(*synth.Resource) error {
			calls++
			if calls == 10 {
				return stop
			}
			return nil
		})
		if !errors.Is(err, stop) || calls != 10 {
			t.Errorf("EachOfPatient = %v after %d calls, want %v after 10", err, calls, stop)
		}
		calls = 0
		if err := p.EachShared(func(*synth.Resource) error { calls++; return stop }); !errors.Is(err, stop) || calls != 1 {
			t.Errorf("EachShared = %v after %d calls, want %v after 1", err, calls, stop)
		}
	})
	t.Run("PatientFirst", func(t *testing.T) {
		var first string
		_ = p.EachOfPatient(2, func(r *synth.Resource) error {
			if first == "" {
				first = r.Type + "/" + r.ID
			}
			return nil
		})
		if want := "Patient/" + p.PatientID(2); first != want {
			t.Errorf("first resource = %s, want %s", first, want)
		}
	})
}

func TestPopulation_PatientIndex(t *testing.T) {
	p := synth.New(synth.Config{Patients: 30})
	for i := range 30 {
		if got, ok := p.PatientIndex(p.PatientID(i)); !ok || got != i {
			t.Errorf("PatientIndex(PatientID(%d)) = %d, %v", i, got, ok)
		}
	}
	for _, id := range []string{"", "pat-", "pat-30", "pat--1", "pat-01", "pat-1x", "x-1", "Patient/pat-1"} {
		if i, ok := p.PatientIndex(id); ok {
			t.Errorf("PatientIndex(%q) = %d, true, want false", id, i)
		}
	}
}

func TestPopulation_DocumentReference(t *testing.T) {
	t.Parallel()
	p := synth.New(synth.Config{Patients: 4})
	docs := 0
	for _, r := range collect(t, p, 4) {
		if r.Type != "DocumentReference" || r.Deleted {
			continue
		}
		docs++
		var d struct {
			Content []struct {
				Attachment struct{ ContentType, Data string }
			}
		}
		if err := json.Unmarshal(r.JSON, &d); err != nil {
			t.Fatal(err)
		}
		if len(d.Content) != 1 || d.Content[0].Attachment.ContentType != "text/plain" {
			t.Fatalf("DocumentReference/%s content = %+v, want one text/plain attachment", r.ID, d.Content)
		}
		text, err := base64.StdEncoding.DecodeString(d.Content[0].Attachment.Data)
		if err != nil || !bytes.Contains(text, []byte("Patient: ")) {
			t.Errorf("DocumentReference/%s data = %q, %v, want a base64 note", r.ID, text, err)
		}
	}
	if docs == 0 {
		t.Fatal("no DocumentReference in 4 patients")
	}
}

func TestPopulation_SharedPoolsScale(t *testing.T) {
	t.Parallel()
	count := func(patients int) map[string]int {
		n := map[string]int{}
		p := synth.New(synth.Config{Patients: patients})
		if err := p.EachShared(func(r *synth.Resource) error { n[r.Type]++; return nil }); err != nil {
			t.Fatal(err)
		}
		return n
	}
	small, large := count(100), count(40000)
	for _, typ := range []string{"Organization", "Practitioner", "PractitionerRole", "Location"} {
		if small[typ] == 0 || large[typ] <= small[typ] || large[typ] > 40*small[typ] {
			t.Errorf("%s: %d for 100 patients, %d for 40,000: want a mild increase", typ, small[typ], large[typ])
		}
	}
}

func FuzzEachOfPatient(f *testing.F) {
	f.Add(int64(1), uint16(0))
	f.Add(int64(-5), uint16(99))
	f.Add(int64(1<<62), uint16(7))
	f.Fuzz(func(t *testing.T, seed int64, i uint16) {
		p := synth.New(synth.Config{Patients: 100, Seed: seed})
		err := p.EachOfPatient(int(i)%100, func(r *synth.Resource) error {
			if r.Deleted {
				return nil
			}
			if !json.Valid(r.JSON) {
				t.Fatalf("%s/%s: invalid JSON: %s", r.Type, r.ID, r.JSON)
			}
			if r.LastUpdated.After(p.Config().End) {
				t.Fatalf("%s/%s: lastUpdated %v after End", r.Type, r.ID, r.LastUpdated)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})
}
