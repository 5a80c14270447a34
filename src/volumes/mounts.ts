// The volume-aware MountProvider: what a container mounts, as Docker 20.10's
// registerMountPoints decides it, recorded in rec.MountPoints at create and
// turned into OCI mounts at start (with the copy-up of image content into
// empty volumes).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { EngineError, invalid, notFound } from '../common/errors';
import { log } from '../common/log';
import type { OciMount } from '../runtime';
import { BindOnlyMounts, type MountProvider } from '../containers/mount-provider';
import type { ContainerRecord } from '../containers/types';
import { cleanPath, ScopedFs, ScopedWriter, walkEntries, type EntryHeader } from './scoped-fs';
import { LOCAL_DRIVER, type VolumeService } from './service';

/** One resolved mount of a container (persisted in rec.MountPoints). */
export interface MountPoint {
  Type: 'volume' | 'bind' | 'tmpfs';
  /** cleaned absolute path in the container */
  Destination: string;
  /** host path: the bind source ('' for volumes and tmpfs; see Name) */
  Source: string;
  /** volume name */
  Name?: string;
  Driver?: string;
  RW: boolean;
  Mode: string;
  Propagation: string;
  /** created for this container without a name: `rm -v` / `--rm` delete it */
  Anonymous?: boolean;
  /** fill the volume with the image's content at the destination on the next start, if it is empty */
  CopyData?: boolean;
  /** `-v /host:/ctr`: a missing host directory is created at start (`--mount` refuses) */
  CreateHostDir?: boolean;
  /** tmpfs mount options (size=…, mode=…) */
  TmpfsOptions?: string[];
  /** inherited through --volumes-from from this container */
  From?: string;
}

const LABEL_MODES = new Set(['z', 'Z']);
const RW_MODES = new Set(['rw', 'ro']);
const PROPAGATION_MODES = new Set(['shared', 'rshared', 'slave', 'rslave', 'private', 'rprivate']);
const COPY_MODES = new Set(['nocopy']);
const CONSISTENCY = new Set(['consistent', 'cached', 'delegated']);

/** Docker's ValidMountMode: at most one of each kind. */
function validMode(mode: string): boolean {
  if (!mode) return true;
  let rw = 0, label = 0, prop = 0, copy = 0, cons = 0;
  for (const o of mode.split(',')) {
    if (RW_MODES.has(o)) rw++;
    else if (LABEL_MODES.has(o)) label++;
    else if (PROPAGATION_MODES.has(o)) prop++;
    else if (COPY_MODES.has(o)) copy++;
    else if (CONSISTENCY.has(o)) cons++;
    else return false;
  }
  return rw <= 1 && label <= 1 && prop <= 1 && copy <= 1 && cons <= 1;
}

function mountConfigError(type: string, msg: string): Error {
  return invalid(`invalid mount config for type "${type}": ${msg}`);
}

function checkTarget(type: string, target: string): string {
  if (!target) throw mountConfigError(type, 'field Target must not be empty');
  if (!target.startsWith('/')) throw mountConfigError(type, `invalid mount path: '${target}' mount path must be absolute`);
  const dst = cleanPath(target);
  if (dst === '/') throw mountConfigError(type, `invalid specification: destination can't be '/'`);
  return dst;
}

/** A parsed mount before volumes are looked up or created. */
interface Spec {
  type: 'volume' | 'bind' | 'tmpfs';
  source: string;
  target: string;
  readOnly: boolean;
  mode: string;
  propagation: string;
  noCopy: boolean;
  createHostDir: boolean;
  /** from HostConfig.Binds (`-v`) rather than Mounts */
  raw: boolean;
  volumeOptions?: { labels?: Record<string, string>; driver?: string; driverOpts?: Record<string, string> };
  tmpfs?: string[];
}

/** `-v` / Binds entries: Docker's linuxParser.ParseMountRaw. */
export function parseBindSpec(raw: string): Spec {
  const bad = (): Error => invalid(`invalid volume specification: '${raw}'`);
  const arr = raw.split(':');
  let source = '';
  let target = '';
  let mode = '';
  if (arr.length === 1) target = arr[0] ?? '';
  else if (arr.length === 2) {
    if (validMode(arr[1] ?? '') && (arr[1] ?? '') !== '') throw bad();
    source = arr[0] ?? '';
    target = arr[1] ?? '';
  } else if (arr.length === 3) {
    [source = '', target = '', mode = ''] = arr;
  } else throw bad();
  if (!raw || (arr.length > 1 && !source)) throw bad();
  if (!validMode(mode)) throw invalid(`invalid mode: ${mode}`);
  const opts = mode ? mode.split(',') : [];
  const type = source.startsWith('/') ? 'bind' : 'volume';
  const wrap = (e: unknown): Error => invalid(`invalid volume specification: '${raw}': ${(e as Error).message}`);
  if (type === 'bind' && opts.includes('nocopy')) throw wrap(new Error('invalid mount config for type "bind": field VolumeOptions must not be specified'));
  let dst: string;
  try {
    dst = checkTarget(type, target);
  } catch (e) {
    throw wrap(e);
  }
  return {
    type,
    source,
    target: dst,
    readOnly: opts.includes('ro'),
    mode,
    propagation: opts.find((o) => PROPAGATION_MODES.has(o)) ?? '',
    noCopy: opts.includes('nocopy'),
    createHostDir: true,
    raw: true,
  };
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
function strMap(v: unknown, what: string): Record<string, string> | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isObj(v)) throw invalid(`json: cannot unmarshal into Go struct field ${what} of type map[string]string`);
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(v)) out[k] = String(x);
  return out;
}

/** HostConfig.Mounts entries (`--mount`): Docker's validateMountConfig. */
export function parseMountSpec(m: unknown): Spec {
  if (!isObj(m)) throw invalid('invalid mount config: not an object');
  const type = String(m['Type'] ?? '');
  const source = typeof m['Source'] === 'string' ? m['Source'] : '';
  const target = typeof m['Target'] === 'string' ? m['Target'] : '';
  const readOnly = m['ReadOnly'] === true;
  const bindOpts = m['BindOptions'];
  const volOpts = m['VolumeOptions'];
  const tmpfsOpts = m['TmpfsOptions'];
  if (type !== 'bind' && type !== 'volume' && type !== 'tmpfs') {
    if (type === 'npipe' || type === 'cluster') throw mountConfigError(type, 'mount type unknown');
    throw mountConfigError(type, 'mount type unknown');
  }
  const dst = checkTarget(type, target);
  const spec: Spec = { type, source, target: dst, readOnly, mode: '', propagation: '', noCopy: false, createHostDir: false, raw: false };
  if (type === 'bind') {
    if (!source) throw mountConfigError(type, 'field Source must not be empty');
    if (isObj(volOpts)) throw mountConfigError(type, 'field VolumeOptions must not be specified');
    if (isObj(tmpfsOpts)) throw mountConfigError(type, 'field TmpfsOptions must not be specified');
    if (!source.startsWith('/')) throw mountConfigError(type, `invalid mount path: '${source}' mount path must be absolute`);
    if (isObj(bindOpts) && typeof bindOpts['Propagation'] === 'string' && bindOpts['Propagation']) {
      const p = bindOpts['Propagation'];
      if (!PROPAGATION_MODES.has(p)) throw mountConfigError(type, `invalid propagation mode: ${p}`);
      spec.propagation = p;
    }
    if (!fs.existsSync(source)) throw mountConfigError(type, `bind source path does not exist: ${source}`);
    spec.source = cleanPath(source);
  } else if (type === 'volume') {
    if (isObj(bindOpts)) throw mountConfigError(type, 'field BindOptions must not be specified');
    if (isObj(tmpfsOpts)) throw mountConfigError(type, 'field TmpfsOptions must not be specified');
    if (!source && readOnly) throw mountConfigError(type, 'must not set ReadOnly mode when using anonymous volumes');
    if (isObj(volOpts)) {
      spec.noCopy = volOpts['NoCopy'] === true;
      const labels = strMap(volOpts['Labels'], 'VolumeOptions.Labels');
      const dc = volOpts['DriverConfig'];
      spec.volumeOptions = {
        ...(labels ? { labels } : {}),
        ...(isObj(dc) && typeof dc['Name'] === 'string' && dc['Name'] ? { driver: dc['Name'] } : {}),
        ...(isObj(dc) && strMap(dc['Options'], 'DriverConfig.Options') ? { driverOpts: strMap(dc['Options'], 'DriverConfig.Options') } : {}),
      };
    }
  } else {
    if (source) throw mountConfigError(type, 'field Source must not be specified');
    if (isObj(bindOpts)) throw mountConfigError(type, 'field BindOptions must not be specified');
    if (isObj(volOpts)) throw mountConfigError(type, 'field VolumeOptions must not be specified');
    const o: string[] = [];
    if (isObj(tmpfsOpts)) {
      const size = tmpfsOpts['SizeBytes'];
      const mode = tmpfsOpts['Mode'];
      if (size !== undefined && size !== null) {
        if (typeof size !== 'number' || size < 0) throw mountConfigError(type, 'invalid tmpfs size');
        if (size > 0) {
          // Docker's ConvertTmpfsOptions: the largest suffix that divides the size
          const unit = ([['g', 2 ** 30], ['m', 2 ** 20], ['k', 2 ** 10]] as const).find(([, d]) => size % d === 0);
          o.push(unit ? `size=${size / unit[1]}${unit[0]}` : `size=${size}`);
        }
      }
      if (mode !== undefined && mode !== null && mode !== 0) {
        if (typeof mode !== 'number' || mode < 0) throw mountConfigError(type, 'invalid tmpfs mode');
        o.push(`mode=${(mode & 0o7777).toString(8)}`);
      }
    }
    if (readOnly) o.push('ro');
    spec.tmpfs = o;
  }
  return spec;
}

/** Lookup of other containers (for --volumes-from); set by the daemon once the container service exists. */
export interface ContainerLookup {
  get(ref: string): ContainerRecord;
}

/** Mount points of a container, whatever provider created it. */
export function mountPointsOf(rec: ContainerRecord): MountPoint[] {
  return Array.isArray(rec.MountPoints) ? (rec.MountPoints as MountPoint[]) : [];
}

function depth(p: string): number {
  return p === '/' ? 0 : p.split('/').length - 1;
}

/** Docker's tmpfs defaults: noexec,nosuid,nodev (the user's options come after and win). */
function tmpfsMount(destination: string, opts: string[]): OciMount {
  return { destination, type: 'tmpfs', source: 'tmpfs', options: ['noexec', 'nosuid', 'nodev', ...opts] };
}

function toHeader(e: { name: string; type: EntryHeader['type']; mode?: number; uid?: number; gid?: number; mtime?: number; linkname?: string; devmajor?: number; devminor?: number; xattrs?: Map<string, Buffer>; size?: number }): EntryHeader {
  return {
    ...(e.size !== undefined ? { size: e.size } : {}),
    name: e.name, type: e.type, mode: e.mode ?? 0o644, uid: e.uid ?? 0, gid: e.gid ?? 0, mtime: e.mtime ?? 0,
    linkname: e.linkname ?? '', devmajor: e.devmajor ?? 0, devminor: e.devminor ?? 0, ...(e.xattrs ? { xattrs: e.xattrs } : {}),
  };
}

/**
 * Copies what the image has at dst (inside rootfs) into an empty volume
 * directory, ownership and modes included, the directory's own too: Docker's
 * copyExistingContents. Both sides are walked without following symlinks.
 */
export async function copyUp(rootfs: string, dst: string, volumeDir: string): Promise<boolean> {
  const src = new ScopedFs(rootfs);
  try {
    const loc = src.resolve(dst, { followLast: true });
    if (loc.name !== null) return false; // missing, or not a directory: nothing to copy
    const out = new ScopedFs(volumeDir);
    try {
      if (fs.readdirSync(`/proc/self/fd/${out.rootFd}`).length) return false; // not empty: never copied into
      const st = fs.fstatSync(src.dirFd(loc.path));
      const w = new ScopedWriter(out, '/');
      for await (const e of walkEntries(src, loc.path, null, '')) await w.entry(toHeader(e), e.type === 'file' ? e.body : undefined);
      w.finish();
      fs.fchownSync(out.rootFd, st.uid, st.gid);
      fs.fchmodSync(out.rootFd, st.mode & 0o7777);
      fs.futimesSync(out.rootFd, st.atime, st.mtime);
      return true;
    } finally {
      out.close();
    }
  } finally {
    src.close();
  }
}

export class VolumeMounts implements MountProvider {
  private containers: ContainerLookup | undefined;
  private readonly legacy = new BindOnlyMounts();

  constructor(readonly volumes: VolumeService) {}

  /** The container service, for --volumes-from (it is built after this provider). */
  setContainers(c: ContainerLookup): void {
    this.containers = c;
  }

  async prepare(rec: ContainerRecord): Promise<void> {
    // --volumes-from naming an unknown container: 404 "No such container", as
    // Docker answers (the CLI then tries to pull the image, as it does with Docker)
    const from = this.volumesFrom(rec);
    try {
      this.register(rec, from);
    } catch (e) {
      // 400 rather than 404 (an unknown volume plugin): a 404 from create makes the CLI try to pull the image
      if (e instanceof EngineError && e.kind === 'not_found') throw invalid(e.message);
      throw e;
    }
  }

  /** The containers of --volumes-from with their modes (validated), in order. */
  private volumesFrom(rec: ContainerRecord): Array<{ src: ContainerRecord; mode: string }> {
    const out: Array<{ src: ContainerRecord; mode: string }> = [];
    for (const spec of rec.HostConfig.VolumesFrom ?? []) {
      let ref = spec;
      let mode = '';
      const i = spec.lastIndexOf(':');
      if (i > 0) {
        ref = spec.slice(0, i);
        mode = spec.slice(i + 1);
        if (!validMode(mode) || !['ro', 'rw', 'z', 'Z'].some((m) => mode.split(',').includes(m))) throw invalid(`invalid mode: ${mode}`);
      }
      if (!this.containers) throw invalid('--volumes-from is not available');
      out.push({ src: this.containers.get(ref), mode });
    }
    return out;
  }

  /** Docker's registerMountPoints plus the anonymous volumes of Config.Volumes. */
  private register(rec: ContainerRecord, from: Array<{ src: ContainerRecord; mode: string }>): void {
    const hc = rec.HostConfig;
    const points: MountPoint[] = [];
    rec.MountPoints = points; // recorded as they are made, so a failure can be rolled back by release()
    const byDst = new Map<string, MountPoint>();
    const tmpfs = new Set(Object.keys(hc.Tmpfs ?? {}).map((d) => cleanPath(d)));

    // 1. --volumes-from
    for (const { src, mode } of from) {
      for (const m of mountPointsOf(src)) {
        if (m.Type === 'tmpfs') continue;
        const rw = mode.split(',').includes('ro') ? false : mode.split(',').includes('rw') ? true : m.RW;
        const copy: MountPoint = { ...m, RW: rw, From: src.Id, Mode: mode || m.Mode };
        delete copy.CopyData;
        byDst.set(copy.Destination, copy);
      }
    }

    // 2. Binds (-v) and 3. Mounts (--mount): duplicates among them are errors
    const specs: Spec[] = [];
    const seen = new Set<string>();
    for (const b of hc.Binds ?? []) {
      const s = parseBindSpec(b);
      if (seen.has(s.target) || tmpfs.has(s.target)) throw invalid(`Duplicate mount point: ${s.target}`);
      seen.add(s.target);
      specs.push(s);
    }
    for (const m of hc.Mounts ?? []) {
      const s = parseMountSpec(m);
      if (seen.has(s.target) || tmpfs.has(s.target)) throw invalid(`Duplicate mount point: ${s.target}`);
      seen.add(s.target);
      specs.push(s);
    }
    const add = (mp: MountPoint): void => {
      byDst.set(mp.Destination, mp);
    };
    for (const s of specs) {
      if (s.type === 'bind') {
        add({
          Type: 'bind', Destination: s.target, Source: s.source, RW: !s.readOnly, Mode: s.mode, Propagation: s.propagation || 'rprivate',
          ...(s.createHostDir ? { CreateHostDir: true } : {}),
        });
      } else if (s.type === 'tmpfs') {
        add({ Type: 'tmpfs', Destination: s.target, Source: '', RW: !s.readOnly, Mode: '', Propagation: '', TmpfsOptions: s.tmpfs ?? [] });
      } else {
        const anonymous = !s.source;
        const existed = !anonymous && this.volumes.has(s.source);
        const v = this.volumes.create(s.source || undefined, {
          driver: s.volumeOptions?.driver ?? hc.VolumeDriver ?? LOCAL_DRIVER,
          options: existed ? null : (s.volumeOptions?.driverOpts ?? null),
          labels: existed ? null : (s.volumeOptions?.labels ?? null),
          anonymous,
        });
        const mp: MountPoint = {
          Type: 'volume', Destination: s.target, Source: '', Name: v.Name, Driver: v.Driver, RW: !s.readOnly,
          Mode: s.raw && !anonymous ? s.mode || 'z' : s.mode, Propagation: s.propagation,
          ...(anonymous ? { Anonymous: true } : {}), ...(s.noCopy ? {} : { CopyData: true }),
        };
        points.push(mp); // before anything else can fail: release() must see it
        this.volumes.addRef(v.Name, rec.Id);
        add(mp);
      }
    }

    // 4. anonymous volumes for the image's VOLUMEs and `-v /path` (Config.Volumes), unless something is mounted there
    for (const d of Object.keys(rec.Config.Volumes ?? {})) {
      if (!d.startsWith('/')) throw invalid(`invalid volume specification: '${d}': invalid mount config for type "volume": invalid mount path: '${d}' mount path must be absolute`);
      const dst = cleanPath(d);
      if (dst === '/') throw invalid(`invalid volume specification: '${d}': invalid mount config for type "volume": invalid specification: destination can't be '/'`);
      if (byDst.has(dst) || tmpfs.has(dst)) continue;
      const v = this.volumes.create(undefined, { driver: hc.VolumeDriver || LOCAL_DRIVER, anonymous: true });
      const mp: MountPoint = { Type: 'volume', Destination: dst, Source: '', Name: v.Name, Driver: v.Driver, RW: true, Mode: '', Propagation: '', Anonymous: true, CopyData: true };
      points.push(mp);
      this.volumes.addRef(v.Name, rec.Id);
      byDst.set(dst, mp);
    }

    // the final list, in Docker's order (parents before children)
    points.length = 0;
    for (const mp of [...byDst.values()].sort((a, b) => depth(a.Destination) - depth(b.Destination) || (a.Destination < b.Destination ? -1 : 1))) {
      if (mp.Type === 'volume' && mp.Name) this.volumes.addRef(mp.Name, rec.Id);
      points.push(mp);
    }
  }

  async ociMounts(rec: ContainerRecord, rootfs: string): Promise<OciMount[]> {
    if (!Array.isArray(rec.MountPoints)) return this.legacy.ociMounts(rec);
    const hc = rec.HostConfig;
    const tmpfs = new Map(Object.entries(hc.Tmpfs ?? {}).map(([d, o]) => [cleanPath(d), o] as const));
    const out: OciMount[] = [];
    for (const mp of mountPointsOf(rec)) {
      if (tmpfs.has(mp.Destination)) continue; // --tmpfs wins over a volume at the same place
      if (mp.Type === 'tmpfs') {
        out.push(tmpfsMount(mp.Destination, mp.TmpfsOptions ?? []));
        continue;
      }
      let source: string;
      if (mp.Type === 'bind') {
        source = mp.Source;
        if (!fs.existsSync(source)) {
          if (!mp.CreateHostDir) throw invalid(`invalid mount config for type "bind": bind source path does not exist: ${source}`);
          fs.mkdirSync(source, { recursive: true, mode: 0o755 });
        }
      } else {
        const name = mp.Name ?? '';
        if (!this.volumes.has(name)) throw notFound(`error while mounting volume '${mp.Destination}': get ${name}: no such volume`);
        source = this.volumes.use(name, rec.Id);
        await this.checkTarget(rootfs, mp.Destination);
        if (mp.CopyData) {
          if (await copyUp(rootfs, mp.Destination, source)) this.volumes.onChange(name);
          delete mp.CopyData; // once, as Docker copies at the container's creation
        }
        this.volumes.event(name, 'mount', {
          container: rec.Id, destination: mp.Destination, propagation: mp.Propagation, 'read/write': String(mp.RW),
        });
      }
      out.push({ destination: mp.Destination, type: 'bind', source, options: ['rbind', mp.Propagation || 'rprivate', mp.RW ? 'rw' : 'ro'] });
    }
    for (const [dst, opts] of tmpfs) out.push(tmpfsMount(dst, opts ? opts.split(',') : []));
    return out.sort((a, b) => depth(a.destination) - depth(b.destination));
  }

  /** Docker refuses to mount a volume over a file of the image. */
  private async checkTarget(rootfs: string, dst: string): Promise<void> {
    let sfs: ScopedFs | undefined;
    try {
      sfs = new ScopedFs(rootfs);
      const loc = sfs.resolve(dst, { followLast: true });
      if (loc.name !== null && sfs.tryLstat(loc.dir, loc.name)) throw invalid(`cannot mount volume over existing file, file exists ${path.join(rootfs, loc.path)}`);
    } catch (e) {
      if ((e as { kind?: string }).kind) throw e;
      log.debug('volume target check', { dst, err: e });
    } finally {
      sfs?.close();
    }
  }

  /** Docker's UnmountVolumes: an `unmount` event per volume (driver and container, as Docker). */
  stopped(rec: ContainerRecord): void {
    for (const mp of mountPointsOf(rec)) {
      if (mp.Type !== 'volume' || !mp.Name || !this.volumes.has(mp.Name)) continue;
      this.volumes.event(mp.Name, 'unmount', { container: rec.Id });
    }
  }

  async release(rec: ContainerRecord, removeVolumes: boolean): Promise<void> {
    for (const mp of mountPointsOf(rec)) {
      if (mp.Type !== 'volume' || !mp.Name) continue;
      this.volumes.removeRef(mp.Name, rec.Id);
      if (!removeVolumes || !mp.Anonymous) continue;
      try {
        this.volumes.remove(mp.Name);
      } catch (e) {
        // still used by another container (--volumes-from): not an error, as Docker
        if ((e as { kind?: string }).kind !== 'conflict' && (e as { kind?: string }).kind !== 'not_found') log.warn('removing anonymous volume failed', { name: mp.Name, err: e });
      }
    }
  }

  inspect(rec: ContainerRecord): unknown[] {
    if (!Array.isArray(rec.MountPoints)) return this.legacy.inspect(rec);
    return mountPointsOf(rec).map((mp) => {
      if (mp.Type === 'volume') {
        return {
          Type: 'volume', Name: mp.Name ?? '', Source: this.volumes.mountpoint(mp.Name ?? ''), Destination: mp.Destination,
          Driver: mp.Driver ?? LOCAL_DRIVER, Mode: mp.Mode, RW: mp.RW, Propagation: mp.Propagation,
        };
      }
      return { Type: mp.Type, Source: mp.Source, Destination: mp.Destination, Mode: mp.Mode, RW: mp.RW, Propagation: mp.Propagation };
    });
  }

  /** Volume names a container refers to (to rebuild references after a restart). */
  static volumesOf(rec: ContainerRecord): string[] {
    return mountPointsOf(rec).filter((m) => m.Type === 'volume' && m.Name).map((m) => m.Name as string);
  }
}
