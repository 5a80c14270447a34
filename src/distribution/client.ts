// The OCI Distribution API client: a Repository is one repository on one
// endpoint, with the authorizer that endpoint's /v2/ ping asked for. Every call
// maps a failed response to a RegistryError carrying Docker's wording; network
// failures are TransportErrors (retryable or not).
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { invalid, unauthorized } from '../common/errors';
import { log } from '../common/log';
import { AuthError, Authorizer, parseChallenges, repoScope, type AuthConfig } from './auth';
import { RegistryHosts, type Endpoint, type RegistryConfig } from './config';
import { RegistryError, registryErrorCode, registryErrorText } from './errors';
import { MANIFEST_ACCEPT } from './media';
import { discard, goMethod, httpRequest, readBody, TransportError, type HttpResponse } from './transport';

export interface FetchedManifest {
  bytes: Buffer;
  contentType: string;
  /** sha256 of bytes */
  digest: string;
}

interface PingResult {
  challenges: ReturnType<typeof parseChallenges>;
  at: number;
}

export class RegistryClient {
  readonly hosts: RegistryHosts;
  /** Bearer tokens shared by all authorizers (keys include realm, service, account and scopes). */
  private readonly tokenCache = new Map<string, { token: string; expiresAt: number }>();
  private readonly pings = new Map<string, PingResult>();
  /** Endpoints whose ping failed recently (e.g. HTTPS to a plain-HTTP registry): skipped for a minute when another one follows. */
  private readonly pingFailed = new Map<string, number>();

  constructor(readonly cfg: RegistryConfig) {
    this.hosts = new RegistryHosts(cfg);
  }

  /** GET /v2/ on an endpoint: 200 (open) or 401 (with challenges); cached for a minute. */
  async ping(ep: Endpoint, signal?: AbortSignal, fresh = false): Promise<PingResult> {
    const cached = this.pings.get(ep.url);
    if (!fresh && cached && Date.now() - cached.at < 60_000) return cached;
    const res = await httpRequest({ method: 'GET', url: `${ep.url}/v2/`, tls: ep.tls, ...(signal ? { signal } : {}), idleTimeoutMs: 30_000 });
    discard(res);
    if (res.status !== 200 && res.status !== 401) {
      // Any v2 registry answers /v2/ with 200 or 401; a 404 here means no v2 API.
      if (res.status >= 500 || res.status === 404) throw new TransportError(`${goMethod('GET')} "${ep.url}/v2/": ${registryErrorText(res.status, Buffer.alloc(0))}`, undefined, res.status >= 500);
    }
    const r = { challenges: res.status === 401 ? parseChallenges(res.headers['www-authenticate']) : [], at: Date.now() };
    this.pings.set(ep.url, r);
    return r;
  }

  /**
   * Repositories on each endpoint of the registry that answers its ping, in
   * endpoint order (mirrors first for Docker Hub; HTTPS before HTTP for
   * insecure registries). Network errors of skipped endpoints are collected
   * and thrown (the last one) when none answers.
   */
  async *repositories(domain: string, path: string, auth: AuthConfig, actions: string[], signal?: AbortSignal): AsyncGenerator<Repository> {
    const eps = await this.hosts.endpoints(domain);
    let lastErr: unknown;
    let any = false;
    for (let i = 0; i < eps.length; i++) {
      const ep = eps[i]!;
      const failedAt = this.pingFailed.get(ep.url);
      if (failedAt !== undefined && Date.now() - failedAt < 60_000 && i < eps.length - 1) continue;
      let ping: PingResult;
      try {
        ping = await this.ping(ep, signal);
        this.pingFailed.delete(ep.url);
      } catch (e) {
        lastErr = e;
        this.pingFailed.set(ep.url, Date.now());
        log.debug('registry endpoint unavailable', { endpoint: ep.url, err: e instanceof Error ? e.message : String(e) });
        continue;
      }
      any = true;
      const a = new Authorizer(auth, ep.tls, this.tokenCache);
      a.setChallenges(ping.challenges);
      yield new Repository(ep, path, a, actions);
    }
    if (!any) throw lastErr ?? new Error(`no endpoint for ${domain}`);
  }

  /** The first endpoint's repository (push, tags). */
  async repository(domain: string, path: string, auth: AuthConfig, actions: string[], signal?: AbortSignal): Promise<Repository> {
    for await (const r of this.repositories(domain, path, auth, actions, signal)) {
      if (!r.endpoint.mirror) return r; // pushes never go to mirrors
    }
    throw new Error(`no endpoint for ${domain}`);
  }

  /**
   * POST /auth: checks credentials against the registry like Docker's loginV2
   * (a token with offline access for bearer registries; GET /v2/ with the
   * credentials otherwise). Returns the identity (refresh) token, if any.
   */
  async login(domain: string, auth: AuthConfig, signal?: AbortSignal): Promise<{ identityToken: string }> {
    try {
      return await this.loginOnce(domain, auth, signal);
    } catch (e) {
      if (e instanceof AuthError) throw unauthorized(e.message);
      throw e;
    }
  }

  private async loginOnce(domain: string, auth: AuthConfig, signal?: AbortSignal): Promise<{ identityToken: string }> {
    const eps = (await this.hosts.endpoints(domain)).filter((e) => !e.mirror);
    let lastErr: unknown;
    for (const ep of eps) {
      let ping: PingResult;
      try {
        ping = await this.ping(ep, signal, true);
      } catch (e) {
        lastErr = e;
        continue;
      }
      const a = new Authorizer(auth, ep.tls, new Map());
      a.setChallenges(ping.challenges);
      if (a.scheme === 'bearer') {
        const t = await a.token([], signal, { offline: true });
        const hdr = `Bearer ${t.token}`;
        const res = await httpRequest({ method: 'GET', url: `${ep.url}/v2/`, headers: { Authorization: hdr }, tls: ep.tls, ...(signal ? { signal } : {}) });
        discard(res);
        if (res.status !== 200) throw unauthorized(`login attempt to ${ep.url}/v2/ failed with status: ${res.status} ${res.status === 401 ? 'Unauthorized' : ''}`.trim());
        return { identityToken: t.refreshToken ?? '' };
      }
      const headers: Record<string, string> = {};
      if (a.scheme === 'basic') {
        if (!auth.username) throw unauthorized(`Get "${ep.url}/v2/": no basic auth credentials`);
        headers['Authorization'] = `Basic ${Buffer.from(`${auth.username}:${auth.password ?? ''}`).toString('base64')}`;
      }
      const res = await httpRequest({ method: 'GET', url: `${ep.url}/v2/`, headers, tls: ep.tls, ...(signal ? { signal } : {}) });
      discard(res);
      if (res.status === 200) return { identityToken: '' };
      throw unauthorized(`login attempt to ${ep.url}/v2/ failed with status: ${res.status} ${res.status === 401 ? 'Unauthorized' : res.status === 403 ? 'Forbidden' : ''}`.trim());
    }
    throw lastErr ?? new Error(`no endpoint for ${domain}`);
  }
}

interface SendOptions {
  headers?: Record<string, string>;
  body?: Buffer | Readable | AsyncIterable<Uint8Array>;
  signal?: AbortSignal;
  scopes?: string[];
}

export class Repository {
  constructor(readonly endpoint: Endpoint, readonly path: string, private readonly auth: Authorizer, private readonly actions: string[]) {}

  private scopes(extra: string[] = []): string[] {
    return [repoScope(this.path, this.actions), ...extra];
  }

  url(p: string): string {
    return `${this.endpoint.url}/v2/${this.path}${p}`;
  }

  /** Sends with authorization; a 401 carrying a new bearer challenge is retried once (buffer/empty bodies only). */
  async send(method: string, url: string, o: SendOptions = {}): Promise<HttpResponse> {
    const scopes = o.scopes ?? this.scopes();
    // Credentials go to the registry's own origin only: a Link or Location the registry sends may point
    // anywhere (Docker likewise authorizes only hosts whose challenges it has seen).
    const sameOrigin = ((): boolean => {
      try {
        return new URL(url).origin === new URL(this.endpoint.url).origin;
      } catch {
        return false;
      }
    })();
    const go = async (): Promise<HttpResponse> => {
      const headers = { ...(o.headers ?? {}) };
      const authz = sameOrigin ? await this.auth.header(scopes, o.signal, url, method) : undefined;
      if (authz) headers['Authorization'] = authz;
      return httpRequest({ method, url, headers, ...(o.body !== undefined ? { body: o.body } : {}), tls: this.endpoint.tls, ...(o.signal ? { signal: o.signal } : {}) });
    };
    const res = await go();
    if (res.status === 401 && sameOrigin && (o.body === undefined || Buffer.isBuffer(o.body))) {
      const cs = parseChallenges(res.headers['www-authenticate']);
      const bearer = cs.find((c) => c.scheme === 'bearer');
      const basic = cs.find((c) => c.scheme === 'basic');
      if (!bearer && basic && this.auth.scheme !== 'basic') {
        discard(res);
        this.auth.setChallenges(cs);
        return go();
      }
      if (bearer && (this.auth.scheme !== 'bearer' || bearer.params['scope'])) {
        discard(res);
        this.auth.setChallenges(cs);
        const extra = bearer.params['scope'] ? bearer.params['scope'].split(' ') : [];
        for (const s of extra) if (!scopes.includes(s)) scopes.push(s);
        return go();
      }
    }
    return res;
  }

  /** A RegistryError from a failed response (body read for the error envelope). */
  async fail(res: HttpResponse, method: string, prefix?: string): Promise<RegistryError> {
    let body: Buffer = Buffer.alloc(0);
    if (method !== 'HEAD') {
      try {
        body = await readBody(res, 1 << 20);
      } catch {
        /* keep the status */
      }
    } else discard(res);
    const text = registryErrorText(res.status, body);
    const code = registryErrorCode(res.status, body);
    return new RegistryError(prefix !== undefined ? `${prefix}${text}` : `${goMethod(method)} "${res.url}": ${text}`, res.status, code, text);
  }

  async getManifest(reference: string, signal?: AbortSignal): Promise<FetchedManifest> {
    const res = await this.send('GET', this.url(`/manifests/${reference}`), { headers: { Accept: MANIFEST_ACCEPT }, ...(signal ? { signal } : {}) });
    if (res.status !== 200) throw await this.fail(res, 'GET', '');
    const bytes = await readBody(res, 4 << 20);
    const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
    return { bytes, contentType: String(res.headers['content-type'] ?? ''), digest };
  }

  /** HEAD of a blob: its size when present, undefined on 404. */
  async blobSize(digest: string, signal?: AbortSignal): Promise<number | undefined> {
    const res = await this.send('HEAD', this.url(`/blobs/${digest}`), signal ? { signal } : {});
    discard(res);
    if (res.status === 200) return Number(res.headers['content-length'] ?? -1);
    if (res.status === 404) return undefined;
    throw await this.fail(res, 'HEAD');
  }

  /** GET a blob (optionally from an offset, with Range); 200 or 206. */
  async getBlob(digest: string, offset: number, signal?: AbortSignal): Promise<HttpResponse> {
    const headers: Record<string, string> = {};
    if (offset > 0) headers['Range'] = `bytes=${offset}-`;
    const res = await this.send('GET', this.url(`/blobs/${digest}`), { headers, ...(signal ? { signal } : {}) });
    if (res.status === 200 || res.status === 206) return res;
    throw await this.fail(res, 'GET');
  }

  async getBlobBytes(digest: string, limit: number, signal?: AbortSignal): Promise<Buffer> {
    const res = await this.getBlob(digest, 0, signal);
    return readBody(res, limit);
  }

  /** POST an upload; with mount, tries a cross-repository mount first. */
  async startUpload(mount?: { digest: string; from: string }, signal?: AbortSignal): Promise<{ mounted: true } | { mounted: false; location: string }> {
    let url = this.url('/blobs/uploads/');
    const scopes = this.scopes(mount ? [repoScope(mount.from, ['pull'])] : []);
    if (mount) url += `?mount=${encodeURIComponent(mount.digest)}&from=${encodeURIComponent(mount.from)}`;
    const res = await this.send('POST', url, { scopes, ...(signal ? { signal } : {}) });
    if (res.status === 201 && mount) {
      discard(res);
      return { mounted: true };
    }
    if (res.status !== 202 && res.status !== 201) throw await this.fail(res, 'POST');
    discard(res);
    const loc = res.headers.location;
    if (!loc) throw invalid('registry did not return an upload location');
    return { mounted: false, location: new URL(loc, this.endpoint.url).toString() };
  }

  /** PATCH a chunk (or the whole stream, when range is omitted); returns the next location. */
  async patchUpload(location: string, body: Buffer | Readable | AsyncIterable<Uint8Array>, range?: { start: number; end: number }, signal?: AbortSignal): Promise<string> {
    const headers: Record<string, string> = { 'Content-Type': 'application/octet-stream' };
    if (range) {
      headers['Content-Range'] = `${range.start}-${range.end}`;
      headers['Content-Length'] = String(range.end - range.start + 1);
    }
    const res = await this.send('PATCH', location, { headers, body, ...(signal ? { signal } : {}) });
    if (res.status !== 202 && res.status !== 204) throw await this.fail(res, 'PATCH');
    discard(res);
    const loc = res.headers.location;
    return loc ? new URL(loc, this.endpoint.url).toString() : location;
  }

  /** PUT that completes an upload (with the remaining body, or none). */
  async putUpload(location: string, digest: string, body?: Buffer | Readable | AsyncIterable<Uint8Array>, size?: number, signal?: AbortSignal): Promise<void> {
    const u = new URL(location);
    u.searchParams.set('digest', digest);
    const headers: Record<string, string> = { 'Content-Type': 'application/octet-stream' };
    if (size !== undefined) headers['Content-Length'] = String(size);
    const res = await this.send('PUT', u.toString(), { headers, ...(body !== undefined ? { body } : {}), ...(signal ? { signal } : {}) });
    if (res.status !== 201 && res.status !== 204 && res.status !== 200) throw await this.fail(res, 'PUT');
    discard(res);
  }

  async cancelUpload(location: string): Promise<void> {
    try {
      const res = await this.send('DELETE', location);
      discard(res);
    } catch {
      /* best effort */
    }
  }

  /** PUT a manifest under a tag or digest; returns the digest the registry reports (or ours). */
  async putManifest(reference: string, bytes: Buffer, mediaType: string, signal?: AbortSignal): Promise<string> {
    const res = await this.send('PUT', this.url(`/manifests/${reference}`), { headers: { 'Content-Type': mediaType }, body: bytes, ...(signal ? { signal } : {}) });
    if (res.status !== 201 && res.status !== 200 && res.status !== 202) throw await this.fail(res, 'PUT');
    discard(res);
    const ours = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
    const theirs = res.headers['docker-content-digest'];
    return typeof theirs === 'string' && theirs ? theirs : ours;
  }

  /** GET /tags/list, following Link pagination. */
  async tags(signal?: AbortSignal): Promise<string[]> {
    const out: string[] = [];
    const seen = new Set<string>();
    let url: string | undefined = this.url('/tags/list');
    for (let page = 0; url && page < 1000; page++) {
      const res = await this.send('GET', url, signal ? { signal } : {});
      if (res.status !== 200) throw await this.fail(res, 'GET');
      const body = await readBody(res, 16 << 20);
      let v: unknown;
      try {
        v = JSON.parse(body.toString('utf8'));
      } catch {
        throw invalid('invalid tags list');
      }
      const tags = (v as { tags?: unknown }).tags;
      // Each page may repeat what an earlier one listed (registries paginate by name; a hostile one loops).
      if (Array.isArray(tags)) for (const t of tags) if (typeof t === 'string' && !seen.has(t)) {
        seen.add(t);
        out.push(t);
      }
      const link = res.headers.link;
      const m = typeof link === 'string' ? /<([^>]+)>;\s*rel="?next"?/.exec(link) : null;
      url = m?.[1] ? new URL(m[1], this.endpoint.url).toString() : undefined;
    }
    return out;
  }
}
