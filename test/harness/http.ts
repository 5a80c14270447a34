// A tiny HTTP/1.1 client over a unix socket, for talking to berthd directly.
import * as http from 'node:http';

export interface ApiResponse<T = unknown> {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  /** The body parsed as JSON, or undefined when it is not JSON. */
  json: T;
}

export interface ApiOptions {
  headers?: Record<string, string>;
  timeoutMs?: number;
}

/**
 * Sends one request. A plain object/array body is sent as JSON; a string or
 * Buffer is sent as is (so malformed JSON can be sent on purpose).
 */
export function apiRequest<T = unknown>(
  sock: string,
  method: string,
  path: string,
  body?: unknown,
  opts: ApiOptions = {},
): Promise<ApiResponse<T>> {
  let payload: Buffer | undefined;
  const headers: Record<string, string> = { Host: 'berth', ...opts.headers };
  if (body !== undefined) {
    if (Buffer.isBuffer(body)) payload = body;
    else if (typeof body === 'string') payload = Buffer.from(body);
    else {
      payload = Buffer.from(JSON.stringify(body));
      headers['Content-Type'] ??= 'application/json';
    }
    headers['Content-Length'] = String(payload.length);
  }
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath: sock, method, path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        clearTimeout(timer);
        const text = Buffer.concat(chunks).toString();
        let json: unknown;
        try {
          json = text.length > 0 ? JSON.parse(text) : undefined;
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json: json as T });
      });
    });
    const timer = setTimeout(() => req.destroy(new Error(`${method} ${path}: no answer within ${opts.timeoutMs ?? 30_000} ms`)), opts.timeoutMs ?? 30_000);
    req.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    req.end(payload);
  });
}

/** GET /_ping; true when the daemon answers 200 OK. Never throws. */
export async function ping(sock: string, timeoutMs = 2000): Promise<boolean> {
  try {
    const r = await apiRequest(sock, 'GET', '/_ping', undefined, { timeoutMs });
    return r.status === 200;
  } catch {
    return false;
  }
}
