// Start-up of the `berth` CLI (bundled to dist/berth-boot.js): runs the CLI
// bundle dist/berth.js with a V8 code cache beside it, so a call does not
// spend ~5 ms compiling the bundle again. The cache is (re)written after a
// run whenever it was missing or V8 rejected it (another node, a new build);
// where dist/ is not writable the CLI simply runs without one.
import * as fs from 'node:fs';
import Module from 'node:module';
import * as path from 'node:path';
import * as vm from 'node:vm';

// bin/berth puts "--" before the CLI's arguments (node 20 would take a --env-file among them as its own).
if (process.argv[2] === '--') process.argv.splice(2, 1);

const file = path.join(__dirname, 'berth.js');
const cacheFile = `${file}.cache`;
const source = fs.readFileSync(file, 'utf8');
let cachedData: Buffer | undefined;
try { cachedData = fs.readFileSync(cacheFile); } catch { /* first run */ }

// Module.wrap gives the CommonJS function wrapper node itself would compile.
// No import() in the bundle: node 20 cannot serve it from a vm.Script (see scripts/build.mjs).
const script = new vm.Script(Module.wrap(source), { filename: file, cachedData });
if (!cachedData || script.cachedDataRejected) {
  process.once('exit', () => {
    try {
      const tmp = `${cacheFile}.${process.pid}.tmp`;
      fs.writeFileSync(tmp, script.createCachedData());
      fs.renameSync(tmp, cacheFile);
    } catch { /* read-only install: run without a cache */ }
  });
}
const mod = new Module(file, module);
mod.filename = file;
type Wrapper = (exports: unknown, require: NodeJS.Require, module: Module, filename: string, dirname: string) => void;
const fn = script.runInThisContext() as Wrapper;
fn.call(mod.exports, mod.exports, mod.require.bind(mod) as NodeJS.Require, mod, file, path.dirname(file));
