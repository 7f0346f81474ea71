package core

import (
	"encoding/json"
	"slices"
	"strings"
)

// Outcome is a FHIR OperationOutcome as Tranche reads one: a server's
// answer to a failed request, or a line of an export's error files. It is
// parsed here once for the engine, the catalogue and both front ends.
type Outcome struct {
	ResourceType string         `json:"resourceType"`
	ID           string         `json:"id"`
	Issue        []OutcomeIssue `json:"issue"`
}

// OutcomeIssue is one issue of an OperationOutcome.
type OutcomeIssue struct {
	Severity    string `json:"severity"`
	Code        string `json:"code"`
	Diagnostics string `json:"diagnostics"`
	Details     struct {
		Text string `json:"text"`
	} `json:"details"`
}

// ParseOutcome decodes raw as an OperationOutcome. It fails only on JSON
// that does not decode; Valid says whether it is an OperationOutcome.
func ParseOutcome(raw []byte) (*Outcome, error) {
	var o Outcome
	if err := json.Unmarshal(raw, &o); err != nil {
		return nil, err
	}
	return &o, nil
}

// Valid reports whether o is an OperationOutcome with at least one issue.
func (o *Outcome) Valid() bool {
	return o != nil && o.ResourceType == "OperationOutcome" && len(o.Issue) > 0
}

// Text is the issue's message for a person: its diagnostics, else its
// details text, else its code.
func (is OutcomeIssue) Text() string {
	for _, s := range []string{is.Diagnostics, is.Details.Text, is.Code} {
		if s != "" {
			return s
		}
	}
	return ""
}

// Text is the first issue's message, or "" without issues.
func (o *Outcome) Text() string {
	if o == nil || len(o.Issue) == 0 {
		return ""
	}
	return o.Issue[0].Text()
}

// Summary is every issue's message, joined with "; ".
func (o *Outcome) Summary() string {
	parts := make([]string, 0, len(o.Issue))
	for _, is := range o.Issue {
		if t := is.Text(); t != "" {
			parts = append(parts, t)
		}
	}
	return strings.Join(parts, "; ")
}

// severityRank orders the issue severities; unknown is lowest.
var severityRank = map[string]int{"information": 1, "warning": 2, "error": 3, "fatal": 4}

// Severity is the most severe of the issues' severities ("" without any
// known one).
func (o *Outcome) Severity() string {
	var worst string
	for _, is := range o.Issue {
		if severityRank[is.Severity] > severityRank[worst] {
			worst = is.Severity
		}
	}
	return worst
}

// transientCodes are the issue codes that mean "retry later" (Bulk Data
// Access IG, Export: Bulk Data Status Request, Response - Error Status).
var transientCodes = []string{"transient", "lock-error", "no-store", "exception", "timeout", "incomplete", "throttled"}

// Transient reports whether every issue says the failure is transient, so
// the request is worth sending again.
func (o *Outcome) Transient() bool {
	if len(o.Issue) == 0 {
		return false
	}
	for _, is := range o.Issue {
		if !slices.Contains(transientCodes, is.Code) {
			return false
		}
	}
	return true
}
