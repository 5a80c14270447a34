// Typed Docker Engine API client. Every call negotiates the API version once
// (HEAD /_ping, falling back to GET) and then uses /v<version>/... paths.
import { ApiError } from './errors';
import { parseHost, type HostSpec } from './host';
import { readAll, readError, Transport, type Hijacked, type Query, type TlsConfig, type RequestOptions, type StreamResponse } from './transport';
import type {
  ContainerInspect, ContainerSummary, CreateResponse, EventMessage, ExecInspect, HistoryItem, ImageDeleteItem,
  ImageSummary, Json, PingInfo, TopResponse, VersionResponse, WaitResponse,
} from './types';

/** The highest API version this client speaks. */
export const CLIENT_API_VERSION = '1.41';

/** Filters in the CLI's wire shape: {"label":{"a=b":true}}. */
export type Filters = Record<string, string[]>;

export function encodeFilters(f: Filters | undefined): string | undefined {
  if (!f) return undefined;
  const out: Record<string, Record<string, boolean>> = {};
  let any = false;
  // Go marshals maps with sorted keys
  for (const k of Object.keys(f).sort()) {
    const vals = f[k]!;
    if (vals.length === 0) continue;
    const set: Record<string, boolean> = {};
    for (const v of [...vals].sort()) set[v] = true;
    out[k] = set;
    any = true;
  }
  return any ? JSON.stringify(out) : undefined;
}

export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map((x) => Number(x) || 0);
  const pb = b.split('.').map((x) => Number(x) || 0);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return 0;
}

export interface ClientOptions {
  host: string;
  /** Pin the API version and skip negotiation (like DOCKER_API_VERSION). */
  version?: string;
  userAgent?: string;
  /** TLS for a tcp:// host. */
  tls?: TlsConfig;
}

export interface InspectResult<T> {
  value: T;
  raw: Buffer;
}

export interface AttachOptions {
  stream?: boolean;
  stdin?: boolean;
  stdout?: boolean;
  stderr?: boolean;
  logs?: boolean;
  detachKeys?: string;
}

export interface LogsOptions {
  stdout?: boolean;
  stderr?: boolean;
  follow?: boolean;
  timestamps?: boolean;
  details?: boolean;
  tail?: string;
  since?: string;
  until?: string;
}

/** The stat of a container path (types.ContainerPathStat); mode is a Go os.FileMode. */
export interface PathStat {
  name: string;
  size: number;
  mode: number;
  mtime: string;
  linkTarget: string;
}

/** Go os.FileMode type bits used by the cp rules. */
export const MODE_DIR = 2 ** 31;
export const MODE_SYMLINK = 2 ** 27;
export const MODE_DEVICE = 2 ** 26;
export const MODE_IRREGULAR = 2 ** 19;

export function decodePathStat(h: string | string[] | undefined): PathStat {
  const v = Array.isArray(h) ? h[0] : h;
  const empty: PathStat = { name: '', size: 0, mode: 0, mtime: '', linkTarget: '' };
  if (!v) return empty;
  try {
    const o = JSON.parse(Buffer.from(v, 'base64').toString('utf8')) as Partial<PathStat>;
    return {
      name: typeof o.name === 'string' ? o.name : '',
      size: typeof o.size === 'number' ? o.size : 0,
      mode: typeof o.mode === 'number' ? o.mode : 0,
      mtime: typeof o.mtime === 'string' ? o.mtime : '',
      linkTarget: typeof o.linkTarget === 'string' ? o.linkTarget : '',
    };
  } catch {
    // A garbled header: treat it as no information, as the cp rules then assume "does not exist".
    return empty;
  }
}

/** Bit test on a Go FileMode (values above 2^31 do not fit JavaScript's 32-bit & ). */
export function hasMode(mode: number, bit: number): boolean {
  return Math.floor(mode / bit) % 2 === 1;
}

export class Client {
  readonly transport: Transport;
  readonly host: HostSpec;
  private versionPromise: Promise<string> | undefined;
  private pinned: string | undefined;
  private negotiated: string | undefined;
  ping_: PingInfo | undefined;

  constructor(opts: ClientOptions) {
    this.host = parseHost(opts.host, opts.tls ? 2376 : 2375);
    this.transport = new Transport(this.host, opts.userAgent, opts.tls);
    this.pinned = opts.version;
  }

  /** HEAD /_ping (GET if HEAD is not allowed). A 500 still carries usable headers. */
  async ping(): Promise<PingInfo> {
    let res = await this.transport.request('HEAD', '/_ping', { allowErrorStatus: true });
    if (res.status >= 400 && res.status !== 500) {
      res.body.resume();
      res = await this.transport.request('GET', '/_ping', { allowErrorStatus: true });
    }
    if (res.status >= 400 && res.status !== 500) {
      throw await readError(res, this.transport.displayUrl('/_ping'));
    }
    res.body.resume();
    const h = res.headers;
    const one = (k: string): string => {
      const v = h[k];
      return Array.isArray(v) ? (v[0] ?? '') : (v ?? '');
    };
    this.ping_ = {
      apiVersion: one('api-version'),
      osType: one('ostype'),
      experimental: one('docker-experimental') === 'true',
      builderVersion: one('builder-version'),
    };
    return this.ping_;
  }

  /**
   * The negotiated API version: min(client max, daemon's Api-Version); 1.24
   * when the daemon does not say. Costs a /_ping round trip the first time.
   */
  apiVersion(): Promise<string> {
    if (this.pinned) return Promise.resolve(this.pinned);
    this.versionPromise ??= this.ping().then((p) => {
      const server = p.apiVersion || '1.24';
      const v = compareVersions(server, CLIENT_API_VERSION) < 0 ? server : CLIENT_API_VERSION;
      this.negotiated = v;
      return v;
    });
    return this.versionPromise;
  }

  /** The version requests use now: pinned, negotiated, or (optimistically) the client's own. */
  currentVersion(): string {
    return this.pinned ?? this.negotiated ?? CLIENT_API_VERSION;
  }

  /**
   * Runs a versioned request. Instead of a /_ping before every invocation (what
   * the docker CLI does), the first request goes out optimistically at the
   * client's version; a daemon that is older answers 400 "client version X is
   * too new", and then the version is negotiated and the request retried.
   * Requests that cannot be replayed (streamed bodies) negotiate first.
   */
  private async versioned<T>(replayable: boolean, fn: (prefix: string) => Promise<T>): Promise<T> {
    if (this.pinned || this.negotiated || !replayable || this.versionPromise) return fn(`/v${await this.apiVersion()}`);
    try {
      return await fn(`/v${CLIENT_API_VERSION}`);
    } catch (e) {
      if (e instanceof ApiError && e.status === 400 && /client version .* is too new/i.test(e.daemonMessage)) {
        return fn(`/v${await this.apiVersion()}`);
      }
      throw e;
    }
  }

  // ---- generic helpers ---------------------------------------------------

  async raw(method: string, path: string, opts: RequestOptions = {}): Promise<StreamResponse> {
    const replayable = opts.body === undefined || Buffer.isBuffer(opts.body);
    return this.versioned(replayable, (prefix) => this.transport.request(method, prefix + path, opts));
  }

  async json<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
    const res = await this.raw(method, path, opts);
    const body = await readAll(res.body);
    if (body.length === 0) return undefined as T;
    return JSON.parse(body.toString('utf8')) as T;
  }

  async jsonWithRaw<T>(method: string, path: string, opts: RequestOptions = {}): Promise<InspectResult<T>> {
    const res = await this.raw(method, path, opts);
    const raw = await readAll(res.body);
    return { value: JSON.parse(raw.toString('utf8')) as T, raw };
  }

  /** Request whose response body is ignored; returns the status (204, 304, ...). */
  async call(method: string, path: string, opts: RequestOptions = {}): Promise<number> {
    const res = await this.raw(method, path, opts);
    await readAll(res.body);
    return res.status;
  }

  async hijack(method: string, path: string, opts: RequestOptions = {}): Promise<Hijacked> {
    return this.versioned(true, (prefix) => this.transport.hijack(method, prefix + path, opts));
  }

  // ---- system --------------------------------------------------------------

  version(): Promise<VersionResponse> {
    return this.json('GET', '/version');
  }

  info(): Promise<Json> {
    return this.json('GET', '/info');
  }

  systemDf(): Promise<Json> {
    return this.json('GET', '/system/df');
  }

  events(opts: { since?: string; until?: string; filters?: Filters }): Promise<StreamResponse> {
    return this.raw('GET', '/events', { query: { since: opts.since, until: opts.until, filters: encodeFilters(opts.filters) } });
  }

  // ---- containers ----------------------------------------------------------

  containerList(opts: { all?: boolean; limit?: number; size?: boolean; filters?: Filters } = {}): Promise<ContainerSummary[]> {
    return this.json('GET', '/containers/json', {
      query: {
        all: opts.all,
        limit: opts.limit !== undefined && opts.limit > 0 ? opts.limit : undefined,
        size: opts.size,
        filters: encodeFilters(opts.filters),
      },
    });
  }

  containerCreate(body: unknown, name?: string, platform?: string): Promise<CreateResponse> {
    return this.json('POST', '/containers/create', { query: { name: name || undefined, platform: platform || undefined }, json: body });
  }

  containerInspect(id: string, size = false): Promise<ContainerInspect> {
    return this.json('GET', `/containers/${id}/json`, { query: { size } });
  }

  containerInspectRaw(id: string, size = false): Promise<InspectResult<ContainerInspect>> {
    return this.jsonWithRaw('GET', `/containers/${id}/json`, { query: { size } });
  }

  containerStart(id: string, opts: { detachKeys?: string } = {}): Promise<number> {
    return this.call('POST', `/containers/${id}/start`, { query: { detachKeys: opts.detachKeys || undefined } });
  }

  containerStop(id: string, opts: { timeout?: number; signal?: string } = {}): Promise<number> {
    return this.call('POST', `/containers/${id}/stop`, { query: { t: opts.timeout, signal: opts.signal || undefined } });
  }

  containerRestart(id: string, opts: { timeout?: number; signal?: string } = {}): Promise<number> {
    return this.call('POST', `/containers/${id}/restart`, { query: { t: opts.timeout, signal: opts.signal || undefined } });
  }

  containerKill(id: string, signal?: string): Promise<number> {
    return this.call('POST', `/containers/${id}/kill`, { query: { signal: signal || undefined } });
  }

  containerRemove(id: string, opts: { force?: boolean; volumes?: boolean; link?: boolean } = {}): Promise<number> {
    return this.call('DELETE', `/containers/${id}`, { query: { force: opts.force, v: opts.volumes, link: opts.link } });
  }

  containerPause(id: string): Promise<number> {
    return this.call('POST', `/containers/${id}/pause`);
  }

  containerUnpause(id: string): Promise<number> {
    return this.call('POST', `/containers/${id}/unpause`);
  }

  containerRename(id: string, name: string): Promise<number> {
    return this.call('POST', `/containers/${id}/rename`, { query: { name } });
  }

  containerResize(id: string, h: number, w: number): Promise<number> {
    return this.call('POST', `/containers/${id}/resize`, { query: { h, w } });
  }

  /**
   * POST /containers/{id}/wait. Resolves once the response headers arrive (the
   * daemon sends them at once), so callers can `start` afterwards without
   * missing the exit; `result` resolves with the body.
   */
  async containerWait(id: string, condition?: string): Promise<{ result: Promise<WaitResponse>; cancel(): void }> {
    const res = await this.raw('POST', `/containers/${id}/wait`, { query: { condition: condition || undefined } });
    const result = readAll(res.body).then((b) => {
      const text = b.toString('utf8').trim();
      if (!text) throw new Error('unexpected EOF');
      return JSON.parse(text) as WaitResponse;
    });
    result.catch(() => undefined);
    return { result, cancel: () => res.body.destroy() };
  }

  containerAttach(id: string, opts: AttachOptions): Promise<Hijacked> {
    return this.hijack('POST', `/containers/${id}/attach`, {
      query: {
        stream: opts.stream ?? true,
        stdin: opts.stdin,
        stdout: opts.stdout,
        stderr: opts.stderr,
        logs: opts.logs,
        detachKeys: opts.detachKeys || undefined,
      },
    });
  }

  containerLogs(id: string, opts: LogsOptions): Promise<StreamResponse> {
    return this.raw('GET', `/containers/${id}/logs`, {
      query: {
        stdout: opts.stdout,
        stderr: opts.stderr,
        follow: opts.follow,
        timestamps: opts.timestamps,
        details: opts.details,
        tail: opts.tail,
        since: opts.since || undefined,
        until: opts.until || undefined,
      },
    });
  }

  containerTop(id: string, psArgs?: string): Promise<TopResponse> {
    return this.json('GET', `/containers/${id}/top`, { query: { ps_args: psArgs || undefined } });
  }

  containerStats(id: string, stream: boolean): Promise<StreamResponse> {
    return this.raw('GET', `/containers/${id}/stats`, { query: { stream: stream ? '1' : '0' } });
  }

  containersPrune(filters?: Filters): Promise<Json> {
    return this.json('POST', '/containers/prune', { query: { filters: encodeFilters(filters) } });
  }

  containerUpdate(id: string, body: unknown): Promise<{ Warnings?: string[] | null }> {
    return this.json('POST', `/containers/${id}/update`, { json: body });
  }

  /** GET /containers/{id}/changes: [{Path, Kind}] (Kind 0 modified, 1 added, 2 deleted). */
  containerChanges(id: string): Promise<Array<{ Path: string; Kind: number }> | null> {
    return this.json('GET', `/containers/${id}/changes`);
  }

  containerExport(id: string): Promise<StreamResponse> {
    return this.raw('GET', `/containers/${id}/export`);
  }

  containerCommit(container: string, opts: { repo?: string; tag?: string; comment?: string; author?: string; changes?: string[]; pause?: boolean; config?: unknown }): Promise<{ Id: string }> {
    return this.json('POST', '/commit', {
      query: {
        container,
        repo: opts.repo || undefined,
        tag: opts.tag || undefined,
        comment: opts.comment || undefined,
        author: opts.author || undefined,
        changes: opts.changes && opts.changes.length ? opts.changes : undefined,
        // pause defaults to true on the daemon; only "0" changes it, and false would be dropped by encodeQuery
        pause: opts.pause === false ? '0' : undefined,
      },
      json: opts.config ?? null,
    });
  }

  /** HEAD /containers/{id}/archive: the decoded X-Docker-Container-Path-Stat header. */
  async containerStatPath(id: string, path: string): Promise<PathStat> {
    const res = await this.raw('HEAD', `/containers/${id}/archive`, { query: { path } });
    res.body.resume();
    return decodePathStat(res.headers['x-docker-container-path-stat']);
  }

  /** GET /containers/{id}/archive: a tar of path, with its stat. */
  async copyFromContainer(id: string, path: string): Promise<{ stat: PathStat; body: StreamResponse['body'] }> {
    const res = await this.raw('GET', `/containers/${id}/archive`, { query: { path } });
    return { stat: decodePathStat(res.headers['x-docker-container-path-stat']), body: res.body };
  }

  /** PUT /containers/{id}/archive: extracts the tar body into the directory path. */
  copyToContainer(id: string, path: string, body: NodeJS.ReadableStream | Buffer, opts: { copyUIDGID?: boolean; noOverwriteDirNonDir?: boolean } = {}): Promise<number> {
    return this.call('PUT', `/containers/${id}/archive`, {
      query: { path, noOverwriteDirNonDir: opts.noOverwriteDirNonDir ?? true, copyUIDGID: opts.copyUIDGID },
      body,
      contentType: 'application/x-tar',
    });
  }

  // ---- exec ----------------------------------------------------------------

  execCreate(container: string, body: unknown): Promise<{ Id: string }> {
    return this.json('POST', `/containers/${container}/exec`, { json: body });
  }

  /** Detached start: plain request, no upgrade. */
  execStartDetached(execId: string, tty: boolean): Promise<number> {
    return this.call('POST', `/exec/${execId}/start`, { json: { Detach: true, Tty: tty } });
  }

  execStartAttached(execId: string, tty: boolean): Promise<Hijacked> {
    return this.hijack('POST', `/exec/${execId}/start`, { json: { Detach: false, Tty: tty } });
  }

  execResize(execId: string, h: number, w: number): Promise<number> {
    return this.call('POST', `/exec/${execId}/resize`, { query: { h, w } });
  }

  execInspect(execId: string): Promise<ExecInspect> {
    return this.json('GET', `/exec/${execId}/json`);
  }

  // ---- images --------------------------------------------------------------

  imageList(opts: { all?: boolean; filters?: Filters } = {}): Promise<ImageSummary[]> {
    return this.json('GET', '/images/json', { query: { all: opts.all, filters: encodeFilters(opts.filters) } });
  }

  imageInspectRaw(name: string): Promise<InspectResult<Json>> {
    return this.jsonWithRaw('GET', `/images/${name}/json`);
  }

  imageRemove(name: string, opts: { force?: boolean; noprune?: boolean } = {}): Promise<ImageDeleteItem[]> {
    return this.json('DELETE', `/images/${name}`, { query: { force: opts.force, noprune: opts.noprune } });
  }

  imageTag(source: string, repo: string, tag: string): Promise<number> {
    return this.call('POST', `/images/${source}/tag`, { query: { repo, tag: tag || undefined } });
  }

  imageHistory(name: string): Promise<HistoryItem[]> {
    return this.json('GET', `/images/${name}/history`);
  }

  imageImport(body: NodeJS.ReadableStream | Buffer | undefined, opts: { fromSrc: string; repo?: string; tag?: string; message?: string; changes?: string[]; platform?: string }): Promise<StreamResponse> {
    return this.raw('POST', '/images/create', {
      query: {
        fromSrc: opts.fromSrc,
        repo: opts.repo || undefined,
        tag: opts.tag || undefined,
        message: opts.message || undefined,
        changes: opts.changes && opts.changes.length ? opts.changes : undefined,
        platform: opts.platform || undefined,
      },
      body: body ?? Buffer.alloc(0),
      contentType: 'application/x-tar',
    });
  }

  imagePull(fromImage: string, tag: string, opts: { platform?: string; auth?: string } = {}): Promise<StreamResponse> {
    return this.raw('POST', '/images/create', {
      query: { fromImage, tag: tag || undefined, platform: opts.platform || undefined },
      headers: { 'X-Registry-Auth': opts.auth ?? 'e30=' },
    });
  }

  imagesPrune(filters?: Filters): Promise<Json> {
    return this.json('POST', '/images/prune', { query: { filters: encodeFilters(filters) } });
  }

  // ---- other object kinds (used by `inspect` walking) ----------------------

  networkInspectRaw(name: string): Promise<InspectResult<Json>> {
    return this.jsonWithRaw('GET', `/networks/${name}`);
  }

  volumeInspectRaw(name: string): Promise<InspectResult<Json>> {
    return this.jsonWithRaw('GET', `/volumes/${name}`);
  }

  pluginInspectRaw(name: string): Promise<InspectResult<Json>> {
    return this.jsonWithRaw('GET', `/plugins/${name}/json`);
  }

  networksPrune(filters?: Filters): Promise<Json> {
    return this.json('POST', '/networks/prune', { query: { filters: encodeFilters(filters) } });
  }

  volumesPrune(filters?: Filters): Promise<Json> {
    return this.json('POST', '/volumes/prune', { query: { filters: encodeFilters(filters) } });
  }

  buildPrune(opts: { all?: boolean; filters?: Filters; keepStorage?: number } = {}): Promise<Json> {
    return this.json('POST', '/build/prune', { query: { all: opts.all, filters: encodeFilters(opts.filters), 'keep-storage': opts.keepStorage || undefined } });
  }

  /** POST /build with a context tar (or a remote URL in query.remote); the body is a JSON message stream. */
  imageBuild(context: NodeJS.ReadableStream | Buffer, query: Query, registryConfig?: string): Promise<StreamResponse> {
    return this.raw('POST', '/build', {
      query,
      body: context,
      contentType: 'application/x-tar',
      headers: registryConfig ? { 'X-Registry-Config': registryConfig } : {},
    });
  }
}

export type { Query, Hijacked, StreamResponse, EventMessage };
