// sha256 of big build-context files off the main thread. Receiving a context
// is paced by the client; hashing as the bytes arrive keeps COPY's checksum
// ready when the Dockerfile needs it, and doing it in a worker keeps the main
// thread free to read the socket (and serve other requests). Small files are
// hashed inline, where a message round trip would cost more than the hash.
import { createHash } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import { log } from '../common/log';

const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const hashes = new Map();
parentPort.on('message', (m) => {
  let h = hashes.get(m.id);
  if (!h) hashes.set(m.id, (h = createHash('sha256')));
  if (m.data) {
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

let worker: Worker | null | undefined;
/** Batch buffers the worker has handed back (no allocation per megabyte in steady state). */
const pool: ArrayBuffer[] = [];
const POOL_MAX = 16;
const waiting = new Map<number, { resolve: (hex: string) => void; reject: (e: Error) => void }>();
let nextId = 1;

function failAll(e: Error): void {
  for (const w of waiting.values()) w.reject(e);
  waiting.clear();
}

function getWorker(): Worker | undefined {
  if (worker === null) return undefined;
  if (worker) return worker;
  try {
    const w = new Worker(WORKER_SOURCE, { eval: true });
    w.unref();
    w.on('message', (m: { id: number; hex: string; recycle?: ArrayBuffer }) => {
      if (m.recycle) {
        if (pool.length < POOL_MAX && m.recycle.byteLength === BATCH) pool.push(m.recycle);
        return;
      }
      const p = waiting.get(m.id);
      waiting.delete(m.id);
      p?.resolve(m.hex);
    });
    w.on('error', (e) => {
      log.warn('hash worker failed; hashing on the main thread from now on', { err: e });
      worker = null;
      failAll(e);
    });
    w.on('exit', () => {
      if (worker === w) worker = undefined;
      failAll(new Error('hash worker exited'));
    });
    worker = w;
    return w;
  } catch (e) {
    log.warn('cannot start a hash worker; hashing on the main thread', { err: e });
    worker = null;
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
  constructor(private readonly w: Worker) {}

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
    return new Promise((resolve, reject) => {
      waiting.set(this.id, { resolve, reject });
      this.flush(true);
    });
  }
}

/** A hasher for content of the given size. */
export function contentHasher(size: number): ContentHasher {
  const w = size >= WORKER_MIN ? getWorker() : undefined;
  return w ? new WorkerHasher(w) : new InlineHasher();
}
