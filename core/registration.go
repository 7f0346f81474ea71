package core

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// Validate checks a registration before it is saved, for every front end:
// a name, a FHIR base URL that may carry tokens (CheckURLs), an algorithm
// Tranche signs with, bounds that make sense, and extra headers that are
// header names and never the authorization Tranche sets itself. Every
// problem is reported, joined.
func (r *Registration) Validate() error {
	var errs []error
	if strings.TrimSpace(r.Name) == "" {
		errs = append(errs, errors.New("a registration needs a name"))
	}
	if r.FHIRBaseURL == "" {
		errs = append(errs, errors.New("a registration needs the server's FHIR base URL"))
	} else if err := r.CheckURLs(); err != nil {
		errs = append(errs, err)
	}
	switch r.Alg {
	case "", "RS384", "ES384":
	default:
		errs = append(errs, fmt.Errorf("algorithm %q: Tranche signs with RS384 or ES384", r.Alg))
	}
	if r.MaxParallel < 0 || r.MaxParallel > 64 {
		errs = append(errs, fmt.Errorf("parallel downloads %d: want 1 to 64 (0 for the default)", r.MaxParallel))
	}
	if r.PollMin < 0 || r.PollMax < 0 || (r.PollMax > 0 && r.PollMin > r.PollMax) {
		errs = append(errs, fmt.Errorf("poll bounds %s to %s: want 0 <= minimum <= maximum", r.PollMin, r.PollMax))
	}
	if r.Sink != "" {
		if _, _, err := ParseSinkURL(r.Sink); err != nil {
			errs = append(errs, err)
		}
	}
	for name := range r.Headers {
		switch {
		case name == "" || strings.ContainsAny(name, " \t\r\n:"):
			errs = append(errs, fmt.Errorf("extra header %q: not a header name", name))
		case http.CanonicalHeaderKey(name) == "Authorization":
			errs = append(errs, errors.New("extra header Authorization: Tranche sets it from the access token"))
		}
	}
	return errors.Join(errs...)
}
