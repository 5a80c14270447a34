// Disk usage through the real docker CLI: system df (and -v) sizes against
// du of the store, ps -s, the size cache following changes, and system
// prune -a --volumes leaving only what running containers use.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { expectMatch, okOut, skipUnlessRoot, useDaemon, type Daemon } from '../harness';

interface DF {
  LayersSize: number;
  Images: Array<{ Id: string; Size: number; SharedSize: number; Containers: number; RepoTags: string[] | null }>;
  Containers: Array<{ Id: string; Names: string[]; SizeRw: number; SizeRootFs: number }>;
  Volumes: Array<{ Name: string; Mountpoint: string; UsageData: { Size: number; RefCount: number } }>;
  BuildCache: unknown[];
}

/** Apparent size in bytes of a directory, as du reports it (in the daemon's mount namespace). */
function du(d: Daemon, dir: string): number {
  const r = d.nsRun('du', ['-sb', dir]);
  if (r.code !== 0) throw new Error(`du ${dir}: ${r.stderr}`);
  return Number(r.stdout.split(/\s/)[0]);
}

function within(actual: number, expected: number, what: string, pct = 5): void {
  const diff = Math.abs(actual - expected);
  assert.ok(diff <= (expected * pct) / 100, `${what}: ${actual} is not within ${pct}% of ${expected}`);
}

describe('system df, ps -s and system prune (docker CLI)', { skip: skipUnlessRoot() }, () => {
  const d = useDaemon();
  const df = async (): Promise<DF> => {
    const r = await d.api<DF>('GET', '/v1.41/system/df');
    assert.equal(r.status, 200, r.text);
    return r.json;
  };
  let running = '';
  let stopped = '';

  it('system df: container, volume and layer sizes agree with du of the store', async () => {
    running = okOut(await d.docker(['run', '-d', '--name', 'dfrun', '-v', 'dfvol:/vol', 'busybox', 'sh', '-c',
      'dd if=/dev/urandom of=/big bs=1k count=3072 2>/dev/null; dd if=/dev/urandom of=/vol/v bs=1k count=4096 2>/dev/null; touch /ready; sleep 1000']), 'run');
    for (let i = 0; i < 100 && (await d.docker(['exec', 'dfrun', 'test', '-e', '/ready'])).code !== 0; i++) await new Promise((r) => setTimeout(r, 50));
    stopped = okOut(await d.docker(['run', '--name', 'dfstop', 'busybox', 'sh', '-c', 'mkdir -p /data && dd if=/dev/urandom of=/data/f bs=1k count=2048 2>/dev/null']), 'run stopped');
    stopped = okOut(await d.docker(['inspect', '--format', '{{.Id}}', 'dfstop']), 'id');
    okOut(await d.docker(['volume', 'create', 'dfidle']), 'idle volume');

    const u = await df();
    const c = (id: string): DF['Containers'][number] => {
      const x = u.Containers.find((k) => k.Id === id);
      assert.ok(x, `container ${id} in system df`);
      return x;
    };
    const upper = (id: string): string => path.join(d.dataRoot, 'snapshots', 'rw', id, 'upper');
    within(c(running).SizeRw, du(d, upper(running)), 'running container SizeRw');
    within(c(stopped).SizeRw, du(d, upper(stopped)), 'stopped container SizeRw');
    assert.ok(c(running).SizeRw >= 3 * 1024 * 1024);
    const busybox = u.Images.find((i) => i.RepoTags?.includes('busybox:latest'));
    assert.ok(busybox, 'busybox in system df');
    assert.equal(c(stopped).SizeRootFs, c(stopped).SizeRw + busybox.Size, 'SizeRootFs = SizeRw + image size');
    assert.equal(busybox.Containers, 2);
    const vol = u.Volumes.find((v) => v.Name === 'dfvol');
    assert.ok(vol, 'dfvol in system df');
    assert.equal(vol.UsageData.RefCount, 1);
    within(vol.UsageData.Size, du(d, vol.Mountpoint), 'volume size');
    const idle = u.Volumes.find((v) => v.Name === 'dfidle');
    assert.deepEqual(idle?.UsageData, { Size: 0, RefCount: 0 });
    let layers = 0;
    for (const n of fs.readdirSync(path.join(d.dataRoot, 'snapshots'))) {
      if (/^[0-9a-f]{64}$/.test(n)) layers += du(d, path.join(d.dataRoot, 'snapshots', n, 'fs'));
    }
    within(u.LayersSize, layers, 'LayersSize');
    assert.deepEqual(u.BuildCache, []);

    // the CLI renders both views without crashing
    const text = okOut(await d.docker(['system', 'df']), 'system df');
    expectMatch(text, /^Images\s+\d+\s+\d+\s+/m, 'images row');
    expectMatch(text, /^Containers\s+2\s+1\s+/m, 'containers row');
    expectMatch(text, /^Local Volumes\s+2\s+1\s+/m, 'volumes row');
    const verbose = okOut(await d.docker(['system', 'df', '-v']), 'system df -v');
    expectMatch(verbose, /dfvol\s+1\s+4\.\d+MB/, 'volume line');
    expectMatch(verbose, /dfstop$/m, 'container line');
  });

  it('ps -s shows SizeRw and the virtual size', async () => {
    const rows = okOut(await d.docker(['ps', '-a', '-s', '--format', '{{.Names}} {{.Size}}']), 'ps -s').split('\n').sort();
    assert.equal(rows.length, 2);
    expectMatch(rows[0]!, /^dfrun 3\.\d+MB \(virtual \d+(\.\d+)?MB\)$/, 'running row');
    expectMatch(rows[1]!, /^dfstop 2\.\d+MB \(virtual \d+(\.\d+)?MB\)$/, 'stopped row');
    const api = await d.api<Array<{ Names: string[]; SizeRw?: number; SizeRootFs?: number }>>('GET', '/containers/json?all=1&size=1');
    for (const x of api.json) assert.ok(typeof x.SizeRw === 'number' && typeof x.SizeRootFs === 'number' && x.SizeRootFs > x.SizeRw, JSON.stringify(x));
    const noSize = await d.api<Array<Record<string, unknown>>>('GET', '/containers/json?all=1');
    assert.ok(noSize.json.every((x) => !('SizeRw' in x)), 'no sizes unless asked');
    const insp = JSON.parse(okOut(await d.docker(['inspect', '-s', 'dfstop']), 'inspect -s'))[0] as { SizeRw: number; SizeRootFs: number };
    assert.ok(insp.SizeRw >= 2 * 1024 * 1024 && insp.SizeRootFs > insp.SizeRw);
  });

  it('cached sizes follow changes (cp into a stopped container, writes in a running one)', async () => {
    const first = (await df()).Containers.find((k) => k.Id === stopped)!.SizeRw;
    const t0 = Date.now();
    const again = (await df()).Containers.find((k) => k.Id === stopped)!.SizeRw;
    assert.equal(again, first);
    assert.ok(Date.now() - t0 < 2000);
    const f = path.join(d.dir, 'extra.bin');
    fs.writeFileSync(f, Buffer.alloc(1024 * 1024, 7));
    okOut(await d.docker(['cp', f, 'dfstop:/data/']), 'cp');
    const after = (await df()).Containers.find((k) => k.Id === stopped)!.SizeRw;
    assert.equal(after, first + 1024 * 1024, 'the cp is counted');
    okOut(await d.docker(['exec', 'dfrun', 'sh', '-c', 'dd if=/dev/zero of=/more bs=1k count=1024 2>/dev/null']), 'write more');
    await new Promise((r) => setTimeout(r, 2100));
    const run = (await df()).Containers.find((k) => k.Id === running)!;
    within(run.SizeRw, du(d, path.join(d.dataRoot, 'snapshots', 'rw', running, 'upper')), 'running container after a write');
  });

  it('system prune -a --volumes leaves only what running containers use, and reports the space', async () => {
    okOut(await d.docker(['commit', 'dfstop', 'dfimage:1']), 'an extra image');
    okOut(await d.docker(['run', '--name', 'anonuser', '-v', '/anon', 'busybox', 'sh', '-c', 'echo x > /anon/x']), 'a stopped container with an anonymous volume');
    const out = okOut(await d.docker(['system', 'prune', '-a', '-f', '--volumes']), 'system prune');
    expectMatch(out, /Deleted Containers:[\s\S]*Deleted Volumes:[\s\S]*dfidle[\s\S]*Deleted Images:[\s\S]*untagged: dfimage:1/, 'what was deleted');
    const m = /Total reclaimed space: ([\d.]+)([kMG]?B)/.exec(out);
    assert.ok(m, out);
    assert.ok(Number(m[1]) > 0, 'space was reclaimed');
    assert.deepEqual(okOut(await d.docker(['ps', '-a', '--format', '{{.Names}}']), 'ps'), 'dfrun');
    assert.deepEqual(okOut(await d.docker(['volume', 'ls', '-q']), 'volumes'), 'dfvol');
    assert.deepEqual(okOut(await d.docker(['images', '--format', '{{.Repository}}:{{.Tag}}']), 'images'), 'busybox:latest');
    const u = await df();
    assert.equal(u.Containers.length, 1);
    assert.equal(u.Volumes.length, 1);
    okOut(await d.docker(['rm', '-f', 'dfrun']), 'rm');
  });
});
