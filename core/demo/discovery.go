package demo

import (
	"net/http"
)

// handleSMARTConfig serves .well-known/smart-configuration (SMART App
// Launch 2: JSON whatever the Accept header), under the FHIR base and at
// the host root.
func (s *Server) handleSMARTConfig(w http.ResponseWriter, r *http.Request) {
	scopes := []string{"system/*.rs", "system/*.read"}
	for _, t := range s.cat.types {
		scopes = append(scopes, "system/"+t+".rs", "system/"+t+".read")
	}
	writeJSON(w, http.StatusOK, ctJSON, map[string]any{
		"token_endpoint":                                   s.TokenURL(),
		"registration_endpoint":                            s.RegistrationURL(),
		"grant_types_supported":                            []string{"client_credentials"},
		"token_endpoint_auth_methods_supported":            []string{"private_key_jwt"},
		"token_endpoint_auth_signing_alg_values_supported": []string{"RS384", "ES384"},
		"scopes_supported":                                 scopes,
		"capabilities":                                     []string{"client-confidential-asymmetric", "permission-v1", "permission-v2"},
		"code_challenge_methods_supported":                 []string{"S256"},
	})
}

// Canonical URLs of the Bulk Data IG.
const (
	bulkCapabilityStatement = "http://hl7.org/fhir/uv/bulkdata/CapabilityStatement/bulk-data"
	opExport                = "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/export"
	opPatientExport         = "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/patient-export"
	opGroupExport           = "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/group-export"
	extNotSupported         = "http://hl7.org/fhir/uv/bulkdata/Extension/operation-not-supported"
)

type jsonObj = map[string]any

// handleMetadata serves the CapabilityStatement: FHIR 4.0.1, the bulk-data
// CapabilityStatement instantiated, the three export operations (system
// under rest.operation, Patient and Group under their resources; docs/protocol.md,
// Capabilities), every exportable type with its _typeFilter parameters (X10), and
// the oauth-uris extension for clients of SMART 1.
func (s *Server) handleMetadata(w http.ResponseWriter, r *http.Request) {
	var resources []jsonObj
	for _, t := range s.cat.types {
		res := jsonObj{"type": t}
		var params []jsonObj
		for _, p := range paramsFor(t) {
			params = append(params, jsonObj{"name": p.Name, "type": p.Kind, "documentation": p.Doc})
		}
		switch t {
		case "Patient":
			res["operation"] = []jsonObj{{"name": "export", "definition": opPatientExport}}
		case "Group":
			res["interaction"] = []jsonObj{{"code": "read"}, {"code": "search-type"}}
			res["operation"] = []jsonObj{{"name": "export", "definition": opGroupExport}}
			// REST search only: not usable in _typeFilter.
			notBulk := []jsonObj{{"url": extNotSupported, "valueCanonical": bulkCapabilityStatement}}
			params = append(params,
				jsonObj{"name": "name", "type": "string", "documentation": "Group name (prefix, :exact, :contains)", "extension": notBulk},
				jsonObj{"name": "identifier", "type": "token", "documentation": "Group identifier", "extension": notBulk})
		}
		res["searchParam"] = params
		resources = append(resources, res)
	}
	rest := jsonObj{
		"mode":      "server",
		"resource":  resources,
		"operation": []jsonObj{{"name": "export", "definition": opExport}},
	}
	if !s.cfg.Open {
		rest["security"] = jsonObj{
			"service": []jsonObj{{"coding": []jsonObj{{
				"system": "http://terminology.hl7.org/CodeSystem/restful-security-service", "code": "SMART-on-FHIR"}}}},
			"extension": []jsonObj{{
				"url": "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris",
				"extension": []jsonObj{
					{"url": "token", "valueUri": s.TokenURL()},
					{"url": "register", "valueUri": s.RegistrationURL()},
				},
			}},
			"description": "SMART Backend Services: client_credentials with private_key_jwt (RS384, ES384)",
		}
	}
	writeJSON(w, http.StatusOK, ctFHIRJSON, jsonObj{
		"resourceType": "CapabilityStatement",
		"status":       "active",
		"date":         "2026-11-23",
		"publisher":    "Tranche",
		"kind":         "instance",
		"instantiates": []string{bulkCapabilityStatement},
		"software":     jsonObj{"name": "Tranche demo server"},
		"implementation": jsonObj{
			"description": "Loopback Bulk Data server with synthetic data (Tranche demo)",
			"url":         s.URL(),
		},
		"fhirVersion": "4.0.1",
		"format":      []string{"application/fhir+json"},
		"rest":        []jsonObj{rest},
	})
}
