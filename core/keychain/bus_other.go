//go:build !((dragonfly && cgo) || (freebsd && cgo) || linux || netbsd || openbsd)

package keychain

// The macOS Keychain and Windows Credential Manager need no bus and start
// nothing: go-keyring calls them directly.

func checkBus() error { return nil }

func diagnose(cause error) error { return unavailable(cause) }
