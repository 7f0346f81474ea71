package demo

import (
	"slices"

	"tranche.dev/tranche/core/synth"
)

// catalogue is what the server knows about the population without
// generating it: its types, which of them sit outside any Patient
// compartment, and its groups.
type catalogue struct {
	pop    *synth.Population
	types  []string        // sorted
	known  map[string]bool // every type
	shared map[string]bool // types outside the Patient compartment
	groups []synth.Group
}

func newCatalogue(pop *synth.Population) catalogue {
	c := catalogue{
		pop:    pop,
		types:  pop.Types(),
		known:  make(map[string]bool),
		shared: make(map[string]bool),
		groups: pop.Groups(),
	}
	slices.Sort(c.types)
	for _, t := range c.types {
		c.known[t] = true
	}
	// Shared resources are few (they grow with the square root of the
	// population), so one pass to learn their types is cheap.
	pop.EachShared(func(r *synth.Resource) error {
		c.shared[r.Type] = true
		return nil
	})
	return c
}

func (c *catalogue) isKnown(typ string) bool { return c.known[typ] }

// levelTypes returns the types an export at level can contain: every type
// at system level, the Patient compartment's at patient and group level.
func (c *catalogue) levelTypes(l level) []string {
	if l == levelSystem {
		return slices.Clone(c.types)
	}
	var out []string
	for _, t := range c.types {
		if !c.shared[t] {
			out = append(out, t)
		}
	}
	return out
}

func (c *catalogue) group(id string) (synth.Group, bool) {
	for _, g := range c.groups {
		if g.ID == id {
			return g, true
		}
	}
	return synth.Group{}, false
}
