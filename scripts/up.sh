#!/usr/bin/env bash
# up.sh — start berthd on the default socket (if it is not already answering),
# make busybox:latest, and run a first container. Idempotent.
# `make up` has already run the set-up and the build.
# Env (all optional): SOCK (default /run/berth/berth.sock), PIDFILE, LOG,
# DATA_ROOT and EXEC_ROOT (default: berthd's own, /var/lib/berth and /run/berth).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/sbin:/sbin"

SOCK=${SOCK:-/run/berth/berth.sock}
RUN_DIR=$(dirname "$SOCK")
PIDFILE=${PIDFILE:-$RUN_DIR/berthd.pid}
if [ -w /var/log ]; then LOG=${LOG:-/var/log/berthd.log}; else LOG=${LOG:-$RUN_DIR/berthd.log}; fi
export BERTH_HOST="unix://$SOCK"

ping() { curl -sf -o /dev/null --max-time 2 --unix-socket "$SOCK" http://berth/_ping 2>/dev/null; }
is_berthd() { tr '\0' ' ' < "/proc/$1/cmdline" 2>/dev/null | grep -q berthd; }
wait_ping() { # wait_ping SECONDS [PID]: until /_ping answers, the pid dies, or time runs out
  local i
  for ((i = 0; i < $1 * 10; i++)); do
    ping && return 0
    if [ -n "${2:-}" ] && ! kill -0 "$2" 2>/dev/null; then return 1; fi
    sleep 0.1
  done
  return 1
}

[ "$(id -u)" = 0 ] || { echo "up: berthd needs root (mounts, namespaces, runc)" >&2; exit 1; }
[ -f dist/berthd.js ] || node scripts/build.mjs

if ping; then
  echo "berthd is already answering on $SOCK"
else
  old=$(cat "$PIDFILE" 2>/dev/null || true)
  if [[ "$old" =~ ^[0-9]+$ ]] && kill -0 "$old" 2>/dev/null && is_berthd "$old"; then
    echo "berthd (pid $old, from $PIDFILE) is running but not answering on $SOCK yet; waiting"
    if ! wait_ping 15 "$old"; then
      echo "up: berthd pid $old holds $PIDFILE but does not answer on $SOCK (another socket?)." >&2
      echo "    Stop it (make down, or kill $old) and run make up again." >&2
      exit 1
    fi
  else
    [ -z "$old" ] || rm -f "$PIDFILE" # stale: its process is gone or is not berthd
    mkdir -p "$RUN_DIR" "$(dirname "$LOG")"
    args=(-H "unix://$SOCK" --pidfile "$PIDFILE")
    [ -z "${DATA_ROOT:-}" ] || args+=(--data-root "$DATA_ROOT")
    [ -z "${EXEC_ROOT:-}" ] || args+=(--exec-root "$EXEC_ROOT")
    echo "starting berthd (socket $SOCK, log $LOG)"
    printf '\n===== %s: started by scripts/up.sh =====\n' "$(date -u +%FT%TZ)" >>"$LOG"
    setsid nohup bin/berthd "${args[@]}" >>"$LOG" 2>&1 </dev/null &
    started=$!
    if ! wait_ping 30 "$started"; then
      if kill -0 "$started" 2>/dev/null; then
        echo "up: berthd (pid $started) did not answer on $SOCK within 30 s; last lines of $LOG:" >&2
      else
        echo "up: berthd exited during start-up; last lines of $LOG:" >&2
      fi
      tail -n 30 "$LOG" >&2 || true
      exit 1
    fi
    echo "berthd is up (pid $started)"
  fi
fi

bash scripts/make-busybox-image.sh
bin/berth run --rm busybox echo "berth is up"
