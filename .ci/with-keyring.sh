#!/bin/sh
# Starts an unlocked gnome-keyring Secret Service on the current D-Bus session
# bus (run under dbus-run-session), then runs the given command with
# TRANCHE_TEST_KEYRING=1 so the keychain tests use the real keyring
# (core/keychain TestStore_SecretService). Without gnome-keyring the tests
# still run, and that one test says it was skipped.
set -e
export XDG_DATA_HOME="$(mktemp -d)"
if ! command -v gnome-keyring-daemon >/dev/null 2>&1; then
	echo "with-keyring: gnome-keyring-daemon not installed (make deps-test); real keychain test skipped" >&2
elif printf 'tranche-ci' | gnome-keyring-daemon --unlock --components=secrets >/dev/null 2>&1; then
	export TRANCHE_TEST_KEYRING=1
	# core/keychain TestStore_Locked locks the login keyring and unlocks it
	# again with this password.
	export TRANCHE_TEST_KEYRING_PASSWORD=tranche-ci
else
	echo "with-keyring: gnome-keyring-daemon did not start; real keychain test skipped" >&2
fi
exec "$@"
