// HTTP front of berthd: unix/tcp listeners, API version prefix handling,
// routing, JSON helpers and connection hijacking for attach/exec.
// Routes only translate HTTP to typed backend calls; see ./routes.
import * as http from 'node:http';
import type { Duplex } from 'node:stream';
import { EngineError, invalid } from '../common/errors';
import { log } from '../common/log';
import { errorBody, httpStatus } from './errors';

export const API_VERSION = '1.41';
export const MIN_API_VERSION = '1.12';
export const ENGINE_VERSION = '20.10.24';

export interface Ctx {
  method: string;
  path: string;
  params: string[];
  query: URLSearchParams;
  req: http.IncomingMessage;
  /** undefined for upgrade requests */
  res: http.ServerResponse | undefined;
  /** API version the client asked for (prefix), or the current one. */
  version: string;
  /** Reads and parses the JSON body; {} when empty. */
  json<T = unknown>(): Promise<T>;
  /** The raw body as a stream (req itself). */
  bodyStream(): NodeJS.ReadableStream;
  send(status: number, body?: unknown): void;
  sendText(status: number, text: string, contentType?: string): void;
  /** Starts a streaming response: headers flushed at once. */
  stream(status: number, contentType?: string): http.ServerResponse;
  /** Takes over the connection (101 for upgrade requests). Returns the socket and any bytes already read. */
  hijack(contentType?: string): { socket: Duplex; head: Buffer };
  isUpgrade: boolean;
}

export type Handler = (ctx: Ctx) => Promise<void> | void;
interface Route { method: string; re: RegExp; handler: Handler }

export class Router {
  private routes: Route[] = [];
  add(method: string, pattern: string, handler: Handler): void {
    // pattern: "/containers/:id/json"; ":name*" matches across slashes (image names)
    const re = new RegExp('^' + pattern.replace(/:(\w+)\*/g, '(.+)').replace(/:(\w+)/g, '([^/]+)') + '$');
    this.routes.push({ method, re, handler });
  }
  get = (p: string, h: Handler): void => this.add('GET', p, h);
  post = (p: string, h: Handler): void => this.add('POST', p, h);
  put = (p: string, h: Handler): void => this.add('PUT', p, h);
  delete = (p: string, h: Handler): void => this.add('DELETE', p, h);
  head = (p: string, h: Handler): void => this.add('HEAD', p, h);
  match(method: string, path: string): { handler: Handler; params: string[] } | 'method' | undefined {
    let pathMatched = false;
    for (const r of this.routes) {
      const m = r.re.exec(path);
      if (!m) continue;
      pathMatched = true;
      if (r.method === method || (method === 'HEAD' && r.method === 'GET')) {
        return { handler: r.handler, params: m.slice(1).map((s) => decodeURIComponent(s)) };
      }
    }
    return pathMatched ? 'method' : undefined;
  }
}

function versionCompare(a: string, b: string): number {
  const pa = a.split('.').map(Number), pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d) return d;
  }
  return 0;
}

export const commonHeaders: Record<string, string> = {
  'Api-Version': API_VERSION,
  'Ostype': 'linux',
  'Docker-Experimental': 'false',
  'Server': `Docker/${ENGINE_VERSION} (linux)`,
};

function rawResponse(status: number, body: string): string {
  const reason = http.STATUS_CODES[status] ?? '';
  let h = `HTTP/1.1 ${status} ${reason}\r\n`;
  for (const [k, v] of Object.entries(commonHeaders)) h += `${k}: ${v}\r\n`;
  h += `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n`;
  return h + body;
}

async function readBody(req: http.IncomingMessage, preRead?: Buffer, socket?: Duplex): Promise<Buffer> {
  if (socket) {
    // Upgrade request: the body (exec start's JSON) arrives on the raw socket.
    const len = Number(req.headers['content-length'] ?? 0);
    let buf = preRead ?? Buffer.alloc(0);
    while (buf.length < len) {
      const chunk = await new Promise<Buffer | null>((resolve) => {
        const onData = (d: Buffer): void => { cleanup(); resolve(d); };
        const onEnd = (): void => { cleanup(); resolve(null); };
        const cleanup = (): void => { socket.off('data', onData); socket.off('end', onEnd); socket.pause(); };
        socket.on('data', onData);
        socket.once('end', onEnd);
        socket.resume();
      });
      if (!chunk) break;
      buf = Buffer.concat([buf, chunk]);
    }
    return buf;
  }
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

export function createHttpHandler(router: Router): {
  onRequest: (req: http.IncomingMessage, res: http.ServerResponse) => void;
  onUpgrade: (req: http.IncomingMessage, socket: Duplex, head: Buffer) => void;
} {
  const dispatch = async (req: http.IncomingMessage, res: http.ServerResponse | undefined, socket: Duplex | undefined, head: Buffer | undefined): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://berth');
    let path = url.pathname;
    let version = API_VERSION;
    let consumedHead = head;
    let hijacked = false;
    const vm = /^\/v([0-9.]+)(\/.*)$/.exec(path);
    const method = req.method ?? 'GET';
    const ctx: Ctx = {
      method,
      path,
      params: [],
      query: url.searchParams,
      req,
      res,
      version,
      isUpgrade: socket !== undefined,
      json: async <T>(): Promise<T> => {
        const buf = await readBody(req, consumedHead, socket);
        if (socket) {
          const len = Number(req.headers['content-length'] ?? 0);
          consumedHead = buf.subarray(len);
          const body = buf.subarray(0, len);
          return (body.length ? JSON.parse(body.toString('utf8')) : {}) as T;
        }
        const text = buf.toString('utf8').trim();
        if (!text) return {} as T;
        try {
          return JSON.parse(text) as T;
        } catch (e) {
          throw invalid(`invalid JSON: ${e instanceof Error ? e.message : String(e)}`);
        }
      },
      bodyStream: () => req,
      send: (status, body) => {
        if (!res) {
          socket?.end(rawResponse(status, body === undefined ? '' : JSON.stringify(body)));
          return;
        }
        const headers: Record<string, string> = { ...commonHeaders };
        if (body === undefined || status === 204 || status === 304) {
          res.writeHead(status, headers);
          res.end();
          return;
        }
        const text = JSON.stringify(body);
        headers['Content-Type'] = 'application/json';
        headers['Content-Length'] = String(Buffer.byteLength(text));
        res.writeHead(status, headers);
        res.end(text);
      },
      sendText: (status, text, contentType = 'text/plain; charset=utf-8') => {
        if (!res) { socket?.end(rawResponse(status, text)); return; }
        res.writeHead(status, { ...commonHeaders, 'Content-Type': contentType, 'Content-Length': String(Buffer.byteLength(text)) });
        res.end(method === 'HEAD' ? undefined : text);
      },
      stream: (status, contentType = 'application/json') => {
        if (!res) throw new Error('stream() on an upgrade request');
        res.writeHead(status, { ...commonHeaders, 'Content-Type': contentType });
        res.flushHeaders();
        return res;
      },
      hijack: (contentType = 'application/vnd.docker.raw-stream') => {
        hijacked = true;
        if (socket) {
          let h = 'HTTP/1.1 101 UPGRADED\r\n';
          h += `Content-Type: ${contentType}\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n`;
          for (const [k, v] of Object.entries(commonHeaders)) h += `${k}: ${v}\r\n`;
          socket.write(h + '\r\n');
          return { socket, head: consumedHead ?? Buffer.alloc(0) };
        }
        // Plain request: answer 200 and stream raw bytes on the connection.
        const s = req.socket;
        let h = `HTTP/1.1 200 OK\r\nContent-Type: ${contentType}\r\n`;
        for (const [k, v] of Object.entries(commonHeaders)) h += `${k}: ${v}\r\n`;
        s.write(h + 'Connection: close\r\n\r\n');
        return { socket: s, head: Buffer.alloc(0) };
      },
    };
    try {
      if (vm) {
        version = vm[1] ?? API_VERSION;
        path = vm[2] ?? '/';
        if (versionCompare(version, API_VERSION) > 0) throw invalid(`client version ${version} is too new. Maximum supported API version is ${API_VERSION}`);
        if (versionCompare(version, MIN_API_VERSION) < 0) throw invalid(`client version ${version} is too old. Minimum supported API version is ${MIN_API_VERSION}, please upgrade your client to a newer version`);
        ctx.path = path;
        ctx.version = version;
      }
      const m = router.match(method, path);
      if (m === undefined || m === 'method') {
        ctx.send(404, { message: 'page not found' });
        return;
      }
      ctx.params = m.params;
      await m.handler(ctx);
    } catch (e) {
      const status = httpStatus(e);
      if (status >= 500 && status !== 501) log.error('request failed', { method, path: url.pathname, err: e instanceof Error ? (e.stack ?? e.message) : String(e) });
      else log.debug('request error', { method, path: url.pathname, status, err: e });
      if (hijacked) {
        socket?.end();
        return;
      }
      if (res && res.headersSent) {
        // Streaming already began: report in-band as Docker does.
        const msg = e instanceof Error ? e.message : String(e);
        res.end(JSON.stringify({ errorDetail: { message: msg }, error: msg }) + '\n');
        return;
      }
      if (status === 304) { ctx.send(304); return; }
      if (res) {
        const text = errorBody(e);
        res.writeHead(status, { ...commonHeaders, 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(text)) });
        res.end(text);
      } else {
        socket?.end(rawResponse(status, errorBody(e)));
      }
    }
  };
  return {
    onRequest: (req, res) => void dispatch(req, res, undefined, undefined),
    onUpgrade: (req, socket, head) => void dispatch(req, undefined, socket, head),
  };
}

export { EngineError };
