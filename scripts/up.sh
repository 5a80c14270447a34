#!/usr/bin/env bash
# up.sh — start berthd on the default socket (if it is not already answering),
# make busybox:latest, and run a first container. Idempotent.
# `make up` has already run the set-up and the build.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/sbin:/sbin"

SOCK=${SOCK:-/run/berth/berth.sock}
RUN_DIR=$(dirname "$SOCK")
PIDFILE=${PIDFILE:-$RUN_DIR/berthd.pid}
if [ -w /var/log ]; then LOG=${LOG:-/var/log/berthd.log}; else LOG=${LOG:-$RUN_DIR/berthd.log}; fi
export BERTH_HOST="unix://$SOCK"

ping() { curl -sf -o /dev/null --max-time 2 --unix-socket "$SOCK" http://berth/_ping 2>/dev/null; }

[ "$(id -u)" = 0 ] || { echo "up: berthd needs root (mounts, namespaces, runc)" >&2; exit 1; }
[ -f dist/berthd.js ] || node scripts/build.mjs

if ping; then
  echo "berthd is already answering on $SOCK"
else
  if [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
    echo "berthd (pid $(cat "$PIDFILE")) is running but not answering yet; waiting"
  else
    mkdir -p "$RUN_DIR"
    echo "starting berthd (socket $SOCK, log $LOG)"
    setsid nohup node dist/berthd.js -H "unix://$SOCK" --pidfile "$PIDFILE" \
      >>"$LOG" 2>&1 </dev/null &
    started=$!
  fi
  for _ in $(seq 1 300); do
    ping && break
    if [ -n "${started:-}" ] && ! kill -0 "$started" 2>/dev/null; then
      echo "up: berthd exited during start-up; last lines of $LOG:" >&2
      tail -n 30 "$LOG" >&2 || true
      exit 1
    fi
    sleep 0.1
  done
  ping || { echo "up: berthd did not answer on $SOCK within 30 s; see $LOG" >&2; tail -n 30 "$LOG" >&2 || true; exit 1; }
  echo "berthd is up (pid $(cat "$PIDFILE" 2>/dev/null || echo "${started:-?}"))"
fi

bash scripts/make-busybox-image.sh
bin/berth run --rm busybox echo "berth is up"
