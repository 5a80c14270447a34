#!/usr/bin/env bash
# test.sh [PATTERN...] — bundle every test/**/*.test.ts with esbuild (one file
# per test file) and run them with node's test runner: unit tests
# (test/unit/) first, then integration tests (test/integration/, root only),
# in one run so the closing "# pass N" / "# fail N" summary covers everything.
# PATTERNs (substrings of the test file paths) select a subset.
# Bundles go to dist-test/run-<pid>/ (removed at exit), so concurrent runs in
# one tree do not clobber each other.
# Env: BERTH_TEST_KEEP=1 keeps the daemons' temp dirs; BERTH_TEST_LOG_LEVEL
# sets berthd's --log-level (default debug); BERTH_TEST_SEED replays the
# crash test's random kills.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/sbin:/sbin"
export BERTH_ROOT=$PWD
export BERTH_BUILD_DIR=$PWD/build

if [ ! -f dist/berthd.js ] || [ ! -f dist/berth.js ]; then
  node scripts/build.mjs || echo "test.sh: the build failed; integration tests will fail" >&2
fi

mapfile -t all < <(find test -name '*.test.ts' -not -path '*/node_modules/*' | LC_ALL=C sort)
sel=()
for f in "${all[@]}"; do
  if [ $# -eq 0 ]; then sel+=("$f"); continue; fi
  for p in "$@"; do case "$f" in *"$p"*) sel+=("$f"); break ;; esac; done
done

mkdir -p dist-test
for old in dist-test/run-*; do
  [ -d "$old" ] || continue
  kill -0 "${old##*-}" 2>/dev/null || rm -rf "$old"
done
out=dist-test/run-$$
cache=
cleanup() {
  rm -rf "$out"
  if [ -n "$cache" ]; then rm -rf "$cache"; fi
  # Sandboxes of test processes that died without cleaning up.
  node dist-test/sweep.js || true
}
trap cleanup EXIT

# node's runner sorts the files it is given, so the bundle dirs are named to
# sort unit tests (1-unit/) before integration tests (2-integration/).
unit=() integ=() other=()
for f in "${sel[@]}"; do
  case "$f" in
    test/unit/*) unit+=("$f") ;;
    test/integration/*) integ+=("$f") ;;
    *) other+=("$f") ;;
  esac
done
node - "$out" "${#unit[@]}" "${#integ[@]}" "${unit[@]}" "${integ[@]}" "${other[@]}" <<'JS'
const { buildSync } = require('esbuild');
const [outdir, nu, ni, ...files] = process.argv.slice(2);
const unit = files.slice(0, +nu), integ = files.slice(+nu, +nu + +ni), other = files.slice(+nu + +ni);
const common = { bundle: true, platform: 'node', target: 'node20', format: 'cjs', logLevel: 'warning', legalComments: 'none' };
const build = (entryPoints, sub, outbase) =>
  entryPoints.length > 0 && buildSync({ ...common, entryPoints, outdir: `${outdir}/${sub}`, outbase, sourcemap: 'inline' });
build(unit, '1-unit', 'test/unit');
build(integ, '2-integration', 'test/integration');
build(other, '3-other', 'test');
buildSync({ ...common, entryPoints: ['test/harness/sweep-cli.ts'], outfile: 'dist-test/sweep.js' });
JS
js_of() { local rel=${1#"$2"/}; echo "$out/$3/${rel%.ts}.js"; }
unit_js=() integ_js=() other_js=()
for f in "${unit[@]}"; do unit_js+=("$(js_of "$f" test/unit 1-unit)"); done
for f in "${integ[@]}"; do integ_js+=("$(js_of "$f" test/integration 2-integration)"); done
for f in "${other[@]}"; do other_js+=("$(js_of "$f" test 3-other)"); done

files=("${unit_js[@]}" "${other_js[@]}")
if [ ${#integ_js[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    # The busybox rootfs tar, built once for the whole run.
    cache=$(mktemp -d /tmp/berth-test-run.XXXXXX)
    bash scripts/make-busybox-rootfs.sh "$cache/busybox.tar"
    export BERTH_BUSYBOX_TAR=$cache/busybox.tar
    files+=("${integ_js[@]}")
  else
    echo "test.sh: not root: skipping ${#integ_js[@]} integration test file(s) (they need mounts, namespaces and runc)"
  fi
fi

if [ ${#files[@]} -eq 0 ]; then
  echo "test.sh: no test files selected"
  printf '# tests 0\n# pass 0\n# fail 0\n'
  exit 0
fi

echo "test.sh: running ${#files[@]} test file(s)"
# --test-concurrency=1: one file at a time (unit first, see the bundle dir names).
# --test-timeout: no single test may hang CI (10 min).
# In the background so that an INT/TERM to this script reaches the runner before cleanup.
node --test --test-concurrency=1 --test-timeout=600000 --test-reporter=tap "${files[@]}" &
runner=$!
trap 'kill -INT "$runner" 2>/dev/null; wait "$runner"; exit 130' INT
trap 'kill -TERM "$runner" 2>/dev/null; wait "$runner"; exit 143' TERM
wait "$runner"
