// One HTTP primitive for the registry client over node:http/node:https:
// keep-alive agents per TLS configuration, redirects (GET/HEAD, dropping
// credentials when the host changes, as Go's client does for blob storage
// redirects), an idle timeout, AbortSignal, and network errors worded the
// way Docker (Go's net/http) words them, because users and scripts read them.
import { createHash } from 'node:crypto';
import * as http from 'node:http';
import * as https from 'node:https';
import { Readable } from 'node:stream';
import { trustedRoots } from '../common/tls-roots';

export interface TlsOptions {
  /** PEM CA certificates trusted in addition to the system roots. */
  ca?: Buffer[];
  cert?: Buffer;
  key?: Buffer;
  /** false for insecure registries (TLS without verification). */
  rejectUnauthorized: boolean;
}

export interface HttpRequest {
  method: string;
  url: string;
  headers?: Record<string, string>;
  /** A buffer (Content-Length set) or a stream (chunked unless Content-Length is given in headers). */
  body?: Buffer | Readable | AsyncIterable<Uint8Array>;
  tls?: TlsOptions;
  signal?: AbortSignal;
  /** Redirects to follow (GET/HEAD only); default 10. */
  maxRedirects?: number;
  /** ms without any socket activity before the request fails; default 60 s. */
  idleTimeoutMs?: number;
}

export interface HttpResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** The final URL after redirects. */
  url: string;
  body: http.IncomingMessage;
}

/** A network-level failure (connection refused/reset, TLS, timeout); `retryable` says whether another attempt may succeed. */
export class TransportError extends Error {
  constructor(message: string, readonly code: string | undefined, readonly retryable: boolean) {
    super(message);
    this.name = 'TransportError';
  }
}

const agents = new Map<string, http.Agent>();

function agentFor(url: URL, tls: TlsOptions | undefined): http.Agent {
  const secure = url.protocol === 'https:';
  const key = secure
    ? `https|${tls?.rejectUnauthorized === false ? 'insecure' : 'verify'}|${fingerprint([...(tls?.ca ?? []), ...(tls?.cert ? [tls.cert] : [])])}`
    : 'http';
  let a = agents.get(key);
  if (!a) {
    const common = { keepAlive: true, maxSockets: 32, maxFreeSockets: 16, scheduling: 'lifo' as const };
    a = secure
      ? new https.Agent({
        ...common,
        rejectUnauthorized: tls?.rejectUnauthorized ?? true,
        // The system's roots as Docker trusts them, and a registry's own CAs (certs.d) on top.
        ca: [...trustedRoots(), ...(tls?.ca ?? []).map((c) => c.toString())],
        ...(tls?.cert ? { cert: tls.cert } : {}),
        ...(tls?.key ? { key: tls.key } : {}),
      })
      : new http.Agent(common);
    agents.set(key, a);
  }
  return a;
}

function fingerprint(bufs: Buffer[]): string {
  if (!bufs.length) return '';
  const h = createHash('sha256');
  for (const b of bufs) h.update(b);
  return h.digest('hex');
}

/** Go's method spelling in url.Error ("Get", "Head", ...). */
export function goMethod(m: string): string {
  return m.charAt(0).toUpperCase() + m.slice(1).toLowerCase();
}

/** Describes a Node network error the way Go's net/http would. */
export function describeNetError(e: unknown, url: URL): { message: string; code: string | undefined; retryable: boolean } {
  const err = e as NodeJS.ErrnoException & { reason?: string };
  const code = err?.code;
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const port = url.port || (url.protocol === 'https:' ? '443' : '80');
  const addr = `${host.includes(':') ? `[${host}]` : host}:${port}`;
  switch (code) {
    case 'ECONNREFUSED':
      return { message: `dial tcp ${addr}: connect: connection refused`, code, retryable: true };
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return { message: `dial tcp: lookup ${host}: no such host`, code, retryable: code === 'EAI_AGAIN' };
    case 'ETIMEDOUT':
    case 'ESOCKETTIMEDOUT':
      return { message: `dial tcp ${addr}: i/o timeout`, code, retryable: true };
    case 'ECONNRESET':
      return { message: `read tcp ${addr}: read: connection reset by peer`, code, retryable: true };
    case 'EPIPE':
      return { message: `write tcp ${addr}: write: broken pipe`, code, retryable: true };
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return { message: `dial tcp ${addr}: connect: ${code === 'EHOSTUNREACH' ? 'no route to host' : 'network is unreachable'}`, code, retryable: true };
    case 'UNABLE_TO_VERIFY_LEAF_SIGNATURE':
    case 'SELF_SIGNED_CERT_IN_CHAIN':
    case 'DEPTH_ZERO_SELF_SIGNED_CERT':
    case 'UNABLE_TO_GET_ISSUER_CERT':
    case 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY':
      return { message: 'x509: certificate signed by unknown authority', code, retryable: false };
    case 'CERT_HAS_EXPIRED':
      return { message: 'x509: certificate has expired or is not yet valid', code, retryable: false };
    case 'ERR_TLS_CERT_ALTNAME_INVALID':
      return { message: `x509: certificate is valid for ${err.reason ?? 'other names'}, not ${host}`, code, retryable: false };
    case 'ABORT_ERR':
      return { message: 'context canceled', code, retryable: false };
    default:
      break;
  }
  const msg = err?.message ?? String(e);
  if (/wrong version number|packet length too long|unknown protocol/i.test(msg)) {
    return { message: 'http: server gave HTTP response to HTTPS client', code: 'EPROTO_HTTP', retryable: false };
  }
  if (/socket hang up|aborted|premature close/i.test(msg) || code === 'ERR_STREAM_PREMATURE_CLOSE') {
    return { message: `read tcp ${addr}: unexpected EOF`, code: code ?? 'ECONNRESET', retryable: true };
  }
  return { message: msg, code, retryable: false };
}

function isRedirect(s: number): boolean {
  return s === 301 || s === 302 || s === 303 || s === 307 || s === 308;
}

/** Sends a request; resolves once the response headers are in (the body is the caller's to read or discard). */
export async function httpRequest(req: HttpRequest): Promise<HttpResponse> {
  let url = new URL(req.url);
  let headers = { ...(req.headers ?? {}) };
  let method = req.method.toUpperCase();
  const maxRedirects = req.maxRedirects ?? 10;
  for (let hop = 0; ; hop++) {
    const res = await sendOnce(method, url, headers, hop === 0 ? req.body : undefined, req);
    if (!isRedirect(res.status) || (method !== 'GET' && method !== 'HEAD') || hop >= maxRedirects) return res;
    const loc = res.headers.location;
    if (!loc) return res;
    res.body.resume();
    const next = new URL(loc, url);
    if (next.host !== url.host) {
      // Go drops credentials on a redirect to another host (blob storage with signed URLs).
      headers = Object.fromEntries(Object.entries(headers).filter(([k]) => k.toLowerCase() !== 'authorization'));
    }
    if (res.status === 303) method = method === 'HEAD' ? 'HEAD' : 'GET';
    url = next;
  }
}

function sendOnce(method: string, url: URL, headers: Record<string, string>, body: HttpRequest['body'], req: HttpRequest): Promise<HttpResponse> {
  const secure = url.protocol === 'https:';
  const mod = secure ? https : http;
  const h: Record<string, string> = { 'User-Agent': 'docker/20.10.24 go/go1.19 kernel/linux os/linux arch/amd64 UpstreamClient(berth)', ...headers };
  if (Buffer.isBuffer(body)) h['Content-Length'] = String(body.length);
  else if (body === undefined && (method === 'PUT' || method === 'POST' || method === 'PATCH')) h['Content-Length'] ??= '0';
  return new Promise<HttpResponse>((resolve, reject) => {
    let settled = false;
    const fail = (e: unknown): void => {
      if (settled) return;
      settled = true;
      const d = describeNetError(e, url);
      reject(new TransportError(`${goMethod(method)} "${url.toString()}": ${d.message}`, d.code, d.retryable));
    };
    const r = mod.request(url, {
      method,
      headers: h,
      agent: agentFor(url, req.tls),
      ...(req.signal ? { signal: req.signal } : {}),
    });
    const idle = req.idleTimeoutMs ?? 60_000;
    r.setTimeout(idle, () => r.destroy(Object.assign(new Error('i/o timeout'), { code: 'ETIMEDOUT' })));
    r.on('error', fail);
    r.on('response', (res) => {
      if (settled) {
        res.resume();
        return;
      }
      settled = true;
      // Errors while the body streams surface on the body, worded like Go's.
      res.on('error', () => undefined);
      resolve({ status: res.statusCode ?? 0, headers: res.headers, url: url.toString(), body: res });
    });
    if (body === undefined) r.end();
    else if (Buffer.isBuffer(body)) r.end(body);
    else {
      const src = body instanceof Readable ? body : Readable.from(body, { objectMode: false });
      src.on('error', (e) => r.destroy(e));
      r.on('close', () => {
        if (!src.readableEnded) src.destroy(); // the request failed: release the source (file descriptors)
      });
      src.pipe(r);
    }
  });
}

/** Reads a (small) response body fully; errors beyond limit bytes. */
export async function readBody(res: HttpResponse, limit = 8 << 20): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of res.body) {
    const b = c as Buffer;
    n += b.length;
    if (n > limit) {
      res.body.destroy();
      throw new TransportError(`response body from ${res.url} exceeds ${limit} bytes`, undefined, false);
    }
    chunks.push(b);
  }
  return Buffer.concat(chunks, n);
}

/** Discards a response body (keeps the connection reusable). */
export function discard(res: HttpResponse): void {
  res.body.resume();
}

/** Wraps an error thrown while reading a response body the way Go reports it. */
export function bodyError(e: unknown, res: HttpResponse, method = 'GET'): TransportError {
  if (e instanceof TransportError) return e;
  const d = describeNetError(e, new URL(res.url));
  return new TransportError(`${goMethod(method)} "${res.url}": ${d.message}`, d.code, d.retryable || d.code === undefined);
}
