package synth

// The embedded value sets: small, real codes with their display text, enough
// to make exports look clinical without shipping a terminology server.

// code is one Coding.
type code struct{ System, Code, Display string }

const (
	sysLOINC  = "http://loinc.org"
	sysSNOMED = "http://snomed.info/sct"
	sysRxNorm = "http://www.nlm.nih.gov/research/umls/rxnorm"
	sysCVX    = "http://hl7.org/fhir/sid/cvx"
	sysUCUM   = "http://unitsofmeasure.org"
)

func loinc(c, d string) code  { return code{sysLOINC, c, d} }
func snomed(c, d string) code { return code{sysSNOMED, c, d} }

// quantity is an Observation kind with a UCUM unit and a plausible range.
type quantity struct {
	code      code
	unit      string
	mean, sd  float64
	low, high float64 // reference range, 0/0 for none
	decimals  int
}

// Vital signs, written at every encounter (blood pressure is a separate
// panel with components).
var (
	bpPanel   = loinc("85354-9", "Blood pressure panel with all children optional")
	systolic  = loinc("8480-6", "Systolic blood pressure")
	diastolic = loinc("8462-4", "Diastolic blood pressure")
	vitals    = []quantity{
		{loinc("8867-4", "Heart rate"), "/min", 74, 9, 0, 0, 0},
		{loinc("9279-1", "Respiratory rate"), "/min", 15, 2, 0, 0, 0},
		{loinc("8310-5", "Body temperature"), "Cel", 36.9, 0.3, 0, 0, 1},
		{loinc("2708-6", "Oxygen saturation in Arterial blood"), "%", 97.5, 1.2, 0, 0, 0},
		{loinc("29463-7", "Body weight"), "kg", 0, 0, 0, 0, 1},
		{loinc("8302-2", "Body height"), "cm", 0, 0, 0, 0, 1},
		{loinc("39156-5", "Body mass index (BMI) [Ratio]"), "kg/m2", 0, 0, 0, 0, 1},
	}
)

const (
	vitalWeight = 4 // indexes into vitals computed from the patient, not drawn
	vitalHeight = 5
	vitalBMI    = 6
)

// panel is a lab panel: one DiagnosticReport over several Observations.
type panel struct {
	code    code
	results []quantity
}

var panels = []panel{
	{loinc("51990-0", "Basic metabolic panel - Blood"), []quantity{
		{loinc("2345-7", "Glucose [Mass/volume] in Serum or Plasma"), "mg/dL", 95, 15, 70, 99, 0},
		{loinc("6299-2", "Urea nitrogen [Mass/volume] in Blood"), "mg/dL", 14, 4, 7, 20, 0},
		{loinc("2160-0", "Creatinine [Mass/volume] in Serum or Plasma"), "mg/dL", 0.95, 0.2, 0.6, 1.3, 2},
		{loinc("17861-6", "Calcium [Mass/volume] in Serum or Plasma"), "mg/dL", 9.5, 0.4, 8.5, 10.2, 1},
		{loinc("2951-2", "Sodium [Moles/volume] in Serum or Plasma"), "mmol/L", 140, 2.5, 136, 145, 0},
		{loinc("2823-3", "Potassium [Moles/volume] in Serum or Plasma"), "mmol/L", 4.2, 0.35, 3.5, 5.1, 1},
		{loinc("2075-0", "Chloride [Moles/volume] in Serum or Plasma"), "mmol/L", 102, 2.5, 98, 107, 0},
		{loinc("2028-9", "Carbon dioxide, total [Moles/volume] in Serum or Plasma"), "mmol/L", 25, 2, 22, 29, 0},
	}},
	{loinc("57698-3", "Lipid panel with direct LDL - Serum or Plasma"), []quantity{
		{loinc("2093-3", "Cholesterol [Mass/volume] in Serum or Plasma"), "mg/dL", 190, 30, 0, 200, 0},
		{loinc("2571-8", "Triglyceride [Mass/volume] in Serum or Plasma"), "mg/dL", 140, 40, 0, 150, 0},
		{loinc("2085-9", "Cholesterol in HDL [Mass/volume] in Serum or Plasma"), "mg/dL", 52, 10, 40, 0, 0},
		{loinc("18262-6", "Cholesterol in LDL [Mass/volume] in Serum or Plasma by Direct assay"), "mg/dL", 110, 25, 0, 100, 0},
	}},
	{loinc("58410-2", "CBC panel - Blood by Automated count"), []quantity{
		{loinc("6690-2", "Leukocytes [#/volume] in Blood by Automated count"), "10*3/uL", 7, 1.6, 4.5, 11, 1},
		{loinc("789-8", "Erythrocytes [#/volume] in Blood by Automated count"), "10*6/uL", 4.8, 0.4, 4.2, 5.9, 2},
		{loinc("718-7", "Hemoglobin [Mass/volume] in Blood"), "g/dL", 14, 1.2, 12, 17.5, 1},
		{loinc("4544-3", "Hematocrit [Volume Fraction] of Blood by Automated count"), "%", 42, 3.5, 36, 50, 1},
		{loinc("777-3", "Platelets [#/volume] in Blood by Automated count"), "10*3/uL", 250, 50, 150, 400, 0},
	}},
	{loinc("4548-4", "Hemoglobin A1c/Hemoglobin.total in Blood"), []quantity{
		{loinc("4548-4", "Hemoglobin A1c/Hemoglobin.total in Blood"), "%", 5.6, 0.4, 4, 5.6, 1},
	}},
}

const panelA1c = 3

// chronic is a long-term condition a patient may carry, with the drugs that
// treat it (indexes into meds).
type chronic struct {
	code     code
	minAge   int // years
	pctYoung int // prevalence below 50
	pctOld   int // prevalence from 50
	meds     []int
}

// Indexes into chronics used by groups and labs.
const (
	chronicDiabetes = 0
)

var chronics = []chronic{
	{snomed("44054006", "Diabetes mellitus type 2 (disorder)"), 30, 4, 18, []int{0, 1}},
	{snomed("38341003", "Hypertensive disorder, systemic arterial (disorder)"), 25, 8, 35, []int{2, 3, 4}},
	{snomed("55822004", "Hyperlipidemia (disorder)"), 30, 6, 25, []int{5, 6}},
	{snomed("195967001", "Asthma (disorder)"), 2, 8, 6, []int{7, 8}},
	{snomed("13645005", "Chronic obstructive lung disease (disorder)"), 45, 1, 7, []int{7}},
	{snomed("35489007", "Depressive disorder (disorder)"), 14, 7, 7, []int{9}},
	{snomed("40930008", "Hypothyroidism (disorder)"), 20, 3, 7, []int{10}},
	{snomed("49436004", "Atrial fibrillation (disorder)"), 50, 0, 6, []int{11}},
	{snomed("239873007", "Osteoarthritis of knee (disorder)"), 40, 2, 15, []int{12, 13}},
	{snomed("709044004", "Chronic kidney disease (disorder)"), 40, 1, 6, nil},
	{snomed("271737000", "Anemia (disorder)"), 0, 3, 5, nil},
}

// acute conditions, diagnosed at a symptom encounter and resolved weeks later.
type acute struct {
	code code
	med  int // index into meds, -1 for none
}

var acutes = []acute{
	{snomed("444814009", "Viral sinusitis (disorder)"), 14},
	{snomed("36971009", "Sinusitis (disorder)"), 15},
	{snomed("10509002", "Acute bronchitis (disorder)"), 14},
	{snomed("195662009", "Acute viral pharyngitis (disorder)"), 14},
	{snomed("43878008", "Streptococcal sore throat (disorder)"), 16},
	{snomed("65363002", "Otitis media (disorder)"), 15},
	{snomed("62106007", "Concussion with no loss of consciousness (disorder)"), 13},
	{snomed("44465007", "Sprain of ankle (disorder)"), 12},
	{snomed("68496003", "Polyp of colon (disorder)"), -1},
}

var meds = []code{
	{sysRxNorm, "860975", "24 HR Metformin hydrochloride 500 MG Extended Release Oral Tablet"},
	{sysRxNorm, "106892", "insulin isophane, human 70 UNT/ML / insulin, regular, human 30 UNT/ML Injectable Suspension [Humulin]"},
	{sysRxNorm, "314076", "lisinopril 10 MG Oral Tablet"},
	{sysRxNorm, "197361", "amlodipine 5 MG Oral Tablet"},
	{sysRxNorm, "310798", "Hydrochlorothiazide 25 MG Oral Tablet"},
	{sysRxNorm, "259255", "atorvastatin 80 MG Oral Tablet"},
	{sysRxNorm, "312961", "Simvastatin 20 MG Oral Tablet"},
	{sysRxNorm, "745679", "200 ACTUAT Albuterol 0.09 MG/ACTUAT Metered Dose Inhaler"},
	{sysRxNorm, "895994", "120 ACTUAT Fluticasone propionate 0.044 MG/ACTUAT Metered Dose Inhaler"},
	{sysRxNorm, "312938", "Sertraline 100 MG Oral Tablet"},
	{sysRxNorm, "966222", "Levothyroxine Sodium 0.075 MG Oral Tablet"},
	{sysRxNorm, "855332", "Warfarin Sodium 5 MG Oral Tablet"},
	{sysRxNorm, "849574", "Naproxen sodium 220 MG Oral Tablet"},
	{sysRxNorm, "310965", "Ibuprofen 200 MG Oral Tablet"},
	{sysRxNorm, "313782", "Acetaminophen 325 MG Oral Tablet"},
	{sysRxNorm, "308182", "Amoxicillin 250 MG Oral Capsule"},
	{sysRxNorm, "834061", "Penicillin V Potassium 250 MG Oral Tablet"},
}

var procedures = []code{
	snomed("430193006", "Medication reconciliation (procedure)"),
	snomed("710824005", "Assessment of health and social care needs (procedure)"),
	snomed("171207006", "Depression screening (procedure)"),
	snomed("29303009", "Electrocardiographic procedure (procedure)"),
	snomed("399208008", "Plain chest X-ray (procedure)"),
	snomed("117015009", "Throat culture (procedure)"),
	snomed("127783003", "Spirometry (procedure)"),
	snomed("73761001", "Colonoscopy (procedure)"),
	snomed("268556000", "Urine screening for glucose (procedure)"),
	snomed("76601001", "Intramuscular injection (procedure)"),
}

var vaccines = []code{
	{sysCVX, "140", "Influenza, seasonal, injectable, preservative free"},
	{sysCVX, "208", "COVID-19, mRNA, LNP-S, PF, 30 mcg/0.3 mL dose"},
	{sysCVX, "115", "Tdap"},
	{sysCVX, "113", "Td (adult) preservative free"},
	{sysCVX, "133", "Pneumococcal conjugate PCV 13"},
	{sysCVX, "33", "pneumococcal polysaccharide vaccine, 23 valent"},
	{sysCVX, "187", "zoster vaccine recombinant"},
	{sysCVX, "08", "Hep B, adolescent or pediatric"},
	{sysCVX, "83", "Hep A, ped/adol, 2 dose"},
	{sysCVX, "62", "HPV, quadrivalent"},
	{sysCVX, "21", "varicella"},
	{sysCVX, "03", "MMR"},
	{sysCVX, "10", "IPV"},
	{sysCVX, "20", "DTaP"},
}

// allergy is an AllergyIntolerance code with its FHIR category.
type allergy struct {
	code     code
	category string
}

var allergies = []allergy{
	{snomed("91935009", "Allergy to peanuts (finding)"), "food"},
	{snomed("91934008", "Allergy to nut (finding)"), "food"},
	{snomed("417532002", "Allergy to fish (finding)"), "food"},
	{snomed("300913006", "Shellfish allergy (finding)"), "food"},
	{snomed("425525006", "Allergy to dairy product (finding)"), "food"},
	{snomed("91936005", "Allergy to penicillin (finding)"), "medication"},
	{snomed("418689008", "Allergy to grass pollen (finding)"), "environment"},
	{snomed("232350006", "House dust mite allergy (finding)"), "environment"},
	{snomed("232347008", "Dander (animal) allergy (finding)"), "environment"},
	{snomed("419474003", "Allergy to mould (finding)"), "environment"},
	{snomed("300916003", "Latex allergy (finding)"), "environment"},
}

var reactions = []code{
	snomed("271807003", "Eruption of skin (disorder)"),
	snomed("247472004", "Wheal (finding)"),
	snomed("49727002", "Cough (finding)"),
	snomed("267036007", "Dyspnea (finding)"),
	snomed("21522001", "Abdominal pain (finding)"),
}

// encounterKind pairs an Encounter class with a type and how long it lasts.
type encounterKind struct {
	class   code
	typ     code
	minutes int // typical length; inpatient stays add days
	symptom bool
}

var (
	classAMB  = code{"http://terminology.hl7.org/CodeSystem/v3-ActCode", "AMB", "ambulatory"}
	classEMER = code{"http://terminology.hl7.org/CodeSystem/v3-ActCode", "EMER", "emergency"}
	classIMP  = code{"http://terminology.hl7.org/CodeSystem/v3-ActCode", "IMP", "inpatient encounter"}
)

// encounterKinds, weighted by repetition.
var encounterKinds = []encounterKind{
	{classAMB, snomed("185349003", "Encounter for check up (procedure)"), 30, false},
	{classAMB, snomed("185349003", "Encounter for check up (procedure)"), 30, false},
	{classAMB, snomed("162673000", "General examination of patient (procedure)"), 40, false},
	{classAMB, snomed("390906007", "Follow-up encounter (procedure)"), 20, false},
	{classAMB, snomed("390906007", "Follow-up encounter (procedure)"), 20, false},
	{classAMB, snomed("185345009", "Encounter for symptom (procedure)"), 25, true},
	{classAMB, snomed("185345009", "Encounter for symptom (procedure)"), 25, true},
	{classAMB, snomed("698314001", "Consultation for treatment (procedure)"), 45, false},
	{classEMER, snomed("50849002", "Emergency room admission (procedure)"), 180, true},
	{classIMP, snomed("32485007", "Hospital admission (procedure)"), 60 * 24, false},
}

var docTypes = []code{
	loinc("11506-3", "Progress note"),
	loinc("34117-2", "History and physical note"),
	loinc("18842-5", "Discharge summary"),
}

var specialties = []code{
	snomed("394814009", "General practice (specialty) (qualifier value)"),
	snomed("419772000", "Family practice (qualifier value)"),
	snomed("394579002", "Cardiology (qualifier value)"),
	snomed("394583002", "Endocrinology (qualifier value)"),
	snomed("394537008", "Pediatric specialty (qualifier value)"),
	snomed("418112009", "Pulmonary medicine (qualifier value)"),
}

var (
	givenFemale = []string{"Mary", "Patricia", "Jennifer", "Linda", "Elizabeth", "Barbara", "Susan", "Jessica",
		"Sarah", "Karen", "Lisa", "Nancy", "Betty", "Margaret", "Sandra", "Ashley", "Emily", "Donna", "Michelle",
		"Carol", "Amanda", "Melissa", "Deborah", "Stephanie", "Rebecca", "Laura", "Sharon", "Cynthia", "Amy", "Ana",
		"Chloé", "Zoë", "Mei", "Aaliyah", "Priya", "Fatima"}
	givenMale = []string{"James", "Robert", "John", "Michael", "David", "William", "Richard", "Joseph", "Thomas",
		"Christopher", "Charles", "Daniel", "Matthew", "Anthony", "Mark", "Donald", "Steven", "Paul", "Andrew",
		"Joshua", "Kenneth", "Kevin", "Brian", "George", "Timothy", "Ronald", "Edward", "Jason", "Jeffrey", "Ryan",
		"José", "Hiroshi", "Mohammed", "Raj", "Wei", "Sean"}
	families = []string{"Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez",
		"Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore", "Jackson",
		"Martin", "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez", "Clark", "Ramirez", "Lewis", "Robinson",
		"Walker", "Young", "Allen", "King", "Wright", "Scott", "Torres", "Nguyen", "Hill", "Flores", "O'Brien",
		"Kowalski", "Müller", "Nakamura", "Patel", "Okafor", "Schmidt", "Cohen", "Rossi", "Kim"}
	streets = []string{"Main St", "Oak Ave", "Maple Dr", "Cedar Ln", "Pine St", "Elm St", "Washington Blvd",
		"Lake Rd", "Hill St", "Park Ave", "Sunset Blvd", "River Rd", "Church St", "Highland Ave", "Mill Rd"}
	cities = []struct{ City, State, Zip string }{
		{"Springfield", "MA", "01103"}, {"Worcester", "MA", "01608"}, {"Boston", "MA", "02118"},
		{"Cambridge", "MA", "02139"}, {"Lowell", "MA", "01852"}, {"Providence", "RI", "02903"},
		{"Hartford", "CT", "06103"}, {"Burlington", "VT", "05401"}, {"Portland", "ME", "04101"},
		{"Manchester", "NH", "03101"}, {"Albany", "NY", "12207"}, {"New Haven", "CT", "06510"},
	}
	orgKinds = []string{"General Hospital", "Family Practice", "Community Health Center", "Medical Group",
		"Primary Care Clinic", "Regional Medical Center"}
)
