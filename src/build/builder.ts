// The builder service: POST /build and POST /build/prune behind the API.
// One build = receive the context (context.ts) → read the Dockerfile and
// .dockerignore → parse into stages (dockerfile/) → plan (plan.ts) → execute
// with the cache (executor.ts) → tag.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import type { ByteSource } from '../common/archive';
import { invalid } from '../common/errors';
import { shortId } from '../common/ids';
import { httpGet, type GetResult } from '../common/http-get';
import { log } from '../common/log';
import { familiarString, parseNormalizedNamed, refString, type Reference } from '../common/reference';
import { parseTimestamp, type Filters } from '../common/filters';
import type { ImageService } from '../images';
import { BuildCacheIndex } from './cache';
import { BuildContext } from './context';
import { DockerfileError } from './dockerfile/parser';
import { parseStages } from './dockerfile/instructions';
import { ShellLexError } from './dockerfile/shell-lex';
import { Executor, StepError, type BuildContainers, type BuildOptions, type BuildOutput } from './executor';
import { planBuild } from './plan';

export interface BuilderDeps {
  dataRoot: string;
  images: ImageService;
  containers: BuildContainers;
  /** Containers using an image (for prune). */
  usingImage: (imageId: string) => string[];
  /** Pulls an image when a registry client exists (FROM of a missing image, --pull); authHeader as X-Registry-Auth. */
  pull?: (o: { fromImage: string; tag: string; authHeader: string }, write: (m: unknown) => void, signal: AbortSignal) => Promise<void>;
  /** Bytes of context data kept in memory before spilling to disk. */
  contextMemoryLimit?: number;
}

export interface BuildResult {
  id: string;
  tags: string[];
}

export interface BuildCacheUsage {
  ID: string;
  Parent: string;
  Parents: string[] | null;
  Type: string;
  Description: string;
  InUse: boolean;
  Shared: boolean;
  Size: number;
  CreatedAt: string;
  LastUsedAt: string | null;
  UsageCount: number;
}

function isTarHeader(b: Buffer): boolean {
  if (b.length < 512) return false;
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 0x20 : (b[i] ?? 0);
  const field = b.subarray(148, 156).toString('latin1').replace(/[\0 ]+$/, '').trim();
  return /^[0-7]+$/.test(field) && parseInt(field, 8) === sum;
}

/** Peeks at the body: compressed or a tar → the context; anything else is a bare Dockerfile. */
async function sniff(body: ByteSource): Promise<{ kind: 'tar' | 'dockerfile' | 'empty'; stream: AsyncIterable<Buffer> }> {
  // A request stream must not be destroyed when reading stops early: the error still has to be answered.
  const it = body instanceof Readable
    ? (body.iterator({ destroyOnReturn: false }) as AsyncIterator<Buffer | string>)
    : (body as AsyncIterable<Buffer | string>)[Symbol.asyncIterator]();
  const head: Buffer[] = [];
  let n = 0;
  let ended = false;
  while (n < 512) {
    const r = await it.next();
    if (r.done) {
      ended = true;
      break;
    }
    const b = typeof r.value === 'string' ? Buffer.from(r.value) : Buffer.from(r.value.buffer, r.value.byteOffset, r.value.byteLength);
    head.push(b);
    n += b.length;
  }
  const first = Buffer.concat(head);
  const stream = (async function* (): AsyncGenerator<Buffer> {
    if (first.length) yield first;
    if (ended) return;
    for (;;) {
      const r = await it.next();
      if (r.done) return;
      yield typeof r.value === 'string' ? Buffer.from(r.value) : Buffer.from(r.value.buffer, r.value.byteOffset, r.value.byteLength);
    }
  })();
  if (first.length === 0) return { kind: 'empty', stream };
  const compressed = (first[0] === 0x1f && first[1] === 0x8b) || first.subarray(0, 3).toString('latin1') === 'BZh'
    || first.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00])) || first.subarray(0, 4).equals(Buffer.from([0x28, 0xb5, 0x2f, 0xfd]));
  if (compressed || isTarHeader(first) || first.length >= 1024 && first.subarray(0, 1024).every((x) => x === 0)) return { kind: 'tar', stream };
  return { kind: 'dockerfile', stream };
}

export class Builder {
  private readonly root: string;
  private readonly cache: BuildCacheIndex;
  private pruning = false;
  private lastFlush = Date.now();

  constructor(private readonly deps: BuilderDeps) {
    this.root = path.join(deps.dataRoot, 'builder');
    fs.mkdirSync(this.root, { recursive: true, mode: 0o700 });
    this.cleanup();
    this.cache = new BuildCacheIndex(this.root);
    this.cache.load((id) => deps.images.tryGet(id) !== undefined);
  }

  /** Leftovers of builds interrupted by a crash: mounts of image views, spool and script files. */
  private cleanup(): void {
    const mnt = path.join(this.root, 'mnt');
    let names: string[] = [];
    try {
      names = fs.readdirSync(mnt);
    } catch {
      names = [];
    }
    for (const n of names) {
      const dir = path.join(mnt, n);
      try {
        this.deps.images.snapshots.unmount(dir);
      } catch {
        /* not mounted */
      }
      fs.rmSync(dir, { recursive: true, force: true });
    }
    for (const d of ['tmp']) fs.rmSync(path.join(this.root, d), { recursive: true, force: true });
    for (const n of fs.readdirSync(this.root)) if (n.startsWith('heredoc-')) fs.rmSync(path.join(this.root, n), { force: true });
  }

  /**
   * Runs a build. Errors thrown before anything was written to `out` are
   * request errors (the API answers with a status); later ones are reported
   * in the stream by the caller.
   */
  async build(body: ByteSource, opts: BuildOptions, out: BuildOutput, signal?: AbortSignal, remote?: string): Promise<BuildResult> {
    const tags: Reference[] = [];
    for (const t of opts.tags) {
      let r: Reference;
      try {
        r = parseNormalizedNamed(t);
      } catch (e) {
        throw invalid(`invalid reference format: ${(e as Error).message}`);
      }
      if (r.digest !== undefined) throw invalid('invalid reference format');
      tags.push(r);
    }
    if (opts.platform) {
      const p = opts.platform.toLowerCase();
      if (!/^(linux\/)?(amd64|x86_64|arm64|aarch64|386|arm)(\/v\d)?$|^linux$/.test(p)) throw invalid(`"${opts.platform}": unknown operating system or architecture: invalid argument`);
    }
    const t0 = Date.now();
    const ctx = await this.receive(body, signal, remote, !opts.noCache);
    const t1 = Date.now();
    try {
      const df = await this.loadDockerfile(ctx, opts.dockerfile);
      await ctx.applyDockerignore();
      // As Docker: the Dockerfile and .dockerignore are removed from what COPY sees only when .dockerignore names them (done above).
      const plan = planBuild(df, { ...(opts.target ? { target: opts.target } : {}), buildArgs: opts.buildArgs, extraSteps: Object.keys(opts.labels).length ? 1 : 0 });
      // Docker's builder prints the parser's warnings before the steps.
      for (const w of df.warnings) out.stream(`[WARNING]: ${w}\n`);
      if (df.warnings.length) out.stream('[WARNING]: Empty continuation lines will become errors in a future release.\n');
      const pull = this.deps.pull;
      const exec = new Executor({
        images: this.deps.images, containers: this.deps.containers, cache: this.cache, workDir: this.root,
        ...(pull ? { pull: (ref: string, progress: (m: unknown) => void) => this.pullImage(pull, ref, opts.registryAuth, progress, signal) } : {}),
      }, df, plan, ctx, opts, out, signal);
      let img;
      try {
        img = await exec.run();
      } catch (e) {
        if (e instanceof ShellLexError) throw new StepError(e.message);
        throw e;
      }
      const t2 = Date.now();
      // The steps' images were written without fsyncs (a power loss only costs cache); the result is made durable.
      this.deps.images.persist(img.id);
      out.aux({ ID: img.id });
      out.stream(`Successfully built ${shortId(img.id)}\n`);
      const shown: string[] = [];
      for (const r of tags) {
        // Re-tagging the same image would only rewrite (and fsync) the tag store.
        if (this.deps.images.tryGet(refString(r))?.id !== img.id) this.deps.images.tag(img.id, familiarString(r));
        const name = familiarString(r.tag === undefined && r.digest === undefined ? { ...r, tag: 'latest' } : r);
        shown.push(name);
        out.stream(`Successfully tagged ${name}\n`);
      }
      log.debug('build finished', { id: img.id, receiveMs: t1 - t0, stepsMs: t2 - t1, tagMs: Date.now() - t2, contextEntries: ctx.size });
      return { id: img.id, tags: shown };
    } finally {
      ctx.close();
      const flush = Date.now() - this.lastFlush > 60_000;
      this.cache.save(flush);
      if (flush) this.lastFlush = Date.now();
    }
  }

  private async pullImage(pull: NonNullable<BuilderDeps['pull']>, name: string, auths: Record<string, unknown> | undefined, progress: (m: unknown) => void, signal: AbortSignal | undefined): Promise<void> {
    const ref = parseNormalizedNamed(name);
    const tag = ref.digest ?? ref.tag ?? 'latest';
    const host = (h: string): string => {
      const x = h.replace(/^https?:\/\//, '').replace(/\/.*$/, '');
      return x === 'index.docker.io' || x === 'registry-1.docker.io' ? 'docker.io' : x;
    };
    let auth: unknown = {};
    for (const [k, v] of Object.entries(auths ?? {})) if (host(k) === host(ref.domain)) auth = v;
    const authHeader = Buffer.from(JSON.stringify(auth)).toString('base64url');
    const fromImage = familiarString({ domain: ref.domain, path: ref.path });
    await pull({ fromImage, tag, authHeader }, progress, signal ?? new AbortController().signal);
  }

  private async receive(body: ByteSource, signal: AbortSignal | undefined, remote: string | undefined, hashOnArrival: boolean): Promise<BuildContext> {
    const opts = { spoolDir: path.join(this.root, 'tmp'), hashOnArrival, ...(this.deps.contextMemoryLimit !== undefined ? { memoryLimit: this.deps.contextMemoryLimit } : {}), ...(signal ? { signal } : {}) };
    if (remote) {
      if (/^(git@|git:\/\/)|\.git(#.*)?$/.test(remote) || /^github\.com\//.test(remote)) throw invalid(`git build contexts are not supported: ${remote}`);
      if (!/^https?:\/\//i.test(remote)) throw invalid(`unable to prepare context: unsupported remote context: ${remote}`);
      let res: GetResult;
      try {
        res = await httpGet(remote, { signal: AbortSignal.timeout(120_000) });
      } catch (e) {
        throw invalid(`unable to prepare context: failed to GET ${remote}: ${(e as Error).message}`);
      }
      if (res.status < 200 || res.status > 299) throw invalid(`unable to prepare context: failed to GET ${remote} with status ${res.status} ${res.statusText}`);
      const data = res.body;
      const s = await sniff(Readable.from([data]));
      if (s.kind === 'tar') return BuildContext.receive(s.stream, opts);
      return BuildContext.fromFiles({ Dockerfile: data }, opts);
    }
    const s = await sniff(body);
    if (s.kind === 'empty') throw invalid('the build context is empty (send a tar archive with a Dockerfile)');
    if (s.kind === 'dockerfile') {
      const parts: Buffer[] = [];
      for await (const c of s.stream) parts.push(c);
      return BuildContext.fromFiles({ Dockerfile: Buffer.concat(parts) }, opts);
    }
    return BuildContext.receive(s.stream, opts);
  }

  private async loadDockerfile(ctx: BuildContext, name: string): Promise<ReturnType<typeof parseStages>> {
    const want = name || 'Dockerfile';
    let node = ctx.stat(want);
    if ((!node || node.type !== 'file') && !name) node = ctx.stat('dockerfile');
    if (!node || node.type !== 'file') throw invalid(`Cannot locate specified Dockerfile: ${want}`);
    const text = (await ctx.readFile(node)).toString('utf8');
    if (text.length === 0) throw invalid(`the Dockerfile (${want}) cannot be empty`);
    try {
      return parseStages(text, path.posix.basename(want));
    } catch (e) {
      if (e instanceof DockerfileError) throw invalid(e.message);
      throw e;
    }
  }

  // ---------- cache management ----------

  /** Images that are tagged, and all their ancestors: their layers are shared with images. */
  private sharedImages(): Set<string> {
    const shared = new Set<string>();
    const all = new Map(this.deps.images.all().map((i) => [i.id, i]));
    for (const img of all.values()) {
      if (!img.repoTags.length) continue;
      for (let cur: typeof img | undefined = img; cur && !shared.has(cur.id); cur = cur.parent ? all.get(cur.parent) : undefined) shared.add(cur.id);
    }
    return shared;
  }

  /** BuildCache items of GET /system/df. */
  df(): { BuildCache: BuildCacheUsage[]; BuilderSize: number } {
    const shared = this.sharedImages();
    const items: BuildCacheUsage[] = [];
    let total = 0;
    for (const r of this.cache.all()) {
      if (!this.deps.images.tryGet(r.id)) continue;
      total += r.size;
      items.push({
        ID: r.key.slice(0, 25), Parent: '', Parents: null, Type: 'regular', Description: r.description.replace(/^\/bin\/sh -c #\(nop\) +/, ''),
        InUse: false, Shared: shared.has(r.id), Size: r.size, CreatedAt: new Date(r.created).toISOString(),
        LastUsedAt: r.usage ? new Date(r.lastUsed).toISOString() : null, UsageCount: r.usage,
      });
    }
    return { BuildCache: items, BuilderSize: total };
  }

  /**
   * POST /build/prune: forgets cache records (all, or those older than the
   * `until` filter) and deletes the images only the cache kept (untagged, no
   * children, no containers).
   */
  async prune(o: { all: boolean; filters: Filters; keepStorage?: number }): Promise<{ CachesDeleted: string[] | null; SpaceReclaimed: number }> {
    if (this.pruning) throw invalid('a prune operation is already running');
    this.pruning = true;
    try {
      let until: number | undefined;
      for (const u of o.filters.get('until') ?? []) until = parseTimestamp(u);
      const deleted: string[] = [];
      let reclaimed = 0;
      const records = this.cache.all().sort((a, b) => b.created - a.created); // children (newer) first
      // --keep-storage: the most recently used records that fit in it stay.
      const keep = new Set<string>();
      if (o.keepStorage !== undefined) {
        let used = 0;
        for (const r of [...records].sort((a, b) => b.lastUsed - a.lastUsed)) {
          if (used + r.size > o.keepStorage) break;
          used += r.size;
          keep.add(r.key);
        }
      }
      for (const r of records) {
        if (until !== undefined && r.created > until) continue;
        if (keep.has(r.key)) continue;
        this.cache.delete(r.key);
        deleted.push(r.key.slice(0, 25));
        const img = this.deps.images.tryGet(r.id);
        if (!img || img.repoTags.length || img.repoDigests.length) continue;
        try {
          const items = this.deps.images.remove(r.id, { force: false, noprune: true, usedBy: this.deps.usingImage });
          if (items.some((i) => 'Deleted' in i && i.Deleted === r.id)) reclaimed += r.size;
        } catch {
          /* still a parent of something, or used by a container: the cache record goes, the image stays */
        }
      }
      this.cache.save();
      return { CachesDeleted: deleted.length ? deleted : null, SpaceReclaimed: reclaimed };
    } finally {
      this.pruning = false;
    }
  }

  close(): void {
    this.cache.save(true);
  }
}

export { StepError };
