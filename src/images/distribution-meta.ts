// What berth knows about images in registries, kept beside the image store
// (Docker's distribution metadata, image/<driver>/distribution):
//
//   <root>/distribution/diffid/<hex>.json   layer diff ID → the compressed blobs it
//       was pulled as or pushed as: [{digest, size, mediaType, tarSize?, repos[]}]
//       (so a push can HEAD/mount instead of uploading, and a save knows the
//       uncompressed size of a compressed blob)
//   <root>/distribution/image/<hex>.json    image ID → the manifests it was pulled
//       or pushed with, per repository: {repo: {digest, manifestDigest, mediaType,
//       manifest (base64)}} (so pushing what was pulled sends the very same bytes,
//       and keeps the digest)
//
// Records are hints, never trusted blindly: every digest is checked against the
// registry (HEAD) or the content store before use. Writes are atomic; records
// of images that no longer exist are dropped by prune().
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readJson, writeJsonAtomic, cleanTempFiles } from '../common/atomic-fs';

export interface BlobRecord {
  digest: string;
  size: number;
  mediaType: string;
  /** Size of the uncompressed tar (the diff ID's content), when known. */
  tarSize?: number;
  /** Full repository names (`127.0.0.1:5000/app`, `docker.io/library/busybox`) known to hold the blob. */
  repos: string[];
}

export interface ManifestRecord {
  /** What the RepoDigest records: the digest pulled by (an index's, for multi-platform images) or pushed. */
  digest: string;
  /** Digest of the platform manifest below (equal to digest unless pulled through an index). */
  manifestDigest: string;
  mediaType: string;
  /** base64 of the exact platform manifest bytes. */
  manifest: string;
}

const HEX_RE = /^[a-f0-9]{64}$/;

function hexOf(d: string): string {
  const h = d.startsWith('sha256:') ? d.slice(7) : d;
  if (!HEX_RE.test(h)) throw new Error(`invalid digest ${JSON.stringify(d)}`);
  return h;
}

function isBlobRecord(v: unknown): v is BlobRecord {
  if (typeof v !== 'object' || v === null) return false;
  const o = v as Record<string, unknown>;
  return typeof o['digest'] === 'string' && /^sha256:[a-f0-9]{64}$/.test(o['digest']) && typeof o['size'] === 'number' &&
    typeof o['mediaType'] === 'string' && Array.isArray(o['repos']) && o['repos'].every((r) => typeof r === 'string');
}

function isManifestRecord(v: unknown): v is ManifestRecord {
  if (typeof v !== 'object' || v === null) return false;
  const o = v as Record<string, unknown>;
  return typeof o['digest'] === 'string' && typeof o['manifestDigest'] === 'string' && typeof o['mediaType'] === 'string' && typeof o['manifest'] === 'string';
}

export class DistributionMeta {
  private readonly diffDir: string;
  private readonly imageDir: string;

  constructor(root: string) {
    const dir = path.join(root, 'distribution');
    this.diffDir = path.join(dir, 'diffid');
    this.imageDir = path.join(dir, 'image');
    fs.mkdirSync(this.diffDir, { recursive: true, mode: 0o700 });
    fs.mkdirSync(this.imageDir, { recursive: true, mode: 0o700 });
    cleanTempFiles(this.diffDir);
    cleanTempFiles(this.imageDir);
  }

  blobsFor(diffId: string): BlobRecord[] {
    const v = readJson(path.join(this.diffDir, `${hexOf(diffId)}.json`));
    return Array.isArray(v) ? v.filter(isBlobRecord) : [];
  }

  /** Records that diffId's content is (also) the blob desc, held by repo (if given). */
  addBlob(diffId: string, desc: { digest: string; size: number; mediaType: string; tarSize?: number }, repo?: string): void {
    const list = this.blobsFor(diffId);
    let rec = list.find((r) => r.digest === desc.digest);
    if (!rec) {
      rec = { digest: desc.digest, size: desc.size, mediaType: desc.mediaType, repos: [] };
      list.push(rec);
    }
    if (desc.tarSize !== undefined) rec.tarSize = desc.tarSize;
    if (repo && !rec.repos.includes(repo)) rec.repos.push(repo);
    if (rec.repos.length > 50) rec.repos.splice(0, rec.repos.length - 50);
    writeJsonAtomic(path.join(this.diffDir, `${hexOf(diffId)}.json`), list.slice(-20));
  }

  /** The uncompressed tar size recorded for a diff ID, if any. */
  tarSize(diffId: string): number | undefined {
    for (const r of this.blobsFor(diffId)) if (r.tarSize !== undefined) return r.tarSize;
    return undefined;
  }

  manifestsFor(imageId: string): Map<string, ManifestRecord> {
    const v = readJson(path.join(this.imageDir, `${hexOf(imageId)}.json`));
    const out = new Map<string, ManifestRecord>();
    if (typeof v === 'object' && v !== null && !Array.isArray(v)) {
      for (const [k, r] of Object.entries(v as Record<string, unknown>)) if (isManifestRecord(r)) out.set(k, r);
    }
    return out;
  }

  addManifest(imageId: string, repo: string, rec: ManifestRecord): void {
    const m = this.manifestsFor(imageId);
    m.set(repo, rec);
    writeJsonAtomic(path.join(this.imageDir, `${hexOf(imageId)}.json`), Object.fromEntries(m));
  }

  /** Drops manifest records of images that no longer exist. */
  prune(exists: (imageId: string) => boolean): void {
    for (const n of fs.readdirSync(this.imageDir)) {
      const m = /^([a-f0-9]{64})\.json$/.exec(n);
      if (m && !exists(`sha256:${m[1]}`)) fs.rmSync(path.join(this.imageDir, n), { force: true });
    }
  }
}
