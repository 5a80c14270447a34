// docker/cli's formatter package: --format handling ("table", "json", custom
// templates), table output through the tabwriter, and the per-row contexts
// for containers, images and history.
import type { ContainerSummary, HistoryItem, ImageSummary, Port } from '../client/types';
import { familiarName, familiarString, parseNormalizedNamed, truncateId, type Reference } from './reference';
import { tabulate } from './tabwriter';
import { HEADER_FUNCS, METHODS, STRUCT, Template, TemplateError, type StructValue, type TemplateFunc } from './template';
import { humanDuration, humanSize, humanSizeWithPrecision } from './units';

export const TABLE = 'table';
export const RAW = 'raw';
export const JSON_FORMAT = '{{json .}}';
export const DEFAULT_QUIET = '{{.ID}}';

export function isTable(format: string): boolean {
  return format.startsWith(TABLE);
}

/** Format.templateString: strips "table", trims spaces, expands \t and \n. */
export function templateString(format: string): string {
  if (format === TABLE) return '';
  if (format === 'json') return JSON_FORMAT;
  let out = format.startsWith(TABLE) ? format.slice(TABLE.length) : format;
  out = out.replace(/^ +| +$/g, '');
  return out.replace(/\\t|\\n/g, (m) => (m === '\\t' ? '\t' : '\n'));
}

/** A header map like SubHeaderContext: field -> column title, with a Label method. */
export function headerContext(fields: Record<string, string>): Record<string, unknown> {
  const h: Record<string, unknown> = { ...fields };
  Object.defineProperty(h, METHODS, {
    value: {
      Label(name: unknown): string {
        const n = String(name).split('.');
        return n[n.length - 1]!.replace(/[-_]/g, ' ');
      },
    },
    enumerable: false,
  });
  return h;
}

export function parseTemplate(format: string, funcs?: Record<string, TemplateFunc>): Template {
  try {
    return Template.parse(templateString(format), funcs ? { funcs } : {});
  } catch (e) {
    if (e instanceof TemplateError) throw new TemplateError(`template parsing error: ${e.message}`);
    throw e;
  }
}

/** Context.Write: every row through the template, and for tables a header plus tabwriter alignment. */
export function renderRows(format: string, header: Record<string, unknown>, rows: unknown[]): string {
  const tmpl = parseTemplate(format);
  let buf = '';
  for (const row of rows) {
    try {
      buf += tmpl.execute(row);
    } catch (e) {
      if (e instanceof TemplateError) throw new TemplateError(`template parsing error: ${e.message}`);
      throw e;
    }
    buf += '\n';
  }
  if (!isTable(format)) return buf;
  const head = tmpl.executePartial(header, { funcs: HEADER_FUNCS }).out;
  return tabulate(head + '\n' + buf);
}

// ---------------------------------------------------------------------------
// helpers

/** formatter.Ellipsis: truncate to a display width with a trailing "…". */
export function ellipsis(s: string, max: number): string {
  if (max <= 0) return '';
  const rs = [...s];
  if (max === 1) return rs[0] ?? '';
  if (rs.length <= max) return s;
  return rs.slice(0, max - 1).join('') + '…';
}

/** strconv.Quote. */
export function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (ch === '"' || ch === '\\') out += '\\' + ch;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\t') out += '\\t';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\x07') out += '\\a';
    else if (ch === '\b') out += '\\b';
    else if (ch === '\f') out += '\\f';
    else if (ch === '\v') out += '\\v';
    else if (c < 0x20 || c === 0x7f) out += '\\x' + c.toString(16).padStart(2, '0');
    else out += ch;
  }
  return out + '"';
}

function pad2(n: number): string {
  return String(n).padStart(2, '0');
}

function zoneName(d: Date): string {
  try {
    const parts = new Intl.DateTimeFormat('en-US', { timeZoneName: 'short' }).formatToParts(d);
    const z = parts.find((p) => p.type === 'timeZoneName')?.value ?? '';
    if (z === 'UTC' || z === 'GMT') return 'UTC';
    if (/^[A-Z]{2,5}$/.test(z)) return z;
  } catch {
    // fall through
  }
  const off = -d.getTimezoneOffset();
  return off === 0 ? 'UTC' : `${off < 0 ? '-' : '+'}${pad2(Math.floor(Math.abs(off) / 60))}${Math.abs(off) % 60 ? pad2(Math.abs(off) % 60) : ''}`;
}

function offsetString(d: Date, colon: boolean): string {
  const off = -d.getTimezoneOffset();
  const sign = off < 0 ? '-' : '+';
  const a = Math.abs(off);
  return `${sign}${pad2(Math.floor(a / 60))}${colon ? ':' : ''}${pad2(a % 60)}`;
}

/** Go's time.Time.String(): "2006-01-02 15:04:05 -0700 MST" in local time. */
export function goTimeString(unixSeconds: number): string {
  const d = new Date(unixSeconds * 1000);
  return `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())} ${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())} ${offsetString(d, false)} ${zoneName(d)}`;
}

/** time.RFC3339 in local time. */
export function rfc3339(unixSeconds: number): string {
  const d = new Date(unixSeconds * 1000);
  const off = d.getTimezoneOffset() === 0 ? 'Z' : offsetString(d, true);
  return `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())}T${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}${off}`;
}

function joinHostPort(host: string, port: string): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** formatter.DisplayablePorts: "0.0.0.0:80->9090/tcp, 9988/tcp", with ranges grouped. */
export function displayablePorts(input: Port[] | null | undefined): string {
  const ports = [...(input ?? [])].sort((i, j) => {
    if (i.PrivatePort !== j.PrivatePort) return i.PrivatePort - j.PrivatePort;
    const ii = i.IP ?? '';
    const ji = j.IP ?? '';
    if (ii !== ji) return ii < ji ? -1 : 1;
    if ((i.PublicPort ?? 0) !== (j.PublicPort ?? 0)) return (i.PublicPort ?? 0) - (j.PublicPort ?? 0);
    return i.Type < j.Type ? -1 : i.Type > j.Type ? 1 : 0;
  });
  const groups = new Map<string, { first: number; last: number }>();
  const keys: string[] = [];
  const result: string[] = [];
  const hostMappings: string[] = [];
  const formGroup = (key: string, start: number, last: number): string => {
    const parts = key.split('/');
    let type = parts[0]!;
    let ip = '';
    if (parts.length > 1) {
      ip = parts[0]!;
      type = parts[1]!;
    }
    let group = String(start);
    if (start !== last) group = `${group}-${last}`;
    if (ip !== '') group = `${joinHostPort(ip, group)}->${group}`;
    return `${group}/${type}`;
  };
  for (const p of ports) {
    const current = p.PrivatePort;
    let key = p.Type;
    if (p.IP) {
      if ((p.PublicPort ?? 0) !== current) {
        hostMappings.push(`${joinHostPort(p.IP, String(p.PublicPort ?? 0))}->${p.PrivatePort}/${p.Type}`);
        continue;
      }
      key = `${p.IP}/${p.Type}`;
    }
    const g = groups.get(key);
    if (!g) {
      groups.set(key, { first: current, last: current });
      keys.push(key);
      continue;
    }
    if (current === g.last + 1) {
      g.last = current;
      continue;
    }
    result.push(formGroup(key, g.first, g.last));
    groups.set(key, { first: current, last: current });
  }
  for (const k of keys) {
    const g = groups.get(k)!;
    result.push(formGroup(k, g.first, g.last));
  }
  result.push(...hostMappings);
  return result.join(', ');
}

/** MarshalJSON of a formatter context: every zero-argument method, keys sorted. */
function contextJSON(obj: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(obj).sort()) {
    const v = obj[k];
    if (typeof v === 'function') {
      if ((v as (...a: unknown[]) => unknown).length === 0 && k !== 'toJSON') out[k] = (v as () => unknown).call(obj);
    } else out[k] = v;
  }
  return out;
}

function makeStruct(type: string, fields: Record<string, unknown>): StructValue {
  const o = fields as StructValue;
  Object.defineProperty(o, STRUCT, { value: type, enumerable: false });
  Object.defineProperty(o, 'toJSON', { value: () => contextJSON(fields), enumerable: false });
  return o;
}

// ---------------------------------------------------------------------------
// containers (docker ps)

export const DEFAULT_CONTAINER_TABLE = 'table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}';

export const CONTAINER_HEADER = {
  ID: 'CONTAINER ID', Names: 'NAMES', Image: 'IMAGE', Command: 'COMMAND', CreatedAt: 'CREATED AT', RunningFor: 'CREATED',
  Ports: 'PORTS', State: 'STATE', Status: 'STATUS', Size: 'SIZE', Labels: 'LABELS', Mounts: 'MOUNTS',
  LocalVolumes: 'LOCAL VOLUMES', Networks: 'NETWORKS', Platform: 'PLATFORM',
};

export function containerFormat(source: string, quiet: boolean, size: boolean): string {
  if (source === TABLE || source === '') {
    if (quiet) return DEFAULT_QUIET;
    return DEFAULT_CONTAINER_TABLE + (size ? '\\t{{.Size}}' : '');
  }
  if (source === RAW) {
    if (quiet) return 'container_id: {{.ID}}';
    let f = 'container_id: {{.ID}}\nimage: {{.Image}}\ncommand: {{.Command}}\ncreated_at: {{.CreatedAt}}\nstate: {{- pad .State 1 0}}\nstatus: {{- pad .Status 1 0}}\nnames: {{.Names}}\nlabels: {{- pad .Labels 1 0}}\nports: {{- pad .Ports 1 0}}\n';
    if (size) f += 'size: {{.Size}}\\n';
    return f;
  }
  return quiet ? DEFAULT_QUIET : source;
}

function familiarImage(image: string, imageId: string): string {
  if (truncateId(imageId) === truncateId(image)) return truncateId(image);
  let ref: Reference;
  try {
    ref = parseNormalizedNamed(image);
  } catch {
    return image;
  }
  if (ref.tag !== undefined) return familiarString({ domain: ref.domain, path: ref.path, tag: ref.tag });
  return familiarName(ref);
}

export interface ContainerContextOptions {
  trunc: boolean;
  now?: number;
  /** Records fields the template touched (used to auto-enable size=1). */
  used?: Set<string>;
}

export function containerContext(c: ContainerSummary, opts: ContainerContextOptions): StructValue {
  const now = opts.now ?? Date.now();
  const trunc = opts.trunc;
  return makeStruct('*formatter.ContainerContext', {
    ID: () => (trunc ? truncateId(c.Id ?? '') : (c.Id ?? '')),
    Names: () => {
      const names = (c.Names ?? []).map((n) => n.replace(/^\//, ''));
      if (trunc) {
        for (const n of names) if (!n.includes('/')) return n;
        return '';
      }
      return names.join(',');
    },
    Image: () => {
      if (!c.Image) return '<no image>';
      return trunc ? familiarImage(c.Image, c.ImageID ?? '') : c.Image;
    },
    Command: () => goQuote(trunc ? ellipsis(c.Command ?? '', 20) : (c.Command ?? '')),
    CreatedAt: () => goTimeString(c.Created ?? 0),
    RunningFor: () => humanDuration(now - (c.Created ?? 0) * 1000) + ' ago',
    Platform: () => null,
    Ports: () => displayablePorts(c.Ports),
    State: () => c.State ?? '',
    Status: () => c.Status ?? '',
    Size: () => {
      opts.used?.add('Size');
      const srw = humanSizeWithPrecision(c.SizeRw ?? 0, 3);
      const sv = humanSizeWithPrecision(c.SizeRootFs ?? 0, 3);
      return (c.SizeRootFs ?? 0) > 0 ? `${srw} (virtual ${sv})` : srw;
    },
    Labels: () => {
      if (!c.Labels) return '';
      return Object.entries(c.Labels).map(([k, v]) => `${k}=${v}`).sort().join(',');
    },
    Label: (name: unknown) => (c.Labels ? (c.Labels[String(name)] ?? '') : ''),
    Mounts: () => (c.Mounts ?? []).map((m) => {
      const name = m.Name ? m.Name : (m.Source ?? '');
      return trunc ? ellipsis(name, 15) : name;
    }).join(','),
    LocalVolumes: () => String((c.Mounts ?? []).filter((m) => m.Driver === 'local').length),
    Networks: () => Object.keys(c.NetworkSettings?.Networks ?? {}).join(','),
  });
}

// ---------------------------------------------------------------------------
// images (docker images)

export const DEFAULT_IMAGE_TABLE = 'table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{if .CreatedSince }}{{.CreatedSince}}{{else}}N/A{{end}}\t{{.Size}}';
export const DEFAULT_IMAGE_TABLE_DIGEST = 'table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{if .CreatedSince }}{{.CreatedSince}}{{else}}N/A{{end}}\t{{.Size}}';

export const IMAGE_HEADER = {
  ID: 'IMAGE ID', Repository: 'REPOSITORY', Tag: 'TAG', Digest: 'DIGEST', CreatedSince: 'CREATED', CreatedAt: 'CREATED AT',
  Size: 'SIZE', Containers: 'CONTAINERS', VirtualSize: 'SIZE', SharedSize: 'SHARED SIZE', UniqueSize: 'UNIQUE SIZE',
};

export function imageFormat(source: string, quiet: boolean, digest: boolean): string {
  if (source === TABLE) {
    if (quiet) return DEFAULT_QUIET;
    return digest ? DEFAULT_IMAGE_TABLE_DIGEST : DEFAULT_IMAGE_TABLE;
  }
  if (source === RAW) {
    if (quiet) return 'image_id: {{.ID}}';
    return digest
      ? 'repository: {{ .Repository }}\ntag: {{.Tag}}\ndigest: {{.Digest}}\nimage_id: {{.ID}}\ncreated_at: {{.CreatedAt}}\nvirtual_size: {{.Size}}\n'
      : 'repository: {{ .Repository }}\ntag: {{.Tag}}\nimage_id: {{.ID}}\ncreated_at: {{.CreatedAt}}\nvirtual_size: {{.Size}}\n';
  }
  if (isTable(source) && digest && !source.includes('{{.Digest}}')) return source + '\t{{.Digest}}';
  return source;
}

function imageContext(img: ImageSummary, repo: string, tag: string, digest: string, trunc: boolean, now: number): StructValue {
  return makeStruct('*formatter.imageContext', {
    ID: () => (trunc ? truncateId(img.Id ?? '') : (img.Id ?? '')),
    Repository: () => repo,
    Tag: () => tag,
    Digest: () => digest,
    CreatedSince: () => humanDuration(now - (img.Created ?? 0) * 1000) + ' ago',
    CreatedAt: () => goTimeString(img.Created ?? 0),
    Size: () => humanSizeWithPrecision(img.Size ?? 0, 3),
    Containers: () => (img.Containers === undefined || img.Containers === -1 ? 'N/A' : String(img.Containers)),
    VirtualSize: () => humanSize(img.Size ?? 0),
    SharedSize: () => (img.SharedSize === undefined || img.SharedSize === -1 ? 'N/A' : humanSize(img.SharedSize)),
    UniqueSize: () => (img.Size === -1 || img.SharedSize === undefined || img.SharedSize === -1 ? 'N/A' : humanSize((img.Size ?? 0) - img.SharedSize)),
  });
}

/** Expands each image into one row per repository:tag (and digest), as docker images does. */
export function imageRows(images: ImageSummary[], opts: { trunc: boolean; digest: boolean; format: string; now?: number }): StructValue[] {
  const now = opts.now ?? Date.now();
  const needDigest = opts.digest || opts.format.includes('{{.Digest}}');
  const out: StructValue[] = [];
  for (const img of images) {
    const tags = img.RepoTags ?? [];
    const digests = img.RepoDigests ?? [];
    const dangling = (tags.length === 0 && digests.length === 0) ||
      (tags.length === 1 && tags[0] === '<none>:<none>' && digests.length === 1 && digests[0] === '<none>@<none>');
    if (dangling) {
      out.push(imageContext(img, '<none>', '<none>', '<none>', opts.trunc, now));
      continue;
    }
    const repoTags = new Map<string, string[]>();
    const repoDigests = new Map<string, string[]>();
    for (const s of tags) {
      try {
        const r = parseNormalizedNamed(s);
        if (r.tag === undefined) continue;
        const name = familiarName(r);
        repoTags.set(name, [...(repoTags.get(name) ?? []), r.tag]);
      } catch {
        // skip unparsable references, as docker does
      }
    }
    for (const s of digests) {
      try {
        const r = parseNormalizedNamed(s);
        if (r.digest === undefined) continue;
        const name = familiarName(r);
        repoDigests.set(name, [...(repoDigests.get(name) ?? []), r.digest]);
      } catch {
        // skip
      }
    }
    for (const [repo, tagList] of repoTags) {
      let ds = repoDigests.get(repo) ?? [];
      repoDigests.delete(repo);
      if (!needDigest) ds = [];
      for (const t of tagList) {
        if (ds.length === 0) out.push(imageContext(img, repo, t, '<none>', opts.trunc, now));
        else for (const d of ds) out.push(imageContext(img, repo, t, d, opts.trunc, now));
      }
    }
    for (const [repo, ds] of repoDigests) {
      if (opts.digest) for (const d of ds) out.push(imageContext(img, repo, '<none>', d, opts.trunc, now));
      else out.push(imageContext(img, repo, '<none>', '', opts.trunc, now));
    }
  }
  return out;
}

// ---------------------------------------------------------------------------
// history

export const HISTORY_HEADER = {
  ID: 'IMAGE', CreatedSince: 'CREATED', CreatedAt: 'CREATED AT', CreatedBy: 'CREATED BY', Size: 'SIZE', Comment: 'COMMENT',
};

export function historyFormat(source: string, quiet: boolean, human: boolean): string {
  if (source === TABLE) {
    if (quiet) return DEFAULT_QUIET;
    return human
      ? 'table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}'
      : 'table {{.ID}}\t{{.CreatedAt}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}';
  }
  return source;
}

const EPOCH_2000 = Date.UTC(2000, 0, 1) / 1000;

export function historyContext(h: HistoryItem, trunc: boolean, human: boolean, now = Date.now()): StructValue {
  const createdAt = (): string => rfc3339(h.Created ?? 0);
  return makeStruct('*image.historyContext', {
    ID: () => (trunc ? truncateId(h.Id ?? '') : (h.Id ?? '')),
    CreatedAt: createdAt,
    CreatedSince: () => {
      if (!human) return createdAt();
      if ((h.Created ?? 0) <= EPOCH_2000) return 'N/A';
      return humanDuration(now - (h.Created ?? 0) * 1000) + ' ago';
    },
    CreatedBy: () => {
      const s = (h.CreatedBy ?? '').replace(/\t/g, ' ');
      return trunc ? ellipsis(s, 45) : s;
    },
    Size: () => (human ? humanSizeWithPrecision(h.Size ?? 0, 3) : String(h.Size ?? 0)),
    Comment: () => h.Comment ?? '',
  });
}
