package demo

import (
	"encoding/json"
	"net/http"
)

// Content types.
const (
	ctFHIRJSON = "application/fhir+json"
	ctJSON     = "application/json"
	ctNDJSON   = "application/fhir+ndjson"
)

// outcome is a FHIR OperationOutcome with one issue.
type outcome struct {
	ResourceType string  `json:"resourceType"`
	Issue        []issue `json:"issue"`
}

type issue struct {
	Severity    string `json:"severity"`
	Code        string `json:"code"`
	Diagnostics string `json:"diagnostics,omitempty"`
}

func newOutcome(severity, code, diagnostics string) outcome {
	return outcome{ResourceType: "OperationOutcome", Issue: []issue{{Severity: severity, Code: code, Diagnostics: diagnostics}}}
}

// writeOutcome answers with an error OperationOutcome (Bulk Data Access IG, Export: Bulk Data Kick-off Request, Response - Error: the
// body of a failed request SHALL be an OperationOutcome).
func writeOutcome(w http.ResponseWriter, status int, code, diagnostics string) {
	writeJSON(w, status, ctFHIRJSON, newOutcome("error", code, diagnostics))
}

func writeJSON(w http.ResponseWriter, status int, contentType string, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, contentType = http.StatusInternalServerError, ctFHIRJSON
		b = []byte(`{"resourceType":"OperationOutcome","issue":[{"severity":"fatal","code":"exception"}]}`)
	}
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

// oauthError is an RFC 6749 §5.2 (and RFC 7591 §3.2.2) error body.
type oauthError struct {
	Error       string `json:"error"`
	Description string `json:"error_description,omitempty"`
}

func writeOAuthError(w http.ResponseWriter, status int, code, description string) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	writeJSON(w, status, ctJSON, oauthError{Error: code, Description: description})
}

// mustJSON marshals values that cannot fail to marshal (plain structs and
// maps of strings).
func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}
