// Image manifests as the registries serve them: OCI index / Docker manifest
// list, OCI and Docker schema2 manifests. External JSON is validated into
// these types here, never cast; platform selection follows containerd's
// platforms matcher (the one Docker 20.10 uses) for the cases that matter.
import { invalid } from '../common/errors';

export const MT_DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
export const MT_DOCKER_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';
export const MT_DOCKER_SCHEMA1 = 'application/vnd.docker.distribution.manifest.v1+json';
export const MT_DOCKER_SCHEMA1_SIGNED = 'application/vnd.docker.distribution.manifest.v1+prettyjws';
export const MT_OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const MT_OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const MT_DOCKER_CONFIG = 'application/vnd.docker.container.image.v1+json';
export const MT_OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
export const MT_DOCKER_LAYER_GZIP = 'application/vnd.docker.image.rootfs.diff.tar.gzip';
export const MT_DOCKER_LAYER_TAR = 'application/vnd.docker.image.rootfs.diff.tar';
export const MT_DOCKER_LAYER_FOREIGN = 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip';
export const MT_OCI_LAYER_TAR = 'application/vnd.oci.image.layer.v1.tar';
export const MT_OCI_LAYER_GZIP = 'application/vnd.oci.image.layer.v1.tar+gzip';
export const MT_OCI_LAYER_ZSTD = 'application/vnd.oci.image.layer.v1.tar+zstd';

/** The Accept header for manifest requests (what Docker 20.10 sends, plus the OCI index). */
export const MANIFEST_ACCEPT = [MT_DOCKER_MANIFEST, MT_DOCKER_LIST, MT_OCI_MANIFEST, MT_OCI_INDEX].join(', ');

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
  'os.version'?: string;
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  urls?: string[];
  annotations?: Record<string, string>;
  platform?: Platform;
}

export interface ImageManifest {
  kind: 'manifest';
  mediaType: string;
  config: Descriptor;
  layers: Descriptor[];
}

export interface ImageIndex {
  kind: 'index';
  mediaType: string;
  manifests: Descriptor[];
}

export type Manifest = ImageManifest | ImageIndex;

const DIGEST_RE = /^sha256:[a-f0-9]{64}$/;

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function str(o: Record<string, unknown>, k: string): string | undefined {
  const v = o[k];
  return typeof v === 'string' ? v : undefined;
}

export function parseDescriptor(v: unknown, where: string): Descriptor {
  if (!isObj(v)) throw invalid(`invalid manifest: ${where} is not an object`);
  const digest = str(v, 'digest');
  const size = v['size'];
  if (digest === undefined || !DIGEST_RE.test(digest)) throw invalid(`invalid manifest: ${where} has an invalid digest ${JSON.stringify(v['digest'])}`);
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) throw invalid(`invalid manifest: ${where} has an invalid size`);
  const d: Descriptor = { mediaType: str(v, 'mediaType') ?? '', digest, size };
  const urls = v['urls'];
  if (Array.isArray(urls) && urls.every((u) => typeof u === 'string')) d.urls = urls as string[];
  const ann = v['annotations'];
  if (isObj(ann)) {
    const a: Record<string, string> = {};
    for (const [k, x] of Object.entries(ann)) if (typeof x === 'string') a[k] = x;
    d.annotations = a;
  }
  const p = v['platform'];
  if (isObj(p)) {
    const os = str(p, 'os') ?? '';
    const architecture = str(p, 'architecture') ?? '';
    const plat: Platform = { os, architecture };
    const variant = str(p, 'variant');
    if (variant) plat.variant = variant;
    const osv = str(p, 'os.version');
    if (osv) plat['os.version'] = osv;
    d.platform = plat;
  }
  return d;
}

/**
 * Docker 28's refusal of schema1 manifests (DeprecatedSchema1ImageError), a 400;
 * with the reference when known. berth does not convert schema1: registries
 * stopped accepting such pushes years ago, its signatures cannot be checked
 * meaningfully, and the image IDs a conversion yields differ between engines —
 * a clear error pointing at the fix serves users better.
 */
export function schema1Error(ref?: string): Error {
  let msg = 'Docker Image Format v1 and Docker Image manifest version 2, schema 1 support has been removed.';
  if (ref !== undefined) msg += ` Suggest the author of ${ref} to upgrade the image to the OCI Format or Docker Image manifest v2, schema 2.`;
  msg += ' More information at https://docs.docker.com/go/deprecated-image-specs/';
  return Object.assign(invalid(msg), { schema1: true });
}

export function isSchema1Error(e: unknown): boolean {
  return e instanceof Error && (e as Error & { schema1?: boolean }).schema1 === true;
}

/**
 * Parses a manifest or index. The media type comes from the body's own
 * `mediaType` when present (it must then agree with what the server said),
 * else from the Content-Type, else from the shape.
 */
export function parseManifest(bytes: Uint8Array, contentType?: string): Manifest {
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch {
    throw invalid('invalid manifest: not JSON');
  }
  if (!isObj(v)) throw invalid('invalid manifest: not a JSON object');
  const ct = (contentType ?? '').split(';')[0]?.trim() ?? '';
  let mt = str(v, 'mediaType') ?? '';
  if (mt === '') {
    if (ct && ct !== 'application/json' && ct !== 'text/plain') mt = ct;
    else if (Array.isArray(v['manifests'])) mt = MT_OCI_INDEX;
    else if (v['schemaVersion'] === 1) mt = MT_DOCKER_SCHEMA1_SIGNED;
    else mt = MT_OCI_MANIFEST;
  }
  if (mt === MT_DOCKER_SCHEMA1 || mt === MT_DOCKER_SCHEMA1_SIGNED || v['schemaVersion'] === 1) throw schema1Error();
  if (v['schemaVersion'] !== 2) throw invalid(`invalid manifest: unsupported schemaVersion ${JSON.stringify(v['schemaVersion'])}`);
  if (mt === MT_DOCKER_LIST || mt === MT_OCI_INDEX) {
    const ms = v['manifests'];
    if (!Array.isArray(ms)) throw invalid('invalid manifest list: no manifests');
    return { kind: 'index', mediaType: mt, manifests: ms.map((m, i) => parseDescriptor(m, `manifests[${i}]`)) };
  }
  if (mt === MT_DOCKER_MANIFEST || mt === MT_OCI_MANIFEST) {
    const config = parseDescriptor(v['config'], 'config');
    const ls = v['layers'];
    if (!Array.isArray(ls)) throw invalid('invalid manifest: no layers');
    return { kind: 'manifest', mediaType: mt, config, layers: ls.map((l, i) => parseDescriptor(l, `layers[${i}]`)) };
  }
  throw invalid(`unsupported manifest media type ${mt}`);
}

/** Whether a layer media type is one berth can unpack (tar, gzip or zstd; Docker's and OCI's names). */
export function isLayerMediaType(mt: string): boolean {
  return /^application\/vnd\.(docker\.image\.rootfs\.(foreign\.)?diff\.tar(\.gzip)?|oci\.image\.layer\.(nondistributable\.)?v1\.tar(\+gzip|\+zstd)?)$/.test(mt) || mt === '';
}

export function isCompressedLayer(mt: string): boolean {
  return /gzip|zstd/.test(mt);
}

// ---------- platforms ----------

/** containerd's normalisation: arch aliases and default variants. */
export function normalizePlatform(p: Platform): Required<Pick<Platform, 'os' | 'architecture'>> & { variant: string } {
  const os = (p.os || '').toLowerCase();
  let arch = (p.architecture || '').toLowerCase();
  let variant = (p.variant ?? '').toLowerCase();
  switch (arch) {
    case 'i386':
      arch = '386';
      variant = '';
      break;
    case 'x86_64':
    case 'x86-64':
    case 'amd64':
      arch = 'amd64';
      if (variant === 'v1') variant = '';
      break;
    case 'aarch64':
    case 'arm64':
      arch = 'arm64';
      if (variant === '8' || variant === 'v8') variant = '';
      break;
    case 'armhf':
      arch = 'arm';
      variant = 'v7';
      break;
    case 'armel':
      arch = 'arm';
      variant = 'v6';
      break;
    case 'arm':
      if (variant === '') variant = 'v7';
      else if (/^[5-8]$/.test(variant)) variant = `v${variant}`;
      break;
    default:
      break;
  }
  return { os, architecture: arch, variant };
}

export function platformString(p: Platform): string {
  const n = normalizePlatform(p);
  return `${n.os}/${n.architecture}${n.variant ? `/${n.variant}` : ''}`;
}

/** Variants a wanted platform accepts, best first (arm v8 → v7 → v6 → v5 as containerd). */
function acceptedVariants(want: ReturnType<typeof normalizePlatform>): string[] {
  if (want.architecture === 'arm') {
    const order = ['v8', 'v7', 'v6', 'v5'];
    const i = order.indexOf(want.variant);
    return i < 0 ? [want.variant] : order.slice(i);
  }
  if (want.architecture === 'amd64' && /^v[2-4]$/.test(want.variant)) {
    const n = Number(want.variant.slice(1));
    const out: string[] = [];
    for (let k = n; k >= 2; k--) out.push(`v${k}`);
    out.push('');
    return out;
  }
  return [want.variant];
}

/** Whether `have` (from an index or config) can run where `want` is wanted. */
export function platformMatches(want: Platform, have: Platform): boolean {
  const w = normalizePlatform(want);
  const h = normalizePlatform(have);
  return w.os === h.os && w.architecture === h.architecture && acceptedVariants(w).includes(h.variant);
}

/**
 * Picks the manifest for a platform from an index: exact variant first, then
 * compatible ones; entries without a platform, or for unknown/unknown
 * (attestations), never match. Returns undefined when nothing fits.
 */
export function selectManifest(index: ImageIndex, want: Platform): Descriptor | undefined {
  const w = normalizePlatform(want);
  const order = acceptedVariants(w);
  let best: Descriptor | undefined;
  let bestRank = Infinity;
  for (const m of index.manifests) {
    if (!m.platform) continue;
    if (m.mediaType && m.mediaType !== MT_DOCKER_MANIFEST && m.mediaType !== MT_OCI_MANIFEST) continue;
    const h = normalizePlatform(m.platform);
    if (h.os !== w.os || h.architecture !== w.architecture) continue;
    const rank = order.indexOf(h.variant);
    if (rank < 0) continue;
    if (rank < bestRank) {
      best = m;
      bestRank = rank;
    }
  }
  return best;
}

// ---------- building manifests (push) ----------

/** Go's json.MarshalIndent(v, "", "   ") for the plain JSON values manifests hold (Docker's manifest bytes). */
export function marshalIndent3(v: unknown, indent = ''): string {
  const next = indent + '   ';
  if (Array.isArray(v)) {
    if (v.length === 0) return '[]';
    return `[\n${v.map((x) => next + marshalIndent3(x, next)).join(',\n')}\n${indent}]`;
  }
  if (isObj(v)) {
    const entries = Object.entries(v).filter(([, x]) => x !== undefined);
    if (entries.length === 0) return '{}';
    return `{\n${entries.map(([k, x]) => `${next}${goString(k)}: ${marshalIndent3(x, next)}`).join(',\n')}\n${indent}}`;
  }
  if (typeof v === 'string') return goString(v);
  return JSON.stringify(v);
}

/** A JSON string as Go's encoder writes it (<, >, & and U+2028/9 escaped). */
function goString(s: string): string {
  return JSON.stringify(s).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** A Docker schema2 manifest as Docker's daemon serialises it. */
export function buildDockerManifest(config: { digest: string; size: number }, layers: Array<{ mediaType: string; digest: string; size: number }>): Buffer {
  const m = {
    schemaVersion: 2,
    mediaType: MT_DOCKER_MANIFEST,
    config: { mediaType: MT_DOCKER_CONFIG, size: config.size, digest: config.digest },
    layers: layers.map((l) => ({ mediaType: l.mediaType, size: l.size, digest: l.digest })),
  };
  return Buffer.from(marshalIndent3(m));
}

/** The parts of an image config a pull needs before handing it to the image store. */
export interface ConfigSummary {
  os: string;
  architecture: string;
  variant: string;
  diffIds: string[];
}

export function parseConfigSummary(bytes: Uint8Array): ConfigSummary {
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch {
    throw invalid('invalid image config: not JSON');
  }
  if (!isObj(v)) throw invalid('invalid image config: not a JSON object');
  const rootfs = v['rootfs'];
  const ids = isObj(rootfs) ? rootfs['diff_ids'] : undefined;
  const diffIds = Array.isArray(ids) ? ids : [];
  if (!diffIds.every((d): d is string => typeof d === 'string' && DIGEST_RE.test(d))) throw invalid('invalid image config: bad rootfs.diff_ids');
  return { os: str(v, 'os') ?? '', architecture: str(v, 'architecture') ?? '', variant: str(v, 'variant') ?? '', diffIds: diffIds as string[] };
}
