// Tar archives: a streaming reader and writer, extraction that treats its input
// as hostile, and directory → tar for export/commit.
//
// Own codec rather than tar-stream: PAX values must stay binary (xattrs such as
// security.capability), big uids/sizes need PAX/base-256, and parsing straight
// from the source chunks (zero-copy bodies, no per-entry stream objects) keeps
// extraction close to `tar -x` speed.
//
// Extraction safety model (what a chroot would give, without one): names are
// cleaned lexically (`..` above the root is an error, a leading `/` is dropped),
// every parent directory is resolved by following symlinks *inside* the root
// (resolveInRoot), and the final component is created after unlinking what was
// there, with O_EXCL|O_NOFOLLOW for files. This is race-free as long as nothing
// else modifies the tree during extraction (true for layer snapshots; a live
// container rootfs would need openat2(RESOLVE_IN_ROOT)).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { spawn } from 'node:child_process';
import { invalid } from './errors';
import { gunzip } from './gunzip';
import { native, S_IFCHR } from './native';

const BLOCK = 512;
const MAX_SPECIAL = 1 << 20; // cap on PAX / GNU long-name records (as Go's archive/tar)
const S_IFBLK = 0o060000;
const S_IFIFO = 0o010000;

export type TarEntryType = 'file' | 'link' | 'symlink' | 'char' | 'block' | 'dir' | 'fifo' | 'other';

export interface TarHeader {
  name: string;
  type: TarEntryType;
  /** Raw typeflag character, for 'other'. */
  typeflag: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  /** Seconds since the epoch (fractional with PAX). */
  mtime: number;
  linkname: string;
  uname: string;
  gname: string;
  devmajor: number;
  devminor: number;
  /** SCHILY.xattr.* from PAX headers, values binary-safe. */
  xattrs: Map<string, Buffer>;
}

export interface TarEntry {
  header: TarHeader;
  /** The entry's data. Consume it before asking for the next entry; if not consumed it is skipped. */
  body: AsyncIterable<Buffer>;
}

export type ByteSource = NodeJS.ReadableStream | AsyncIterable<Uint8Array | string>;

// ---------------------------------------------------------------------------
// Byte reader over an async iterator of chunks.

class ByteReader {
  private chunks: Buffer[] = [];
  private avail = 0;
  private ended = false;
  constructor(private readonly it: AsyncIterator<Uint8Array | string>) {}

  /** Buffers until n bytes are available; false at EOF before that. */
  async need(n: number): Promise<boolean> {
    while (this.avail < n && !this.ended) {
      const r = await this.it.next();
      if (r.done) this.ended = true;
      else {
        const b = toBuffer(r.value);
        if (b.length) {
          this.chunks.push(b);
          this.avail += b.length;
        }
      }
    }
    return this.avail >= n;
  }

  /** Takes n buffered bytes (copying only when they span chunks). */
  take(n: number): Buffer {
    const first = this.chunks[0];
    if (first && first.length >= n) {
      const out = first.subarray(0, n);
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
      this.avail -= n;
      return out;
    }
    const out = Buffer.allocUnsafe(n);
    let off = 0;
    while (off < n) {
      const c = this.chunks[0] as Buffer;
      const k = Math.min(c.length, n - off);
      c.copy(out, off, 0, k);
      off += k;
      if (k === c.length) this.chunks.shift();
      else this.chunks[0] = c.subarray(k);
    }
    this.avail -= n;
    return out;
  }

  /** Next piece of at most n bytes, zero-copy; throws at premature EOF. */
  async piece(n: number): Promise<Buffer> {
    if (!(await this.need(1))) throw invalid('unexpected EOF in tar archive');
    const c = this.chunks[0] as Buffer;
    if (c.length <= n) {
      this.chunks.shift();
      this.avail -= c.length;
      return c;
    }
    this.chunks[0] = c.subarray(n);
    this.avail -= n;
    return c.subarray(0, n);
  }

  async skip(n: number): Promise<void> {
    while (n > 0) n -= (await this.piece(n)).length;
  }

  async drain(): Promise<void> {
    this.chunks = [];
    this.avail = 0;
    while (!this.ended) {
      const r = await this.it.next();
      if (r.done) this.ended = true;
    }
  }
}

function toBuffer(v: Uint8Array | string): Buffer {
  if (Buffer.isBuffer(v)) return v;
  if (typeof v === 'string') return Buffer.from(v);
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
}

/** Iterates a stream without destroying it when iteration stops early (so an HTTP request stays answerable). */
function iterate(src: ByteSource): AsyncIterator<Uint8Array | string> {
  if (src instanceof Readable) return src.iterator({ destroyOnReturn: false })[Symbol.asyncIterator]();
  return (src as AsyncIterable<Uint8Array | string>)[Symbol.asyncIterator]();
}

// ---------------------------------------------------------------------------
// Decompression (Docker's DecompressStream: gzip, bzip2, xz, zstd by magic).

/**
 * Returns the decompressed bytes of src, detecting gzip/bzip2/xz/zstd by magic number;
 * plain data passes through untouched. gzip is done in-process, the others via the
 * system's decompressor.
 */
export async function decompress(src: ByteSource): Promise<AsyncIterable<Buffer>> {
  const it = iterate(src);
  const head: Buffer[] = [];
  let len = 0;
  let done = false;
  while (len < 6) {
    const r = await it.next();
    if (r.done) {
      done = true;
      break;
    }
    const b = toBuffer(r.value);
    head.push(b);
    len += b.length;
  }
  const magic = Buffer.concat(head, len);
  async function* all(): AsyncGenerator<Buffer> {
    if (magic.length) yield magic;
    if (done) return;
    for (;;) {
      const r = await it.next();
      if (r.done) return;
      yield toBuffer(r.value);
    }
  }
  const is = (...b: number[]): boolean => b.every((x, i) => magic[i] === x);
  if (is(0x1f, 0x8b, 0x08)) return gunzip(all());
  let cmd: string[] | undefined;
  if (is(0x42, 0x5a, 0x68)) cmd = ['bzip2', '-dc'];
  else if (is(0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00)) cmd = ['xz', '-dc'];
  else if (is(0x28, 0xb5, 0x2f, 0xfd)) cmd = ['zstd', '-dc'];
  if (cmd) return externalFilter(cmd, all());
  return all();
}

async function* externalFilter(cmd: string[], input: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  const [bin = '', ...args] = cmd;
  const child = spawn(bin, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number>((resolve, reject) => {
    child.on('error', (e) => reject(invalid(`cannot decompress (${bin}): ${e.message}`)));
    child.on('close', (code) => resolve(code ?? 1));
  });
  exited.catch(() => undefined);
  const feeding = (async () => {
    try {
      for await (const c of input) if (!child.stdin.write(c)) await new Promise((r) => child.stdin.once('drain', r));
    } finally {
      child.stdin.end();
    }
  })();
  feeding.catch(() => child.kill());
  child.stdin.on('error', () => undefined);
  try {
    for await (const c of child.stdout) yield c as Buffer;
    await feeding;
    const code = await exited;
    if (code !== 0) throw invalid(stderr.trim() || `${bin}: exit status ${code}`);
  } finally {
    if (child.exitCode === null) child.kill();
  }
}

// ---------------------------------------------------------------------------
// Reader

function parseNumeric(b: Buffer, off: number, len: number): number {
  const f = b.subarray(off, off + len);
  if ((f[0] ?? 0) & 0x80) {
    // base-256 (GNU): big-endian two's complement; only positive values are meaningful here.
    if (f[0] === 0xff) throw invalid('invalid tar header: negative numeric field');
    let v = (f[0] ?? 0) & 0x7f;
    for (let i = 1; i < f.length; i++) v = v * 256 + (f[i] ?? 0);
    if (!Number.isSafeInteger(v)) throw invalid('invalid tar header: numeric field too large');
    return v;
  }
  let s = 0;
  let e = f.length;
  while (s < e && (f[s] === 0x20 || f[s] === 0)) s++;
  let i = s;
  while (i < e && f[i] !== 0x20 && f[i] !== 0) i++;
  e = i;
  if (s === e) return 0;
  const str = f.toString('latin1', s, e);
  if (!/^[0-7]+$/.test(str)) throw invalid('invalid tar header: bad numeric field');
  return parseInt(str, 8);
}

function cstr(b: Buffer, off: number, len: number): string {
  const f = b.subarray(off, off + len);
  const z = f.indexOf(0);
  return f.toString('utf8', 0, z < 0 ? len : z);
}

function checksumOk(b: Buffer): boolean {
  let u = 0;
  let s = 0;
  for (let i = 0; i < BLOCK; i++) {
    const c = i >= 148 && i < 156 ? 0x20 : (b[i] ?? 0);
    u += c;
    s += c > 127 ? c - 256 : c;
  }
  const want = parseNumeric(b, 148, 8);
  return want === u || want === s;
}

function isZero(b: Buffer): boolean {
  for (let i = 0; i < BLOCK; i++) if (b[i] !== 0) return false;
  return true;
}

const typeOf: Record<string, TarEntryType> = {
  '0': 'file', '\0': 'file', '7': 'file', '1': 'link', '2': 'symlink', '3': 'char', '4': 'block', '5': 'dir', '6': 'fifo',
};

/** Parses PAX records; values stay binary. */
function parsePax(buf: Buffer, into: Map<string, Buffer>): void {
  let off = 0;
  while (off < buf.length) {
    const sp = buf.indexOf(0x20, off);
    if (sp < 0) throw invalid('invalid PAX header');
    const n = Number(buf.toString('latin1', off, sp));
    if (!Number.isInteger(n) || n <= sp - off + 1 || off + n > buf.length || buf[off + n - 1] !== 0x0a) throw invalid('invalid PAX header');
    const rec = buf.subarray(sp + 1, off + n - 1);
    const eq = rec.indexOf(0x3d);
    if (eq < 0) throw invalid('invalid PAX header');
    const key = rec.toString('utf8', 0, eq);
    const value = rec.subarray(eq + 1);
    // An empty value deletes the key (POSIX); keep it as empty so it overrides a global one.
    into.set(key, Buffer.from(value));
    off += n;
  }
}

function paxNumber(v: Buffer | undefined): number | undefined {
  if (v === undefined || v.length === 0) return undefined;
  const n = Number(v.toString('latin1'));
  if (!Number.isFinite(n) || n < 0) throw invalid('invalid PAX numeric value');
  return n;
}

/**
 * Streams the entries of an (uncompressed) tar archive. Reads to the end of the
 * source even after the end-of-archive marker, so digests computed on the way
 * cover every byte.
 */
export async function* readTar(src: ByteSource): AsyncGenerator<TarEntry> {
  const it = iterate(src);
  try {
    yield* entries(new ByteReader(it));
  } finally {
    // Finalises generator sources (kills an external decompressor); a Readable source is left undestroyed.
    await it.return?.();
  }
}

async function* entries(r: ByteReader): AsyncGenerator<TarEntry> {
  const globalPax = new Map<string, Buffer>();
  let pax: Map<string, Buffer> | null = null;
  let longName: string | null = null;
  let longLink: string | null = null;
  for (;;) {
    if (!(await r.need(BLOCK))) {
      // EOF without the end marker: fine at a boundary (as Go), an error mid-header.
      if (await r.need(1)) throw invalid('unexpected EOF in tar archive');
      return;
    }
    const h = r.take(BLOCK);
    if (isZero(h)) {
      await r.drain();
      return;
    }
    if (!checksumOk(h)) throw invalid('invalid tar header: checksum mismatch (is this a tar archive?)');
    const flag = String.fromCharCode(h[156] ?? 0);
    const size = parseNumeric(h, 124, 12);
    const padded = Math.ceil(size / BLOCK) * BLOCK;
    if (flag === 'x' || flag === 'g' || flag === 'L' || flag === 'K') {
      if (size > MAX_SPECIAL) throw invalid('tar extended header too large');
      await r.need(padded);
      const data = r.take(padded).subarray(0, size);
      if (flag === 'x') parsePax(data, (pax ??= new Map()));
      else if (flag === 'g') parsePax(data, globalPax);
      else {
        const z = data.indexOf(0);
        const s = data.toString('utf8', 0, z < 0 ? data.length : z);
        if (flag === 'L') longName = s;
        else longLink = s;
      }
      continue;
    }
    if (flag === 'S') throw invalid('GNU sparse files are not supported');
    const ustar = h.toString('latin1', 257, 263) === 'ustar\0';
    let name = cstr(h, 0, 100);
    if (ustar && h[345] !== 0) name = `${cstr(h, 345, 155)}/${name}`;
    const type: TarEntryType = typeOf[flag] ?? 'other';
    const hdr: TarHeader = {
      name,
      type,
      typeflag: flag,
      mode: parseNumeric(h, 100, 8) & 0o7777,
      uid: parseNumeric(h, 108, 8),
      gid: parseNumeric(h, 116, 8),
      size,
      mtime: parseNumeric(h, 136, 12),
      linkname: cstr(h, 157, 100),
      uname: cstr(h, 265, 32),
      gname: cstr(h, 297, 32),
      devmajor: type === 'char' || type === 'block' ? parseNumeric(h, 329, 8) : 0,
      devminor: type === 'char' || type === 'block' ? parseNumeric(h, 337, 8) : 0,
      xattrs: new Map(),
    };
    if (longName !== null) hdr.name = longName;
    if (longLink !== null) hdr.linkname = longLink;
    longName = longLink = null;
    const p = new Map([...globalPax, ...(pax ?? [])]);
    pax = null;
    if (p.size) {
      for (const [k, v] of p) {
        if (k === 'path' && v.length) hdr.name = v.toString('utf8');
        else if (k === 'linkpath' && v.length) hdr.linkname = v.toString('utf8');
        else if (k === 'size') hdr.size = paxNumber(v) ?? hdr.size;
        else if (k === 'uid') hdr.uid = paxNumber(v) ?? hdr.uid;
        else if (k === 'gid') hdr.gid = paxNumber(v) ?? hdr.gid;
        else if (k === 'mtime') hdr.mtime = paxNumber(v) ?? hdr.mtime;
        else if (k === 'uname') hdr.uname = v.toString('utf8');
        else if (k === 'gname') hdr.gname = v.toString('utf8');
        else if (k.startsWith('SCHILY.xattr.')) hdr.xattrs.set(k.slice(13), v);
        else if (k.startsWith('GNU.sparse.')) throw invalid('sparse files are not supported');
      }
      if (!Number.isSafeInteger(hdr.size)) throw invalid('invalid tar entry size');
    }
    // Old tars mark directories by a trailing slash on a regular-file entry.
    if (type === 'file' && flag !== '7' && hdr.name.endsWith('/')) hdr.type = 'dir';
    // Header-only types carry no data whatever their size field says (as Go's reader).
    const dataSize = hdr.type === 'file' || hdr.type === 'other' ? hdr.size : 0;
    if (hdr.type !== 'file' && hdr.type !== 'other') hdr.size = 0;
    let remaining = dataSize;
    const body: AsyncIterable<Buffer> = {
      async *[Symbol.asyncIterator]() {
        while (remaining > 0) {
          const piece = await r.piece(remaining);
          remaining -= piece.length; // before yielding: an abandoned body is skipped exactly
          yield piece;
        }
      },
    };
    yield { header: hdr, body };
    await r.skip(remaining + (Math.ceil(dataSize / BLOCK) * BLOCK - dataSize));
  }
}

// ---------------------------------------------------------------------------
// Writer

export interface TarInput {
  name: string;
  type: Exclude<TarEntryType, 'other'>;
  mode?: number;
  uid?: number;
  gid?: number;
  /** Seconds since the epoch (truncated to whole seconds, like Docker). */
  mtime?: number;
  linkname?: string;
  devmajor?: number;
  devminor?: number;
  xattrs?: Map<string, Buffer>;
  /** Data size; required with a streamed body (checked against it). */
  size?: number;
  body?: Buffer | AsyncIterable<Buffer>;
}

const flagOf: Record<Exclude<TarEntryType, 'other'>, string> = {
  file: '0', link: '1', symlink: '2', char: '3', block: '4', dir: '5', fifo: '6',
};

function writeOctal(b: Buffer, off: number, len: number, v: number): boolean {
  const s = Math.trunc(v).toString(8);
  if (s.length > len - 1) return false;
  b.write(s.padStart(len - 1, '0'), off, 'latin1');
  b[off + len - 1] = 0;
  return true;
}

function paxRecord(key: string, value: Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(` ${key}=`), value, Buffer.from('\n')]);
  let n = body.length + 1;
  while (String(n).length + body.length !== n) n = String(n).length + body.length;
  return Buffer.concat([Buffer.from(String(n)), body]);
}

function isAscii(s: string): boolean {
  return /^[\x01-\x7f]*$/.test(s);
}

/** Splits a name into ustar prefix/name, or null when it needs PAX. */
function splitUstar(name: string): [string, string] | null {
  if (!isAscii(name)) return null;
  if (name.length <= 100) return ['', name];
  if (name.length > 256) return null;
  for (let i = name.length - 1; i > 0; i--) {
    if (name[i] !== '/') continue;
    const pre = name.slice(0, i);
    const rest = name.slice(i + 1);
    if (pre.length <= 155 && rest.length <= 100 && rest.length > 0) return [pre, rest];
    if (pre.length <= 155) break;
  }
  return null;
}

/** Encodes one entry's header blocks (with a PAX header when needed). */
export function encodeHeader(e: TarInput, size: number): Buffer {
  const records: Buffer[] = [];
  const h = Buffer.alloc(BLOCK);
  const name = e.type === 'dir' && !e.name.endsWith('/') ? `${e.name}/` : e.name;
  const split = splitUstar(name);
  if (split) {
    h.write(split[1], 0, 'latin1');
    if (split[0]) h.write(split[0], 345, 'latin1');
  } else {
    records.push(paxRecord('path', Buffer.from(name)));
    h.write(Buffer.from(name).subarray(0, 100).toString('latin1').replace(/[^\x01-\x7f]/g, '_'), 0, 'latin1');
  }
  writeOctal(h, 100, 8, (e.mode ?? (e.type === 'dir' ? 0o755 : 0o644)) & 0o7777);
  for (const [k, off] of [['uid', 108], ['gid', 116]] as const) {
    const v = e[k] ?? 0;
    if (!writeOctal(h, off, 8, v)) {
      records.push(paxRecord(k, Buffer.from(String(v))));
      writeOctal(h, off, 8, 0);
    }
  }
  if (!writeOctal(h, 124, 12, size)) {
    records.push(paxRecord('size', Buffer.from(String(size))));
    // base-256 in the field too, for readers that ignore PAX size
    h[124] = 0x80;
    let v = size;
    for (let i = 135; i > 124; i--) {
      h[i] = v % 256;
      v = Math.floor(v / 256);
    }
  }
  writeOctal(h, 136, 12, Math.max(0, Math.floor(e.mtime ?? 0)));
  h.write(flagOf[e.type], 156, 'latin1');
  const link = e.linkname ?? '';
  if (link) {
    if (isAscii(link) && link.length <= 100) h.write(link, 157, 'latin1');
    else records.push(paxRecord('linkpath', Buffer.from(link)));
  }
  h.write('ustar\u000000', 257, 'latin1');
  writeOctal(h, 329, 8, e.devmajor ?? 0);
  writeOctal(h, 337, 8, e.devminor ?? 0);
  for (const [k, v] of e.xattrs ?? []) records.push(paxRecord(`SCHILY.xattr.${k}`, v));
  finishChecksum(h);
  if (!records.length) return h;
  const data = Buffer.concat(records);
  const ph = Buffer.alloc(BLOCK);
  ph.write(`PaxHeaders.0/${path.posix.basename(name).replace(/[^\x01-\x7f]/g, '_')}`.slice(0, 100), 0, 'latin1');
  writeOctal(ph, 100, 8, 0o644);
  writeOctal(ph, 108, 8, 0);
  writeOctal(ph, 116, 8, 0);
  writeOctal(ph, 124, 12, data.length);
  writeOctal(ph, 136, 12, Math.max(0, Math.floor(e.mtime ?? 0)));
  ph.write('x', 156, 'latin1');
  ph.write('ustar\u000000', 257, 'latin1');
  finishChecksum(ph);
  return Buffer.concat([ph, data, Buffer.alloc(pad(data.length)), h]);
}

function finishChecksum(h: Buffer): void {
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += h[i] ?? 0;
  h.write(sum.toString(8).padStart(6, '0'), 148, 'latin1');
  h[154] = 0;
  h[155] = 0x20;
}

function pad(n: number): number {
  return (BLOCK - (n % BLOCK)) % BLOCK;
}

/** The bytes of a tar of the given entries, as the pieces they are made of (headers, bodies, padding). */
export async function* packChunks(entries: AsyncIterable<TarInput> | Iterable<TarInput>): AsyncGenerator<Buffer> {
  for await (const e of entries) {
    const body = e.type === 'file' ? e.body : undefined;
    const size = Buffer.isBuffer(body) ? body.length : body ? (e.size ?? -1) : 0;
    if (size < 0) throw new Error(`tar entry ${e.name}: a streamed body needs a size`);
    yield encodeHeader(e, size);
    if (Buffer.isBuffer(body)) yield body;
    else if (body) {
      let n = 0;
      for await (const c of body) {
        n += c.length;
        if (n > size) throw new Error(`tar entry ${e.name}: body longer than its size`);
        yield c;
      }
      if (n !== size) throw new Error(`tar entry ${e.name}: body shorter than its size (file changed while archiving?)`);
    }
    if (pad(size)) yield Buffer.alloc(pad(size));
  }
  yield Buffer.alloc(BLOCK * 2);
}

/** A tar stream of the given entries (for save and similar). */
export function packTar(entries: AsyncIterable<TarInput> | Iterable<TarInput>): Readable {
  return Readable.from(packChunks(entries), { objectMode: false });
}

// ---------------------------------------------------------------------------
// Path resolution inside a root

function mkErr(code: string, msg: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: ${msg}`), { code });
}

/**
 * Resolves components below root the way a chroot would: symlinks are followed
 * with absolute targets restarting at root and `..` clamped at root. With mkdir,
 * missing directories are created (0755). Returns an absolute path whose existing
 * components are real directories (the last one too when followLast).
 */
function resolveComponents(root: string, comps: string[], followLast: boolean, mkdir?: (p: string) => void): string {
  const todo = comps.slice().reverse();
  const cur: string[] = [];
  let links = 0;
  let missing = false;
  while (todo.length) {
    const c = todo.pop() as string;
    if (c === '' || c === '.') continue;
    if (c === '..') {
      cur.pop();
      continue;
    }
    const p = cur.length ? `${root}/${cur.join('/')}/${c}` : `${root}/${c}`;
    const last = todo.length === 0;
    if (!missing) {
      let st: fs.Stats | undefined;
      try {
        st = fs.lstatSync(p);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      }
      if (!st) {
        if (mkdir && !last) {
          fs.mkdirSync(p, 0o755);
          mkdir(p);
        } else missing = true;
      } else if (st.isSymbolicLink() && (!last || followLast)) {
        if (++links > 255) throw mkErr('ELOOP', `too many levels of symbolic links: ${p}`);
        const target = fs.readlinkSync(p);
        if (target.startsWith('/')) cur.length = 0;
        for (const t of target.split('/').reverse()) todo.push(t);
        continue;
      } else if (!st.isDirectory() && !last) throw mkErr('ENOTDIR', `not a directory: ${p}`);
    }
    cur.push(c);
  }
  return cur.length ? `${root}/${cur.join('/')}` : root;
}

/**
 * Resolves path p (absolute or relative, interpreted inside root) following
 * symlinks but never leaving root, as a chroot would. The result need not exist.
 */
export function resolveInRoot(root: string, p: string, opts: { followLast?: boolean } = {}): string {
  const r = path.resolve(root);
  return resolveComponents(r === '/' ? '' : r, p.split('/'), opts.followLast ?? true) || '/';
}

/** Cleans an archive name into components; `..` above the root throws (a leading `/` anchors it instead). */
function cleanName(name: string): string[] {
  const rooted = name.startsWith('/');
  const out: string[] = [];
  for (const c of name.split('/')) {
    if (c === '' || c === '.') continue;
    if (c === '..') {
      if (out.length) out.pop();
      else if (!rooted) throw invalid(`invalid tar entry ${JSON.stringify(name)}: path escapes the destination`);
      continue;
    }
    out.push(c);
  }
  return out;
}

// ---------------------------------------------------------------------------
// Extraction

export interface ExtractOptions {
  /**
   * OCI whiteouts (`.wh.<name>`, `.wh..wh..opq`): 'overlay' turns them into overlay
   * whiteouts (0/0 char device, trusted.overlay.opaque=y) for a layer snapshot;
   * 'delete' applies them to a plain directory; 'none' (default) extracts literally.
   */
  whiteouts?: 'overlay' | 'delete' | 'none';
  /** Apply owners from the archive (default: when running as root). */
  sameOwner?: boolean;
  /** Create char/block device nodes (default: when running as root); otherwise skipped like Docker in a user namespace. */
  devices?: boolean;
}

export interface ExtractResult {
  /** Sum of entry sizes (Docker's layer "diff size"). */
  size: number;
  entries: number;
}

const isRoot = (): boolean => typeof process.getuid === 'function' && process.getuid() === 0;
const XATTR_ALLOWED = /^(security|user)\./; // never trusted.* (overlay metadata) or system.* from an archive

/**
 * Sets an entry's extended attributes on p (l*xattr: never through a link),
 * only the security.* and user.* ones; a filesystem without xattrs, or a
 * caller without the right, leaves them off instead of failing the copy.
 */
export function setEntryXattrs(p: string, xattrs: Iterable<[string, Buffer]> | undefined): void {
  for (const [k, v] of xattrs ?? []) {
    if (!XATTR_ALLOWED.test(k)) continue;
    try {
      native().lsetxattr(p, k, v);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'EPERM') throw e;
    }
  }
}

class Extractor {
  readonly result: ExtractResult = { size: 0, entries: 0 };
  private readonly parents = new Map<string, string>();
  private readonly dirTimes: Array<[string, number]> = [];
  private readonly unpacked = new Set<string>();
  private readonly owner: boolean;
  private readonly devices: boolean;
  private readonly wo: 'overlay' | 'delete' | 'none';

  constructor(private readonly root: string, opts: ExtractOptions) {
    this.owner = opts.sameOwner ?? isRoot();
    this.devices = opts.devices ?? isRoot();
    this.wo = opts.whiteouts ?? 'none';
  }

  private parent(comps: string[]): string {
    const key = comps.join('/');
    let p = this.parents.get(key);
    if (p === undefined) {
      p = resolveComponents(this.root, comps, true, (d) => this.unpacked.add(d));
      try {
        fs.mkdirSync(p, 0o755); // the last component itself
        this.unpacked.add(p);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
        if (!fs.lstatSync(p).isDirectory()) throw mkErr('ENOTDIR', `not a directory: ${p}`);
      }
      this.parents.set(key, p);
    }
    return p;
  }

  /** Removes whatever is at p (not following a symlink there). */
  private remove(p: string): void {
    fs.rmSync(p, { recursive: true, force: true });
    this.parents.clear(); // a removed directory may have been a cached parent
  }

  async entry(e: TarEntry): Promise<void> {
    const h = e.header;
    this.result.entries++;
    this.result.size += h.size;
    const comps = cleanName(h.name);
    if (comps.length === 0) {
      if (h.type === 'dir') this.meta(this.root, h, false);
      return;
    }
    if (this.wo !== 'none' && comps[0]?.startsWith('.wh..wh.')) return; // AUFS metadata
    const base = comps[comps.length - 1] as string;
    if (this.wo !== 'none' && base.startsWith('.wh.')) return this.whiteout(comps.slice(0, -1), base, h);
    if (h.type === 'other') return;
    const dir = this.parent(comps.slice(0, -1));
    const target = `${dir}/${base}`;
    let st: fs.Stats | undefined;
    try {
      st = fs.lstatSync(target);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    if (st && !(st.isDirectory() && h.type === 'dir')) {
      // A hard link to itself would lose its target: keep the file.
      if (h.type === 'link' && this.linkTarget(h) === target) return;
      this.remove(target);
    }
    if (this.wo === 'delete') this.unpacked.add(target);
    switch (h.type) {
      case 'dir':
        if (!st?.isDirectory()) fs.mkdirSync(target, 0o700);
        this.meta(target, h, false);
        this.dirTimes.push([target, h.mtime]);
        return;
      case 'file':
        return this.file(target, h, e.body);
      case 'symlink':
        fs.symlinkSync(h.linkname, target);
        this.meta(target, h, true);
        return;
      case 'link': {
        const src = this.linkTarget(h);
        const sst = fs.lstatSync(src); // ENOENT: the archive links to nothing
        if (sst.isDirectory()) throw invalid(`invalid hardlink ${JSON.stringify(h.name)} to a directory`);
        fs.linkSync(src, target);
        return;
      }
      case 'char':
      case 'block':
        if (!this.devices) return;
        native().mknod(target, (h.type === 'char' ? S_IFCHR : S_IFBLK) | (h.mode & 0o7777), h.devmajor, h.devminor);
        this.meta(target, h, false);
        return;
      case 'fifo':
        native().mknod(target, S_IFIFO | (h.mode & 0o7777), 0, 0);
        this.meta(target, h, false);
        return;
    }
  }

  private linkTarget(h: TarHeader): string {
    const comps = cleanName(h.linkname);
    if (!comps.length) throw invalid(`invalid hardlink ${JSON.stringify(h.name)} -> ${JSON.stringify(h.linkname)}`);
    const dir = resolveComponents(this.root, comps.slice(0, -1), true);
    return `${dir}/${comps[comps.length - 1]}`;
  }

  private async file(target: string, h: TarHeader, body: AsyncIterable<Buffer>): Promise<void> {
    const fd = fs.openSync(target, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW, 0o600);
    try {
      for await (const c of body) {
        let off = 0;
        while (off < c.length) off += fs.writeSync(fd, c, off, c.length - off);
      }
      if (this.owner) fs.fchownSync(fd, h.uid, h.gid);
      fs.fchmodSync(fd, h.mode & 0o7777); // after chown, which clears set-id bits
      this.xattrs(target, h);
      fs.futimesSync(fd, h.mtime, h.mtime);
    } finally {
      fs.closeSync(fd);
    }
  }

  private meta(p: string, h: TarHeader, symlink: boolean): void {
    if (this.owner) fs.lchownSync(p, h.uid, h.gid);
    if (!symlink) fs.chmodSync(p, h.mode & 0o7777);
    this.xattrs(p, h);
    if (h.type !== 'dir') fs.lutimesSync(p, h.mtime, h.mtime);
  }

  private xattrs(p: string, h: TarHeader): void {
    setEntryXattrs(p, h.xattrs);
  }

  private whiteout(dirComps: string[], base: string, h: TarHeader): void {
    const dir = this.parent(dirComps);
    if (base === '.wh..wh..opq') {
      if (this.wo === 'overlay') native().lsetxattr(dir, 'trusted.overlay.opaque', Buffer.from('y'));
      else {
        // Delete what the directory held before this archive.
        for (const n of fs.readdirSync(dir)) {
          const p = `${dir}/${n}`;
          if (!this.unpacked.has(p)) this.remove(p);
        }
      }
      return;
    }
    if (base.startsWith('.wh..wh.')) return;
    const name = base.slice(4);
    if (name === '' || name === '.' || name === '..') return;
    const target = `${dir}/${name}`;
    this.remove(target);
    if (this.wo === 'overlay') {
      native().mknod(target, S_IFCHR, 0, 0);
      if (this.owner) fs.lchownSync(target, h.uid, h.gid);
    }
  }

  finish(): void {
    // Directory times last: creating entries inside a directory changes its mtime.
    for (const [p, t] of this.dirTimes) {
      try {
        fs.lutimesSync(p, t, t);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      }
    }
  }
}

/**
 * Extracts a tar stream (plain or compressed, detected by magic) into dest,
 * treating it as hostile (see the top of this file). dest is created if missing.
 */
export async function extractTar(src: ByteSource, dest: string, opts: ExtractOptions = {}): Promise<ExtractResult> {
  fs.mkdirSync(dest, { recursive: true });
  const x = new Extractor(fs.realpathSync(dest), opts);
  for await (const e of readTar(await decompress(src))) await x.entry(e);
  x.finish();
  return x.result;
}

// ---------------------------------------------------------------------------
// Directory → tar

export interface CreateTarOptions {
  /** Convert overlay whiteouts (0/0 char devices, opaque dirs) into OCI `.wh.` entries (for layer diffs of an upper dir). */
  whiteouts?: boolean;
  /** Include an entry for the directory itself (named `./`). Default false, like Docker. */
  includeRoot?: boolean;
  /** Return false to leave out a path (and, for a directory, all below it). rel has no leading `./`. */
  filter?: (rel: string, st: fs.Stats) => boolean;
  /** Prefix for every entry name (e.g. the base name for `docker cp`); default none. */
  prefix?: string;
}

function devNumbers(rdev: number): [number, number] {
  const hi = Math.floor(rdev / 2 ** 32);
  const lo = rdev >>> 0;
  const major = ((lo >>> 8) & 0xfff) | ((hi & 0xfffff000) >>> 0);
  const minor = (lo & 0xff) | ((lo >>> 12) & 0xfff00);
  return [major, minor];
}

function readXattr(p: string, name: string): Buffer | null {
  try {
    return native().lgetxattr(p, name);
  } catch {
    return null;
  }
}

/** File data: small files in one synchronous read (a threadpool round trip per file costs more), big ones streamed. */
export function fileBody(p: string, size: number): Buffer | AsyncIterable<Buffer> {
  if (size > 1 << 20) return fileChunks(p, size);
  const fd = fs.openSync(p, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
  try {
    const buf = Buffer.allocUnsafe(size);
    let off = 0;
    while (off < size) {
      const n = fs.readSync(fd, buf, off, size - off, null);
      if (n === 0) break;
      off += n;
    }
    if (off !== size) throw new Error(`${p}: file changed size while archiving`);
    return buf;
  } finally {
    fs.closeSync(fd);
  }
}

async function* fileChunks(p: string, size: number): AsyncGenerator<Buffer> {
  const fh = await fs.promises.open(p, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
  try {
    let left = size;
    while (left > 0) {
      const buf = Buffer.allocUnsafe(Math.min(left, 1 << 20));
      const { bytesRead } = await fh.read(buf, 0, buf.length, null);
      if (bytesRead === 0) break; // shrank: packChunks reports the mismatch
      left -= bytesRead;
      yield bytesRead === buf.length ? buf : buf.subarray(0, bytesRead);
    }
  } finally {
    await fh.close();
  }
}

/** The entries createTar(dir, opts) archives, in its order (dir must be a directory). */
export async function* treeEntries(dir: string, opts: CreateTarOptions = {}): AsyncGenerator<TarInput> {
  const links = new Map<string, string>();
  const prefix = opts.prefix ? opts.prefix.replace(/\/+$/, '') : '';
  const nameOf = (rel: string): string => (prefix ? (rel ? `${prefix}/${rel}` : prefix) : rel || '.');
  const rootSt = fs.lstatSync(dir);
  async function* visit(abs: string, rel: string, st: fs.Stats): AsyncGenerator<TarInput> {
    const name = nameOf(rel);
    const common = { mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, mtime: Math.floor(st.mtimeMs / 1000) };
    const cap = readXattr(abs, 'security.capability');
    const xattrs = cap ? new Map([['security.capability', cap]]) : undefined;
    const withX = xattrs ? { xattrs } : {};
    if (st.isDirectory()) {
      if (rel || opts.includeRoot || prefix) yield { name: `${name}/`, type: 'dir', ...common, ...withX };
      if (opts.whiteouts && rel && readXattr(abs, 'trusted.overlay.opaque')?.toString() === 'y') {
        yield { name: `${name}/.wh..wh..opq`, type: 'file', ...common, mode: common.mode & 0o777, body: Buffer.alloc(0) };
      }
      const names = fs.readdirSync(abs).sort();
      for (const n of names) {
        const childAbs = `${abs}/${n}`;
        const childRel = rel ? `${rel}/${n}` : n;
        let cst: fs.Stats;
        try {
          cst = fs.lstatSync(childAbs);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue; // vanished meanwhile
          throw e;
        }
        if (opts.filter && !opts.filter(childRel, cst)) continue;
        yield* visit(childAbs, childRel, cst);
      }
    } else if (st.isFile()) {
      const key = `${st.dev}:${st.ino}`;
      const first = st.nlink > 1 ? links.get(key) : undefined;
      if (first !== undefined) {
        yield { name, type: 'link', linkname: first, ...common, ...withX };
        return;
      }
      if (st.nlink > 1) links.set(key, name);
      yield { name, type: 'file', ...common, ...withX, size: st.size, body: fileBody(abs, st.size) };
    } else if (st.isSymbolicLink()) {
      yield { name, type: 'symlink', linkname: fs.readlinkSync(abs), ...common };
    } else if (st.isCharacterDevice() || st.isBlockDevice()) {
      const [major, minor] = devNumbers(st.rdev);
      if (opts.whiteouts && st.isCharacterDevice() && major === 0 && minor === 0) {
        const d = path.posix.dirname(name);
        const wname = `${d === '.' ? '' : `${d}/`}.wh.${path.posix.basename(name)}`;
        yield { name: wname, type: 'file', ...common, mode: 0o600, body: Buffer.alloc(0) };
        return;
      }
      yield { name, type: st.isCharacterDevice() ? 'char' : 'block', devmajor: major, devminor: minor, ...common };
    } else if (st.isFIFO()) {
      yield { name, type: 'fifo', ...common };
    }
    // sockets are skipped, as by Docker
  }
  yield* visit(dir, '', rootSt);
}

/**
 * A tar stream of dir (or of a single file, named by prefix or its base name),
 * in lexical order like Docker's archiver. Hard links are preserved, and
 * security.capability travels as a PAX xattr.
 */
export function createTar(dir: string, opts: CreateTarOptions = {}): Readable {
  const st = fs.lstatSync(dir);
  if (!st.isDirectory() && !opts.prefix) opts = { ...opts, prefix: path.basename(dir) };
  return packTar(treeEntries(dir, opts));
}
