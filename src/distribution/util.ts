// Small concurrency helpers for transfers.

/** A counting semaphore; acquire() resolves with whether the caller had to wait. */
export class Semaphore {
  private free: number;
  private readonly queue: Array<() => void> = [];
  constructor(n: number) {
    this.free = Math.max(1, n);
  }

  /** True when a slot is free right now. */
  get available(): boolean {
    return this.free > 0;
  }

  async acquire(signal?: AbortSignal): Promise<boolean> {
    if (this.free > 0) {
      this.free--;
      return false;
    }
    await new Promise<void>((resolve, reject) => {
      const go = (): void => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      const onAbort = (): void => {
        const i = this.queue.indexOf(go);
        if (i >= 0) this.queue.splice(i, 1);
        reject(signal?.reason instanceof Error ? signal.reason : new Error('aborted'));
      };
      if (signal?.aborted) {
        onAbort();
        return;
      }
      signal?.addEventListener('abort', onAbort, { once: true });
      this.queue.push(go);
    });
    return true;
  }

  release(): void {
    const next = this.queue.shift();
    if (next) next();
    else this.free++;
  }
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
      return;
    }
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(t);
      reject(signal?.reason instanceof Error ? signal.reason : new Error('aborted'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** First 12 hex characters of a digest (Docker's progress IDs). */
export function shortDigest(d: string): string {
  const i = d.indexOf(':');
  return d.slice(i + 1, i + 13);
}

/**
 * Re-chunks a byte stream into pieces of at least `size` bytes (the last may
 * be smaller). Sockets deliver 16–64 kB at a time; every chunk costs a trip
 * through each stage of a pipeline (hashing, a write to the content store,
 * decompression, the tar reader), so bigger chunks make transfers much cheaper.
 */
export async function* coalesce(src: AsyncIterable<Uint8Array | string>, size = 1 << 20): AsyncGenerator<Buffer> {
  let parts: Buffer[] = [];
  let n = 0;
  for await (const c of src) {
    const b = Buffer.isBuffer(c) ? c : typeof c === 'string' ? Buffer.from(c) : Buffer.from(c.buffer, c.byteOffset, c.byteLength);
    if (n === 0 && b.length >= size) {
      yield b;
      continue;
    }
    parts.push(b);
    n += b.length;
    if (n >= size) {
      yield parts.length === 1 ? parts[0]! : Buffer.concat(parts, n);
      parts = [];
      n = 0;
    }
  }
  if (n > 0) yield parts.length === 1 ? parts[0]! : Buffer.concat(parts, n);
}
