// ScopedFs: resolution inside a root as a chroot would do it (symlinks
// followed by us, never leaving the root), tar entries of a tree, and
// extraction that cannot write outside the root whatever links the tree holds.
import { after, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ScopedFs, ScopedWriter, treeSize, walkEntries, cleanPath, type EntryHeader } from '../../src/volumes/scoped-fs';
import type { TarInput } from '../../src/common/archive';

const made: string[] = [];
after(() => {
  for (const d of made) fs.rmSync(d, { recursive: true, force: true });
});

const root = process.getuid?.() === 0;

/** base/root (the scope) and base/outside (must stay untouched). */
function sandbox(): { root: string; outside: string } {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-scoped-'));
  made.push(base);
  const r = path.join(base, 'root');
  const outside = path.join(base, 'outside');
  fs.mkdirSync(path.join(r, 'etc'), { recursive: true });
  fs.mkdirSync(path.join(r, 'data', 'sub'), { recursive: true });
  fs.mkdirSync(outside);
  fs.writeFileSync(path.join(r, 'etc', 'shadow'), 'inside\n');
  fs.writeFileSync(path.join(outside, 'shadow'), 'outside\n');
  fs.writeFileSync(path.join(r, 'data', 'sub', 'f'), 'f\n');
  fs.symlinkSync('/etc/shadow', path.join(r, 'abs'));
  fs.symlinkSync('../../../../../../etc/shadow', path.join(r, 'data', 'rel'));
  fs.symlinkSync(outside, path.join(r, 'hostdir')); // an absolute host path: means /<that path> inside the root
  fs.symlinkSync('/', path.join(r, 'slash'));
  fs.symlinkSync('loop2', path.join(r, 'loop1'));
  fs.symlinkSync('loop1', path.join(r, 'loop2'));
  return { root: r, outside };
}

test('cleanPath', () => {
  assert.equal(cleanPath('a/../../b/'), '/b');
  assert.equal(cleanPath('/'), '/');
  assert.equal(cleanPath('//x//y/.'), '/x/y');
});

test('resolve follows links inside the root only', () => {
  const s = sandbox();
  const sfs = new ScopedFs(s.root);
  try {
    assert.deepEqual(sfs.resolve('/abs', { followLast: false }), { dir: '/', name: 'abs', path: '/abs' });
    assert.deepEqual(sfs.resolve('/abs', { followLast: true }), { dir: '/etc', name: 'shadow', path: '/etc/shadow' });
    assert.deepEqual(sfs.resolve('/data/rel', { followLast: true }), { dir: '/etc', name: 'shadow', path: '/etc/shadow' });
    assert.deepEqual(sfs.resolve('/slash/../../etc/shadow', { followLast: false }), { dir: '/etc', name: 'shadow', path: '/etc/shadow' });
    assert.deepEqual(sfs.resolve('/data/sub/', { followLast: true }), { dir: '/data/sub', name: null, path: '/data/sub' });
    assert.deepEqual(sfs.resolve('/data/missing', { followLast: true }), { dir: '/data', name: 'missing', path: '/data/missing' });
    assert.throws(() => sfs.resolve('/missing/deeper', { followLast: true }), { code: 'ENOENT' });
    assert.throws(() => sfs.resolve('/etc/shadow/x', { followLast: true }), { code: 'ENOTDIR' });
    assert.throws(() => sfs.resolve('/loop1', { followLast: true }), { code: 'ELOOP' });
    // a link to a host path resolves to that path *inside* the root (missing there)
    assert.throws(() => sfs.resolve('/hostdir/shadow', { followLast: false }), { code: 'ENOENT' });
    assert.equal(sfs.canonical('/hostdir/shadow'), `${s.outside}/shadow`);
    assert.equal(sfs.canonical('/abs'), '/etc/shadow');
    assert.equal(sfs.canonical('/data/rel'), '/etc/shadow');
    assert.equal(sfs.canonical('/slash/nothing/here/../x'), '/nothing/x');
    const made2 = sfs.resolve('/new/a/b', { followLast: true, mkdirs: true });
    assert.equal(made2.name, null);
    assert.ok(fs.statSync(path.join(s.root, 'new', 'a', 'b')).isDirectory());
    const rel = sfs.resolve('sub/../../etc', { followLast: true, from: '/data' });
    assert.equal(rel.path, '/etc');
  } finally {
    sfs.close();
  }
});

test('virtual mounts continue in their source directory', () => {
  const s = sandbox();
  fs.mkdirSync(path.join(s.root, 'mnt'));
  const vol = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-vol-'));
  made.push(vol);
  fs.writeFileSync(path.join(vol, 'in-volume'), 'v\n');
  const sfs = new ScopedFs(s.root, [{ destination: '/mnt/vol', source: vol }, { destination: '/mnt/no-mountpoint', source: vol }]);
  try {
    const loc = sfs.resolve('/mnt/vol/in-volume', { followLast: false });
    assert.equal(loc.dir, '/mnt/vol');
    assert.ok(sfs.lstat(loc.dir, 'in-volume').isFile());
    assert.deepEqual(sfs.list('/mnt/vol'), ['in-volume']);
    assert.deepEqual(sfs.list('/mnt'), ['no-mountpoint', 'vol'], 'a mount shows even without a mount point dir');
    assert.ok(sfs.lstat('/mnt', 'vol').isDirectory());
    // ".." from the mount's root goes back to the container's parent
    assert.equal(sfs.resolve('/mnt/vol/../vol/..', { followLast: true }).path, '/mnt');
  } finally {
    sfs.close();
  }
});

async function entriesOf(sfs: ScopedFs, dir: string, name: string | null, arc: string): Promise<Array<Omit<TarInput, 'body'> & { data?: string }>> {
  const out: Array<Omit<TarInput, 'body'> & { data?: string }> = [];
  for await (const e of walkEntries(sfs, dir, name, arc, { xattrs: false })) {
    let data: string | undefined;
    if (e.body) {
      if (Buffer.isBuffer(e.body)) data = e.body.toString();
      else {
        const parts: Buffer[] = [];
        for await (const c of e.body) parts.push(c);
        data = Buffer.concat(parts).toString();
      }
    }
    const { body: _b, ...rest } = e;
    out.push({ ...rest, ...(data !== undefined ? { data } : {}) });
  }
  return out;
}

test('walkEntries: names, types and hard links; symlinks are archived, never followed', async () => {
  const s = sandbox();
  fs.linkSync(path.join(s.root, 'data', 'sub', 'f'), path.join(s.root, 'data', 'sub', 'hard'));
  fs.symlinkSync(s.outside, path.join(s.root, 'data', 'out'));
  const sfs = new ScopedFs(s.root);
  try {
    const e = await entriesOf(sfs, '/', 'data', 'data');
    assert.deepEqual(e.map((x) => `${x.type} ${x.name}${x.linkname ? ` -> ${x.linkname}` : ''}${x.data !== undefined ? ` = ${JSON.stringify(x.data)}` : ''}`), [
      'dir data/',
      `symlink data/out -> ${s.outside}`,
      'symlink data/rel -> ../../../../../../etc/shadow',
      'dir data/sub/',
      'file data/sub/f = "f\\n"',
      'link data/sub/hard -> data/sub/f',
    ]);
    const dot = await entriesOf(sfs, '/data', null, '.');
    assert.equal(dot[0]?.name, './');
    assert.ok(dot.some((x) => x.name === './sub/f'));
  } finally {
    sfs.close();
  }
});

test('ScopedWriter: entries land inside the root whatever links are on the way', async () => {
  const s = sandbox();
  const sfs = new ScopedFs(s.root);
  const h = (name: string, type: EntryHeader['type'], extra: Partial<EntryHeader> = {}): EntryHeader => ({
    name, type, mode: 0o644, uid: 0, gid: 0, mtime: 1700000000, linkname: '', devmajor: 0, devminor: 0, ...extra,
  });
  try {
    const w = new ScopedWriter(sfs, '/data', { sameOwner: root });
    await w.entry(h('plain.txt', 'file'), Buffer.from('plain'));
    // through links to / and to a host path: resolved in the root
    fs.symlinkSync('/', path.join(s.root, 'data', 'toroot'));
    await w.entry(h('toroot/etc/new', 'file'), Buffer.from('in etc'));
    fs.symlinkSync(s.outside, path.join(s.root, 'data', 'tohost'));
    await w.entry(h('tohost/evil', 'file'), Buffer.from('evil'));
    await w.entry(h('dir/', 'dir', { mode: 0o750 }));
    await w.entry(h('dir/link', 'symlink', { linkname: '/etc/shadow' }));
    await w.entry(h('dir/hard', 'link', { linkname: 'plain.txt' }));
    // replacing a symlink by a file writes the file, not through the link
    await w.entry(h('dir/link', 'file'), Buffer.from('replaced'));
    w.finish();
    assert.equal(fs.readFileSync(path.join(s.root, 'data', 'plain.txt'), 'utf8'), 'plain');
    assert.equal(fs.readFileSync(path.join(s.root, 'etc', 'new'), 'utf8'), 'in etc');
    assert.equal(fs.readFileSync(path.join(s.root, s.outside, 'evil'), 'utf8'), 'evil', 'the host path is recreated inside the root');
    assert.deepEqual(fs.readdirSync(s.outside), ['shadow'], 'nothing written outside');
    assert.equal(fs.readFileSync(path.join(s.outside, 'shadow'), 'utf8'), 'outside\n');
    assert.equal(fs.readFileSync(path.join(s.root, 'etc', 'shadow'), 'utf8'), 'inside\n', 'the link target was not written through');
    assert.equal(fs.readFileSync(path.join(s.root, 'data', 'dir', 'link'), 'utf8'), 'replaced');
    assert.equal(fs.statSync(path.join(s.root, 'data', 'dir')).mode & 0o777, 0o750);
    assert.equal(fs.statSync(path.join(s.root, 'data', 'dir', 'hard')).ino, fs.statSync(path.join(s.root, 'data', 'plain.txt')).ino);
    await assert.rejects(w.entry(h('../../../escape', 'file'), Buffer.from('x')), /escapes the destination/);
    const strict = new ScopedWriter(sfs, '/data', { sameOwner: root, noOverwriteDirNonDir: true });
    await assert.rejects(strict.entry(h('dir', 'file'), Buffer.from('x')), /cannot overwrite directory/);
    await assert.rejects(strict.entry(h('plain.txt', 'dir')), /cannot overwrite non-directory/);
    // removal of a directory holding a link to the outside removes the link only
    fs.symlinkSync(s.outside, path.join(s.root, 'data', 'dir', 'away'));
    w.removeAt('/data', 'dir');
    assert.ok(!fs.existsSync(path.join(s.root, 'data', 'dir')));
    assert.deepEqual(fs.readdirSync(s.outside), ['shadow']);
  } finally {
    sfs.close();
  }
});

test('ScopedWriter never empties a mount point it would replace', async () => {
  const s = sandbox();
  const vol = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-vol-'));
  made.push(vol);
  fs.writeFileSync(path.join(vol, 'precious'), 'keep\n');
  const sfs = new ScopedFs(s.root, [{ destination: '/data/sub', source: vol }]);
  try {
    const w = new ScopedWriter(sfs, '/data', { sameOwner: root });
    const h: EntryHeader = { name: 'sub', type: 'file', mode: 0o644, uid: 0, gid: 0, mtime: 0, linkname: '', devmajor: 0, devminor: 0 };
    await assert.rejects(w.entry(h, Buffer.from('x')), { code: 'EBUSY' });
    assert.equal(fs.readFileSync(path.join(vol, 'precious'), 'utf8'), 'keep\n');
    // into the mount is fine
    await w.entry({ ...h, name: 'sub/new' }, Buffer.from('new'));
    assert.equal(fs.readFileSync(path.join(vol, 'new'), 'utf8'), 'new');
  } finally {
    sfs.close();
  }
});

test('treeSize counts what is not a directory, hard links once, and never follows links', () => {
  const s = sandbox();
  fs.writeFileSync(path.join(s.root, 'data', 'big'), Buffer.alloc(10000));
  fs.linkSync(path.join(s.root, 'data', 'big'), path.join(s.root, 'data', 'big2'));
  const links = ['abs', 'data/rel', 'hostdir', 'slash', 'loop1', 'loop2'].reduce((n, l) => n + fs.lstatSync(path.join(s.root, l)).size, 0);
  assert.equal(treeSize(s.root), 10000 + 'inside\n'.length + 'f\n'.length + links);
  assert.equal(treeSize(path.join(s.root, 'nope')), 0);
});
