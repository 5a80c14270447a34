// Unpacking a (compressed) layer blob as it arrives, off the main thread.
//
// One job per layer: the compressed bytes are hashed (sha256 of the blob) and
// written to a content-store ingest file, decompressed, hashed again (the diff
// ID) and extracted into a snapshot temp dir; at the end the ingest file is
// fsynced and the temp dir gets its layer.json (the snapshotter flushes the
// layer's files after the commit). Nothing is committed here: the caller checks the reported digests
// against the manifest and config and only then renames the blob and the layer
// into place — a mismatch stores nothing.
//
// The work runs in a worker thread (dist/unpack-worker.js, one per layer, so
// layers unpack in parallel with each other and with the downloads on the main
// thread); without the worker bundle (unit tests run from source) it runs
// in-process, same code.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { decompress, extractTar } from '../common/archive';
import { memoryReleased } from '../common/memory-hint';

export interface UnpackJob {
  /** Ingest file to create (O_EXCL) for the compressed blob; null when the blob is already stored. */
  ingest: string | null;
  /** The descriptor's size: more bytes than this fail at once (a hostile endless stream). */
  expectedSize: number;
  /** Snapshot temp dir (holds fs/; layer.json is written beside it). */
  tmp: string;
  parent: string | null;
}

export interface UnpackResult {
  /** sha256 of every compressed byte received. */
  digest: string;
  compressedSize: number;
  diffId: string;
  /** Bytes of the uncompressed tar. */
  tarSize: number;
  /** Sum of the tar's entry sizes (Docker's diff size). */
  size: number;
}

/** Raised when the blob is longer than its descriptor says (the caller reports Docker's verification error). */
export class BlobTooLongError extends Error {
  readonly code = 'EBLOBSIZE';
}

/**
 * A failed job. digest is the blob's sha256 when the rest of the input could
 * still be read after the failure: a corrupted blob usually breaks gunzip or
 * the tar reader before its end, and the caller then reports the digest
 * mismatch (Docker's verification error) rather than a decoder's complaint.
 */
export class UnpackError extends Error {
  constructor(message: string, readonly code: string | undefined, readonly digest: string | undefined, readonly compressedSize: number) {
    super(message);
  }
}

/** Runs a job over src (in whichever thread calls it). onConsumed reports compressed bytes taken, for flow control. */
export async function runUnpack(src: ChunkQueue, job: UnpackJob, onConsumed: (n: number) => void): Promise<UnpackResult> {
  const chash = createHash('sha256');
  const phash = createHash('sha256');
  let csize = 0;
  let tarSize = 0;
  let fd = -1;
  // Set when this job stops: a generator left suspended must never write to an fd number that may since name another file.
  let stopped = false;
  if (job.ingest !== null) fd = fs.openSync(job.ingest, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW, 0o644);
  try {
    // Synchronous writes: in a worker they block nothing else, and cost less than a threadpool round trip per chunk.
    async function* compressed(): AsyncGenerator<Buffer> {
      for await (const c of src) {
        csize += c.length;
        if (csize > job.expectedSize) throw new BlobTooLongError(`blob longer than its descriptor's ${job.expectedSize} bytes`);
        if (stopped) throw new Error('unpack stopped');
        chash.update(c);
        if (fd >= 0) for (let off = 0; off < c.length; ) off += fs.writeSync(fd, c, off, c.length - off);
        yield c;
        onConsumed(c.length);
      }
    }
    // By magic, whatever the media type says, as Docker's DecompressStream: gzip (the native decoder), zstd, or none.
    const plain = await decompress(compressed());
    async function* hashed(): AsyncGenerator<Buffer> {
      for await (const c of plain) {
        phash.update(c);
        tarSize += c.length;
        yield c;
      }
    }
    let res: Awaited<ReturnType<typeof extractTar>>;
    try {
      // readTar reads its source to the end, so the diff ID covers every byte; the decoder's end means every compressed byte was read too.
      res = await extractTar(hashed(), path.join(job.tmp, 'fs'), { whiteouts: 'overlay' });
    } catch (e) {
      stopped = true;
      const err = e instanceof Error ? e : new Error(String(e));
      const code = (err as NodeJS.ErrnoException).code;
      if (err instanceof BlobTooLongError || src.failed) throw err;
      // Hash the rest of the blob (nothing more is written) so the caller can tell corruption from a bad archive.
      try {
        for await (const c of src) {
          csize += c.length;
          if (csize > job.expectedSize) throw new BlobTooLongError(`blob longer than its descriptor's ${job.expectedSize} bytes`);
          chash.update(c);
          onConsumed(c.length);
        }
      } catch (e2) {
        throw e2 instanceof BlobTooLongError ? e2 : err;
      }
      throw new UnpackError(err.message, typeof code === 'string' ? code : undefined, `sha256:${chash.digest('hex')}`, csize);
    }
    const diffId = `sha256:${phash.digest('hex')}`;
    if (fd >= 0) fs.fsyncSync(fd);
    // The layer's files are flushed after its commit, in the background with other layers (snapshots/writeback.ts).
    fs.writeFileSync(path.join(job.tmp, 'layer.json'), JSON.stringify({ parent: job.parent, diffId, size: res.size }));
    return { digest: `sha256:${chash.digest('hex')}`, compressedSize: csize, diffId, tarSize, size: res.size };
  } finally {
    stopped = true;
    if (fd >= 0) fs.closeSync(fd);
  }
}

// ---------------------------------------------------------------------------
// Messages between the main thread and a worker.

export type ToWorker = { t: 'job'; job: UnpackJob } | { t: 'data'; b: Uint8Array } | { t: 'end' } | { t: 'abort' };
export type FromWorker =
  | { t: 'ack'; n: number }
  | { t: 'done'; r: UnpackResult }
  | { t: 'error'; message: string; code?: string; digest?: string; compressedSize?: number };

/** An async queue of chunks fed by push()/end()/fail(). */
export class ChunkQueue implements AsyncIterable<Buffer> {
  private readonly items: Buffer[] = [];
  private ended = false;
  private err: Error | undefined;
  private wake: (() => void) | undefined;

  push(b: Buffer): void {
    this.items.push(b);
    this.wake?.();
  }
  end(): void {
    this.ended = true;
    this.wake?.();
  }
  fail(e: Error): void {
    this.err = e;
    this.wake?.();
  }
  get failed(): boolean {
    return this.err !== undefined;
  }
  async *[Symbol.asyncIterator](): AsyncGenerator<Buffer> {
    for (;;) {
      if (this.err) throw this.err;
      const b = this.items.shift();
      if (b) {
        yield b;
        continue;
      }
      if (this.ended) return;
      await new Promise<void>((r) => (this.wake = r));
      this.wake = undefined;
    }
  }
}

// ---------------------------------------------------------------------------
// The main thread's handle on a job.

/**
 * Bytes sent to a job and not yet consumed before write() waits. Generous, so
 * a download runs at the network's pace and frees its download slot for the
 * next layer while its job catches up (the jobs, not the network, are the
 * bottleneck on loopback); all jobs together are held to MAX_TOTAL.
 */
const MAX_INFLIGHT = 64 << 20;
const MAX_TOTAL = 256 << 20;
let totalInflight = 0;
/** Writers waiting for room, woken whenever any job consumes. */
const waiting = new Set<() => void>();
function wakeAll(): void {
  for (const w of [...waiting]) w();
}

export interface UnpackHandle {
  /** Sends a chunk; resolves when the job has room for more. */
  write(b: Buffer): Promise<void>;
  /** No more input; resolves with the job's result. */
  end(): Promise<UnpackResult>;
  /** Stops the job; resolves once it no longer touches its files. */
  abort(): Promise<void>;
}

let workerPath: string | null | undefined;
/** dist/unpack-worker.js beside the daemon's bundle (scripts/build.mjs), or null when running from source. */
function findWorker(): string | null {
  if (workerPath !== undefined) return workerPath;
  const env = process.env['BERTH_UNPACK_WORKER'];
  if (env === 'off') return (workerPath = null);
  const p = env || path.join(__dirname, 'unpack-worker.js');
  workerPath = fs.existsSync(p) ? p : null;
  return workerPath;
}

/** Chooses the worker bundle (a path) or in-process unpacking (null); tests use it to run both. */
export function useUnpackWorker(file: string | null): void {
  workerPath = file;
}

export function startUnpack(job: UnpackJob): UnpackHandle {
  const wp = findWorker();
  return wp ? new WorkerHandle(wp, job) : new LocalHandle(job);
}

function toError(m: { message: string; code?: string; digest?: string; compressedSize?: number }): Error {
  if (m.code === 'EBLOBSIZE') return new BlobTooLongError(m.message);
  if (m.digest !== undefined) return new UnpackError(m.message, m.code, m.digest, m.compressedSize ?? 0);
  return Object.assign(new Error(m.message), m.code !== undefined ? { code: m.code } : {});
}

abstract class FlowHandle implements UnpackHandle {
  protected inflight = 0;
  protected failed: Error | undefined;
  protected readonly result: Promise<UnpackResult>;
  private settle!: { ok: (r: UnpackResult) => void; fail: (e: Error) => void };

  constructor() {
    this.result = new Promise<UnpackResult>((ok, fail) => (this.settle = { ok, fail }));
    this.result.catch(() => undefined); // observed through write()/end()
  }

  protected consumed(n: number): void {
    this.inflight -= n;
    totalInflight -= n;
    wakeAll();
  }
  /** The job is over: whatever it had not acknowledged no longer counts. */
  private release(): void {
    totalInflight -= this.inflight;
    this.inflight = 0;
    wakeAll();
  }
  protected finish(r: UnpackResult): void {
    this.settle.ok(r);
    this.release();
  }
  protected fail(e: Error): void {
    this.failed ??= e;
    this.settle.fail(e);
    this.release();
  }

  /** Over budget: this job's own, or all jobs' together (unless this one has nothing in flight, so every job always progresses). */
  private full(): boolean {
    return this.inflight > MAX_INFLIGHT || (totalInflight > MAX_TOTAL && this.inflight > 0);
  }

  protected abstract send(b: Buffer): void;

  async write(b: Buffer): Promise<void> {
    if (this.failed) throw this.failed;
    this.inflight += b.length;
    totalInflight += b.length;
    this.send(b);
    while (this.full() && !this.failed) {
      await new Promise<void>((r) => {
        const wake = (): void => {
          waiting.delete(wake);
          r();
        };
        waiting.add(wake);
      });
    }
    if (this.failed) throw this.failed;
  }

  abstract end(): Promise<UnpackResult>;
  abstract abort(): Promise<void>;
}

class LocalHandle extends FlowHandle {
  private readonly q = new ChunkQueue();
  constructor(job: UnpackJob) {
    super();
    runUnpack(this.q, job, (n) => this.consumed(n)).then((r) => this.finish(r), (e: unknown) => this.fail(e instanceof Error ? e : new Error(String(e))));
  }
  protected send(b: Buffer): void {
    this.q.push(b);
  }
  end(): Promise<UnpackResult> {
    this.q.end();
    return this.result;
  }
  async abort(): Promise<void> {
    this.q.fail(new Error('unpack aborted'));
    await this.result.catch(() => undefined);
  }
}

/** Idle workers kept for the next job (a pull has several layers; a start-up costs tens of ms of CPU). */
const idle: Worker[] = [];
const IDLE_MS = 10_000;
const MAX_IDLE = 4;
const idleTimers = new WeakMap<Worker, NodeJS.Timeout>();

function takeWorker(file: string): Worker {
  const w = idle.pop();
  if (w) {
    clearTimeout(idleTimers.get(w));
    w.ref();
    return w;
  }
  const nw = new Worker(file);
  nw.on('error', () => undefined); // an idle worker's failure only ends it (a job in progress has its own listener)
  nw.on('exit', () => {
    const i = idle.indexOf(nw);
    if (i >= 0) idle.splice(i, 1);
  });
  return nw;
}

function giveBack(w: Worker): void {
  if (idle.length >= MAX_IDLE) {
    void w.terminate();
    return;
  }
  w.unref(); // an idle worker never keeps the process alive
  idle.push(w);
  const t = setTimeout(() => {
    const i = idle.indexOf(w);
    if (i >= 0) {
      idle.splice(i, 1);
      void w.terminate().then(() => {
        if (idle.length === 0) memoryReleased(); // the last one: the pull's memory can go back now
      });
    }
  }, IDLE_MS);
  t.unref();
  idleTimers.set(w, t);
}

/**
 * Jobs running at once: one per core. More only add contention (each job also
 * keeps a threadpool thread busy with gunzip); a job waiting for its turn
 * buffers its input (within the in-flight budget), so downloads go on.
 */
const MAX_ACTIVE = Math.max(2, os.availableParallelism());
let active = 0;
const queued: Array<() => void> = [];
function nextJob(): void {
  active--;
  queued.shift()?.();
}

class WorkerHandle extends FlowHandle {
  private w: Worker | undefined;
  private readonly settled: Promise<void>;
  private markSettled!: () => void;
  /** The worker died, or finished this job and may already run another: post nothing more to it. */
  private dead = false;
  /** Messages for a job still waiting for its turn. */
  private pending: Array<{ m: ToWorker; transfer?: ArrayBuffer[] }> = [];
  private readonly begin: () => void;

  constructor(private readonly file: string, private readonly job: UnpackJob) {
    super();
    this.settled = new Promise<void>((r) => (this.markSettled = r));
    this.begin = () => this.start();
    if (active < MAX_ACTIVE) this.start();
    else queued.push(this.begin);
  }

  private start(): void {
    active++;
    const w = (this.w = takeWorker(this.file));
    let over = false;
    const done = (): void => {
      if (over) return;
      over = true;
      this.dead = true;
      w.off('exit', onExit);
      w.off('error', onError);
      w.off('message', onMessage);
      nextJob();
      this.markSettled();
    };
    const onExit = (code: number): void => {
      this.fail(new Error(`unpack worker exited with code ${code}`));
      done();
    };
    const onError = (e: Error): void => {
      this.dead = true;
      this.fail(e);
    };
    const onMessage = (m: FromWorker): void => {
      if (m.t === 'ack') {
        this.consumed(m.n);
        return;
      }
      // The job is over: the worker is free for the next one.
      done();
      if (m.t === 'done') this.finish(m.r);
      else this.fail(toError(m));
      giveBack(w);
    };
    w.once('exit', onExit);
    w.on('error', onError);
    w.on('message', onMessage);
    w.postMessage({ t: 'job', job: this.job } satisfies ToWorker);
    for (const { m, transfer } of this.pending.splice(0)) w.postMessage(m, transfer);
  }

  private post(m: ToWorker, transfer?: ArrayBuffer[]): void {
    if (this.dead) return;
    if (this.w) this.w.postMessage(m, transfer);
    else this.pending.push(transfer ? { m, transfer } : { m });
  }

  protected send(b: Buffer): void {
    // Transfer the memory when the chunk owns all of it; otherwise copy (a view of a shared pool must not be detached).
    const own = b.byteOffset === 0 && b.byteLength === b.buffer.byteLength && !(b.buffer instanceof SharedArrayBuffer);
    const u = own ? new Uint8Array(b.buffer, 0, b.byteLength) : new Uint8Array(b);
    this.post({ t: 'data', b: u }, [u.buffer as ArrayBuffer]);
  }
  async end(): Promise<UnpackResult> {
    this.post({ t: 'end' });
    try {
      return await this.result;
    } finally {
      await this.settled;
    }
  }
  async abort(): Promise<void> {
    if (!this.w) {
      // Still waiting for its turn: it never touched a file.
      const i = queued.indexOf(this.begin);
      if (i >= 0) queued.splice(i, 1);
      this.dead = true;
      this.pending = [];
      this.fail(new Error('unpack aborted'));
      this.markSettled();
      return;
    }
    // A message, not terminate(): the job closes its files and stops at its next read.
    this.post({ t: 'abort' });
    await this.result.catch(() => undefined);
    await this.settled;
  }
}
