// Registry settings (dockerd's names, read from the daemon's config file) and
// how a registry host maps to endpoints: Docker Hub through its mirrors first,
// TLS with the per-registry CA from <config-dir>/certs.d/<host:port>/, and
// insecure registries (HTTPS without verification, then plain HTTP) — loopback
// addresses are insecure by default, as Docker's 127.0.0.0/8.
import { lookup } from 'node:dns/promises';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { DEFAULT_DOMAIN } from '../common/reference';
import type { TlsOptions } from './transport';

export interface RegistryConfig {
  /** Host names / host:port / CIDRs that may use plain HTTP or unverified TLS. */
  insecureRegistries: string[];
  /** Docker Hub mirrors (URLs), tried before registry-1.docker.io. */
  mirrors: string[];
  /** <config-dir>/certs.d */
  certsDir: string;
  maxConcurrentDownloads: number;
  maxConcurrentUploads: number;
  maxDownloadAttempts: number;
  /** Upload chunk size for chunked uploads (PATCH with Content-Range); 0 = one monolithic PUT per blob. */
  uploadChunkSize: number;
}

export const DEFAULT_REGISTRY_CONFIG: RegistryConfig = {
  insecureRegistries: [],
  mirrors: [],
  certsDir: '/etc/berth/certs.d',
  maxConcurrentDownloads: 3,
  maxConcurrentUploads: 5,
  maxDownloadAttempts: 5,
  uploadChunkSize: 0,
};

function strings(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string' && x !== '') : [];
}

function posInt(v: unknown, dflt: number): number {
  return typeof v === 'number' && Number.isInteger(v) && v > 0 ? v : dflt;
}

/**
 * Reads the registry keys of the daemon config file (insecure-registries,
 * registry-mirrors, max-concurrent-downloads, max-concurrent-uploads,
 * max-download-attempts, and berth's registry-upload-chunk-size). certs.d sits
 * beside the config file, as /etc/docker/certs.d beside /etc/docker/daemon.json.
 */
export function loadRegistryConfig(configFile: string | undefined): RegistryConfig {
  const file = configFile ?? '/etc/berth/daemon.json';
  let o: Record<string, unknown> = {};
  try {
    const v = JSON.parse(fs.readFileSync(file, 'utf8')) as unknown;
    if (typeof v === 'object' && v !== null && !Array.isArray(v)) o = v as Record<string, unknown>;
  } catch {
    /* no file: defaults */
  }
  const env = process.env['BERTH_REGISTRY_CHUNK_SIZE'];
  return {
    insecureRegistries: strings(o['insecure-registries']),
    mirrors: strings(o['registry-mirrors']).map((m) => m.replace(/\/+$/, '')),
    certsDir: path.join(path.dirname(file), 'certs.d'),
    maxConcurrentDownloads: posInt(o['max-concurrent-downloads'], 3),
    maxConcurrentUploads: posInt(o['max-concurrent-uploads'], 5),
    maxDownloadAttempts: posInt(o['max-download-attempts'], 5),
    uploadChunkSize: env !== undefined ? Math.max(0, Number(env) || 0) : typeof o['registry-upload-chunk-size'] === 'number' ? Math.max(0, o['registry-upload-chunk-size']) : 0,
  };
}

export interface Endpoint {
  /** Base URL, e.g. https://registry-1.docker.io */
  url: string;
  tls: TlsOptions;
  mirror: boolean;
  /** Plain HTTP or unverified TLS. */
  insecure: boolean;
}

/** Host Docker Hub's API answers on. */
export const DOCKER_HUB_API = 'https://registry-1.docker.io';
/** serveraddress for Docker Hub in X-Registry-Auth and /auth. */
export const DOCKER_HUB_INDEX = 'https://index.docker.io/v1/';

/** Parses a CIDR "a.b.c.d/n" or "x::/n"; undefined when malformed. */
function parseCidr(s: string): { addr: string; bits: number; family: 4 | 6 } | undefined {
  const i = s.indexOf('/');
  if (i < 0) return undefined;
  const addr = s.slice(0, i);
  const bits = Number(s.slice(i + 1));
  const family = net.isIP(addr);
  if (family === 0 || !Number.isInteger(bits)) return undefined;
  return { addr, bits, family: family as 4 | 6 };
}

function ipToBig(ip: string): bigint {
  if (net.isIPv4(ip)) return ip.split('.').reduce((a, p) => (a << 8n) | BigInt(Number(p)), 0n);
  // IPv6: expand ::
  const [head, tail] = ip.split('::') as [string, string | undefined];
  const h = head ? head.split(':') : [];
  const t = tail !== undefined && tail !== '' ? tail.split(':') : [];
  const v4 = (arr: string[]): string[] => {
    const last = arr[arr.length - 1];
    if (last && net.isIPv4(last)) {
      const n = ipToBig(last);
      arr.splice(arr.length - 1, 1, ((n >> 16n) & 0xffffn).toString(16), (n & 0xffffn).toString(16));
    }
    return arr;
  };
  const hh = v4(h);
  const tt = v4(t);
  const groups = tail !== undefined ? [...hh, ...Array(8 - hh.length - tt.length).fill('0'), ...tt] : hh;
  return groups.reduce((a, g) => (a << 16n) | BigInt(parseInt(g || '0', 16)), 0n);
}

export function cidrContains(cidr: string, ip: string): boolean {
  const c = parseCidr(cidr);
  if (!c) return false;
  let fam = net.isIP(ip);
  let addr = ip;
  if (fam === 6 && /^::ffff:\d+\.\d+\.\d+\.\d+$/i.test(ip)) {
    addr = ip.slice(7);
    fam = 4;
  }
  if (fam !== c.family) return false;
  const width = c.family === 4 ? 32 : 128;
  if (c.bits < 0 || c.bits > width) return false;
  const shift = BigInt(width - c.bits);
  return ipToBig(addr) >> shift === ipToBig(c.addr) >> shift;
}

/** Splits "host:port" / "[v6]:port" / "host". */
export function splitHostPort(hostport: string): { host: string; port: string } {
  const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(hostport);
  if (m) return { host: m[1] ?? '', port: m[2] ?? '' };
  const i = hostport.lastIndexOf(':');
  if (i > 0 && hostport.indexOf(':') === i) return { host: hostport.slice(0, i), port: hostport.slice(i + 1) };
  return { host: hostport, port: '' };
}

export class RegistryHosts {
  private readonly insecureCache = new Map<string, { insecure: boolean; at: number }>();

  constructor(readonly cfg: RegistryConfig) {}

  /** Docker's isSecureIndex, negated: listed by name, or resolving into an insecure CIDR (127.0.0.0/8 always). */
  async isInsecure(hostport: string): Promise<boolean> {
    const hit = this.insecureCache.get(hostport);
    if (hit && Date.now() - hit.at < 60_000) return hit.insecure;
    const insecure = await this.computeInsecure(hostport);
    this.insecureCache.set(hostport, { insecure, at: Date.now() });
    return insecure;
  }

  private async computeInsecure(hostport: string): Promise<boolean> {
    const list = this.cfg.insecureRegistries;
    const { host } = splitHostPort(hostport);
    if (list.some((r) => !r.includes('/') && (r === hostport || r.replace(/^https?:\/\//, '') === hostport))) return true;
    if (hostport === DEFAULT_DOMAIN) return false;
    const cidrs = ['127.0.0.0/8', ...list.filter((r) => r.includes('/') && parseCidr(r))];
    let addrs: string[] = [];
    if (net.isIP(host)) addrs = [host];
    else {
      try {
        addrs = (await lookup(host, { all: true })).map((a) => a.address);
      } catch {
        return false; // unresolvable: secure (the request will fail on its own)
      }
    }
    return addrs.some((a) => cidrs.some((c) => cidrContains(c, a)));
  }

  /** TLS material for a host from certs.d: *.crt are CAs, *.cert + *.key a client certificate. */
  tlsFor(hostport: string, insecure: boolean): TlsOptions {
    const tls: TlsOptions = { rejectUnauthorized: !insecure };
    const dir = path.join(this.cfg.certsDir, hostport.replace(/[/\\]/g, '_'));
    let names: string[] = [];
    try {
      names = fs.readdirSync(dir).sort();
    } catch {
      return tls;
    }
    const cas: Buffer[] = [];
    for (const n of names) {
      const p = path.join(dir, n);
      try {
        if (n.endsWith('.crt')) cas.push(fs.readFileSync(p));
        else if (n.endsWith('.cert')) {
          const keyFile = path.join(dir, `${n.slice(0, -5)}.key`);
          tls.cert = fs.readFileSync(p);
          tls.key = fs.readFileSync(keyFile);
        }
      } catch {
        /* unreadable file: skipped, as a missing one */
      }
    }
    if (cas.length) tls.ca = cas;
    return tls;
  }

  /** Endpoints to try for a registry host, in order. */
  async endpoints(domain: string): Promise<Endpoint[]> {
    const out: Endpoint[] = [];
    if (domain === DEFAULT_DOMAIN) {
      for (const m of this.cfg.mirrors) {
        let u: URL;
        try {
          u = new URL(m.includes('://') ? m : `https://${m}`);
        } catch {
          continue;
        }
        const insecure = u.protocol === 'http:' || (await this.isInsecure(u.host));
        out.push({ url: `${u.protocol}//${u.host}`, tls: this.tlsFor(u.host, insecure), mirror: true, insecure });
      }
      out.push({ url: DOCKER_HUB_API, tls: this.tlsFor('registry-1.docker.io', false), mirror: false, insecure: false });
      return out;
    }
    const insecure = await this.isInsecure(domain);
    out.push({ url: `https://${domain}`, tls: this.tlsFor(domain, insecure), mirror: false, insecure });
    if (insecure) out.push({ url: `http://${domain}`, tls: { rejectUnauthorized: false }, mirror: false, insecure: true });
    return out;
  }
}

// ---------------------------------------------------------------------------
// dockerd's registry flags and daemon.json keys: validation, the conflict rule,
// and what /info reports.

/** Registry settings as given on berthd's command line (each undefined when the flag is absent). */
export interface RegistryFlags {
  insecureRegistries?: string[];
  mirrors?: string[];
  maxConcurrentDownloads?: string;
  maxConcurrentUploads?: string;
  maxDownloadAttempts?: string;
}

/** dockerd's flag name → daemon.json key (what a conflict message names). */
export const REGISTRY_FLAG_KEYS: Record<string, string> = {
  'insecure-registry': 'insecure-registries',
  'registry-mirror': 'registry-mirrors',
  'max-concurrent-downloads': 'max-concurrent-downloads',
  'max-concurrent-uploads': 'max-concurrent-uploads',
  'max-download-attempts': 'max-download-attempts',
};

// reference.DomainRegexp, anchored (validHostPortRegex in moby's registry package).
const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const HOST_PORT_RE = new RegExp(`^${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*(?::[0-9]+)?$`);

/**
 * Docker's LoadInsecureRegistries check of one entry: a scheme is dropped
 * (http:// and https://, as dockerd with a warning) or refused (any other),
 * then it must be a CIDR or host[:port]. Returns the entry as stored.
 */
export function validateInsecureRegistry(entry: string): string {
  let r = entry === 'index.docker.io' ? 'docker.io' : entry;
  if (r.startsWith('-') || r.endsWith('-')) throw new Error(`invalid index name (${r}). Cannot begin or end with a hyphen`);
  if (/^http:\/\//i.test(r)) r = r.slice(7);
  else if (/^https:\/\//i.test(r)) r = r.slice(8);
  else if (r.includes('://')) throw new Error(`insecure registry ${r} should not contain '://'`);
  const c = parseCidr(r);
  if (c) {
    const width = c.family === 4 ? 32 : 128;
    if (c.bits < 0 || c.bits > width) throw new Error(`insecure registry ${r} is not valid: invalid CIDR address: ${r}`);
    return cidrBase(c.addr, c.bits, c.family);
  }
  const { host, port } = splitHostPort(r);
  if (!HOST_PORT_RE.test(r) && net.isIP(host) === 0) throw new Error(`insecure registry ${r} is not valid: invalid host ${JSON.stringify(host)}`);
  if (port !== '' && (!/^\d+$/.test(port) || Number(port) > 65535)) throw new Error(`insecure registry ${r} is not valid: invalid port ${JSON.stringify(port)}`);
  return r;
}

/** The network address of a CIDR (Go's ipnet.String(): 10.1.2.3/8 → 10.0.0.0/8). */
function cidrBase(addr: string, bits: number, family: 4 | 6): string {
  const width = family === 4 ? 32 : 128;
  const shift = BigInt(width - bits);
  const v = (ipToBig(addr) >> shift) << shift;
  if (family === 4) return `${[24n, 16n, 8n, 0n].map((s) => String((v >> s) & 0xffn)).join('.')}/${bits}`;
  const groups: string[] = [];
  for (let i = 7; i >= 0; i--) groups.push(((v >> BigInt(i * 16)) & 0xffffn).toString(16));
  // Shorten the longest run of zero groups, as Go and RFC 5952 do.
  let best = -1, bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== '0') { i++; continue; }
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLen) { best = i; bestLen = j - i; }
    i = j;
  }
  const s = best < 0 ? groups.join(':') : `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLen).join(':')}`;
  return `${s}/${bits}`;
}

/** Docker's ValidateMirror: an http(s) URL with no path, query, fragment or credentials; returned with one trailing slash. */
export function validateMirror(val: string): string {
  let u: URL;
  try {
    u = new URL(val);
  } catch {
    throw new Error(`invalid mirror: ${JSON.stringify(val)} is not a valid URI`);
  }
  const scheme = u.protocol.replace(/:$/, '');
  if (scheme !== 'http' && scheme !== 'https') throw new Error(`invalid mirror: unsupported scheme ${JSON.stringify(scheme)} in ${JSON.stringify(val)}`);
  if ((u.pathname !== '' && u.pathname !== '/') || u.search !== '' || u.hash !== '') throw new Error(`invalid mirror: path, query, or fragment at end of the URI ${JSON.stringify(val)}`);
  if (u.username !== '' || u.password !== '') {
    // Never echo the password (dockerd prints "xxxxx" instead).
    throw new Error(`invalid mirror: username/password not allowed in URI ${JSON.stringify(`${scheme}://${u.username}:xxxxx@${u.host}${u.pathname}`)}`);
  }
  return `${val.replace(/\/+$/, '')}/`;
}

function intSetting(what: string, v: unknown, min: number): number {
  const n = typeof v === 'string' ? (/^-?\d+$/.test(v.trim()) ? Number(v.trim()) : NaN) : v;
  if (typeof n !== 'number' || !Number.isInteger(n)) throw new Error(`invalid ${what}: ${String(v)}`);
  if (n < min) throw new Error(`invalid ${what}: ${n}`);
  return n;
}

/**
 * The registry settings from berthd's flags and daemon.json together, as dockerd:
 * a key set by both is an error ("specified both as a flag and in the
 * configuration file", listed in conflicts), values are validated with dockerd's
 * messages (thrown), and 127.0.0.0/8 is always insecure.
 */
export function registrySettings(flags: RegistryFlags, file: Record<string, unknown>): { cfg: Partial<RegistryConfig>; conflicts: string[] } {
  const conflicts: string[] = [];
  // fmt's %v of a []string or []interface{}: "[a b]".
  const show = (v: unknown): string => (Array.isArray(v) ? `[${v.map((x) => String(x)).join(' ')}]` : String(v));
  const pick = <T>(key: string, flag: T | undefined, shown: (f: T) => string): T | unknown => {
    if (flag !== undefined && key in file) conflicts.push(`${key}: (from flag: ${shown(flag)}, from file: ${show(file[key])})`);
    return flag !== undefined ? flag : file[key];
  };
  const list = (key: string, v: unknown): string[] | undefined => {
    if (v === undefined) return undefined;
    if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw new Error(`${key} must be a list of strings`);
    return v as string[];
  };
  const cfg: Partial<RegistryConfig> = {};
  const insecure = list('insecure-registries', pick('insecure-registries', flags.insecureRegistries, show));
  if (insecure) cfg.insecureRegistries = [...new Set(insecure.map(validateInsecureRegistry))];
  const mirrors = list('registry-mirrors', pick('registry-mirrors', flags.mirrors, show));
  if (mirrors) cfg.mirrors = mirrors.map((m) => validateMirror(m).replace(/\/+$/, ''));
  const dl = pick('max-concurrent-downloads', flags.maxConcurrentDownloads, String);
  if (dl !== undefined) cfg.maxConcurrentDownloads = Math.max(1, intSetting('max concurrent downloads', dl, 0));
  const ul = pick('max-concurrent-uploads', flags.maxConcurrentUploads, String);
  if (ul !== undefined) cfg.maxConcurrentUploads = Math.max(1, intSetting('max concurrent uploads', ul, 0));
  const at = pick('max-download-attempts', flags.maxDownloadAttempts, String);
  if (at !== undefined) cfg.maxDownloadAttempts = intSetting('max download attempts', at, 1);
  return { cfg, conflicts };
}

export interface IndexInfo {
  Name: string;
  Mirrors: string[];
  Secure: boolean;
  Official: boolean;
}

/** /info's RegistryConfig, shaped as dockerd's ServiceConfig. */
export function registryInfo(cfg: RegistryConfig): {
  AllowNondistributableArtifactsCIDRs: string[]; AllowNondistributableArtifactsHostnames: string[];
  InsecureRegistryCIDRs: string[]; IndexConfigs: Record<string, IndexInfo>; Mirrors: string[];
} {
  const cidrs: string[] = [];
  const index: Record<string, IndexInfo> = {};
  for (const raw of [...cfg.insecureRegistries, '127.0.0.0/8']) {
    let r: string;
    try {
      r = validateInsecureRegistry(raw);
    } catch {
      continue; // refused at start-up; only test overrides get here
    }
    if (parseCidr(r)) {
      if (!cidrs.includes(r)) cidrs.push(r);
    } else index[r] = { Name: r, Mirrors: [], Secure: false, Official: false };
  }
  const mirrors = cfg.mirrors.map((m) => `${m.replace(/\/+$/, '')}/`);
  index['docker.io'] = { Name: 'docker.io', Mirrors: mirrors, Secure: true, Official: true };
  return { AllowNondistributableArtifactsCIDRs: [], AllowNondistributableArtifactsHostnames: [], InsecureRegistryCIDRs: cidrs, IndexConfigs: index, Mirrors: mirrors };
}
