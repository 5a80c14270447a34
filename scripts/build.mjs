// Bundles the entry points with esbuild (fast start: one file, no module
// resolution at run time) and compiles the C helpers with the system compiler.
import { buildSync } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { mkdirSync, statSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';

mkdirSync('dist', { recursive: true });
mkdirSync('build', { recursive: true });

const common = { bundle: true, platform: 'node', target: 'node20', format: 'cjs', sourcemap: 'linked', logLevel: 'warning', legalComments: 'none' };
buildSync({ ...common, entryPoints: ['src/daemon/main.ts'], outfile: 'dist/berthd.js' });
buildSync({ ...common, entryPoints: ['src/cli/main.ts'], outfile: 'dist/berth.js', minifySyntax: true });
// bin/berth and bin/berthd run the bundles through this launcher, which keeps a V8 code cache of each.
for (const target of ['berth.js', 'berthd.js']) {
  const stem = target.replace(/\.js$/, '');
  buildSync({ ...common, sourcemap: false, entryPoints: ['src/common/boot.ts'], outfile: `dist/${stem}-boot.js`, minifySyntax: true, define: { BOOT_TARGET: JSON.stringify(target) } });
  rmSync(`dist/${target}.cache`, { force: true });
  // Node 20 cannot serve import() from the vm.Script the launcher compiles: keep the bundles free of it.
  if (/\bimport\(["']/.test(readFileSync(`dist/${target}`, 'utf8'))) throw new Error(`dist/${target} contains import(): use a static import or require`);
}
// Layer unpacking runs in worker threads; src/snapshots/unpack.ts finds this beside berthd.js.
buildSync({ ...common, entryPoints: ['src/snapshots/unpack-worker.ts'], outfile: 'dist/unpack-worker.js' });

function newer(src, out) {
  return !existsSync(out) || statSync(src).mtimeMs > statSync(out).mtimeMs;
}
// ISA-L's inflate (Debian's libisal-dev, installed by scripts/setup.sh) decodes gzip layers 2-3x faster than
// zlib; without it the addon is built without gunzip* and berth falls back to node's zlib.
const isal = existsSync('/usr/include/isa-l/igzip_lib.h');
const isalStamp = 'build/.isal-' + (isal ? 'on' : 'off');
if (newer('native/berth_native.c', 'build/berth_native.node') || !existsSync(isalStamp)) {
  execFileSync('gcc', ['-O2', '-Wall', '-shared', '-fPIC', '-DNODE_GYP_MODULE_NAME=berth_native', '-I/usr/include/node',
    ...(isal ? ['-DBERTH_ISAL'] : []), '-o', 'build/berth_native.node', 'native/berth_native.c', ...(isal ? ['-lisal'] : [])], { stdio: 'inherit' });
  for (const f of ['build/.isal-on', 'build/.isal-off']) rmSync(f, { force: true });
  writeFileSync(isalStamp, '');
}
if (newer('native/berth-attach.c', 'build/berth-attach')) {
  execFileSync('gcc', ['-O2', '-Wall', '-o', 'build/berth-attach', 'native/berth-attach.c'], { stdio: 'inherit' });
}
