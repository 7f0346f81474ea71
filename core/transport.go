package core

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strings"
)

// ErrInsecureURL reports a URL Tranche will not send anything to: not https,
// and not plain http to this computer. Compare with errors.Is.
var ErrInsecureURL = errors.New("insecure URL")

// InsecureURLError is a refused URL, said as a sentence. It wraps
// ErrInsecureURL.
type InsecureURLError struct {
	URL    string // scheme, host and path only: a query may hold a capability
	Scheme string
}

func (e *InsecureURLError) Error() string {
	switch e.Scheme {
	case "http":
		return "refusing " + e.URL + ": plain http is allowed only to this computer (127.0.0.1, [::1] or localhost); use an https URL"
	case "":
		return "refusing " + e.URL + ": not an absolute https URL"
	}
	return "refusing " + e.URL + ": a " + e.Scheme + ": URL; only https URLs are fetched (http only on this computer)"
}

func (e *InsecureURLError) Unwrap() error { return ErrInsecureURL }

// CheckURL is Tranche's one transport rule, for every URL it sends anything
// to (FHIR base, token, registration and JWKS endpoints, kick-off, status,
// manifest pages, files, redirects): https anywhere, plain http only to a
// loopback address. SMART App Launch (Backend Services, "Security"):
// "All exchanges ... SHALL use TLS"; the loopback exception is that of RFC
// 8252 §7.3 and §8.3 (a loopback interface never leaves the machine). It
// looks nothing up, so callers run it before any request or DNS lookup; a
// host name counts as loopback only when it is "localhost" (RFC 6761 §6.3).
func CheckURL(raw string) error {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return &InsecureURLError{URL: "an unreadable URL"}
	}
	return CheckParsedURL(u)
}

// CheckParsedURL is CheckURL for a parsed URL.
func CheckParsedURL(u *url.URL) error {
	scheme := strings.ToLower(u.Scheme)
	switch {
	case scheme == "https" && u.Host != "":
		return nil
	case scheme == "http" && u.Host != "" && IsLoopbackHost(u.Hostname()):
		return nil
	}
	shown := &url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path, Opaque: u.Opaque}
	if scheme == "javascript" || scheme == "data" {
		shown = &url.URL{Scheme: u.Scheme, Opaque: "…"}
	}
	if u.Host == "" && (scheme == "http" || scheme == "https") {
		scheme = ""
	}
	return &InsecureURLError{URL: shown.String(), Scheme: scheme}
}

// IsLoopbackHost reports whether host (without port or brackets) is a
// loopback address literal (127.0.0.0/8, ::1) or "localhost".
func IsLoopbackHost(host string) bool {
	if strings.EqualFold(strings.TrimSuffix(host, "."), "localhost") {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.Unmap().IsLoopback()
}

// CheckURLs applies CheckURL to the registration's FHIR base, token and
// JWKS URLs (those that are set): a registration that would send a signed
// assertion or a bearer token over plain http off this computer is not
// saved.
func (r *Registration) CheckURLs() error {
	var errs []error
	for _, u := range []struct{ name, url string }{
		{"FHIR base URL", r.FHIRBaseURL}, {"token URL", r.TokenURL}, {"JWKS URL", r.JWKSURL},
	} {
		if u.url == "" && u.name != "FHIR base URL" {
			continue
		}
		if err := CheckURL(u.url); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", u.name, err))
		}
	}
	return errors.Join(errs...)
}
