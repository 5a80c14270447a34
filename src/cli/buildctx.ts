// The client side of `docker build`'s context: finding the Dockerfile,
// reading .dockerignore (the daemon's own matcher in src/build/dockerignore,
// which needs nothing but node:path), and streaming the directory as a tar
// with owners 0:0, excluded paths left out and the Dockerfile and
// .dockerignore always sent. A Dockerfile from stdin or from outside the
// context travels inside the tar under a random name, as Docker sends it.
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import { fileBody, packTar, type TarInput } from '../common/archive';
import { parseDockerignore, PatternMatcher } from '../build/dockerignore';

export class ContextError extends Error {}

/** build.GetContextFromLocalDir: the real context directory and the Dockerfile path relative to it. */
export function contextFromLocalDir(dir: string, dockerfileName: string): { contextDir: string; relDockerfile: string; absDockerfile?: string } {
  let contextDir: string;
  try {
    contextDir = fs.realpathSync(path.resolve(dir));
  } catch (e) {
    throw new ContextError(`unable to evaluate symlinks in context path: ${goPathError(e)}`);
  }
  if (!fs.lstatSync(contextDir).isDirectory()) throw new ContextError(`context must be a directory: ${contextDir}`);
  if (dockerfileName === '-') return { contextDir, relDockerfile: '-' };
  // -f is relative to the current directory, not the context.
  let abs = dockerfileName ? path.resolve(dockerfileName) : path.join(contextDir, 'Dockerfile');
  if (!dockerfileName && !fs.existsSync(abs)) {
    const alt = path.join(contextDir, 'dockerfile');
    if (fs.existsSync(alt)) abs = alt;
  }
  try {
    abs = fs.realpathSync(abs);
  } catch (e) {
    throw new ContextError(`unable to evaluate symlinks in Dockerfile path: ${goPathError(e, 'lstat')}`);
  }
  return { contextDir, relDockerfile: path.relative(contextDir, abs), absDockerfile: abs };
}

/** Go's *PathError text for a Node fs error ("lstat /x: no such file or directory"). */
export function goPathError(e: unknown, op?: string): string {
  const err = e as NodeJS.ErrnoException;
  const texts: Record<string, string> = {
    ENOENT: 'no such file or directory', ENOTDIR: 'not a directory', EACCES: 'permission denied', ELOOP: 'too many levels of symbolic links', EISDIR: 'is a directory',
  };
  const text = (err.code && texts[err.code]) ?? err.message;
  if (!err.path) return text;
  // realpath fails on the first missing component; Go's EvalSymlinks reports lstat on the path it tried.
  return `${op ?? (err.syscall === 'realpath' ? 'lstat' : err.syscall ?? 'lstat')} ${err.path}: ${text}`;
}

/** build.TrimBuildFilesFromExcludes: the Dockerfile and .dockerignore are always sent. */
export function trimBuildFilesFromExcludes(excludes: string[], dockerfile: string, dockerfileFromStdin: boolean): string[] {
  const out = excludes.slice();
  const pm = new PatternMatcher(excludes);
  if (pm.matches('.dockerignore')) out.push('!.dockerignore');
  if (!dockerfileFromStdin && pm.matches(dockerfile)) out.push(`!${dockerfile}`);
  return out;
}

export function readDockerignore(contextDir: string): string[] {
  const file = path.join(contextDir, '.dockerignore');
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new Error(`error reading .dockerignore: ${goPathError({ ...(e as NodeJS.ErrnoException), path: file }, 'read')}`);
  }
  return parseDockerignore(text);
}

interface Item {
  abs: string;
  rel: string;
  st: fs.Stats;
}

/**
 * Lists what goes into the context, in lexical order (TarWithOptions'
 * walk): an excluded directory is skipped unless an exception pattern may
 * match below it. Also checks readability first, as ValidateContextDirectory.
 */
export function listContext(contextDir: string, excludes: string[]): Item[] {
  const pm = new PatternMatcher(excludes);
  const items: Item[] = [];
  const visit = (abs: string, rel: string): void => {
    let names: string[];
    try {
      names = fs.readdirSync(abs).sort();
    } catch (e) {
      // Not a "prepare context" error for the docker CLI: printed as is.
      if ((e as NodeJS.ErrnoException).code === 'EACCES') throw new Error(`error checking context: can't stat '${abs}'`);
      throw e;
    }
    for (const n of names) {
      const childAbs = `${abs}/${n}`;
      const childRel = rel ? `${rel}/${n}` : n;
      let st: fs.Stats;
      try {
        st = fs.lstatSync(childAbs);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue; // vanished meanwhile
        throw e;
      }
      if (!pm.empty && pm.matches(childRel)) {
        if (!st.isDirectory() || !pm.hasExclusions) continue;
        // Descend only when an exception could re-include something below.
        const dirSlash = `${childRel}/`;
        if (!pm.patterns.some((p) => p.exclusion && `${p.text}/`.startsWith(dirSlash))) continue;
        visit(childAbs, childRel);
        continue;
      }
      if (st.isSocket()) continue; // as Docker's archiver
      if (st.isFile()) {
        try {
          fs.accessSync(childAbs, fs.constants.R_OK);
        } catch {
          throw new Error(`error checking context: no permission to read from '${childAbs}'`);
        }
      }
      items.push({ abs: childAbs, rel: childRel, st });
      if (st.isDirectory()) visit(childAbs, childRel);
    }
  };
  visit(contextDir, '');
  return items;
}

function entryOf(it: Item, links: Map<string, string>): TarInput | undefined {
  const st = it.st;
  // ChownOpts{0,0}: the client sends every entry owned by root.
  const common = { mode: st.mode & 0o7777, uid: 0, gid: 0, mtime: Math.floor(st.mtimeMs / 1000) };
  if (st.isDirectory()) return { name: `${it.rel}/`, type: 'dir', ...common };
  if (st.isSymbolicLink()) return { name: it.rel, type: 'symlink', linkname: fs.readlinkSync(it.abs), ...common };
  if (st.isFIFO()) return { name: it.rel, type: 'fifo', ...common };
  if (!st.isFile()) return undefined;
  if (st.nlink > 1) {
    const key = `${st.dev}:${st.ino}`;
    const first = links.get(key);
    if (first !== undefined) return { name: it.rel, type: 'link', linkname: first, ...common };
    links.set(key, it.rel);
  }
  return { name: it.rel, type: 'file', ...common, size: st.size, body: fileBody(it.abs, st.size) };
}

export interface ContextTarOptions {
  /** Dockerfile text to add under a random name (stdin or outside the context). */
  dockerfile?: Buffer;
}

/** The context tar of a directory; returns the Dockerfile name to send when one was added. */
export function contextTar(items: Item[], opts: ContextTarOptions = {}): { tar: Readable; dockerfileName?: string } {
  const extraName = opts.dockerfile ? `.dockerfile.${randomBytes(10).toString('hex')}` : undefined;
  async function* gen(): AsyncGenerator<TarInput> {
    const links = new Map<string, string>();
    const now = Math.floor(Date.now() / 1000);
    let sawIgnore = false;
    for (const it of items) {
      // The stat happened during the listing; a body is read when its entry is written.
      if (extraName && it.rel === '.dockerignore' && it.st.isFile()) {
        sawIgnore = true;
        const text = Buffer.concat([fs.readFileSync(it.abs), Buffer.from(`\n${extraName}\n`)]);
        yield { name: '.dockerignore', type: 'file', mode: 0o600, uid: 0, gid: 0, mtime: now, body: text };
        continue;
      }
      const e = entryOf(it, links);
      if (e) yield e;
    }
    if (extraName && opts.dockerfile) {
      if (!sawIgnore) yield { name: '.dockerignore', type: 'file', mode: 0o600, mtime: now, body: Buffer.from(`.dockerignore\n${extraName}\n`) };
      yield { name: extraName, type: 'file', mode: 0o600, mtime: now, body: opts.dockerfile };
    }
  }
  return { tar: packTar(gen()), ...(extraName ? { dockerfileName: extraName } : {}) };
}

/** A one-file context holding a Dockerfile read from stdin. */
export function dockerfileOnlyTar(text: Buffer): Readable {
  return packTar([{ name: 'Dockerfile', type: 'file', mode: 0o644, mtime: Math.floor(Date.now() / 1000), body: text }]);
}

/** archive.IsArchive: compressed (gzip, bzip2, xz, zstd) or a tar header. */
export function isArchive(head: Buffer): boolean {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return true;
  if (head.length >= 3 && head.subarray(0, 3).toString('latin1') === 'BZh') return true;
  if (head.length >= 6 && head.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))) return true;
  if (head.length >= 4 && head.subarray(0, 4).equals(Buffer.from([0x28, 0xb5, 0x2f, 0xfd]))) return true;
  if (head.length < 512) return false;
  // A tar header: its checksum must add up (what Go's tar reader checks first).
  const h = head.subarray(0, 512);
  const stored = parseInt(h.subarray(148, 156).toString('latin1').replace(/[\0 ]+$/, '').trim(), 8);
  if (!Number.isFinite(stored)) return false;
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 0x20 : (h[i] ?? 0);
  return sum === stored;
}
