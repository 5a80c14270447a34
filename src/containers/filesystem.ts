// Getting files in and out of containers: the archive endpoints of docker cp
// (HEAD/GET/PUT /containers/{id}/archive), diff, export, commit, and the
// sizes behind ps -s and system df.
//
// Every path inside a container is resolved with ScopedFs (src/volumes/
// scoped-fs.ts): component by component, never letting the kernel follow a
// symlink, so a link in the container (even one swapped while we work) can
// only ever lead somewhere else inside the container. A running container is
// reached through /proc/<pid>/root (its own view, volumes and tmpfs
// included); a stopped one through its mounted root filesystem with its
// volumes and bind mounts laid over it as virtual mounts.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Writable } from 'node:stream';
import { decompress, readTar, type ByteSource } from '../common/archive';
import { conflict, EngineError, errorMessage, internal, invalid, notFound } from '../common/errors';
import type { EngineEvent } from '../common/events';
import { matchLabels, type Filters } from '../common/filters';
import { log } from '../common/log';
import { native } from '../common/native';
import {
  DOCKER_VERSION, formatTimeNs, hostArch, nowNs, parseContainerConfig,
  type ContainerConfig as ImageContainerConfig, type ImageConfig, type ImageService,
} from '../images';
import { copyUp, mountPointsOf, type MountPoint } from '../volumes/mounts';
import { copyTreeAsLayer } from '../snapshots/tree-layer';
import { pumpTar } from '../volumes/tar-pump';
import { at, cleanPath, ScopedFs, ScopedWriter, treeSize, walkEntries, type EntryHeader, type ScopeMount } from '../volumes/scoped-fs';
import type { VolumeService } from '../volumes/service';
import type { ContainerService } from './service';
import type { ContainerRecord } from './types';

/** docker cp's X-Docker-Container-Path-Stat. */
export interface PathStat {
  name: string;
  size: number;
  /** Go os.FileMode */
  mode: number;
  mtime: string;
  linkTarget: string;
}

export interface Change {
  Path: string;
  /** 0 modified, 1 added, 2 deleted */
  Kind: 0 | 1 | 2;
}

export interface CommitOptions {
  repo?: string;
  tag?: string;
  comment?: string;
  author?: string;
  changes?: string[];
  pause?: boolean;
  /** the request body's config (docker-py); the container's own when absent */
  config?: unknown;
}

// Go's os.FileMode type bits.
const MODE_DIR = 2 ** 31;
const MODE_SYMLINK = 2 ** 27;
const MODE_DEVICE = 2 ** 26;
const MODE_PIPE = 2 ** 25;
const MODE_SOCKET = 2 ** 24;
const MODE_SETUID = 2 ** 23;
const MODE_SETGID = 2 ** 22;
const MODE_CHARDEV = 2 ** 21;
const MODE_STICKY = 2 ** 20;

export function goFileMode(st: fs.Stats): number {
  let m = st.mode & 0o777;
  if (st.mode & 0o4000) m += MODE_SETUID;
  if (st.mode & 0o2000) m += MODE_SETGID;
  if (st.mode & 0o1000) m += MODE_STICKY;
  if (st.isDirectory()) m += MODE_DIR;
  else if (st.isSymbolicLink()) m += MODE_SYMLINK;
  else if (st.isBlockDevice()) m += MODE_DEVICE;
  else if (st.isCharacterDevice()) m += MODE_DEVICE + MODE_CHARDEV;
  else if (st.isFIFO()) m += MODE_PIPE;
  else if (st.isSocket()) m += MODE_SOCKET;
  return m;
}

/** RFC 3339 with nanoseconds, as Go prints a time.Time. */
function goTime(st: fs.Stats): string {
  const ms = Math.floor(st.mtimeMs);
  return formatTimeNs(BigInt(ms) * 1000000n + BigInt(Math.round((st.mtimeMs - ms) * 1e6)));
}

/** filepath.Base of a container path that keeps a trailing "/." ("/a/." → "."). */
function goBase(p: string): string {
  const t = p.replace(/\/+$/, '');
  if (t === '') return '/';
  return t.slice(t.lastIndexOf('/') + 1);
}

/** Docker's PreserveTrailingDotOrSeparator over filepath.Join("/", p). */
function absContainerPath(p: string): string {
  let abs = cleanPath(p);
  if ((p.endsWith('/.') || p === '.') && abs !== '/') abs += '/.';
  else if (p.endsWith('/') && abs !== '/') abs += '/';
  return abs;
}

/** Paths the runtime creates as mount points (Docker keeps them in an init layer): never in diff or commit. */
const INIT_PATHS = new Set(['/proc', '/sys', '/dev', '/.dockerenv', '/etc/resolv.conf', '/etc/hosts', '/etc/hostname', '/etc/mtab']);
const INIT_PARENTS = new Set(['/etc']);

function fileNotFound(p: string, ref: string): EngineError {
  return notFound(`Could not find the file ${p} in container ${ref}`);
}

function isMissing(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

function headerOf(h: { name: string; type: EntryHeader['type']; mode: number; uid: number; gid: number; mtime: number; linkname: string; devmajor: number; devminor: number; xattrs: Map<string, Buffer>; size: number }): EntryHeader {
  return { name: h.name, type: h.type, mode: h.mode, uid: h.uid, gid: h.gid, mtime: h.mtime, linkname: h.linkname, devmajor: h.devmajor, devminor: h.devminor, xattrs: h.xattrs, size: h.size };
}

interface SizeEntry { size: number; at: number }

export class ContainerFilesystem {
  private readonly sizes = new Map<string, SizeEntry>();
  /** how long a size of something running (a container, or a volume it uses) is trusted */
  liveTtlMs = 2000;

  constructor(private readonly containers: ContainerService, private readonly images: ImageService, private readonly volumes?: VolumeService) {
    if (volumes) volumes.onChange = (name) => this.sizes.delete(`v:${name}`);
  }

  // ---------- access ----------

  /**
   * Volumes and directory binds of a stopped container, to lay over its root
   * filesystem (rootfs, mounted). A volume still waiting for its copy-up (the
   * container never started) gets it first, as Docker fills volumes at create.
   */
  private async virtualMounts(rec: ContainerRecord, rootfs: string): Promise<ScopeMount[]> {
    const out: ScopeMount[] = [];
    for (const mp of mountPointsOf(rec)) {
      let source = '';
      if (mp.Type === 'volume' && mp.Name && this.volumes?.has(mp.Name)) {
        source = this.volumes.use(mp.Name, rec.Id);
        if (mp.CopyData) {
          await copyUp(rootfs, mp.Destination, source);
          delete mp.CopyData;
        }
      } else if (mp.Type === 'bind') source = mp.Source;
      if (!source) continue;
      try {
        if (!fs.statSync(source).isDirectory()) continue; // file binds are not laid over
      } catch {
        continue;
      }
      out.push({ destination: mp.Destination, source });
    }
    return out;
  }

  /** Runs fn with the container's filesystem as the container sees it. */
  private async withScope<T>(ref: string, fn: (sfs: ScopedFs, rec: ContainerRecord) => Promise<T>): Promise<T> {
    const rec = this.containers.get(ref);
    if (rec.State.Running && rec.State.Pid > 0) {
      let sfs: ScopedFs | undefined;
      try {
        sfs = new ScopedFs(`/proc/${rec.State.Pid}/root`);
      } catch (e) {
        log.debug('container root not reachable through /proc, using its root filesystem', { id: rec.Id, err: e });
      }
      if (sfs) {
        try {
          return await fn(sfs, rec);
        } finally {
          sfs.close();
        }
      }
    }
    return this.containers.withRootfs(rec.Id, async (rootfs, r) => {
      const sfs = new ScopedFs(rootfs, await this.virtualMounts(r, rootfs));
      try {
        return await fn(sfs, r);
      } finally {
        sfs.close();
      }
    });
  }

  // ---------- docker cp ----------

  private statIn(sfs: ScopedFs, ref: string, p: string): { stat: PathStat; dir: string; name: string | null; st: fs.Stats } {
    if (!p) throw invalid('no path specified');
    const abs = absContainerPath(p);
    const trailing = abs.endsWith('/') || abs.endsWith('/.') || abs === '/';
    let dir: string;
    let name: string | null;
    let st: fs.Stats;
    try {
      if (trailing) {
        const loc = sfs.resolve(abs, { followLast: true });
        if (loc.name !== null) throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
        st = fs.fstatSync(sfs.dirFd(loc.path));
        if (loc.path === '/') {
          dir = '/';
          name = null;
        } else {
          dir = path.posix.dirname(loc.path);
          name = path.posix.basename(loc.path);
        }
      } else {
        const loc = sfs.resolve(abs, { followLast: false });
        dir = loc.dir;
        name = loc.name;
        st = name === null ? fs.fstatSync(sfs.dirFd(dir)) : sfs.lstat(dir, name);
      }
    } catch (e) {
      if (isMissing(e) || (e as NodeJS.ErrnoException).code === 'ELOOP') throw fileNotFound(p, ref);
      throw e;
    }
    let linkTarget = '';
    if (st.isSymbolicLink()) linkTarget = sfs.canonical(abs);
    return { stat: { name: goBase(abs), size: st.size, mode: goFileMode(st), mtime: goTime(st), linkTarget }, dir, name, st };
  }

  /** HEAD /containers/{id}/archive */
  async statPath(ref: string, p: string): Promise<PathStat> {
    return this.withScope(ref, async (sfs) => this.statIn(sfs, ref, p).stat);
  }

  /**
   * GET /containers/{id}/archive: a tar of path, entries named after its base
   * name (Docker's rebase rules: "/a/." archives the content as "./…").
   * begin is called with the stat once the path is known to exist.
   */
  async getArchive(ref: string, p: string, begin: (stat: PathStat) => Writable): Promise<void> {
    await this.withScope(ref, async (sfs, rec) => {
      const { stat, dir, name } = this.statIn(sfs, ref, p);
      const arc = stat.name === '/' ? '' : stat.name;
      const out = begin(stat);
      this.containers.event(rec.Id, 'archive-path');
      await pumpTar(walkEntries(sfs, dir, name, arc, { fds: true }), out);
    });
  }

  /** The mount point holding a canonical path, if any (the deepest one). */
  private mountAt(rec: ContainerRecord, p: string): { rw: boolean } | undefined {
    let best: { len: number; rw: boolean } | undefined;
    const consider = (dst: string, rw: boolean): void => {
      const d = cleanPath(dst);
      if (p === d || p.startsWith(d === '/' ? '/' : `${d}/`)) if (!best || d.length > best.len) best = { len: d.length, rw };
    };
    for (const mp of mountPointsOf(rec)) consider(mp.Destination, mp.RW);
    for (const [d, o] of Object.entries(rec.HostConfig.Tmpfs ?? {})) consider(d, !(o ?? '').split(',').includes('ro'));
    return best;
  }

  /** The uid/gid of the container's USER, from its own passwd and group files (for cp -a). */
  private userIds(sfs: ScopedFs, spec: string): { uid: number; gid: number } | undefined {
    if (!spec) return undefined;
    const read = (file: string): string[][] => {
      try {
        const loc = sfs.resolve(file, { followLast: true });
        if (loc.name === null) return [];
        const f = sfs.openFile(loc.dir, loc.name);
        if (!f) return [];
        try {
          return fs.readFileSync(f.fd, 'utf8').split('\n').filter((l) => l && !l.startsWith('#')).map((l) => l.split(':'));
        } finally {
          fs.closeSync(f.fd);
        }
      } catch {
        return [];
      }
    };
    const [u = '', g] = spec.split(':', 2);
    const num = (s: string): boolean => /^\d+$/.test(s);
    const pw = read('/etc/passwd').find((f) => (num(u) ? Number(f[2]) === Number(u) : f[0] === u));
    let uid: number;
    let gid: number;
    if (pw) {
      uid = Number(pw[2]);
      gid = Number(pw[3]);
    } else if (num(u)) {
      uid = Number(u);
      gid = 0;
    } else throw invalid(`unable to find user ${u}: no matching entries in passwd file`);
    if (g !== undefined && g !== '') {
      const gr = read('/etc/group').find((f) => (num(g) ? Number(f[2]) === Number(g) : f[0] === g));
      if (gr) gid = Number(gr[2]);
      else if (num(g)) gid = Number(g);
      else throw invalid(`unable to find group ${g}: no matching entries in group file`);
    }
    return { uid, gid };
  }

  /** PUT /containers/{id}/archive: extracts a tar (maybe compressed) into the directory at path. */
  async putArchive(ref: string, p: string, body: ByteSource, o: { noOverwriteDirNonDir: boolean; copyUIDGID: boolean }): Promise<void> {
    await this.withScope(ref, async (sfs, rec) => {
      if (!p) throw invalid('no path specified');
      const abs = absContainerPath(p);
      let dest: string;
      try {
        const loc = sfs.resolve(abs, { followLast: true });
        if (loc.name !== null) {
          if (sfs.tryLstat(loc.dir, loc.name)) throw invalid('extraction point is not a directory');
          throw fileNotFound(p, ref);
        }
        dest = loc.path;
      } catch (e) {
        if (isMissing(e) || (e as NodeJS.ErrnoException).code === 'ELOOP') throw fileNotFound(p, ref);
        throw e;
      }
      const mp = this.mountAt(rec, dest);
      if (mp && !mp.rw) throw invalid('mounted volume is marked read-only');
      if (!mp && rec.HostConfig.ReadonlyRootfs) throw invalid('container rootfs is marked read-only');
      const chown = o.copyUIDGID ? this.userIds(sfs, rec.Config.User) : undefined;
      const w = new ScopedWriter(sfs, dest, { noOverwriteDirNonDir: o.noOverwriteDirNonDir, ...(chown ? { chown } : {}) });
      try {
        for await (const e of readTar(await decompress(body))) {
          await w.entry(headerOf(e.header), e.header.type === 'file' ? e.body : undefined);
        }
        w.finish();
      } catch (e) {
        if (e instanceof EngineError) throw e;
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'EROFS') throw invalid(rec.HostConfig.ReadonlyRootfs && !mp ? 'container rootfs is marked read-only' : 'mounted volume is marked read-only');
        if (code === 'ENOSPC') throw internal(`no space left on device`);
        throw internal(`extracting into ${dest}: ${errorMessage(e)}`, e);
      }
      this.invalidate(rec);
      this.containers.event(rec.Id, 'extract-to-dir');
    });
  }

  // ---------- diff ----------

  /** GET /containers/{id}/changes: what the container's writable layer holds, Docker's A/C/D. */
  changes(ref: string): Change[] {
    const rec = this.containers.get(ref);
    const upper = this.containers.paths(rec.Id).upper;
    const snaps = this.images.snapshots;
    const lowers = rec.SnapshotParent ? snaps.layerChain(rec.SnapshotParent).reverse().map((c) => snaps.layerPath(c)) : [];
    const blockedMemo = new Map<string, boolean>();
    const isWhiteout = (st: fs.Stats): boolean => st.isCharacterDevice() && st.rdev === 0;
    const lstatQ = (p: string): fs.Stats | undefined => {
      try {
        return fs.lstatSync(p);
      } catch {
        return undefined;
      }
    };
    const opaqueAt = (p: string): boolean => {
      try {
        return native().lgetxattr(p, 'trusted.overlay.opaque')?.toString() === 'y';
      } catch {
        return false;
      }
    };
    // does layer i hide everything below dir from the layers under it (whiteout or opaque)?
    const blocked = (i: number, dir: string): boolean => {
      if (dir === '/') return false;
      const key = `${i}:${dir}`;
      let v = blockedMemo.get(key);
      if (v === undefined) {
        const st = lstatQ(lowers[i] + dir);
        v = (st !== undefined && (isWhiteout(st) || !st.isDirectory() || opaqueAt(lowers[i] + dir))) || blocked(i, path.posix.dirname(dir));
        blockedMemo.set(key, v);
      }
      return v;
    };
    /** The lower (image) view of p: its stat, or undefined when absent. */
    const lower = (p: string): fs.Stats | undefined => {
      for (let i = 0; i < lowers.length; i++) {
        const st = lstatQ(lowers[i] + p);
        if (st) return isWhiteout(st) ? undefined : st;
        if (blocked(i, path.posix.dirname(p))) return undefined;
      }
      return undefined;
    };
    const sfs = new ScopedFs(upper);
    const out: Change[] = [];
    const visit = (dir: string, hidden: boolean): Change[] => {
      const list: Change[] = [];
      let names: string[];
      try {
        names = sfs.list(dir);
      } catch {
        return list;
      }
      for (const n of names) {
        const p = dir === '/' ? `/${n}` : `${dir}/${n}`;
        if (INIT_PATHS.has(p)) continue;
        let st: fs.Stats;
        try {
          st = sfs.lstat(dir, n);
        } catch {
          continue;
        }
        let own: Change | undefined;
        let opaque = false;
        if (isWhiteout(st)) own = { Path: p, Kind: 2 };
        else {
          if (st.isDirectory()) opaque = opaqueAt(at(sfs.dirFd(dir), n));
          const lo = hidden ? undefined : lower(p);
          if (opaque && lo) own = { Path: p, Kind: 2 }; // deleted and made again
          else if (!lo) own = { Path: p, Kind: 1 };
          else if (!(lo.isDirectory() && st.isDirectory() && lo.size === st.size && lo.mode === st.mode && Math.floor(lo.mtimeMs) === Math.floor(st.mtimeMs))) own = { Path: p, Kind: 0 };
        }
        let below: Change[] = [];
        if (st.isDirectory()) {
          below = visit(p, hidden || opaque);
          if (below.some((c) => c.Kind !== 0 && path.posix.dirname(c.Path) === p) && !own) own = { Path: p, Kind: 0 };
          if (INIT_PARENTS.has(p) && below.length === 0) own = undefined; // only runtime mount points inside
          sfs.forget(p);
        }
        if (own) list.push(own);
        list.push(...below);
      }
      return list;
    };
    try {
      out.push(...visit('/', lowers.length === 0));
    } finally {
      sfs.close();
    }
    return out;
  }

  // ---------- export ----------

  /** GET /containers/{id}/export: the merged root filesystem (volumes not included, as Docker) as a tar. */
  async export(ref: string, out: () => Writable): Promise<void> {
    const rec = this.containers.get(ref);
    const run = async (rootfs: string): Promise<void> => {
      const sfs = new ScopedFs(rootfs);
      try {
        const w = out();
        this.containers.event(rec.Id, 'export');
        await pumpTar(walkEntries(sfs, '/', null, '', { fds: true }), w);
      } finally {
        sfs.close();
      }
    };
    if (rec.State.Running) await run(this.containers.paths(rec.Id).rootfs);
    else await this.containers.withRootfs(rec.Id, (rootfs) => run(rootfs));
  }

  // ---------- commit ----------

  /** POST /commit: a new image from the container's changes, with -c changes applied to the config. */
  async commit(ref: string, o: CommitOptions): Promise<{ Id: string }> {
    const rec = this.containers.get(ref);
    if (rec.State.Status === 'removing') throw conflict(`You cannot commit container ${rec.Id} which is being removed`);
    if (rec.State.Dead) throw conflict(`You cannot commit container ${rec.Id} which is Dead`);
    const tags: string[] = [];
    if (o.repo) tags.push(o.tag ? `${o.repo}:${o.tag}` : o.repo);
    // the config: the body's (docker-py) or the container's own, the changes on top, the container's filling the gaps
    const containerCfg = parseContainerConfig(JSON.parse(JSON.stringify(rec.Config)) as unknown, 'config');
    const base = o.config !== undefined && o.config !== null ? parseContainerConfig(o.config, 'config') : JSON.parse(JSON.stringify(containerCfg)) as ImageContainerConfig;
    const cfg = mergeConfig(this.images.applyChanges(base, o.changes ?? []), containerCfg);
    let parent: { id: string; config: ImageConfig } | undefined;
    try {
      parent = this.images.get(rec.Image);
    } catch {
      parent = undefined; // deleted with -f meanwhile: no history to inherit
    }
    let paused = false;
    if ((o.pause ?? true) && rec.State.Running && !rec.State.Paused) {
      await this.containers.pause(rec.Id);
      paused = true;
    }
    try {
      const upper = this.containers.paths(rec.Id).upper;
      const skip = (rel: string): boolean => INIT_PATHS.has(`/${rel}`);
      const empty = fs.readdirSync(upper).every((n) => skip(n));
      const created = formatTimeNs(nowNs());
      const history = [...(parent?.config.history ?? [])];
      history.push({
        created,
        ...(o.author ? { author: o.author } : {}),
        created_by: (rec.Config.Cmd ?? []).join(' '),
        ...(o.comment ? { comment: o.comment } : {}),
        ...(empty ? { empty_layer: true } : {}),
      });
      const config: ImageConfig = {
        architecture: parent?.config.architecture || hostArch(),
        os: 'linux',
        ...(parent?.config.variant ? { variant: parent.config.variant } : {}),
        created,
        ...(o.author ? { author: o.author } : {}),
        ...(o.comment ? { comment: o.comment } : {}),
        container: rec.Id,
        container_config: containerCfg,
        docker_version: DOCKER_VERSION,
        config: cfg,
        rootfs: { type: 'layers', diff_ids: [] },
        history,
      };
      // The new layer is copied from the upper dir directly (no tar parsed, no blob
      // stored: layerTar makes the same tar again from the layer when saved or pushed).
      const snaps = this.images.snapshots;
      const layer = empty ? undefined : await snaps.importTree(rec.SnapshotParent, (dir) => copyTreeAsLayer(upper, dir, { whiteouts: true, filter: (rel) => !skip(rel) }));
      let img: Awaited<ReturnType<ImageService['createImage']>>;
      try {
        img = await this.images.createImage({ config, base: layer ? layer.chainId : rec.SnapshotParent, ...(parent ? { parent: parent.id } : {}), tags });
      } finally {
        layer?.release();
      }
      this.containers.event(rec.Id, 'commit', { comment: o.comment ?? '', imageID: img.id, imageRef: tags[0] ?? '' });
      return { Id: img.id };
    } finally {
      if (paused) await this.containers.unpause(rec.Id).catch((e: unknown) => log.warn('unpause after commit failed', { id: rec.Id, err: e }));
    }
  }

  // ---------- sizes ----------

  private cached(key: string, live: boolean, compute: () => number): number {
    const c = this.sizes.get(key);
    if (c && (!live || Date.now() - c.at < this.liveTtlMs)) return c.size;
    let size: number;
    try {
      size = compute();
    } catch {
      size = -1;
    }
    this.sizes.set(key, { size, at: Date.now() });
    return size;
  }

  private invalidate(rec: ContainerRecord): void {
    this.sizes.delete(`c:${rec.Id}`);
    for (const mp of mountPointsOf(rec)) if (mp.Name) this.sizes.delete(`v:${mp.Name}`);
  }

  /** Drops cached sizes an event may have changed. */
  onEvent(e: EngineEvent): void {
    if (e.Type === 'container') {
      if (['start', 'die', 'destroy', 'extract-to-dir', 'commit', 'pause', 'unpause'].includes(e.Action)) {
        this.sizes.delete(`c:${e.Actor.ID}`);
        const rec = this.containers.find(e.Actor.ID);
        if (rec) this.invalidate(rec);
      }
    } else if (e.Type === 'volume') {
      this.sizes.delete(`v:${e.Actor.ID}`);
    }
  }

  /** SizeRw: what the container's writable layer holds (Docker's directory.Size). */
  sizeRw(rec: ContainerRecord): number {
    return this.cached(`c:${rec.Id}`, rec.State.Running, () => treeSize(this.containers.paths(rec.Id).upper));
  }

  sizeRootFs(rec: ContainerRecord, rw = this.sizeRw(rec)): number {
    return Math.max(0, rw) + (this.images.tryGet(rec.Image)?.size ?? 0);
  }

  volumeSize(name: string): number {
    if (!this.volumes) return -1;
    const live = this.volumes.users(name).some((id) => this.containers.find(id)?.State.Running);
    return this.cached(`v:${name}`, live, () => treeSize(this.volumes!.mountpoint(name)));
  }

  /** ps -s / inspect -s: SizeRw and SizeRootFs on list items (objects with Id). */
  withSizes<T>(items: T[]): T[] {
    for (const it of items) {
      const o = it as Record<string, unknown>;
      const rec = this.containers.find(String(o['Id'] ?? ''));
      if (!rec) continue;
      const rw = this.sizeRw(rec);
      o['SizeRw'] = rw;
      o['SizeRootFs'] = this.sizeRootFs(rec, rw);
    }
    return items;
  }

  /** GET /system/df */
  diskUsage(): Record<string, unknown> {
    const images = this.images;
    const usedBy = (id: string): number => this.containers.usingImage(id).length;
    const layerUsers = new Map<string, number>();
    for (const img of images.all()) for (const c of img.chainIds) layerUsers.set(c, (layerUsers.get(c) ?? 0) + 1);
    const sizeOf = (c: string): number => {
      try {
        return images.snapshots.layerInfo(c).size;
      } catch {
        return 0;
      }
    };
    const list = images.list({ all: false, filters: new Map(), containersUsing: usedBy }) as Array<Record<string, unknown>>;
    for (const item of list) {
      const img = images.tryGet(String(item['Id']));
      if (!img) continue;
      item['SharedSize'] = img.chainIds.filter((c) => (layerUsers.get(c) ?? 0) > 1).reduce((n, c) => n + sizeOf(c), 0);
    }
    const containers = this.withSizes(this.containers.list({ all: true, limit: -1, size: false, filters: new Map() }) as Array<Record<string, unknown>>);
    const volumes = (this.volumes?.all() ?? []).map((v) => ({
      ...this.volumes!.view(v),
      UsageData: { Size: this.volumeSize(v.Name), RefCount: this.volumes!.refCount(v.Name) },
    }));
    return { LayersSize: images.layersSize(), Images: list, Containers: containers, Volumes: volumes, BuildCache: [], BuilderSize: 0 };
  }

  /** POST /containers/prune with the space reclaimed (the writable layers of what was removed). */
  async pruneContainers(filters: Filters): Promise<{ ContainersDeleted: string[] | null; SpaceReclaimed: number }> {
    const before = new Map<string, number>();
    for (const r of this.containers.all()) if (!r.State.Running && matchLabels(filters, r.Config.Labels)) before.set(r.Id, Math.max(0, this.sizeRw(r)));
    const res = await this.containers.prune(filters);
    const deleted = res.ContainersDeleted ?? [];
    return { ContainersDeleted: deleted.length ? deleted : null, SpaceReclaimed: deleted.reduce((n, id) => n + (before.get(id) ?? 0), 0) };
  }

  /** POST /volumes/prune */
  pruneVolumes(filters: Filters, apiVersion: string): Promise<{ VolumesDeleted: string[] | null; SpaceReclaimed: number }> {
    if (!this.volumes) throw internal('volumes are not available');
    return this.volumes.prune(filters, apiVersion, (name) => this.volumeSize(name));
  }
}

/** Docker's merge(userConf, imageConf) for commit: fills what the user's config leaves empty from the container's. */
export function mergeConfig(user: ImageContainerConfig, from: ImageContainerConfig): ImageContainerConfig {
  const u: ImageContainerConfig = { ...user };
  if (!u.User) u.User = from.User ?? '';
  if (!u.ExposedPorts || !Object.keys(u.ExposedPorts).length) u.ExposedPorts = from.ExposedPorts ?? null;
  else if (from.ExposedPorts) u.ExposedPorts = { ...u.ExposedPorts, ...from.ExposedPorts };
  if (!u.Env || !u.Env.length) u.Env = from.Env ?? null;
  else {
    const env = [...u.Env];
    for (const e of from.Env ?? []) {
      const k = e.split('=')[0];
      if (!env.some((x) => x.split('=')[0] === k)) env.push(e);
    }
    u.Env = env;
  }
  const labels = { ...(u.Labels ?? {}) };
  for (const [k, v] of Object.entries(from.Labels ?? {})) if (!(k in labels)) labels[k] = v;
  u.Labels = labels;
  if (!u.Entrypoint || !u.Entrypoint.length) {
    if (!u.Cmd || !u.Cmd.length) {
      u.Cmd = from.Cmd ?? null;
      if (from.ArgsEscaped) u.ArgsEscaped = true;
    }
    if (u.Entrypoint === undefined || u.Entrypoint === null) u.Entrypoint = from.Entrypoint ?? null;
  }
  if (from.Healthcheck) {
    if (!u.Healthcheck) u.Healthcheck = from.Healthcheck;
    else {
      const h = { ...u.Healthcheck };
      if (!h.Test?.length && from.Healthcheck.Test) h.Test = from.Healthcheck.Test;
      for (const k of ['Interval', 'Timeout', 'StartPeriod', 'Retries'] as const) if (!h[k] && from.Healthcheck[k]) h[k] = from.Healthcheck[k];
      u.Healthcheck = h;
    }
  }
  if (!u.WorkingDir) u.WorkingDir = from.WorkingDir ?? '';
  if (!u.Volumes || !Object.keys(u.Volumes).length) u.Volumes = from.Volumes ?? null;
  else u.Volumes = { ...u.Volumes, ...(from.Volumes ?? {}) };
  if (!u.StopSignal && from.StopSignal) u.StopSignal = from.StopSignal;
  return u;
}

export type { MountPoint };
