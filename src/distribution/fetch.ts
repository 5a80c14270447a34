// Reading a blob from a registry so that a broken connection costs only a
// retry: the body streams through; when it breaks (reset, timeout, early EOF)
// the blob is requested again with `Range: bytes=<offset>-` and the stream
// continues where it stopped (or, from a server that ignores Range, the bytes
// already seen are skipped). Retries back off 1 s, 2 s, ... up to
// max-download-attempts failures without progress.
import { log } from '../common/log';
import type { Repository } from './client';
import { RegistryError } from './errors';
import type { Descriptor } from './media';
import { bodyError, TransportError, type HttpResponse } from './transport';
import { sleep } from './util';

export interface ResumeOptions {
  maxAttempts: number;
  signal: AbortSignal;
  /** Called each second of a back-off, with the seconds left (Docker's "Retrying in N seconds"). */
  onRetry?: (secondsLeft: number, err: unknown) => void;
  /** ms per back-off second (tests shorten it); default 1000. */
  secondMs?: number;
}

export function retryable(e: unknown): boolean {
  if (e instanceof TransportError) return e.retryable;
  if (e instanceof RegistryError) return e.status >= 500 || e.status === 429 || e.status === 408;
  return false;
}

/** The bytes of blob d from repo, resumed with Range after a broken connection. */
export async function* resumableBlob(repo: Repository, d: Pick<Descriptor, 'digest' | 'size'>, o: ResumeOptions): AsyncGenerator<Buffer> {
  let offset = 0;
  let failures = 0;
  let lastFailureAt = -1;
  for (;;) {
    let res: HttpResponse | undefined;
    let err: unknown;
    try {
      res = await repo.getBlob(d.digest, offset, o.signal);
    } catch (e) {
      err = e;
    }
    if (res) {
      let skip = 0;
      if (offset > 0 && res.status === 200) skip = offset; // the server ignored Range: skip what we have
      else if (offset > 0 && res.status === 206) {
        const m = /bytes (\d+)-/.exec(String(res.headers['content-range'] ?? ''));
        if (!m || Number(m[1]) !== offset) {
          res.body.destroy();
          throw new Error(`blob ${d.digest}: registry answered range ${String(res.headers['content-range'])} for offset ${offset}`);
        }
      }
      let finished = false;
      try {
        const it = res.body[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
        for (;;) {
          let step: IteratorResult<Buffer>;
          try {
            step = await it.next();
          } catch (e) {
            err = bodyError(e, res);
            break;
          }
          if (step.done) break;
          let b = step.value;
          if (skip > 0) {
            if (b.length <= skip) {
              skip -= b.length;
              continue;
            }
            b = b.subarray(skip);
            skip = 0;
          }
          offset += b.length;
          yield b;
        }
        if (err === undefined) {
          if (offset >= d.size) {
            finished = true;
            return;
          }
          err = new TransportError(`GET "${res.url}": unexpected EOF`, 'EOF', true);
        }
      } finally {
        if (!finished) res.body.destroy();
      }
    }
    if (!retryable(err) || o.signal.aborted) throw err;
    // A failure after real progress starts the count again: long downloads over a flaky link still finish.
    if (lastFailureAt >= 0 && offset - lastFailureAt >= 1 << 20) failures = 0;
    failures++;
    lastFailureAt = offset;
    if (failures >= o.maxAttempts) throw err;
    log.info('blob download interrupted; resuming', { digest: d.digest, offset, attempt: failures, err: err instanceof Error ? err.message : String(err) });
    for (let s = Math.min(5, failures); s > 0; s--) {
      o.onRetry?.(s, err);
      await sleep(o.secondMs ?? 1000, o.signal);
    }
  }
}
