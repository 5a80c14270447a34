#!/usr/bin/env bash
# make-busybox-image.sh — make sure the daemon at $BERTH_HOST (default
# unix:///run/berth/berth.sock) has busybox:latest; if it does not, build the
# offline busybox rootfs tar and import it through the API (what `docker import`
# does: POST /images/create?fromSrc=-&repo=busybox&tag=latest).
set -euo pipefail
cd "$(dirname "$0")/.."

host=${BERTH_HOST:-unix:///run/berth/berth.sock}
case "$host" in
  unix://*) sock=${host#unix://} ;;
  /*) sock=$host ;;
  *) echo "make-busybox-image: only unix:// hosts are supported (got $host)" >&2; exit 1 ;;
esac
api() { curl -sS --unix-socket "$sock" "$@"; }

if ! api -o /dev/null -f "http://berth/_ping" 2>/dev/null; then
  echo "make-busybox-image: no daemon answers on $sock (run 'make up' first)" >&2
  exit 1
fi
code=$(api -o /dev/null -w '%{http_code}' "http://berth/v1.41/images/busybox:latest/json")
if [ "$code" = 200 ]; then
  echo "busybox:latest is present"
  exit 0
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/bb-image.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
bash scripts/make-busybox-rootfs.sh "$tmp/busybox.tar"
out=$(api -X POST -H 'Content-Type: application/x-tar' --data-binary "@$tmp/busybox.tar" \
  -w '\n%{http_code}' "http://berth/v1.41/images/create?fromSrc=-&repo=busybox&tag=latest")
status=${out##*$'\n'}
body=${out%$'\n'*}
body=${body%$'\n'}
if [ "$status" != 200 ] || grep -q '"error"' <<<"$body"; then
  echo "make-busybox-image: import failed (HTTP $status): $body" >&2
  exit 1
fi
code=$(api -o /dev/null -w '%{http_code}' "http://berth/v1.41/images/busybox:latest/json")
[ "$code" = 200 ] || { echo "make-busybox-image: import answered but busybox:latest is not there (HTTP $code)" >&2; exit 1; }
echo "imported busybox:latest: $body"
