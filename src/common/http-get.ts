// A plain GET that follows redirects, for ADD <url> and remote build contexts.
// Not node's fetch: that one trusts only the roots node had at start-up, and
// berthd trusts the system's (see tls-roots.ts).
import * as http from 'node:http';
import * as https from 'node:https';
import { trustedRoots } from './tls-roots';

export interface GetResult {
  status: number;
  statusText: string;
  /** A response header (lower-case name). */
  header(name: string): string | undefined;
  body: Buffer;
  /** The URL answered, after redirects. */
  url: string;
}

const MAX_REDIRECTS = 20; // as fetch

let agent: https.Agent | undefined;
function tlsAgent(): https.Agent {
  agent ??= new https.Agent({ ca: trustedRoots(), keepAlive: false });
  return agent;
}

/** GETs url, following redirects; rejects with the socket's error (as fetch's cause) on network failure. */
export async function httpGet(url: string, opts: { signal?: AbortSignal } = {}): Promise<GetResult> {
  let cur = new URL(url);
  for (let hops = 0; ; hops++) {
    if (cur.protocol !== 'http:' && cur.protocol !== 'https:') throw new Error(`unsupported protocol ${cur.protocol}`);
    const res = await once(cur, opts.signal);
    const loc = res.headers['location'];
    if ([301, 302, 303, 307, 308].includes(res.statusCode ?? 0) && loc) {
      res.resume();
      if (hops >= MAX_REDIRECTS) throw new Error('redirect count exceeded');
      cur = new URL(loc, cur);
      continue;
    }
    const parts: Buffer[] = [];
    for await (const c of res) parts.push(c as Buffer);
    const headers = res.headers;
    return {
      status: res.statusCode ?? 0,
      statusText: res.statusMessage ?? '',
      header: (n) => {
        const v = headers[n.toLowerCase()];
        return Array.isArray(v) ? v.join(', ') : v;
      },
      body: Buffer.concat(parts),
      url: cur.href,
    };
  }
}

function once(u: URL, signal: AbortSignal | undefined): Promise<http.IncomingMessage> {
  return new Promise((resolve, reject) => {
    const mod = u.protocol === 'https:' ? https : http;
    const req = mod.get(u, { ...(u.protocol === 'https:' ? { agent: tlsAgent() } : {}), ...(signal ? { signal } : {}), headers: { 'User-Agent': 'berth' } }, resolve);
    req.on('error', reject);
  });
}
