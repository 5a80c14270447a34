#!/usr/bin/env bash
# make-busybox-rootfs.sh OUT.tar — an offline busybox root filesystem as a tar,
# built from Debian's busybox-static. Deterministic: entries are sorted, every
# mtime is fixed, owners are numeric (0, except /home/app which is 1000), so the
# same busybox binary always yields the same bytes (and the same layer digest).
set -euo pipefail
out=${1:?usage: make-busybox-rootfs.sh OUT.tar}

bb=
for c in /usr/bin/busybox /bin/busybox "$(command -v busybox 2>/dev/null || true)"; do
  if [ -n "$c" ] && [ -x "$c" ]; then bb=$c; break; fi
done
[ -n "$bb" ] || { echo "make-busybox-rootfs: busybox not found (apt-get install busybox-static)" >&2; exit 1; }
if command -v file >/dev/null 2>&1 && ! file -L "$bb" | grep -q 'statically linked'; then
  echo "make-busybox-rootfs: $bb is not statically linked (install busybox-static)" >&2
  exit 1
fi

stage=$(mktemp -d "${TMPDIR:-/tmp}/bb-rootfs.XXXXXX")
trap 'rm -rf "$stage"' EXIT
cd "$stage"

install -d -m 0755 bin sbin usr usr/bin usr/sbin etc dev proc sys run var var/log home
install -d -m 0700 root
install -d -m 1777 tmp var/tmp
install -d -m 0755 home/app
install -m 0755 "$bb" bin/busybox

# One symlink per applet, pointing at /bin/busybox.
"$bb" --list-full | LC_ALL=C sort -u | while read -r applet; do
  [ -n "$applet" ] || continue
  case "$applet" in bin/busybox|/bin/busybox) continue ;; esac
  applet=${applet#/}
  mkdir -p "$(dirname "$applet")"
  [ -e "$applet" ] || [ -L "$applet" ] || ln -s /bin/busybox "$applet"
done

cat > etc/passwd <<'EOF'
root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
app:x:1000:1000:app:/home/app:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOF
cat > etc/group <<'EOF'
root:x:0:
daemon:x:1:
app:x:1000:
nogroup:x:65534:
EOF
cat > etc/shadow <<'EOF'
root:*:19000:0:99999:7:::
daemon:*:19000:0:99999:7:::
app:*:19000:0:99999:7:::
nobody:*:19000:0:99999:7:::
EOF
# Mount points the engine binds over.
: > etc/hosts
: > etc/hostname
: > etc/resolv.conf
chmod 0644 etc/passwd etc/group etc/hosts etc/hostname etc/resolv.conf
chmod 0640 etc/shadow

owner=(--owner=0 --group=0)
if [ "$(id -u)" = 0 ]; then
  chown -R 0:0 .
  chown 1000:1000 home/app
  owner=()
fi

# Top-level entries without a "./" prefix, children sorted by name.
tmp_out="$out.tmp.$$"
LC_ALL=C tar --sort=name --format=gnu --numeric-owner "${owner[@]}" \
  --mtime='2024-01-01 00:00:00Z' --no-acls --no-xattrs --no-selinux \
  -cf "$tmp_out" $(LC_ALL=C ls -A)
mv -f "$tmp_out" "$out"
