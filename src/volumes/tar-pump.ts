// Writes a tar of walked entries to a stream (docker cp out of a container,
// export) through a few reused 1 MiB buffers: headers, padding and file data
// are put straight into the buffer being filled (file data read from the open
// descriptor into it), and a buffer is filled again only once the stream has
// taken it. Before this, every file and every 1 MiB chunk was a new Buffer
// (then joined into another one): a 200 MB copy spent a fifth of its time in
// the garbage collector.
import * as fs from 'node:fs';
import type { Writable } from 'node:stream';
import { encodeHeader, type TarInput } from '../common/archive';

const BLOCK = 512;
const BUF = 1 << 20;
const POOL = 6;
/** Files up to this size are read synchronously (a threadpool round trip costs more than the read). */
const SYNC_READ = 256 * 1024;

/** A file entry whose data is read from fd (which the pump closes). */
export type PumpEntry = TarInput & { fd?: number };

function readAsync(fd: number, buf: Buffer, off: number, len: number): Promise<number> {
  return new Promise((resolve, reject) => fs.read(fd, buf, off, len, null, (err, n) => (err ? reject(err) : resolve(n))));
}

class Pump {
  private readonly free: Buffer[] = [];
  private made = 0;
  private cur: Buffer;
  private off = 0;
  private wake: (() => void) | undefined;
  private failed: Error | undefined;

  constructor(private readonly out: Writable) {
    this.cur = this.alloc();
    const fail = (e?: Error): void => {
      this.failed ??= e ?? new Error('the client went away');
      this.wake?.();
    };
    out.once('error', fail);
    out.once('close', () => fail());
    out.on('drain', () => this.wake?.());
  }

  private alloc(): Buffer {
    this.made++;
    return Buffer.allocUnsafe(BUF);
  }

  private check(): void {
    if (this.failed) throw this.failed;
  }

  /** Hands the filled part to the stream; continues in a free buffer (waiting for one when all are in flight). */
  private async flush(): Promise<void> {
    this.check();
    if (this.off === 0) return;
    const b = this.cur;
    this.out.write(b.subarray(0, this.off), () => {
      this.free.push(b); // the stream is done with it
      this.wake?.();
    });
    this.off = 0;
    while (this.out.writableNeedDrain) await this.signal();
    let next = this.free.pop() ?? (this.made < POOL ? this.alloc() : undefined);
    while (!next) {
      await this.signal();
      next = this.free.pop();
    }
    this.cur = next;
  }

  /** Waits for a buffer coming back, a drain, or the end of the stream. */
  private async signal(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.wake = resolve;
    });
    this.check();
  }

  private async room(): Promise<number> {
    if (this.off === this.cur.length) await this.flush();
    return this.cur.length - this.off;
  }

  async bytes(b: Buffer): Promise<void> {
    let i = 0;
    while (i < b.length) {
      const n = Math.min(await this.room(), b.length - i);
      b.copy(this.cur, this.off, i, i + n);
      this.off += n;
      i += n;
    }
  }

  async zeros(n: number): Promise<void> {
    while (n > 0) {
      const k = Math.min(await this.room(), n);
      this.cur.fill(0, this.off, this.off + k);
      this.off += k;
      n -= k;
    }
  }

  /** Exactly size bytes of fd: a file that shrank meanwhile is padded with zeros, growth is cut (as tar does). */
  async file(fd: number, size: number): Promise<void> {
    let left = size;
    while (left > 0) {
      const want = Math.min(await this.room(), left);
      const n = size <= SYNC_READ ? fs.readSync(fd, this.cur, this.off, want, null) : await readAsync(fd, this.cur, this.off, want);
      if (n === 0) return this.zeros(left);
      this.off += n;
      left -= n;
    }
  }

  async end(): Promise<void> {
    await this.zeros(2 * BLOCK);
    await this.flush();
    await new Promise<void>((resolve, reject) => {
      this.out.end(() => resolve());
      this.out.once('error', reject);
    });
  }
}

/** Writes the tar of entries to out and ends it; on failure out is destroyed and the error thrown. */
export async function pumpTar(entries: AsyncIterable<PumpEntry>, out: Writable): Promise<void> {
  const p = new Pump(out);
  try {
    for await (const e of entries) {
      if (e.fd !== undefined) {
        const fd = e.fd;
        try {
          const size = e.size ?? 0;
          await p.bytes(encodeHeader(e, size));
          await p.file(fd, size);
          await p.zeros((BLOCK - (size % BLOCK)) % BLOCK);
        } finally {
          fs.closeSync(fd);
        }
        continue;
      }
      const body = e.type === 'file' ? e.body : undefined;
      if (body !== undefined && !Buffer.isBuffer(body)) throw new Error(`tar entry ${e.name}: streamed bodies are not supported here`);
      const size = body?.length ?? 0;
      await p.bytes(encodeHeader(e, size));
      if (body) {
        await p.bytes(body);
        await p.zeros((BLOCK - (size % BLOCK)) % BLOCK);
      }
    }
    await p.end();
  } catch (e) {
    out.destroy(e as Error);
    throw e;
  }
}
