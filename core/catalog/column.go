package catalog

// column is one table column: its header and the SQL expression computing
// it from the resources row r (raw JSON in r.raw). Columns are computed when
// a page is read, not at ingest, so they cost nothing on a million-row load
// and can change without a migration.
type column struct {
	Name string
	Expr string
}

// Common expressions. FHIR R4 and R5 spellings are both tried where they
// differ (Encounter.class, Encounter.period/actualPeriod).
const (
	exprID          = `r.res_id`
	exprLastUpdated = `r.last_updated`
)

var (
	colID          = column{"id", exprID}
	colLastUpdated = column{"lastUpdated", exprLastUpdated}

	// genericColumns are the columns of a table mixing types.
	genericColumns = []column{
		{"resourceType", `r.type`},
		colID,
		colLastUpdated,
		{"patient", `r.patient`},
	}

	typeColumns = map[string][]column{
		"Patient": {
			colID,
			{"name", `coalesce(r.raw->>'$.name[0].text', trim(coalesce((SELECT group_concat(value, ' ') FROM json_each(r.raw, '$.name[0].given')), '') || ' ' || coalesce(r.raw->>'$.name[0].family', '')))`},
			{"gender", `r.raw->>'$.gender'`},
			{"birthDate", `r.raw->>'$.birthDate'`},
			colLastUpdated,
		},
		"Observation": {
			colID,
			{"code", codeable("code")},
			{"value", `coalesce(
				(r.raw->>'$.valueQuantity.value') || coalesce(' ' || coalesce(r.raw->>'$.valueQuantity.unit', r.raw->>'$.valueQuantity.code'), ''),
				r.raw->>'$.valueString',
				` + codeable("valueCodeableConcept") + `,
				CASE json_type(r.raw, '$.valueBoolean') WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' END,
				r.raw->>'$.valueInteger',
				r.raw->>'$.valueDateTime',
				(SELECT group_concat(c.value->>'$.valueQuantity.value', '/') FROM json_each(r.raw, '$.component') c)
					|| coalesce(' ' || (r.raw->>'$.component[0].valueQuantity.unit'), ''))`},
			{"effective", `coalesce(r.raw->>'$.effectiveDateTime', r.raw->>'$.effectivePeriod.start', r.raw->>'$.effectiveInstant')`},
			{"patient", `r.patient`},
			colLastUpdated,
		},
		"Condition": {
			colID,
			{"code", codeable("code")},
			{"onset", `coalesce(r.raw->>'$.onsetDateTime', r.raw->>'$.onsetPeriod.start', r.raw->>'$.onsetString')`},
			{"clinicalStatus", `r.raw->>'$.clinicalStatus.coding[0].code'`},
			{"patient", `r.patient`},
			colLastUpdated,
		},
		"Encounter": {
			colID,
			{"class", `coalesce(r.raw->>'$.class.code', r.raw->>'$.class[0].coding[0].code', r.raw->>'$.class.display')`},
			{"start", `coalesce(r.raw->>'$.period.start', r.raw->>'$.actualPeriod.start')`},
			{"status", `r.raw->>'$.status'`},
			{"patient", `r.patient`},
			colLastUpdated,
		},
		"MedicationRequest": {
			colID,
			{"medication", `coalesce(` + codeable("medicationCodeableConcept") + `, r.raw->>'$.medicationReference.display', r.raw->>'$.medicationReference.reference', ` + codeable("medication.concept") + `, r.raw->>'$.medication.reference.reference')`},
			{"status", `r.raw->>'$.status'`},
			{"authoredOn", `r.raw->>'$.authoredOn'`},
			{"patient", `r.patient`},
			colLastUpdated,
		},
	}
)

func codeable(path string) string {
	return `coalesce(r.raw->>'$.` + path + `.text', r.raw->>'$.` + path + `.coding[0].display', r.raw->>'$.` + path + `.coding[0].code')`
}

// columnsFor returns the columns of a table of typ ("" = mixed types).
func columnsFor(typ string) []column {
	if typ == "" {
		return genericColumns
	}
	if cs, ok := typeColumns[typ]; ok {
		return cs
	}
	return []column{colID, colLastUpdated}
}

// Columns returns the column headers of a table of resources of type typ,
// the same for Resources pages and ExportCSV. Patient, Observation,
// Condition, Encounter and MedicationRequest get a few useful columns; other
// types get id and lastUpdated; typ "" (mixed types) gets resourceType, id,
// lastUpdated and patient.
func Columns(typ string) []string {
	cs := columnsFor(typ)
	names := make([]string, len(cs))
	for i, c := range cs {
		names[i] = c.Name
	}
	return names
}
