// Faulty networks between berthd and the registry: a proxy that flips one byte
// of a layer makes the pull fail with Docker's digest error and leaves nothing
// of it behind; a connection cut halfway through a layer is resumed (Range)
// and the pull completes; berthd SIGKILLed in the middle of a pull leaves no
// orphan blobs or layers after a restart, and the pull then succeeds.
import * as assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { expectMatch, okOut, skipUnlessRoot, sleep, useDaemon, waitFor, type Daemon } from '../harness';
import {
  haveRegistry, haveSkopeo, makeLayerTar, randomData, skopeoCopy, startProxy, startRegistry, writeOciImage, writeOciLayout, type BuiltImage, type RegistryPeer,
} from './registry-peer';

const skip = skipUnlessRoot() || (haveRegistry() ? false : 'docker-registry is not installed (apt-get install docker-registry)') || (haveSkopeo() ? false : 'skopeo is not installed');

/** What the daemon keeps on disk: blobs, committed layers, leftovers of interrupted work. */
function onDisk(d: Daemon): { blobs: string[]; layers: string[]; ingest: string[]; tmp: string[] } {
  const ls = (p: string): string[] => {
    try {
      return fs.readdirSync(p);
    } catch {
      return [];
    }
  };
  const snap = path.join(d.dataRoot, 'snapshots');
  return {
    blobs: ls(path.join(d.dataRoot, 'content', 'blobs', 'sha256')).map((h) => `sha256:${h}`),
    layers: ls(snap).filter((n) => /^[0-9a-f]{64}$/.test(n)).map((h) => `sha256:${h}`),
    ingest: ls(path.join(d.dataRoot, 'content', 'ingest')),
    tmp: ls(snap).filter((n) => n.startsWith('tmp-')),
  };
}

/** Blobs and layers the image records reference (the image store's own metadata). */
function referenced(d: Daemon): { blobs: Set<string>; layers: Set<string> } {
  const dir = path.join(d.dataRoot, 'images', 'meta');
  const blobs = new Set<string>();
  const layers = new Set<string>();
  for (const n of fs.readdirSync(dir)) {
    if (!n.endsWith('.json')) continue;
    const m = JSON.parse(fs.readFileSync(path.join(dir, n), 'utf8')) as { id: string; layers: Array<{ chainId: string; blob?: { digest: string } }> };
    blobs.add(m.id);
    for (const l of m.layers) {
      layers.add(l.chainId);
      if (l.blob) blobs.add(l.blob.digest);
    }
  }
  return { blobs, layers };
}

function chainIds(diffIds: string[]): string[] {
  const out: string[] = [];
  let parent: string | null = null;
  for (const d of diffIds) {
    parent = parent === null ? d : `sha256:${createHash('sha256').update(`${parent} ${d}`).digest('hex')}`;
    out.push(parent);
  }
  return out;
}

async function assertNoOrphans(d: Daemon, what: string): Promise<void> {
  // Removed layers are renamed to tmp-* at once and deleted in the background.
  await waitFor(`${what}: snapshot temp dirs to go`, () => onDisk(d).tmp.length === 0, { timeoutMs: 15_000 }).catch(() => undefined);
  const disk = onDisk(d);
  const ref = referenced(d);
  assert.deepEqual(disk.blobs.filter((b) => !ref.blobs.has(b)), [], `${what}: orphan blobs`);
  assert.deepEqual(disk.layers.filter((l) => !ref.layers.has(l)), [], `${what}: orphan layers`);
  assert.deepEqual(disk.ingest, [], `${what}: ingest leftovers`);
  assert.deepEqual(disk.tmp, [], `${what}: snapshot temp dirs`);
}

describe('registry faults: corruption, cut connections, daemon crash', { skip }, () => {
  const d = useDaemon();
  let reg: RegistryPeer;
  let img: BuiltImage;
  let big: BuiltImage;

  before(async () => {
    reg = await startRegistry(d);
    const layout = path.join(d.dir, 'oci-faults');
    img = writeOciImage(layout, 'amd64', [makeLayerTar({ 'l1.bin': randomData(3 << 20) }), makeLayerTar({ 'l2.bin': randomData(5 << 20) })]);
    writeOciLayout(layout, 'v1', [{ img, arch: 'amd64' }]);
    skopeoCopy(d, `oci:${layout}:v1`, `docker://${reg.host}/faults/app:1`);
    const layout2 = path.join(d.dir, 'oci-big');
    big = writeOciImage(layout2, 'amd64', [1, 2, 3].map((i) => makeLayerTar({ [`big${i}.bin`]: randomData(6 << 20) })));
    writeOciLayout(layout2, 'v1', [{ img: big, arch: 'amd64' }]);
    skopeoCopy(d, `oci:${layout2}:v1`, `docker://${reg.host}/faults/big:1`);
  });
  after(async () => {
    await reg?.stop();
  });

  it('a flipped byte fails the pull with a digest error and stores nothing of it', async () => {
    const before = onDisk(d);
    const target = img.layers[1]!.digest;
    const proxy = await startProxy(d, reg, 'flip', target);
    try {
      const r = await d.docker(['pull', `${proxy.host}/faults/app:1`], { timeoutMs: 120_000 });
      assert.equal(r.code, 1, r.stdout);
      expectMatch(r.stderr, new RegExp(`filesystem layer verification failed for digest ${target}`), 'corrupted pull');
    } finally {
      await proxy.stop();
    }
    const after = onDisk(d);
    assert.ok(!after.blobs.includes(target), 'the corrupted blob is not stored');
    assert.ok(!after.blobs.includes(img.layers[0]!.digest), 'nor the other layer of the failed pull');
    const chains = chainIds(img.layers.map((l) => l.diffId));
    for (const c of chains) assert.ok(!after.layers.includes(c), `no layer snapshot ${c}`);
    assert.deepEqual(after.blobs.sort(), before.blobs.sort(), 'the blob store is as before');
    await assertNoOrphans(d, 'after the corrupted pull');
    const df = await d.api<{ LayersSize: number }>('GET', '/system/df');
    assert.equal(df.status, 200);
    assert.equal((await d.docker(['image', 'inspect', `${reg.host}/faults/app:1`])).code, 1, 'no image');
  });

  it('a schema1 manifest is refused with Docker 28\'s error, storing nothing', async () => {
    const before = onDisk(d);
    const proxy = await startProxy(d, reg, 'schema1');
    try {
      const r = await d.docker(['pull', `${proxy.host}/faults/app:1`], { timeoutMs: 60_000 });
      assert.equal(r.code, 1, r.stdout);
      expectMatch(r.stderr, new RegExp(`Docker Image Format v1 and Docker Image manifest version 2, schema 1 support has been removed\\. Suggest the author of ${proxy.host.replace(/\./g, '\\.')}/faults/app:1 to upgrade the image to the OCI Format or Docker Image manifest v2, schema 2\\. More information at https://docs\\.docker\\.com/go/deprecated-image-specs/`), 'schema1 pull');
      assert.ok(!proxy.requests().some((l) => l.includes('/blobs/')), 'no blob was fetched');
    } finally {
      await proxy.stop();
    }
    assert.deepEqual(onDisk(d).blobs.sort(), before.blobs.sort(), 'nothing stored');
  });

  it('a connection cut halfway through a layer is resumed with Range and completes', async () => {
    const target = img.layers[1]!.digest;
    const proxy = await startProxy(d, reg, 'cut', target);
    try {
      const out = okOut(await d.docker(['pull', `${proxy.host}/faults/app:1`], { timeoutMs: 120_000 }), 'pull through a cutting proxy');
      expectMatch(out, /Status: Downloaded newer image/, 'pull');
      const blobReqs = proxy.requests().filter((l) => l.includes(`/blobs/${target}`));
      assert.ok(blobReqs.length >= 2, `the blob was requested again: ${blobReqs.join('\n')}`);
      assert.ok(blobReqs.some((l) => /bytes=\d+-/.test(l)), `a Range request resumed it: ${blobReqs.join('\n')}`);
    } finally {
      await proxy.stop();
    }
    assert.equal(okOut(await d.docker(['image', 'inspect', '-f', '{{.Id}}', `${proxy.host}/faults/app:1`]), 'inspect'), img.configDigest);
    const layers = okOut(await d.docker(['image', 'inspect', '-f', '{{json .RootFS.Layers}}', `${proxy.host}/faults/app:1`]), 'inspect');
    assert.deepEqual(JSON.parse(layers), img.layers.map((l) => l.diffId));
    okOut(await d.docker(['rmi', `${proxy.host}/faults/app:1`]), 'rmi');
    await assertNoOrphans(d, 'after rmi');
  });

  it('SIGKILL of berthd during a pull: no orphans after the restart; the pull then succeeds', { timeout: 240_000 }, async () => {
    const proxy = await startProxy(d, reg, 'slow', '*', 4 << 20); // 4 MB/s: a ~18 MB pull takes seconds
    try {
      const pulling = d.api('POST', `/images/create?fromImage=${encodeURIComponent(`${proxy.host}/faults/big`)}&tag=1`, undefined, {
        headers: { 'X-Registry-Auth': 'e30=' }, timeoutMs: 120_000,
      }).catch((e: unknown) => e);
      // Wait until the pull is writing: blobs in the ingest dir or layers being extracted.
      await waitFor('the pull to be under way', () => {
        const disk = onDisk(d);
        return disk.ingest.length > 0 && disk.tmp.length > 0;
      }, { timeoutMs: 30_000, intervalMs: 20 });
      await sleep(300);
      const mid = onDisk(d);
      assert.ok(mid.ingest.length > 0, 'killed in the middle of downloads');
      await d.kill('SIGKILL');
      await pulling;
      await d.start();
      await assertNoOrphans(d, 'after the restart');
      okOut(await d.docker(['image', 'prune', '-f']), 'image prune');
      await assertNoOrphans(d, 'after prune');
      const out = okOut(await d.docker(['pull', `${proxy.host}/faults/big:1`], { timeoutMs: 120_000 }), 'pull after the crash');
      expectMatch(out, /Status: Downloaded newer image/, 'pull');
      assert.equal(okOut(await d.docker(['image', 'inspect', '-f', '{{.Id}}', `${proxy.host}/faults/big:1`]), 'inspect'), big.configDigest);
      await assertNoOrphans(d, 'after the second pull');
    } finally {
      await proxy.stop();
    }
  });
});
