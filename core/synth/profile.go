package synth

const (
	day  = 86400
	year = 365*day + day/4
)

// profile is what is decided about a patient before any resource is
// written: enough for Groups to pick cohorts without generating resources.
// It is drawn first from the patient's stream, so EachOfPatient and Groups
// agree.
type profile struct {
	female                bool
	birth                 int64 // Unix seconds, midnight UTC
	chronic               uint32
	given, middle, family int
	street, house, city   int
	gp                    int // practitioner index
	height, bmi           float64
}

// age returns the age in whole years at Unix time t.
func (pr *profile) age(t int64) int { return int((t - pr.birth) / year) }

func (pr *profile) has(c int) bool { return pr.chronic&(1<<c) != 0 }

// profile draws patient i's profile and returns the stream positioned after it.
func (p *Population) profile(i int) (profile, rng) {
	r := newRNG(p.cfg.Seed, uint64(i))
	var pr profile
	pr.female = r.intn(2) == 0
	// Ages 0 to 95, uniform: about a third of patients are over 65.
	pr.birth = (p.end - 1 - r.int64n(95*year)) / day * day
	age := pr.age(p.end)
	for c, ch := range chronics {
		pct := ch.pctOld
		if age < 50 {
			pct = ch.pctYoung
		}
		if r.pct(pct) && age >= ch.minAge {
			pr.chronic |= 1 << c
		}
	}
	if pr.female {
		pr.given, pr.middle = r.intn(len(givenFemale)), r.intn(len(givenFemale))
	} else {
		pr.given, pr.middle = r.intn(len(givenMale)), r.intn(len(givenMale))
	}
	pr.family = r.intn(len(families))
	pr.street, pr.house, pr.city = r.intn(len(streets)), r.between(1, 9999), r.intn(len(cities))
	pr.gp = r.intn(p.pracs)
	adult := 176.0
	if pr.female {
		adult = 162
	}
	adult = r.normal(adult, 7)
	bmi := r.normal(27, 4.5)
	if age < 18 {
		// Children: grow linearly from 50 cm at birth, BMI around 17.
		adult = 50 + (adult-50)*float64(age)/18
		bmi = r.normal(17, 1.5)
	}
	pr.height, pr.bmi = adult, bmi
	return pr, r
}

func (pr *profile) givenName() string {
	if pr.female {
		return givenFemale[pr.given]
	}
	return givenMale[pr.given]
}

func (pr *profile) middleName() string {
	if pr.female {
		return givenFemale[pr.middle]
	}
	return givenMale[pr.middle]
}
