// Image config (OCI image spec with Docker's keys): types, a validating parser
// for config blobs from outside, and serialisers that reproduce what Docker's Go
// structs render (all non-omitempty fields present, Go key order, Go's HTML
// escaping), so inspect output and stored bytes look like Docker's.
import { invalid } from '../common/errors';

export interface HealthConfig {
  Test?: string[];
  /** Durations in nanoseconds. */
  Interval?: number;
  Timeout?: number;
  StartPeriod?: number;
  StartInterval?: number;
  Retries?: number;
}

/** Docker's container.Config as stored in an image's `config` / `container_config`. */
export interface ContainerConfig {
  Hostname?: string;
  Domainname?: string;
  User?: string;
  AttachStdin?: boolean;
  AttachStdout?: boolean;
  AttachStderr?: boolean;
  ExposedPorts?: Record<string, object> | null;
  Tty?: boolean;
  OpenStdin?: boolean;
  StdinOnce?: boolean;
  Env?: string[] | null;
  Cmd?: string[] | null;
  Healthcheck?: HealthConfig | null;
  ArgsEscaped?: boolean;
  Image?: string;
  Volumes?: Record<string, object> | null;
  WorkingDir?: string;
  Entrypoint?: string[] | null;
  NetworkDisabled?: boolean;
  MacAddress?: string;
  OnBuild?: string[] | null;
  Labels?: Record<string, string> | null;
  StopSignal?: string;
  StopTimeout?: number;
  Shell?: string[] | null;
}

export interface HistoryEntry {
  created?: string;
  author?: string;
  created_by?: string;
  comment?: string;
  empty_layer?: boolean;
}

export interface ImageConfig {
  architecture: string;
  os: string;
  variant?: string;
  'os.version'?: string;
  'os.features'?: string[];
  created?: string;
  author?: string;
  comment?: string;
  container?: string;
  container_config?: ContainerConfig;
  docker_version?: string;
  config?: ContainerConfig;
  rootfs: { type: string; diff_ids: string[] };
  history?: HistoryEntry[];
}

/** The Engine version Docker writes into configs it creates (`docker_version`). */
export const DOCKER_VERSION = '20.10.24';

// ---------------------------------------------------------------------------
// Time: Go's RFC3339Nano with nanoseconds kept as a bigint.

export const ZERO_TIME = '0001-01-01T00:00:00Z';
const ZERO_NS = -62135596800n * 1000000000n;

/** Parses an RFC 3339 time to nanoseconds since the epoch; undefined if malformed. */
export function parseTimeNs(s: string | undefined): bigint | undefined {
  if (!s) return undefined;
  const m = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9})\d*)?(Z|z|[+-]\d{2}:\d{2})$/.exec(s);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, se, frac = '', tz = 'Z'] = m;
  // setUTCFullYear, unlike Date.UTC, does not map years 0-99 to 1900+ (Go's zero time is year 1).
  const dt = new Date(0);
  dt.setUTCFullYear(Number(y), Number(mo) - 1, Number(d));
  dt.setUTCHours(Number(h), Number(mi), Number(se), 0);
  if (Number.isNaN(dt.getTime())) return undefined;
  let off = 0;
  if (tz !== 'Z' && tz !== 'z') off = (tz.startsWith('-') ? -1 : 1) * (Number(tz.slice(1, 3)) * 60 + Number(tz.slice(4, 6))) * 60;
  return (BigInt(dt.getTime() / 1000) - BigInt(off)) * 1000000000n + BigInt(frac.padEnd(9, '0') || '0');
}

/** Formats nanoseconds since the epoch as Go's RFC3339Nano in UTC (trailing zeros trimmed). */
export function formatTimeNs(ns: bigint): string {
  let sec = ns / 1000000000n;
  let frac = ns % 1000000000n;
  if (frac < 0n) {
    frac += 1000000000n;
    sec -= 1n;
  }
  const d = new Date(Number(sec) * 1000);
  const pad = (n: number, w = 2): string => String(n).padStart(w, '0');
  let s = `${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}T${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
  if (frac > 0n) s += `.${frac.toString().padStart(9, '0').replace(/0+$/, '')}`;
  return `${s}Z`;
}

/** Re-renders a stored time the way Go would print it; the zero time when missing or malformed. */
export function normalizeTime(s: string | undefined): string {
  const ns = parseTimeNs(s);
  return ns === undefined ? ZERO_TIME : formatTimeNs(ns);
}

/** Unix seconds of a stored time (Go's Time.Unix(); the zero time when missing). */
export function unixSeconds(s: string | undefined): number {
  const ns = parseTimeNs(s) ?? ZERO_NS;
  const sec = ns / 1000000000n;
  return Number(ns < 0n && ns % 1000000000n !== 0n ? sec - 1n : sec);
}

let lastNow = 0n;
/** Current time in ns, strictly increasing within this process (so creation order is total). */
export function nowNs(): bigint {
  let ns = BigInt(Date.now()) * 1000000n + (process.hrtime.bigint() % 1000000n);
  if (ns <= lastNow) ns = lastNow + 1n;
  lastNow = ns;
  return ns;
}

// ---------------------------------------------------------------------------
// Parsing external configs (docker load, pulls): validate, never cast.

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function bad(what: string): never {
  throw invalid(`invalid image config: ${what}`);
}

function optStr(o: Obj, k: string): string | undefined {
  const v = o[k];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') bad(`${k} must be a string`);
  return v;
}

function optBool(o: Obj, k: string): boolean | undefined {
  const v = o[k];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') bad(`${k} must be a boolean`);
  return v;
}

function optNum(o: Obj, k: string): number | undefined {
  const v = o[k];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number') bad(`${k} must be a number`);
  return v;
}

function strList(v: unknown, k: string): string[] {
  if (!Array.isArray(v) || !v.every((x): x is string => typeof x === 'string')) bad(`${k} must be a list of strings`);
  return v;
}

/** Docker's strslice: a string or a list of strings; null stays null. */
function optStrSlice(o: Obj, k: string): string[] | null | undefined {
  const v = o[k];
  if (v === undefined) return undefined;
  if (v === null) return null;
  if (typeof v === 'string') return [v];
  return strList(v, k);
}

function optStrList(o: Obj, k: string): string[] | null | undefined {
  const v = o[k];
  if (v === undefined) return undefined;
  if (v === null) return null;
  return strList(v, k);
}

function optSet(o: Obj, k: string): Record<string, object> | null | undefined {
  const v = o[k];
  if (v === undefined) return undefined;
  if (v === null) return null;
  if (!isObj(v)) bad(`${k} must be an object`);
  const out: Record<string, object> = {};
  for (const key of Object.keys(v)) out[key] = {};
  return out;
}

function optLabels(o: Obj, k: string): Record<string, string> | null | undefined {
  const v = o[k];
  if (v === undefined) return undefined;
  if (v === null) return null;
  if (!isObj(v)) bad(`${k} must be an object`);
  const out: Record<string, string> = {};
  for (const [key, val] of Object.entries(v)) {
    if (typeof val !== 'string') bad(`${k}.${key} must be a string`);
    out[key] = val;
  }
  return out;
}

/** Validates a container.Config object (as found in image configs and commit bodies). */
export function parseContainerConfig(v: unknown, where = 'config'): ContainerConfig {
  if (!isObj(v)) bad(`${where} must be an object`);
  const c: ContainerConfig = {};
  const set = <K extends keyof ContainerConfig>(k: K, val: ContainerConfig[K] | undefined): void => {
    if (val !== undefined) c[k] = val;
  };
  for (const k of ['Hostname', 'Domainname', 'User', 'Image', 'WorkingDir', 'MacAddress', 'StopSignal'] as const) set(k, optStr(v, k));
  for (const k of ['AttachStdin', 'AttachStdout', 'AttachStderr', 'Tty', 'OpenStdin', 'StdinOnce', 'ArgsEscaped', 'NetworkDisabled'] as const) set(k, optBool(v, k));
  set('ExposedPorts', optSet(v, 'ExposedPorts'));
  set('Volumes', optSet(v, 'Volumes'));
  set('Env', optStrList(v, 'Env'));
  set('OnBuild', optStrList(v, 'OnBuild'));
  set('Cmd', optStrSlice(v, 'Cmd'));
  set('Entrypoint', optStrSlice(v, 'Entrypoint'));
  set('Shell', optStrSlice(v, 'Shell'));
  set('Labels', optLabels(v, 'Labels'));
  set('StopTimeout', optNum(v, 'StopTimeout'));
  const hc = v['Healthcheck'];
  if (hc === null) c.Healthcheck = null;
  else if (hc !== undefined) {
    if (!isObj(hc)) bad('Healthcheck must be an object');
    const h: HealthConfig = {};
    const test = optStrList(hc, 'Test');
    if (test) h.Test = test;
    for (const k of ['Interval', 'Timeout', 'StartPeriod', 'StartInterval', 'Retries'] as const) {
      const n = optNum(hc, k);
      if (n !== undefined) h[k] = n;
    }
    c.Healthcheck = h;
  }
  return c;
}

function parseHistory(v: unknown): HistoryEntry[] {
  if (!Array.isArray(v)) bad('history must be a list');
  return v.map((h) => {
    if (!isObj(h)) bad('history entries must be objects');
    const e: HistoryEntry = {};
    const created = optStr(h, 'created');
    if (created !== undefined) e.created = created;
    for (const k of ['author', 'created_by', 'comment'] as const) {
      const s = optStr(h, k);
      if (s !== undefined) e[k] = s;
    }
    const el = optBool(h, 'empty_layer');
    if (el) e.empty_layer = true;
    return e;
  });
}

const DIGEST_RE = /^sha256:[a-f0-9]{64}$/;

/** Parses and validates an image config blob. The bytes themselves are what gets stored. */
export function parseImageConfig(bytes: Uint8Array | string): ImageConfig {
  let v: unknown;
  try {
    v = JSON.parse(typeof bytes === 'string' ? bytes : Buffer.from(bytes).toString('utf8'));
  } catch {
    bad('not valid JSON');
  }
  if (!isObj(v)) bad('not a JSON object');
  const rootfs = v['rootfs'];
  if (!isObj(rootfs)) bad('invalid image JSON, no RootFS key');
  const diffIds = rootfs['diff_ids'] === undefined || rootfs['diff_ids'] === null ? [] : strList(rootfs['diff_ids'], 'rootfs.diff_ids');
  for (const d of diffIds) if (!DIGEST_RE.test(d)) bad(`unsupported diff ID ${d}`);
  const cfg: ImageConfig = {
    architecture: optStr(v, 'architecture') ?? '',
    os: optStr(v, 'os') ?? '',
    rootfs: { type: optStr(rootfs, 'type') ?? '', diff_ids: diffIds },
  };
  for (const k of ['variant', 'os.version', 'created', 'author', 'comment', 'container', 'docker_version'] as const) {
    const s = optStr(v, k);
    if (s !== undefined) cfg[k] = s;
  }
  if (cfg.created !== undefined && parseTimeNs(cfg.created) === undefined) bad(`invalid created time ${cfg.created}`);
  const feats = optStrList(v, 'os.features');
  if (feats) cfg['os.features'] = feats;
  if (v['config'] !== undefined && v['config'] !== null) cfg.config = parseContainerConfig(v['config'], 'config');
  if (v['container_config'] !== undefined && v['container_config'] !== null) cfg.container_config = parseContainerConfig(v['container_config'], 'container_config');
  if (v['history'] !== undefined && v['history'] !== null) cfg.history = parseHistory(v['history']);
  return cfg;
}

// ---------------------------------------------------------------------------
// Rendering like Go's encoding/json over Docker's structs.

function sortedKeys<T>(m: Record<string, T>): Record<string, T> {
  const out: Record<string, T> = {};
  for (const k of Object.keys(m).sort()) out[k] = m[k] as T;
  return out;
}

/** container.Config as Docker renders it: every non-omitempty field present, Go field order. */
export function renderContainerConfig(c: ContainerConfig | undefined): Record<string, unknown> {
  const x = c ?? {};
  const o: Record<string, unknown> = {
    Hostname: x.Hostname ?? '',
    Domainname: x.Domainname ?? '',
    User: x.User ?? '',
    AttachStdin: x.AttachStdin ?? false,
    AttachStdout: x.AttachStdout ?? false,
    AttachStderr: x.AttachStderr ?? false,
  };
  if (x.ExposedPorts && Object.keys(x.ExposedPorts).length) o['ExposedPorts'] = sortedKeys(x.ExposedPorts);
  o['Tty'] = x.Tty ?? false;
  o['OpenStdin'] = x.OpenStdin ?? false;
  o['StdinOnce'] = x.StdinOnce ?? false;
  o['Env'] = x.Env ?? null;
  o['Cmd'] = x.Cmd ?? null;
  if (x.Healthcheck) {
    const h = x.Healthcheck;
    const ho: Record<string, unknown> = {};
    if (h.Test?.length) ho['Test'] = h.Test;
    if (h.Interval) ho['Interval'] = h.Interval;
    if (h.Timeout) ho['Timeout'] = h.Timeout;
    if (h.StartPeriod) ho['StartPeriod'] = h.StartPeriod;
    if (h.StartInterval) ho['StartInterval'] = h.StartInterval;
    if (h.Retries) ho['Retries'] = h.Retries;
    o['Healthcheck'] = ho;
  }
  if (x.ArgsEscaped) o['ArgsEscaped'] = true;
  o['Image'] = x.Image ?? '';
  o['Volumes'] = x.Volumes ? sortedKeys(x.Volumes) : null;
  o['WorkingDir'] = x.WorkingDir ?? '';
  o['Entrypoint'] = x.Entrypoint ?? null;
  if (x.NetworkDisabled) o['NetworkDisabled'] = true;
  if (x.MacAddress) o['MacAddress'] = x.MacAddress;
  o['OnBuild'] = x.OnBuild ?? null;
  o['Labels'] = x.Labels ? sortedKeys(x.Labels) : null;
  if (x.StopSignal) o['StopSignal'] = x.StopSignal;
  if (x.StopTimeout !== undefined) o['StopTimeout'] = x.StopTimeout;
  if (x.Shell?.length) o['Shell'] = x.Shell;
  return o;
}

/** JSON as Go's encoder writes it: <, >, & and U+2028/9 escaped. */
export function goJson(v: unknown): string {
  return JSON.stringify(v).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

function renderHistory(h: HistoryEntry): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  if (h.created !== undefined) o['created'] = h.created;
  if (h.author) o['author'] = h.author;
  if (h.created_by) o['created_by'] = h.created_by;
  if (h.comment) o['comment'] = h.comment;
  if (h.empty_layer) o['empty_layer'] = true;
  return o;
}

/** Serialises a config the way Docker's image.Image marshals (for configs we create: import, commit, build). */
export function serializeImageConfig(c: ImageConfig): Buffer {
  const o: Record<string, unknown> = {};
  if (c.comment) o['comment'] = c.comment;
  o['created'] = c.created ?? ZERO_TIME;
  if (c.container) o['container'] = c.container;
  o['container_config'] = renderContainerConfig(c.container_config);
  if (c.docker_version) o['docker_version'] = c.docker_version;
  if (c.author) o['author'] = c.author;
  if (c.config) o['config'] = renderContainerConfig(c.config);
  if (c.architecture) o['architecture'] = c.architecture;
  if (c.variant) o['variant'] = c.variant;
  if (c.os) o['os'] = c.os;
  o['rootfs'] = c.rootfs.diff_ids.length ? { type: c.rootfs.type, diff_ids: c.rootfs.diff_ids } : { type: c.rootfs.type };
  if (c.history?.length) o['history'] = c.history.map(renderHistory);
  if (c['os.version']) o['os.version'] = c['os.version'];
  if (c['os.features']?.length) o['os.features'] = c['os.features'];
  return Buffer.from(goJson(o));
}

// ---------------------------------------------------------------------------
// Platforms

const archAliases: Record<string, [string, string]> = {
  x64: ['amd64', ''], x86_64: ['amd64', ''], 'x86-64': ['amd64', ''], amd64: ['amd64', ''],
  arm64: ['arm64', ''], aarch64: ['arm64', ''], arm: ['arm', ''], armhf: ['arm', 'v7'], armel: ['arm', 'v6'],
  ia32: ['386', ''], i386: ['386', ''], '386': ['386', ''], ppc64: ['ppc64le', ''], ppc64le: ['ppc64le', ''],
  s390x: ['s390x', ''], riscv64: ['riscv64', ''], mips64el: ['mips64le', ''], loong64: ['loong64', ''],
};

/** Go's GOARCH name of this machine. */
export function hostArch(): string {
  return archAliases[process.arch]?.[0] ?? process.arch;
}

export interface Platform {
  os: string;
  architecture: string;
  variant: string;
}

/** containerd's platforms.Parse (normalised), then Docker's check that the OS is supported. */
export function parsePlatform(s: string | undefined): Platform {
  if (!s) return { os: 'linux', architecture: hostArch(), variant: '' };
  const parts = s.toLowerCase().split('/');
  const fail = (): never => {
    throw invalid(`"${s}": unknown operating system or architecture: invalid argument`);
  };
  if (parts.length > 3 || parts.some((p) => !/^[a-z0-9_.-]+$/.test(p))) fail();
  let os: string;
  let arch: string;
  let variant = '';
  if (parts.length === 1) {
    const p = parts[0] ?? '';
    if (archAliases[p]) {
      os = 'linux';
      arch = p;
    } else {
      os = p;
      arch = hostArch();
    }
  } else {
    os = parts[0] ?? '';
    arch = parts[1] ?? '';
    variant = parts[2] ?? '';
  }
  if (os === 'macos') os = 'darwin';
  const a = archAliases[arch];
  if (!a) fail();
  const [na, nv] = a as [string, string];
  if (!variant) variant = nv;
  if (na === 'arm64' && (variant === 'v8' || variant === '8')) variant = '';
  if (os !== 'linux') throw invalid('operating system is not supported');
  return { os, architecture: na, variant };
}
