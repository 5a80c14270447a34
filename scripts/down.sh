#!/usr/bin/env bash
# down.sh — stop the berthd that up.sh started (SIGTERM through its pidfile).
# Containers keep running under conmon (live restore); `make up` picks them up again.
set -euo pipefail
SOCK=${SOCK:-/run/berth/berth.sock}
PIDFILE=${PIDFILE:-$(dirname "$SOCK")/berthd.pid}

if [ ! -f "$PIDFILE" ]; then
  echo "berthd is not running (no $PIDFILE)"
  exit 0
fi
pid=$(cat "$PIDFILE")
if ! [[ "$pid" =~ ^[0-9]+$ ]] || ! kill -0 "$pid" 2>/dev/null; then
  echo "berthd is not running (stale $PIDFILE)"
  rm -f "$PIDFILE"
  exit 0
fi
# Only signal the process if it really is berthd.
if ! tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -q 'berthd'; then
  echo "down: pid $pid from $PIDFILE is not berthd; leaving it alone" >&2
  exit 1
fi
kill -TERM "$pid"
for _ in $(seq 1 150); do
  kill -0 "$pid" 2>/dev/null || { echo "berthd stopped"; rm -f "$PIDFILE"; exit 0; }
  sleep 0.1
done
echo "down: berthd (pid $pid) did not stop within 15 s after SIGTERM" >&2
exit 1
