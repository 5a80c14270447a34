// Overlay snapshotter. Layout under <root>/snapshots:
//   <chainhex>/fs          a committed layer (its diff, overlay whiteouts included)
//   <chainhex>/layer.json  {parent, diffId, size}; written before the directory
//                          is renamed into place, so a committed layer is complete
//   tmp-<random>/          a layer being built (or deleted); removed by cleanup()
//   rw/<key>/{upper,work,snapshot.json}   a container's writable snapshot
//   rw/.tmp-<random>/      a writable snapshot being created or removed
//   empty/                 the lower dir for snapshots without a parent
//   l/<short>              short symlinks to layer fs dirs, used only when the
//                          overlay options would not fit in one page otherwise
//   unsynced/<chainhex>.<boot id>   a committed layer not yet flushed to disk
//                          (see writeback.ts)
// Committed layers are keyed by OCI chain ID, so identical stacks are shared.
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { decompress, extractTar, type ByteSource } from '../common/archive';
import { readJson, writeJsonAtomic, fsyncDir } from '../common/atomic-fs';
import { invalid, notFound } from '../common/errors';
import { log } from '../common/log';
import { markTopDir } from '../common/topdir';
import { native, MNT_DETACH } from '../common/native';
import { bootId, LayerWriteback } from './writeback';

export interface LayerInfo {
  chainId: string;
  parent: string | null;
  diffId: string;
  /** Sum of the layer tar's entry sizes (Docker's DiffSize). */
  size: number;
}

export interface Snapshotter {
  readonly root: string;
  /** true when the committed layer exists */
  hasLayer(chainId: string): boolean;
  /** Metadata of a committed layer; throws notFound. */
  layerInfo(chainId: string): LayerInfo;
  /** Directory holding a committed layer's diff (overlay whiteouts included). */
  layerPath(chainId: string): string;
  /** The chain from the base layer up to chainId, base first. */
  layerChain(chainId: string): string[];
  listLayers(): string[];
  /**
   * Applies a layer tar stream (uncompressed or gzip) on top of parent into the
   * committed snapshot chainId (no-op if it exists; the stream is then left unread).
   * The tar's digest is checked against chainId. With parentReady the parent may
   * still be on its way: the tar is extracted at once (layers are independent
   * diffs) and committed only once parentReady has resolved and the parent exists.
   */
  applyLayer(chainId: string, parent: string | null, tar: ByteSource, opts?: { parentReady?: Promise<unknown> }): Promise<void>;
  /** Like applyLayer when the diffID is only known once the stream has been read (import, commit). */
  importLayer(parent: string | null, tar: ByteSource): Promise<LayerInfo>;
  /**
   * A fresh temp layer dir (with an empty fs/) for an unpack job that runs
   * elsewhere (see unpack.ts); hand it to commitTemp or discardTemp. A crash
   * leaves it for cleanup().
   */
  createTemp(): string;
  /**
   * Commits a temp dir an unpack job filled (its layer.json written by the
   * job) as chainId, once parentReady has resolved and the parent exists; the
   * temp dir is removed on any failure.
   */
  commitTemp(tmp: string, info: LayerInfo, opts?: { parentReady?: Promise<unknown> }): Promise<void>;
  discardTemp(tmp: string): Promise<void>;
  /**
   * A layer on top of parent filled by fill (given an empty directory) instead
   * of from a tar stream: for commit, which copies a container's upper dir
   * (see tree-layer.ts). The layer stays held (as by hold()) until release
   * is called, so that an image can be made of it before GC may see it.
   */
  importTree(parent: string | null, fill: (dir: string) => Promise<{ diffId: string; size: number }>): Promise<LayerInfo & { release: () => void }>;
  /** Protects a layer and its ancestors from removal until the returned release is called (a lease for work in progress). */
  hold(chainId: string | null): () => void;
  /** Deletes a committed layer (its directory is renamed away first, then removed in the background). */
  removeLayer(chainId: string): void;
  /**
   * Creates a writable snapshot for a container on top of parent (a chain ID,
   * or null = empty). With durable false (a builder's scratch view, which
   * the next start removes anyway) nothing is fsynced.
   */
  prepare(key: string, parent: string | null, opts?: { durable?: boolean }): Promise<void>;
  /** Parent chain ID of a writable snapshot. */
  parentOf(key: string): string | null;
  /** Mounts key's overlay (all lower layers of its parent chain + its upper) at target (must exist). */
  mount(key: string, target: string): void;
  /** Unmounts; lazy-detaches if busy; not mounted is fine. */
  unmount(target: string): void;
  /**
   * Removes a writable snapshot (missing is fine). Unmount it first. With the
   * `referenced` option, parent layers nothing references any more go too
   * (an image deleted with -f while this container still used it).
   */
  remove(key: string): Promise<void>;
  upperDir(key: string): string;
  listActive(): string[];
  /** Layers writable snapshots stand on (their parents and all ancestors); must not be removed. */
  layersInUse(): Set<string>;
  /** Deletes temp dirs from crashes; removes committed layers not in keepLayers (nor in use) when given. */
  cleanup(keepLayers?: Set<string>): Promise<void>;
  /** Flushes to disk every layer committed so far (they are otherwise flushed in the background; see writeback.ts). */
  flush(): Promise<void>;
}

const CHAIN_RE = /^sha256:[a-f0-9]{64}$/;
const KEY_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
const PAGE = 4096;

/** OCI chain ID of a layer on top of parent. */
export function chainIdOf(parent: string | null, diffId: string): string {
  return parent === null ? diffId : `sha256:${createHash('sha256').update(`${parent} ${diffId}`).digest('hex')}`;
}

/** Chain IDs of every layer of a rootfs, base first. */
export function chainIds(diffIds: readonly string[]): string[] {
  const out: string[] = [];
  let parent: string | null = null;
  for (const d of diffIds) {
    parent = chainIdOf(parent, d);
    out.push(parent);
  }
  return out;
}

function checkChain(c: string): string {
  if (!CHAIN_RE.test(c)) throw invalid(`invalid layer chain ID: ${JSON.stringify(c)}`);
  return c;
}

function checkKey(k: string): string {
  if (!KEY_RE.test(k)) throw invalid(`invalid snapshot key: ${JSON.stringify(k)}`);
  return k;
}

/** Flushes the filesystem holding dir (syncfs) so a renamed-in layer is durable as a whole. */
async function syncFs(dir: string): Promise<void> {
  try {
    native().syncfs(dir);
  } catch (e) {
    log.warn('syncfs failed; layer durability relies on the page cache', { dir, err: e });
  }
}

function hexOf(chainId: string): string {
  return chainId.slice(7);
}

function isLayerInfo(v: unknown): v is { parent: string | null; diffId: string; size: number } {
  if (typeof v !== 'object' || v === null) return false;
  const o = v as Record<string, unknown>;
  return (o['parent'] === null || typeof o['parent'] === 'string') && typeof o['diffId'] === 'string' && typeof o['size'] === 'number';
}

export interface SnapshotterOptions {
  /** Whether something (an image) still references a committed layer. */
  referenced?: (chainId: string) => boolean;
}

class OverlaySnapshotter implements Snapshotter {
  readonly root: string;
  private readonly rw: string;
  private readonly empty: string;
  private readonly infos = new Map<string, LayerInfo>();
  /** key → parent for writable snapshots, including ones being prepared (so GC sees them at once). */
  private readonly active = new Map<string, string | null>();
  /** Layers being built on, protected from removal until done. */
  private readonly pinned = new Map<string, number>();

  /** Deferred flushing of committed layers; null when the boot id is unknown (each commit then flushes). */
  private readonly wb: LayerWriteback | null;

  constructor(root: string, private readonly opts: SnapshotterOptions = {}) {
    this.root = path.join(root, 'snapshots');
    this.rw = path.join(this.root, 'rw');
    this.empty = path.join(this.root, 'empty');
    fs.mkdirSync(this.rw, { recursive: true, mode: 0o700 });
    fs.mkdirSync(this.empty, { recursive: true, mode: 0o755 });
    markTopDir(this.root); // each layer's tree in a block group with room (see topdir.ts)
    markTopDir(this.rw);
    const boot = bootId();
    this.wb = boot ? new LayerWriteback(this.root, boot) : null;
    // Before anyone asks hasLayer(): layers written before a reboot and never flushed may be torn.
    for (const hex of this.wb?.recover() ?? []) {
      log.warn('dropping a layer written before a reboot and never flushed to disk', { layer: `sha256:${hex}` });
      try {
        fs.renameSync(path.join(this.root, hex), path.join(this.root, `tmp-${randomBytes(8).toString('hex')}`)); // removed by cleanup()
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      }
      this.wb?.forget(hex);
    }
    for (const k of fs.readdirSync(this.rw)) {
      if (k.startsWith('.')) continue;
      const meta = readJson(path.join(this.rw, k, 'snapshot.json'));
      const parent = typeof meta === 'object' && meta !== null ? (meta as { parent?: unknown }).parent : undefined;
      this.active.set(k, typeof parent === 'string' ? parent : null);
    }
  }

  private dir(chainId: string): string {
    return path.join(this.root, hexOf(checkChain(chainId)));
  }

  hasLayer(chainId: string): boolean {
    return this.infos.has(chainId) || fs.existsSync(path.join(this.dir(chainId), 'layer.json'));
  }

  layerInfo(chainId: string): LayerInfo {
    let info = this.infos.get(chainId);
    if (info) return info;
    const raw = readJson(path.join(this.dir(chainId), 'layer.json'));
    if (!isLayerInfo(raw)) throw notFound(`layer ${chainId} does not exist`);
    info = { chainId, parent: raw.parent, diffId: raw.diffId, size: raw.size };
    this.infos.set(chainId, info); // committed layers are immutable
    return info;
  }

  layerPath(chainId: string): string {
    return path.join(this.dir(chainId), 'fs');
  }

  layerChain(chainId: string): string[] {
    const out: string[] = [];
    for (let c: string | null = chainId; c !== null; c = this.layerInfo(c).parent) {
      out.push(c);
      if (out.length > 1000) throw invalid(`layer chain of ${chainId} is too deep or cyclic`);
    }
    return out.reverse();
  }

  listLayers(): string[] {
    return fs.readdirSync(this.root).filter((n) => /^[a-f0-9]{64}$/.test(n)).map((n) => `sha256:${n}`);
  }

  hold(c: string | null): () => void {
    if (c === null) return () => undefined;
    this.pinned.set(c, (this.pinned.get(c) ?? 0) + 1);
    return () => {
      const n = (this.pinned.get(c) ?? 1) - 1;
      if (n <= 0) this.pinned.delete(c);
      else this.pinned.set(c, n);
    };
  }

  /** Extracts into a fresh temp dir; returns it with the computed diff info. */
  private async extract(parent: string | null, tar: ByteSource, parentPending = false): Promise<{ tmp: string; diffId: string; size: number }> {
    if (parent !== null && !parentPending && !this.hasLayer(parent)) throw notFound(`parent layer ${parent} does not exist`);
    const tmp = path.join(this.root, `tmp-${randomBytes(8).toString('hex')}`);
    fs.mkdirSync(path.join(tmp, 'fs'), { recursive: true, mode: 0o755 });
    fs.chmodSync(path.join(tmp, 'fs'), 0o755);
    try {
      // The diff ID is the digest of the uncompressed tar, every byte of it.
      const plain = await decompress(tar);
      const hash = createHash('sha256');
      async function* hashed(): AsyncGenerator<Buffer> {
        for await (const c of plain) {
          hash.update(c);
          yield c;
        }
      }
      const res = await extractTar(hashed(), path.join(tmp, 'fs'), { whiteouts: 'overlay' });
      return { tmp, diffId: `sha256:${hash.digest('hex')}`, size: res.size };
    } catch (e) {
      await fs.promises.rm(tmp, { recursive: true, force: true });
      throw e;
    }
  }

  createTemp(): string {
    const tmp = path.join(this.root, `tmp-${randomBytes(8).toString('hex')}`);
    fs.mkdirSync(path.join(tmp, 'fs'), { recursive: true, mode: 0o755 });
    fs.chmodSync(path.join(tmp, 'fs'), 0o755);
    return tmp;
  }

  async discardTemp(tmp: string): Promise<void> {
    if (path.dirname(tmp) !== this.root || !path.basename(tmp).startsWith('tmp-')) throw invalid(`not a temp layer dir: ${tmp}`);
    await fs.promises.rm(tmp, { recursive: true, force: true });
  }

  async commitTemp(tmp: string, info: LayerInfo, opts: { parentReady?: Promise<unknown> } = {}): Promise<void> {
    checkChain(info.chainId);
    if (info.parent !== null) checkChain(info.parent);
    if (path.dirname(tmp) !== this.root || !path.basename(tmp).startsWith('tmp-')) throw invalid(`not a temp layer dir: ${tmp}`);
    const unpin = this.hold(info.parent);
    try {
      try {
        if (chainIdOf(info.parent, info.diffId) !== info.chainId) throw invalid(`layer content does not match chain ID ${info.chainId} (diff ID ${info.diffId})`);
        if (opts.parentReady) await opts.parentReady;
        if (info.parent !== null && !this.hasLayer(info.parent)) throw notFound(`parent layer ${info.parent} does not exist`);
      } catch (e) {
        await fs.promises.rm(tmp, { recursive: true, force: true });
        throw e;
      }
      await this.commit(tmp, info, true);
    } finally {
      unpin();
    }
  }

  /**
   * Makes a temp layer dir the committed layer chainId (or drops it if another
   * writer won). The layer reaches the disk with the next background flush
   * (writeback.ts); without a boot id, here.
   */
  private async commit(tmp: string, info: LayerInfo, layerJsonWritten = false): Promise<void> {
    const hex = hexOf(info.chainId);
    const dst = this.dir(info.chainId);
    let marked = false;
    try {
      if (!layerJsonWritten) fs.writeFileSync(path.join(tmp, 'layer.json'), JSON.stringify({ parent: info.parent, diffId: info.diffId, size: info.size }));
      if (this.wb) {
        this.wb.mark(hex);
        marked = true;
      } else await syncFs(tmp);
      try {
        fs.renameSync(tmp, dst);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw e;
        await fs.promises.rm(tmp, { recursive: true, force: true }); // same content already committed
      }
      if (this.wb) this.wb.committed(hex);
      else fsyncDir(this.root);
      this.infos.set(info.chainId, info);
    } catch (e) {
      await fs.promises.rm(tmp, { recursive: true, force: true });
      if (marked && !fs.existsSync(dst)) this.wb?.forget(hex);
      throw e;
    }
  }

  flush(): Promise<void> {
    return this.wb ? this.wb.flush() : Promise.resolve();
  }

  async applyLayer(chainId: string, parent: string | null, tar: ByteSource, opts: { parentReady?: Promise<unknown> } = {}): Promise<void> {
    checkChain(chainId);
    if (parent !== null) checkChain(parent);
    if (this.hasLayer(chainId)) return;
    const unpin = this.hold(parent);
    try {
      const { tmp, diffId, size } = await this.extract(parent, tar, opts.parentReady !== undefined);
      try {
        if (chainIdOf(parent, diffId) !== chainId) throw invalid(`layer content does not match chain ID ${chainId} (diff ID ${diffId})`);
        if (opts.parentReady) await opts.parentReady;
        if (parent !== null && !this.hasLayer(parent)) throw notFound(`parent layer ${parent} does not exist`);
      } catch (e) {
        await fs.promises.rm(tmp, { recursive: true, force: true });
        throw e;
      }
      await this.commit(tmp, { chainId, parent, diffId, size });
    } finally {
      unpin();
    }
  }

  async importLayer(parent: string | null, tar: ByteSource): Promise<LayerInfo> {
    if (parent !== null) checkChain(parent);
    const unpin = this.hold(parent);
    try {
      const { tmp, diffId, size } = await this.extract(parent, tar);
      const chainId = chainIdOf(parent, diffId);
      if (this.hasLayer(chainId)) {
        await fs.promises.rm(tmp, { recursive: true, force: true });
        return this.layerInfo(chainId);
      }
      const info: LayerInfo = { chainId, parent, diffId, size };
      await this.commit(tmp, info);
      return info;
    } finally {
      unpin();
    }
  }

  async importTree(parent: string | null, fill: (dir: string) => Promise<{ diffId: string; size: number }>): Promise<LayerInfo & { release: () => void }> {
    if (parent !== null) checkChain(parent);
    const unpin = this.hold(parent);
    try {
      if (parent !== null && !this.hasLayer(parent)) throw notFound(`parent layer ${parent} does not exist`);
      const tmp = path.join(this.root, `tmp-${randomBytes(8).toString('hex')}`);
      fs.mkdirSync(path.join(tmp, 'fs'), { recursive: true, mode: 0o755 });
      fs.chmodSync(path.join(tmp, 'fs'), 0o755);
      let filled: { diffId: string; size: number };
      try {
        filled = await fill(path.join(tmp, 'fs'));
      } catch (e) {
        await fs.promises.rm(tmp, { recursive: true, force: true });
        throw e;
      }
      const chainId = chainIdOf(parent, filled.diffId);
      const release = this.hold(chainId);
      try {
        if (this.hasLayer(chainId)) await fs.promises.rm(tmp, { recursive: true, force: true });
        else await this.commit(tmp, { chainId, parent, diffId: filled.diffId, size: filled.size });
      } catch (e) {
        release();
        throw e;
      }
      return { ...this.layerInfo(chainId), release };
    } finally {
      unpin();
    }
  }

  removeLayer(chainId: string): void {
    const dir = this.dir(chainId);
    if (this.layersInUse().has(chainId)) throw invalid(`layer ${chainId} is in use`);
    const tmp = path.join(this.root, `tmp-${randomBytes(8).toString('hex')}`);
    try {
      fs.renameSync(dir, tmp); // atomic disappearance; the slow delete happens after
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw e;
    }
    this.infos.delete(chainId);
    this.wb?.forget(hexOf(chainId));
    fs.promises.rm(tmp, { recursive: true, force: true }).catch((e: unknown) => log.warn('layer removal failed', { dir: tmp, err: e }));
  }

  async prepare(key: string, parent: string | null, opts: { durable?: boolean } = {}): Promise<void> {
    checkKey(key);
    if (parent !== null) {
      checkChain(parent);
      if (!this.hasLayer(parent)) throw notFound(`parent layer ${parent} does not exist`);
    }
    if (this.active.has(key) || fs.existsSync(path.join(this.rw, key))) throw invalid(`snapshot ${key} already exists`);
    this.active.set(key, parent); // synchronously, before any await: the parent chain is now in use
    const tmp = path.join(this.rw, `.tmp-${randomBytes(8).toString('hex')}`);
    try {
      fs.mkdirSync(tmp, { mode: 0o700 });
      fs.mkdirSync(path.join(tmp, 'upper'), { mode: 0o755 });
      fs.chmodSync(path.join(tmp, 'upper'), 0o755);
      fs.mkdirSync(path.join(tmp, 'work'), { mode: 0o700 });
      // The directory is new and renamed into place whole, so its files need
      // no temp-and-rename of their own: make the file and the directory's
      // entries durable together (two fsyncs in parallel, off the event
      // loop), then commit with the rename. Every `docker create` waits on this.
      fs.writeFileSync(path.join(tmp, 'snapshot.json'), JSON.stringify({ parent }));
      const durable = opts.durable ?? true;
      if (durable) await Promise.all([fsyncPath(path.join(tmp, 'snapshot.json')), fsyncPath(tmp)]);
      fs.renameSync(tmp, path.join(this.rw, key));
      if (durable) await fsyncPath(this.rw);
    } catch (e) {
      this.active.delete(key);
      fs.rmSync(tmp, { recursive: true, force: true });
      throw e;
    }
  }

  parentOf(key: string): string | null {
    if (!this.active.has(checkKey(key))) throw notFound(`snapshot ${key} does not exist`);
    return this.active.get(key) ?? null;
  }

  upperDir(key: string): string {
    return path.join(this.rw, checkKey(key), 'upper');
  }

  mount(key: string, target: string): void {
    const parent = this.parentOf(key);
    const lowers = parent === null ? [] : this.layerChain(parent).reverse(); // overlay wants the top first
    const rel = (c: string): string => `${hexOf(c)}/fs`;
    let lowerdir = lowers.length ? lowers.map(rel).join(':') : 'empty';
    const upper = `rw/${key}/upper`;
    const work = `rw/${key}/work`;
    // redirect_dir/metacopy off: the upper dir must be a self-contained diff (commit/export tar it).
    const extra = 'index=off,redirect_dir=off,metacopy=off';
    const opts = (l: string, x: string): string => `${x ? `${x},` : ''}lowerdir=${l},upperdir=${upper},workdir=${work}`;
    if (opts(lowerdir, extra).length >= PAGE) lowerdir = lowers.map((c) => this.shortLink(c)).join(':');
    if (opts(lowerdir, '').length >= PAGE) throw invalid(`too many layers (${lowers.length}) to mount`);
    try {
      native().mountAt(this.root, 'overlay', target, 'overlay', 0, opts(lowerdir, extra));
    } catch (e) {
      // Kernels older than 4.19 reject metacopy; they also cannot produce metacopy uppers.
      if ((e as NodeJS.ErrnoException).code !== 'EINVAL') throw e;
      native().mountAt(this.root, 'overlay', target, 'overlay', 0, opts(lowerdir, ''));
    }
  }

  /** `l/<16 hex>` symlink to a layer's fs dir (created on demand). */
  private shortLink(chainId: string): string {
    const name = `l/${hexOf(chainId).slice(0, 16)}`;
    const p = path.join(this.root, name);
    const want = `../${hexOf(chainId)}/fs`;
    try {
      if (fs.readlinkSync(p) === want) return name;
      fs.rmSync(p, { force: true });
    } catch {
      /* missing */
    }
    fs.mkdirSync(path.join(this.root, 'l'), { recursive: true });
    fs.symlinkSync(want, p);
    return name;
  }

  unmount(target: string): void {
    try {
      native().umount(target, 0);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EINVAL' || code === 'ENOENT') return;
      if (code !== 'EBUSY') throw e;
      native().umount(target, MNT_DETACH);
    }
  }

  async remove(key: string): Promise<void> {
    checkKey(key);
    const dir = path.join(this.rw, key);
    const tmp = path.join(this.rw, `.tmp-${randomBytes(8).toString('hex')}`);
    try {
      fs.renameSync(dir, tmp);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      this.active.delete(key);
      return;
    }
    const parent = this.active.get(key) ?? null;
    this.active.delete(key);
    await fs.promises.rm(tmp, { recursive: true, force: true });
    const referenced = this.opts.referenced;
    if (referenced && parent !== null && this.hasLayer(parent)) {
      const inUse = this.layersInUse();
      for (const c of this.layerChain(parent).reverse()) {
        if (referenced(c) || inUse.has(c)) break; // and so are its ancestors
        log.info('removing layer released by its last container', { layer: c });
        this.removeLayer(c);
      }
    }
  }

  listActive(): string[] {
    return [...this.active.keys()];
  }

  layersInUse(): Set<string> {
    const used = new Set<string>(this.pinned.keys());
    for (const p of this.active.values()) {
      for (let c: string | null = p; c !== null && !used.has(c); ) {
        used.add(c);
        try {
          c = this.layerInfo(c).parent;
        } catch {
          c = null;
        }
      }
    }
    // Pinned layers' ancestors too.
    for (const p of this.pinned.keys()) {
      try {
        for (const c of this.layerChain(p)) used.add(c);
      } catch {
        /* missing parent: nothing more to protect */
      }
    }
    return used;
  }

  async cleanup(keepLayers?: Set<string>): Promise<void> {
    const doomed: string[] = [];
    for (const n of fs.readdirSync(this.root)) {
      if (n.startsWith('tmp-')) doomed.push(path.join(this.root, n));
      else if (/^[a-f0-9]{64}$/.test(n) && !fs.existsSync(path.join(this.root, n, 'layer.json'))) doomed.push(path.join(this.root, n));
    }
    for (const n of fs.readdirSync(this.rw)) if (n.startsWith('.tmp-')) doomed.push(path.join(this.rw, n));
    if (keepLayers) {
      const inUse = this.layersInUse();
      for (const c of this.listLayers()) {
        if (keepLayers.has(c) || inUse.has(c)) continue;
        log.info('removing unreferenced layer', { layer: c });
        this.removeLayer(c);
      }
    }
    // Short links whose target is gone.
    const ldir = path.join(this.root, 'l');
    if (fs.existsSync(ldir)) for (const n of fs.readdirSync(ldir)) if (!fs.existsSync(path.join(ldir, n))) fs.rmSync(path.join(ldir, n), { force: true });
    for (const d of doomed) await fs.promises.rm(d, { recursive: true, force: true });
  }
}

export function createSnapshotter(root: string, opts: SnapshotterOptions = {}): Snapshotter {
  return new OverlaySnapshotter(root, opts);
}

async function fsyncPath(p: string): Promise<void> {
  const fh = await fs.promises.open(p, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
