//go:build (dragonfly && cgo) || (freebsd && cgo) || linux || netbsd || openbsd

package keychain

import (
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strings"

	"github.com/godbus/dbus/v5"

	"tranche.dev/tranche/core"
)

// On these systems go-keyring talks to the Secret Service over the D-Bus
// session bus (freedesktop.org Secret Service API 0.2). When no session bus
// can be found, godbus runs dbus-launch, which starts a dbus-daemon that
// outlives the command, and the daemon then starts gnome-keyring-daemon for
// the Secret Service name: two processes left behind by every keychain
// command. So before go-keyring is called, the bus is looked for the way
// godbus does, but without launching one; and when a call fails, the bus is
// asked why (no Secret Service, or a locked collection).

const (
	secretsName    = "org.freedesktop.secrets"
	secretsPath    = "/org/freedesktop/secrets"
	collectionIf   = "org.freedesktop.Secret.Collection"
	collectionBase = "/org/freedesktop/secrets/collection/"
	defaultAlias   = "/org/freedesktop/secrets/aliases/default"
)

// dialSessionBus connects to the session bus named by
// DBUS_SESSION_BUS_ADDRESS or found at $XDG_RUNTIME_DIR-style paths, and
// never starts one.
func dialSessionBus() (*dbus.Conn, error) {
	conn, err := dbus.SessionBusPrivateNoAutoStartup()
	if err != nil {
		return nil, err
	}
	if err := conn.Auth(nil); err != nil {
		conn.Close()
		return nil, err
	}
	if err := conn.Hello(); err != nil {
		conn.Close()
		return nil, err
	}
	return conn, nil
}

// errNoBus explains a missing session bus.
func errNoBus(cause error) error {
	return fmt.Errorf("%w: no D-Bus session bus, so no Secret Service (Tranche does not start one: it would outlive "+
		"the command): run Tranche in a desktop session, or under dbus-run-session with gnome-keyring, "+
		"or use --key-file-fallback with a passphrase (%v)", core.ErrKeychainUnavailable, cause)
}

// checkBus returns nil when godbus will find a session bus address without
// launching a bus: DBUS_SESSION_BUS_ADDRESS, or the per-user bus under
// /run/user (where systemd and Ubuntu put it). It does not dial: a named
// bus that is not there makes go-keyring fail, not launch one.
func checkBus() error {
	if a := os.Getenv("DBUS_SESSION_BUS_ADDRESS"); a != "" && a != "autolaunch:" {
		return nil
	}
	u, err := user.Current()
	if err != nil {
		return errNoBus(err)
	}
	dir := filepath.Join("/run/user", u.Uid)
	if _, err := os.Stat(filepath.Join(dir, "bus")); err == nil {
		return nil
	}
	if b, err := os.ReadFile(filepath.Join(dir, "dbus-session")); err == nil &&
		strings.HasPrefix(string(b), "DBUS_SESSION_BUS_ADDRESS=") {
		return nil
	}
	return errNoBus(errors.New("DBUS_SESSION_BUS_ADDRESS is not set and there is no bus in " + dir))
}

// diagnose explains a failed Secret Service call: no Secret Service on the
// bus, a locked collection, or else the cause as it came.
func diagnose(cause error) error {
	conn, err := dialSessionBus()
	if err != nil {
		return errNoBus(err)
	}
	defer conn.Close()
	if !hasName(conn, secretsName) {
		return unavailable(cause)
	}
	locked, err := collectionLocked(conn)
	if err == nil && locked {
		return fmt.Errorf("%w: %w: unlock it (log in to the desktop session, or unlock it in your keyring tool) "+
			"and try again, or use --key-file-fallback with a passphrase", core.ErrKeychainUnavailable, core.ErrKeychainLocked)
	}
	return fmt.Errorf("%w: the Secret Service refused (%v): check your keyring tool, "+
		"or use --key-file-fallback with a passphrase", core.ErrKeychainUnavailable, cause)
}

// hasName reports whether name is owned on the bus or can be started by it.
func hasName(conn *dbus.Conn, name string) bool {
	var owned bool
	if conn.BusObject().Call("org.freedesktop.DBus.NameHasOwner", 0, name).Store(&owned) == nil && owned {
		return true
	}
	var names []string
	if conn.BusObject().Call("org.freedesktop.DBus.ListActivatableNames", 0).Store(&names) != nil {
		return false
	}
	return slices.Contains(names, name)
}

// collectionLocked reports whether the collection go-keyring uses (the
// "login" collection if there is one, else the default alias) is locked.
func collectionLocked(conn *dbus.Conn) (bool, error) {
	path := dbus.ObjectPath(defaultAlias)
	svc := conn.Object(secretsName, secretsPath)
	if v, err := svc.GetProperty("org.freedesktop.Secret.Service.Collections"); err == nil {
		if paths, ok := v.Value().([]dbus.ObjectPath); ok && slices.Contains(paths, dbus.ObjectPath(collectionBase+"login")) {
			path = collectionBase + "login"
		}
	}
	v, err := conn.Object(secretsName, path).GetProperty(collectionIf + ".Locked")
	if err != nil {
		return false, err
	}
	locked, ok := v.Value().(bool)
	if !ok {
		return false, errors.New("Locked is not a boolean")
	}
	return locked, nil
}
