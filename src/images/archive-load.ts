// docker load: reads a Docker archive (manifest.json; Docker 20.10's
// <id>/layer.tar or 25's blobs/sha256/...) or an OCI image layout (index.json),
// plain or compressed, from a stream, in one pass: every sizeable entry goes
// into the content store as it arrives (its digest computed on the way), and
// when manifest.json and the image config came first (berth's own archives
// write them first) a layer is also unpacked into its snapshot while it
// streams. Whatever could not be unpacked on the fly is unpacked from the
// content store once the archive has been read. Layers already present are
// skipped; each layer's content is checked against its diff ID.
import { readTar, decompress, type ByteSource } from '../common/archive';
import { invalid } from '../common/errors';
import { log } from '../common/log';
import { familiarString, parseNormalizedNamed, refString, tagNameOnly, type Reference } from '../common/reference';
import { ProgressOutput } from '../distribution/progress';
import { chainIds } from '../snapshots';
import type { ImageService } from './service';

const MT_LAYER_TAR = 'application/vnd.docker.image.rootfs.diff.tar';
const MT_LAYER_GZIP = 'application/vnd.docker.image.rootfs.diff.tar.gzip';
/** Entries up to this size are kept in memory (configs, manifests, tiny layers). */
const SMALL = 1 << 20;

export interface LoadOptions {
  quiet: boolean;
}

interface Stored {
  digest: string;
  size: number;
}

interface ImageEntry {
  config: string;
  repoTags: string[];
  layers: string[];
}

function cleanName(n: string): string {
  let s = n.replace(/\\/g, '/');
  while (s.startsWith('./')) s = s.slice(2);
  s = s.replace(/^\/+/, '');
  const parts: string[] = [];
  for (const p of s.split('/')) {
    if (p === '' || p === '.') continue;
    if (p === '..') throw invalid(`invalid archive entry name ${JSON.stringify(n)}`);
    parts.push(p);
  }
  return parts.join('/');
}

function parseJson(b: Buffer, what: string): unknown {
  try {
    return JSON.parse(b.toString('utf8'));
  } catch {
    throw invalid(`invalid ${what} in the image archive`);
  }
}

function parseDockerManifest(b: Buffer): ImageEntry[] {
  const v = parseJson(b, 'manifest.json');
  if (!Array.isArray(v)) throw invalid('invalid manifest.json in the image archive');
  return v.map((e: unknown) => {
    const o = (typeof e === 'object' && e !== null ? e : {}) as Record<string, unknown>;
    const config = o['Config'];
    const layers = o['Layers'];
    if (typeof config !== 'string' || !Array.isArray(layers) || !layers.every((l) => typeof l === 'string')) throw invalid('invalid manifest.json in the image archive');
    const tags = Array.isArray(o['RepoTags']) ? (o['RepoTags'] as unknown[]).filter((t): t is string => typeof t === 'string') : [];
    return { config: cleanName(config), repoTags: tags, layers: (layers as string[]).map(cleanName) };
  });
}

/** Loads images from an archive stream; writes Docker's {"stream":"Loaded image: ..."} messages. */
export async function loadImages(images: ImageService, body: ByteSource, opts: LoadOptions, write: (m: unknown) => void): Promise<void> {
  const { content, snapshots } = images;
  const small = new Map<string, Buffer>();
  const stored = new Map<string, Stored>();
  const holds: Array<() => void> = [];
  /** Layers this load committed, removed at the end unless an image uses them (a failed load leaves nothing). */
  const newChains: string[] = [];
  /** Blobs this load wrote, removed at the end unless an image records them. */
  const written = new Set<string>();
  let manifest: ImageEntry[] | undefined;
  const applied = new Map<string, { digest: string; size: number; mediaType: string }>();
  const out = new ProgressOutput(write);
  const progress = (id: string, current: number, total: number): void => {
    if (!opts.quiet) out.progress(id, 'Loading layer', current, total);
  };

  /** For a layer entry arriving after manifest.json (and its image's config): the chain it builds and its parent, if that parent exists. */
  const streamTarget = (name: string): { chain: string; parent: string | null; diffId: string } | undefined => {
    if (!manifest) return undefined;
    for (const e of manifest) {
      const i = e.layers.indexOf(name);
      if (i < 0) continue;
      const cfg = small.get(e.config);
      if (!cfg) return undefined;
      const ids = diffIdsOf(cfg);
      const chains = chainIds(ids);
      const chain = chains[i];
      const parent = i > 0 ? chains[i - 1]! : null;
      if (chain === undefined || ids[i] === undefined) return undefined;
      if (snapshots.hasLayer(chain)) return undefined;
      if (parent !== null && !snapshots.hasLayer(parent)) return undefined;
      return { chain, parent, diffId: ids[i]! };
    }
    return undefined;
  };

  try {
    for await (const entry of readTar(coalesce(await decompress(body)))) {
      const h = entry.header;
      if (h.type !== 'file') continue;
      const name = cleanName(h.name);
      if (h.size <= SMALL) {
        const chunks: Buffer[] = [];
        for await (const c of entry.body) chunks.push(c);
        const b = Buffer.concat(chunks, h.size);
        small.set(name, b);
        if (name === 'manifest.json') manifest = parseDockerManifest(b);
        continue;
      }
      const target = streamTarget(name);
      if (target) {
        // Unpack while it streams, keeping the blob too.
        const release = snapshots.hold(target.parent);
        holds.push(snapshots.hold(target.chain));
        try {
          const tee = await content.tee(entry.body);
          let n = 0;
          const id = target.diffId.slice(7, 19);
          async function* counted(): AsyncGenerator<Buffer> {
            for await (const c of tee.stream) {
              n += c.length;
              progress(id, n, h.size);
              yield c;
            }
          }
          try {
            await snapshots.applyLayer(target.chain, target.parent, counted());
          } catch (e) {
            await tee.abort();
            throw e;
          }
          const desc = await tee.commit();
          newChains.push(target.chain);
          written.add(desc.digest);
          stored.set(name, desc);
          applied.set(target.chain, { digest: desc.digest, size: desc.size, mediaType: desc.digest === target.diffId ? MT_LAYER_TAR : MT_LAYER_GZIP });
        } finally {
          release();
        }
        continue;
      }
      const desc = await content.put(entry.body);
      written.add(desc.digest);
      stored.set(name, desc);
    }

    let list: ImageEntry[];
    if (manifest) list = manifest;
    else if (small.has('index.json')) list = ociEntries(small, stored, content);
    else throw invalid('invalid image archive: it holds neither manifest.json nor an OCI index.json');

    for (const e of list) {
      const cfg = small.get(e.config) ?? (stored.has(e.config) ? content.readBuffer(stored.get(e.config)!.digest) : undefined);
      if (!cfg) throw invalid(`invalid image archive: config ${e.config} is missing`);
      const ids = diffIdsOf(cfg);
      if (ids.length !== e.layers.length) throw invalid(`invalid image archive: ${e.config} names ${ids.length} layers, manifest.json ${e.layers.length}`);
      const chains = chainIds(ids);
      const baseBlobs = new Map<string, { digest: string; size: number; mediaType: string }>();
      for (let i = 0; i < chains.length; i++) {
        const chain = chains[i]!;
        const path = e.layers[i]!;
        holds.push(snapshots.hold(chain));
        const done = applied.get(chain);
        if (done) {
          baseBlobs.set(chain, done);
          continue;
        }
        let blob = stored.get(path);
        const mem = small.get(path);
        if (!blob && mem) {
          blob = await content.put(mem);
          written.add(blob.digest);
          stored.set(path, blob);
        }
        if (!blob) throw invalid(`invalid image archive: layer ${path} is missing`);
        const mediaType = blob.digest === ids[i] ? MT_LAYER_TAR : MT_LAYER_GZIP;
        if (!snapshots.hasLayer(chain)) {
          const id = ids[i]!.slice(7, 19);
          let n = 0;
          const total = blob.size;
          const src = content.createReadStream(blob.digest);
          async function* counted(): AsyncGenerator<Buffer> {
            for await (const c of src) {
              n += (c as Buffer).length;
              progress(id, n, total);
              yield c as Buffer;
            }
          }
          await snapshots.applyLayer(chain, i > 0 ? chains[i - 1]! : null, counted());
          newChains.push(chain);
        }
        const b = { digest: blob.digest, size: blob.size, mediaType };
        applied.set(chain, b);
        baseBlobs.set(chain, b);
      }
      const img = await images.createImage({ configBytes: cfg, base: chains.length ? chains[chains.length - 1]! : null, baseBlobs });
      const tags: Reference[] = [];
      for (const t of e.repoTags) {
        try {
          const r = tagNameOnly(parseNormalizedNamed(t));
          if (r.digest === undefined) tags.push(r);
        } catch (err) {
          log.warn('skipping invalid tag in image archive', { tag: t, err: err instanceof Error ? err.message : String(err) });
        }
      }
      for (const r of tags) {
        const old = images.tryGet(refString(r));
        if (old && old.id !== img.id) {
          write({ stream: `The image ${familiarString(r)} already exists, renaming the old one with ID ${old.id} to empty string\n` });
        }
        images.tag(img.id, refString(r));
        write({ stream: `Loaded image: ${familiarString(r)}\n` });
      }
      if (!tags.length) write({ stream: `Loaded image ID: ${img.id}\n` });
      images.logEvent(img.id, 'load', img.id);
    }
  } finally {
    for (const r of holds) r();
    // What no image took (a failed load, files that were not layers) goes again.
    const all = images.all();
    const usedChains = new Set(all.flatMap((i) => i.chainIds));
    for (const c of newChains.reverse()) {
      if (usedChains.has(c)) continue;
      try {
        snapshots.removeLayer(c);
      } catch (e) {
        log.debug('layer kept after failed load', { layer: c, err: e instanceof Error ? e.message : String(e) });
      }
    }
    const used = new Set(all.flatMap((i) => [i.id, ...i.layers.map((l) => l.blob?.digest ?? '')]));
    for (const d of written) if (!used.has(d)) content.delete(d);
  }
}

/** Re-chunks a stream into ≥1 MiB pieces: socket-sized chunks make every stage of the pipeline pay per chunk. */
async function* coalesce(src: AsyncIterable<Uint8Array | string>, size = 1 << 20): AsyncGenerator<Buffer> {
  let parts: Buffer[] = [];
  let n = 0;
  for await (const c of src) {
    const b = Buffer.isBuffer(c) ? c : typeof c === 'string' ? Buffer.from(c) : Buffer.from(c.buffer, c.byteOffset, c.byteLength);
    parts.push(b);
    n += b.length;
    if (n >= size) {
      yield parts.length === 1 ? parts[0]! : Buffer.concat(parts, n);
      parts = [];
      n = 0;
    }
  }
  if (n > 0) yield parts.length === 1 ? parts[0]! : Buffer.concat(parts, n);
}

function diffIdsOf(cfg: Buffer): string[] {
  const v = parseJson(cfg, 'image config') as { rootfs?: { diff_ids?: unknown } };
  const ids = v?.rootfs?.diff_ids;
  if (!Array.isArray(ids) || !ids.every((d) => typeof d === 'string' && /^sha256:[a-f0-9]{64}$/.test(d))) throw invalid('invalid image config in the archive: bad rootfs.diff_ids');
  return ids as string[];
}

/** Image entries of an OCI layout (index.json → manifests, nested indexes followed; the host platform first). */
function ociEntries(small: Map<string, Buffer>, stored: Map<string, Stored>, content: ImageService['content']): ImageEntry[] {
  const read = (digest: string): Buffer => {
    const p = `blobs/${digest.replace(':', '/')}`;
    const b = small.get(p) ?? (stored.has(p) ? content.readBuffer(stored.get(p)!.digest) : undefined);
    if (!b) throw invalid(`invalid OCI layout: blob ${digest} is missing`);
    return b;
  };
  const out: ImageEntry[] = [];
  const visit = (indexBytes: Buffer, name: string | undefined, depth: number): void => {
    if (depth > 4) throw invalid('invalid OCI layout: indexes nested too deeply');
    const idx = parseJson(indexBytes, 'index.json') as { manifests?: unknown };
    if (!Array.isArray(idx.manifests)) throw invalid('invalid OCI layout: index without manifests');
    for (const d of idx.manifests as Array<Record<string, unknown>>) {
      const digest = typeof d['digest'] === 'string' ? d['digest'] : '';
      if (!/^sha256:[a-f0-9]{64}$/.test(digest)) continue;
      const ann = (typeof d['annotations'] === 'object' && d['annotations'] !== null ? d['annotations'] : {}) as Record<string, unknown>;
      let ref = name;
      const full = ann['io.containerd.image.name'];
      const short = ann['org.opencontainers.image.ref.name'];
      if (typeof full === 'string') ref = full;
      else if (typeof short === 'string') {
        try {
          parseNormalizedNamed(short);
          if (short.includes(':') || short.includes('/')) ref = short;
        } catch {
          /* a bare tag: no name to give it */
        }
      }
      const bytes = read(digest);
      const m = parseJson(bytes, `manifest ${digest}`) as { mediaType?: unknown; manifests?: unknown; config?: { digest?: unknown }; layers?: unknown };
      if (Array.isArray(m.manifests)) {
        // A multi-platform index: the host's platform only.
        const arch = process.arch === 'x64' ? 'amd64' : process.arch;
        const pick = (m.manifests as Array<Record<string, unknown>>).find((x) => {
          const p = (x['platform'] ?? {}) as Record<string, unknown>;
          return p['os'] === 'linux' && p['architecture'] === arch;
        });
        if (pick) visit(Buffer.from(JSON.stringify({ manifests: [{ ...pick, annotations: ann }] })), ref, depth + 1);
        continue;
      }
      const cfg = m.config?.digest;
      if (typeof cfg !== 'string' || !Array.isArray(m.layers)) continue;
      const layers = (m.layers as Array<Record<string, unknown>>).map((l) => `blobs/${String(l['digest']).replace(':', '/')}`);
      const existing = out.find((x) => x.config === `blobs/${cfg.replace(':', '/')}`);
      if (existing) {
        if (ref && !existing.repoTags.includes(ref)) existing.repoTags.push(ref);
        continue;
      }
      out.push({ config: `blobs/${cfg.replace(':', '/')}`, repoTags: ref ? [ref] : [], layers });
    }
  };
  visit(small.get('index.json')!, undefined, 0);
  return out;
}
