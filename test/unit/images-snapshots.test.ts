// Overlay snapshotter (root: mounts overlayfs).
import { after, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { packTar, type TarInput } from '../../src/common/archive';
import { createSnapshotter, chainIdOf, chainIds, type Snapshotter } from '../../src/snapshots';

const made: string[] = [];
after(() => {
  for (const d of made) fs.rmSync(d, { recursive: true, force: true });
});

function tmp(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-snap-'));
  made.push(d);
  return d;
}

async function tarBuf(entries: TarInput[]): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of packTar(entries)) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

const sha = (b: Buffer | string): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const file = (name: string, body: string): TarInput => ({ name, type: 'file', body: Buffer.from(body), mode: 0o644 });
const dir = (name: string): TarInput => ({ name, type: 'dir', mode: 0o755 });

async function withMount<T>(s: Snapshotter, key: string, fn: (m: string) => T): Promise<T> {
  const m = tmp();
  s.mount(key, m);
  try {
    return fn(m);
  } finally {
    s.unmount(m);
  }
}

test('chain IDs follow the OCI definition', () => {
  const a = sha('a');
  const b = sha('b');
  assert.equal(chainIdOf(null, a), a);
  assert.equal(chainIdOf(a, b), sha(`${a} ${b}`));
  assert.deepEqual(chainIds([a, b]), [a, sha(`${a} ${b}`)]);
});

test('layers stack with whiteouts and opaque dirs; a container sees the merged view', async () => {
  const s = createSnapshotter(tmp());
  const l0 = await tarBuf([dir('etc'), file('etc/passwd', 'root'), file('etc/group', 'g'), dir('opt'), file('opt/old', 'o'), dir('bin'), file('bin/sh', 'sh')]);
  const l1 = await tarBuf([dir('etc'), file('etc/.wh.passwd', ''), dir('opt'), file('opt/.wh..wh..opq', ''), file('opt/new', 'n')]);
  const l2 = await tarBuf([file('etc/passwd', 'again')]);
  const i0 = await s.importLayer(null, Readable.from([l0]));
  assert.equal(i0.diffId, sha(l0));
  assert.equal(i0.chainId, i0.diffId);
  const c1 = chainIdOf(i0.chainId, sha(l1));
  await s.applyLayer(c1, i0.chainId, Readable.from([l1]));
  assert.ok(s.hasLayer(c1));
  assert.deepEqual(s.layerChain(c1), [i0.chainId, c1]);
  await s.prepare('c1', c1);
  await withMount(s, 'c1', (m) => {
    assert.ok(!fs.existsSync(path.join(m, 'etc', 'passwd')));
    assert.equal(fs.readFileSync(path.join(m, 'etc', 'group'), 'utf8'), 'g');
    assert.deepEqual(fs.readdirSync(path.join(m, 'opt')), ['new']);
    fs.writeFileSync(path.join(m, 'bin', 'added'), 'by container');
    fs.rmSync(path.join(m, 'bin', 'sh'));
  });
  assert.equal(fs.readFileSync(path.join(s.upperDir('c1'), 'bin', 'added'), 'utf8'), 'by container');
  assert.ok(fs.statSync(path.join(s.upperDir('c1'), 'bin', 'sh')).isCharacterDevice());
  const i2 = await s.importLayer(c1, Readable.from([l2]));
  await s.prepare('c2', i2.chainId);
  await withMount(s, 'c2', (m) => assert.equal(fs.readFileSync(path.join(m, 'etc', 'passwd'), 'utf8'), 'again'));
  assert.deepEqual(s.listActive().sort(), ['c1', 'c2']);
  assert.ok(s.layersInUse().has(i0.chainId));
  assert.throws(() => s.removeLayer(i0.chainId), /in use/);
  await s.remove('c1');
  await s.remove('c2');
  await s.remove('never-existed');
  assert.deepEqual(s.listActive(), []);
});

test('applyLayer verifies the content against the chain ID', async () => {
  const root = tmp();
  const s = createSnapshotter(root);
  const l0 = await tarBuf([file('a', 'a')]);
  const wrong = sha('not this');
  await assert.rejects(s.applyLayer(wrong, null, Readable.from([l0])), /does not match/);
  assert.ok(!s.hasLayer(wrong));
  assert.deepEqual(fs.readdirSync(path.join(root, 'snapshots')).filter((n) => n.startsWith('tmp-')), []);
  await assert.rejects(s.applyLayer(sha(l0), sha('missing parent'), Readable.from([l0])), /does not exist/);
  await s.applyLayer(sha(l0), null, Readable.from([l0]));
  await s.applyLayer(sha(l0), null, Readable.from([Buffer.alloc(0)])); // exists: no-op
  assert.equal(s.layerInfo(sha(l0)).size, 1);
  assert.throws(() => s.layerInfo(sha('x')), /does not exist/);
  assert.throws(() => s.hasLayer('../../etc'), /invalid layer chain ID/);
  await assert.rejects(s.prepare('../x', null), /invalid snapshot key/);
});

test('a snapshot without parent mounts over an empty lower; concurrent imports of one layer agree', async () => {
  const s = createSnapshotter(tmp());
  await s.prepare('scratch', null);
  await withMount(s, 'scratch', (m) => {
    assert.deepEqual(fs.readdirSync(m), []);
    fs.writeFileSync(path.join(m, 'f'), 'x');
  });
  const l = await tarBuf([file('same', 'same')]);
  const [a, b] = await Promise.all([s.importLayer(null, Readable.from([l])), s.importLayer(null, Readable.from([l]))]);
  assert.equal(a.chainId, b.chainId);
  assert.deepEqual(s.listLayers(), [a.chainId]);
  s.unmount(tmp()); // not mounted: fine
});

test('many layers still fit one mount (short links)', async () => {
  const s = createSnapshotter(tmp());
  let parent: string | null = null;
  for (let i = 0; i < 90; i++) parent = (await s.importLayer(parent, Readable.from([await tarBuf([file(`f${i}`, String(i))])]))).chainId;
  await s.prepare('deep', parent);
  await withMount(s, 'deep', (m) => {
    assert.equal(fs.readdirSync(m).length, 90);
    assert.equal(fs.readFileSync(path.join(m, 'f0'), 'utf8'), '0');
    assert.equal(fs.readFileSync(path.join(m, 'f89'), 'utf8'), '89');
  });
});

test('cleanup removes crash leftovers and, when asked, unreferenced layers', async () => {
  const root = tmp();
  const s = createSnapshotter(root);
  const a = await s.importLayer(null, Readable.from([await tarBuf([file('a', 'a')])]));
  const b = await s.importLayer(null, Readable.from([await tarBuf([file('b', 'b')])]));
  const c = await s.importLayer(null, Readable.from([await tarBuf([file('c', 'c')])]));
  await s.prepare('uses-b', b.chainId);
  const release = s.hold(c.chainId);
  const snaps = path.join(root, 'snapshots');
  fs.mkdirSync(path.join(snaps, 'tmp-crashed', 'fs'), { recursive: true });
  fs.mkdirSync(path.join(snaps, 'rw', '.tmp-crashed', 'upper'), { recursive: true });
  fs.mkdirSync(path.join(snaps, 'f'.repeat(64), 'fs'), { recursive: true }); // no layer.json: incomplete
  await s.cleanup(new Set([a.chainId]));
  await new Promise((r) => setTimeout(r, 100)); // background deletes
  assert.deepEqual(s.listLayers().sort(), [a.chainId, b.chainId, c.chainId].sort());
  assert.ok(!fs.existsSync(path.join(snaps, 'tmp-crashed')));
  assert.ok(!fs.existsSync(path.join(snaps, 'rw', '.tmp-crashed')));
  release();
  await s.cleanup(new Set([a.chainId]));
  assert.deepEqual(s.listLayers().sort(), [a.chainId, b.chainId].sort());
  // state survives a restart
  const s2 = createSnapshotter(root);
  assert.deepEqual(s2.listActive(), ['uses-b']);
  assert.equal(s2.parentOf('uses-b'), b.chainId);
});

test('layers are flushed in the background; after a reboot an unflushed layer is dropped, after a mere restart it is kept', async () => {
  const root = tmp();
  const boot = fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  const markers = (): string[] => fs.readdirSync(path.join(root, 'snapshots', 'unsynced')).sort();
  const s1 = createSnapshotter(root);
  const t1 = await tarBuf([file('a', 'one')]);
  const t2 = await tarBuf([file('b', 'two')]);
  const l1 = await s1.importLayer(null, Readable.from([t1]));
  const l2 = await s1.importLayer(l1.chainId, Readable.from([t2]));
  // Committed and usable at once; the markers say they are not on disk yet.
  assert.deepEqual(markers(), [`${l1.chainId.slice(7)}.${boot}`, `${l2.chainId.slice(7)}.${boot}`].sort());
  await s1.flush();
  assert.deepEqual(markers(), []);
  // The background flush comes by itself, too.
  const l3 = await s1.importLayer(l2.chainId, Readable.from([await tarBuf([file('c', 'three')])]));
  assert.equal(markers().length, 1);
  for (let i = 0; i < 100 && markers().length; i++) await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(markers(), []);

  // berthd killed before the flush, same boot: the page cache still has the data; the layer stays and is flushed.
  const l4 = await s1.importLayer(l3.chainId, Readable.from([await tarBuf([file('d', 'four')])]));
  const s2 = createSnapshotter(root);
  assert.ok(s2.hasLayer(l4.chainId));
  await s2.flush();
  assert.deepEqual(markers(), []);

  // Power lost before the flush (another boot id on the marker): the layer may be torn and is dropped; its parents stay.
  const l5 = await s2.importLayer(l4.chainId, Readable.from([await tarBuf([file('e', 'five')])]));
  const hex5 = l5.chainId.slice(7);
  fs.renameSync(path.join(root, 'snapshots', 'unsynced', `${hex5}.${boot}`), path.join(root, 'snapshots', 'unsynced', `${hex5}.00000000-0000-0000-0000-000000000000`));
  const s3 = createSnapshotter(root);
  assert.equal(s3.hasLayer(l5.chainId), false);
  assert.ok(s3.hasLayer(l4.chainId));
  assert.deepEqual(markers(), []);
  await s3.cleanup();
  assert.deepEqual(fs.readdirSync(path.join(root, 'snapshots')).filter((n) => n.startsWith('tmp-')), []);
  // Made again, it commits as new.
  const again = await s3.importLayer(l4.chainId, Readable.from([await tarBuf([file('e', 'five')])]));
  assert.equal(again.chainId, l5.chainId);
  assert.ok(s3.hasLayer(l5.chainId));
  s3.removeLayer(l5.chainId);
  assert.deepEqual(markers(), []);
  await s3.flush();
});
