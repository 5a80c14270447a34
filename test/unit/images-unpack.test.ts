// Layer unpack jobs (src/snapshots/unpack.ts), in-process and in the worker
// bundle (dist/unpack-worker.js, from `make build`): digests, hostile input,
// corruption, oversize blobs, aborts, and the snapshotter/content-store commit.
import { after, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { packTar, type TarInput } from '../../src/common/archive';
import { createContentStore } from '../../src/content';
import { createSnapshotter } from '../../src/snapshots';
import { BlobTooLongError, startUnpack, UnpackError, useUnpackWorker, type UnpackJob, type UnpackResult } from '../../src/snapshots/unpack';

const made: string[] = [];
after(() => {
  for (const d of made) fs.rmSync(d, { recursive: true, force: true });
});
function tmp(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-unpack-'));
  made.push(d);
  return d;
}
async function tarBuf(entries: TarInput[]): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of packTar(entries)) parts.push(c as Buffer);
  return Buffer.concat(parts);
}
const sha = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const file = (name: string, body: string | Buffer): TarInput => ({ name, type: 'file', body: Buffer.isBuffer(body) ? body : Buffer.from(body), mode: 0o644 });

const WORKER = path.join(process.env['BERTH_ROOT'] ?? process.cwd(), 'dist', 'unpack-worker.js');
const modes: Array<[string, string | null]> = [['in-process', null]];
if (fs.existsSync(WORKER)) modes.push(['worker', WORKER]);

function job(root: string, over: Partial<UnpackJob> = {}): UnpackJob {
  const t = path.join(root, 'tmp-x');
  fs.mkdirSync(path.join(t, 'fs'), { recursive: true });
  return { ingest: path.join(root, 'ingest'), expectedSize: 1 << 30, tmp: t, parent: null, ...over };
}

/** Feeds data in small chunks (so a job sees many messages). */
async function feed(j: UnpackJob, data: Buffer, chunk = 4096): Promise<UnpackResult> {
  const h = startUnpack(j);
  try {
    for (let off = 0; off < data.length; off += chunk) await h.write(Buffer.from(data.subarray(off, off + chunk)));
  } catch (e) {
    await h.abort();
    throw e;
  }
  return h.end();
}

for (const [mode, worker] of modes) {
  test(`${mode}: a gzip layer is hashed, stored, extracted and described`, async () => {
    useUnpackWorker(worker);
    const tar = await tarBuf([{ name: 'etc', type: 'dir', mode: 0o755 }, file('etc/hosts', 'x'.repeat(100_000)), file('etc/.wh.gone', '')]);
    const gz = gzipSync(tar);
    const root = tmp();
    const j = job(root, { parent: 'sha256:' + 'a'.repeat(64) });
    const r = await feed(j, gz);
    assert.deepEqual(r, { digest: sha(gz), compressedSize: gz.length, diffId: sha(tar), tarSize: tar.length, size: 100_000 });
    assert.deepEqual(fs.readFileSync(j.ingest!), gz);
    assert.equal(fs.readFileSync(path.join(j.tmp, 'fs/etc/hosts'), 'utf8'), 'x'.repeat(100_000));
    assert.ok(fs.lstatSync(path.join(j.tmp, 'fs/etc/gone')).isCharacterDevice(), 'overlay whiteout');
    assert.deepEqual(JSON.parse(fs.readFileSync(path.join(j.tmp, 'layer.json'), 'utf8')), { parent: j.parent, diffId: sha(tar), size: 100_000 });
  });

  test(`${mode}: an uncompressed layer (by magic, whatever the media type) and no ingest file for a stored blob`, async () => {
    useUnpackWorker(worker);
    const tar = await tarBuf([file('a', 'hello')]);
    const root = tmp();
    const j = job(root, { ingest: null });
    const r = await feed(j, tar, 1000);
    assert.equal(r.digest, sha(tar));
    assert.equal(r.diffId, sha(tar));
    assert.equal(fs.existsSync(path.join(root, 'ingest')), false);
    assert.equal(fs.readFileSync(path.join(j.tmp, 'fs/a'), 'utf8'), 'hello');
  });

  test(`${mode}: a corrupted blob reports the digest of what arrived (the caller refuses it)`, async () => {
    useUnpackWorker(worker);
    const tar = await tarBuf([file('big', Buffer.alloc(300_000, 7)), file('b', 'b')]);
    const gz = gzipSync(tar);
    const bad = Buffer.from(gz);
    bad[Math.floor(bad.length / 2)]! ^= 0xff;
    const root = tmp();
    let digest: string | undefined;
    try {
      digest = (await feed(job(root), bad)).digest;
    } catch (e) {
      assert.ok(e instanceof UnpackError, `UnpackError, got ${String(e)}`);
      assert.equal(e.compressedSize, bad.length, 'the whole blob was hashed after the decoder failed');
      digest = e.digest;
    }
    assert.equal(digest, sha(bad));
    assert.notEqual(digest, sha(gz));
  });

  test(`${mode}: more bytes than the descriptor's size stop the job`, async () => {
    useUnpackWorker(worker);
    const gz = gzipSync(await tarBuf([file('a', Buffer.alloc(50_000, 1))]));
    await assert.rejects(feed(job(tmp(), { expectedSize: gz.length - 1 }), gz), (e: unknown) => e instanceof BlobTooLongError);
  });

  test(`${mode}: hostile entries stay confined and fail the job`, async () => {
    useUnpackWorker(worker);
    const root = tmp();
    const tar = await tarBuf([{ name: 'ln', type: 'symlink', linkname: '/' }, file('ln/../../escape', 'x')]);
    await assert.rejects(feed(job(root), gzipSync(tar)));
    assert.equal(fs.existsSync(path.join(root, 'escape')), false);
    assert.equal(fs.existsSync(path.join(path.dirname(root), 'escape')), false);
  });

  test(`${mode}: an aborted job stops and the next job runs`, async () => {
    useUnpackWorker(worker);
    const gz = gzipSync(await tarBuf([file('big', Buffer.alloc(2 << 20, 3))]));
    const h = startUnpack(job(tmp()));
    await h.write(Buffer.from(gz.subarray(0, 1000)));
    await h.abort();
    const tar = await tarBuf([file('ok', 'fine')]);
    const root = tmp();
    const r = await feed(job(root), gzipSync(tar));
    assert.equal(r.diffId, sha(tar));
  });
}

test('worker: more jobs than cores queue, buffer their input, and all finish; a queued job aborts cleanly', { skip: fs.existsSync(WORKER) ? false : 'no worker bundle (make build)' }, async () => {
  useUnpackWorker(WORKER);
  const n = Math.max(2, os.availableParallelism()) + 3;
  const tars = await Promise.all(Array.from({ length: n }, (_, i) => tarBuf([file(`f${i}`, Buffer.alloc(200_000 + i, i))])));
  // Start every job before feeding any, so that some wait for a turn.
  const roots = tars.map(() => tmp());
  const handles = tars.map((_, i) => startUnpack(job(roots[i]!)));
  const aborted = startUnpack(job(tmp()));
  await aborted.write(Buffer.from(gzipSync(tars[0]!)));
  await aborted.abort();
  const results = await Promise.all(handles.map(async (h, i) => {
    await h.write(Buffer.from(gzipSync(tars[i]!)));
    return h.end();
  }));
  results.forEach((r, i) => {
    assert.equal(r.diffId, sha(tars[i]!));
    assert.equal(fs.statSync(path.join(roots[i]!, 'tmp-x', 'fs', `f${i}`)).size, 200_000 + i);
  });
});

test('a finished job commits through the content store and the snapshotter', async () => {
  useUnpackWorker(null);
  const root = tmp();
  const content = createContentStore(root);
  const snaps = createSnapshotter(root);
  const tar = await tarBuf([file('x', 'y')]);
  const gz = gzipSync(tar);
  const ingest = content.ingestPath();
  const t = snaps.createTemp();
  const r = await feed({ ingest, expectedSize: gz.length, tmp: t, parent: null }, gz);
  content.adopt(ingest, r.digest);
  assert.equal(content.has(sha(gz)), true);
  await snaps.commitTemp(t, { chainId: r.diffId, parent: null, diffId: r.diffId, size: r.size });
  assert.equal(snaps.hasLayer(sha(tar)), true);
  assert.equal(fs.readFileSync(path.join(snaps.layerPath(sha(tar)), 'x'), 'utf8'), 'y');
  // A diff ID that does not match the chain ID commits nothing and removes the temp dir.
  const t2 = snaps.createTemp();
  await assert.rejects(snaps.commitTemp(t2, { chainId: 'sha256:' + 'b'.repeat(64), parent: null, diffId: r.diffId, size: 1 }), /does not match chain ID/);
  assert.equal(fs.existsSync(t2), false);
  assert.throws(() => content.adopt('/etc/passwd', r.digest), /not an ingest file/);
  await assert.rejects(snaps.discardTemp('/tmp'), /not a temp layer dir/);
});
