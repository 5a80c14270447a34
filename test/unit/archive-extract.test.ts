// Extraction of tar archives treated as hostile (needs root for owners, devices and trusted xattrs).
import { after, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { gzipSync } from 'node:zlib';
import { Readable } from 'node:stream';
import { extractTar, packTar, readTar, resolveInRoot, createTar, type TarInput } from '../../src/common/archive';
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

async function toBuffer(r: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of r) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

async function tarOf(entries: TarInput[]): Promise<Buffer> {
  return toBuffer(packTar(entries));
}

const file = (name: string, body = 'x', extra: Partial<TarInput> = {}): TarInput => ({ name, type: 'file', body: Buffer.from(body), mode: 0o644, mtime: 1700000000, ...extra });

/** A scratch dir with a sibling "outside" dir that must stay untouched. */
function sandbox(): { base: string; dest: string; outside: string } {
  const base = tmp();
  const dest = path.join(base, 'dest');
  const outside = path.join(base, 'outside');
  fs.mkdirSync(dest);
  fs.mkdirSync(outside);
  fs.writeFileSync(path.join(outside, 'secret'), 'keep');
  return { base, dest, outside };
}

function listAll(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string, rel: string): void => {
    for (const n of fs.readdirSync(d).sort()) {
      const r = rel ? `${rel}/${n}` : n;
      out.push(r);
      const st = fs.lstatSync(path.join(d, n));
      if (st.isDirectory()) walk(path.join(d, n), r);
    }
  };
  walk(dir, '');
  return out;
}

test('round trip of a normal tree made by the system tar', async () => {
  const src = tmp();
  fs.mkdirSync(path.join(src, 'bin'));
  fs.writeFileSync(path.join(src, 'bin', 'tool'), 'binary');
  fs.chmodSync(path.join(src, 'bin', 'tool'), 0o4755);
  fs.symlinkSync('tool', path.join(src, 'bin', 'alias'));
  fs.linkSync(path.join(src, 'bin', 'tool'), path.join(src, 'bin', 'hard'));
  fs.mkdirSync(path.join(src, 'tmp'), 0o777);
  fs.chmodSync(path.join(src, 'tmp'), 0o1777);
  fs.chownSync(path.join(src, 'tmp'), 1234, 5678);
  fs.utimesSync(path.join(src, 'bin'), 1600000000, 1600000000);
  const tarFile = path.join(tmp(), 'a.tar');
  execFileSync('tar', ['-cf', tarFile, '-C', src, '.']);
  const dest = path.join(tmp(), 'out');
  const res = await extractTar(fs.createReadStream(tarFile), dest);
  assert.ok(res.entries >= 6);
  assert.equal(fs.readFileSync(path.join(dest, 'bin', 'tool'), 'utf8'), 'binary');
  assert.equal(fs.statSync(path.join(dest, 'bin', 'tool')).mode & 0o7777, 0o4755);
  assert.equal(fs.readlinkSync(path.join(dest, 'bin', 'alias')), 'tool');
  assert.equal(fs.statSync(path.join(dest, 'bin', 'hard')).ino, fs.statSync(path.join(dest, 'bin', 'tool')).ino);
  const t = fs.statSync(path.join(dest, 'tmp'));
  assert.equal(t.mode & 0o7777, 0o1777);
  assert.equal(t.uid, 1234);
  assert.equal(t.gid, 5678);
  assert.equal(Math.floor(fs.statSync(path.join(dest, 'bin')).mtimeMs / 1000), 1600000000);
});

test('gzip input is detected by magic', async () => {
  const tar = await tarOf([file('a/b.txt', 'hello')]);
  const dest = path.join(tmp(), 'out');
  await extractTar(Readable.from([gzipSync(tar)]), dest);
  assert.equal(fs.readFileSync(path.join(dest, 'a', 'b.txt'), 'utf8'), 'hello');
});

test('entries escaping with .. are refused and nothing lands outside', async () => {
  const { dest, outside, base } = sandbox();
  const tar = await tarOf([file('ok.txt'), file('../outside/pwned'), file('z.txt')]);
  await assert.rejects(extractTar(Readable.from([tar]), dest), /escapes the destination/);
  assert.deepEqual(fs.readdirSync(outside), ['secret']);
  assert.ok(!fs.existsSync(path.join(base, 'pwned')));
  const tar2 = await tarOf([file('a/../../x')]);
  await assert.rejects(extractTar(Readable.from([tar2]), dest), /escapes/);
});

test('absolute names are anchored at the destination', async () => {
  const { dest } = sandbox();
  const tar = await tarOf([file('/etc/berth-abs-test', 'a'), file('/../../etc/berth-abs-test2', 'b')]);
  await extractTar(Readable.from([tar]), dest);
  assert.equal(fs.readFileSync(path.join(dest, 'etc', 'berth-abs-test'), 'utf8'), 'a');
  assert.equal(fs.readFileSync(path.join(dest, 'etc', 'berth-abs-test2'), 'utf8'), 'b');
  assert.ok(!fs.existsSync('/etc/berth-abs-test'));
  assert.ok(!fs.existsSync('/etc/berth-abs-test2'));
});

test('a symlink to / followed by a file below it stays inside', async () => {
  const { dest } = sandbox();
  const tar = await tarOf([
    { name: 'evil', type: 'symlink', linkname: '/' },
    file('evil/etc/berth-evil-test', 'pwn'),
    { name: 'rel', type: 'symlink', linkname: '../../../../../../../../tmp' },
    file('rel/berth-evil-test2', 'pwn'),
  ]);
  await extractTar(Readable.from([tar]), dest);
  assert.ok(!fs.existsSync('/etc/berth-evil-test'));
  assert.ok(!fs.existsSync('/tmp/berth-evil-test2'));
  assert.equal(fs.readFileSync(path.join(dest, 'etc', 'berth-evil-test'), 'utf8'), 'pwn');
  assert.equal(fs.readFileSync(path.join(dest, 'tmp', 'berth-evil-test2'), 'utf8'), 'pwn');
  assert.equal(fs.readlinkSync(path.join(dest, 'evil')), '/'); // the link itself is kept as is
});

test('a symlink in the final position is replaced, never written through', async () => {
  const { dest, outside } = sandbox();
  const target = path.join(outside, 'secret');
  const tar = await tarOf([{ name: 'x', type: 'symlink', linkname: target }, file('x', 'overwritten?')]);
  await extractTar(Readable.from([tar]), dest);
  assert.equal(fs.readFileSync(target, 'utf8'), 'keep');
  assert.ok(fs.lstatSync(path.join(dest, 'x')).isFile());
  assert.equal(fs.readFileSync(path.join(dest, 'x'), 'utf8'), 'overwritten?');
});

test('a directory replaced by a symlink does not redirect later entries', async () => {
  const { dest, outside } = sandbox();
  const tar = await tarOf([
    { name: 'd/', type: 'dir', mode: 0o755 },
    file('d/a'),
    { name: 'd', type: 'symlink', linkname: outside },
    file('d/pwned'),
  ]);
  await extractTar(Readable.from([tar]), dest);
  assert.deepEqual(fs.readdirSync(outside), ['secret']);
  // `outside` is resolved inside the root like a chroot would.
  assert.ok(fs.existsSync(path.join(dest, outside, 'pwned')));
});

test('hard links must point inside the root', async () => {
  const { dest, outside } = sandbox();
  const escape = await tarOf([{ name: 'h', type: 'link', linkname: '../outside/secret' }]);
  await assert.rejects(extractTar(Readable.from([escape]), dest), /escapes/);
  // An absolute target is taken inside the root, where it does not exist.
  const abs = await tarOf([{ name: 'h', type: 'link', linkname: '/etc/passwd' }]);
  await assert.rejects(extractTar(Readable.from([abs]), dest), /ENOENT/);
  // Through a symlink that points out: resolved inside the root as well.
  const via = await tarOf([{ name: 's', type: 'symlink', linkname: outside }, { name: 'h2', type: 'link', linkname: 's/secret' }]);
  await assert.rejects(extractTar(Readable.from([via]), dest), /ENOENT/);
  assert.equal(fs.statSync(path.join(outside, 'secret')).nlink, 1);
  assert.notEqual(fs.statSync('/etc/passwd').nlink, 0);
  // A legitimate one works.
  const ok = await tarOf([file('f', 'data'), { name: 'g', type: 'link', linkname: 'f' }]);
  await extractTar(Readable.from([ok]), dest);
  assert.equal(fs.statSync(path.join(dest, 'g')).ino, fs.statSync(path.join(dest, 'f')).ino);
});

test('symlink loops fail with ELOOP instead of spinning', async () => {
  const { dest } = sandbox();
  const tar = await tarOf([{ name: 'a', type: 'symlink', linkname: 'b' }, { name: 'b', type: 'symlink', linkname: 'a' }, file('a/x')]);
  await assert.rejects(extractTar(Readable.from([tar]), dest), /ELOOP/);
});

test('device nodes, fifos, owners and set-id bits', async () => {
  const { dest } = sandbox();
  const tar = await tarOf([
    { name: 'dev/', type: 'dir', mode: 0o755 },
    { name: 'dev/null', type: 'char', mode: 0o666, devmajor: 1, devminor: 3 },
    { name: 'dev/loop9', type: 'block', mode: 0o660, devmajor: 7, devminor: 9, gid: 6 },
    { name: 'dev/fifo', type: 'fifo', mode: 0o600 },
    file('suid', '#!', { mode: 0o6755, uid: 1000, gid: 1000 }),
    file('big-uid', '', { uid: 3000000, gid: 4000000 }),
  ]);
  await extractTar(Readable.from([tar]), dest);
  const n = fs.statSync(path.join(dest, 'dev', 'null'));
  assert.ok(n.isCharacterDevice());
  assert.equal(n.rdev, fs.statSync('/dev/null').rdev);
  assert.ok(fs.statSync(path.join(dest, 'dev', 'loop9')).isBlockDevice());
  assert.ok(fs.statSync(path.join(dest, 'dev', 'fifo')).isFIFO());
  const s = fs.statSync(path.join(dest, 'suid'));
  assert.equal(s.mode & 0o7777, 0o6755);
  assert.equal(s.uid, 1000);
  const b = fs.statSync(path.join(dest, 'big-uid'));
  assert.equal(b.uid, 3000000);
  assert.equal(b.gid, 4000000);
  // devices: false skips them like Docker in a user namespace
  const d2 = path.join(tmp(), 'nodev');
  await extractTar(Readable.from([tar]), d2, { devices: false });
  assert.ok(!fs.existsSync(path.join(d2, 'dev', 'null')));
});

test('OCI whiteouts become overlay whiteouts', async () => {
  const { dest } = sandbox();
  const tar = await tarOf([
    { name: 'etc/', type: 'dir', mode: 0o755 },
    file('etc/.wh.passwd', ''),
    { name: 'opt/', type: 'dir', mode: 0o755 },
    file('opt/.wh..wh..opq', ''),
    file('opt/new'),
    file('.wh..wh.plnk/123', ''),
    file('gone/.wh.x', ''),
  ]);
  await extractTar(Readable.from([tar]), dest, { whiteouts: 'overlay' });
  const wh = fs.statSync(path.join(dest, 'etc', 'passwd'));
  assert.ok(wh.isCharacterDevice());
  assert.equal(wh.rdev, 0);
  assert.equal(native().lgetxattr(path.join(dest, 'opt'), 'trusted.overlay.opaque')?.toString(), 'y');
  assert.ok(fs.existsSync(path.join(dest, 'opt', 'new')));
  assert.ok(!fs.existsSync(path.join(dest, '.wh..wh.plnk')));
  assert.ok(fs.statSync(path.join(dest, 'gone', 'x')).isCharacterDevice());
  assert.ok(!listAll(dest).some((n) => n.includes('.wh.')));
});

test('whiteouts applied to a plain directory (delete mode) and kept literally by default', async () => {
  const { dest } = sandbox();
  fs.mkdirSync(path.join(dest, 'etc'));
  fs.writeFileSync(path.join(dest, 'etc', 'passwd'), 'old');
  fs.mkdirSync(path.join(dest, 'opt'));
  fs.writeFileSync(path.join(dest, 'opt', 'old'), 'old');
  const tar = await tarOf([file('etc/.wh.passwd', ''), file('opt/new'), file('opt/.wh..wh..opq', '')]);
  await extractTar(Readable.from([tar]), dest, { whiteouts: 'delete' });
  assert.ok(!fs.existsSync(path.join(dest, 'etc', 'passwd')));
  assert.deepEqual(fs.readdirSync(path.join(dest, 'opt')), ['new']);
  const lit = path.join(tmp(), 'lit');
  await extractTar(Readable.from([tar]), lit);
  assert.ok(fs.existsSync(path.join(lit, 'etc', '.wh.passwd')));
});

test('PAX: long and non-ASCII names, binary xattrs; trusted.* from archives is ignored', async () => {
  const { dest } = sandbox();
  const long = `${'d'.repeat(120)}/${'e'.repeat(150)}/${'f'.repeat(200)}.txt`;
  const cap = Buffer.alloc(20);
  cap.writeUInt32LE(0x02000001, 0);
  cap.writeUInt32LE(1 << 13, 4); // CAP_NET_RAW, effective
  const tar = await tarOf([
    file(long, 'long'),
    file('héllo wörld ✓', 'utf8'),
    { name: 'l', type: 'symlink', linkname: `/${'t'.repeat(300)}` },
    file('ping', 'p', { xattrs: new Map([['security.capability', cap], ['user.bin', Buffer.from([0xff, 0x00, 0x80])], ['trusted.overlay.redirect', Buffer.from('/x')]]) }),
  ]);
  await extractTar(Readable.from([tar]), dest);
  assert.equal(fs.readFileSync(path.join(dest, long), 'utf8'), 'long');
  assert.equal(fs.readFileSync(path.join(dest, 'héllo wörld ✓'), 'utf8'), 'utf8');
  assert.equal(fs.readlinkSync(path.join(dest, 'l')), `/${'t'.repeat(300)}`);
  const p = path.join(dest, 'ping');
  assert.deepEqual(native().lgetxattr(p, 'security.capability'), cap);
  assert.deepEqual(native().lgetxattr(p, 'user.bin'), Buffer.from([0xff, 0x00, 0x80]));
  assert.equal(native().lgetxattr(p, 'trusted.overlay.redirect'), null);
  // and the system tar agrees with our encoding
  const listing = execFileSync('tar', ['-tf', '-'], { input: await tarOf([file(long)]) }).toString().trim();
  assert.equal(listing, long);
});

test('GNU long names and base-256 numbers from GNU tar', async () => {
  const src = tmp();
  const deep = path.join(src, 'a'.repeat(90), 'b'.repeat(90));
  fs.mkdirSync(deep, { recursive: true });
  fs.writeFileSync(path.join(deep, 'c'.repeat(90)), 'gnu');
  fs.chownSync(path.join(deep, 'c'.repeat(90)), 2 ** 21 + 5, 0); // > 7 octal digits → base-256 in GNU format
  const tarFile = path.join(tmp(), 'g.tar');
  execFileSync('tar', ['--format=gnu', '-cf', tarFile, '-C', src, '.']);
  const dest = path.join(tmp(), 'out');
  await extractTar(fs.createReadStream(tarFile), dest);
  const f = path.join(dest, 'a'.repeat(90), 'b'.repeat(90), 'c'.repeat(90));
  assert.equal(fs.readFileSync(f, 'utf8'), 'gnu');
  assert.equal(fs.statSync(f).uid, 2 ** 21 + 5);
});

test('readTar reads to the end of input (trailing data included) and rejects garbage', async () => {
  const tar = await tarOf([file('a')]);
  let consumed = 0;
  async function* src(): AsyncGenerator<Buffer> {
    for (const c of [tar, Buffer.alloc(4096, 7)]) {
      consumed += c.length;
      yield c;
    }
  }
  const names: string[] = [];
  for await (const e of readTar(src())) names.push(e.header.name);
  assert.deepEqual(names, ['a']);
  assert.equal(consumed, tar.length + 4096);
  await assert.rejects(extractTar(Readable.from([Buffer.alloc(1024, 65)]), path.join(tmp(), 'g')), /checksum|tar/);
  const truncated = tar.subarray(0, 700);
  await assert.rejects(extractTar(Readable.from([truncated]), path.join(tmp(), 't')), /unexpected EOF/);
});

test('an unconsumed body is skipped exactly', async () => {
  const tar = await tarOf([file('a', 'A'.repeat(1000)), file('b', 'B'.repeat(10))]);
  const seen: string[] = [];
  for await (const e of readTar(Readable.from([tar.subarray(0, 700), tar.subarray(700)]))) {
    if (e.header.name === 'b') for await (const c of e.body) seen.push(c.toString());
  }
  assert.equal(seen.join(''), 'B'.repeat(10));
});

test('resolveInRoot follows links but clamps at the root', () => {
  const root = tmp();
  fs.mkdirSync(path.join(root, 'real', 'sub'), { recursive: true });
  fs.symlinkSync('/real', path.join(root, 'abs'));
  fs.symlinkSync('../../../../real/sub', path.join(root, 'rel'));
  fs.symlinkSync('/', path.join(root, 'top'));
  assert.equal(resolveInRoot(root, 'abs/sub'), path.join(root, 'real', 'sub'));
  assert.equal(resolveInRoot(root, '/rel'), path.join(root, 'real', 'sub'));
  assert.equal(resolveInRoot(root, 'top/top/../..//etc/passwd'), path.join(root, 'etc', 'passwd'));
  assert.equal(resolveInRoot(root, 'abs', { followLast: false }), path.join(root, 'abs'));
  assert.equal(resolveInRoot(root, '../../..'), root);
});

test('createTar → extractTar round trip keeps everything', async () => {
  const src = tmp();
  fs.mkdirSync(path.join(src, 'd'));
  fs.writeFileSync(path.join(src, 'd', 'f'), 'content');
  fs.chmodSync(path.join(src, 'd', 'f'), 0o2711);
  fs.symlinkSync('d/f', path.join(src, 'link'));
  fs.linkSync(path.join(src, 'd', 'f'), path.join(src, 'hard'));
  native().mknod(path.join(src, 'null'), 0o020666, 1, 3);
  native().lsetxattr(path.join(src, 'd', 'f'), 'user.x', Buffer.from('not exported'));
  const big = Buffer.alloc(3 << 20, 9);
  fs.writeFileSync(path.join(src, 'big'), big);
  const dest = path.join(tmp(), 'out');
  await extractTar(createTar(src), dest);
  assert.deepEqual(listAll(dest), listAll(src));
  assert.equal(fs.statSync(path.join(dest, 'd', 'f')).mode & 0o7777, 0o2711);
  assert.equal(fs.statSync(path.join(dest, 'hard')).ino, fs.statSync(path.join(dest, 'd', 'f')).ino);
  assert.ok(fs.statSync(path.join(dest, 'null')).isCharacterDevice());
  assert.deepEqual(fs.readFileSync(path.join(dest, 'big')), big);
  assert.equal(fs.readlinkSync(path.join(dest, 'link')), 'd/f');
});
