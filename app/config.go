package main

import (
	"fmt"
	"os"
	"path/filepath"
)

// appID is the reverse-DNS application id (FyneApp.toml, keychain service).
const appID = "dev.tranche.app"

// dataDir returns Tranche's data directory: $TRANCHE_HOME, else the user's
// config directory + "/tranche". It is created with 0700 permissions.
func dataDir() (string, error) {
	dir := os.Getenv("TRANCHE_HOME")
	if dir == "" {
		base, err := os.UserConfigDir()
		if err != nil {
			return "", fmt.Errorf("find the user config directory: %w (set TRANCHE_HOME)", err)
		}
		dir = filepath.Join(base, "tranche")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("create data directory: %w", err)
	}
	return dir, nil
}

// defaultDBPath is the catalogue database inside the data directory.
func defaultDBPath() (string, error) {
	dir, err := dataDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "tranche.db"), nil
}
