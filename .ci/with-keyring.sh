#!/bin/sh
# Starts an unlocked gnome-keyring Secret Service on the current D-Bus session
# bus (run under dbus-run-session), then runs the given command with
# TRANCHE_TEST_KEYRING=1 so the keychain tests use the real keyring.
set -e
export XDG_DATA_HOME="$(mktemp -d)"
if command -v gnome-keyring-daemon >/dev/null 2>&1; then
	printf 'tranche-ci' | gnome-keyring-daemon --unlock --components=secrets >/dev/null 2>&1 && export TRANCHE_TEST_KEYRING=1
fi
exec "$@"
