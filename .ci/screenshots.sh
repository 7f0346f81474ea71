#!/bin/sh
# screenshots.sh captures the desktop app's main screens for the README:
# it runs bin/tranche demo under Xvfb, drives it with xdotool (keyboard
# shortcuts, plus a click or two) and writes docs/screenshots/*.png with
# ImageMagick's import. It builds nothing: `make screenshots` builds
# bin/tranche and installs xvfb, xdotool and imagemagick first.
set -eu

OUT=${OUT:-docs/screenshots}
BIN=${BIN:-bin/tranche}
PATIENTS=${PATIENTS:-100}

if [ ! -x "$BIN" ]; then
	echo "screenshots: $BIN not found; run make screenshots" >&2
	exit 1
fi

# Re-run inside a private X server (and a D-Bus session when there is one,
# which silences Fyne's notification and theme-watch warnings).
if [ -z "${TRANCHE_SHOT_INNER:-}" ]; then
	export TRANCHE_SHOT_INNER=1
	if command -v dbus-run-session >/dev/null 2>&1; then
		exec xvfb-run -a -s "-screen 0 1280x800x24" dbus-run-session -- sh "$0" "$@"
	fi
	exec xvfb-run -a -s "-screen 0 1280x800x24" sh "$0" "$@"
fi

mkdir -p "$OUT"
# A throwaway home: Fyne's preferences (theme, data directory) start fresh.
HOME=$(mktemp -d)
export HOME LANG=en_US.UTF-8
trap 'kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null; rm -rf "$HOME" || true' EXIT

"$BIN" demo --patients "$PATIENTS" >"$HOME/demo.log" 2>&1 &
PID=$!

WID=""
for _ in $(seq 1 60); do
	WID=$(xdotool search --name '^Tranche$' 2>/dev/null | head -1 || true)
	[ -n "$WID" ] && break
	sleep 0.5
done
if [ -z "$WID" ]; then
	echo "screenshots: the Tranche window did not appear" >&2
	cat "$HOME/demo.log" >&2
	exit 1
fi
xdotool windowmove "$WID" 0 0 windowsize "$WID" 1280 800
xdotool windowactivate --sync "$WID" 2>/dev/null || true
xdotool windowfocus --sync "$WID" 2>/dev/null || true
sleep 2

key() { xdotool key --window "$WID" "$@"; sleep 1.2; }
click() { xdotool mousemove --window "$WID" "$1" "$2" click 1; sleep 1.2; }
shot() { import -window "$WID" "$OUT/$1.png"; echo "screenshots: $OUT/$1.png"; }

key ctrl+1
click 120 140 # the "Demo server" registration
shot registrations

key ctrl+2
shot new-export

key ctrl+e
sleep 0.6
shot exports-live
sleep "${EXPORT_WAIT:-12}"
key ctrl+3
shot exports

key ctrl+4
click 640 215 # a row of the resource table
shot catalogue

key ctrl+5 # Views: the library
sleep 3
click 110 168 # Blood pressures
sleep 2
shot views-library
click 525 130 # Open in builder: samples the paths, computes the preview
sleep 6
shot views-builder
click 770 618 # a systolic value in the preview: its column's profile
sleep 6
shot views-profile
click 204 90 # the ViewDefinition tab
sleep 2
shot views-json
click 107 90 # back to the builder
click 634 170 # its Filters and constants tab
shot views-builder-filters
click 120 170 # the Columns tab again
click 740 129 # the table name: save the view under a name of one's own
key ctrl+a
xdotool type --window "$WID" --delay 60 my_blood_pressures
sleep 2
click 1222 129 # Save view
click 37 90 # the Library, with the saved view after the built-in ones
click 110 519
shot views-library-saved

key ctrl+6
shot demo-server

key ctrl+7
shot settings

click 262 194 # Theme: Light
# Every widget is repainted in the new theme: with the views and tables
# of the earlier steps loaded that takes a while on a small machine.
sleep 6
key ctrl+4
sleep 3
shot catalogue-light
