// docker push: for each layer (5 at a time), a HEAD of every digest the layer
// is known under skips it ("Layer already exists"), a cross-repository mount
// from another repository of the same registry avoids the upload ("Mounted
// from ..."), else the stored compressed blob is uploaded as is, or the layer
// tar is gzip-compressed on the fly. Uploads are monolithic (one PUT) or
// chunked (PATCH with Content-Range) by configuration; compressed-on-the-fly
// layers stream in one PATCH. Then the config and the manifest — the very
// manifest the image was pulled with when its blobs are all there, so a
// pulled image pushed again keeps its digest.
import { createHash } from 'node:crypto';
import { Readable, Transform } from 'node:stream';
import { createGzip, constants as zc } from 'node:zlib';
import { invalid, notFound } from '../common/errors';
import { log } from '../common/log';
import { familiarName, familiarString, parseNormalizedNamed, refName, refString, withTag, type Reference } from '../common/reference';
import type { ImageRecord, ImageService, LayerRef } from '../images';
import type { DistributionMeta, ManifestRecord } from '../images/distribution-meta';
import type { AuthConfig } from './auth';
import type { RegistryClient, Repository } from './client';
import type { RegistryConfig } from './config';
import {
  buildDockerManifest, marshalIndent3, MT_DOCKER_LAYER_GZIP, MT_DOCKER_MANIFEST, MT_OCI_CONFIG, MT_OCI_LAYER_GZIP, MT_OCI_LAYER_TAR, MT_OCI_LAYER_ZSTD,
  MT_OCI_MANIFEST, parseManifest,
} from './media';
import type { ProgressOutput } from './progress';
import { Semaphore, shortDigest } from './util';

export interface PushRequest {
  /** The name from the path (any user form, without tag). */
  name: string;
  /** tag query value; empty = every tag of the repository. */
  tag?: string;
  auth: AuthConfig;
  out: ProgressOutput;
  signal?: AbortSignal;
}

export interface PushDeps {
  images: ImageService;
  meta: DistributionMeta;
  client: RegistryClient;
  cfg: RegistryConfig;
}

interface PushedLayer {
  mediaType: string;
  digest: string;
  size: number;
}

/** gzip level for layers compressed at push time (Docker's default compression). */
const GZIP_LEVEL = zc.Z_DEFAULT_COMPRESSION;

function isCompressed(mt: string): boolean {
  return /gzip|zstd/.test(mt);
}

export class Pusher {
  constructor(private readonly d: PushDeps) {}

  async push(o: PushRequest): Promise<void> {
    let ref = parseNormalizedNamed(o.name);
    if (ref.digest !== undefined) throw invalid('cannot push a digest reference');
    if (o.tag) ref = withTag(ref, o.tag);
    o.out.message(`The push refers to repository [${refName(ref)}]`);
    let refs: Reference[];
    if (ref.tag !== undefined) refs = [ref];
    else {
      // Every tag of the repository, as Docker does for a push without a tag.
      const name = refName(ref);
      refs = [];
      for (const img of this.d.images.all()) {
        for (const t of img.repoTags) {
          const r = parseNormalizedNamed(t);
          if (refName(r) === name && r.tag !== undefined) refs.push(r);
        }
      }
      if (!refs.length) throw notFound(`An image does not exist locally with the tag: ${familiarName(ref)}`);
    }
    const repo = await this.d.client.repository(ref.domain, ref.path, o.auth, ['pull', 'push'], o.signal);
    for (const r of refs) {
      const img = this.d.images.tryGet(refString(r));
      if (!img) throw notFound(`An image does not exist locally with the tag: ${familiarName(r)}`);
      await this.pushTag(repo, r, img, o);
    }
  }

  private async pushTag(repo: Repository, ref: Reference, img: ImageRecord, o: PushRequest): Promise<void> {
    const repoName = refName(ref);
    // The manifest this image came with (from any repository), if its config is this image's.
    const stored = this.storedManifest(img);
    const sem = new Semaphore(this.d.cfg.maxConcurrentUploads);
    const layers = img.layers;
    // Docker lists (and starts) layers from the top one down.
    const order = layers.map((_, i) => i).reverse();
    for (const i of order) o.out.status('Preparing', shortDigest(layers[i]!.diffId));
    const results: Array<PushedLayer | undefined> = new Array(layers.length);
    const ac = new AbortController();
    const onAbort = (): void => ac.abort(o.signal?.reason);
    o.signal?.addEventListener('abort', onAbort, { once: true });
    const tasks = order.map(async (i) => {
      const l = layers[i]!;
      const id = shortDigest(l.diffId);
      if (!sem.available) o.out.status('Waiting', id);
      await sem.acquire(ac.signal);
      try {
        results[i] = await this.pushLayer(repo, repoName, l, stored?.layers[i], o, id, ac.signal);
      } finally {
        sem.release();
      }
    });
    for (const t of tasks) t.catch(() => ac.abort(new Error('a layer failed')));
    const settled = await Promise.allSettled(tasks);
    o.signal?.removeEventListener('abort', onAbort);
    const failed = settled.filter((x): x is PromiseRejectedResult => x.status === 'rejected').map((x) => x.reason as unknown);
    if (failed.length) throw failed.find((e) => !(e instanceof Error && /aborted|a layer failed/.test(e.message))) ?? failed[0];
    const pushed = results as PushedLayer[];

    // The config blob.
    const config = this.d.images.configBytes(img.id);
    if ((await repo.blobSize(img.id, o.signal)) === undefined) await this.uploadBuffer(repo, config, img.id, o.signal);

    // The manifest: the stored one when it describes exactly these blobs, else a fresh Docker schema2 (or OCI for zstd layers).
    let bytes: Buffer;
    let mediaType: string;
    if (stored && stored.layers.every((l, i) => l.digest === pushed[i]?.digest)) {
      bytes = stored.bytes;
      mediaType = stored.mediaType;
    } else if (pushed.some((l) => /zstd/.test(l.mediaType))) {
      mediaType = MT_OCI_MANIFEST;
      bytes = Buffer.from(marshalIndent3({
        schemaVersion: 2,
        mediaType,
        config: { mediaType: MT_OCI_CONFIG, digest: img.id, size: config.length },
        layers: pushed.map((l) => ({ mediaType: /zstd/.test(l.mediaType) ? MT_OCI_LAYER_ZSTD : /gzip/.test(l.mediaType) ? MT_OCI_LAYER_GZIP : MT_OCI_LAYER_TAR, digest: l.digest, size: l.size })),
      }));
    } else {
      mediaType = MT_DOCKER_MANIFEST;
      bytes = buildDockerManifest({ digest: img.id, size: config.length }, pushed.map((l) => ({ mediaType: MT_DOCKER_LAYER_GZIP, digest: l.digest, size: l.size })));
    }
    const tag = ref.tag ?? 'latest';
    const digest = await repo.putManifest(tag, bytes, mediaType, o.signal);
    o.out.message(`${tag}: digest: ${digest} size: ${bytes.length}`);
    o.out.aux({ Tag: tag, Digest: digest, Size: bytes.length });
    try {
      this.d.images.addDigestRef(img.id, `${repoName}@${digest}`);
      this.d.meta.addManifest(img.id, repoName, { digest, manifestDigest: digest, mediaType, manifest: bytes.toString('base64') });
    } catch (e) {
      log.warn('could not record the pushed manifest', { err: e instanceof Error ? e.message : String(e) });
    }
    this.d.images.logEvent(familiarString(ref), 'push', familiarName(ref));
  }

  /** A stored manifest whose config is this image (pulled or pushed before), with its layer descriptors. */
  private storedManifest(img: ImageRecord): { bytes: Buffer; mediaType: string; layers: PushedLayer[] } | undefined {
    let recs: Map<string, ManifestRecord>;
    try {
      recs = this.d.meta.manifestsFor(img.id);
    } catch {
      return undefined;
    }
    for (const rec of recs.values()) {
      try {
        const bytes = Buffer.from(rec.manifest, 'base64');
        if (`sha256:${createHash('sha256').update(bytes).digest('hex')}` !== rec.manifestDigest) continue;
        const m = parseManifest(bytes, rec.mediaType);
        if (m.kind !== 'manifest' || m.config.digest !== img.id || m.layers.length !== img.layers.length) continue;
        return { bytes, mediaType: m.mediaType, layers: m.layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })) };
      } catch {
        /* a bad record: ignore */
      }
    }
    return undefined;
  }

  private async pushLayer(repo: Repository, repoName: string, l: LayerRef, preferred: PushedLayer | undefined, o: PushRequest, id: string, signal: AbortSignal): Promise<PushedLayer> {
    const { images, meta } = this.d;
    // Everything this layer's content is known as: the stored manifest's blob, blobs seen in registries, the local blob.
    const cands: Array<PushedLayer & { repos: string[] }> = [];
    const add = (c: PushedLayer, repos: string[]): void => {
      const have = cands.find((x) => x.digest === c.digest);
      if (have) {
        for (const r of repos) if (!have.repos.includes(r)) have.repos.push(r);
      } else cands.push({ ...c, repos: [...repos] });
    };
    let known: ReturnType<DistributionMeta['blobsFor']> = [];
    try {
      known = meta.blobsFor(l.diffId);
    } catch {
      /* no record */
    }
    if (preferred) add(preferred, known.find((k) => k.digest === preferred.digest)?.repos ?? []);
    for (const k of known) if (isCompressed(k.mediaType)) add({ digest: k.digest, size: k.size, mediaType: k.mediaType }, k.repos);
    if (l.blob && isCompressed(l.blob.mediaType)) add({ digest: l.blob.digest, size: l.blob.size, mediaType: l.blob.mediaType }, []);

    // 1. Already in the target repository?
    for (const c of cands) {
      const size = await repo.blobSize(c.digest, signal);
      if (size !== undefined) {
        o.out.status('Layer already exists', id);
        this.record(l.diffId, c, repoName);
        return strip(c);
      }
    }
    // 2. Mountable from another repository of the same registry?
    const domain = parseNormalizedNamed(repoName).domain;
    for (const c of cands) {
      for (const from of c.repos) {
        let fr: Reference;
        try {
          fr = parseNormalizedNamed(from);
        } catch {
          continue;
        }
        if (fr.domain !== domain || refName(fr) === repoName) continue;
        try {
          const up = await repo.startUpload({ digest: c.digest, from: fr.path }, signal);
          if (up.mounted) {
            o.out.status(`Mounted from ${fr.path}`, id);
            this.record(l.diffId, c, repoName);
            return strip(c);
          }
          await repo.cancelUpload(up.location);
        } catch (e) {
          log.debug('cross-repository mount failed', { digest: c.digest, from, err: e instanceof Error ? e.message : String(e) });
        }
      }
    }
    // 3. A compressed blob we hold: upload it unchanged.
    for (const c of cands) {
      if (!images.content.has(c.digest)) continue;
      const size = images.content.size(c.digest);
      if (size !== c.size) continue;
      await this.uploadStream(repo, () => images.content.createReadStream(c.digest), { digest: c.digest, size }, (n) => o.out.progress(id, 'Pushing', n, size), signal);
      o.out.status('Pushed', id);
      this.record(l.diffId, c, repoName);
      return strip(c);
    }
    // 4. Compress the layer tar now.
    const total = images.snapshots.hasLayer(l.chainId) ? images.snapshots.layerInfo(l.chainId).size : 0;
    let read = 0;
    const counter = new Transform({
      transform(chunk: Buffer, _enc, cb): void {
        read += chunk.length;
        o.out.progress(id, 'Pushing', Math.min(read, total || read), total || read);
        cb(null, chunk);
      },
    });
    const res = await this.uploadStream(repo, () => images.layerTar(l.chainId).pipe(counter).pipe(createGzip({ level: GZIP_LEVEL, chunkSize: 128 * 1024 })), undefined, () => undefined, signal);
    o.out.status('Pushed', id);
    const desc = { digest: res.digest, size: res.size, mediaType: MT_DOCKER_LAYER_GZIP };
    this.record(l.diffId, desc, repoName);
    return desc;
  }

  private record(diffId: string, c: PushedLayer, repoName: string): void {
    try {
      this.d.meta.addBlob(diffId, { digest: c.digest, size: c.size, mediaType: c.mediaType }, repoName);
    } catch (e) {
      log.debug('could not record blob metadata', { err: e instanceof Error ? e.message : String(e) });
    }
  }

  private async uploadBuffer(repo: Repository, data: Buffer, digest: string, signal?: AbortSignal): Promise<void> {
    const up = await repo.startUpload(undefined, signal);
    if (up.mounted) return;
    await repo.putUpload(up.location, digest, data, data.length, signal);
  }

  /**
   * Uploads a stream: with a known digest and size, one monolithic PUT (or
   * PATCH chunks of uploadChunkSize); without, one streamed PATCH hashing on
   * the way, then the closing PUT.
   */
  private async uploadStream(
    repo: Repository, open: () => Readable, known: { digest: string; size: number } | undefined, onProgress: (n: number) => void, signal: AbortSignal,
  ): Promise<{ digest: string; size: number }> {
    const up = await repo.startUpload(undefined, signal);
    if (up.mounted) return known ?? { digest: '', size: 0 };
    let location = up.location;
    const hash = createHash('sha256');
    let n = 0;
    async function* counted(src: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
      for await (const c of src) {
        hash.update(c);
        n += c.length;
        onProgress(n);
        yield c;
      }
    }
    try {
      const chunk = this.d.cfg.uploadChunkSize;
      if (chunk > 0) {
        // Chunked: PATCH fixed-size ranges, then PUT with the digest.
        let buf: Buffer[] = [];
        let len = 0;
        let start = 0;
        const flush = async (): Promise<void> => {
          if (!len) return;
          const body = Buffer.concat(buf, len);
          location = await repo.patchUpload(location, body, { start, end: start + len - 1 }, signal);
          start += len;
          buf = [];
          len = 0;
        };
        for await (const c of counted(open())) {
          let off = 0;
          while (off < c.length) {
            const take = Math.min(chunk - len, c.length - off);
            buf.push(c.subarray(off, off + take));
            len += take;
            off += take;
            if (len === chunk) await flush();
          }
        }
        await flush();
        const digest = `sha256:${hash.digest('hex')}`;
        if (known && known.digest !== digest) throw new Error(`blob ${known.digest} changed while pushing (read ${digest})`);
        await repo.putUpload(location, digest, undefined, 0, signal);
        return { digest, size: n };
      }
      if (known) {
        await repo.putUpload(location, known.digest, Readable.from(counted(open())), known.size, signal);
        return known;
      }
      location = await repo.patchUpload(location, Readable.from(counted(open())), undefined, signal);
      const digest = `sha256:${hash.digest('hex')}`;
      await repo.putUpload(location, digest, undefined, 0, signal);
      return { digest, size: n };
    } catch (e) {
      await repo.cancelUpload(location);
      throw e;
    }
  }
}

function strip(c: PushedLayer): PushedLayer {
  return { mediaType: c.mediaType, digest: c.digest, size: c.size };
}
