// Start-up of berth's bundles (built twice: dist/berth-boot.js for the CLI,
// dist/berthd-boot.js for the daemon; BOOT_TARGET names the bundle): runs the
// bundle with a V8 code cache beside it, so a start does not spend 5-15 ms
// compiling it again. The cache is (re)written when it was missing or V8
// rejected it (another node, a new build): by the CLI when it exits, by the
// daemon once it has been up a few seconds (the functions start-up compiled
// are in it by then). Where dist/ is not writable the bundle simply runs
// without one.
import * as fs from 'node:fs';
import Module from 'node:module';
import * as path from 'node:path';
import * as vm from 'node:vm';

declare const BOOT_TARGET: string;
const daemon = BOOT_TARGET === 'berthd.js';

// The launchers put "--" before the arguments (node 20 would take a --env-file among them as its own).
if (process.argv[2] === '--') process.argv.splice(2, 1);

const file = path.join(__dirname, BOOT_TARGET);
const cacheFile = `${file}.cache`;
const source = fs.readFileSync(file, 'utf8');
let cachedData: Buffer | undefined;
try { cachedData = fs.readFileSync(cacheFile); } catch { /* first run */ }

// Module.wrap gives the CommonJS function wrapper node itself would compile.
// No import() in the bundles: node 20 cannot serve it from a vm.Script (see scripts/build.mjs).
const script = new vm.Script(Module.wrap(source), { filename: file, cachedData });
if (!cachedData || script.cachedDataRejected) {
  const write = (): void => {
    try {
      const tmp = `${cacheFile}.${process.pid}.tmp`;
      fs.writeFileSync(tmp, script.createCachedData());
      fs.renameSync(tmp, cacheFile);
    } catch { /* read-only install: run without a cache */ }
  };
  if (daemon) setTimeout(write, 3000).unref();
  else process.once('exit', write);
}
const mod = new Module(file, module);
mod.filename = file;
type Wrapper = (exports: unknown, require: NodeJS.Require, module: Module, filename: string, dirname: string) => void;
const fn = script.runInThisContext() as Wrapper;
fn.call(mod.exports, mod.exports, mod.require.bind(mod) as NodeJS.Require, mod, file, path.dirname(file));
