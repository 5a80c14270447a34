// Directory → tar: Docker-like entry names and order, whiteout conversion for layer diffs.
import { after, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { createTar, readTar, type TarHeader } from '../../src/common/archive';
import { native } from '../../src/common/native';

const made: string[] = [];
after(() => {
  for (const d of made) fs.rmSync(d, { recursive: true, force: true });
});

function tmp(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-archive-'));
  made.push(d);
  return d;
}

async function headers(r: AsyncIterable<Buffer> | NodeJS.ReadableStream): Promise<TarHeader[]> {
  const out: TarHeader[] = [];
  for await (const e of readTar(r)) out.push(e.header);
  return out;
}

test('names are relative, directories end in /, lexical order, no root entry', async () => {
  const d = tmp();
  fs.mkdirSync(path.join(d, 'b'));
  fs.writeFileSync(path.join(d, 'b', 'z'), '');
  fs.writeFileSync(path.join(d, 'a'), 'a');
  fs.mkdirSync(path.join(d, 'c'));
  const hs = await headers(createTar(d));
  assert.deepEqual(hs.map((h) => h.name), ['a', 'b/', 'b/z', 'c/']);
  const withRoot = await headers(createTar(d, { includeRoot: true }));
  assert.equal(withRoot[0]?.name, './');
  const filtered = await headers(createTar(d, { filter: (rel) => rel !== 'b' }));
  assert.deepEqual(filtered.map((h) => h.name), ['a', 'c/']);
  const prefixed = await headers(createTar(path.join(d, 'b'), { prefix: 'x' }));
  assert.deepEqual(prefixed.map((h) => h.name), ['x/', 'x/z']);
  const single = await headers(createTar(path.join(d, 'a')));
  assert.deepEqual(single.map((h) => h.name), ['a']);
});

test('the system tar reads what we write', () => {
  const d = tmp();
  fs.mkdirSync(path.join(d, 'x'.repeat(150)));
  fs.writeFileSync(path.join(d, 'x'.repeat(150), 'y'.repeat(120)), 'data');
  fs.symlinkSync('x'.repeat(150), path.join(d, 'lnk'));
  const out = path.join(tmp(), 'out');
  fs.mkdirSync(out);
  return new Promise<void>((resolve, reject) => {
    const chunks: Buffer[] = [];
    createTar(d).on('data', (c: Buffer) => chunks.push(c)).on('end', () => {
      try {
        execFileSync('tar', ['-xf', '-', '-C', out], { input: Buffer.concat(chunks) });
        assert.equal(fs.readFileSync(path.join(out, 'x'.repeat(150), 'y'.repeat(120)), 'utf8'), 'data');
        assert.equal(fs.readlinkSync(path.join(out, 'lnk')), 'x'.repeat(150));
        resolve();
      } catch (e) {
        reject(e);
      }
    }).on('error', reject);
  });
});

test('overlay whiteouts and opaque dirs become OCI entries when asked', async () => {
  const d = tmp();
  fs.mkdirSync(path.join(d, 'etc'));
  native().mknod(path.join(d, 'etc', 'passwd'), 0o020000, 0, 0);
  fs.mkdirSync(path.join(d, 'opt'));
  native().lsetxattr(path.join(d, 'opt'), 'trusted.overlay.opaque', Buffer.from('y'));
  fs.writeFileSync(path.join(d, 'opt', 'f'), '');
  native().mknod(path.join(d, 'null'), 0o020666, 1, 3);
  const conv = await headers(createTar(d, { whiteouts: true }));
  assert.deepEqual(conv.map((h) => `${h.type}:${h.name}`), ['dir:etc/', 'file:etc/.wh.passwd', 'char:null', 'dir:opt/', 'file:opt/.wh..wh..opq', 'file:opt/f']);
  assert.ok(!conv.some((h) => h.xattrs.has('trusted.overlay.opaque')));
  const raw = await headers(createTar(d));
  assert.deepEqual(raw.map((h) => `${h.type}:${h.name}`), ['dir:etc/', 'char:etc/passwd', 'char:null', 'dir:opt/', 'file:opt/f']);
});

test('hard links are stored once; security.capability travels', async () => {
  const d = tmp();
  fs.writeFileSync(path.join(d, 'a'), 'same');
  fs.linkSync(path.join(d, 'a'), path.join(d, 'b'));
  const cap = Buffer.alloc(20);
  cap.writeUInt32LE(0x02000001, 0);
  cap.writeUInt32LE(1 << 13, 4);
  native().lsetxattr(path.join(d, 'a'), 'security.capability', cap);
  const hs = await headers(createTar(d));
  assert.equal(hs[0]?.type, 'file');
  assert.equal(hs[0]?.size, 4);
  assert.deepEqual(hs[0]?.xattrs.get('security.capability'), cap);
  assert.equal(hs[1]?.type, 'link');
  assert.equal(hs[1]?.linkname, 'a');
});

test('an empty directory gives the well-known empty layer digest', async () => {
  const { createHash } = await import('node:crypto');
  const h = createHash('sha256');
  for await (const c of createTar(tmp())) h.update(c as Buffer);
  assert.equal(h.digest('hex'), '5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef');
});
