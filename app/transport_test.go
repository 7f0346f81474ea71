package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"tranche.dev/tranche/core"
)

// failDial is a dialer that fails the test: nothing may ever be sent off
// loopback here, and an insecure URL must be refused before any
// connection or DNS lookup (the dialer is where both happen).
func failDial(t *testing.T) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		t.Errorf("dialled %s %s: an insecure URL must be refused before any connection", network, addr)
		return nil, errors.New("dial refused by the test")
	}
}

// TestExportRefusesPlainHTTP: `tranche export` refuses http to anything
// but this computer before any request or lookup (SMART risk R5).
func TestExportRefusesPlainHTTP(t *testing.T) {
	tests := []struct {
		name string
		args []string
	}{
		{"FHIRBase", []string{"-f", "http://192.0.2.10/fhir", "--open"}},
		{"FHIRBaseWithKey", []string{"-f", "http://192.0.2.10/fhir", "--client-id", "c", "--private-key", "k.json"}},
		{"TokenURL", []string{"-f", "https://192.0.2.10/fhir", "--client-id", "c", "--private-key", "k.json", "--token-url", "http://192.0.2.10/token"}},
		{"StatusURL", []string{"-f", "https://192.0.2.10/fhir", "--open", "--status", "http://192.0.2.10/jobs/1"}},
		{"FileScheme", []string{"-f", "file:///etc/fhir", "--open"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"--db", filepath.Join(t.TempDir(), "t.db")}, tt.args...)
			var out, errb strings.Builder
			err := runExportDial(args, &out, &errb, failDial(t))
			if !errors.Is(err, core.ErrInsecureURL) || !strings.Contains(err.Error(), "refusing") {
				t.Fatalf("export %v = %v, want a refusal of the insecure URL", tt.args, err)
			}
			if exitCode(err) != 2 {
				t.Errorf("exit code %d, want 2", exitCode(err))
			}
		})
	}
}

// TestGUIRefusesPlainHTTP: the desktop app's services refuse the same,
// for a registration being saved, a discovery and an export started from
// a registration stored before the rule (or edited in the database).
func TestGUIRefusesPlainHTTP(t *testing.T) {
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	g, err := openGUI(t.TempDir(), logger, false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	env := g.services.env
	env.Dial = failDial(t)
	env.HTTPClient = &http.Client{Timeout: 30 * time.Second, Transport: env.transport(0)}
	g.services.eng.Dial, g.services.eng.HTTPClient = env.Dial, env.HTTPClient
	ctx := t.Context()

	reg := &core.Registration{Name: "lab", FHIRBaseURL: "http://192.0.2.10/fhir", TokenURL: "https://192.0.2.10/token", ClientID: "c", Scopes: "system/*.rs"}
	if err := g.services.env.Reg.CreateRegistration(ctx, reg); !errors.Is(err, core.ErrInsecureURL) {
		t.Fatalf("CreateRegistration = %v, want a refusal", err)
	}
	if _, err := g.services.env.Reg.Discover(ctx, "http://192.0.2.10/fhir"); !errors.Is(err, core.ErrInsecureURL) {
		t.Fatalf("Discover = %v, want a refusal", err)
	}
	// A registration stored before the rule existed.
	if err := g.db.CreateRegistration(ctx, reg); err != nil {
		t.Fatal(err)
	}
	_, err = g.services.Start(ctx, reg, core.ExportRequest{Level: core.LevelSystem}, nil, func(core.Event) {})
	if !errors.Is(err, core.ErrInsecureURL) {
		t.Fatalf("Start = %v, want a refusal", err)
	}
	if exps, _ := g.db.FindExports(ctx, 10); len(exps) != 0 {
		t.Errorf("%d exports recorded, want none for a refused URL", len(exps))
	}
	reg.FHIRBaseURL, reg.TokenURL = "https://192.0.2.10/fhir", "http://192.0.2.10/token"
	if err := g.services.env.Reg.UpdateRegistration(ctx, reg); !errors.Is(err, core.ErrInsecureURL) {
		t.Fatalf("UpdateRegistration = %v, want a refusal of the token URL", err)
	}
}
