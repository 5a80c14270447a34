// The build cache index: cache key → the image a step produced. The images
// themselves live in the image store (each step commits one, as Docker's
// legacy builder does); this index is what makes them findable by key, and
// what `builder prune` clears. Persisted as one JSON file under the
// data-root, replaced atomically, so it survives restarts; records whose
// image has gone are dropped when loaded and when looked up.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readJson, writeJsonAtomic, cleanTempFiles } from '../common/atomic-fs';
import { log } from '../common/log';

export interface CacheRecord {
  /** sha256 hex of the step's definition (parent image + instruction + inputs). */
  key: string;
  /** The image the step produced. */
  id: string;
  /** The image the step ran on ('' for scratch). */
  parent: string;
  /** What the step was (its history `created_by`). */
  description: string;
  /** Size of the layer the step added (0 for metadata steps). */
  size: number;
  /** ms since the epoch */
  created: number;
  lastUsed: number;
  usage: number;
}

function isRecord(v: unknown): v is CacheRecord {
  if (typeof v !== 'object' || v === null) return false;
  const o = v as Record<string, unknown>;
  return typeof o['key'] === 'string' && /^[a-f0-9]{64}$/.test(o['key']) && typeof o['id'] === 'string' && /^sha256:[a-f0-9]{64}$/.test(o['id'])
    && typeof o['parent'] === 'string' && typeof o['description'] === 'string' && typeof o['size'] === 'number'
    && typeof o['created'] === 'number' && typeof o['lastUsed'] === 'number' && typeof o['usage'] === 'number';
}

export class BuildCacheIndex {
  private readonly records = new Map<string, CacheRecord>();
  private dirty = false;
  private touched = false;
  readonly file: string;

  constructor(dir: string) {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    cleanTempFiles(dir);
    this.file = path.join(dir, 'cache.json');
  }

  /** Loads the index, keeping records whose image exists. */
  load(exists: (id: string) => boolean): void {
    let raw: unknown;
    try {
      raw = readJson(this.file);
    } catch (e) {
      log.warn('build cache index is unreadable; starting empty', { file: this.file, err: e });
      raw = undefined;
    }
    const list = typeof raw === 'object' && raw !== null ? (raw as { records?: unknown }).records : undefined;
    if (!Array.isArray(list)) return;
    for (const r of list) {
      if (isRecord(r) && exists(r.id)) this.records.set(r.key, r);
      else this.dirty = true;
    }
    this.save();
  }

  get(key: string): CacheRecord | undefined {
    return this.records.get(key);
  }

  put(r: CacheRecord): void {
    this.records.set(r.key, r);
    this.dirty = true;
  }

  /** Records a use; saved with the next change (usage figures are not worth an fsync of their own). */
  touch(key: string): void {
    const r = this.records.get(key);
    if (!r) return;
    r.lastUsed = Date.now();
    r.usage++;
    this.touched = true;
  }

  delete(key: string): void {
    if (this.records.delete(key)) this.dirty = true;
  }

  all(): CacheRecord[] {
    return [...this.records.values()];
  }

  /** Writes the index if it changed (atomic replace); `flush` also writes mere usage updates. */
  save(flush = false): void {
    if (!this.dirty && !(flush && this.touched)) return;
    try {
      writeJsonAtomic(this.file, { version: 1, records: [...this.records.values()] });
      this.dirty = false;
      this.touched = false;
    } catch (e) {
      log.warn('cannot save the build cache index', { file: this.file, err: e });
    }
  }
}
