// Filesystem work confined to a root directory that someone else may be
// changing while we work (a running container's root, a volume shared with
// one): docker cp, export, copy-up and disk usage.
//
// Safety model (what Docker gets from chrootarchive, without a chroot): every
// path component is opened relative to its parent's descriptor with
// O_NOFOLLOW, through /proc/self/fd/<fd>/<name> (Node has no openat). Symlinks
// are never followed by the kernel; we read them and resolve them ourselves,
// an absolute target restarting at the root and ".." stopping there. So
// whatever the other side swaps in (a symlink to /, a directory turned into a
// link) every descriptor we hold is a directory reached from the root, and
// nothing outside the root is ever read or written. Files are opened O_PATH
// first and checked to be regular files before being reopened for reading,
// so a FIFO or device swapped in is never opened.
//
// Virtual mounts let a stopped container's volumes and binds appear at their
// destinations without mounting anything: reaching a mount's destination
// continues in its source directory (a running container's mounts need none:
// /proc/<pid>/root already shows them).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { setEntryXattrs, type TarInput } from '../common/archive';
import { invalid } from '../common/errors';
import { native, S_IFCHR } from '../common/native';

const O_PATH = 0o10000000;
const { O_RDONLY, O_DIRECTORY, O_NOFOLLOW, O_WRONLY, O_CREAT, O_EXCL } = fs.constants;
const S_IFBLK = 0o060000;
const S_IFIFO = 0o010000;

/** The path of name inside the directory open as fd (an openat(2) for Node). */
export function at(fd: number, name?: string): string {
  return name === undefined ? `/proc/self/fd/${fd}` : `/proc/self/fd/${fd}/${name}`;
}

export function fsError(code: string, message: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: ${message}`), { code });
}

export interface ScopeMount {
  /** Cleaned absolute path inside the root. */
  destination: string;
  /** Host directory shown there. */
  source: string;
}

/** Cleans an absolute path inside a root lexically ("/a/../b/" → "/b"). */
export function cleanPath(p: string): string {
  return path.posix.normalize(`/${p}`).replace(/(.)\/+$/, '$1');
}

function childPath(dir: string, name: string): string {
  return dir === '/' ? `/${name}` : `${dir}/${name}`;
}

export interface Located {
  /** Canonical path (no symlinks) of the directory holding the result. */
  dir: string;
  /** The final component inside dir; null when the path is that directory itself (the root, or a followed directory). */
  name: string | null;
  /** Canonical path of the result. */
  path: string;
}

const RETRY = 100;

/**
 * A root directory and the descriptors of directories reached inside it. Paths
 * are container paths ("/etc/passwd"); canonical paths name directories
 * reached without symlinks and key a descriptor cache.
 */
export class ScopedFs {
  readonly rootFd: number;
  private readonly dirs = new Map<string, number>();
  private readonly mounts = new Map<string, ScopeMount>();
  private closed = false;

  constructor(root: string | number, mounts: readonly ScopeMount[] = []) {
    this.rootFd = typeof root === 'number' ? root : fs.openSync(root, O_RDONLY | O_DIRECTORY);
    this.dirs.set('/', this.rootFd);
    for (const m of mounts) this.mounts.set(cleanPath(m.destination), m);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const fd of this.dirs.values()) {
      try {
        fs.closeSync(fd);
      } catch {
        /* already closed */
      }
    }
    this.dirs.clear();
  }

  /** How many directory descriptors are open. */
  get cached(): number {
    return this.dirs.size;
  }

  /** Drops cached descriptors (except the root) once there are more than max. */
  trim(max = 256): void {
    if (this.dirs.size <= max) return;
    for (const [p, fd] of this.dirs) {
      if (p === '/') continue;
      fs.closeSync(fd);
      this.dirs.delete(p);
    }
  }

  /** Forgets cached directories at and below p (after removing or replacing it). */
  forget(p: string): void {
    for (const [k, fd] of this.dirs) {
      if (k === '/' || !(k === p || k.startsWith(`${p}/`))) continue;
      fs.closeSync(fd);
      this.dirs.delete(k);
    }
  }

  isMount(p: string): boolean {
    return this.mounts.has(p);
  }

  /** Names of virtual mounts directly below dir. */
  private mountsIn(dir: string): string[] {
    const out: string[] = [];
    for (const d of this.mounts.keys()) if (d !== '/' && path.posix.dirname(d) === dir) out.push(path.posix.basename(d));
    return out;
  }

  /**
   * Descriptor of the directory at canonical path p, opened component by
   * component without following anything. Throws ENOTDIR/ELOOP if something
   * there is not (any more) a directory, ENOENT if missing.
   */
  dirFd(p: string): number {
    const cached = this.dirs.get(p);
    if (cached !== undefined) return cached;
    const m = this.mounts.get(p);
    let fd: number;
    if (m) fd = fs.openSync(m.source, O_RDONLY | O_DIRECTORY);
    else {
      const parent = this.dirFd(path.posix.dirname(p));
      fd = fs.openSync(at(parent, path.posix.basename(p)), O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
    }
    this.dirs.set(p, fd);
    return fd;
  }

  /** lstat of name in the directory dir (a virtual mount's source when one is there). */
  lstat(dir: string, name: string): fs.Stats {
    const m = this.mounts.get(childPath(dir, name));
    if (m) return fs.statSync(m.source);
    return fs.lstatSync(at(this.dirFd(dir), name));
  }

  tryLstat(dir: string, name: string): fs.Stats | undefined {
    try {
      return this.lstat(dir, name);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
      throw e;
    }
  }

  /** Entries of directory p, virtual mounts included, sorted. */
  list(p: string): string[] {
    const names = fs.readdirSync(at(this.dirFd(p)));
    for (const m of this.mountsIn(p)) if (!names.includes(m)) names.push(m);
    return names.sort();
  }

  readlink(dir: string, name: string): string {
    return fs.readlinkSync(at(this.dirFd(dir), name));
  }

  /**
   * Resolves p inside the root as a chroot would: symlinks followed (by us),
   * absolute targets restart at the root, ".." stops at the root. The last
   * component is followed only with followLast; a missing last component is
   * fine (the result names it). With mkdirs, missing directories on the way
   * are created (0755, root-owned). Throws ENOENT/ENOTDIR/ELOOP like the kernel.
   */
  resolve(p: string, opts: { followLast: boolean; mkdirs?: boolean; from?: string }): Located {
    const todo = p.split('/').reverse();
    const stack: string[] = [];
    let cur = '/';
    if (!p.startsWith('/') && opts.from && opts.from !== '/') {
      // relative to a canonical directory: its ancestors let ".." climb
      const parts = opts.from.split('/').filter(Boolean);
      for (let i = 0; i < parts.length; i++) stack.push(i === 0 ? '/' : `/${parts.slice(0, i).join('/')}`);
      cur = opts.from;
    }
    let hops = 0;
    let retries = 0;
    const isLast = (): boolean => todo.every((c) => c === '' || c === '.');
    while (todo.length) {
      const c = todo.pop() as string;
      if (c === '' || c === '.') continue;
      if (c === '..') {
        cur = stack.pop() ?? '/';
        continue;
      }
      const last = isLast();
      const next = childPath(cur, c);
      if (last && !opts.followLast) return { dir: cur, name: c, path: next };
      if (this.mounts.has(next)) {
        stack.push(cur);
        cur = next;
        continue;
      }
      const parentFd = this.dirFd(cur);
      let st: fs.Stats | undefined;
      try {
        st = fs.lstatSync(at(parentFd, c));
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      }
      if (!st) {
        if (!opts.mkdirs) {
          if (last) return { dir: cur, name: c, path: next };
          throw fsError('ENOENT', `no such file or directory: ${next}`);
        }
        try {
          fs.mkdirSync(at(parentFd, c), 0o755);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
        }
        todo.push(c);
        if (++retries > RETRY) throw fsError('EAGAIN', `${next} keeps changing`);
        continue;
      }
      if (st.isSymbolicLink()) {
        if (++hops > 255) throw fsError('ELOOP', `too many levels of symbolic links: ${p}`);
        const target = fs.readlinkSync(at(parentFd, c));
        if (target.startsWith('/')) {
          stack.length = 0;
          cur = '/';
        }
        for (const t of target.split('/').reverse()) todo.push(t);
        continue;
      }
      if (st.isDirectory()) {
        try {
          this.dirFd(next);
        } catch (e) {
          const code = (e as NodeJS.ErrnoException).code;
          if (code !== 'ENOTDIR' && code !== 'ELOOP' && code !== 'ENOENT') throw e;
          // swapped since the lstat: look again
          todo.push(c);
          if (++retries > RETRY) throw fsError('EAGAIN', `${next} keeps changing`);
          continue;
        }
        stack.push(cur);
        cur = next;
        continue;
      }
      if (last) return { dir: cur, name: c, path: next };
      throw fsError('ENOTDIR', `not a directory: ${next}`);
    }
    return { dir: cur, name: null, path: cur };
  }

  /** Resolves p (following everything, a missing tail kept lexically) to a canonical path: Docker's FollowSymlinkInScope. */
  canonical(p: string): string {
    const todo = p.split('/').reverse();
    let cur = '/';
    const stack: string[] = [];
    let hops = 0;
    while (todo.length) {
      const c = todo.pop() as string;
      if (c === '' || c === '.') continue;
      if (c === '..') {
        cur = stack.pop() ?? '/';
        continue;
      }
      const next = childPath(cur, c);
      if (this.mounts.has(next)) {
        stack.push(cur);
        cur = next;
        continue;
      }
      let st: fs.Stats | undefined;
      try {
        st = fs.lstatSync(at(this.dirFd(cur), c));
      } catch {
        st = undefined;
      }
      if (st?.isSymbolicLink()) {
        if (++hops > 255) throw fsError('ELOOP', `too many levels of symbolic links: ${p}`);
        let target: string;
        try {
          target = fs.readlinkSync(at(this.dirFd(cur), c));
        } catch {
          target = '';
        }
        if (target.startsWith('/')) {
          stack.length = 0;
          cur = '/';
        }
        for (const t of target.split('/').reverse()) todo.push(t);
        continue;
      }
      stack.push(cur);
      cur = next;
      if (!st || !st.isDirectory()) return cleanPath(`${cur}/${todo.reverse().join('/')}`);
    }
    return cur;
  }

  /**
   * Opens a regular file name in dir for reading: O_PATH without following,
   * checked to be a regular file, then reopened. Returns undefined if it is not
   * (any more) a regular file.
   */
  openFile(dir: string, name: string): { fd: number; st: fs.Stats } | undefined {
    const m = this.mounts.get(childPath(dir, name));
    const p = m ? m.source : at(this.dirFd(dir), name);
    let pfd: number;
    try {
      pfd = fs.openSync(p, O_PATH | O_NOFOLLOW);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ELOOP' || code === 'ENOTDIR') return undefined;
      throw e;
    }
    try {
      const st = fs.fstatSync(pfd);
      if (!st.isFile()) return undefined;
      const fd = fs.openSync(at(pfd), O_RDONLY);
      return { fd, st };
    } finally {
      fs.closeSync(pfd);
    }
  }
}

// ---------------------------------------------------------------------------
// Reading: a tree as tar entries

export interface WalkOptions {
  /** Leave out a path (and what is below it): p is the canonical path in the root. */
  skip?: (p: string, st: fs.Stats) => boolean;
  /** Include security.capability as a PAX xattr (default true). */
  xattrs?: boolean;
  /** Give files as their open descriptor (fd, to be closed by the consumer) instead of a body. */
  fds?: boolean;
}

function readXattr(p: string, name: string): Buffer | null {
  try {
    return native().lgetxattr(p, name);
  } catch {
    return null;
  }
}

const CHUNK = 1 << 20;

/** Exactly size bytes of an open file: shorter reads (it shrank meanwhile) are padded with zeros, growth is cut. */
function fileBody(fd: number, size: number): Buffer | AsyncIterable<Buffer> {
  if (size <= CHUNK) {
    try {
      const buf = Buffer.allocUnsafe(size);
      let off = 0;
      while (off < size) {
        const n = fs.readSync(fd, buf, off, size - off, null);
        if (n === 0) break;
        off += n;
      }
      return off < size ? buf.fill(0, off) : buf; // shrank meanwhile: zeros, as tar pads
    } finally {
      fs.closeSync(fd);
    }
  }
  return (async function* () {
    try {
      let left = size;
      while (left > 0) {
        const buf = Buffer.allocUnsafe(Math.min(left, CHUNK));
        let n = await new Promise<number>((resolve, reject) => fs.read(fd, buf, 0, buf.length, null, (err, bytes) => (err ? reject(err) : resolve(bytes))));
        if (n === 0) {
          buf.fill(0);
          n = buf.length;
        }
        left -= n;
        yield n === buf.length ? buf : buf.subarray(0, n);
      }
    } finally {
      fs.closeSync(fd);
    }
  })();
}

function devNumbers(rdev: number): [number, number] {
  const hi = Math.floor(rdev / 2 ** 32);
  const lo = rdev >>> 0;
  return [((lo >>> 8) & 0xfff) | ((hi & 0xfffff000) >>> 0), (lo & 0xff) | ((lo >>> 12) & 0xfff00)];
}

/**
 * Tar entries for name in the canonical directory dir (and everything below
 * it when it is a directory), named arcName (directories get a trailing "/").
 * Order is lexical, hard links inside the tree are kept, sockets are skipped.
 */
export async function* walkEntries(sfs: ScopedFs, dir: string, name: string | null, arcName: string, opts: WalkOptions = {}): AsyncGenerator<TarInput & { fd?: number }> {
  const links = new Map<string, string>();
  const wantX = opts.xattrs ?? true;
  async function* visit(parent: string, n: string | null, arc: string): AsyncGenerator<TarInput & { fd?: number }> {
    const p = n === null ? parent : childPath(parent, n);
    let st: fs.Stats;
    try {
      st = n === null ? fs.fstatSync(sfs.dirFd(parent)) : sfs.lstat(parent, n);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return; // vanished meanwhile
      throw e;
    }
    if (opts.skip && opts.skip(p, st)) return;
    const common = { mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, mtime: Math.floor(st.mtimeMs / 1000) };
    const xattrOf = (file: string): { xattrs?: Map<string, Buffer> } => {
      if (!wantX) return {};
      const cap = readXattr(file, 'security.capability');
      return cap ? { xattrs: new Map([['security.capability', cap]]) } : {};
    };
    if (st.isDirectory()) {
      let fd: number;
      try {
        fd = sfs.dirFd(p);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'ELOOP') return; // swapped meanwhile
        throw e;
      }
      const dst = fs.fstatSync(fd);
      const dcommon = { mode: dst.mode & 0o7777, uid: dst.uid, gid: dst.gid, mtime: Math.floor(dst.mtimeMs / 1000) };
      const dx = n === null || sfs.isMount(p) ? {} : xattrOf(at(sfs.dirFd(parent), n));
      if (arc) yield { name: arc.endsWith('/') ? arc : `${arc}/`, type: 'dir', ...dcommon, ...dx };
      const children = sfs.list(p);
      for (const c of children) {
        yield* visit(p, c, arc ? `${arc.replace(/\/$/, '')}/${c}` : c);
      }
      if (p !== '/') sfs.forget(p);
      return;
    }
    if (st.isFile()) {
      const key = `${st.dev}:${st.ino}`;
      if (st.nlink > 1) {
        const first = links.get(key);
        if (first !== undefined) {
          yield { name: arc, type: 'link', linkname: first, ...common };
          return;
        }
      }
      const f = sfs.openFile(parent, n as string);
      if (!f) return; // replaced by something else meanwhile
      if (st.nlink > 1) links.set(key, arc);
      const x = sfs.isMount(p) ? {} : xattrOf(at(sfs.dirFd(parent), n as string));
      if (opts.fds) yield { name: arc, type: 'file', ...common, ...x, size: f.st.size, fd: f.fd };
      else yield { name: arc, type: 'file', ...common, ...x, size: f.st.size, body: fileBody(f.fd, f.st.size) };
      return;
    }
    if (st.isSymbolicLink()) {
      let target: string;
      try {
        target = sfs.readlink(parent, n as string);
      } catch {
        return;
      }
      yield { name: arc, type: 'symlink', linkname: target, ...common };
      return;
    }
    if (st.isCharacterDevice() || st.isBlockDevice()) {
      const [major, minor] = devNumbers(st.rdev);
      yield { name: arc, type: st.isCharacterDevice() ? 'char' : 'block', devmajor: major, devminor: minor, ...common };
      return;
    }
    if (st.isFIFO()) yield { name: arc, type: 'fifo', ...common };
  }
  yield* visit(dir, name, arcName);
}

/** Docker's directory.Size: sum of the sizes of everything but directories, hard links once. */
export function treeSize(root: string): number {
  let sfs: ScopedFs;
  try {
    sfs = new ScopedFs(root);
  } catch {
    return 0;
  }
  const seen = new Set<number>();
  let size = 0;
  const visit = (p: string): void => {
    let names: string[];
    try {
      names = fs.readdirSync(at(sfs.dirFd(p)));
    } catch {
      return;
    }
    const fd = sfs.dirFd(p);
    for (const n of names) {
      let st: fs.Stats;
      try {
        st = fs.lstatSync(at(fd, n));
      } catch {
        continue;
      }
      if (st.isDirectory()) {
        visit(childPath(p, n));
        continue;
      }
      if (st.size === 0) continue;
      if (st.nlink > 1) {
        if (seen.has(st.ino)) continue;
        seen.add(st.ino);
      }
      size += st.size;
    }
    if (p !== '/') sfs.forget(p);
  };
  try {
    visit('/');
  } finally {
    sfs.close();
  }
  return size;
}

// ---------------------------------------------------------------------------
// Writing: extracting entries into a directory inside the root

export interface EntryHeader {
  name: string;
  type: 'file' | 'link' | 'symlink' | 'char' | 'block' | 'dir' | 'fifo' | 'other';
  mode: number;
  uid: number;
  gid: number;
  /** seconds */
  mtime: number;
  linkname: string;
  devmajor: number;
  devminor: number;
  xattrs?: Map<string, Buffer>;
  /** data size of a file */
  size?: number;
}

export interface WriterOptions {
  /** Docker's NoOverwriteDirNonDir: refuse to replace a directory by a non-directory and the reverse. */
  noOverwriteDirNonDir?: boolean;
  /** Give every entry this owner instead of the archive's. */
  chown?: { uid: number; gid: number };
  /** Apply owners at all (default true: berthd runs as root). */
  sameOwner?: boolean;
}



/** Cleans an archive name into components; ".." above the destination is refused (Docker's breakout check). */
function entryComponents(name: string): string[] {
  const out: string[] = [];
  for (const c of name.split('/')) {
    if (c === '' || c === '.') continue;
    if (c === '..') {
      if (!out.length) throw invalid(`invalid tar entry ${JSON.stringify(name)}: path escapes the destination`);
      out.pop();
      continue;
    }
    out.push(c);
  }
  return out;
}

/**
 * Extracts entries into the canonical directory dest of a ScopedFs: the
 * equivalent of Docker's Untar inside a chroot. Entries replace what is there
 * (directories merge); parents are resolved in the root's scope.
 */
export class ScopedWriter {
  private readonly dirTimes: Array<[string, number]> = [];
  /** archive parent directory → its canonical path, while nothing has been removed */
  private readonly parents = new Map<string, string>();
  entries = 0;
  bytes = 0;

  constructor(private readonly sfs: ScopedFs, private readonly dest: string, private readonly opts: WriterOptions = {}) {}

  private owner(h: EntryHeader): { uid: number; gid: number } | undefined {
    if (this.opts.sameOwner === false) return undefined;
    return this.opts.chown ?? { uid: h.uid, gid: h.gid };
  }

  /** Removes name from dir, recursively, without following anything. */
  removeAt(dir: string, name: string): void {
    const fd = this.sfs.dirFd(dir);
    let st: fs.Stats;
    try {
      st = fs.lstatSync(at(fd, name));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw e;
    }
    const p = childPath(dir, name);
    if (st.isDirectory()) {
      // never empty a volume or another mount by replacing its mount point
      if (this.sfs.isMount(p) || st.dev !== fs.fstatSync(fd).dev) throw fsError('EBUSY', `device or resource busy: ${p} is a mount point`);
      try {
        for (const c of fs.readdirSync(at(this.sfs.dirFd(p)))) this.removeAt(p, c);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code !== 'ENOTDIR' && code !== 'ELOOP') throw e;
        this.sfs.forget(p);
        fs.unlinkSync(at(fd, name)); // became a non-directory meanwhile
        return;
      }
      this.sfs.forget(p);
      fs.rmdirSync(at(fd, name));
    } else {
      fs.unlinkSync(at(fd, name));
    }
  }

  async entry(h: EntryHeader, body?: AsyncIterable<Buffer> | Buffer): Promise<void> {
    this.entries++;
    const comps = entryComponents(h.name);
    if (h.type === 'other') return;
    if (comps.length === 0) {
      // "./": Docker applies its metadata to the destination itself
      if (h.type === 'dir') {
        this.meta(this.sfs.dirFd(this.dest), undefined, h);
        this.dirTimes.push([this.dest, h.mtime]);
      }
      return;
    }
    const base = comps[comps.length - 1] as string;
    const parentRel = comps.slice(0, -1).join('/');
    let dir = this.parents.get(parentRel);
    if (dir === undefined) {
      const loc = parentRel ? this.sfs.resolve(parentRel, { followLast: true, mkdirs: true, from: this.dest }) : { dir: this.dest, name: null, path: this.dest };
      if (loc.name !== null) throw fsError('ENOTDIR', `not a directory: ${loc.path}`);
      dir = loc.path;
      this.parents.set(parentRel, dir);
    }
    const dfd = this.sfs.dirFd(dir);
    const target = at(dfd, base);
    const tpath = childPath(dir, base);
    if (h.type === 'file') {
      await this.file(dir, base, tpath, h, body);
      this.trim();
      return;
    }
    let st: fs.Stats | undefined;
    try {
      st = fs.lstatSync(target);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    if (st) {
      if (this.opts.noOverwriteDirNonDir && st.isDirectory() && h.type !== 'dir') throw invalid(`cannot overwrite directory "${tpath}" with non-directory "${this.dest}"`);
      if (this.opts.noOverwriteDirNonDir && !st.isDirectory() && h.type === 'dir') throw invalid(`cannot overwrite non-directory "${tpath}" with directory "${this.dest}"`);
      if (!(st.isDirectory() && h.type === 'dir')) {
        if (h.type === 'link' && this.linkSource(h) === tpath) return;
        this.removeAt(dir, base);
        this.parents.clear();
      }
    }
    switch (h.type) {
      case 'dir': {
        if (!st?.isDirectory()) fs.mkdirSync(target, 0o700);
        let fd: number;
        try {
          fd = this.sfs.dirFd(tpath);
        } catch (e) {
          throw fsError((e as NodeJS.ErrnoException).code ?? 'EIO', `${tpath} changed while extracting`);
        }
        this.meta(fd, target, h);
        this.dirTimes.push([tpath, h.mtime]);
        break;
      }
      case 'symlink': {
        fs.symlinkSync(h.linkname, target);
        const o = this.owner(h);
        if (o) fs.lchownSync(target, o.uid, o.gid);
        fs.lutimesSync(target, h.mtime, h.mtime);
        break;
      }
      case 'link': {
        const src = this.linkSource(h);
        const sdir = path.posix.dirname(src);
        const sst = this.sfs.lstat(sdir, path.posix.basename(src)); // ENOENT: links to nothing
        if (sst.isDirectory()) throw invalid(`invalid hardlink ${JSON.stringify(h.name)} to a directory`);
        fs.linkSync(at(this.sfs.dirFd(sdir), path.posix.basename(src)), target);
        break;
      }
      case 'char':
      case 'block':
      case 'fifo': {
        const kind = h.type === 'char' ? S_IFCHR : h.type === 'block' ? S_IFBLK : S_IFIFO;
        native().mknod(target, kind | (h.mode & 0o7777), h.type === 'fifo' ? 0 : h.devmajor, h.type === 'fifo' ? 0 : h.devminor);
        // chown/chmod through an O_PATH descriptor: never through a name that could have become a symlink
        const pfd = fs.openSync(target, O_PATH | O_NOFOLLOW);
        try {
          const s = fs.fstatSync(pfd);
          if (s.isCharacterDevice() || s.isBlockDevice() || s.isFIFO()) {
            const o = this.owner(h);
            if (o) fs.chownSync(at(pfd), o.uid, o.gid);
            fs.chmodSync(at(pfd), h.mode & 0o7777);
          }
        } finally {
          fs.closeSync(pfd);
        }
        fs.lutimesSync(target, h.mtime, h.mtime);
        break;
      }
    }
    this.trim();
  }

  /** Keeps the number of open directory descriptors bounded. */
  private trim(): void {
    if (this.sfs.cached > 512) this.sfs.trim();
  }

  /**
   * A regular file: created O_EXCL|O_NOFOLLOW (what was there is removed only
   * when that fails), owner and mode set only where they differ from what the
   * creation gave (each setattr is costly on overlayfs).
   */
  private async file(dir: string, base: string, tpath: string, h: EntryHeader, body?: AsyncIterable<Buffer> | Buffer): Promise<void> {
    const target = at(this.sfs.dirFd(dir), base);
    const mode = h.mode & 0o7777;
    const create = (): number => fs.openSync(target, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, mode & 0o777);
    let fd: number;
    try {
      fd = create();
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const st = fs.lstatSync(target);
      if (this.opts.noOverwriteDirNonDir && st.isDirectory()) throw invalid(`cannot overwrite directory "${tpath}" with non-directory "${this.dest}"`);
      this.removeAt(dir, base);
      this.parents.clear();
      fd = create();
    }
    try {
      if (Buffer.isBuffer(body)) this.writeAll(fd, body);
      else if (body) for await (const c of body) this.writeAll(fd, c);
      const st = fs.fstatSync(fd);
      const o = this.owner(h);
      if (o && (st.uid !== o.uid || st.gid !== o.gid)) fs.fchownSync(fd, o.uid, o.gid);
      if ((st.mode & 0o7777) !== mode || (o && (st.uid !== o.uid || st.gid !== o.gid) && mode & 0o6000)) fs.fchmodSync(fd, mode);
      if (h.xattrs?.size) this.xattrs(target, h);
      fs.futimesSync(fd, h.mtime, h.mtime);
    } finally {
      fs.closeSync(fd);
    }
  }

  private writeAll(fd: number, b: Buffer): void {
    let off = 0;
    while (off < b.length) off += fs.writeSync(fd, b, off, b.length - off);
    this.bytes += b.length;
  }

  /** Canonical path of a hard link's target, resolved from the destination (Docker: relative to the extraction dir). */
  private linkSource(h: EntryHeader): string {
    const comps = entryComponents(h.linkname);
    if (!comps.length) throw invalid(`invalid hardlink ${JSON.stringify(h.name)} -> ${JSON.stringify(h.linkname)}`);
    const loc = this.sfs.resolve(comps.join('/'), { followLast: false, from: this.dest });
    return loc.path;
  }

  /** Owner and mode through an open descriptor; xattrs through the entry's name (l*xattr never follows it). */
  private meta(fd: number, name: string | undefined, h: EntryHeader): void {
    const o = this.owner(h);
    if (o) fs.fchownSync(fd, o.uid, o.gid);
    fs.fchmodSync(fd, h.mode & 0o7777); // after chown, which clears set-id bits
    if (name !== undefined) this.xattrs(name, h);
  }

  private xattrs(p: string, h: EntryHeader): void {
    setEntryXattrs(p, h.xattrs);
  }

  /** Directory times last (creating entries changes them). */
  finish(): void {
    for (const [p, t] of this.dirTimes.reverse()) {
      try {
        fs.futimesSync(this.sfs.dirFd(p), t, t);
      } catch {
        /* gone or replaced meanwhile */
      }
    }
  }
}
