package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestServe_TokenTTL: a token lifetime over five minutes is refused, before
// anything listens, unless the flag that says it breaks the spec is given.
func TestServe_TokenTTL(t *testing.T) {
	var stdout, stderr bytes.Buffer
	err := runServe([]string{"--addr", "127.0.0.1:0", "--token-ttl", "24h"}, &stdout, &stderr)
	if err == nil || exitCode(err) != 2 {
		t.Fatalf("serve --token-ttl 24h = %v (exit %d), want a usage error", err, exitCode(err))
	}
	for _, want := range []string{"at most 5 minutes", "--token-ttl-breaks-spec"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q, want it to mention %q", err, want)
		}
	}
	if stdout.Len() != 0 {
		t.Errorf("stdout %q, want nothing: the server must not have started", stdout.String())
	}
}
