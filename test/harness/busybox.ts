// The busybox rootfs tar the tests import as busybox:latest. Built once per
// test run: scripts/test.sh builds it and exports BERTH_BUSYBOX_TAR; a test
// file run on its own builds it into a cache file keyed by the busybox binary
// and the script, so it is still built only once.
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { repoRoot, tmpBase } from './paths';
import { runSync } from './proc';

let cached: string | undefined;

export function busyboxTar(): string {
  if (cached) return cached;
  const env = process.env['BERTH_BUSYBOX_TAR'];
  if (env && fs.existsSync(env)) return (cached = env);
  const script = path.join(repoRoot(), 'scripts', 'make-busybox-rootfs.sh');
  const bb = ['/usr/bin/busybox', '/bin/busybox'].find((p) => fs.existsSync(p));
  if (!bb) throw new Error('busybox-static is not installed (/usr/bin/busybox)');
  const st = fs.statSync(bb);
  const key = crypto
    .createHash('sha256')
    .update(fs.readFileSync(script))
    .update(`${bb}:${st.size}:${st.mtimeMs}`)
    .digest('hex')
    .slice(0, 16);
  const dir = path.join(tmpBase(), `berth-test-cache-${process.getuid?.() ?? 0}`);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const out = path.join(dir, `busybox-${key}.tar`);
  if (!fs.existsSync(out)) {
    const r = runSync('bash', [script, out], { timeoutMs: 120_000 });
    if (r.code !== 0) throw new Error(`make-busybox-rootfs.sh failed: ${r.stderr}`);
  }
  return (cached = out);
}
