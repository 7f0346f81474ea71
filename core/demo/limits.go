package demo

import (
	"errors"
	"net"
	"net/http"
	"strings"
	"time"
)

// Bounds on what a client can make the demo server hold or compute. The
// server is what trainers expose on a laptop, so every input that is kept
// in memory or costs CPU per request has a ceiling, and going over it is
// answered at once, with a 4xx status and a body that says which bound.
const (
	// DefaultMaxClients is how many clients may register dynamically
	// (RFC 7591) when Config.MaxClients is zero. The built-in demo clients
	// and clients registered in code do not count.
	DefaultMaxClients = 100

	// MaxTokenTTL is the longest access token lifetime the SMART Backend
	// Services IG allows ("SHOULD NOT exceed five minutes", Backend
	// Services: Issue access token) and the risk assessment's R7 asks for.
	// Config.TokenTTLBreaksSpec lifts it.
	MaxTokenTTL = 5 * time.Minute

	// MinRSABits and MaxRSABits bound the RSA keys a client may register
	// or publish at its JWKS URL. Verifying a signature costs the square
	// of the modulus size: a 262,144-bit key took 2.4 s of CPU per token.
	MinRSABits = 2048
	MaxRSABits = 8192

	// maxJWKSKeys bounds the keys of one JWK Set, inline or fetched.
	maxJWKSKeys = 10

	// maxRegistrationBody bounds an RFC 7591 registration request: ten
	// 8192-bit public keys as JWKs take about 14 KB.
	maxRegistrationBody = 32 << 10
	// maxClientName, maxScope and maxJWKSURL bound the metadata a
	// registration keeps.
	maxClientName = 200
	maxScope      = 1 << 10
	maxJWKSURL    = 2 << 10
	// maxAssertionsPerClient bounds the client assertions one client may
	// use within their lifetime (their jtis are kept that long, to refuse
	// replays); more get 429. A client needs one per token, and a token
	// lasts minutes.
	maxAssertionsPerClient = 100
	// maxTokensPerClient bounds one client's live access tokens; a new
	// one makes the oldest invalid.
	maxTokensPerClient = 20
	// maxTokenBody bounds a token request (RFC 6749 §4.4): a client
	// assertion signed with an 8192-bit key is under 2 KB.
	maxTokenBody = 64 << 10
	// maxJWKSBody bounds the JWK Set read from a client's JWKS URL.
	maxJWKSBody = maxRegistrationBody

	// maxKickoffURL bounds a kick-off request's URL (path and query). The
	// job keeps it as the manifest's "request" until it expires. (The
	// request line and headers together stay under net/http's 1 MB
	// default, which is read and dropped with the request.)
	maxKickoffURL = 8 << 10
	// maxKickoffBody bounds a POST kick-off's Parameters resource.
	maxKickoffBody = 64 << 10

	// maxActiveJobs is how many unfinished exports one client may have;
	// more get 429 (Bulk Data Access IG v2, Export Request Flow: a server
	// MAY refuse a kick-off while an export is in progress).
	maxActiveJobs = 8
	// maxKeptJobs is how many exports, running or finished and not yet
	// expired or deleted, one client may have; more get 429. Without it,
	// finished jobs pile up for two hours each. In --open mode every
	// request is the same (anonymous) client.
	maxKeptJobs = 32

	// Server timeouts. readTimeout covers a whole request, body included
	// (bodies are small: see maxKickoffBody). A response may take as long
	// as it needs as long as it makes progress: writeStall is how long
	// one write may block before the connection is dropped, and file
	// downloads push their write deadline on by that much after every
	// write. idleTimeout closes keep-alive connections nobody uses.
	readHeaderTimeout = 10 * time.Second
	readTimeout       = 30 * time.Second
	writeStall        = 60 * time.Second
	idleTimeout       = 60 * time.Second
)

// timeouts are the server's connection timeouts; tests shorten them.
type timeouts struct {
	readHeader, read, writeStall, idle time.Duration
}

var defaultTimeouts = timeouts{readHeader: readHeaderTimeout, read: readTimeout, writeStall: writeStall, idle: idleTimeout}

// ErrTokenTTL is returned by Open for a token lifetime over MaxTokenTTL.
var ErrTokenTTL = errors.New("access tokens may live at most 5 minutes " +
	"(SMART Backend Services: Issue access token, and risk R7)")

// loopbackHost reports whether a Host header value names a loopback host:
// localhost, any address in 127.0.0.0/8, or ::1 in brackets, with or
// without a port.
func loopbackHost(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	} else if strings.HasPrefix(hostport, "[") && strings.HasSuffix(hostport, "]") {
		host = hostport[1 : len(hostport)-1]
	} else if strings.Contains(hostport, ":") {
		return false // an IPv6 literal must be in brackets in Host
	}
	host = strings.TrimSuffix(host, ".")
	return isLoopbackHost(strings.ToLower(host))
}

// checkHost refuses requests whose Host header does not name the server
// by a loopback name. A web page that rebinds its own DNS name to
// 127.0.0.1 sends its own name as Host, so it cannot drive the server
// from a browser (DNS rebinding). With Config.AllowRemote the listen
// host is accepted too.
func (s *Server) checkHost(next http.Handler) http.Handler {
	listenHost, _, _ := net.SplitHostPort(s.cfg.Addr)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if loopbackHost(r.Host) {
			next.ServeHTTP(w, r)
			return
		}
		if s.cfg.AllowRemote && listenHost != "" {
			if h, _, err := net.SplitHostPort(r.Host); err == nil && strings.EqualFold(h, listenHost) {
				next.ServeHTTP(w, r)
				return
			}
		}
		writeOutcome(w, http.StatusBadRequest, "security",
			"the Host header must name a loopback host (localhost, 127.0.0.1 or [::1]): "+
				"this server refuses other names to stop DNS rebinding")
	})
}

// tooLarge reports whether err is http.MaxBytesReader's over-limit error.
func tooLarge(err error) bool {
	var mbe *http.MaxBytesError
	return errors.As(err, &mbe)
}

// deadlineWriter pushes the response's write deadline writeStall past
// now before every write, so a large download over a slow link lives as
// long as it makes progress, while a client that stops reading is
// dropped after writeStall.
type deadlineWriter struct {
	w     interface{ Write([]byte) (int, error) }
	rc    *http.ResponseController
	stall time.Duration
}

func (d *deadlineWriter) Write(p []byte) (int, error) {
	// An error means the ResponseWriter cannot take deadlines (a test's
	// recorder); the server's WriteTimeout then stays in force.
	_ = d.rc.SetWriteDeadline(time.Now().Add(d.stall))
	return d.w.Write(p)
}
