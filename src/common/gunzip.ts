// gzip decoding of a chunk stream. With the native addon built against ISA-L
// (see native/berth_native.c) it decodes synchronously in the calling thread,
// 2-3x faster than zlib: layer pulls and loads spend most of their CPU here.
// Without it, node's zlib.
import { pipeline, Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { native, type NativeGunzip } from './native';

/** Output buffers this big; a decoded region is handed on once it reaches YIELD bytes (or the input runs dry). */
const OUT = 1 << 20;
const YIELD = 256 << 10;

let probed: NativeGunzip | null | undefined;
function nativeGunzip(): NativeGunzip | null {
  if (probed !== undefined) return probed;
  if (process.env['BERTH_GUNZIP'] === 'zlib') return (probed = null);
  try {
    const { gunzipNew, gunzipRun, gunzipReset, gunzipEnd } = native();
    probed = gunzipNew && gunzipRun && gunzipReset && gunzipEnd ? { gunzipNew, gunzipRun, gunzipReset, gunzipEnd } : null;
  } catch {
    probed = null; // no addon (unit tests without a build)
  }
  return probed;
}

/** Whether gunzip() decodes with the native inflater (benchmarks and tests print it). */
export function nativeGunzipAvailable(): boolean {
  return nativeGunzip() !== null;
}

function zlibError(message: string, code: string): Error {
  return Object.assign(new Error(message), { code });
}

/**
 * Decodes a gzip stream (several members in a row too, as gzip(1) writes them).
 * Every input chunk is read to the end, also after the last member, so a
 * caller hashing the input sees all of it; bytes after a member that do not
 * start another are ignored, as node's zlib does.
 */
export async function* gunzip(src: AsyncIterable<Buffer>, opts: { zlibChunkSize?: number } = {}): AsyncGenerator<Buffer> {
  const n = nativeGunzip();
  if (!n) {
    const gz = createGunzip({ chunkSize: opts.zlibChunkSize ?? 128 * 1024 });
    pipeline(Readable.from(src, { objectMode: false }), gz, () => undefined);
    for await (const c of gz) yield c as Buffer;
    return;
  }
  const h = n.gunzipNew();
  let out = Buffer.allocUnsafe(OUT);
  let ooff = 0;
  let from = 0; // start of the region of out not yet handed on
  let started = false; // some input was seen
  let inMember = false; // a member was begun and has not ended
  let trailing = false; // after a member, bytes that are not another: ignored to the end
  /** The full output buffer's part not yet handed on; decoding goes on in a fresh buffer. */
  const takeFull = (): Buffer => {
    const b = out.subarray(from, ooff);
    out = Buffer.allocUnsafe(OUT);
    ooff = from = 0;
    return b;
  };
  try {
    for await (const chunk of src) {
      let off = 0;
      while (off < chunk.length && !trailing) {
        if (!inMember) {
          if (started && chunk[off] !== 0x1f) {
            trailing = true;
            break;
          }
          if (started) n.gunzipReset(h);
          started = inMember = true;
        }
        const [used, produced, ended] = n.gunzipRun(h, chunk, off, out, ooff);
        off += used;
        ooff += produced;
        if (ended) inMember = false;
        if (ooff === OUT) yield takeFull();
        else if (used === 0 && produced === 0 && !ended) {
          throw zlibError('gunzip made no progress', 'Z_DATA_ERROR'); // cannot happen with room in out; never spin
        }
      }
      if (ooff - from >= YIELD) {
        yield out.subarray(from, ooff);
        from = ooff;
      }
    }
    // The input is over: drain what the decoder still holds (its window may hold output not yet written).
    for (;;) {
      if (!inMember) break;
      const [, produced, ended] = n.gunzipRun(h, EMPTY, 0, out, ooff);
      ooff += produced;
      if (ended) inMember = false;
      if (ooff === OUT) yield takeFull();
      else if (!ended) throw zlibError('unexpected end of file', 'Z_BUF_ERROR');
    }
    if (!started) throw zlibError('unexpected end of file', 'Z_BUF_ERROR');
    if (ooff > from) yield out.subarray(from, ooff);
  } finally {
    n.gunzipEnd(h);
  }
}

const EMPTY = Buffer.alloc(0);
