#!/usr/bin/env bash
# Installs what berth needs and is missing. Idempotent: a second run does nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

# command -> Debian package
declare -A need=(
  [runc]=runc [conmon]=conmon [busybox]=busybox-static [iptables]=iptables [ip]=iproute2
  [gcc]=gcc [make]=make [skopeo]=skopeo [docker-registry]=docker-registry [script]=bsdutils
  [tini-static]=tini [tmux]=tmux [openssl]=openssl [curl]=curl [nft]=nftables [nsenter]=util-linux [ps]=procps [htpasswd]=apache2-utils
)
missing=()
for cmd in "${!need[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || PATH="$PATH:/usr/sbin:/sbin" command -v "$cmd" >/dev/null 2>&1 || missing+=("${need[$cmd]}")
done
# busybox must be the static build: it is copied into images.
if command -v busybox >/dev/null 2>&1 && ! file -L "$(command -v busybox)" 2>/dev/null | grep -q static; then
  dpkg -s busybox-static >/dev/null 2>&1 || missing+=(busybox-static)
fi
# Libraries the native addon links (checked by header; scripts/build.mjs builds without them, slower).
[ -f /usr/include/isa-l/igzip_lib.h ] || missing+=(libisal-dev)
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# npm dependencies, only when package.json or the lock changed.
if [ ! -d node_modules ] || [ package.json -nt node_modules/.stamp ] || { [ -f package-lock.json ] && [ package-lock.json -nt node_modules/.stamp ]; }; then
  if [ -f package-lock.json ]; then npm ci --no-audit --no-fund --loglevel=error; else npm install --no-audit --no-fund --loglevel=error; fi
  touch node_modules/.stamp
fi
