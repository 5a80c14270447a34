// Worker-thread entry (bundled as dist/unpack-worker.js): runs unpack jobs (see
// unpack.ts) one after another over the chunks the main thread posts,
// acknowledging what it has consumed so the sender can bound the bytes in
// flight. Workers are pooled by the main thread: a start-up costs more than a
// small layer's unpacking.
import { parentPort } from 'node:worker_threads';
import { ChunkQueue, runUnpack, UnpackError, type FromWorker, type ToWorker } from './unpack';

const port = parentPort;
if (port) {
  const post = (m: FromWorker): void => port.postMessage(m);
  let q: ChunkQueue | undefined;
  port.on('message', (m: ToWorker) => {
    if (m.t === 'job') {
      // The job comes from startUnpack() in our own main thread; one at a time.
      const cur = (q = new ChunkQueue());
      // Acks are batched: one message per ~1 MiB consumed, not one per chunk.
      let unacked = 0;
      runUnpack(cur, m.job, (n) => {
        unacked += n;
        if (unacked >= 1 << 20) {
          post({ t: 'ack', n: unacked });
          unacked = 0;
        }
      }).then(
        (r) => post({ t: 'done', r }),
        (e: unknown) => {
          const err = e instanceof Error ? e : new Error(String(e));
          const code = (err as NodeJS.ErrnoException).code;
          post({
            t: 'error', message: err.message, ...(typeof code === 'string' ? { code } : {}),
            ...(err instanceof UnpackError && err.digest !== undefined ? { digest: err.digest, compressedSize: err.compressedSize } : {}),
          });
        },
      ).finally(() => {
        if (q === cur) q = undefined;
      });
    } else if (m.t === 'data') q?.push(Buffer.from(m.b.buffer, m.b.byteOffset, m.b.byteLength));
    else if (m.t === 'end') q?.end();
    else q?.fail(new Error('unpack aborted'));
  });
}
