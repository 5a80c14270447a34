// Content store: digests verified on commit, nothing half-written left behind.
import { after, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { createContentStore, sha256 } from '../../src/content';

const made: string[] = [];
after(() => {
  for (const d of made) fs.rmSync(d, { recursive: true, force: true });
});

function store(): { root: string; cs: ReturnType<typeof createContentStore> } {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-content-'));
  made.push(root);
  return { root, cs: createContentStore(root) };
}

const ingestFiles = (root: string): string[] => fs.readdirSync(path.join(root, 'content', 'ingest'));

test('put, read back, dedupe, delete, list', async () => {
  const { root, cs } = store();
  const data = Buffer.from('hello world');
  const d = await cs.put(data);
  assert.equal(d.digest, sha256(data));
  assert.equal(d.size, 11);
  assert.ok(cs.has(d.digest));
  assert.equal(cs.path(d.digest), path.join(root, 'content', 'blobs', 'sha256', d.digest.slice(7)));
  assert.deepEqual(cs.readBuffer(d.digest), data);
  assert.equal(cs.size(d.digest), 11);
  assert.deepEqual(await cs.put(Readable.from([Buffer.from('hello '), Buffer.from('world')])), d);
  assert.deepEqual(cs.list(), [d.digest]);
  cs.delete(d.digest);
  assert.ok(!cs.has(d.digest));
  assert.throws(() => cs.readBuffer(d.digest), /not found/);
  assert.deepEqual(ingestFiles(root), []);
});

test('expected digest and size are enforced, and failures leave no ingest file', async () => {
  const { root, cs } = store();
  const data = Buffer.alloc(100000, 1);
  await assert.rejects(cs.put(Readable.from([data]), { digest: sha256('other') }), /unexpected content digest/);
  await assert.rejects(cs.put(Readable.from([data]), { size: 5 }), /exceeds/);
  await assert.rejects(cs.put(Readable.from([data]), { size: 200000 }), /unexpected content size/);
  await assert.rejects(cs.put(data, { digest: sha256('other') }), /unexpected content digest/);
  assert.deepEqual(cs.list(), []);
  assert.deepEqual(ingestFiles(root), []);
  const ok = await cs.put(Readable.from([data]), { digest: sha256(data), size: data.length });
  assert.equal(ok.digest, sha256(data));
});

test('a failing source aborts the write', async () => {
  const { root, cs } = store();
  async function* broken(): AsyncGenerator<Buffer> {
    yield Buffer.from('partial');
    throw new Error('connection reset');
  }
  await assert.rejects(cs.put(broken()), /connection reset/);
  assert.deepEqual(ingestFiles(root), []);
});

test('tee passes the bytes through while storing them', async () => {
  const { cs } = store();
  const chunks = Array.from({ length: 50 }, (_, i) => Buffer.alloc(64 * 1024, i));
  const t = await cs.tee(Readable.from(chunks));
  let n = 0;
  for await (const c of t.stream) n += c.length;
  const d = await t.commit();
  assert.equal(n, 50 * 64 * 1024);
  assert.equal(d.digest, sha256(Buffer.concat(chunks)));
  assert.deepEqual(cs.readBuffer(d.digest), Buffer.concat(chunks));
});

test('digest strings are validated before becoming paths; crash leftovers are cleaned', () => {
  const { root, cs } = store();
  for (const bad of ['sha256:../../etc/passwd', 'sha256:ABC', 'md5:00', `sha256:${'a'.repeat(63)}`]) {
    assert.throws(() => cs.path(bad), /invalid digest/);
  }
  fs.writeFileSync(path.join(root, 'content', 'ingest', 'leftover'), 'x');
  cs.cleanupIngest();
  assert.deepEqual(ingestFiles(root), []);
});
