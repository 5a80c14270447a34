// sha256 of big build-context files off the main thread. Receiving a context
// is paced by the client; hashing as the bytes arrive keeps COPY's checksum
// ready when the Dockerfile needs it, and doing it in a worker keeps the main
// thread free to read the socket (and serve other requests). Small files are
// hashed inline, where a message round trip would cost more than the hash.
import { createHash } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import { log } from '../common/log';
import { memoryReleased } from '../common/memory-hint';

const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const hashes = new Map();
parentPort.on('message', (m) => {
  let h = hashes.get(m.id);
  if (!h) hashes.set(m.id, (h = createHash('sha256')));
  if (m.shared) {
    h.update(new Uint8Array(m.shared, m.off, m.len));
  } else if (m.data) {
    h.update(new Uint8Array(m.data, 0, m.len));
    parentPort.postMessage({ recycle: m.data }, [m.data]);
  }
  if (m.done) {
    hashes.delete(m.id);
    parentPort.postMessage({ id: m.id, hex: h.digest('hex') });
  }
});
`;

/** Files at least this big are hashed in the worker. */
const WORKER_MIN = 1 << 20;
/** Bytes copied into one message. */
const BATCH = 1 << 20;

export interface ContentHasher {
  update(chunk: Buffer): void;
  /** The sha256 hex digest (the hasher cannot be used afterwards). */
  digest(): Promise<string>;
}

/**
 * Two hash workers: the context's files hash on the first, layer tars made by
 * COPY on the second, so a --no-cache COPY computes its sources' checksum and
 * its layer's digest at once. Each is started on first use.
 */
interface Slot {
  worker: Worker | null | undefined;
  waiting: Map<number, { resolve: (hex: string) => void; reject: (e: Error) => void }>;
  /** Hashes begun on the worker and not yet settled (an idle worker may be stopped only at 0). */
  users: number;
}
const slots: Slot[] = [{ worker: undefined, waiting: new Map(), users: 0 }, { worker: undefined, waiting: new Map(), users: 0 }];

function slotOf(w: Worker): Slot | undefined {
  return slots.find((s) => s.worker === w);
}

/** Counts a hash on w until the returned function is called (once). */
function use(w: Worker): () => void {
  const slot = slotOf(w);
  if (!slot) return () => undefined;
  slot.users++;
  let done = false;
  return () => {
    if (done) return;
    done = true;
    slot.users--;
  };
}

/** Stops the workers nothing is hashing on (with the segment pool, after a quiet spell): a thread and its heap each. */
function stopIdleWorkers(): void {
  for (const slot of slots) {
    const w = slot.worker;
    if (w && slot.users === 0 && slot.waiting.size === 0) {
      slot.worker = undefined;
      void w.terminate();
    }
  }
}
/** Batch buffers the workers have handed back (no allocation per megabyte in steady state). */
const pool: ArrayBuffer[] = [];
const POOL_MAX = 16;
let nextId = 1;

/** Waits for a digest; a worker keeps the process alive only while digests are awaited. */
function expect(w: Worker, id: number, resolve: (hex: string) => void, reject: (e: Error) => void): void {
  const slot = slots.find((s) => s.worker === w);
  if (!slot) {
    reject(new Error('hash worker exited'));
    return;
  }
  slot.waiting.set(id, { resolve, reject });
  if (slot.waiting.size === 1) w.ref();
}

function settled(slot: Slot): void {
  if (slot.waiting.size === 0) slot.worker?.unref();
}

function failAll(slot: Slot, e: Error): void {
  for (const w of slot.waiting.values()) w.reject(e);
  slot.waiting.clear();
  settled(slot);
}

function getWorker(index = 0): Worker | undefined {
  const slot = slots[index] ?? slots[0]!;
  if (slot.worker === null) return undefined;
  if (slot.worker) return slot.worker;
  try {
    const w = new Worker(WORKER_SOURCE, { eval: true });
    w.on('message', (m: { id: number; hex: string; recycle?: ArrayBuffer }) => {
      if (m.recycle) {
        if (pool.length < POOL_MAX && m.recycle.byteLength === BATCH) pool.push(m.recycle);
        return;
      }
      const p = slot.waiting.get(m.id);
      slot.waiting.delete(m.id);
      settled(slot);
      p?.resolve(m.hex);
    });
    w.on('error', (e) => {
      log.warn('hash worker failed; hashing on the main thread from now on', { err: e });
      slot.worker = null;
      failAll(slot, e);
    });
    w.on('exit', () => {
      if (slot.worker === w) slot.worker = undefined;
      failAll(slot, new Error('hash worker exited'));
    });
    // After the listeners: attaching a 'message' listener refs the port again, which would keep a process alive.
    w.unref();
    slot.worker = w;
    return w;
  } catch (e) {
    log.warn('cannot start a hash worker; hashing on the main thread', { err: e });
    slot.worker = null;
    return undefined;
  }
}

class InlineHasher implements ContentHasher {
  private readonly h = createHash('sha256');
  update(chunk: Buffer): void {
    this.h.update(chunk);
  }
  async digest(): Promise<string> {
    return this.h.digest('hex');
  }
}

class WorkerHasher implements ContentHasher {
  private readonly id = nextId++;
  private buf = new Uint8Array(pool.pop() ?? new ArrayBuffer(BATCH));
  private used = 0;
  private readonly unuse: () => void;
  constructor(private readonly w: Worker) {
    this.unuse = use(w);
  }

  /** Hands the batched bytes on, keeping their order with what follows. */
  protected flushBatch(): void {
    this.flush(false);
  }

  protected postShared(chunk: Buffer): void {
    this.w.postMessage({ id: this.id, shared: chunk.buffer, off: chunk.byteOffset, len: chunk.length });
  }

  private flush(done: boolean): void {
    if (this.used === 0 && !done) return;
    const data = this.buf.buffer;
    this.w.postMessage({ id: this.id, data, len: this.used, done }, [data]);
    this.buf = done ? new Uint8Array(0) : new Uint8Array(pool.pop() ?? new ArrayBuffer(BATCH));
    this.used = 0;
  }

  update(chunk: Buffer): void {
    let off = 0;
    while (off < chunk.length) {
      const n = Math.min(chunk.length - off, BATCH - this.used);
      this.buf.set(chunk.subarray(off, off + n), this.used);
      this.used += n;
      off += n;
      if (this.used === BATCH) this.flush(false);
    }
  }

  digest(): Promise<string> {
    const p = new Promise<string>((resolve, reject) => {
      expect(this.w, this.id, resolve, reject);
      this.flush(true);
    });
    p.then(this.unuse, this.unuse);
    return p;
  }
}

/** Bytes of shared memory in one arena segment. */
const SEGMENT = 8 << 20;
/** The worker is told about new bytes at least every this many. */
const POST_EVERY = 1 << 20;
/** Free segments kept for the next build (faulting fresh pages in costs more than the copy). */
const segmentPool: Buffer[] = [];
const SEGMENT_POOL_MAX = 16;
/** An idle daemon gives the pooled memory back after this long. */
const POOL_IDLE_MS = 30_000;
let poolTimer: NodeJS.Timeout | undefined;

export interface StoredContent {
  /** The content, in order. */
  chunks: Buffer[];
  /** sha256 hex of it (absent when not hashed). */
  digest?: Promise<string>;
}

/**
 * Memory for a build context's file data: SharedArrayBuffer segments that
 * files are appended to, which the hash worker reads in place. One copy on
 * the main thread (the socket's chunks die young, so the collector has
 * little to do), no message per chunk, and segments are reused across builds.
 * Sizes from tar headers are untrusted: memory is taken a segment at a time
 * as bytes arrive.
 */
export class ContentArena {
  private readonly segs: Buffer[] = [];
  private cur: Buffer | undefined;
  private used = 0;
  private released = false;

  private segment(): Buffer {
    if (this.released) throw new Error('build context memory was released');
    const s = segmentPool.pop() ?? Buffer.from(new SharedArrayBuffer(SEGMENT));
    this.segs.push(s);
    this.cur = s;
    this.used = 0;
    return s;
  }

  /** Stores one file's content (exactly `size` bytes are expected) and, unless hash is false, starts hashing it. */
  async store(body: AsyncIterable<Buffer>, size: number, hash = true): Promise<StoredContent> {
    const w = hash && size >= WORKER_MIN ? getWorker() : undefined;
    const unuse = w ? use(w) : () => undefined;
    const inline = w || !hash ? undefined : createHash('sha256');
    const id = nextId++;
    const chunks: Buffer[] = [];
    // The part of the current segment holding this file's bytes not yet handed to the hasher.
    let seg = this.cur;
    let start = this.used;
    let posted = this.used;
    let got = 0;
    const flush = (end: boolean): void => {
      if (!seg || this.used === posted) {
        if (end && seg && this.used > start) chunks.push(seg.subarray(start, this.used));
        return;
      }
      const part = seg.subarray(posted, this.used);
      if (w) w.postMessage({ id, shared: seg.buffer, off: seg.byteOffset + posted, len: part.length });
      else inline?.update(part);
      posted = this.used;
      if (end) chunks.push(seg.subarray(start, this.used));
    };
    try {
      for await (const c of body) {
        got += c.length;
        if (got > size) throw new Error('file content is longer than its tar header says');
        let off = 0;
        while (off < c.length) {
          if (!this.cur || this.used === this.cur.length) {
            flush(true);
            seg = this.segment();
            start = posted = 0;
          }
          const n = c.copy(this.cur as Buffer, this.used, off);
          this.used += n;
          off += n;
          if (this.used - posted >= POST_EVERY) flush(false);
        }
      }
      flush(true);
    } catch (e) {
      w?.postMessage({ id, done: true }); // the worker drops its state for this id
      unuse();
      throw e;
    }
    if (!w) return { chunks, ...(inline ? { digest: Promise.resolve(inline.digest('hex')) } : {}) };
    const digest = new Promise<string>((resolve, reject) => {
      expect(w, id, resolve, reject);
      w.postMessage({ id, done: true });
    });
    digest.then(unuse, unuse);
    return { chunks, digest };
  }

  /** Bytes of segments in use. */
  get bytes(): number {
    return this.segs.length * SEGMENT;
  }

  /** Gives the segments back; the caller guarantees nothing reads them any more (hashes included). */
  release(): void {
    if (this.released) return;
    this.released = true;
    for (const s of this.segs.splice(0)) if (segmentPool.length < SEGMENT_POOL_MAX) segmentPool.push(s);
    this.cur = undefined;
    if (poolTimer) clearTimeout(poolTimer);
    poolTimer = setTimeout(() => {
      segmentPool.length = 0;
      stopIdleWorkers();
      memoryReleased();
    }, POOL_IDLE_MS);
    poolTimer.unref();
  }
}

/**
 * A hasher for a stream of mixed chunks, such as a layer tar made from the
 * context: chunks in the context's shared memory are hashed by the worker in
 * place (no copy), others (tar headers, padding) are copied in batches, in
 * order. The shared chunks must stay untouched until digest() resolves.
 */
class StreamHasher extends WorkerHasher {
  override update(chunk: Buffer): void {
    if (chunk.buffer instanceof SharedArrayBuffer && chunk.length >= SHARED_MIN) {
      this.flushBatch();
      this.postShared(chunk);
    } else super.update(chunk);
  }
}
const SHARED_MIN = 64 << 10;

/** A hasher for a stream whose data may sit in shared memory (see StreamHasher), on hash worker `worker` (0 or 1). */
export function streamHasher(worker = 0): ContentHasher {
  const w = getWorker(worker);
  return w ? new StreamHasher(w) : new InlineHasher();
}

/** A hasher for content of the given size. */
export function contentHasher(size: number): ContentHasher {
  const w = size >= WORKER_MIN ? getWorker() : undefined;
  return w ? new WorkerHasher(w) : new InlineHasher();
}
