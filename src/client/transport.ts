// HTTP/1.1 over a unix socket or tcp, plus hijacked (101 Upgrade: tcp)
// connections. Thin layer over node:http; one connection per request (the CLI
// is short-lived, and the docker CLI also opens several in parallel).
import * as http from 'node:http';
import type { Socket } from 'node:net';
import { ApiError, ConnectionError, statusText } from './errors';
import type { HostSpec } from './host';

export type QueryValue = string | number | boolean | undefined | null | readonly string[];
export type Query = Record<string, QueryValue>;

export interface RequestOptions {
  query?: Query;
  /** JSON-encoded as the request body. */
  json?: unknown;
  /** Raw request body (Buffer or a readable stream, sent chunked). */
  body?: Buffer | NodeJS.ReadableStream;
  contentType?: string;
  headers?: Record<string, string>;
  /** Resolve with the response even for status >= 400 (used by /_ping). */
  allowErrorStatus?: boolean;
}

export interface StreamResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: http.IncomingMessage;
}

export interface Hijacked {
  socket: Socket;
  /** Bytes that arrived together with the 101 response. */
  head: Buffer;
  /** Half-close: send FIN but keep reading output. */
  closeWrite(): void;
  close(): void;
}

/** Go's url.QueryEscape: unreserved characters stay, space becomes '+'. */
export function queryEscape(s: string): string {
  return encodeURIComponent(s)
    .replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase())
    .replace(/%20/g, '+');
}

/** Go's url.Values.Encode: keys sorted, repeated keys for arrays. Booleans are sent as 1 (true) and omitted when false. */
export function encodeQuery(q: Query | undefined): string {
  if (!q) return '';
  const parts: string[] = [];
  for (const k of Object.keys(q).sort()) {
    const v = q[k];
    if (v === undefined || v === null || v === false) continue;
    const vals = Array.isArray(v) ? (v as readonly string[]) : [v === true ? '1' : String(v)];
    for (const one of vals) parts.push(`${queryEscape(k)}=${queryEscape(one)}`);
  }
  return parts.join('&');
}

/** Escapes a path the way net/url's EscapedPath does for our use (keeps / and :). */
export function escapePath(p: string): string {
  return p.replace(/[^A-Za-z0-9\-._~/:@!$&'()*+,;=]/g, (c) => {
    const b = Buffer.from(c);
    let out = '';
    for (const x of b) out += '%' + x.toString(16).toUpperCase().padStart(2, '0');
    return out;
  });
}

export class Transport {
  readonly userAgent: string;
  constructor(readonly host: HostSpec, userAgent = 'berth-cli') {
    this.userAgent = userAgent;
  }

  private baseOptions(method: string, path: string, headers: Record<string, string>): http.RequestOptions {
    const o: http.RequestOptions = { method, path, headers, agent: false };
    if (this.host.kind === 'unix') o.socketPath = this.host.path;
    else {
      o.host = this.host.host;
      o.port = this.host.port;
    }
    return o;
  }

  private connError(err: NodeJS.ErrnoException, method: string, path: string): Error {
    const code = err.code;
    const hostRaw = this.host.raw;
    if (code === 'ECONNREFUSED' || code === 'ENOENT' || code === 'ETIMEDOUT' || code === 'EHOSTUNREACH') {
      return new ConnectionError(`Cannot connect to the Docker daemon at ${hostRaw}. Is the docker daemon running?`, code);
    }
    if (code === 'EACCES' || code === 'EPERM') {
      return new ConnectionError(
        `permission denied while trying to connect to the Docker daemon socket at ${hostRaw}: ${method} "${this.displayUrl(path)}": ${err.message}`,
        code,
      );
    }
    return new ConnectionError(`error during connect: ${method} "${this.displayUrl(path)}": ${err.message}`, code);
  }

  displayUrl(path: string): string {
    if (this.host.kind === 'unix') return `http://${encodeURIComponent(this.host.path)}${path}`;
    return `http://${this.host.host}:${this.host.port}${path}`;
  }

  private prepare(opts: RequestOptions): { headers: Record<string, string>; payload: Buffer | NodeJS.ReadableStream | undefined } {
    const headers: Record<string, string> = { 'User-Agent': this.userAgent, ...(opts.headers ?? {}) };
    let payload: Buffer | NodeJS.ReadableStream | undefined;
    if (opts.json !== undefined) {
      payload = Buffer.from(JSON.stringify(opts.json) + '\n');
      headers['Content-Type'] = opts.contentType ?? 'application/json';
    } else if (opts.body !== undefined) {
      payload = opts.body;
      if (opts.contentType) headers['Content-Type'] = opts.contentType;
    }
    if (Buffer.isBuffer(payload)) headers['Content-Length'] = String(payload.length);
    return { headers, payload };
  }

  /** Sends a request and resolves as soon as the response headers arrive. Errors (>= 400) are thrown as ApiError. */
  request(method: string, path: string, opts: RequestOptions = {}): Promise<StreamResponse> {
    const qs = encodeQuery(opts.query);
    const fullPath = escapePath(path) + (qs ? `?${qs}` : '');
    const { headers, payload } = this.prepare(opts);
    return new Promise<StreamResponse>((resolve, reject) => {
      const req = http.request(this.baseOptions(method, fullPath, headers));
      let settled = false;
      req.on('error', (err: NodeJS.ErrnoException) => {
        if (settled) return;
        settled = true;
        reject(this.connError(err, method, fullPath));
      });
      req.on('response', (res) => {
        settled = true;
        const status = res.statusCode ?? 0;
        if (status >= 400 && !opts.allowErrorStatus) {
          readError(res, status, this.displayUrl(fullPath)).then(reject, reject);
          return;
        }
        resolve({ status, headers: res.headers, body: res });
      });
      sendBody(req, payload);
    });
  }

  /** POST with Connection: Upgrade / Upgrade: tcp; resolves with the raw socket after `101`. */
  hijack(method: string, path: string, opts: RequestOptions = {}): Promise<Hijacked> {
    const qs = encodeQuery(opts.query);
    const fullPath = escapePath(path) + (qs ? `?${qs}` : '');
    const prepared = this.prepare(opts);
    const headers: Record<string, string> = { ...prepared.headers, Connection: 'Upgrade', Upgrade: 'tcp' };
    if (!headers['Content-Type']) headers['Content-Type'] = 'text/plain';
    const payload = prepared.payload ?? Buffer.alloc(0);
    if (Buffer.isBuffer(payload)) headers['Content-Length'] = String(payload.length);
    return new Promise<Hijacked>((resolve, reject) => {
      const req = http.request(this.baseOptions(method, fullPath, headers));
      let settled = false;
      req.on('error', (err: NodeJS.ErrnoException) => {
        if (settled) return;
        settled = true;
        reject(this.connError(err, method, fullPath));
      });
      req.on('upgrade', (_res: http.IncomingMessage, socket: Socket, head: Buffer) => {
        settled = true;
        socket.setNoDelay?.(true);
        let writeClosed = false;
        resolve({
          socket,
          head,
          closeWrite: () => {
            if (writeClosed) return;
            writeClosed = true;
            socket.end();
          },
          close: () => socket.destroy(),
        });
      });
      req.on('response', (res) => {
        settled = true;
        const status = res.statusCode ?? 0;
        if (status >= 400) {
          readError(res, status, this.displayUrl(fullPath)).then(reject, reject);
          return;
        }
        res.resume();
        reject(new Error(`unable to upgrade to tcp, received ${status}`));
      });
      sendBody(req, payload);
    });
  }
}

function sendBody(req: http.ClientRequest, payload: Buffer | NodeJS.ReadableStream | undefined): void {
  if (payload === undefined) req.end();
  else if (Buffer.isBuffer(payload)) req.end(payload);
  else {
    payload.on('error', (e) => req.destroy(e as Error));
    payload.pipe(req);
  }
}

export function readAll(stream: NodeJS.ReadableStream, limit = Infinity): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let n = 0;
    stream.on('data', (c: Buffer) => {
      if (n < limit) {
        chunks.push(c);
        n += c.length;
      }
    });
    stream.on('end', () => resolve(Buffer.concat(chunks)));
    stream.on('error', reject);
  });
}

export async function readError(res: http.IncomingMessage, status: number, url: string): Promise<Error> {
  const body = await readAll(res, 1 << 20).catch(() => Buffer.alloc(0));
  const statusMsg = `${status} ${res.statusMessage || statusText(status)}`.trim();
  if (body.length === 0) {
    return new ApiError(status, `request returned ${statusMsg} for API route and version ${url}, check if the server supports the requested API version`, { raw: true });
  }
  if (res.headers['content-type'] === 'application/json') {
    let msg: unknown;
    try {
      msg = (JSON.parse(body.toString('utf8')) as { message?: unknown }).message;
    } catch (e) {
      return new ApiError(status, `Error reading JSON: ${(e as Error).message}`, { raw: true });
    }
    if (typeof msg !== 'string' || msg === '') {
      return new ApiError(status, `API returned a ${status} (${statusText(status)}) but provided no error-message`);
    }
    return new ApiError(status, msg.trim());
  }
  return new ApiError(status, body.toString('utf8').trim());
}
