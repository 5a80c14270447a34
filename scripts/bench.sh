#!/usr/bin/env bash
# bench.sh [NAME...] — bundle bench/*.bench.ts and run them. Benchmarks print
# figures beside floors measured in the same run; they do not pass or fail.
# Env: BENCH_RUNS (runs per run-variant, default 30), BENCH_ONLY=a,b,... (sections).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/sbin:/sbin"
export BERTH_ROOT=$PWD
export BERTH_BUILD_DIR=$PWD/build

if [ "$(id -u)" != 0 ]; then
  echo "bench.sh: needs root (berthd runs containers in its own namespaces); skipping"
  exit 0
fi
if [ ! -f dist/berthd.js ] || [ ! -f dist/berth.js ]; then node scripts/build.mjs; fi

mapfile -t all < <(find bench -name '*.bench.ts' | LC_ALL=C sort)
sel=()
for f in "${all[@]}"; do
  if [ $# -eq 0 ]; then sel+=("$f"); continue; fi
  for p in "$@"; do case "$f" in *"$p"*) sel+=("$f"); break ;; esac; done
done
[ ${#sel[@]} -gt 0 ] || { echo "bench.sh: no benchmarks selected"; exit 0; }

# Per-run bundle dir, so concurrent runs in one tree do not clobber each other.
out=dist-test/bench-$$
cache=$(mktemp -d /tmp/berth-bench.XXXXXX)
trap 'rm -rf "$cache" "$out"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
mkdir -p dist-test
node - "$out" "${sel[@]}" <<'JS'
const { buildSync } = require('esbuild');
const [outdir, ...entries] = process.argv.slice(2);
buildSync({
  entryPoints: entries, outdir, outbase: 'bench', bundle: true,
  platform: 'node', target: 'node20', format: 'cjs', sourcemap: 'inline', logLevel: 'warning',
});
JS

bash scripts/make-busybox-rootfs.sh "$cache/busybox.tar"
export BERTH_BUSYBOX_TAR=$cache/busybox.tar

rc=0
for f in "${sel[@]}"; do
  js="$out/${f#bench/}"; js="${js%.ts}.js"
  node "$js" || rc=$?
done
exit $rc
