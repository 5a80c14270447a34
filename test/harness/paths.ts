// Where the repository, its build outputs and the test temp dirs live.
import * as fs from 'node:fs';
import * as path from 'node:path';

let root: string | undefined;

/** The repository root: $BERTH_ROOT, else the first ancestor of this file (or cwd) holding scripts/make-busybox-rootfs.sh. */
export function repoRoot(): string {
  if (root) return root;
  const env = process.env['BERTH_ROOT'];
  const starts = env ? [env] : [__dirname, process.cwd()];
  for (const start of starts) {
    let dir = path.resolve(start);
    for (let i = 0; i < 8; i++) {
      if (fs.existsSync(path.join(dir, 'scripts', 'make-busybox-rootfs.sh'))) {
        root = dir;
        return dir;
      }
      const up = path.dirname(dir);
      if (up === dir) break;
      dir = up;
    }
  }
  throw new Error('cannot find the berth repository root (set BERTH_ROOT)');
}

export const DOCKER_BIN = process.env['DOCKER'] ?? '/usr/local/bin/docker';

/** The daemon bundle ($BERTH_BERTHD_JS overrides it, e.g. to test the harness with a stub). */
export function berthdJs(): string {
  return process.env['BERTH_BERTHD_JS'] ?? path.join(repoRoot(), 'dist', 'berthd.js');
}

/** How the harness starts berthd: bin/berthd (the launcher users run, with its node flags), or node + $BERTH_BERTHD_JS. */
export function berthdArgv(): string[] {
  const js = process.env['BERTH_BERTHD_JS'];
  return js ? [process.execPath, js] : [path.join(repoRoot(), 'bin', 'berthd')];
}

export function berthBin(): string {
  return path.join(repoRoot(), 'bin', 'berth');
}

export function buildDir(): string {
  return process.env['BERTH_BUILD_DIR'] ?? path.join(repoRoot(), 'build');
}

/**
 * Parent of the per-daemon temp dirs. Kept short on purpose: unix socket
 * paths (berthd's, conmon's attach sockets) must fit in 108 bytes.
 */
export function tmpBase(): string {
  return process.env['BERTH_TEST_TMP'] ?? '/tmp';
}

/** PATH with the sbin dirs (runc, ip, iptables live there on Debian). */
export function fullPath(): string {
  const parts = (process.env['PATH'] ?? '/usr/local/bin:/usr/bin:/bin').split(':');
  for (const p of ['/usr/local/sbin', '/usr/sbin', '/sbin']) if (!parts.includes(p)) parts.push(p);
  return parts.join(':');
}
