// docker pull: resolve the reference (index → platform manifest → config),
// then fetch the layers in parallel (3 at a time by default), each streamed
// straight into the content store (verified against its digest) and, through
// decompression, into a layer snapshot — so unpacking happens while
// downloading, and no layer is committed before its blob checked out. A cut
// connection resumes with a Range request. Failures leave nothing behind:
// layers and blobs this pull created that no image references are removed.
import { createHash } from 'node:crypto';
import { invalid, notFound } from '../common/errors';
import { log } from '../common/log';
import { familiarName, familiarString, parseNormalizedNamed, refName, refString, withTag, type Reference } from '../common/reference';
import type { ImageService } from '../images';
import { parsePlatform } from '../images/config';
import type { DistributionMeta } from '../images/distribution-meta';
import { chainIdOf, chainIds } from '../snapshots';
import { BlobTooLongError, startUnpack, UnpackError, type UnpackHandle, type UnpackResult } from '../snapshots/unpack';
import type { AuthConfig } from './auth';
import type { Repository, RegistryClient } from './client';
import type { RegistryConfig } from './config';
import { RegistryError } from './errors';
import {
  isLayerMediaType, isSchema1Error, parseConfigSummary, schema1Error, parseManifest, platformMatches, platformString, selectManifest,
  type ConfigSummary, type Descriptor, type ImageManifest, type Platform,
} from './media';
import type { ProgressOutput } from './progress';
import { resumableBlob } from './fetch';
import { coalesce, Semaphore, shortDigest } from './util';

export interface PullRequest {
  /** fromImage as sent (any user form). */
  fromImage: string;
  /** tag query value: a tag, a digest, or empty (all tags when fromImage has neither). */
  tag?: string;
  platform?: string;
  auth: AuthConfig;
  out: ProgressOutput;
  signal?: AbortSignal;
}

/** Blobs and layers in use by pulls in flight (a lease: failure cleanup and GC leave them alone). */
export class InFlight {
  private readonly n = new Map<string, number>();
  add(k: string): () => void {
    this.n.set(k, (this.n.get(k) ?? 0) + 1);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const v = (this.n.get(k) ?? 1) - 1;
      if (v <= 0) this.n.delete(k);
      else this.n.set(k, v);
    };
  }
  has(k: string): boolean {
    return this.n.has(k);
  }
}

export interface PullDeps {
  images: ImageService;
  meta: DistributionMeta;
  client: RegistryClient;
  cfg: RegistryConfig;
  inflight: InFlight;
}

/** What a pull created so far (removed again if it fails). */
interface Created {
  chains: string[];
  blobs: string[];
}

interface Resolved {
  repo: Repository;
  /** The digest pulled by: the index's when the tag names one. */
  topDigest: string;
  manifest: ImageManifest;
  manifestBytes: Buffer;
  manifestDigest: string;
  configBytes: Buffer;
  configDigest: string;
  summary: ConfigSummary;
}

const DIGEST_TAG_RE = /^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$/;

/** Docker's "filesystem layer verification failed" (what a corrupted or truncated blob produces). */
export function layerVerificationError(digest: string): Error {
  return new Error(`filesystem layer verification failed for digest ${digest}`);
}

/** translatePullError: registry "not found"/"denied" answers become Docker's not-found messages (404). */
function translateError(e: unknown, ref: Reference): unknown {
  if (!(e instanceof RegistryError)) return e;
  switch (e.code) {
    case 'DENIED':
      return notFound(`pull access denied for ${familiarName(ref)}, repository does not exist or may require 'docker login': ${e.text}`);
    case 'MANIFEST_UNKNOWN':
      return notFound(`manifest for ${familiarString(ref)} not found: ${e.text}`);
    case 'NAME_UNKNOWN':
      return notFound(`repository ${familiarName(ref)} not found: ${e.text}`);
    default:
      return new Error(e.text);
  }
}

export class Puller {
  constructor(private readonly d: PullDeps) {}

  /** Parses the request into the references to pull (validation errors come before any output). */
  private target(o: PullRequest): { ref: Reference; all: boolean } {
    let ref = parseNormalizedNamed(o.fromImage);
    if (o.tag) {
      ref = DIGEST_TAG_RE.test(o.tag) ? { domain: ref.domain, path: ref.path, digest: o.tag } : withTag(ref, o.tag);
      if (ref.digest !== undefined) parseNormalizedNamed(`${refName(ref)}@${ref.digest}`); // validates the digest like Docker
    }
    return { ref, all: ref.tag === undefined && ref.digest === undefined };
  }

  async pull(o: PullRequest): Promise<void> {
    const { ref, all } = this.target(o);
    const want: Platform = (() => {
      const p = parsePlatform(o.platform);
      return { os: p.os, architecture: p.architecture, ...(p.variant ? { variant: p.variant } : {}) };
    })();
    const explicit = Boolean(o.platform);
    let refs: Reference[] = [ref];
    if (all) {
      const repo = await this.d.client.repository(ref.domain, ref.path, o.auth, ['pull'], o.signal).catch((e: unknown) => { throw translateError(e, ref); });
      const tags = await repo.tags(o.signal).catch((e: unknown) => { throw translateError(e, ref); });
      if (!tags.length) throw notFound(`repository ${familiarName(ref)} not found: tags list is empty`);
      refs = tags.map((t) => withTag(ref, t));
    }
    let updated = false;
    for (const r of refs) updated = (await this.pullOne(r, o, want, explicit)) || updated;
    const shown = all ? familiarName(ref) : familiarString(ref);
    o.out.message(updated ? `Status: Downloaded newer image for ${shown}` : `Status: Image is up to date for ${shown}`);
  }

  /** Fetches and checks the manifest (and config) from the first endpoint that has it; mirrors fall through to the next endpoint. */
  private async resolve(ref: Reference, o: PullRequest, want: Platform, explicit: boolean): Promise<Resolved> {
    const reference = ref.digest ?? ref.tag ?? 'latest';
    let lastErr: unknown;
    for await (const repo of this.d.client.repositories(ref.domain, ref.path, o.auth, ['pull'], o.signal)) {
      try {
        return await this.resolveOn(repo, ref, reference, want, explicit, o.signal);
      } catch (e) {
        if (isSchema1Error(e)) throw schema1Error(refString(ref)); // Docker 28 names the full reference
        if (!repo.endpoint.mirror) throw translateError(e, ref);
        log.info('mirror failed; trying the next endpoint', { mirror: repo.endpoint.url, err: e instanceof Error ? e.message : String(e) });
        lastErr = e;
      }
    }
    throw translateError(lastErr ?? new Error(`no endpoint answered for ${ref.domain}`), ref);
  }

  private async resolveOn(repo: Repository, ref: Reference, reference: string, want: Platform, explicit: boolean, signal?: AbortSignal): Promise<Resolved> {
    const top = await repo.getManifest(reference, signal);
    if (ref.digest !== undefined && top.digest !== ref.digest) throw new Error(`manifest verification failed for digest ${ref.digest}`);
    let m = parseManifest(top.bytes, top.contentType);
    let bytes = top.bytes;
    let mdigest = top.digest;
    if (m.kind === 'index') {
      const pick = selectManifest(m, want);
      if (!pick) throw notFound(`no matching manifest for ${platformString(want)} in the manifest list entries`);
      const child = await repo.getManifest(pick.digest, signal);
      if (child.digest !== pick.digest) throw new Error(`manifest verification failed for digest ${pick.digest}`);
      m = parseManifest(child.bytes, child.contentType || pick.mediaType);
      if (m.kind !== 'manifest') throw invalid(`manifest ${pick.digest} in the index is itself an index`);
      bytes = child.bytes;
      mdigest = child.digest;
    }
    for (const l of m.layers) if (!isLayerMediaType(l.mediaType)) throw invalid(`unsupported layer media type ${l.mediaType}`);
    const cfg = await repo.getBlobBytes(m.config.digest, 16 << 20, signal);
    if (cfg.length !== m.config.size || sha(cfg) !== m.config.digest) throw new Error(`image config verification failed for digest ${m.config.digest}`);
    const summary = parseConfigSummary(cfg);
    if (summary.diffIds.length !== m.layers.length) throw invalid('layers from manifest don\'t match image configuration');
    if (explicit && top.digest === mdigest) {
      const have: Platform = { os: summary.os, architecture: summary.architecture, ...(summary.variant ? { variant: summary.variant } : {}) };
      if (!platformMatches(want, have)) {
        throw invalid(`image with reference ${familiarString(ref)} was found but does not match the specified platform: wanted ${platformString(want)}, actual: ${platformString(have)}`);
      }
    }
    return { repo, topDigest: top.digest, manifest: m, manifestBytes: bytes, manifestDigest: mdigest, configBytes: cfg, configDigest: m.config.digest, summary };
  }

  /** Pulls one tag or digest; true when the reference now names a different (new) image. */
  private async pullOne(ref: Reference, o: PullRequest, want: Platform, explicit: boolean): Promise<boolean> {
    const { images } = this.d;
    const r = await this.resolve(ref, o, want, explicit);
    const tagOrDigest = ref.digest ?? ref.tag ?? 'latest';
    o.out.message(`Pulling from ${ref.path}`, tagOrDigest);
    const before = images.tryGet(refString(ref))?.id;
    const chains = chainIds(r.summary.diffIds);
    const releases: Array<() => void> = [];
    const releaseAll = (): void => {
      for (const rel of releases.splice(0)) rel();
    };
    const created: Created = { chains: [], blobs: [] };
    try {
      for (const c of chains) releases.push(images.snapshots.hold(c), this.d.inflight.add(c));
      for (const l of r.manifest.layers) releases.push(this.d.inflight.add(l.digest));
      const tarSizes = new Map<number, number>();
      if (!images.tryGet(r.configDigest)) {
        try {
          await this.fetchLayers(r, chains, o, tarSizes, created);
        } catch (e) {
          releaseAll();
          this.cleanup(created);
          throw e;
        }
      }
      const baseBlobs = new Map<string, { digest: string; size: number; mediaType: string }>();
      r.manifest.layers.forEach((l, i) => {
        const c = chains[i];
        if (c !== undefined && images.content.has(l.digest)) baseBlobs.set(c, { digest: l.digest, size: l.size, mediaType: l.mediaType || 'application/vnd.docker.image.rootfs.diff.tar.gzip' });
      });
      const img = await images.createImage({
        configBytes: r.configBytes,
        base: chains.length ? chains[chains.length - 1]! : null,
        baseBlobs,
        tags: ref.tag !== undefined ? [refString(ref)] : [],
      });
      images.addDigestRef(img.id, `${refName(ref)}@${r.topDigest}`);
      const repoName = refName(ref);
      try {
        this.d.meta.addManifest(img.id, repoName, {
          digest: r.topDigest, manifestDigest: r.manifestDigest, mediaType: r.manifest.mediaType, manifest: r.manifestBytes.toString('base64'),
        });
        r.manifest.layers.forEach((l, i) => {
          const diffId = r.summary.diffIds[i];
          if (diffId === undefined) return;
          const ts = tarSizes.get(i);
          this.d.meta.addBlob(diffId, { digest: l.digest, size: l.size, mediaType: l.mediaType, ...(ts !== undefined ? { tarSize: ts } : {}) }, repoName);
        });
      } catch (e) {
        log.warn('could not record distribution metadata', { err: e instanceof Error ? e.message : String(e) });
      }
      images.logEvent(familiarString(ref), 'pull', familiarName(ref));
      o.out.message(`Digest: ${r.topDigest}`);
      return before !== img.id;
    } finally {
      releaseAll();
    }
  }

  private async fetchLayers(r: Resolved, chains: string[], o: PullRequest, tarSizes: Map<number, number>, created: Created): Promise<void> {
    const { images } = this.d;
    const layers = r.manifest.layers;
    const ac = new AbortController();
    const onOuterAbort = (): void => ac.abort(o.signal?.reason);
    o.signal?.addEventListener('abort', onOuterAbort, { once: true });
    const sem = new Semaphore(this.d.cfg.maxConcurrentDownloads);
    const committed: Array<Promise<void>> = [];
    const todo: number[] = [];
    layers.forEach((l, i) => {
      const c = chains[i]!;
      if (images.snapshots.hasLayer(c)) {
        o.out.status('Already exists', shortDigest(l.digest));
        committed.push(Promise.resolve());
      } else {
        o.out.status('Pulling fs layer', shortDigest(l.digest));
        todo.push(i);
        committed.push(Promise.resolve()); // replaced below
      }
    });
    const tasks: Array<Promise<void>> = [];
    for (const i of todo) {
      const parentReady = i > 0 ? committed[i - 1]! : Promise.resolve();
      const t = this.fetchLayer(r.repo, layers[i]!, chains[i]!, i > 0 ? chains[i - 1]! : null, parentReady, sem, o, ac.signal, created, (n) => tarSizes.set(i, n));
      t.catch(() => ac.abort(new Error('a layer failed')));
      committed[i] = t;
      tasks.push(t);
    }
    for (const t of committed) t.catch(() => undefined);
    const results = await Promise.allSettled(tasks);
    o.signal?.removeEventListener('abort', onOuterAbort);
    const failed = results.filter((x): x is PromiseRejectedResult => x.status === 'rejected').map((x) => x.reason as unknown);
    if (!failed.length) return;
    // The first real cause, not the cancellations it triggered in the other layers.
    throw failed.find((e) => !(e instanceof Error && /aborted|context canceled|a layer failed/.test(e.message))) ?? failed[0];
  }

  /** Removes what a failed pull created, unless an image or another pull in flight uses it. */
  private cleanup(created: Created): void {
    const { images, inflight } = this.d;
    const all = images.all();
    const usedChains = new Set(all.flatMap((i) => i.chainIds));
    const usedBlobs = new Set(all.flatMap((i) => i.layers.map((l) => l.blob?.digest).filter((d): d is string => d !== undefined)));
    for (const c of [...created.chains].reverse()) {
      if (usedChains.has(c) || inflight.has(c)) continue;
      try {
        images.snapshots.removeLayer(c);
      } catch (e) {
        log.debug('layer kept after failed pull', { layer: c, err: e instanceof Error ? e.message : String(e) });
      }
    }
    for (const b of created.blobs) {
      if (usedBlobs.has(b) || inflight.has(b)) continue;
      images.content.delete(b);
    }
  }

  private async fetchLayer(
    repo: Repository, d: Descriptor, chain: string, parent: string | null, parentReady: Promise<void>, sem: Semaphore,
    o: PullRequest, signal: AbortSignal, created: Created, onTarSize: (n: number) => void,
  ): Promise<void> {
    const { images } = this.d;
    const id = shortDigest(d.digest);
    if (!sem.available) o.out.status('Waiting', id);
    await sem.acquire(signal);
    let released = false;
    const release = (): void => {
      if (!released) {
        released = true;
        sem.release();
      }
    };
    const local = images.content.has(d.digest);
    // Everything after the download runs in an unpack job (a worker thread): hashing, writing the blob, gunzip, extraction, syncfs.
    const ingest = local ? null : images.content.ingestPath();
    let tmp: string | undefined;
    let job: UnpackHandle | undefined;
    let blobStored = false;
    try {
      tmp = images.snapshots.createTemp();
      job = startUnpack({ ingest, expectedSize: d.size, tmp, parent });
      const src: AsyncIterable<Buffer> = local ? images.content.createReadStream(d.digest) : resumableBlob(repo, d, {
        maxAttempts: this.d.cfg.maxDownloadAttempts,
        signal,
        onRetry: (s) => o.out.status(`Retrying in ${s} second${s > 1 ? 's' : ''}`, id),
        ...(process.env['BERTH_TEST_FAST_RETRY'] === '1' ? { secondMs: 50 } : {}),
      });
      let n = 0;
      try {
        for await (const b of coalesce(src, 1 << 20)) {
          n += b.length;
          if (n > d.size) throw layerVerificationError(d.digest); // more bytes than the descriptor's size
          await job.write(b);
          if (!local) o.out.progress(id, 'Downloading', n, d.size);
        }
      } finally {
        release(); // the download slot: the next layer may start while this one finishes unpacking
      }
      if (!local) o.out.status('Verifying Checksum', id);
      let r: UnpackResult;
      try {
        r = await job.end();
      } catch (e) {
        if (e instanceof BlobTooLongError) throw layerVerificationError(d.digest);
        // A decoder error from a blob that does not match its digest is a verification failure.
        if (e instanceof UnpackError && (e.digest !== d.digest || e.compressedSize !== d.size)) throw layerVerificationError(d.digest);
        throw e;
      }
      if (r.digest !== d.digest || r.compressedSize !== d.size) throw layerVerificationError(d.digest);
      if (!local) o.out.status('Download complete', id);
      if (chainIdOf(parent, r.diffId) !== chain) throw invalid(`layer content does not match chain ID ${chain} (diff ID ${r.diffId})`);
      // Verified: the blob goes into place, then the layer (once its parent is committed).
      if (ingest !== null) {
        images.content.adopt(ingest, d.digest);
        blobStored = true;
        created.blobs.push(d.digest);
      }
      await images.snapshots.commitTemp(tmp, { chainId: chain, parent, diffId: r.diffId, size: r.size }, { parentReady });
      created.chains.push(chain);
      onTarSize(r.tarSize);
      o.out.progress(id, 'Extracting', d.size, d.size);
      o.out.status('Pull complete', id);
    } catch (e) {
      await job?.abort();
      if (ingest !== null && !blobStored) images.content.discardIngest(ingest);
      if (tmp !== undefined) await images.snapshots.discardTemp(tmp);
      throw e;
    } finally {
      release();
    }
  }
}

function sha(b: Buffer): string {
  return `sha256:${createHash('sha256').update(b).digest('hex')}`;
}
