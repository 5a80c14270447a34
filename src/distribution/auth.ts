// Registry authentication: X-Registry-Auth decoding, WWW-Authenticate
// challenge parsing, and the two schemes registries use: Basic (credentials on
// every request) and Bearer (a token per scope set from the challenge's realm,
// cached until it expires). Identity tokens (OAuth refresh tokens from a
// previous login) and registry tokens are honoured as Docker does.
import { createHash } from 'node:crypto';
import { registryErrorText } from './errors';
import { httpRequest, readBody, TransportError, type TlsOptions } from './transport';

/**
 * An authentication failure talking to a registry. Not an EngineError on
 * purpose: a pull or push that fails on credentials must not answer 401, or
 * the docker CLI starts an interactive login; only POST /auth maps it to 401.
 */
export class AuthError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AuthError';
  }
}

/** Docker's types.AuthConfig (the JSON inside X-Registry-Auth and /auth bodies). */
export interface AuthConfig {
  username?: string;
  password?: string;
  auth?: string;
  email?: string;
  serveraddress?: string;
  identitytoken?: string;
  registrytoken?: string;
}

function pickString(o: Record<string, unknown>, ...keys: string[]): string | undefined {
  for (const k of keys) {
    for (const [ok, v] of Object.entries(o)) if (ok.toLowerCase() === k && typeof v === 'string') return v;
  }
  return undefined;
}

/** Validates an AuthConfig from JSON (field names matched case-insensitively, as Go's decoder does). */
export function parseAuthConfig(v: unknown): AuthConfig {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return {};
  const o = v as Record<string, unknown>;
  const a: AuthConfig = {};
  const set = (k: keyof AuthConfig, ...names: string[]): void => {
    const s = pickString(o, ...names);
    if (s !== undefined && s !== '') a[k] = s;
  };
  set('username', 'username');
  set('password', 'password');
  set('auth', 'auth');
  set('email', 'email');
  set('serveraddress', 'serveraddress');
  set('identitytoken', 'identitytoken');
  set('registrytoken', 'registrytoken');
  if (!a.username && a.auth) {
    // "auth" is base64(username:password), as in config.json.
    const dec = Buffer.from(a.auth, 'base64').toString('utf8');
    const i = dec.indexOf(':');
    if (i > 0) {
      a.username = dec.slice(0, i);
      a.password = dec.slice(i + 1);
    }
  }
  return a;
}

/** Decodes X-Registry-Auth (base64url JSON, padding optional); anything undecodable means anonymous, as in Docker. */
export function decodeRegistryAuth(header: string | string[] | undefined): AuthConfig {
  const h = Array.isArray(header) ? header[0] : header;
  if (!h) return {};
  try {
    const json = Buffer.from(h.trim().replace(/-/g, '+').replace(/_/g, '/'), 'base64').toString('utf8');
    return parseAuthConfig(JSON.parse(json));
  } catch {
    return {};
  }
}

export function hasCredentials(a: AuthConfig): boolean {
  return Boolean((a.username && a.password !== undefined) || a.identitytoken || a.registrytoken);
}

export interface Challenge {
  scheme: string;
  params: Record<string, string>;
}

/** Parses WWW-Authenticate header values (RFC 7235: several challenges, quoted parameters). */
export function parseChallenges(header: string | string[] | undefined): Challenge[] {
  const values = Array.isArray(header) ? header : header ? [header] : [];
  const out: Challenge[] = [];
  for (const value of values) {
    let i = 0;
    const s = value;
    const skipWs = (): void => {
      while (i < s.length && (s[i] === ' ' || s[i] === '\t' || s[i] === ',')) i++;
    };
    const token = (): string => {
      const st = i;
      while (i < s.length && /[!#$%&'*+\-.^_`|~0-9A-Za-z]/.test(s[i] ?? '')) i++;
      return s.slice(st, i);
    };
    let cur: Challenge | undefined;
    while (i < s.length) {
      skipWs();
      const t = token();
      if (!t) {
        i++;
        continue;
      }
      let j = i;
      while (j < s.length && (s[j] === ' ' || s[j] === '\t')) j++;
      if (s[j] === '=' && cur) {
        i = j + 1;
        while (i < s.length && (s[i] === ' ' || s[i] === '\t')) i++;
        let val = '';
        if (s[i] === '"') {
          i++;
          while (i < s.length && s[i] !== '"') {
            if (s[i] === '\\' && i + 1 < s.length) i++;
            val += s[i];
            i++;
          }
          i++;
        } else val = token();
        cur.params[t.toLowerCase()] = val;
      } else {
        cur = { scheme: t.toLowerCase(), params: {} };
        out.push(cur);
      }
    }
  }
  return out;
}

interface CachedToken {
  token: string;
  expiresAt: number;
}

export interface TokenResult {
  token: string;
  refreshToken?: string;
}

/**
 * Per-endpoint authorizer: holds the challenge learnt from the ping and the
 * credentials, and produces the Authorization header for a set of scopes.
 */
export class Authorizer {
  private challenge: Challenge | undefined;
  private readonly tokens = new Map<string, CachedToken>();

  constructor(
    private readonly auth: AuthConfig,
    private readonly tls: TlsOptions | undefined,
    private readonly cache: Map<string, CachedToken> = new Map(),
  ) {}

  /** Records the challenges from a 401 (the ping's, or a later request's). */
  setChallenges(cs: Challenge[]): void {
    this.challenge = cs.find((c) => c.scheme === 'bearer') ?? cs.find((c) => c.scheme === 'basic') ?? this.challenge;
  }

  get scheme(): string | undefined {
    return this.challenge?.scheme;
  }

  /** The Authorization header value for a request needing scopes; undefined when the registry wants none. */
  async header(scopes: string[], signal?: AbortSignal, url?: string, method = 'GET'): Promise<string | undefined> {
    const ch = this.challenge;
    if (!ch) return undefined;
    if (ch.scheme === 'basic') {
      if (!this.auth.username) {
        // Docker's basic handler refuses to send a request without credentials.
        throw new AuthError(url ? `${method.charAt(0)}${method.slice(1).toLowerCase()} "${url}": no basic auth credentials` : 'no basic auth credentials');
      }
      return `Basic ${Buffer.from(`${this.auth.username}:${this.auth.password ?? ''}`).toString('base64')}`;
    }
    if (ch.scheme === 'bearer') {
      if (this.auth.registrytoken) return `Bearer ${this.auth.registrytoken}`;
      const t = await this.token(scopes, signal);
      return `Bearer ${t.token}`;
    }
    return undefined;
  }

  /** Fetches (or reuses) a bearer token for scopes. */
  async token(scopes: string[], signal?: AbortSignal, opts: { offline?: boolean } = {}): Promise<TokenResult> {
    const ch = this.challenge;
    if (!ch || ch.scheme !== 'bearer') throw new Error('no bearer challenge');
    const realm = ch.params['realm'];
    if (!realm) throw new AuthError('unauthorized: bearer challenge without realm');
    const service = ch.params['service'] ?? '';
    const sorted = [...new Set(scopes)].sort();
    // Tokens are shared between pulls only for the very same credentials.
    const who = createHash('sha256').update(`${this.auth.username ?? ''}\0${this.auth.password ?? ''}\0${this.auth.identitytoken ?? ''}`).digest('hex').slice(0, 16);
    const key = `${realm}|${service}|${who}|${sorted.join(' ')}`;
    const now = Date.now();
    const cached = this.tokens.get(key) ?? this.cache.get(key);
    if (cached && cached.expiresAt > now && !opts.offline) return { token: cached.token };
    const res = await this.fetchToken(realm, service, sorted, signal, opts.offline === true);
    const expiresIn = Math.max(60, Number(res.expires_in) || 60);
    const issued = typeof res.issued_at === 'string' && !Number.isNaN(Date.parse(res.issued_at)) ? Date.parse(res.issued_at) : now;
    const entry = { token: res.token, expiresAt: Math.min(issued, now) + expiresIn * 1000 - 10_000 };
    this.tokens.set(key, entry);
    this.cache.set(key, entry);
    return res.refresh_token ? { token: res.token, refreshToken: res.refresh_token } : { token: res.token };
  }

  private async fetchToken(realm: string, service: string, scopes: string[], signal: AbortSignal | undefined, offline: boolean): Promise<{ token: string; expires_in?: number; issued_at?: string; refresh_token?: string }> {
    const u = new URL(realm);
    const a = this.auth;
    let res;
    if (a.identitytoken) {
      // OAuth2 refresh-token grant, as Docker does with an identity token.
      const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: a.identitytoken, client_id: 'docker', access_type: offline ? 'offline' : 'online' });
      if (service) form.set('service', service);
      if (scopes.length) form.set('scope', scopes.join(' '));
      res = await httpRequest({
        method: 'POST', url: u.toString(), body: Buffer.from(form.toString()),
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, ...(this.tls ? { tls: this.tls } : {}), ...(signal ? { signal } : {}),
      });
    } else {
      if (service) u.searchParams.set('service', service);
      for (const s of scopes) u.searchParams.append('scope', s);
      if (a.username) u.searchParams.set('account', a.username);
      if (offline) {
        u.searchParams.set('client_id', 'docker');
        u.searchParams.set('offline_token', 'true');
      }
      const headers: Record<string, string> = {};
      if (a.username) headers['Authorization'] = `Basic ${Buffer.from(`${a.username}:${a.password ?? ''}`).toString('base64')}`;
      res = await httpRequest({ method: 'GET', url: u.toString(), headers, ...(this.tls ? { tls: this.tls } : {}), ...(signal ? { signal } : {}) });
    }
    const body = await readBody(res, 1 << 20);
    if (res.status !== 200) {
      const text = registryErrorText(res.status, body);
      const m = `${a.identitytoken ? 'Post' : 'Get'} "${res.url}": ${text}`;
      if (res.status === 401 || res.status === 403) throw new AuthError(m);
      throw new TransportError(m, undefined, res.status >= 500);
    }
    let v: unknown;
    try {
      v = JSON.parse(body.toString('utf8'));
    } catch {
      throw new TransportError(`token from ${realm}: invalid JSON`, undefined, false);
    }
    const o = (typeof v === 'object' && v !== null ? v : {}) as Record<string, unknown>;
    const token = typeof o['token'] === 'string' && o['token'] ? o['token'] : typeof o['access_token'] === 'string' ? o['access_token'] : '';
    if (!token) throw new AuthError('authorization server did not include a token in the response');
    const r: { token: string; expires_in?: number; issued_at?: string; refresh_token?: string } = { token };
    if (typeof o['expires_in'] === 'number') r.expires_in = o['expires_in'];
    if (typeof o['issued_at'] === 'string') r.issued_at = o['issued_at'];
    if (typeof o['refresh_token'] === 'string') r.refresh_token = o['refresh_token'];
    return r;
  }
}

/** Repository scope strings as Docker requests them. */
export function repoScope(path: string, actions: string[]): string {
  return `repository:${path}:${actions.join(',')}`;
}
