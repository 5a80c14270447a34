// Content-addressed blob store (containerd's local store, simplified):
// blobs live at <root>/content/blobs/sha256/<hex>. A write streams into
// <root>/content/ingest/<random>, hashing on the way; on commit the data is
// fsynced, digest and size are checked against what the caller expected, and
// the file is renamed into place and the directory fsynced. A crash leaves at
// most an ingest file, removed by cleanupIngest() at start-up.
import { createHash, randomBytes, type Hash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { fsyncDir, fsyncFile } from '../common/atomic-fs';
import { invalid, notFound } from '../common/errors';

export interface Expected {
  digest?: string;
  size?: number;
}

export interface Descriptor {
  digest: string;
  size: number;
}

/** An in-progress write; commit() or abort() must be called exactly once. */
export interface ContentWriter {
  write(chunk: Uint8Array): Promise<void>;
  /** Verifies, then moves the blob into place (a no-op move when it already exists). */
  commit(): Promise<Descriptor>;
  abort(): Promise<void>;
}

export interface ContentStore {
  readonly root: string;
  /**
   * Stores a stream or buffer; verifies against expected when given. A buffer
   * stored with durable false is not fsynced (a power loss may leave the blob
   * empty; persist() makes it durable later).
   */
  put(data: NodeJS.ReadableStream | AsyncIterable<Uint8Array> | Uint8Array, expected?: Expected, opts?: { durable?: boolean }): Promise<Descriptor>;
  /** fsyncs a stored blob and its directory. */
  persist(digest: string): void;
  writer(expected?: Expected): Promise<ContentWriter>;
  /**
   * Passes src through unchanged while storing a copy: for consumers that also
   * need the bytes (e.g. extracting a layer while keeping its blob). commit()
   * after the returned iterable has been fully consumed.
   */
  tee(src: AsyncIterable<Uint8Array>, expected?: Expected): Promise<{ stream: AsyncIterable<Buffer>; commit(): Promise<Descriptor>; abort(): Promise<void> }>;
  /** A fresh path in the ingest dir for a blob written elsewhere (a crash leaves it for cleanupIngest). */
  ingestPath(): string;
  /**
   * Moves an ingest file, already verified against digest and fsynced by its
   * writer, into place (dropped when the blob exists already).
   */
  adopt(ingest: string, digest: string): void;
  /** Removes an ingest file (missing is fine). */
  discardIngest(ingest: string): void;
  has(digest: string): boolean;
  /** Path of the blob file (whether or not it exists). */
  path(digest: string): string;
  readBuffer(digest: string): Buffer;
  createReadStream(digest: string): Readable;
  size(digest: string): number;
  delete(digest: string): void;
  list(): string[];
  cleanupIngest(): void;
}

const DIGEST_RE = /^sha256:[a-f0-9]{64}$/;

/** Validates a digest string (guards every path built from one). */
export function checkDigest(d: string): string {
  if (!DIGEST_RE.test(d)) throw invalid(`invalid digest: ${JSON.stringify(d)}`);
  return d;
}

export function sha256(data: Uint8Array | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/** Bytes allowed in flight between hashing and the disk before a write waits. */
const MAX_INFLIGHT = 8 << 20;

class Writer implements ContentWriter {
  private readonly hash: Hash = createHash('sha256');
  private n = 0;
  private pending: Promise<void> = Promise.resolve();
  private inflight = 0;
  private failed: unknown;
  private done = false;

  constructor(private readonly store: LocalContentStore, private readonly fh: fs.promises.FileHandle, private readonly tmp: string, private readonly expected: Expected) {}

  async write(chunk: Uint8Array): Promise<void> {
    if (this.failed !== undefined) throw this.failed;
    this.hash.update(chunk);
    this.n += chunk.length;
    if (this.expected.size !== undefined && this.n > this.expected.size) {
      throw invalid(`content size exceeds the expected ${this.expected.size} bytes`);
    }
    // Writes are chained, not awaited one by one, so hashing/producing overlaps the disk.
    this.inflight += chunk.length;
    this.pending = this.pending.then(async () => {
      if (this.failed !== undefined) return;
      try {
        let off = 0;
        while (off < chunk.length) off += (await this.fh.write(chunk, off, chunk.length - off)).bytesWritten;
      } catch (e) {
        this.failed = e;
      } finally {
        this.inflight -= chunk.length;
      }
    });
    if (this.inflight > MAX_INFLIGHT) await this.pending;
    if (this.failed !== undefined) throw this.failed;
  }

  async commit(): Promise<Descriptor> {
    if (this.done) throw new Error('content writer already finished');
    this.done = true;
    try {
      await this.pending;
      if (this.failed !== undefined) throw this.failed;
      const digest = `sha256:${this.hash.digest('hex')}`;
      if (this.expected.size !== undefined && this.n !== this.expected.size) {
        throw invalid(`unexpected content size ${this.n}, expected ${this.expected.size}`);
      }
      if (this.expected.digest !== undefined && digest !== this.expected.digest) {
        throw invalid(`unexpected content digest ${digest}, expected ${this.expected.digest}`);
      }
      await this.fh.sync();
      await this.fh.close();
      const dst = this.store.path(digest);
      if (fs.existsSync(dst)) fs.rmSync(this.tmp, { force: true });
      else {
        fs.renameSync(this.tmp, dst);
        fsyncDir(path.dirname(dst));
      }
      return { digest, size: this.n };
    } catch (e) {
      await this.fh.close().catch(() => undefined);
      fs.rmSync(this.tmp, { force: true });
      throw e;
    }
  }

  async abort(): Promise<void> {
    if (this.done) return;
    this.done = true;
    await this.pending.catch(() => undefined);
    await this.fh.close().catch(() => undefined);
    fs.rmSync(this.tmp, { force: true });
  }
}

class LocalContentStore implements ContentStore {
  readonly root: string;
  private readonly blobs: string;
  private readonly ingest: string;

  constructor(root: string) {
    this.root = path.join(root, 'content');
    this.blobs = path.join(this.root, 'blobs', 'sha256');
    this.ingest = path.join(this.root, 'ingest');
    fs.mkdirSync(this.blobs, { recursive: true, mode: 0o700 });
    fs.mkdirSync(this.ingest, { recursive: true, mode: 0o700 });
  }

  path(digest: string): string {
    return path.join(this.blobs, checkDigest(digest).slice(7));
  }

  async writer(expected: Expected = {}): Promise<ContentWriter> {
    if (expected.digest !== undefined) checkDigest(expected.digest);
    const tmp = path.join(this.ingest, randomBytes(12).toString('hex'));
    const fh = await fs.promises.open(tmp, 'wx', 0o644);
    return new Writer(this, fh, tmp, expected);
  }

  async put(data: NodeJS.ReadableStream | AsyncIterable<Uint8Array> | Uint8Array, expected: Expected = {}, opts: { durable?: boolean } = {}): Promise<Descriptor> {
    if (data instanceof Uint8Array) {
      // Small blobs (configs, manifests): skip the copy when it is already stored.
      const digest = sha256(data);
      if (expected.digest !== undefined && digest !== expected.digest) throw invalid(`unexpected content digest ${digest}, expected ${expected.digest}`);
      if (expected.size !== undefined && data.length !== expected.size) throw invalid(`unexpected content size ${data.length}, expected ${expected.size}`);
      if (this.has(digest)) return { digest, size: data.length };
      if (opts.durable === false) {
        const tmp = this.ingestPath(); // a crash leaves it for cleanupIngest
        fs.writeFileSync(tmp, data, { mode: 0o644, flag: 'wx' });
        fs.renameSync(tmp, this.path(digest));
        return { digest, size: data.length };
      }
    }
    const w = await this.writer(expected);
    try {
      if (data instanceof Uint8Array) await w.write(data);
      else for await (const c of data as AsyncIterable<Uint8Array | string>) await w.write(typeof c === 'string' ? Buffer.from(c) : c);
    } catch (e) {
      await w.abort();
      throw e;
    }
    return w.commit();
  }

  async tee(src: AsyncIterable<Uint8Array>, expected: Expected = {}): Promise<{ stream: AsyncIterable<Buffer>; commit(): Promise<Descriptor>; abort(): Promise<void> }> {
    const w = await this.writer(expected);
    async function* stream(): AsyncGenerator<Buffer> {
      for await (const c of src) {
        const b = Buffer.isBuffer(c) ? c : Buffer.from(c.buffer, c.byteOffset, c.byteLength);
        await w.write(b);
        yield b;
      }
    }
    return { stream: stream(), commit: () => w.commit(), abort: () => w.abort() };
  }

  persist(digest: string): void {
    fsyncFile(this.path(checkDigest(digest)));
  }

  ingestPath(): string {
    return path.join(this.ingest, randomBytes(12).toString('hex'));
  }

  private checkIngest(p: string): string {
    if (path.dirname(p) !== this.ingest || !/^[a-f0-9]{24}$/.test(path.basename(p))) throw invalid(`not an ingest file: ${p}`);
    return p;
  }

  adopt(ingest: string, digest: string): void {
    const dst = this.path(digest);
    if (fs.existsSync(dst)) {
      fs.rmSync(this.checkIngest(ingest), { force: true });
      return;
    }
    fs.renameSync(this.checkIngest(ingest), dst);
    fsyncDir(path.dirname(dst));
  }

  discardIngest(ingest: string): void {
    fs.rmSync(this.checkIngest(ingest), { force: true });
  }

  has(digest: string): boolean {
    return fs.existsSync(this.path(digest));
  }

  readBuffer(digest: string): Buffer {
    try {
      return fs.readFileSync(this.path(digest));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw notFound(`content ${digest}: not found`);
      throw e;
    }
  }

  createReadStream(digest: string): Readable {
    const p = this.path(digest);
    if (!fs.existsSync(p)) throw notFound(`content ${digest}: not found`);
    return fs.createReadStream(p, { highWaterMark: 1 << 20 });
  }

  size(digest: string): number {
    try {
      return fs.statSync(this.path(digest)).size;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw notFound(`content ${digest}: not found`);
      throw e;
    }
  }

  delete(digest: string): void {
    fs.rmSync(this.path(digest), { force: true });
  }

  list(): string[] {
    return fs.readdirSync(this.blobs).filter((n) => /^[a-f0-9]{64}$/.test(n)).map((n) => `sha256:${n}`);
  }

  cleanupIngest(): void {
    for (const n of fs.readdirSync(this.ingest)) fs.rmSync(path.join(this.ingest, n), { recursive: true, force: true });
  }
}

export function createContentStore(root: string): ContentStore {
  return new LocalContentStore(root);
}
