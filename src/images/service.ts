// The image store: Docker 20.10's image semantics over the content store and
// the snapshotter.
//
// On disk (<root>/images):
//   meta/<hex>.json       one record per image: layers (diff ID, chain ID, blob),
//                         parent image, LastTagTime. The config itself is the
//                         content blob sha256:<hex> (image ID = its digest).
//   repositories.json     {"Repositories": {"docker.io/library/x:tag": "sha256:..."}}
// Write order: layer snapshots and blobs → config blob → meta record → tags.
// Start-up drops records whose blobs/layers are missing and tags of missing
// images, then garbage-collects unreferenced layers and blobs.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { createTar, decompress, type ByteSource } from '../common/archive';
import { readJson, writeJsonAtomic, cleanTempFiles, fsyncFile } from '../common/atomic-fs';
import { conflict, invalid, isEngineError, notFound, type EngineError } from '../common/errors';
import type { EventSink } from '../common/events';
import { checkFilterKeys, matchLabels, parseTimestamp, type Filters } from '../common/filters';
import { shortId } from '../common/ids';
import { log } from '../common/log';
import {
  familiarMatch, familiarName, familiarString, parseAnyReference, parseNormalizedNamed, parseStored, refName, refString,
  tagNameOnly, trimNamed, withTag, type Reference,
} from '../common/reference';
import { createContentStore, type ContentStore } from '../content';
import { chainIds as chainIdsOf, createSnapshotter, type Snapshotter } from '../snapshots';
import { applyChanges } from './changes';
import {
  DOCKER_VERSION, formatTimeNs, normalizeTime, nowNs, parseImageConfig, parsePlatform, parseTimeNs, renderContainerConfig,
  serializeImageConfig, unixSeconds, ZERO_TIME, type ContainerConfig, type ImageConfig,
} from './config';

/** Media type recorded for the uncompressed layer tars we store. */
export const MEDIA_TYPE_LAYER = 'application/vnd.docker.image.rootfs.diff.tar';

export interface LayerRef {
  diffId: string;
  chainId: string;
  /** The layer tar as stored in the content store, when kept. */
  blob?: { digest: string; size: number; mediaType: string };
}

export interface ImageRecord {
  /** `sha256:<hex>` */
  id: string;
  config: ImageConfig;
  /** Chain IDs of the layers, base first; the last is the snapshot parent for containers. */
  chainIds: string[];
  diffIds: string[];
  layers: LayerRef[];
  /** Familiar names, sorted: `busybox:latest`. */
  repoTags: string[];
  repoDigests: string[];
  /** RFC3339Nano */
  created: string;
  /** Sum of the layers' diff sizes. */
  size: number;
  /** Parent image ID ('' when none). */
  parent: string;
}

export interface ImportOptions {
  repo?: string;
  tag?: string;
  message?: string;
  changes?: string[];
  platform?: string;
  /** The fromSrc value, for the default comment `Imported from <src>`. */
  src?: string;
}

export interface CreateImageOptions {
  /** Config to store; rootfs.diff_ids is replaced by the layers' diff IDs. */
  config?: ImageConfig;
  /** Exact config bytes to store (docker load); rootfs.diff_ids must match the layers. */
  configBytes?: Uint8Array;
  /** Chain ID of existing layers the image starts from (e.g. the base image's top layer). */
  base?: string | null;
  /** Stored blobs of base layers by chain ID (e.g. the registry's compressed layers after a pull); preferred over other images' blobs. */
  baseBlobs?: ReadonlyMap<string, { digest: string; size: number; mediaType: string }>;
  /** New layers on top of base: tar streams (plain or compressed). storeBlob (default true) keeps the tar in the content store. */
  layers?: Array<{ tar: ByteSource; mediaType?: string; storeBlob?: boolean }>;
  /** Parent image ID (commit/build), shown as Parent and protecting it from deletion. */
  parent?: string;
  /** References to tag the image with (any user form); emits `tag` events. */
  tags?: string[];
  /**
   * false for a builder's intermediate images: the record and config are not
   * fsynced (after a power loss they may be empty and are then dropped at
   * start, like a lost cache entry); persist() makes one durable.
   */
  durable?: boolean;
}

export interface RemoveOptions {
  force: boolean;
  noprune: boolean;
  /** IDs of containers (running or not) using the image. */
  usedBy: (imageId: string) => string[];
  /** Whether a container is running (hard conflict); without it every user counts as stopped. */
  isRunning?: (containerId: string) => boolean;
}

export type DeleteItem = { Untagged: string } | { Deleted: string };

export interface ImageService {
  readonly snapshots: Snapshotter;
  readonly content: ContentStore;
  /** Accepts name, name:tag, full/short ID, sha256:..., docker.io/library/x:tag, name@sha256:...; throws notFound(`No such image: ...`). */
  get(ref: string): ImageRecord;
  tryGet(ref: string): ImageRecord | undefined;
  /** All images. */
  all(): ImageRecord[];
  /** POST /images/create?fromSrc=-: a tar (plain or compressed) → single-layer image. Returns the image ID. */
  importTar(body: ByteSource, opts: ImportOptions): Promise<string>;
  /** Creates an image from a config and layers (commit, build, load). */
  createImage(opts: CreateImageOptions): Promise<ImageRecord>;
  /** Makes an image created with durable false durable (its config and record fsynced). */
  persist(id: string): void;
  /** GET /images/json items. */
  list(opts: { all?: boolean; filters: Filters; containersUsing?: (id: string) => number; digests?: boolean }): unknown[];
  /** GET /images/{name}/json */
  inspect(ref: string): unknown;
  /** GET /images/{name}/history */
  history(ref: string): unknown[];
  /** POST /images/{name}/tag */
  tag(ref: string, repo: string, tag?: string): void;
  /** Records a digest reference (`repo@sha256:…`, shown in RepoDigests) for an image, as a pull or push does. */
  addDigestRef(id: string, ref: string): void;
  /** DELETE /images/{name} */
  remove(ref: string, opts: RemoveOptions): DeleteItem[];
  /** POST /images/prune */
  prune(filters: Filters, usedBy: (imageId: string) => string[]): Promise<{ ImagesDeleted: DeleteItem[] | null; SpaceReclaimed: number }>;
  /** Total diff size of all committed layers (system df LayersSize). */
  layersSize(): number;
  /** The exact config bytes of an image (docker save). */
  configBytes(id: string): Buffer;
  /** The uncompressed tar of a layer: its stored blob, or regenerated from the snapshot. */
  layerTar(chainId: string): Readable;
  /** Applies Dockerfile `changes` lines to a container config (commit -c). */
  applyChanges(config: ContainerConfig, changes: readonly string[]): ContainerConfig;
  /** Emits an image event with Docker's attributes (labels + name). */
  logEvent(id: string, action: string, name?: string): void;
}

interface MetaFile {
  id: string;
  layers: LayerRef[];
  parent?: string;
  lastTagTime?: string;
}

interface Img {
  id: string;
  config: ImageConfig;
  meta: MetaFile;
  size: number;
  createdNs: bigint;
}

const ID_RE = /^sha256:[a-f0-9]{64}$/;

function isMeta(v: unknown): v is MetaFile {
  if (typeof v !== 'object' || v === null) return false;
  const o = v as Record<string, unknown>;
  return typeof o['id'] === 'string' && ID_RE.test(o['id']) && Array.isArray(o['layers']) &&
    o['layers'].every((l: unknown) => typeof l === 'object' && l !== null && typeof (l as LayerRef).diffId === 'string' && typeof (l as LayerRef).chainId === 'string');
}

// Docker's conflict classes for image deletion.
const DEPENDENT_CHILD = 1;
const RUNNING_CONTAINER = 2;
const ACTIVE_REFERENCE = 4;
const STOPPED_CONTAINER = 8;
const HARD = DEPENDENT_CHILD | RUNNING_CONTAINER;
const SOFT = ACTIVE_REFERENCE | STOPPED_CONTAINER;

interface DeleteConflict {
  hard: boolean;
  used: boolean;
  error: EngineError;
}

/** Docker's isSingleReference: all references in one repository, at most one of them a tag. */
function isSingleReference(refs: Reference[]): boolean {
  if (refs.length <= 1) return refs.length === 1;
  let single: Reference | undefined;
  const canonical = new Set<string>();
  for (const r of refs) {
    if (r.digest !== undefined) canonical.add(refName(r));
    else if (!single) single = r;
    else return false;
  }
  single ??= refs[0] as Reference;
  return canonical.size === 1 && canonical.has(refName(single));
}

function isImageIdPrefix(id: string, ref: string): boolean {
  return id.startsWith(ref) || id.slice(7).startsWith(ref);
}

class Images implements ImageService {
  readonly content: ContentStore;
  readonly snapshots: Snapshotter;
  private readonly metaDir: string;
  private readonly reposFile: string;
  private readonly images = new Map<string, Img>();
  private readonly refs = new Map<string, string>();
  private pruneRunning = false;

  constructor(root: string, private readonly events: EventSink) {
    this.content = createContentStore(root);
    this.snapshots = createSnapshotter(root, { referenced: (c) => this.layerReferenced(c) });
    const dir = path.join(root, 'images');
    this.metaDir = path.join(dir, 'meta');
    this.reposFile = path.join(dir, 'repositories.json');
    fs.mkdirSync(this.metaDir, { recursive: true, mode: 0o700 });
  }

  // ---------- start-up ----------

  async init(keepContent?: () => Iterable<string>): Promise<void> {
    this.content.cleanupIngest();
    cleanTempFiles(this.metaDir);
    cleanTempFiles(path.dirname(this.reposFile));
    for (const n of fs.readdirSync(this.metaDir)) {
      if (!/^[a-f0-9]{64}\.json$/.test(n)) continue;
      const file = path.join(this.metaDir, n);
      try {
        const meta = readJson(file);
        if (!isMeta(meta) || meta.id !== `sha256:${n.slice(0, 64)}`) throw new Error('malformed image record');
        const config = parseImageConfig(this.content.readBuffer(meta.id));
        for (const l of meta.layers) if (!this.snapshots.hasLayer(l.chainId)) throw new Error(`layer ${l.chainId} is missing`);
        this.images.set(meta.id, this.makeImg(meta, config));
      } catch (e) {
        log.warn('dropping broken image record', { file, err: e });
        fs.rmSync(file, { force: true });
      }
    }
    const repos = readJson(this.reposFile);
    const map = typeof repos === 'object' && repos !== null ? (repos as { Repositories?: unknown }).Repositories : undefined;
    let dropped = false;
    if (typeof map === 'object' && map !== null) {
      for (const [k, v] of Object.entries(map as Record<string, unknown>)) {
        if (typeof v === 'string' && this.images.has(v)) this.refs.set(k, v);
        else dropped = true;
      }
    }
    if (dropped) this.saveRefs();
    // Layers and blobs no image references are leftovers of interrupted work.
    const keepLayers = new Set<string>();
    const keepBlobs = new Set<string>(keepContent ? [...keepContent()] : []);
    for (const img of this.images.values()) {
      keepBlobs.add(img.id);
      for (const l of img.meta.layers) {
        keepLayers.add(l.chainId);
        if (l.blob) keepBlobs.add(l.blob.digest);
      }
    }
    await this.snapshots.cleanup(keepLayers);
    for (const d of this.content.list()) {
      if (!keepBlobs.has(d)) {
        log.info('removing unreferenced blob', { digest: d });
        this.content.delete(d);
      }
    }
  }

  private layerReferenced(chainId: string): boolean {
    for (const img of this.images.values()) if (img.meta.layers.some((l) => l.chainId === chainId)) return true;
    return false;
  }

  private makeImg(meta: MetaFile, config: ImageConfig): Img {
    let size = 0;
    for (const l of meta.layers) size += this.snapshots.layerInfo(l.chainId).size;
    return { id: meta.id, config, meta, size, createdNs: parseTimeNs(config.created) ?? -62135596800n * 1000000000n };
  }

  private saveRefs(): void {
    writeJsonAtomic(this.reposFile, { Repositories: Object.fromEntries(this.refs) });
  }

  private saveMeta(meta: MetaFile, durable = true): void {
    writeJsonAtomic(path.join(this.metaDir, `${meta.id.slice(7)}.json`), meta, durable);
  }

  persist(id: string): void {
    const img = this.images.get(id);
    if (!img) throw notFound(`No such image: ${id}`);
    this.content.persist(id);
    fsyncFile(path.join(this.metaDir, `${id.slice(7)}.json`));
  }

  // ---------- lookup ----------

  /** References of an image, sorted by familiar string like Docker's reference store. */
  private refsOf(id: string): Reference[] {
    const out: Reference[] = [];
    for (const [k, v] of this.refs) if (v === id) out.push(parseStored(k));
    return out.sort((a, b) => (familiarString(a) < familiarString(b) ? -1 : familiarString(a) > familiarString(b) ? 1 : 0));
  }

  private children(id: string): string[] {
    const out: string[] = [];
    for (const img of this.images.values()) if (img.meta.parent === id) out.push(img.id);
    return out;
  }

  /** Docker's GetImage; throws invalid for malformed references, notFound otherwise. */
  private resolve(ref: string): Img {
    const any = parseAnyReference(ref);
    if (any.kind === 'id') {
      const img = this.images.get(any.digest);
      if (img) return img;
      throw notFound(`No such image: ${any.digest}`);
    }
    const id = this.refs.get(refString(tagNameOnly(any.ref)));
    const img = id !== undefined ? this.images.get(id) : undefined;
    if (img) return img;
    // A (short) image ID, possibly sha256:-prefixed.
    const hex = ref.startsWith('sha256:') ? ref.slice(7) : ref;
    if (/^[a-f0-9]+$/.test(hex)) {
      let found: Img | undefined;
      let n = 0;
      for (const i of this.images.values()) {
        if (i.id.startsWith(`sha256:${hex}`)) {
          found = i;
          n++;
        }
      }
      if (n === 1 && found) return found;
    }
    throw notFound(`No such image: ${familiarString(tagNameOnly(any.ref))}`);
  }

  private record(img: Img): ImageRecord {
    const refs = this.refsOf(img.id);
    return {
      id: img.id,
      config: img.config,
      chainIds: img.meta.layers.map((l) => l.chainId),
      diffIds: img.meta.layers.map((l) => l.diffId),
      layers: img.meta.layers,
      repoTags: refs.filter((r) => r.tag !== undefined).map(familiarString),
      repoDigests: refs.filter((r) => r.digest !== undefined).map(familiarString),
      created: normalizeTime(img.config.created),
      size: img.size,
      parent: img.meta.parent ?? '',
    };
  }

  get(ref: string): ImageRecord {
    return this.record(this.resolve(ref));
  }

  tryGet(ref: string): ImageRecord | undefined {
    try {
      return this.get(ref);
    } catch {
      return undefined;
    }
  }

  all(): ImageRecord[] {
    return [...this.images.values()].map((i) => this.record(i));
  }

  // ---------- events ----------

  logEvent(id: string, action: string, name?: string): void {
    const attrs: Record<string, string> = { ...(this.images.get(id)?.config.config?.Labels ?? {}) };
    if (name !== undefined && name !== '') attrs['name'] = name;
    this.events({ Type: 'image', Action: action, Actor: { ID: id, Attributes: attrs } });
  }

  // ---------- creation ----------

  async createImage(opts: CreateImageOptions): Promise<ImageRecord> {
    const tags = (opts.tags ?? []).map((t) => {
      const r = parseNormalizedNamed(t);
      if (r.digest !== undefined) throw invalid('refusing to create a tag with a digest reference');
      return r;
    });
    if (opts.parent !== undefined && opts.parent !== '' && !this.images.has(opts.parent)) throw notFound(`No such image: ${opts.parent}`);
    if (!opts.config && !opts.configBytes) throw invalid('image config is required');
    const releases: Array<() => void> = [];
    const hold = (c: string): void => {
      releases.push(this.snapshots.hold(c));
    };
    try {
      const layers: LayerRef[] = [];
      let top: string | null = opts.base ?? null;
      if (top !== null) {
        hold(top);
        for (const c of this.snapshots.layerChain(top)) {
          const blob = opts.baseBlobs?.get(c) ?? this.blobOf(c);
          layers.push({ chainId: c, diffId: this.snapshots.layerInfo(c).diffId, ...(blob ? { blob } : {}) });
        }
      }
      for (const l of opts.layers ?? []) {
        const plain = await decompress(l.tar);
        let ref: LayerRef;
        if (l.storeBlob === false) {
          const info = await this.snapshots.importLayer(top, plain);
          ref = { chainId: info.chainId, diffId: info.diffId };
        } else {
          const tee = await this.content.tee(plain);
          let info;
          try {
            info = await this.snapshots.importLayer(top, tee.stream);
          } catch (e) {
            await tee.abort();
            throw e;
          }
          const desc = await tee.commit();
          ref = { chainId: info.chainId, diffId: info.diffId, blob: { digest: desc.digest, size: desc.size, mediaType: l.mediaType ?? MEDIA_TYPE_LAYER } };
        }
        hold(ref.chainId);
        layers.push(ref);
        top = ref.chainId;
      }
      let bytes: Buffer;
      let config: ImageConfig;
      const diffIds = layers.map((l) => l.diffId);
      if (opts.configBytes) {
        bytes = Buffer.from(opts.configBytes);
        config = parseImageConfig(bytes);
        if (config.rootfs.diff_ids.join() !== diffIds.join()) throw invalid('layers do not match the image config (rootfs.diff_ids)');
      } else {
        const c = opts.config as ImageConfig;
        bytes = serializeImageConfig({ ...c, rootfs: { type: 'layers', diff_ids: diffIds } });
        config = parseImageConfig(bytes);
      }
      const durable = opts.durable ?? true;
      const { digest: id } = await this.content.put(bytes, {}, { durable });
      let img = this.images.get(id);
      if (!img) {
        const meta: MetaFile = { id, layers };
        if (opts.parent && opts.parent !== id) meta.parent = opts.parent;
        this.saveMeta(meta, durable);
        img = this.makeImg(meta, config);
        this.images.set(id, img);
      } else {
        if (img.meta.layers.some((l, i) => !l.blob && layers[i]?.blob)) {
          // Same image again, now with layer blobs we did not have: keep them.
          img.meta.layers = img.meta.layers.map((l, i) => l.blob ? l : { ...l, ...(layers[i]?.blob ? { blob: layers[i]?.blob } : {}) });
          this.saveMeta(img.meta, durable);
        }
        if (durable) this.persist(id); // it may have been made by a build, not durably
      }
      for (const r of tags) this.addTag(id, r);
      return this.record(img);
    } finally {
      for (const r of releases) r();
    }
  }

  /** A stored blob for a layer, from any image that recorded one. */
  private blobOf(chainId: string): LayerRef['blob'] | undefined {
    for (const img of this.images.values()) {
      for (const l of img.meta.layers) if (l.chainId === chainId && l.blob && this.content.has(l.blob.digest)) return l.blob;
    }
    return undefined;
  }

  async importTar(body: ByteSource, opts: ImportOptions): Promise<string> {
    // Everything that can be rejected is checked before the body is read.
    let newRef: Reference | undefined;
    if (opts.repo) {
      newRef = parseNormalizedNamed(opts.repo);
      if (newRef.digest !== undefined) throw invalid('cannot import digest reference');
      if (opts.tag) newRef = withTag(newRef, opts.tag);
    }
    const platform = parsePlatform(opts.platform);
    const config = applyChanges({}, opts.changes ?? []);
    const msg = opts.message || `Imported from ${opts.src ?? '-'}`;
    const created = formatTimeNs(nowNs());
    const cfg: ImageConfig = {
      architecture: platform.architecture,
      os: platform.os,
      ...(platform.variant ? { variant: platform.variant } : {}),
      comment: msg,
      created,
      docker_version: DOCKER_VERSION,
      config,
      rootfs: { type: 'layers', diff_ids: [] },
      history: [{ created, comment: msg }],
    };
    const img = await this.createImage({ config: cfg, layers: [{ tar: body }] });
    if (newRef) this.addTag(img.id, newRef);
    this.logEvent(img.id, 'import', img.id);
    return img.id;
  }

  // ---------- tags ----------

  /** Docker's TagImageWithReference (force): adds the tag, updates LastTagTime, emits `tag`. */
  private addTag(id: string, ref: Reference): void {
    if (ref.digest !== undefined && ref.tag === undefined) throw invalid('refusing to create a tag with a digest reference');
    const full = tagNameOnly(ref);
    if (familiarName(full) === 'sha256') throw invalid('refusing to create an ambiguous tag using digest algorithm as name');
    this.refs.set(refString(full), id);
    const img = this.images.get(id);
    if (img) {
      img.meta.lastTagTime = formatTimeNs(nowNs());
      this.saveMeta(img.meta);
    }
    this.saveRefs();
    this.logEvent(id, 'tag', familiarString(ref));
  }

  addDigestRef(id: string, ref: string): void {
    if (!this.images.has(id)) throw notFound(`No such image: ${id}`);
    const r = parseNormalizedNamed(ref);
    if (r.digest === undefined) throw invalid(`not a digest reference: ${ref}`);
    this.refs.set(refString({ domain: r.domain, path: r.path, digest: r.digest }), id);
    this.saveRefs();
  }

  tag(ref: string, repo: string, tag?: string): void {
    const img = this.resolve(ref);
    let r = parseNormalizedNamed(repo);
    if (tag) r = withTag(trimNamed(r), tag);
    this.addTag(img.id, r);
  }

  // ---------- listing ----------

  list(opts: { all?: boolean; filters: Filters; containersUsing?: (id: string) => number }): unknown[] {
    const f = opts.filters;
    checkFilterKeys(f, ['dangling', 'label', 'before', 'since', 'reference']);
    let danglingOnly = false;
    const dv = f.get('dangling');
    if (dv !== undefined && dv.length) {
      if (dv.includes('true')) danglingOnly = true;
      else if (!dv.includes('false')) throw invalid(`Invalid filter 'dangling=[${dv.join(' ')}]'`);
    }
    let before: bigint | undefined;
    let since: bigint | undefined;
    for (const v of f.get('before') ?? []) before = this.resolve(v).createdNs;
    for (const v of f.get('since') ?? []) since = this.resolve(v).createdNs;
    const patterns = f.get('reference') ?? [];
    const out: Array<{ created: bigint; item: Record<string, unknown> }> = [];
    for (const img of this.images.values()) {
      if (before !== undefined && img.createdNs >= before) continue;
      if (since !== undefined && img.createdNs <= since) continue;
      if (f.get('label')?.length) {
        const labels = img.config.config?.Labels;
        if (!img.config.config || !labels || !Object.keys(labels).length || !matchLabels(new Map([['label', f.get('label') ?? []]]), labels)) continue;
      }
      let repoTags: string[] | null = null;
      let repoDigests: string[] | null = null;
      for (const r of this.refsOf(img.id)) {
        if (patterns.length && !patterns.some((p) => familiarMatch(p, r))) continue;
        if (r.digest !== undefined) (repoDigests ??= []).push(familiarString(r));
        if (r.tag !== undefined) (repoTags ??= []).push(familiarString(r));
      }
      if (repoTags === null && repoDigests === null) {
        if (!(opts.all || this.children(img.id).length === 0)) continue;
        if (dv !== undefined && dv.length && !danglingOnly) continue;
        if (patterns.length) continue;
        repoDigests = ['<none>@<none>'];
        repoTags = ['<none>:<none>'];
      } else if (danglingOnly && repoTags !== null && repoTags.length > 0) continue;
      out.push({
        created: img.createdNs,
        item: {
          Containers: opts.containersUsing ? opts.containersUsing(img.id) : -1,
          Created: unixSeconds(img.config.created),
          Id: img.id,
          Labels: img.config.config ? (img.config.config.Labels ?? null) : null,
          ParentId: img.meta.parent ?? '',
          RepoDigests: repoDigests,
          RepoTags: repoTags,
          SharedSize: -1,
          Size: img.size,
          VirtualSize: img.size,
        },
      });
    }
    out.sort((a, b) => (a.created > b.created ? -1 : a.created < b.created ? 1 : 0));
    return out.map((o) => o.item);
  }

  inspect(ref: string): unknown {
    const img = this.resolve(ref);
    const refs = this.refsOf(img.id);
    const c = img.config;
    const comment = c.comment || c.history?.[c.history.length - 1]?.comment || '';
    const layers = img.meta.layers;
    let graph: Record<string, string> | null = null;
    const top = layers[layers.length - 1];
    if (top) {
      const dir = path.dirname(this.snapshots.layerPath(top.chainId));
      graph = {};
      const lowers = layers.slice(0, -1).reverse().map((l) => this.snapshots.layerPath(l.chainId));
      if (lowers.length) graph['LowerDir'] = lowers.join(':');
      graph['MergedDir'] = path.join(dir, 'merged');
      graph['UpperDir'] = this.snapshots.layerPath(top.chainId);
      graph['WorkDir'] = path.join(dir, 'work');
    }
    const o: Record<string, unknown> = {
      Id: img.id,
      RepoTags: refs.filter((r) => r.tag !== undefined).map(familiarString),
      RepoDigests: refs.filter((r) => r.digest !== undefined).map(familiarString),
      Parent: img.meta.parent ?? '',
      Comment: comment,
      Created: normalizeTime(c.created),
      Container: c.container ?? '',
      ContainerConfig: renderContainerConfig(c.container_config),
      DockerVersion: c.docker_version ?? '',
      Author: c.author ?? '',
      Config: c.config ? renderContainerConfig(c.config) : null,
      Architecture: c.architecture,
    };
    if (c.variant) o['Variant'] = c.variant;
    o['Os'] = c.os;
    if (c['os.version']) o['OsVersion'] = c['os.version'];
    o['Size'] = img.size;
    o['VirtualSize'] = img.size;
    o['GraphDriver'] = { Data: graph, Name: 'overlay2' };
    o['RootFS'] = c.rootfs.diff_ids.length ? { Type: c.rootfs.type, Layers: c.rootfs.diff_ids } : { Type: c.rootfs.type };
    o['Metadata'] = { LastTagTime: img.meta.lastTagTime ?? ZERO_TIME };
    return o;
  }

  history(ref: string): unknown[] {
    const img = this.resolve(ref);
    const diffIds = img.config.rootfs.diff_ids;
    const chains = chainIdsOf(diffIds);
    const items: Array<Record<string, unknown>> = [];
    let n = 0;
    for (const h of img.config.history ?? []) {
      let size = 0;
      if (!h.empty_layer) {
        const chain = chains[n];
        if (chain === undefined) throw invalid('too many non-empty layers in History section');
        size = this.snapshots.hasLayer(chain) ? this.snapshots.layerInfo(chain).size : 0;
        n++;
      }
      items.unshift({ Comment: h.comment ?? '', Created: h.created ? unixSeconds(h.created) : 0, CreatedBy: h.created_by ?? '', Id: '<missing>', Size: size, Tags: null });
    }
    // The newest entries belong to this image, older ones to its parents (when they exist locally).
    let cur: Img | undefined = img;
    for (const item of items) {
      if (!cur) break;
      item['Id'] = cur.id;
      const tags = this.refsOf(cur.id).filter((r) => r.tag !== undefined).map(familiarString);
      item['Tags'] = tags.length ? tags : null;
      cur = cur.meta.parent ? this.images.get(cur.meta.parent) : undefined;
    }
    return items.map((i) => ({ Comment: i['Comment'], Created: i['Created'], CreatedBy: i['CreatedBy'], Id: i['Id'], Size: i['Size'], Tags: i['Tags'] }));
  }

  // ---------- removal ----------

  private untag(ref: Reference): void {
    this.refs.delete(refString(tagNameOnly(ref)));
  }

  private conflictFor(id: string, mask: number, o: RemoveOptions): DeleteConflict | undefined {
    const mk = (hard: boolean, used: boolean, message: string): DeleteConflict => ({
      hard,
      used,
      error: conflict(`conflict: unable to delete ${shortId(id)} (${hard ? 'cannot be forced' : 'must be forced'}) - ${message}`),
    });
    if (mask & DEPENDENT_CHILD && this.children(id).length > 0) return mk(true, false, 'image has dependent child images');
    const users = mask & (RUNNING_CONTAINER | STOPPED_CONTAINER) ? o.usedBy(id) : [];
    const running = (c: string): boolean => o.isRunning?.(c) ?? false;
    if (mask & RUNNING_CONTAINER) {
      const c = users.find(running);
      if (c) return mk(true, true, `image is being used by running container ${shortId(c)}`);
    }
    if (mask & ACTIVE_REFERENCE && this.refsOf(id).length > 0) return mk(false, false, 'image is referenced in multiple repositories');
    if (mask & STOPPED_CONTAINER) {
      const c = users.find((u) => !running(u));
      if (c) return mk(false, true, `image is being used by stopped container ${shortId(c)}`);
    }
    return undefined;
  }

  remove(ref: string, o: RemoveOptions): DeleteItem[] {
    const img = this.resolve(ref);
    const id = img.id;
    const records: DeleteItem[] = [];
    let repoRefs = this.refsOf(id);
    let removedRepositoryRef = false;
    try {
      if (!isImageIdPrefix(id, ref)) {
        // A name was given: untag it first; the image goes only with its last reference.
        if (!o.force && isSingleReference(repoRefs)) {
          const c = o.usedBy(id)[0];
          if (c) throw conflict(`conflict: unable to remove repository reference "${ref}" (must force) - container ${shortId(c)} is using its referenced image ${shortId(id)}`);
        }
        const parsed = tagNameOnly(parseNormalizedNamed(ref));
        this.untag(parsed);
        records.push({ Untagged: familiarString(parsed) });
        this.logEvent(id, 'untag', id);
        repoRefs = this.refsOf(id);
        if (parsed.digest === undefined && !repoRefs.some((r) => r.digest === undefined && refName(r) === refName(parsed))) {
          // Only digests of that repository remain: they go too.
          const remaining: Reference[] = [];
          for (const r of repoRefs) {
            if (r.digest !== undefined && refName(r) === refName(parsed)) {
              this.untag(r);
              records.push({ Untagged: familiarString(r) });
            } else remaining.push(r);
          }
          repoRefs = remaining;
        }
        if (repoRefs.length > 0) return records;
        removedRepositoryRef = true;
      } else if (isSingleReference(repoRefs)) {
        // An ID was given and the image has one repository: its references go with it.
        const c = this.conflictFor(id, o.force ? HARD : HARD | (SOFT & ~ACTIVE_REFERENCE), o);
        if (c) throw c.error;
        for (const r of repoRefs) {
          this.untag(r);
          records.push({ Untagged: familiarString(tagNameOnly(r)) });
          this.logEvent(id, 'untag', id);
        }
      }
      this.deleteHelper(id, records, o.force, !o.noprune, removedRepositoryRef, o);
      return records;
    } finally {
      this.saveRefs();
    }
  }

  /** Docker's imageDeleteHelper: deletes the image (and, with prune, its untagged parents). */
  private deleteHelper(id: string, records: DeleteItem[], force: boolean, prune: boolean, quiet: boolean, o: RemoveOptions): void {
    if (!this.images.has(id)) return;
    const c = this.conflictFor(id, force ? HARD : HARD | SOFT, o);
    if (c) {
      const dangling = this.refsOf(id).length === 0 && this.children(id).length === 0;
      if (quiet && (!dangling || c.used)) return;
      throw c.error;
    }
    const parent = this.images.get(id)?.meta.parent;
    for (const r of this.refsOf(id)) {
      this.untag(r);
      records.push({ Untagged: familiarString(tagNameOnly(r)) });
      this.logEvent(id, 'untag', id);
    }
    const layers = this.deleteImage(id);
    records.push({ Deleted: id });
    for (const l of layers) records.push({ Deleted: l });
    if (!prune || !parent) return;
    this.deleteHelper(parent, records, false, true, true, o);
  }

  /** Drops an image record, then its blobs and layers nothing else uses. Returns removed layer chain IDs. */
  private deleteImage(id: string): string[] {
    const img = this.images.get(id);
    if (!img) return [];
    this.saveRefs(); // tags first: never a tag pointing at a missing image
    this.images.delete(id);
    this.logEvent(id, 'delete', id); // after, as Docker: the image is gone, so no labels
    fs.rmSync(path.join(this.metaDir, `${id.slice(7)}.json`), { force: true });
    const blobs = new Set<string>();
    const keep = this.snapshots.layersInUse();
    for (const other of this.images.values()) {
      for (const l of other.meta.layers) {
        keep.add(l.chainId);
        if (l.blob) blobs.add(l.blob.digest);
      }
    }
    this.content.delete(id);
    for (const l of img.meta.layers) if (l.blob && !blobs.has(l.blob.digest)) this.content.delete(l.blob.digest);
    const removed: string[] = [];
    for (const l of [...img.meta.layers].reverse()) {
      if (keep.has(l.chainId)) break; // its ancestors are kept too
      this.snapshots.removeLayer(l.chainId);
      removed.push(l.chainId);
    }
    return removed;
  }

  async prune(filters: Filters, usedBy: (imageId: string) => string[]): Promise<{ ImagesDeleted: DeleteItem[] | null; SpaceReclaimed: number }> {
    if (this.pruneRunning) throw conflict('a prune operation is already running');
    checkFilterKeys(filters, ['dangling', 'label', 'label!', 'until']);
    this.pruneRunning = true;
    try {
      let danglingOnly = true;
      const dv = filters.get('dangling');
      if (dv !== undefined && dv.length) {
        if (dv.includes('false') || dv.includes('0')) danglingOnly = false;
        else if (!dv.includes('true') && !dv.includes('1')) throw invalid(`Invalid filter 'dangling=[${dv.join(' ')}]'`);
      }
      let until: bigint | undefined;
      for (const u of filters.get('until') ?? []) until = BigInt(Math.round(parseTimestamp(u))) * 1000000n;
      const layerSizes = new Map<string, number>();
      for (const img of this.images.values()) for (const l of img.meta.layers) layerSizes.set(l.chainId, this.snapshots.layerInfo(l.chainId).size);
      const candidates: Img[] = [];
      for (const img of this.images.values()) {
        if (danglingOnly && this.children(img.id).length) continue; // only heads
        if (this.refsOf(img.id).length === 0 && this.children(img.id).length !== 0) continue;
        if (until !== undefined && img.createdNs > until) continue;
        if (img.config.config && !matchLabels(filters, img.config.config.Labels)) continue;
        candidates.push(img);
      }
      const deleted: DeleteItem[] = [];
      const o: RemoveOptions = { force: false, noprune: false, usedBy };
      for (const img of candidates) {
        if (!this.images.has(img.id)) continue;
        const refs = this.refsOf(img.id);
        const attempt = (ref: string): void => {
          try {
            deleted.push(...this.remove(ref, o));
          } catch (e) {
            if (!isEngineError(e) || e.kind !== 'conflict') log.warn('failed to prune image', { ref, err: e });
          }
        };
        if (refs.length) {
          if (danglingOnly && refs.some((r) => r.tag !== undefined)) continue;
          for (const r of refs) attempt(refString(r));
        } else attempt(img.id.slice(7));
      }
      let reclaimed = 0;
      for (const d of deleted) if ('Deleted' in d) reclaimed += layerSizes.get(d.Deleted) ?? 0;
      this.events({ Type: 'image', Action: 'prune', Actor: { ID: '', Attributes: { reclaimed: String(reclaimed) } } });
      return { ImagesDeleted: deleted.length ? deleted : null, SpaceReclaimed: reclaimed };
    } finally {
      this.pruneRunning = false;
    }
  }

  // ---------- export helpers ----------

  layersSize(): number {
    let n = 0;
    for (const c of this.snapshots.listLayers()) {
      try {
        n += this.snapshots.layerInfo(c).size;
      } catch {
        /* being removed */
      }
    }
    return n;
  }

  configBytes(id: string): Buffer {
    if (!this.images.has(id)) throw notFound(`No such image: ${id}`);
    return this.content.readBuffer(id);
  }

  layerTar(chainId: string): Readable {
    const blob = this.blobOf(chainId);
    if (blob) {
      const src = this.content.createReadStream(blob.digest);
      if (!/gzip|zstd/.test(blob.mediaType)) return src;
      return Readable.from((async function* () { yield* await decompress(src); })()); // a registry's compressed layer
    }
    return createTar(this.snapshots.layerPath(chainId), { whiteouts: true });
  }

  applyChanges(config: ContainerConfig, changes: readonly string[]): ContainerConfig {
    return applyChanges(config, changes);
  }
}

export async function createImageService(opts: { root: string; events: EventSink; keepContent?: () => Iterable<string> }): Promise<ImageService> {
  const s = new Images(opts.root, opts.events);
  await s.init(opts.keepContent);
  return s;
}
