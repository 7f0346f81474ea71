//go:build linux

package keychain_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/godbus/dbus/v5"

	"tranche.dev/tranche/core"
	"tranche.dev/tranche/core/keychain"
)

// marked returns the ids of processes other than this one whose
// environment holds the marker: what a keychain call started and left
// behind (dbus-launch passes its environment to the dbus-daemon it
// starts, and the daemon to the services it activates).
func marked(t *testing.T, marker string) []int {
	t.Helper()
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	var pids []int
	for _, d := range dirs {
		pid, _ := strconv.Atoi(filepath.Base(d))
		if pid == os.Getpid() {
			continue
		}
		env, err := os.ReadFile(filepath.Join(d, "environ"))
		if err == nil && bytes.Contains(env, []byte(marker)) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// TestStore_NoSessionBus: without a session bus, a keychain call says so
// and leaves no process behind (godbus would run dbus-launch, and the new
// bus would start gnome-keyring-daemon, both outliving the command).
func TestStore_NoSessionBus(t *testing.T) {
	marker := "TRANCHE_TEST_MARK=" + strconv.Itoa(os.Getpid()) + "-" + t.Name()
	k, v, _ := strings.Cut(marker, "=")
	t.Setenv(k, v)
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "")
	_, statErr := os.Stat("/run/user/" + strconv.Itoa(os.Getuid()) + "/bus")
	s := keychain.NewStore()
	err := s.Probe()
	t.Cleanup(func() {
		for _, pid := range marked(t, marker) {
			if p, err := os.FindProcess(pid); err == nil {
				p.Kill()
			}
		}
	})
	if left := marked(t, marker); len(left) > 0 {
		t.Errorf("Probe left %d processes running (pids %v), want none", len(left), left)
	}
	if statErr == nil {
		return // this machine has a per-user bus: Probe used it, and started nothing
	}
	if !errors.Is(err, core.ErrKeychainUnavailable) || !strings.Contains(err.Error(), "no D-Bus session bus") {
		t.Errorf("Probe() = %v, want ErrKeychainUnavailable saying there is no D-Bus session bus", err)
	}
	if errors.Is(err, core.ErrKeychainLocked) {
		t.Errorf("Probe() = %v, want no ErrKeychainLocked", err)
	}
	for _, f := range []func() error{
		func() error { return s.SetKey("r", mustEC(t)) },
		func() error { _, err := s.Key("r"); return err },
		func() error { return s.DeleteKey("r") },
	} {
		if err := f(); !errors.Is(err, core.ErrKeychainUnavailable) {
			t.Errorf("keychain call = %v, want ErrKeychainUnavailable", err)
		}
	}
	if left := marked(t, marker); len(left) > 0 {
		t.Errorf("keychain calls left %d processes running (pids %v), want none", len(left), left)
	}
}

// TestStore_NoSecretService: a session bus with no Secret Service on it is
// reported as such, not as a locked keyring.
func TestStore_NoSecretService(t *testing.T) {
	if os.Getenv("TRANCHE_TEST_KEYRING") != "1" {
		t.Skip("set TRANCHE_TEST_KEYRING=1 with D-Bus and gnome-keyring installed (make test does)")
	}
	// A private bus that can start no services at all.
	dir := t.TempDir()
	conf := filepath.Join(dir, "bus.conf")
	os.WriteFile(conf, []byte(`<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path=`+filepath.Join(dir, "bus")+`</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
`), 0o600)
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, "dbus-daemon", "--config-file="+conf, "--nofork", "--print-address=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start dbus-daemon: %v", err)
	}
	t.Cleanup(func() { cancel(); cmd.Wait() })
	line := make([]byte, 512)
	n, err := out.Read(line) // the daemon prints its address once it listens
	if err != nil {
		t.Fatalf("dbus-daemon address: %v", err)
	}
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", strings.TrimSpace(string(line[:n])))

	err = keychain.NewStore().Probe()
	if !errors.Is(err, core.ErrKeychainUnavailable) || !strings.Contains(err.Error(), "no Secret Service found") {
		t.Fatalf("Probe() = %v, want ErrKeychainUnavailable saying no Secret Service was found", err)
	}
	if errors.Is(err, core.ErrKeychainLocked) {
		t.Errorf("Probe() = %v, want no ErrKeychainLocked", err)
	}
}

// TestStore_Locked: a Secret Service whose collection is locked, with no
// way to show an unlock prompt (no display), is reported as locked.
func TestStore_Locked(t *testing.T) {
	if os.Getenv("TRANCHE_TEST_KEYRING") != "1" {
		t.Skip("set TRANCHE_TEST_KEYRING=1 with a Secret Service running (make test does)")
	}
	s := keychain.NewStore()
	if err := s.Probe(); err != nil {
		t.Fatalf("Probe before locking: %v", err)
	}
	conn, err := dbus.SessionBusPrivate()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() }) // after the unlock below
	if err := conn.Auth(nil); err != nil {
		t.Fatal(err)
	}
	if err := conn.Hello(); err != nil {
		t.Fatal(err)
	}
	svc := conn.Object("org.freedesktop.secrets", "/org/freedesktop/secrets")
	coll := dbus.ObjectPath("/org/freedesktop/secrets/collection/login")
	var locked []dbus.ObjectPath
	var prompt dbus.ObjectPath
	if err := svc.Call("org.freedesktop.Secret.Service.Lock", 0, []dbus.ObjectPath{coll}).Store(&locked, &prompt); err != nil {
		t.Fatalf("lock the login collection: %v", err)
	}
	t.Cleanup(func() { unlock(t, conn, coll) })

	err = s.Probe()
	if !errors.Is(err, core.ErrKeychainLocked) || !errors.Is(err, core.ErrKeychainUnavailable) {
		t.Fatalf("Probe() on a locked keyring = %v, want ErrKeychainLocked and ErrKeychainUnavailable", err)
	}
	if strings.Contains(err.Error(), "no Secret Service") {
		t.Errorf("Probe() = %q; a locked keyring is not a missing one", err)
	}
}

// unlock unlocks coll with the password .ci/with-keyring.sh gave it,
// through gnome-keyring's own interface (the Secret Service API can only
// ask the user).
func unlock(t *testing.T, conn *dbus.Conn, coll dbus.ObjectPath) {
	t.Helper()
	svc := conn.Object("org.freedesktop.secrets", "/org/freedesktop/secrets")
	var out dbus.Variant
	var session dbus.ObjectPath
	if err := svc.Call("org.freedesktop.Secret.Service.OpenSession", 0, "plain", dbus.MakeVariant("")).Store(&out, &session); err != nil {
		t.Fatalf("open session: %v", err)
	}
	secret := struct {
		Session     dbus.ObjectPath
		Parameters  []byte
		Value       []byte
		ContentType string
	}{session, []byte{}, []byte(keyringPassword()), "text/plain"}
	err := svc.Call("org.gnome.keyring.InternalUnsupportedGuiltRiddenInterface.UnlockWithMasterPassword", 0, coll, secret).Err
	if err != nil {
		t.Fatalf("unlock the login collection again: %v", err)
	}
}

func keyringPassword() string {
	if p := os.Getenv("TRANCHE_TEST_KEYRING_PASSWORD"); p != "" {
		return p
	}
	return "tranche-ci"
}
