// COPY and ADD: resolving sources (build context, another stage or image,
// here-documents, URLs, local archives), the checksum that keys the cache,
// and the tar entries of the layer. The layer is produced directly as a tar
// stream (no container): the destination's parent directories are looked up
// in a read-only view of the parent image so the layer carries their existing
// owner and mode (as an overlay copy-up would), and new ones get the --chown
// identity.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { decompress, fileBody, readTar, resolveInRoot, type TarInput } from '../common/archive';
import { invalid } from '../common/errors';
import type { BuildContext, CtxNode } from './context';
import { globToRegExp, type PatternMatcher } from './dockerignore';

export interface Identity {
  uid: number;
  gid: number;
}

export type CopyItem =
  /** A file or directory of the build context (path already resolved through symlinks). */
  | { kind: 'ctx'; node: CtxNode; name: string; exclude?: Exclusion; keep?: string }
  /** A file or directory in another stage or image, resolved once its root is mounted. */
  | { kind: 'image'; path: string }
  /** Literal data: a here-document or a downloaded URL. */
  | { kind: 'data'; name: string; data: Buffer; mode: number; mtime: number }
  /** A local archive that ADD extracts. */
  | { kind: 'archive'; node: CtxNode }
  /** A downloaded archive that `ADD --unpack=true` extracts. */
  | { kind: 'archive'; data: Buffer };

/** An archive item's bytes. */
async function* archiveBody(ctx: BuildContext, it: { node: CtxNode } | { data: Buffer }): AsyncGenerator<Buffer> {
  if ('data' in it) yield it.data;
  else yield* ctx.body(it.node);
}

export const WILDCARD_RE = /[*?[]/;

export function hasWildcard(p: string): boolean {
  // An escaped wildcard character is literal.
  return WILDCARD_RE.test(p.replace(/\\./g, ''));
}

/**
 * Cleans a source path inside the context. As the Dockerfile reference says,
 * a leading slash and `../` that would leave the context are dropped
 * (`COPY ../x /x` copies the context's `x`): nothing outside is reachable.
 */
function cleanSource(raw: string): string {
  const out: string[] = [];
  for (const c of raw.split('/')) {
    if (c === '' || c === '.') continue;
    if (c === '..') {
      out.pop();
      continue;
    }
    out.push(c);
  }
  return out.join('/');
}

/**
 * `--exclude` patterns (Dockerfile 1.19) for one source: matched as
 * .dockerignore patterns against paths relative to the source (a copied
 * directory, or the directory a wildcard is evaluated in); `rel` is the
 * item's own path there ('' for a copied directory itself).
 */
export interface Exclusion {
  matcher: PatternMatcher;
  rel: string;
}

/** Whether an item's descendant (path below the item) is excluded. */
export function excluded(ex: Exclusion | undefined, sub: string): boolean {
  if (!ex) return false;
  const p = ex.rel && sub ? `${ex.rel}/${sub}` : ex.rel || sub;
  return p !== '' && ex.matcher.matches(p);
}

/** Resolves context sources (wildcards, symlinks inside the context) into items. */
export function contextItems(ctx: BuildContext, raws: string[], cmd: 'COPY' | 'ADD', exclude?: PatternMatcher, parents = false): CopyItem[] {
  const items: CopyItem[] = [];
  const matcher = exclude && !exclude.empty ? exclude : undefined;
  for (const raw of raws) {
    // --parents (Dockerfile 1.20): the source's path is kept below the destination, from the `/./` pivot if any.
    let pivot = '';
    let src = raw;
    if (parents) {
      const i = raw.indexOf('/./');
      if (i >= 0) {
        pivot = cleanSource(raw.slice(0, i));
        src = `${raw.slice(0, i)}/${raw.slice(i + 3)}`;
      }
    }
    const keepOf = (p: string): string | undefined => (parents ? (pivot ? p.slice(pivot.length + 1) : p) : undefined);
    const clean = cleanSource(src);
    if (hasWildcard(clean)) {
      // The directory the wildcard is evaluated in: the components before the first one with a wildcard.
      const comps = clean.split('/');
      const baseLen = comps.findIndex((c) => hasWildcard(c));
      const base = comps.slice(0, baseLen).join('/');
      const matches = ctx.glob(clean);
      for (const m of matches) {
        const r = ctx.resolve(m);
        const node = r === null ? undefined : ctx.lstat(r);
        const rel = base ? m.slice(base.length + 1) : m;
        if (!node || (matcher && matcher.matches(rel))) continue;
        const keep = keepOf(m);
        items.push({ kind: 'ctx', node, name: path.posix.basename(m), ...(matcher ? { exclude: { matcher, rel } } : {}), ...(keep ? { keep } : {}) });
      }
      continue;
    }
    const r = ctx.resolve(clean);
    const node = r === null ? undefined : ctx.lstat(r);
    if (!node || node.type === 'symlink') {
      throw invalid(`${cmd} failed: file not found in build context or excluded by .dockerignore: stat ${clean || '.'}: file does not exist`);
    }
    const name = path.posix.basename(clean) || '.';
    // A copied directory's contents are matched relative to it; a single file by its name.
    const rel = node.type === 'dir' ? '' : name;
    if (matcher && rel && matcher.matches(rel)) continue;
    const keep = keepOf(clean);
    items.push({ kind: 'ctx', node, name, ...(matcher ? { exclude: { matcher, rel } } : {}), ...(keep ? { keep } : {}) });
  }
  if (!items.length) throw invalid(`${cmd} failed: no source files were specified`);
  return items;
}

/** Whether a context file is an archive ADD should extract (compressed or not, with a readable first tar header). */
export async function isArchive(ctx: BuildContext, node: CtxNode): Promise<boolean> {
  if (node.type !== 'file' || node.size < 4) return false;
  return isArchiveBytes(() => ctx.body(node));
}

/** Whether bytes are a tar archive, compressed or not. */
export async function isArchiveBytes(src: () => AsyncIterable<Buffer>): Promise<boolean> {
  const head: Buffer[] = [];
  let n = 0;
  for await (const c of src()) {
    head.push(c);
    n += c.length;
    if (n >= 512) break;
  }
  const first = Buffer.concat(head);
  const gzip = first[0] === 0x1f && first[1] === 0x8b;
  const bz = first.subarray(0, 3).toString('latin1') === 'BZh';
  const xz = first.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]));
  const zst = first.subarray(0, 4).equals(Buffer.from([0x28, 0xb5, 0x2f, 0xfd]));
  if (!gzip && !bz && !xz && !zst) {
    if (first.length < 512) return false;
    // Plain tar: ustar magic, or an old-style header with a valid checksum.
    if (first.subarray(257, 262).toString('latin1') === 'ustar') return true;
    return validChecksum(first.subarray(0, 512));
  }
  try {
    const it = readTar(await decompress(src()));
    const r = await it.next();
    await it.return?.(undefined);
    return !r.done;
  } catch {
    return false;
  }
}

function validChecksum(b: Buffer): boolean {
  if (b.length < 512 || b.every((x) => x === 0)) return false;
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 0x20 : (b[i] ?? 0);
  const field = b.subarray(148, 156).toString('latin1').replace(/[\0 ]+$/, '').trim();
  return /^[0-7]+$/.test(field) && parseInt(field, 8) === sum;
}

/**
 * The checksum of the sources, as Docker names it in history: `file:<hex>`
 * for one file, `dir:<hex>` for one directory, `multi:<hex>` otherwise.
 * Content and metadata count (names, types, modes, sizes, link targets),
 * modification times do not.
 */
export async function sourcesChecksum(ctx: BuildContext, items: CopyItem[], fromKey?: string): Promise<string> {
  const h = createHash('sha256');
  if (fromKey !== undefined) h.update(`from\0${fromKey}\0`);
  let kind = items.length === 1 ? '' : 'multi';
  for (const it of items) {
    switch (it.kind) {
      case 'ctx': {
        if (!kind) kind = it.node.type === 'dir' ? 'dir' : 'file';
        h.update(`ctx\0${it.name}\0${it.keep ?? ''}\0`);
        const base = it.node.path;
        for (const n of it.node.type === 'dir' ? ctx.walk(base) : [it.node]) {
          const rel = n === it.node ? '.' : n.path.slice(base ? base.length + 1 : 0);
          if (n !== it.node && excluded(it.exclude, rel)) continue;
          h.update(`${rel}\0${n.type}\0${(n.mode & 0o7777).toString(8)}\0${n.size}\0${n.linkname}\0`);
          if (n.type === 'file') h.update(await ctx.contentHash(n));
          h.update('\n');
        }
        break;
      }
      case 'archive':
        if (!kind) kind = 'file';
        if ('data' in it) h.update(`archive\0${it.data.length}\0${createHash('sha256').update(it.data).digest('hex')}\n`);
        else h.update(`archive\0${it.node.size}\0${await ctx.contentHash(it.node)}\n`);
        break;
      case 'data':
        if (!kind) kind = 'file';
        h.update(`data\0${it.name}\0${it.mode.toString(8)}\0${createHash('sha256').update(it.data).digest('hex')}\n`);
        break;
      case 'image':
        if (!kind) kind = 'file';
        h.update(`image\0${it.path}\n`);
        break;
    }
  }
  return `${kind || 'file'}:${h.digest('hex')}`;
}

// ---------------------------------------------------------------------------
// --chmod

/** A --chmod value: the mode an entry gets from its own mode and type. */
export type ModeFn = (mode: number, isDir: boolean) => number;

const WHO_BITS: Record<string, number> = { u: 0o4700, g: 0o2070, o: 0o1007 };

/**
 * Parses --chmod: octal (`755`, at most 07777) or chmod(1)'s symbolic notation
 * (`+x`, `u=rwX,go=rX`, `g=u`), as BuildKit accepts since Dockerfile 1.14.
 * No umask applies to clauses without a `who` (there is no umask in a build).
 */
export function parseChmod(spec: string): ModeFn {
  const nonOctal = `invalid chmod parameter: '${spec}'. it should be octal string and between 0 and 07777`;
  if (/^[0-9]+$/.test(spec)) {
    if (!/^[0-7]+$/.test(spec)) throw invalid(nonOctal);
    const n = parseInt(spec, 8);
    if (n > 0o7777) throw invalid(nonOctal);
    return () => n;
  }
  type Action = { op: string; perms: string; copy?: string };
  const clauses: Array<{ who: string; actions: Action[] }> = [];
  for (const clause of spec.split(',')) {
    const m = /^([ugoa]*)((?:[+\-=](?:[ugo]|[rwxXst]*))+)$/.exec(clause);
    if (!m) throw invalid(`invalid chmod parameter: '${spec}': invalid mode`);
    const who = m[1] ?? '';
    const actions: Action[] = [];
    for (const a of (m[2] ?? '').matchAll(/([+\-=])([ugo]|[rwxXst]*)/g)) {
      const perms = a[2] ?? '';
      actions.push(/^[ugo]$/.test(perms) ? { op: a[1] ?? '', perms: '', copy: perms } : { op: a[1] ?? '', perms });
    }
    clauses.push({ who, actions });
  }
  return (mode: number, isDir: boolean): number => {
    let cur = mode & 0o7777;
    for (const c of clauses) {
      const who = c.who === '' || c.who.includes('a') ? 'ugo' : c.who;
      let mask = 0;
      for (const w of who) mask |= WHO_BITS[w] ?? 0;
      for (const a of c.actions) {
        let bits = 0;
        if (a.copy) {
          // g=u: the permission bits of one class, repeated for every class.
          const shift = a.copy === 'u' ? 6 : a.copy === 'g' ? 3 : 0;
          const rwx = (cur >> shift) & 7;
          bits = (rwx << 6) | (rwx << 3) | rwx;
        } else {
          for (const p of a.perms) {
            if (p === 'r') bits |= 0o444;
            else if (p === 'w') bits |= 0o222;
            else if (p === 'x') bits |= 0o111;
            else if (p === 'X') bits |= isDir || (cur & 0o111) !== 0 ? 0o111 : 0;
            else if (p === 's') bits |= 0o6000;
            else if (p === 't') bits |= 0o1000;
          }
        }
        bits &= mask;
        if (a.op === '+') cur |= bits;
        else if (a.op === '-') cur &= ~bits;
        else cur = (cur & ~(mask & (isDir ? 0o1777 : 0o7777))) | bits; // `=` keeps a directory's set-id bits, as chmod(1)
      }
    }
    return cur & 0o7777;
  };
}

// ---------------------------------------------------------------------------
// Identities

function lookupFile(root: string | undefined, file: string): string[] {
  if (root === undefined) return [];
  try {
    const p = resolveInRoot(root, file);
    // The image is untrusted: only a regular file of sane size is read (not a fifo or a device that never ends).
    const st = fs.statSync(p);
    if (!st.isFile() || st.size > 10 << 20) return [];
    return fs.readFileSync(p, 'utf8').split('\n');
  } catch {
    return [];
  }
}

/**
 * `--chown=user[:group]`: names are looked up in the image's /etc/passwd and
 * /etc/group; a user alone gives the group the same numeric value as the
 * user (as the Dockerfile reference says).
 */
export function parseChown(spec: string, root: string | undefined): Identity {
  const pre = 'unable to convert uid/gid chown string to host mapping';
  const parts = spec.split(':');
  if (parts.length > 2) throw invalid(`${pre}: invalid chown string format: ${spec}`);
  const [user = '', group = ''] = parts;
  if (!user) throw invalid(`${pre}: invalid chown string format: ${spec}`);
  let uid: number;
  if (/^\d+$/.test(user)) uid = Number(user);
  else {
    const line = lookupFile(root, '/etc/passwd').map((l) => l.split(':')).find((f) => f[0] === user);
    if (!line || !/^\d+$/.test(line[2] ?? '')) throw invalid(`${pre}: can't find uid for user ${user}: no such user: ${user}`);
    uid = Number(line[2]);
  }
  let gid: number;
  if (group === '') gid = uid;
  else if (/^\d+$/.test(group)) gid = Number(group);
  else {
    const line = lookupFile(root, '/etc/group').map((l) => l.split(':')).find((f) => f[0] === group);
    if (!line || !/^\d+$/.test(line[2] ?? '')) throw invalid(`${pre}: can't find gid for group ${group}: no such group: ${group}`);
    gid = Number(line[2]);
  }
  if (!Number.isSafeInteger(uid) || !Number.isSafeInteger(gid) || uid > 0xffffffff || gid > 0xffffffff) throw invalid(`${pre}: invalid chown string format: ${spec}`);
  return { uid, gid };
}

// ---------------------------------------------------------------------------
// Layer entries

export interface EntryOptions {
  /** Root of the parent image's filesystem (mounted read-only view, or an empty dir). */
  destRoot: string;
  /** Absolute destination as written (after WORKDIR and variable expansion). */
  dest: string;
  /** Root of the --from image's filesystem, when the sources come from one. */
  srcRoot?: string;
  ctx: BuildContext;
  items: CopyItem[];
  chown?: Identity;
  chmod?: ModeFn;
  cmd: 'COPY' | 'ADD';
  /** Seconds since the epoch, for directories the copy creates. */
  now: number;
}

export interface DestDir {
  /** Canonical path below the root ('' = root). */
  rel: string;
  parents: TarInput[];
  /** How many of them do not exist yet. */
  created: number;
}

/** The directories down to dirAbs (symlinks followed inside root), existing ones with their metadata. */
export function destDirectory(root: string, dirAbs: string, ident: Identity, now: number): DestDir {
  const real = resolveInRoot(root, dirAbs);
  const rel = path.relative(root, real);
  if (rel.startsWith('..')) throw invalid(`invalid destination ${dirAbs}`);
  const comps = rel ? rel.split('/') : [];
  const parents: TarInput[] = [];
  let missing = false;
  let created = 0;
  for (let i = 1; i <= comps.length; i++) {
    const p = comps.slice(0, i).join('/');
    let st: fs.Stats | undefined;
    if (!missing) {
      try {
        st = fs.lstatSync(path.join(root, p));
      } catch {
        missing = true;
      }
    }
    if (st) {
      if (!st.isDirectory()) throw invalid(`not a directory: /${p}`);
      parents.push({ name: p, type: 'dir', mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, mtime: Math.floor(st.mtimeMs / 1000) });
    } else {
      parents.push({ name: p, type: 'dir', mode: 0o755, uid: ident.uid, gid: ident.gid, mtime: now });
      created++;
    }
  }
  return { rel, parents, created };
}

function isDirIn(root: string, abs: string): boolean {
  try {
    return fs.statSync(resolveInRoot(root, abs)).isDirectory();
  } catch {
    return false;
  }
}

function join(dir: string, name: string): string {
  return dir ? `${dir}/${name}` : name;
}

/** Expands a wildcard inside a mounted image root, component by component. */
function imageGlob(root: string, pattern: string): string[] {
  const comps = pattern.split('/').filter((c) => c !== '' && c !== '.');
  let cur: string[] = [''];
  for (const c of comps) {
    const next: string[] = [];
    const re = hasWildcard(c) ? globToRegExp(c) : undefined;
    for (const dir of cur) {
      if (!re) {
        next.push(join(dir, c));
        continue;
      }
      let names: string[] = [];
      try {
        names = fs.readdirSync(resolveInRoot(root, `/${dir}`)).sort();
      } catch {
        continue;
      }
      for (const n of names) if (re.test(n)) next.push(join(dir, n));
    }
    cur = next;
  }
  return cur.filter((p) => {
    try {
      fs.lstatSync(resolveInRoot(root, `/${p}`, { followLast: false }));
      return true;
    } catch {
      return false;
    }
  });
}

function devNumbers(rdev: number): [number, number] {
  const hi = Math.floor(rdev / 2 ** 32);
  const lo = rdev >>> 0;
  return [((lo >>> 8) & 0xfff) | ((hi & 0xfffff000) >>> 0), (lo & 0xff) | ((lo >>> 12) & 0xfff00)];
}

/** Entries for a real directory tree (an image's files), below `name`. */
function* hostTree(abs: string, name: string, st: fs.Stats, o: EntryOptions, includeSelf: boolean): Generator<TarInput> {
  const own = (s: fs.Stats): { uid: number; gid: number } => (o.chown ? { uid: o.chown.uid, gid: o.chown.gid } : { uid: s.uid, gid: s.gid });
  const mode = (s: fs.Stats): number => (o.chmod !== undefined ? o.chmod(s.mode, s.isDirectory()) : s.mode & 0o7777);
  const mtime = Math.floor(st.mtimeMs / 1000);
  if (st.isDirectory()) {
    if (includeSelf && name) yield { name, type: 'dir', mode: mode(st), ...own(st), mtime };
    for (const n of fs.readdirSync(abs).sort()) {
      const childAbs = `${abs}/${n}`;
      let cst: fs.Stats;
      try {
        cst = fs.lstatSync(childAbs);
      } catch {
        continue;
      }
      yield* hostTree(childAbs, join(name, n), cst, o, true);
    }
  } else if (st.isFile()) {
    yield { name, type: 'file', mode: mode(st), ...own(st), mtime, size: st.size, body: fileBody(abs, st.size) };
  } else if (st.isSymbolicLink()) {
    yield { name, type: 'symlink', linkname: fs.readlinkSync(abs), mode: st.mode & 0o7777, ...own(st), mtime };
  } else if (st.isCharacterDevice() || st.isBlockDevice()) {
    const [devmajor, devminor] = devNumbers(st.rdev);
    yield { name, type: st.isCharacterDevice() ? 'char' : 'block', devmajor, devminor, mode: mode(st), ...own(st), mtime };
  } else if (st.isFIFO()) {
    yield { name, type: 'fifo', mode: mode(st), ...own(st), mtime };
  }
}

/** Cleans an archive member name below the destination (`..` stops at the destination). */
function archiveName(name: string): string {
  const out: string[] = [];
  for (const c of name.split('/')) {
    if (c === '' || c === '.') continue;
    if (c === '..') {
      out.pop();
      continue;
    }
    out.push(c);
  }
  return out.join('/');
}

/** The layer's tar entries for one COPY/ADD (see the top of this file). */
export async function* copyEntries(o: EntryOptions): AsyncGenerator<TarInput> {
  const ident: Identity = o.chown ?? { uid: 0, gid: 0 };
  const endsWithSlash = /\/\.?$/.test(o.dest);
  const destAbs = path.posix.resolve('/', o.dest);

  // Image sources are resolved now that their root is mounted.
  const items: CopyItem[] = [];
  const imagePaths = new Map<CopyItem, { abs: string; st: fs.Stats; name: string }>();
  for (const it of o.items) {
    if (it.kind !== 'image') {
      items.push(it);
      continue;
    }
    const srcRoot = o.srcRoot;
    if (srcRoot === undefined) throw invalid(`${o.cmd} failed: no source image`);
    const matches = hasWildcard(it.path) ? imageGlob(srcRoot, it.path) : [archiveName(it.path)];
    if (hasWildcard(it.path) && matches.length === 0) throw invalid(`${o.cmd} failed: no source files were specified`);
    for (const m of matches) {
      const abs = resolveInRoot(srcRoot, `/${m}`);
      let st: fs.Stats;
      try {
        st = fs.lstatSync(abs);
      } catch {
        throw invalid(`${o.cmd} failed: stat ${path.posix.resolve('/', it.path)}: file does not exist`);
      }
      const item: CopyItem = { kind: 'image', path: m };
      imagePaths.set(item, { abs, st, name: path.posix.basename(m) || '.' });
      items.push(item);
    }
  }

  if (items.length > 1 && !endsWithSlash) {
    throw invalid(`When using ${o.cmd} with more than one source file, the destination must be a directory and end with a /`);
  }
  const isDirSource = (it: CopyItem): boolean =>
    it.kind === 'archive' || (it.kind === 'ctx' && it.node.type === 'dir') || (it.kind === 'image' && (imagePaths.get(it)?.st.isDirectory() ?? false));
  // Where files land: into dest as a directory, or at dest as a file name.
  const parents = items.some((it) => it.kind === 'ctx' && it.keep !== undefined);
  const intoDir = parents || endsWithSlash || items.length > 1 || items.some(isDirSource) || isDirIn(o.destRoot, destAbs);
  const dirAbs = intoDir ? destAbs : path.posix.dirname(destAbs);
  const fileName = intoDir ? undefined : path.posix.basename(destAbs);
  const dd = destDirectory(o.destRoot, dirAbs, ident, o.now);
  yield* dd.parents;

  const mode = (m: number, isDir = false): number => (o.chmod !== undefined ? o.chmod(m, isDir) : m & 0o7777);
  // --parents: the directories leading to each kept path, once each, with the context's metadata where it has them.
  const madeDirs = new Set<string>();
  function* keptParents(it: { node: CtxNode; keep?: string }): Generator<TarInput> {
    if (it.keep === undefined) return;
    const comps = it.keep.split('/');
    const ctxBase = it.node.path.slice(0, it.node.path.length - it.keep.length).replace(/\/$/, '');
    for (let i = 1; i < comps.length + (it.node.type === 'dir' ? 1 : 0); i++) {
      const rel = comps.slice(0, i).join('/');
      if (madeDirs.has(rel)) continue;
      madeDirs.add(rel);
      const n = o.ctx.lstat(ctxBase ? `${ctxBase}/${rel}` : rel);
      const m = n && n.type === 'dir' && !n.implicit ? n.mode : 0o755;
      yield { name: join(dd.rel, rel), type: 'dir', mode: mode(m, true), uid: ident.uid, gid: ident.gid, mtime: n?.mtime ?? o.now };
    }
  }
  for (const it of items) {
    switch (it.kind) {
      case 'ctx': {
        const base = it.node.path;
        yield* keptParents(it);
        const at = it.keep ?? '';
        if (it.node.type !== 'dir') {
          const n = it.node;
          yield { name: join(dd.rel, it.keep ?? fileName ?? it.name), type: 'file', mode: mode(n.mode), uid: ident.uid, gid: ident.gid, mtime: n.mtime, size: n.size, body: o.ctx.body(n), ...(n.xattrs ? { xattrs: n.xattrs } : {}) };
          break;
        }
        const keepDirs = it.exclude?.matcher.hasExclusions ?? false;
        for (const n of o.ctx.walk(base)) {
          if (n === it.node) continue;
          const sub = n.path.slice(base ? base.length + 1 : 0);
          // An excluded directory is still written when `!` patterns may bring back something below it.
          if (excluded(it.exclude, sub) && !(keepDirs && n.type === 'dir')) continue;
          const name = join(join(dd.rel, at), sub);
          const common = { name, uid: ident.uid, gid: ident.gid, mtime: n.mtime };
          if (n.type === 'dir') yield { ...common, type: 'dir', mode: mode(n.implicit ? 0o755 : n.mode, true) };
          else if (n.type === 'symlink') yield { ...common, type: 'symlink', mode: n.mode & 0o7777, linkname: n.linkname };
          else yield { ...common, type: 'file', mode: mode(n.mode), size: n.size, body: o.ctx.body(n) };
        }
        break;
      }
      case 'data':
        yield { name: join(dd.rel, fileName ?? it.name), type: 'file', mode: mode(it.mode), uid: ident.uid, gid: ident.gid, mtime: it.mtime, body: it.data };
        break;
      case 'image': {
        const info = imagePaths.get(it);
        if (!info) break;
        if (info.st.isDirectory()) yield* hostTree(info.abs, dd.rel, info.st, o, false);
        else yield* hostTree(info.abs, join(dd.rel, fileName ?? info.name), info.st, o, true);
        break;
      }
      case 'archive': {
        for await (const e of readTar(await decompress(archiveBody(o.ctx, it)))) {
          const h = e.header;
          const rel = archiveName(h.name);
          if (!rel) continue;
          const name = join(dd.rel, rel);
          const own = o.chown ? { uid: o.chown.uid, gid: o.chown.gid } : { uid: h.uid, gid: h.gid };
          const common = { name, mode: mode(h.mode, h.type === 'dir'), ...own, mtime: Math.floor(h.mtime), ...(h.xattrs.size ? { xattrs: h.xattrs } : {}) };
          switch (h.type) {
            case 'dir':
              yield { ...common, type: 'dir' };
              break;
            case 'file':
              // Consumed by the tar writer before the archive reader moves on.
              yield { ...common, type: 'file', size: h.size, body: e.body };
              break;
            case 'symlink':
              yield { ...common, type: 'symlink', linkname: h.linkname };
              break;
            case 'link': {
              const target = archiveName(h.linkname);
              if (target) yield { ...common, type: 'link', linkname: join(dd.rel, target) };
              break;
            }
            case 'char':
            case 'block':
              yield { ...common, type: h.type, devmajor: h.devmajor, devminor: h.devminor };
              break;
            case 'fifo':
              yield { ...common, type: 'fifo' };
              break;
            default:
              break;
          }
        }
        break;
      }
    }
  }
}
