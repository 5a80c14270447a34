// pumpTar (docker cp out, export): the same bytes as packTar of the same walk,
// through reused buffers, with a slow reader, and no descriptor left open when
// the reader goes away.
import { after, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Writable } from 'node:stream';
import { packTar } from '../../src/common/archive';
import { ScopedFs, walkEntries } from '../../src/volumes/scoped-fs';
import { pumpTar } from '../../src/volumes/tar-pump';

const made: string[] = [];
after(() => {
  for (const d of made) fs.rmSync(d, { recursive: true, force: true });
});

function tree(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-pump-'));
  made.push(d);
  fs.mkdirSync(path.join(d, 'src/sub'), { recursive: true });
  for (let i = 0; i < 30; i++) fs.writeFileSync(path.join(d, 'src/sub', `f${i}`), Buffer.alloc(1000 * i + 7, i));
  fs.writeFileSync(path.join(d, 'src/big'), Buffer.alloc((3 << 20) + 123, 9)); // read asynchronously, over several buffers
  fs.writeFileSync(path.join(d, 'src/empty'), '');
  fs.symlinkSync('/etc/shadow', path.join(d, 'src/link'));
  fs.linkSync(path.join(d, 'src/sub/f3'), path.join(d, 'src/hard'));
  return d;
}

/** A writable that keeps everything, taking each chunk after a delay when slow. */
function sink(slow: boolean): Writable & { data: () => Buffer } {
  const parts: Buffer[] = [];
  const w = new Writable({
    highWaterMark: 64 * 1024,
    write(chunk: Buffer, _enc, cb) {
      parts.push(Buffer.from(chunk)); // a copy: the pump reuses its buffers once the chunk is taken
      if (slow) setTimeout(cb, 2);
      else cb();
    },
  });
  return Object.assign(w, { data: () => Buffer.concat(parts) });
}

async function packed(root: string): Promise<Buffer> {
  const sfs = new ScopedFs(root);
  try {
    const parts: Buffer[] = [];
    for await (const c of packTar(walkEntries(sfs, '/', 'src', 'src'))) parts.push(c as Buffer);
    return Buffer.concat(parts);
  } finally {
    sfs.close();
  }
}

const openFds = (): number => fs.readdirSync('/proc/self/fd').length;

for (const slow of [false, true]) {
  test(`pumpTar gives packTar's bytes (${slow ? 'slow' : 'fast'} reader)`, async () => {
    const root = tree();
    const want = await packed(root);
    const sfs = new ScopedFs(root);
    const before = openFds();
    const out = sink(slow);
    try {
      await pumpTar(walkEntries(sfs, '/', 'src', 'src', { fds: true }), out);
    } finally {
      sfs.close();
    }
    assert.ok(out.data().equals(want), `same ${want.length} bytes`);
    assert.ok(openFds() <= before, 'every file descriptor closed');
  });
}

test('pumpTar stops, closes what it opened and throws when the reader goes away', async () => {
  const root = tree();
  const sfs = new ScopedFs(root);
  const before = openFds();
  let n = 0;
  const out = new Writable({
    write(_chunk: Buffer, _enc, cb) {
      if (++n === 2) out.destroy(new Error('client gone'));
      setTimeout(cb, 1);
    },
  });
  try {
    await assert.rejects(pumpTar(walkEntries(sfs, '/', 'src', 'src', { fds: true }), out));
  } finally {
    sfs.close();
  }
  assert.ok(openFds() <= before, 'every file descriptor closed');
});
