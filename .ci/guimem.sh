#!/bin/sh
# guimem.sh prints the desktop app's resident memory idle and its peak
# during an export of the demo server's data: it runs bin/tranche demo
# (server in the same process, throwaway catalogue) under Xvfb, waits for
# the window, samples VmRSS, starts the export with Ctrl+2, Ctrl+E as a
# user would (xdotool), samples until the process has been quiet for 6 s,
# and lists the catalogue's exports so a finished export can be checked.
# Needs xvfb, xdotool and dbus (make deps-shot, deps-test); builds nothing.
#   BIN=bin/tranche PATIENTS=1000 sh .ci/guimem.sh
set -eu
BIN=${BIN:-bin/tranche}
PATIENTS=${PATIENTS:-1000}
WAIT=${WAIT:-120}
if [ -z "${TRANCHE_SHOT_INNER:-}" ]; then
	export TRANCHE_SHOT_INNER=1
	exec xvfb-run -a -s "-screen 0 1280x800x24" dbus-run-session -- sh "$0" "$@"
fi
HOME=$(mktemp -d)
TMPDIR=$HOME
export HOME TMPDIR LANG=en_US.UTF-8
trap 'kill "$PID" 2>/dev/null || true; rm -rf "$HOME"' EXIT
"$BIN" demo --patients "$PATIENTS" >"$HOME/demo.log" 2>&1 &
PID=$!
WID=""
for _ in $(seq 1 120); do
	WID=$(xdotool search --name '^Tranche$' 2>/dev/null | head -1 || true)
	[ -n "$WID" ] && break
	sleep 0.5
done
[ -n "$WID" ] || { echo "no window"; cat "$HOME/demo.log"; exit 1; }
xdotool windowmove "$WID" 0 0 windowsize "$WID" 1280 800
xdotool windowactivate --sync "$WID" 2>/dev/null || true
sleep 5
rss() { awk '/VmRSS/{print $2}' /proc/$PID/status; }
cpu() { awk '{print $14+$15}' /proc/$PID/stat; }
idle=0
for _ in $(seq 1 10); do r=$(rss); [ "$r" -gt "$idle" ] && idle=$r; sleep 0.3; done
xdotool key --window "$WID" ctrl+2; sleep 1.5
xdotool key --window "$WID" ctrl+e
peak=0; quiet=0; last=$(cpu); n=0
while [ $n -lt $((WAIT*5)) ]; do
	r=$(rss); [ "$r" -gt "$peak" ] && peak=$r
	sleep 0.2; n=$((n+1))
	if [ $((n % 10)) -eq 0 ]; then
		c=$(cpu); if [ $((c - last)) -lt 20 ]; then quiet=$((quiet+1)); else quiet=0; fi; last=$c
		[ $quiet -ge 3 ] && [ $n -gt 50 ] && break
	fi
done
echo "GUI idle RSS: $((idle/1024)) MB; peak during export: $((peak/1024)) MB; beyond idle: $(((peak-idle)/1024)) MB; sampled $((n/5)) s"
DB=$(find "$HOME" -name tranche.db | head -1)
echo "catalogue $DB:"; "$BIN" catalog exports --db "$DB" 2>&1 | tail -3
