package core

import (
	"fmt"
	"net"
	"net/url"
	"strings"
)

// Origin returns the origin of an absolute URL, as RFC 6454 (The Web Origin
// Concept, section 4) defines it: scheme, host and port, lowercased, with
// the scheme's default port made explicit ("https://ehr.example" and
// "https://ehr.example:443" are one origin). It is the one rule that decides
// where a bearer token may go (core/smart) and which file URLs are the FHIR
// server's (core/bulk).
func Origin(rawURL string) (string, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "", fmt.Errorf("parse URL: %w", err)
	}
	if u.Scheme == "" || u.Host == "" {
		return "", fmt.Errorf("URL %q is not absolute", rawURL)
	}
	return OriginOf(u), nil
}

// OriginOf is Origin of a parsed URL; a relative URL has the origin "://:".
func OriginOf(u *url.URL) string {
	scheme := strings.ToLower(u.Scheme)
	host, port := strings.ToLower(u.Hostname()), u.Port()
	if port == "" {
		switch scheme {
		case "https":
			port = "443"
		case "http":
			port = "80"
		}
	}
	return scheme + "://" + net.JoinHostPort(host, port)
}

// SameOrigin reports whether the absolute URLs a and b have the same
// origin. A URL that does not parse, or is not absolute, has no origin and
// matches nothing.
func SameOrigin(a, b string) bool {
	oa, err := Origin(a)
	if err != nil {
		return false
	}
	ob, err := Origin(b)
	return err == nil && oa == ob
}
