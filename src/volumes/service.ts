// Volumes with Docker's `local` driver.
//
// On disk (<root> = <data-root>/volumes):
//   <name>/volume.json   {Name, Driver, Labels, Options, CreatedAt, Anonymous}
//   <name>/_data         the volume's content (or the mount point of a
//                        `-o type=… -o device=…` volume, mounted while used)
//   .tmp-<random>/       a volume being created: renamed to <name> once its
//                        volume.json is on disk (the commit point)
//   .rm-<random>/        a volume being removed: renamed away first, then deleted
// Start-up deletes .tmp-* and .rm-* left by a crash. Which containers use a
// volume is not stored here: it is rebuilt from the containers' MountPoints.
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { markTopDir } from '../common/topdir';
import { fsyncDir, readJson, writeJsonAtomic } from '../common/atomic-fs';
import { conflict, EngineError, errorMessage, internal, invalid, notFound } from '../common/errors';
import type { EventSink } from '../common/events';
import { checkFilterKeys, matchLabels, parseBool, type Filters } from '../common/filters';
import { newId } from '../common/ids';
import { log } from '../common/log';
import { native, MNT_DETACH } from '../common/native';

export const LOCAL_DRIVER = 'local';
export const VOLUME_NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

export interface VolumeRecord {
  Name: string;
  Driver: string;
  Labels: Record<string, string> | null;
  Options: Record<string, string> | null;
  /** RFC 3339, seconds */
  CreatedAt: string;
  /** created for a container without a name (image VOLUME, `-v /path`); `rm -v` deletes it */
  Anonymous: boolean;
}

/** The API's volume object (GET /volumes/{name}). */
export interface VolumeView {
  CreatedAt: string;
  Driver: string;
  Labels: Record<string, string> | null;
  Mountpoint: string;
  Name: string;
  Options: Record<string, string> | null;
  Scope: string;
  UsageData?: { Size: number; RefCount: number };
}

export interface CreateVolumeOptions {
  driver?: string;
  options?: Record<string, string> | null;
  labels?: Record<string, string> | null;
  anonymous?: boolean;
}

const VALID_OPTS = new Set(['type', 'device', 'o', 'size']);
const MANDATORY: Record<string, string[]> = { device: ['type'], type: ['device'], o: ['device', 'type'] };

// mount(2) flags the local driver's `o=` understands (moby/sys/mount parseOptions).
const MS: Record<string, [boolean, number]> = {
  ro: [false, 1], rw: [true, 1], nosuid: [false, 2], suid: [true, 2], nodev: [false, 4], dev: [true, 4],
  noexec: [false, 8], exec: [true, 8], sync: [false, 16], async: [true, 16], remount: [false, 32],
  mand: [false, 64], nomand: [true, 64], dirsync: [false, 128], noatime: [false, 1024], atime: [true, 1024],
  nodiratime: [false, 2048], diratime: [true, 2048], bind: [false, 4096], rbind: [false, 4096 | 16384],
  relatime: [false, 1 << 21], norelatime: [true, 1 << 21], strictatime: [false, 1 << 24], nostrictatime: [true, 1 << 24],
};
const PROPAGATION = new Set(['private', 'rprivate', 'shared', 'rshared', 'slave', 'rslave', 'unbindable', 'runbindable']);

/** Splits a mount option string into mount(2) flags and filesystem data. */
export function parseMountOptions(o: string): { flags: number; data: string } {
  let flags = 0;
  const data: string[] = [];
  for (const opt of o.split(',').filter(Boolean)) {
    const f = MS[opt];
    if (f) flags = f[0] ? flags & ~f[1] : flags | f[1];
    else if (!PROPAGATION.has(opt)) data.push(opt);
  }
  return { flags, data: data.join(',') };
}

function rfc3339(d: Date): string {
  return d.toISOString().replace(/\.\d+Z$/, 'Z');
}

function isRecord(v: unknown): v is VolumeRecord {
  if (typeof v !== 'object' || v === null) return false;
  const o = v as Record<string, unknown>;
  return typeof o['Name'] === 'string' && typeof o['Driver'] === 'string' && typeof o['CreatedAt'] === 'string';
}

function mountedPaths(): Set<string> {
  const out = new Set<string>();
  try {
    for (const line of fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
      const mp = line.split(' ')[4];
      if (mp) out.add(mp.replace(/\\(\d{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8))));
    }
  } catch {
    /* no procfs */
  }
  return out;
}

export class VolumeService {
  private readonly vols = new Map<string, VolumeRecord>();
  /** volume name → IDs of the containers referring to it */
  private readonly refs = new Map<string, Set<string>>();
  private readonly mounted = new Set<string>();
  /** called when a volume's content may have changed size (disk-usage cache) */
  onChange: (name: string) => void = () => undefined;

  constructor(readonly root: string, private readonly events: EventSink) {}

  init(): void {
    fs.mkdirSync(this.root, { recursive: true, mode: 0o701 });
    markTopDir(this.root); // each volume's files in a block group with room (see common/topdir.ts)
    const mounted = mountedPaths();
    for (const n of fs.readdirSync(this.root)) {
      const dir = path.join(this.root, n);
      if (n.startsWith('.tmp-') || n.startsWith('.rm-')) {
        log.info('removing incomplete volume directory', { dir });
        this.unmountQuiet(path.join(dir, '_data'));
        fs.rmSync(dir, { recursive: true, force: true });
        continue;
      }
      if (!VOLUME_NAME_RE.test(n)) continue;
      let rec: unknown;
      try {
        rec = readJson(path.join(dir, 'volume.json'));
      } catch (e) {
        log.warn('unreadable volume metadata', { dir, err: e });
        continue;
      }
      if (!isRecord(rec) || rec.Name !== n) {
        log.warn('volume directory without metadata, ignored', { dir });
        continue;
      }
      this.vols.set(n, { ...rec, Anonymous: rec.Anonymous === true });
      if (mounted.has(this.mountpoint(n))) this.mounted.add(n);
    }
  }

  /** Rebuilds who uses what from the containers' recorded mounts (after a restart). */
  restore(users: Array<{ id: string; volumes: string[] }>): void {
    for (const u of users) for (const v of u.volumes) this.addRef(v, u.id);
    // a device volume nobody uses any more stays unmounted
    for (const n of [...this.mounted]) if (!this.refs.get(n)?.size) this.unmount(n);
  }

  dir(name: string): string {
    return path.join(this.root, name);
  }

  mountpoint(name: string): string {
    return path.join(this.root, name, '_data');
  }

  has(name: string): boolean {
    return this.vols.has(name);
  }

  get(name: string): VolumeRecord {
    const v = this.vols.get(name);
    if (!v) throw notFound(`get ${name}: no such volume`);
    return v;
  }

  all(): VolumeRecord[] {
    return [...this.vols.values()];
  }

  view(v: VolumeRecord): VolumeView {
    return { CreatedAt: v.CreatedAt, Driver: v.Driver, Labels: v.Labels, Mountpoint: this.mountpoint(v.Name), Name: v.Name, Options: v.Options, Scope: 'local' };
  }

  refCount(name: string): number {
    return this.refs.get(name)?.size ?? 0;
  }

  users(name: string): string[] {
    return [...(this.refs.get(name) ?? [])];
  }

  addRef(name: string, containerId: string): void {
    let s = this.refs.get(name);
    if (!s) this.refs.set(name, (s = new Set()));
    s.add(containerId);
  }

  removeRef(name: string, containerId: string): void {
    const s = this.refs.get(name);
    if (!s) return;
    s.delete(containerId);
    if (s.size === 0) {
      this.refs.delete(name);
      if (this.mounted.has(name)) this.unmount(name);
    }
  }

  private validate(name: string, driver: string, opts: Record<string, string>): void {
    if (!VOLUME_NAME_RE.test(name)) {
      throw invalid(`create ${name}: "${name}" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path`);
    }
    if (driver !== LOCAL_DRIVER) throw notFound(`create ${name}: error looking up volume plugin ${driver}: plugin "${driver}" not found`);
    for (const k of Object.keys(opts)) if (!VALID_OPTS.has(k)) throw invalid(`create ${name}: invalid option key: "${k}"`);
    if (opts['size'] !== undefined) throw invalid(`create ${name}: quota size requested but no quota support`);
    for (const [k, req] of Object.entries(MANDATORY)) {
      if (opts[k] === undefined) continue;
      for (const r of req) if (opts[r] === undefined) throw invalid(`create ${name}: missing required option: "${r}"`);
    }
  }

  /** Creates a volume (an existing one of that name is returned as is, as Docker does). */
  create(nameIn: string | undefined, o: CreateVolumeOptions = {}): VolumeRecord {
    const name = nameIn || newId();
    const driver = o.driver || LOCAL_DRIVER;
    const existing = this.vols.get(name);
    if (existing) {
      if (existing.Driver !== driver) throw conflict(`create ${name}: volume name must be unique`);
      return existing;
    }
    const opts = { ...(o.options ?? {}) };
    this.validate(name, driver, opts);
    const rec: VolumeRecord = {
      Name: name,
      Driver: driver,
      Labels: o.labels ? { ...o.labels } : null,
      Options: Object.keys(opts).length ? opts : null,
      CreatedAt: rfc3339(new Date()),
      Anonymous: o.anonymous === true,
    };
    const tmp = path.join(this.root, `.tmp-${randomBytes(6).toString('hex')}`);
    try {
      fs.mkdirSync(tmp, { mode: 0o701 });
      fs.mkdirSync(path.join(tmp, '_data'), { mode: 0o755 });
      writeJsonAtomic(path.join(tmp, 'volume.json'), rec);
      fs.renameSync(tmp, this.dir(name)); // the commit point
      fsyncDir(this.root);
    } catch (e) {
      fs.rmSync(tmp, { recursive: true, force: true });
      throw internal(`create ${name}: ${errorMessage(e)}`, e);
    }
    this.vols.set(name, rec);
    this.events({ Type: 'volume', Action: 'create', Actor: { ID: name, Attributes: { driver } } });
    return rec;
  }

  /** DELETE /volumes/{name}: refused while a container (running or not) refers to it. */
  remove(name: string, force = false): void {
    const v = this.vols.get(name);
    if (!v) {
      if (force) return;
      throw notFound(`get ${name}: no such volume`);
    }
    const users = this.users(name);
    if (users.length) throw conflict(`remove ${name}: volume is in use - [${users.join(', ')}]`);
    if (this.mounted.has(name)) this.unmount(name);
    const gone = path.join(this.root, `.rm-${randomBytes(6).toString('hex')}`);
    try {
      fs.renameSync(this.dir(name), gone); // from here it no longer exists
      fsyncDir(this.root);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw internal(`remove ${name}: ${errorMessage(e)}`, e);
    }
    this.vols.delete(name);
    this.refs.delete(name);
    fs.rmSync(gone, { recursive: true, force: true });
    this.onChange(name);
    this.events({ Type: 'volume', Action: 'destroy', Actor: { ID: name, Attributes: { driver: v.Driver } } });
  }

  /** GET /volumes: filters dangling, name, label, driver. */
  list(filters: Filters): VolumeView[] {
    checkFilterKeys(filters, ['dangling', 'name', 'label', 'label!', 'driver']);
    let dangling: boolean | undefined;
    for (const d of filters.get('dangling') ?? []) {
      const s = d.toLowerCase();
      if (s === 'true' || s === '1') dangling = true;
      else if (s === 'false' || s === '0') dangling = false;
      else throw invalid(`Invalid filter 'dangling=${d}'`);
    }
    const match = (values: string[] | undefined, s: string): boolean => {
      if (!values?.length) return true;
      return values.some((v) => {
        if (v === s) return true;
        try {
          return new RegExp(v).test(s);
        } catch {
          return s.includes(v);
        }
      });
    };
    return this.all()
      .filter((v) => dangling === undefined || (this.refCount(v.Name) === 0) === dangling)
      .filter((v) => match(filters.get('name'), v.Name))
      .filter((v) => match(filters.get('driver'), v.Driver))
      .filter((v) => matchLabels(filters, v.Labels))
      .map((v) => this.view(v));
  }

  /**
   * POST /volumes/prune: unused volumes. Before API 1.42 every unused volume
   * goes (as Docker); from 1.42 only anonymous ones unless `all`.
   */
  async prune(filters: Filters, apiVersion: string, sizeOf: (name: string) => number): Promise<{ VolumesDeleted: string[] | null; SpaceReclaimed: number }> {
    checkFilterKeys(filters, ['label', 'label!', 'all']);
    const [maj = 1, min = 41] = apiVersion.split('.').map(Number);
    let all = maj < 1 || (maj === 1 && min < 42);
    for (const a of filters.get('all') ?? []) {
      if (!['true', 'false', '1', '0'].includes(a.toLowerCase())) throw invalid(`invalid filter 'all=${a}': invalid value`);
      all = parseBool(a);
    }
    const deleted: string[] = [];
    let reclaimed = 0;
    for (const v of this.all()) {
      if (this.refCount(v.Name)) continue;
      if (!all && !v.Anonymous) continue;
      if (!matchLabels(filters, v.Labels)) continue;
      let size = 0;
      try {
        size = Math.max(0, sizeOf(v.Name));
      } catch {
        size = 0;
      }
      try {
        this.remove(v.Name);
      } catch (e) {
        if (!(e instanceof EngineError && e.kind === 'conflict')) log.warn('volume prune: removal failed', { name: v.Name, err: e });
        continue;
      }
      deleted.push(v.Name);
      reclaimed += size;
    }
    this.events({ Type: 'volume', Action: 'prune', Actor: { ID: '', Attributes: { reclaimed: String(reclaimed) } } });
    return { VolumesDeleted: deleted.length ? deleted : null, SpaceReclaimed: reclaimed };
  }

  /**
   * The host path to bind into a container; a `-o type=… -o device=…` volume
   * is mounted on first use (and unmounted when no container refers to it).
   */
  use(name: string, containerId: string): string {
    const v = this.get(name);
    this.addRef(name, containerId);
    const mp = this.mountpoint(name);
    const o = v.Options ?? {};
    if (o['type'] !== undefined && o['device'] !== undefined && !this.mounted.has(name)) {
      const { flags, data } = parseMountOptions(o['o'] ?? '');
      fs.mkdirSync(mp, { recursive: true, mode: 0o755 });
      try {
        const bind = (flags & 4096) !== 0;
        native().mount(o['device'], mp, o['type'] === 'none' ? null : o['type'], bind ? flags & ~1 : flags, data || null);
        // a read-only bind takes a remount
        if (bind && flags & 1) native().mount('', mp, null, 4096 | 32 | 1 | (flags & 14), null);
      } catch (e) {
        throw internal(`error while mounting volume '${mp}': failed to mount local volume: ${errorMessage(e)}`, e);
      }
      this.mounted.add(name);
    }
    return mp;
  }

  private unmount(name: string): void {
    this.unmountQuiet(this.mountpoint(name));
    this.mounted.delete(name);
  }

  private unmountQuiet(p: string): void {
    try {
      native().umount(p, 0);
    } catch (e) {
      const code = (e as { code?: string }).code;
      if (code === 'EBUSY') {
        try {
          native().umount(p, MNT_DETACH);
        } catch {
          /* nothing more to do */
        }
      } else if (code !== 'EINVAL' && code !== 'ENOENT') log.warn('volume unmount failed', { path: p, err: e });
    }
  }

  /** Emits a volume event with Docker's attributes. */
  event(name: string, action: string, attrs: Record<string, string>): void {
    const v = this.vols.get(name);
    this.events({ Type: 'volume', Action: action, Actor: { ID: name, Attributes: { driver: v?.Driver ?? LOCAL_DRIVER, ...attrs } } });
  }
}
