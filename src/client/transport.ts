// HTTP/1.1 over a unix socket or tcp, plus hijacked (101 Upgrade: tcp)
// connections, written directly on node:net: one connection per request (the
// CLI is short-lived, and the docker CLI also opens several in parallel).
// node:http is avoided on purpose: loading it and creating the first
// ClientRequest costs several milliseconds of start-up, which `berth ps` pays
// on every invocation.
import * as net from 'node:net';
import { Readable } from 'node:stream';
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

export type Headers = Record<string, string | string[] | undefined>;

export interface StreamResponse {
  status: number;
  statusMessage: string;
  /** Lower-cased header names. */
  headers: Headers;
  body: Readable;
}

export interface Hijacked {
  socket: net.Socket;
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
    let out = '';
    for (const x of Buffer.from(c)) out += '%' + x.toString(16).toUpperCase().padStart(2, '0');
    return out;
  });
}

const CRLF2 = Buffer.from('\r\n\r\n');

interface RawResponse {
  status: number;
  statusMessage: string;
  headers: Headers;
  socket: net.Socket;
  /** Bytes after the header block. */
  rest: Buffer;
}

/** Parses "HTTP/1.1 200 OK\r\nK: v\r\n..." (without the final blank line). */
export function parseHead(text: string): { status: number; statusMessage: string; headers: Headers } {
  const lines = text.split('\r\n');
  const m = /^HTTP\/\d\.\d (\d{3})(?: (.*))?$/.exec(lines[0] ?? '');
  if (!m) throw new Error(`malformed HTTP response "${lines[0] ?? ''}"`);
  const headers: Headers = {};
  for (const l of lines.slice(1)) {
    const i = l.indexOf(':');
    if (i <= 0) continue;
    const k = l.slice(0, i).trim().toLowerCase();
    const v = l.slice(i + 1).trim();
    const prev = headers[k];
    if (prev === undefined) headers[k] = v;
    else if (Array.isArray(prev)) prev.push(v);
    else headers[k] = k === 'set-cookie' ? [prev, v] : `${prev}, ${v}`;
  }
  return { status: Number(m[1]), statusMessage: m[2] ?? '', headers };
}

/** Incremental decoder for Transfer-Encoding: chunked. */
export class ChunkedDecoder {
  private buf: Buffer = Buffer.alloc(0);
  private remaining = -1; // -1: expecting a size line; -2: expecting CRLF after data; -3: trailers
  done = false;
  constructor(private readonly onData: (b: Buffer) => void) {}

  push(chunk: Buffer): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    for (;;) {
      if (this.done) return;
      if (this.remaining === -1) {
        const i = this.buf.indexOf('\r\n');
        if (i < 0) return;
        const size = parseInt(this.buf.subarray(0, i).toString('latin1').split(';')[0]!.trim(), 16);
        if (Number.isNaN(size)) throw new Error('malformed chunked encoding');
        this.buf = this.buf.subarray(i + 2);
        this.remaining = size === 0 ? -3 : size;
      } else if (this.remaining === -2) {
        if (this.buf.length < 2) return;
        this.buf = this.buf.subarray(2);
        this.remaining = -1;
      } else if (this.remaining === -3) {
        const i = this.buf.indexOf('\r\n');
        if (i < 0) return;
        const line = this.buf.subarray(0, i);
        this.buf = this.buf.subarray(i + 2);
        if (line.length === 0) {
          this.done = true;
          return;
        }
      } else {
        if (this.buf.length === 0) return;
        const n = Math.min(this.remaining, this.buf.length);
        const data = this.buf.subarray(0, n);
        this.buf = this.buf.subarray(n);
        this.remaining -= n;
        if (this.remaining === 0) this.remaining = -2;
        this.onData(data);
      }
    }
  }
}

/** TLS to a tcp:// daemon, as the docker CLI's --tls/--tlsverify: the PEM contents, and whether to verify the daemon. */
export interface TlsConfig {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  verify: boolean;
}

export class Transport {
  readonly userAgent: string;
  constructor(readonly host: HostSpec, userAgent = 'berth-cli', readonly tlsConfig?: TlsConfig) {
    this.userAgent = userAgent;
  }

  private connect(): net.Socket {
    if (this.host.kind === 'unix') return net.connect({ path: this.host.path });
    const t = this.tlsConfig;
    if (!t) return net.connect({ host: this.host.host, port: this.host.port });
    // node:tls only for TLS hosts: it is a large module to load for every call.
    const tls = require('node:tls') as typeof import('node:tls');
    return tls.connect({
      host: this.host.host,
      port: this.host.port,
      ...(net.isIP(this.host.host) ? {} : { servername: this.host.host }),
      ...(t.ca ? { ca: t.ca } : {}),
      ...(t.cert ? { cert: t.cert } : {}),
      ...(t.key ? { key: t.key } : {}),
      rejectUnauthorized: t.verify,
    });
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
    return `${this.tlsConfig ? 'https' : 'http'}://${this.host.host}:${this.host.port}${path}`;
  }

  private prepare(opts: RequestOptions): { headers: Record<string, string>; payload: Buffer | NodeJS.ReadableStream | undefined } {
    const headers: Record<string, string> = { Host: 'api.moby.localhost', 'User-Agent': this.userAgent, ...(opts.headers ?? {}) };
    let payload: Buffer | NodeJS.ReadableStream | undefined;
    if (opts.json !== undefined) {
      payload = Buffer.from(JSON.stringify(opts.json) + '\n');
      headers['Content-Type'] = opts.contentType ?? 'application/json';
    } else if (opts.body !== undefined) {
      payload = opts.body;
      if (opts.contentType) headers['Content-Type'] = opts.contentType;
    }
    if (Buffer.isBuffer(payload)) headers['Content-Length'] = String(payload.length);
    else if (payload) headers['Transfer-Encoding'] = 'chunked';
    return { headers, payload };
  }

  /** Writes the request and resolves when the response head has arrived. */
  private exchange(method: string, path: string, headers: Record<string, string>, payload: Buffer | NodeJS.ReadableStream | undefined): Promise<RawResponse> {
    return new Promise<RawResponse>((resolve, reject) => {
      const socket = this.connect();
      let settled = false;
      let connected = false;
      let acc: Buffer = Buffer.alloc(0);
      const onError = (err: NodeJS.ErrnoException): void => {
        if (settled) return;
        settled = true;
        reject(acc.length === 0 && !connected ? this.connError(err, method, path) : err);
      };
      socket.once('connect', () => {
        connected = true;
      });
      socket.on('error', onError);
      const onData = (d: Buffer): void => {
        acc = acc.length ? Buffer.concat([acc, d]) : d;
        const end = acc.indexOf(CRLF2);
        if (end < 0) {
          if (acc.length > 1 << 20) onError(new Error('response headers too large'));
          return;
        }
        socket.removeListener('data', onData);
        socket.removeListener('end', onEnd);
        socket.pause();
        let head;
        try {
          head = parseHead(acc.subarray(0, end).toString('latin1'));
        } catch (e) {
          onError(e as Error);
          socket.destroy();
          return;
        }
        settled = true;
        socket.removeListener('error', onError);
        resolve({ ...head, socket, rest: acc.subarray(end + 4) });
      };
      const onEnd = (): void => onError(new Error('EOF'));
      socket.on('data', onData);
      socket.on('end', onEnd);
      let text = `${method} ${path} HTTP/1.1\r\n`;
      for (const [k, v] of Object.entries(headers)) text += `${k}: ${v}\r\n`;
      text += '\r\n';
      if (Buffer.isBuffer(payload)) {
        socket.write(payload.length ? Buffer.concat([Buffer.from(text, 'latin1'), payload]) : Buffer.from(text, 'latin1'));
      } else {
        socket.write(text, 'latin1');
        if (payload) {
          payload.on('data', (c: Buffer | string) => {
            const b = typeof c === 'string' ? Buffer.from(c) : c;
            if (b.length === 0) return;
            socket.write(`${b.length.toString(16)}\r\n`);
            socket.write(b);
            if (!socket.write('\r\n')) {
              payload.pause();
              socket.once('drain', () => payload.resume());
            }
          });
          payload.on('end', () => socket.write('0\r\n\r\n'));
          payload.on('error', (e: Error) => {
            onError(e);
            socket.destroy();
          });
          payload.resume();
        }
      }
    });
  }

  /** The response body as a stream, framed by Content-Length, chunked encoding or the end of the connection. */
  private bodyStream(method: string, r: RawResponse): Readable {
    const { socket } = r;
    let finished = false;
    const body = new Readable({
      read() {
        socket.resume();
      },
      destroy(err, cb) {
        socket.destroy();
        cb(err);
      },
    });
    const push = (b: Buffer): void => {
      if (b.length && !body.push(b)) socket.pause();
    };
    const end = (): void => {
      if (finished) return;
      finished = true;
      body.push(null);
      socket.destroy();
    };
    const noBody = method === 'HEAD' || r.status === 204 || r.status === 304 || (r.status >= 100 && r.status < 200);
    const te = String(r.headers['transfer-encoding'] ?? '').toLowerCase();
    const cl = r.headers['content-length'];
    if (noBody) {
      end();
      return body;
    }
    let onChunk: (d: Buffer) => void;
    if (te.includes('chunked')) {
      const dec = new ChunkedDecoder(push);
      onChunk = (d) => {
        dec.push(d);
        if (dec.done) end();
      };
    } else if (cl !== undefined) {
      let left = Number(cl);
      if (left === 0) {
        end();
        return body;
      }
      onChunk = (d) => {
        const take = d.subarray(0, left);
        left -= take.length;
        push(take);
        if (left <= 0) end();
      };
    } else {
      onChunk = push;
    }
    socket.on('data', (d: Buffer) => {
      if (!finished) onChunk(d);
    });
    socket.on('end', end);
    socket.on('close', end);
    socket.on('error', (e) => {
      if (!finished) {
        finished = true;
        body.destroy(e);
      }
    });
    if (r.rest.length) onChunk(r.rest);
    socket.resume();
    return body;
  }

  /** Sends a request and resolves as soon as the response headers arrive. Errors (>= 400) are thrown as ApiError. */
  async request(method: string, path: string, opts: RequestOptions = {}): Promise<StreamResponse> {
    const qs = encodeQuery(opts.query);
    const fullPath = escapePath(path) + (qs ? `?${qs}` : '');
    const { headers, payload } = this.prepare(opts);
    headers.Connection = 'close';
    const r = await this.exchange(method, fullPath, headers, payload);
    const body = this.bodyStream(method, r);
    if (r.status >= 400 && !opts.allowErrorStatus) {
      throw await readError({ status: r.status, statusMessage: r.statusMessage, headers: r.headers, body }, this.displayUrl(fullPath));
    }
    return { status: r.status, statusMessage: r.statusMessage, headers: r.headers, body };
  }

  /** POST with Connection: Upgrade / Upgrade: tcp; resolves with the raw socket after `101`. */
  async hijack(method: string, path: string, opts: RequestOptions = {}): Promise<Hijacked> {
    const qs = encodeQuery(opts.query);
    const fullPath = escapePath(path) + (qs ? `?${qs}` : '');
    const prepared = this.prepare(opts);
    const headers: Record<string, string> = { ...prepared.headers, Connection: 'Upgrade', Upgrade: 'tcp' };
    if (!headers['Content-Type']) headers['Content-Type'] = 'text/plain';
    let payload = prepared.payload;
    if (payload === undefined) {
      payload = Buffer.alloc(0);
      headers['Content-Length'] = '0';
    }
    const r = await this.exchange(method, fullPath, headers, payload);
    if (r.status === 101) {
      const socket = r.socket;
      socket.setNoDelay(true);
      let writeClosed = false;
      return {
        socket,
        head: r.rest,
        closeWrite: () => {
          if (writeClosed) return;
          writeClosed = true;
          socket.end();
        },
        close: () => socket.destroy(),
      };
    }
    const body = this.bodyStream(method, r);
    if (r.status >= 400) throw await readError({ status: r.status, statusMessage: r.statusMessage, headers: r.headers, body }, this.displayUrl(fullPath));
    body.resume();
    throw new Error(`unable to upgrade to tcp, received ${r.status}`);
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

/** The Go client's checkResponseErr: JSON {"message"} when Content-Type is exactly application/json, else the body text. */
export async function readError(res: { status: number; statusMessage: string; headers: Headers; body: NodeJS.ReadableStream }, url: string): Promise<Error> {
  const { status } = res;
  const body = await readAll(res.body, 1 << 20).catch(() => Buffer.alloc(0));
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
