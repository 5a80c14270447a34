// common/gunzip.ts: the native (ISA-L) decoder against node's zlib on the same
// inputs — chunkings down to one byte, several members, trailing bytes,
// truncation and corruption.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { gunzipSync, gzipSync } from 'node:zlib';
import { gunzip, nativeGunzipAvailable } from '../../src/common/gunzip';

async function run(data: Buffer, chunk: number): Promise<Buffer> {
  async function* src(): AsyncGenerator<Buffer> {
    for (let i = 0; i < data.length; i += chunk) yield data.subarray(i, i + chunk);
  }
  const out: Buffer[] = [];
  for await (const c of gunzip(src())) out.push(Buffer.from(c));
  return Buffer.concat(out);
}

function texty(n: number): Buffer {
  const words = ['layer', 'image', 'berth', 'container', 'overlay', 'digest', '\n'];
  const parts: string[] = [];
  let len = 0;
  while (len < n) {
    const w = words[Math.floor(Math.random() * words.length)]!;
    parts.push(w, ' ');
    len += w.length + 1;
  }
  return Buffer.from(parts.join('')).subarray(0, n);
}

const haveIsal = fs.existsSync('/usr/include/isa-l/igzip_lib.h');

test('gunzip: the native decoder is built when libisal-dev is installed (scripts/setup.sh installs it)', { skip: !haveIsal && 'libisal-dev is not installed: node zlib decodes' }, () => {
  assert.ok(nativeGunzipAvailable(), 'the addon lacks gunzip*: is libisal-dev installed (scripts/setup.sh)?');
});

test('gunzip: output equals the input over many chunkings', async () => {
  const plain = Buffer.concat([texty(3 << 20), randomBytes(1 << 20), Buffer.alloc(2 << 20)]);
  const gz = gzipSync(plain);
  for (const chunk of [1 << 24, 65536, 4097, 333]) assert.ok((await run(gz, chunk)).equals(plain), `chunk ${chunk}`);
  const small = gzipSync(texty(5000));
  assert.equal((await run(small, 1)).toString(), gunzipSync(small).toString());
});

test('gunzip: several members, split anywhere; trailing non-gzip bytes ignored', async () => {
  const a = texty(100_000);
  const b = texty(70_000);
  const mm = Buffer.concat([gzipSync(a), gzipSync(b), gzipSync(Buffer.alloc(0))]);
  for (const chunk of [mm.length, 1000, 7, 1]) assert.ok((await run(mm, chunk)).equals(Buffer.concat([a, b])), `chunk ${chunk}`);
  const trailing = Buffer.concat([gzipSync(a), Buffer.alloc(1024)]);
  assert.ok((await run(trailing, 500)).equals(a));
});

test('gunzip: truncated and corrupted input fail; every input byte is still read', async () => {
  const gz = gzipSync(texty(200_000));
  await assert.rejects(run(gz.subarray(0, gz.length - 5), 4096), /unexpected end of file/);
  await assert.rejects(run(gz.subarray(0, 100), 4096), /unexpected end of file/);
  await assert.rejects(run(Buffer.alloc(0), 4096), /unexpected end of file/);
  const bad = Buffer.from(gz);
  bad[gz.length - 6] = bad[gz.length - 6]! ^ 0xff; // the CRC
  await assert.rejects(run(bad, 4096), (e: Error & { code?: string }) => e.code === 'Z_DATA_ERROR');
  const notgz = Buffer.from('this is not gzip at all, not even close');
  await assert.rejects(run(notgz, 4096));
});
