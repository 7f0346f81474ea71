package smart

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"tranche.dev/tranche/core"
)

// Discovery sources.
const (
	SourceSMARTConfiguration  = "smart-configuration"
	SourceCapabilityStatement = "metadata"
)

// oauthURIs is the legacy SMART 1.0 CapabilityStatement extension that names
// the token endpoint (SMART App Launch v2, Conformance: Using .well-known, deprecated in SMART 2).
const oauthURIs = "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris"

const maxDiscoveryBody = 4 << 20

// Discovery is what a FHIR server says about its authorization.
type Discovery struct {
	Source               string // SourceSMARTConfiguration or SourceCapabilityStatement
	TokenEndpoint        string // absolute
	RegistrationEndpoint string // absolute; "" if none
	SigningAlgs          []string
	AuthMethods          []string
	GrantTypes           []string
	Capabilities         []string
	ScopesSupported      []string
}

// SupportsAlg reports whether the server lists alg among its signing
// algorithms. An empty list is taken as "unknown", so true.
func (d *Discovery) SupportsAlg(alg string) bool {
	return len(d.SigningAlgs) == 0 || slices.Contains(d.SigningAlgs, alg)
}

// ScopesV1 reports whether the server advertises SMART v1 scopes
// (system/*.read).
func (d *Discovery) ScopesV1() bool { return slices.Contains(d.Capabilities, "permission-v1") }

// ScopesV2 reports whether the server advertises SMART v2 scopes
// (system/*.rs).
func (d *Discovery) ScopesV2() bool { return slices.Contains(d.Capabilities, "permission-v2") }

// Summary describes d in one line for a person.
func (d *Discovery) Summary() string {
	var parts []string
	parts = append(parts, "token endpoint "+d.TokenEndpoint)
	if len(d.SigningAlgs) > 0 {
		parts = append(parts, "algorithms "+strings.Join(d.SigningAlgs, ", "))
	}
	switch {
	case d.ScopesV1() && d.ScopesV2():
		parts = append(parts, "scopes v1 and v2")
	case d.ScopesV2():
		parts = append(parts, "scopes v2")
	case d.ScopesV1():
		parts = append(parts, "scopes v1")
	}
	if d.RegistrationEndpoint != "" {
		parts = append(parts, "dynamic registration at "+d.RegistrationEndpoint)
	} else {
		parts = append(parts, "no dynamic registration")
	}
	return strings.Join(parts, "; ") + " (from " + d.Source + ")"
}

// Discover reads {base}/.well-known/smart-configuration and falls back to the
// CapabilityStatement's oauth-uris extension at {base}/metadata for older
// servers. Relative URLs are resolved against the base (SMART App Launch v2, Conformance: Using .well-known).
func Discover(ctx context.Context, client *http.Client, base string) (*Discovery, error) {
	if err := core.CheckURL(base); err != nil {
		return nil, err
	}
	client = checked(client)
	baseURL, err := url.Parse(strings.TrimRight(base, "/") + "/")
	if err != nil || baseURL.Scheme == "" || baseURL.Host == "" {
		return nil, fmt.Errorf("FHIR base URL %q is not an absolute URL", base)
	}
	d, wellKnownErr := discoverWellKnown(ctx, client, baseURL)
	if wellKnownErr == nil {
		return d, checkDiscovered(d)
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	var unreachable *net.OpError
	if errors.As(wellKnownErr, &unreachable) {
		// Nothing answered at all: the metadata fallback, on the same
		// host, would only say so twice.
		return nil, fmt.Errorf("cannot reach the server at %s: %w", base, unreachable)
	}
	d, metaErr := discoverMetadata(ctx, client, baseURL)
	if metaErr == nil {
		return d, checkDiscovered(d)
	}
	return nil, fmt.Errorf("discover authorization: smart-configuration: %v; metadata: %w", wellKnownErr, metaErr)
}

// checkDiscovered holds the endpoints a server advertises to the transport
// rule: a signed assertion must not be sent to a plain-http token endpoint
// however it was found.
func checkDiscovered(d *Discovery) error {
	if err := core.CheckURL(d.TokenEndpoint); err != nil {
		return fmt.Errorf("discovery: token endpoint: %w", err)
	}
	if d.RegistrationEndpoint != "" {
		if err := core.CheckURL(d.RegistrationEndpoint); err != nil {
			return fmt.Errorf("discovery: registration endpoint: %w", err)
		}
	}
	return nil
}

func getJSON(ctx context.Context, client *http.Client, u, accept string, v any) error {
	if err := core.CheckURL(u); err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", accept)
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return fmt.Errorf("HTTP %d %s", resp.StatusCode, http.StatusText(resp.StatusCode))
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxDiscoveryBody)).Decode(v); err != nil {
		return errors.New("response is not JSON")
	}
	return nil
}

func resolve(base *url.URL, ref string) string {
	if ref == "" {
		return ""
	}
	u, err := url.Parse(ref)
	if err != nil {
		return ref
	}
	return base.ResolveReference(u).String()
}

func discoverWellKnown(ctx context.Context, client *http.Client, base *url.URL) (*Discovery, error) {
	var cfg struct {
		TokenEndpoint string   `json:"token_endpoint"`
		Registration  string   `json:"registration_endpoint"`
		Algs          []string `json:"token_endpoint_auth_signing_alg_values_supported"`
		AuthMethods   []string `json:"token_endpoint_auth_methods_supported"`
		GrantTypes    []string `json:"grant_types_supported"`
		Capabilities  []string `json:"capabilities"`
		Scopes        []string `json:"scopes_supported"`
	}
	// SMART 2 says the answer is JSON whatever the Accept; ask for it anyway.
	if err := getJSON(ctx, client, resolve(base, ".well-known/smart-configuration"), "application/json", &cfg); err != nil {
		return nil, err
	}
	if cfg.TokenEndpoint == "" {
		return nil, errors.New("no token_endpoint")
	}
	return &Discovery{
		Source:               SourceSMARTConfiguration,
		TokenEndpoint:        resolve(base, cfg.TokenEndpoint),
		RegistrationEndpoint: resolve(base, cfg.Registration),
		SigningAlgs:          cfg.Algs,
		AuthMethods:          cfg.AuthMethods,
		GrantTypes:           cfg.GrantTypes,
		Capabilities:         cfg.Capabilities,
		ScopesSupported:      cfg.Scopes,
	}, nil
}

type extension struct {
	URL       string      `json:"url"`
	ValueURI  string      `json:"valueUri"`
	ValueURL  string      `json:"valueUrl"`
	Extension []extension `json:"extension"`
}

func discoverMetadata(ctx context.Context, client *http.Client, base *url.URL) (*Discovery, error) {
	var cs struct {
		ResourceType string `json:"resourceType"`
		Rest         []struct {
			Security struct {
				Extension []extension `json:"extension"`
			} `json:"security"`
		} `json:"rest"`
	}
	if err := getJSON(ctx, client, resolve(base, "metadata"), "application/fhir+json", &cs); err != nil {
		return nil, err
	}
	if cs.ResourceType != "CapabilityStatement" {
		return nil, errors.New("not a CapabilityStatement")
	}
	for _, r := range cs.Rest {
		for _, ext := range r.Security.Extension {
			if ext.URL != oauthURIs {
				continue
			}
			d := &Discovery{Source: SourceCapabilityStatement}
			for _, sub := range ext.Extension {
				v := resolve(base, sub.ValueURI+sub.ValueURL)
				switch sub.URL {
				case "token":
					d.TokenEndpoint = v
				case "register":
					d.RegistrationEndpoint = v
				}
			}
			if d.TokenEndpoint != "" {
				return d, nil
			}
		}
	}
	return nil, errors.New("no oauth-uris token extension")
}
