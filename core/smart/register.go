package smart

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"tranche.dev/tranche/core"
)

// ClientMetadata is an RFC 7591 registration request for a backend service.
// Exactly one of JWKS and JWKSURI should be set.
type ClientMetadata struct {
	ClientName              string          `json:"client_name,omitempty"`
	JWKS                    json.RawMessage `json:"jwks,omitempty"`
	JWKSURI                 string          `json:"jwks_uri,omitempty"`
	TokenEndpointAuthMethod string          `json:"token_endpoint_auth_method"`
	GrantTypes              []string        `json:"grant_types"`
	Scope                   string          `json:"scope,omitempty"`
}

// RegisteredClient is the server's answer to a successful registration.
type RegisteredClient struct {
	ClientID         string `json:"client_id"`
	ClientIDIssuedAt int64  `json:"client_id_issued_at,omitempty"`
	ClientName       string `json:"client_name,omitempty"`
	Scope            string `json:"scope,omitempty"`
}

// ErrNotRFC7591 reports a registration endpoint that does not take RFC 7591
// registrations: it refused a JSON body, or answered an error that is not
// RFC 7591's JSON (the SMART reference server's form-style endpoint does
// both). A person must register by hand there.
var ErrNotRFC7591 = errors.New("the registration endpoint does not take RFC 7591 dynamic registrations")

// RegistrationError is an RFC 7591 §3.2.2 error answer.
type RegistrationError struct {
	Code        string // e.g. "invalid_client_metadata"
	Description string
	Status      int
	// NotRFC7591: the answer shows the endpoint is of another kind
	// (errors.Is(err, ErrNotRFC7591)).
	NotRFC7591 bool
}

// Is makes a RegistrationError from another kind of endpoint match
// ErrNotRFC7591.
func (e *RegistrationError) Is(target error) bool { return target == ErrNotRFC7591 && e.NotRFC7591 }

func (e *RegistrationError) Error() string {
	switch {
	case e.Code != "" && e.Description != "":
		return e.Code + ": " + e.Description
	case e.Code != "":
		return e.Code
	}
	return fmt.Sprintf("registration endpoint answered HTTP %d %s", e.Status, http.StatusText(e.Status))
}

// Register registers a client by RFC 7591 dynamic registration at endpoint
// (a smart-configuration registration_endpoint). Empty auth method and grant
// types default to private_key_jwt and client_credentials.
func Register(ctx context.Context, client *http.Client, endpoint string, md ClientMetadata) (*RegisteredClient, error) {
	if err := core.CheckURL(endpoint); err != nil {
		return nil, fmt.Errorf("register: %w", err)
	}
	client = checked(client)
	if len(md.JWKS) == 0 && md.JWKSURI == "" {
		return nil, errors.New("register: need a public JWKS or a JWKS URL")
	}
	if md.TokenEndpointAuthMethod == "" {
		md.TokenEndpointAuthMethod = "private_key_jwt"
	}
	if len(md.GrantTypes) == 0 {
		md.GrantTypes = []string{"client_credentials"}
	}
	body, err := json.Marshal(md)
	if err != nil {
		return nil, fmt.Errorf("register: encode metadata: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("register: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("register: %w", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxTokenBody))
	if err != nil {
		return nil, fmt.Errorf("register: read response: %w", err)
	}
	if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK {
		var e struct {
			Error       string `json:"error"`
			Description string `json:"error_description"`
		}
		jsonErr := json.Unmarshal(raw, &e) // a non-JSON body leaves Code empty
		re := &RegistrationError{Code: e.Error, Description: e.Description, Status: resp.StatusCode}
		// RFC 7591 §3.2.2: errors are JSON with an "error" code. A 415,
		// an error body of another shape, or a complaint about the
		// content type means the endpoint is not RFC 7591's.
		re.NotRFC7591 = resp.StatusCode == http.StatusUnsupportedMediaType || jsonErr != nil || e.Error == "" ||
			(e.Error == "invalid_request" && strings.Contains(strings.ToLower(e.Description), "content-type"))
		return nil, re
	}
	var rc RegisteredClient
	if err := json.Unmarshal(raw, &rc); err != nil {
		return nil, errors.New("register: response is not JSON")
	}
	if rc.ClientID == "" {
		return nil, errors.New("register: response has no client_id")
	}
	return &rc, nil
}
