// docker save: one tar holding both Docker's archive layout (manifest.json,
// repositories) and an OCI image layout (oci-layout, index.json, blobs/) over
// the same blobs, as Docker 25+ writes it, so it loads into Docker (20.10 and
// later), Podman, skopeo and containerd. Every layer is the uncompressed tar
// whose digest is its diff ID, stored once at blobs/sha256/<diff-id> however
// many images share it. Metadata goes first, layers last, so a loader can
// unpack layers while the archive streams in (see archive-load.ts).
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { decompress, packTar, type TarInput } from '../common/archive';
import { invalid, notFound } from '../common/errors';
import { familiarName, familiarString, parseAnyReference, refName, refString, tagNameOnly, type Reference } from '../common/reference';
import type { DistributionMeta } from './distribution-meta';
import type { ImageRecord, ImageService } from './service';

const MT_OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
const MT_OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const MT_OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
const MT_OCI_LAYER = 'application/vnd.oci.image.layer.v1.tar';

interface SaveImage {
  img: ImageRecord;
  /** References to record, normalised (docker.io/library/x:tag). */
  refs: Reference[];
}

interface LayerSource {
  diffId: string;
  size: number;
  open: () => Promise<AsyncIterable<Buffer>>;
}

/** Docker's tarexport parseNames: IDs, name:tag, name@digest, or a bare name (every tag of it). */
function resolveNames(images: ImageService, names: string[]): SaveImage[] {
  const out = new Map<string, SaveImage>();
  const addRef = (img: ImageRecord, r?: Reference): void => {
    let e = out.get(img.id);
    if (!e) {
      e = { img, refs: [] };
      out.set(img.id, e);
    }
    if (r && !e.refs.some((x) => refString(x) === refString(r))) e.refs.push(r);
  };
  for (const name of names) {
    const any = parseAnyReference(name);
    if (any.kind === 'id') {
      addRef(images.get(any.digest));
      continue;
    }
    const ref = any.ref;
    if (ref.tag === undefined && ref.digest === undefined) {
      // A bare name: every reference of that repository (an image ID prefix otherwise).
      const tagged: Array<[ImageRecord, Reference]> = [];
      for (const img of images.all()) {
        for (const t of [...img.repoTags, ...img.repoDigests]) {
          const r = tagNameOnly(parseAnyRef(t));
          if (refName(r) === refName(ref)) tagged.push([img, r]);
        }
      }
      if (tagged.length) {
        for (const [img, r] of tagged) addRef(img, r);
        continue;
      }
      const byId = /^[a-f0-9]{1,64}$/.test(name) ? images.tryGet(name) : undefined;
      if (byId) {
        addRef(byId);
        continue;
      }
      throw notFound(`No such image: ${name}`);
    }
    const img = images.tryGet(refString(ref));
    if (!img) throw notFound('reference does not exist');
    addRef(img, ref);
  }
  return [...out.values()];
}

function parseAnyRef(s: string): Reference {
  const a = parseAnyReference(s);
  if (a.kind !== 'named') throw invalid(`not a name: ${s}`);
  return a.ref;
}

async function countTar(open: () => Promise<AsyncIterable<Buffer>>): Promise<{ size: number; digest: string }> {
  const h = createHash('sha256');
  let n = 0;
  for await (const c of await open()) {
    h.update(c);
    n += c.length;
  }
  return { size: n, digest: `sha256:${h.digest('hex')}` };
}

/** How to read each layer's uncompressed tar, and its size (needed up front for the tar header). */
async function layerSource(images: ImageService, meta: DistributionMeta | undefined, diffId: string, chainId: string, blob: ImageRecord['layers'][number]['blob']): Promise<LayerSource> {
  const content = images.content;
  if (blob && content.has(blob.digest) && blob.digest === diffId) {
    return { diffId, size: content.size(blob.digest), open: async () => content.createReadStream(blob.digest) };
  }
  const open = async (): Promise<AsyncIterable<Buffer>> => {
    if (blob && content.has(blob.digest)) return decompress(content.createReadStream(blob.digest));
    return images.layerTar(chainId);
  };
  let size = blob && content.has(blob.digest) ? meta?.tarSize(diffId) : undefined;
  if (size === undefined) {
    // Unknown uncompressed size: one pass to measure (and to check the content still is the diff ID's).
    const r = await countTar(open);
    if (r.digest !== diffId) throw invalid(`layer ${diffId} cannot be exported: its tar no longer matches the diff ID (${r.digest})`);
    size = r.size;
  }
  return { diffId, size, open };
}

/**
 * Resolves names (errors such as "reference does not exist" come before any
 * output) and returns the archive as a stream.
 */
export async function saveImages(images: ImageService, meta: DistributionMeta | undefined, names: string[]): Promise<Readable> {
  const list = resolveNames(images, names);
  const layers = new Map<string, LayerSource>();
  for (const { img } of list) {
    for (const l of img.layers) {
      if (layers.has(l.diffId)) continue;
      layers.set(l.diffId, await layerSource(images, meta, l.diffId, l.chainId, l.blob));
    }
  }
  const files: Array<{ name: string; data: Buffer }> = [];
  const blobNames = new Set<string>();
  const blob = (digest: string): string => `blobs/sha256/${digest.slice(7)}`;
  const dockerManifest: unknown[] = [];
  const repositories: Record<string, Record<string, string>> = {};
  const index: Array<Record<string, unknown>> = [];
  for (const { img, refs } of list) {
    const config = images.configBytes(img.id);
    if (!blobNames.has(img.id)) {
      blobNames.add(img.id);
      files.push({ name: blob(img.id), data: config });
    }
    const manifest = Buffer.from(JSON.stringify({
      schemaVersion: 2,
      mediaType: MT_OCI_MANIFEST,
      config: { mediaType: MT_OCI_CONFIG, digest: img.id, size: config.length },
      layers: img.layers.map((l) => ({ mediaType: MT_OCI_LAYER, digest: l.diffId, size: layers.get(l.diffId)!.size })),
    }));
    const mdigest = `sha256:${createHash('sha256').update(manifest).digest('hex')}`;
    if (!blobNames.has(mdigest)) {
      blobNames.add(mdigest);
      files.push({ name: blob(mdigest), data: manifest });
    }
    const tags = refs.filter((r) => r.tag !== undefined);
    dockerManifest.push({ Config: blob(img.id), RepoTags: tags.length ? tags.map(familiarString) : null, Layers: img.layers.map((l) => blob(l.diffId)) });
    const top = img.layers[img.layers.length - 1];
    for (const r of tags) {
      if (top) (repositories[familiarName(r)] ??= {})[r.tag!] = top.diffId.slice(7);
      index.push({
        mediaType: MT_OCI_MANIFEST, digest: mdigest, size: manifest.length,
        annotations: { 'io.containerd.image.name': refString(r), 'org.opencontainers.image.ref.name': r.tag },
      });
    }
    if (!tags.length) index.push({ mediaType: MT_OCI_MANIFEST, digest: mdigest, size: manifest.length });
    images.logEvent(img.id, 'save', img.id);
  }
  const meta0: Array<{ name: string; data: Buffer }> = [
    { name: 'manifest.json', data: Buffer.from(JSON.stringify(dockerManifest)) },
    { name: 'index.json', data: Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MT_OCI_INDEX, manifests: index })) },
    { name: 'oci-layout', data: Buffer.from('{"imageLayoutVersion":"1.0.0"}') },
  ];
  if (Object.keys(repositories).length) meta0.push({ name: 'repositories', data: Buffer.from(JSON.stringify(repositories)) });
  async function* entries(): AsyncGenerator<TarInput> {
    const common = { mode: 0o644, uid: 0, gid: 0, mtime: 0 };
    for (const f of meta0) yield { ...common, name: f.name, type: 'file', size: f.data.length, body: f.data };
    yield { ...common, mode: 0o755, name: 'blobs/', type: 'dir' };
    yield { ...common, mode: 0o755, name: 'blobs/sha256/', type: 'dir' };
    for (const f of files) yield { ...common, name: f.name, type: 'file', size: f.data.length, body: f.data };
    for (const l of layers.values()) {
      const src = await l.open();
      yield { ...common, name: blob(l.diffId), type: 'file', size: l.size, body: chunks(src) };
    }
  }
  return packTar(entries());
}

async function* chunks(src: AsyncIterable<Buffer | string>): AsyncGenerator<Buffer> {
  for await (const c of src) yield typeof c === 'string' ? Buffer.from(c) : c;
}
