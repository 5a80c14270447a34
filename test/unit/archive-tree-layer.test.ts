// Commit's layer copy (src/snapshots/tree-layer.ts): the layer it lays out is
// what extracting createTar(upper) would give, and a tar of it has the same
// digest (so save and push can remake the tar without a stored blob).
import { after, test } from 'node:test';
import * as assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createTar, extractTar, packTar, type TarInput } from '../../src/common/archive';
import { native, S_IFCHR } from '../../src/common/native';
import { createSnapshotter } from '../../src/snapshots';
import { copyTreeAsLayer, writeEntriesAsLayer } from '../../src/snapshots/tree-layer';

const made: string[] = [];
after(() => {
  for (const d of made) fs.rmSync(d, { recursive: true, force: true });
});

function tmp(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-tree-layer-'));
  made.push(d);
  return d;
}

async function digest(r: NodeJS.ReadableStream): Promise<string> {
  const h = createHash('sha256');
  for await (const c of r) h.update(c as Buffer);
  return `sha256:${h.digest('hex')}`;
}

const isRoot = process.getuid?.() === 0;

/** Every path below dir with what matters of it, sorted. */
function describe(dir: string): string[] {
  const out: string[] = [];
  const visit = (rel: string): void => {
    for (const n of fs.readdirSync(path.join(dir, rel)).sort()) {
      const r = rel ? `${rel}/${n}` : n;
      const st = fs.lstatSync(path.join(dir, r));
      let extra = '';
      if (st.isSymbolicLink()) extra = fs.readlinkSync(path.join(dir, r));
      else if (st.isFile()) extra = fs.readFileSync(path.join(dir, r), 'latin1');
      else if (st.isCharacterDevice()) extra = `dev ${st.rdev}`;
      let opaque = '';
      if (st.isDirectory() && isRoot) opaque = native().lgetxattr(path.join(dir, r), 'trusted.overlay.opaque')?.toString() ?? '';
      out.push(`${r} ${st.mode.toString(8)} ${st.uid}:${st.gid} ${st.isDirectory() || st.isSymbolicLink() ? '' : Math.floor(st.mtimeMs / 1000)} ${st.nlink} ${extra} ${opaque}`);
      if (st.isDirectory()) visit(r);
    }
  };
  visit('');
  return out;
}

test('copyTreeAsLayer: same layout as extracting the tar, same digest from either tree', { skip: !isRoot && 'needs root (whiteouts, owners)' }, async () => {
  const src = tmp();
  fs.mkdirSync(path.join(src, 'etc/deep'), { recursive: true });
  fs.writeFileSync(path.join(src, 'etc/deep/file'), 'hello');
  fs.writeFileSync(path.join(src, 'big'), Buffer.alloc(3 << 20, 7)); // streamed in chunks
  fs.chmodSync(path.join(src, 'big'), 0o4755);
  fs.chownSync(path.join(src, 'big'), 1000, 1000);
  fs.linkSync(path.join(src, 'etc/deep/file'), path.join(src, 'hard'));
  fs.symlinkSync('/etc/shadow', path.join(src, 'link'));
  native().mknod(path.join(src, 'gone'), S_IFCHR, 0, 0); // overlay whiteout
  fs.mkdirSync(path.join(src, 'opq'));
  native().lsetxattr(path.join(src, 'opq'), 'trusted.overlay.opaque', Buffer.from('y'));
  fs.writeFileSync(path.join(src, 'opq/new'), 'n');
  native().mknod(path.join(src, 'fifo'), 0o010644, 0, 0);
  fs.mkdirSync(path.join(src, 'proc'));
  fs.utimesSync(path.join(src, 'etc'), 1000, 1000);
  const filter = (rel: string): boolean => rel !== 'proc';
  const want = await digest(createTar(src, { whiteouts: true, filter }));

  const layer = path.join(tmp(), 'fs');
  fs.mkdirSync(layer);
  const got = await copyTreeAsLayer(src, layer, { whiteouts: true, filter });
  assert.equal(got.diffId, want);
  assert.equal(got.size, 5 + (3 << 20) + 1);
  assert.equal(await digest(createTar(layer, { whiteouts: true })), want, 'a tar of the layer is the same tar');

  const extracted = tmp();
  await extractTar(createTar(src, { whiteouts: true, filter }), extracted, { whiteouts: 'overlay' });
  // whiteout times differ (the extractor leaves them at now); everything else is the same
  const norm = (l: string): string => (l.startsWith('gone ') ? l.replace(/ \d+ 1 dev/, ' T 1 dev') : l);
  assert.deepEqual(describe(layer).map(norm), describe(extracted).map(norm));
  assert.equal(fs.statSync(path.join(layer, 'etc')).mtimeMs, 1000_000);
});

test('importTree commits the filled directory as a layer keyed by its diff ID, held until released', { skip: !isRoot && 'needs root' }, async () => {
  const root = tmp();
  const s = createSnapshotter(root);
  const src = tmp();
  fs.writeFileSync(path.join(src, 'a'), 'a');
  const l = await s.importTree(null, (dir) => copyTreeAsLayer(src, dir, { whiteouts: true }));
  assert.equal(l.chainId, l.diffId);
  assert.ok(s.hasLayer(l.chainId));
  assert.ok(s.layersInUse().has(l.chainId), 'held');
  l.release();
  assert.ok(!s.layersInUse().has(l.chainId));
  assert.equal(fs.readFileSync(path.join(s.layerPath(l.chainId), 'a'), 'utf8'), 'a');
  assert.equal(fs.readdirSync(s.root).filter((n) => n.startsWith('tmp-')).length, 0);
  // a failing fill leaves nothing behind
  await assert.rejects(s.importTree(null, async () => {
    throw new Error('boom');
  }), /boom/);
  assert.equal(fs.readdirSync(s.root).filter((n) => n.startsWith('tmp-')).length, 0);
});

test('writeEntriesAsLayer: the digest of packTar(entries) and the layout of extracting it; names that would leave the layer are refused', { skip: !isRoot && 'needs root (owners)' }, async () => {
  const entries: TarInput[] = [
    { name: 'app/', type: 'dir', mode: 0o755, mtime: 1000 },
    { name: 'app/big.bin', type: 'file', mode: 0o644, uid: 5, gid: 6, mtime: 1000, body: Buffer.alloc(300_000, 7) },
    { name: 'app/streamed', type: 'file', mode: 0o600, mtime: 1000, size: 5, body: (async function* () { yield Buffer.from('he'); yield Buffer.from('llo'); })() },
    { name: 'app/link', type: 'symlink', linkname: '../etc/passwd', mode: 0o777, mtime: 1000 },
    { name: 'app/hard', type: 'link', linkname: 'app/big.bin', mode: 0o644, mtime: 1000 },
    { name: 'deep/er/file', type: 'file', mode: 0o644, mtime: 1000, body: Buffer.from('x') },
  ];
  const clone = (): TarInput[] => entries.map((e) => (e.name === 'app/streamed' ? { ...e, body: (async function* () { yield Buffer.from('hello'); })() } : { ...e }));
  const h = createHash('sha256');
  for await (const c of packTar(clone())) h.update(c as Buffer);
  const viaTar = tmp();
  const tarChunks: Buffer[] = [];
  for await (const c of packTar(clone())) tarChunks.push(c as Buffer);
  await extractTar((async function* () { yield Buffer.concat(tarChunks); })(), viaTar, { whiteouts: 'overlay' });
  const direct = tmp();
  const res = await writeEntriesAsLayer(clone(), direct, { whiteouts: true });
  assert.equal(res.diffId, `sha256:${h.digest('hex')}`);
  assert.deepEqual(describe(direct), describe(viaTar));
  assert.equal(fs.statSync(path.join(direct, 'app/hard')).ino, fs.statSync(path.join(direct, 'app/big.bin')).ino);

  const refused = async (bad: TarInput[], re: RegExp): Promise<void> => {
    const d = tmp();
    const outside = tmp();
    await assert.rejects(writeEntriesAsLayer(bad.map((e) => ({ ...e, name: e.name.replace('OUT', outside) })), d), re);
    assert.deepEqual(fs.readdirSync(outside), [], 'nothing written outside the layer');
  };
  await refused([{ name: '../../x', type: 'file', mode: 0o644, body: Buffer.from('no') }], /invalid layer entry name/);
  await refused([
    { name: 'l', type: 'symlink', linkname: 'OUT', mode: 0o777 },
    { name: 'l/x', type: 'file', mode: 0o644, body: Buffer.from('no') },
  ], /below a non-directory/);
  await refused([{ name: 'h', type: 'link', linkname: '../../../etc/passwd', mode: 0o644 }], /invalid layer entry/);
  await refused([
    { name: 'f', type: 'file', mode: 0o644, body: Buffer.from('a') },
    { name: 'f/x', type: 'file', mode: 0o644, body: Buffer.from('no') },
  ], /below a non-directory/);
});
