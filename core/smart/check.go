package smart

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"golang.org/x/oauth2"
)

// Step is one step of a connection test, for a person to read.
type Step struct {
	Name    string // "Discovery", "Access token", "Metadata read"
	OK      bool
	Summary string // one sentence
	Detail  string // what was seen, or what to do
}

// Report is the result of CheckConnection, one Step per stage.
type Report struct {
	Steps      []Step
	Discovery  *Discovery // nil if discovery failed
	GrantScope string     // scope granted with the token, if any
}

// OK reports whether every step passed.
func (r *Report) OK() bool {
	for _, s := range r.Steps {
		if !s.OK {
			return false
		}
	}
	return len(r.Steps) > 0
}

// String renders the report as numbered lines.
func (r *Report) String() string {
	var b strings.Builder
	for i, s := range r.Steps {
		mark := "ok"
		if !s.OK {
			mark = "FAILED"
		}
		fmt.Fprintf(&b, "%d. %s: %s. %s\n", i+1, s.Name, mark, s.Summary)
		if s.Detail != "" {
			fmt.Fprintf(&b, "   %s\n", s.Detail)
		}
	}
	return b.String()
}

// CheckConnection tests a registration end to end: discovery at fhirBase, an
// access token from cfg (whose TokenURL, when empty, is the discovered one),
// and a read of {fhirBase}/metadata with that token. Later steps still run
// when they can, so the report says as much as possible.
func CheckConnection(ctx context.Context, fhirBase string, cfg Config) *Report {
	r := &Report{}
	client := cfg.HTTPClient
	if client == nil {
		client = cfg.httpClient()
	}
	d, err := Discover(ctx, client, fhirBase)
	if err != nil {
		r.Steps = append(r.Steps, Step{Name: "Discovery", Summary: "The server did not say where its token endpoint is",
			Detail: err.Error()})
	} else {
		r.Discovery = d
		st := Step{Name: "Discovery", OK: true, Summary: "Found the server's authorization settings", Detail: d.Summary()}
		if cfg.Alg != "" && !d.SupportsAlg(cfg.Alg) {
			st.OK = false
			st.Summary = "The server does not list this registration's signing algorithm " + cfg.Alg
		}
		r.Steps = append(r.Steps, st)
		if cfg.TokenURL == "" {
			cfg.TokenURL = d.TokenEndpoint
		}
	}
	if cfg.TokenURL == "" {
		r.Steps = append(r.Steps, Step{Name: "Access token", Summary: "Skipped: no token URL known",
			Detail: "Set the registration's token URL by hand."})
		return r
	}
	ts := cfg.TokenSource(ctx)
	tok, err := ts.Token()
	if err != nil {
		st := Step{Name: "Access token", Summary: "The token endpoint refused the request", Detail: err.Error()}
		var te *TokenError
		if errors.As(err, &te) && te.Code == "invalid_client" {
			st.Detail += " (check the client id, and that the server has this key's public JWKS)"
		}
		r.Steps = append(r.Steps, st)
		return r
	}
	scope, _ := tok.Extra("scope").(string)
	r.GrantScope = scope
	r.Steps = append(r.Steps, Step{Name: "Access token", OK: true, Summary: "Got an access token",
		Detail: fmt.Sprintf("granted scope %q, valid until %s", scope, tok.Expiry.Format("15:04:05"))})
	r.Steps = append(r.Steps, checkMetadata(ctx, client, ts, fhirBase))
	return r
}

func checkMetadata(ctx context.Context, base *http.Client, ts oauth2.TokenSource, fhirBase string) Step {
	st := Step{Name: "Metadata read"}
	c, err := NewClient(base, ts, fhirBase)
	if err != nil {
		st.Summary, st.Detail = "The FHIR base URL is not usable", err.Error()
		return st
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(fhirBase, "/")+"/metadata", nil)
	if err != nil {
		st.Summary, st.Detail = "The FHIR base URL is not usable", err.Error()
		return st
	}
	req.Header.Set("Accept", "application/fhir+json")
	resp, err := c.Do(req)
	if err != nil {
		st.Summary, st.Detail = "Could not reach the FHIR server", err.Error()
		return st
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		st.Summary = fmt.Sprintf("The FHIR server answered HTTP %d %s", resp.StatusCode, http.StatusText(resp.StatusCode))
		return st
	}
	var cs struct {
		ResourceType string `json:"resourceType"`
		FHIRVersion  string `json:"fhirVersion"`
		Software     struct {
			Name    string `json:"name"`
			Version string `json:"version"`
		} `json:"software"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxDiscoveryBody)).Decode(&cs); err != nil || cs.ResourceType != "CapabilityStatement" {
		st.Summary = "The FHIR server's /metadata is not a CapabilityStatement"
		return st
	}
	st.OK = true
	st.Summary = "Read the server's CapabilityStatement"
	st.Detail = strings.TrimSpace(fmt.Sprintf("FHIR %s %s %s", cs.FHIRVersion, cs.Software.Name, cs.Software.Version))
	return st
}
