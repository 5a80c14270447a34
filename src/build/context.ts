// The build context: the tar the client sends, kept as an index of entries
// (a virtual filesystem) rather than extracted onto the host. File data stays
// in memory up to a limit and spills into one spool file beyond it. Nothing in
// the context is ever written to or resolved against the host filesystem, so
// hostile names (`../x`) and symlinks that point outside the context cannot
// reach anything but the context itself: `..` entries are refused, and
// symlinks are resolved inside the index, clamped at its root.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { decompress, readTar, type ByteSource } from '../common/archive';
import { invalid } from '../common/errors';
import { log } from '../common/log';
import { globToRegExp, PatternMatcher, parseDockerignore } from './dockerignore';
import { ContentArena, contentHasher, streamHasher, type ContentHasher } from './hasher';

export type CtxType = 'file' | 'dir' | 'symlink';

export interface CtxNode {
  /** Relative, slash-separated, no leading `./` or `/`; '' is the root. */
  path: string;
  type: CtxType;
  mode: number;
  uid: number;
  gid: number;
  /** Seconds since the epoch. */
  mtime: number;
  size: number;
  linkname: string;
  xattrs?: Map<string, Buffer>;
  /** File data: in-memory chunks, or an offset into the spool file. */
  chunks?: Buffer[];
  offset?: number;
  /** sha256 hex of the content, computed on demand. */
  sha?: string;
  /** Implicit directory (a parent of entries without its own tar entry). */
  implicit?: boolean;
}

export interface ReceiveOptions {
  /** Directory for the spool file (created on demand). */
  spoolDir: string;
  /** Bytes of file data kept in memory before spilling (default 256 MiB). */
  memoryLimit?: number;
  /**
   * Hash file content as it arrives (default), so COPY's cache key is ready;
   * false for --no-cache, where a checksum is made only for the files a COPY
   * uses, while its layer is written (contentHash).
   */
  hashOnArrival?: boolean;
  signal?: AbortSignal;
}

/** Cleans an archive name; throws for names that climb out of the context. */
export function cleanContextPath(name: string): string {
  const out: string[] = [];
  for (const c of name.split('/')) {
    if (c === '' || c === '.') continue;
    if (c === '..') {
      if (!out.length) throw invalid(`invalid build context: entry ${JSON.stringify(name)} points outside the context`);
      out.pop();
      continue;
    }
    out.push(c);
  }
  return out.join('/');
}

/** Cleans a path used inside the context (COPY sources): `..` is clamped at the root by the caller's check. */
function splitClean(p: string): string[] | null {
  const out: string[] = [];
  for (const c of p.split('/')) {
    if (c === '' || c === '.') continue;
    if (c === '..') {
      if (!out.length) return null;
      out.pop();
      continue;
    }
    out.push(c);
  }
  return out;
}

export class BuildContext {
  private readonly nodes = new Map<string, CtxNode>();
  private childCache: Map<string, string[]> | undefined;
  private spoolFile: string | undefined;
  private spoolFd: number | undefined;
  private spoolSize = 0;
  private memory = 0;
  /** In-memory file data (released by close()). */
  private readonly arena = new ContentArena();

  private constructor(private readonly opts: ReceiveOptions) {
    this.nodes.set('', { path: '', type: 'dir', mode: 0o755, uid: 0, gid: 0, mtime: 0, size: 0, linkname: '', implicit: true });
  }

  /** Reads a context tar (plain or compressed). */
  static async receive(body: ByteSource, opts: ReceiveOptions): Promise<BuildContext> {
    const ctx = new BuildContext(opts);
    try {
      await ctx.read(body);
    } catch (e) {
      ctx.close();
      throw e;
    }
    return ctx;
  }

  /** A context holding just the given files (a Dockerfile from a URL, tests). */
  static fromFiles(files: Record<string, string | Buffer>, opts: ReceiveOptions): BuildContext {
    const ctx = new BuildContext(opts);
    for (const [p, data] of Object.entries(files)) {
      const buf = Buffer.isBuffer(data) ? data : Buffer.from(data);
      ctx.add({ path: cleanContextPath(p), type: 'file', mode: 0o644, uid: 0, gid: 0, mtime: 0, size: buf.length, linkname: '', chunks: [buf] });
    }
    return ctx;
  }

  private add(n: CtxNode): void {
    if (n.path === '') {
      const root = this.nodes.get('') as CtxNode;
      if (n.type === 'dir') Object.assign(root, { mode: n.mode, mtime: n.mtime, implicit: false });
      return;
    }
    // Parents become (implicit) directories; a parent that was a file or symlink is replaced, as extraction would.
    const comps = n.path.split('/');
    for (let i = 1; i < comps.length; i++) {
      const p = comps.slice(0, i).join('/');
      const cur = this.nodes.get(p);
      if (!cur || cur.type !== 'dir') {
        if (cur) this.removeTree(p);
        this.nodes.set(p, { path: p, type: 'dir', mode: 0o755, uid: 0, gid: 0, mtime: 0, size: 0, linkname: '', implicit: true });
      }
    }
    const prev = this.nodes.get(n.path);
    if (prev && !(prev.type === 'dir' && n.type === 'dir')) this.removeTree(n.path);
    this.nodes.set(n.path, n);
    this.childCache = undefined;
  }

  private removeTree(p: string): void {
    this.nodes.delete(p);
    const prefix = `${p}/`;
    for (const k of [...this.nodes.keys()]) if (k.startsWith(prefix)) this.nodes.delete(k);
    this.childCache = undefined;
  }

  private async read(body: ByteSource): Promise<void> {
    const limit = this.opts.memoryLimit ?? 256 * 1024 * 1024;
    // The docker CLI sends a tar that ends right after the last file's data when
    // it adds a Dockerfile from outside the context (no padding, no end blocks);
    // Go's reader accepts that, so a stream that ends just after a complete
    // entry is completed here. A stream cut inside an entry stays an error.
    let between = true;
    const t0 = Date.now();
    const digests: Array<Promise<void>> = [];
    const plain = await decompress(body);
    const completed = (async function* (): AsyncGenerator<Buffer> {
      let total = 0;
      for await (const c of plain) {
        total += c.length;
        yield c;
      }
      if (between) yield Buffer.alloc(((512 - (total % 512)) % 512) + 1024);
    })();
    for await (const e of readTar(completed)) {
      between = false;
      if (this.opts.signal?.aborted) throw invalid('build canceled');
      const h = e.header;
      const p = cleanContextPath(h.name);
      const base = { path: p, mode: h.mode & 0o7777, uid: h.uid, gid: h.gid, mtime: Math.floor(h.mtime), linkname: '', ...(h.xattrs.size ? { xattrs: h.xattrs } : {}) };
      switch (h.type) {
        case 'dir':
          this.add({ ...base, type: 'dir', size: 0 });
          break;
        case 'symlink':
          this.add({ ...base, type: 'symlink', size: 0, linkname: h.linkname });
          break;
        case 'link': {
          const target = this.nodes.get(cleanContextPath(h.linkname));
          if (!target || target.type !== 'file') throw invalid(`invalid build context: hard link ${JSON.stringify(h.name)} to missing file ${JSON.stringify(h.linkname)}`);
          this.add({ ...target, ...base, type: 'file', size: target.size, ...(target.chunks ? { chunks: target.chunks } : {}), ...(target.offset !== undefined ? { offset: target.offset } : {}) });
          break;
        }
        case 'file': {
          // Content is hashed as it arrives: the upload is the slow part, and
          // COPY's cache key needs the checksum before anything else.
          const node: CtxNode = { ...base, type: 'file', size: h.size };
          const eager = this.opts.hashOnArrival ?? true;
          let sha: Promise<string> | undefined;
          if (this.memory + h.size <= limit) {
            const stored = await this.arena.store(e.body, h.size, eager);
            this.memory += h.size;
            node.chunks = stored.chunks;
            sha = stored.digest;
          } else {
            const hash = eager ? contentHasher(h.size) : undefined;
            node.offset = await this.spool(e.body, hash);
            sha = hash?.digest();
          }
          if (sha) {
            const digest = sha.then((hex) => {
              node.sha = hex;
            });
            digest.catch(() => undefined); // awaited below; never an unhandled rejection if reading fails first
            digests.push(digest);
          }
          this.add(node);
          break;
        }
        default:
          // Devices, fifos and unknown types are not build inputs.
          break;
      }
      // Every entry's data has been read (file bodies above; other types carry none), except unknown types that readTar skips.
      between = h.type !== 'other';
    }
    const readMs = Date.now() - t0;
    await Promise.all(digests);
    log.debug('build context received', { entries: this.nodes.size - 1, bytes: this.memory + this.spoolSize, readMs, hashWaitMs: Date.now() - t0 - readMs });
  }

  private async spool(body: AsyncIterable<Buffer>, hash: ContentHasher | undefined): Promise<number> {
    if (this.spoolFd === undefined) {
      fs.mkdirSync(this.opts.spoolDir, { recursive: true, mode: 0o700 });
      this.spoolFile = path.join(this.opts.spoolDir, `context-${process.pid}-${Date.now()}-${Math.random().toString(16).slice(2)}`);
      this.spoolFd = fs.openSync(this.spoolFile, 'w+', 0o600);
    }
    const start = this.spoolSize;
    const fd = this.spoolFd;
    for await (const c of body) {
      hash?.update(c);
      let off = 0;
      while (off < c.length) {
        const n = await new Promise<number>((resolve, reject) => fs.write(fd, c, off, c.length - off, this.spoolSize, (err, w) => (err ? reject(err) : resolve(w))));
        off += n;
        this.spoolSize += n;
      }
    }
    return start;
  }

  /** Removes the spool file and gives the in-memory data back (nothing may read the context afterwards). */
  close(): void {
    // Segments go to the next build: drop every reference so a late reader sees no data rather than another build's.
    for (const n of this.nodes.values()) if (n.chunks) delete n.chunks;
    this.arena.release();
    if (this.spoolFd !== undefined) {
      fs.closeSync(this.spoolFd);
      this.spoolFd = undefined;
    }
    if (this.spoolFile) fs.rmSync(this.spoolFile, { force: true });
    this.spoolFile = undefined;
  }

  // ---------- lookup ----------

  get size(): number {
    return this.nodes.size - 1;
  }

  /** The node at a cleaned path, without following symlinks. */
  lstat(p: string): CtxNode | undefined {
    return this.nodes.get(p);
  }

  /**
   * Resolves a path inside the context following symlinks (absolute targets
   * restart at the context root, `..` stops at it). Returns the cleaned path of
   * what it names (which may not exist), or null when the path itself climbs out.
   */
  resolve(p: string, followLast = true): string | null {
    const comps = splitClean(p);
    if (comps === null) return null;
    const todo = comps.reverse();
    const cur: string[] = [];
    let links = 0;
    while (todo.length) {
      const c = todo.pop() as string;
      if (c === '' || c === '.') continue;
      if (c === '..') {
        cur.pop();
        continue;
      }
      const candidate = [...cur, c].join('/');
      const n = this.nodes.get(candidate);
      if (n && n.type === 'symlink' && (todo.length > 0 || followLast)) {
        if (++links > 255) throw invalid(`too many levels of symbolic links: ${p}`);
        if (n.linkname.startsWith('/')) cur.length = 0;
        for (const t of n.linkname.split('/').reverse()) todo.push(t);
        continue;
      }
      cur.push(c);
    }
    return cur.join('/');
  }

  /** stat(): the node a path names after following symlinks. */
  stat(p: string): CtxNode | undefined {
    const r = this.resolve(p);
    return r === null ? undefined : this.nodes.get(r);
  }

  private children(): Map<string, string[]> {
    if (this.childCache) return this.childCache;
    const m = new Map<string, string[]>();
    for (const k of this.nodes.keys()) {
      if (k === '') continue;
      const i = k.lastIndexOf('/');
      const parent = i < 0 ? '' : k.slice(0, i);
      let l = m.get(parent);
      if (!l) m.set(parent, (l = []));
      l.push(k);
    }
    for (const l of m.values()) l.sort();
    this.childCache = m;
    return m;
  }

  /** dir and everything below it, parents before children, names in byte order (dir itself first). */
  *walk(dir: string): Generator<CtxNode> {
    const kids = this.children();
    const visit = function* (this: BuildContext, p: string): Generator<CtxNode> {
      const n = this.nodes.get(p);
      if (!n) return;
      yield n;
      if (n.type === 'dir') for (const c of kids.get(p) ?? []) yield* visit.call(this, c);
    };
    yield* visit.call(this, dir);
  }

  /** Paths matching a wildcard pattern (Go filepath.Match per path; a matching directory's children are not listed separately). */
  glob(pattern: string): string[] {
    const comps = splitClean(pattern);
    if (comps === null) return [];
    const re = globToRegExp(comps.join('/'));
    const out: string[] = [];
    for (const n of this.walk('')) {
      if (n.path === '') continue;
      if (out.length && n.path.startsWith(`${out[out.length - 1] as string}/`)) continue;
      if (re.test(n.path)) out.push(n.path);
    }
    return out;
  }

  // ---------- data ----------

  /** A file's content as chunks (zero-copy from memory, or read from the spool). */
  async *body(n: CtxNode): AsyncGenerator<Buffer> {
    if (n.chunks) {
      yield* n.chunks;
      return;
    }
    if (n.offset === undefined || this.spoolFd === undefined) return;
    const fd = this.spoolFd;
    let pos = n.offset;
    let left = n.size;
    while (left > 0) {
      const buf = Buffer.allocUnsafe(Math.min(left, 1 << 20));
      const got = await new Promise<number>((resolve, reject) => fs.read(fd, buf, 0, buf.length, pos, (err, r) => (err ? reject(err) : resolve(r))));
      if (got === 0) throw new Error('build context spool file is truncated');
      pos += got;
      left -= got;
      yield got === buf.length ? buf : buf.subarray(0, got);
    }
  }

  async readFile(n: CtxNode): Promise<Buffer> {
    const parts: Buffer[] = [];
    for await (const c of this.body(n)) parts.push(c);
    return Buffer.concat(parts);
  }

  /** sha256 hex of a file's content (cached); a big file's is computed on a hash worker. */
  async contentHash(n: CtxNode): Promise<string> {
    if (n.sha) return n.sha;
    const h = n.size >= 1 << 20 ? streamHasher(0) : contentHasher(n.size);
    for await (const c of this.body(n)) h.update(c);
    n.sha = await h.digest();
    return n.sha;
  }

  // ---------- .dockerignore ----------

  /**
   * Applies .dockerignore (when present) to the context, as the daemon does
   * with what it receives. Paths in `always` (the Dockerfile, .dockerignore)
   * stay readable: they are only removed from what COPY sees, as Docker does
   * when the patterns name them.
   */
  async applyDockerignore(): Promise<PatternMatcher | undefined> {
    const n = this.stat('.dockerignore');
    if (!n || n.type !== 'file') return undefined;
    let m: PatternMatcher;
    try {
      m = new PatternMatcher(parseDockerignore((await this.readFile(n)).toString('utf8')));
    } catch (e) {
      throw invalid(`failed to parse .dockerignore: ${(e as Error).message}`);
    }
    if (m.empty) return m;
    for (const p of [...this.nodes.keys()]) {
      if (p === '' || !this.nodes.has(p)) continue;
      const node = this.nodes.get(p) as CtxNode;
      if (!m.matches(p)) continue;
      if (node.type === 'dir' && m.hasExclusions) {
        // Keep the directory (as implicit) when an exception may re-include something below it.
        node.implicit = true;
        continue;
      }
      if (node.type === 'dir') this.removeTree(p);
      else this.nodes.delete(p);
    }
    // Directories that were excluded and kept only for their children: drop the empty ones.
    if (m.hasExclusions) {
      const paths = [...this.nodes.keys()].sort().reverse();
      const kids = new Map<string, number>();
      for (const p of paths) {
        const node = this.nodes.get(p) as CtxNode;
        const i = p.lastIndexOf('/');
        const parent = i < 0 ? '' : p.slice(0, i);
        if (node.type === 'dir' && p !== '' && m.matches(p) && !(kids.get(p) ?? 0)) {
          this.nodes.delete(p);
          continue;
        }
        kids.set(parent, (kids.get(parent) ?? 0) + 1);
      }
    }
    this.childCache = undefined;
    return m;
  }

  /** Removes a path (and what is below it) from what COPY sees. */
  remove(p: string): void {
    const n = this.nodes.get(p);
    if (!n || p === '') return;
    if (n.type === 'dir') this.removeTree(p);
    else this.nodes.delete(p);
  }
}
