package outfile_test

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"tranche.dev/tranche/core/outfile"
)

func TestWrite(t *testing.T) {
	errBroken := errors.New("broken pipe")
	tests := []struct {
		name    string
		write   func(io.Writer) (int, error)
		want    string // path's content after
		wantErr error
	}{
		{"replaces", func(w io.Writer) (int, error) { return io.WriteString(w, "new\n") }, "new\n", nil},
		{"fails: old file kept", func(w io.Writer) (int, error) {
			n, _ := io.WriteString(w, "half")
			return n, errBroken
		}, "old\n", errBroken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "table.csv")
			if err := os.WriteFile(path, []byte("old\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := outfile.Write(path, 0o600, tt.write)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Write() = %v, want %v", err, tt.wantErr)
			}
			got, err := os.ReadFile(path)
			if err != nil || string(got) != tt.want {
				t.Errorf("content = %q, %v; want %q", got, err, tt.want)
			}
			if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
				t.Errorf("mode = %v, %v; want 0600", fi.Mode().Perm(), err)
			}
			if ents, _ := os.ReadDir(dir); len(ents) != 1 {
				t.Errorf("%d files in the directory, want 1 (no temporary left)", len(ents))
			}
		})
	}
	// A missing directory is an error naming the path.
	if _, err := outfile.Write(filepath.Join(t.TempDir(), "no", "x.csv"), 0o600, func(io.Writer) (int, error) { return 0, nil }); err == nil {
		t.Error("Write(in a missing directory) = nil, want an error")
	}
}
