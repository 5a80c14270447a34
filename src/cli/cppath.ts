// The path rules of `docker cp` (moby/go-archive copy.go and the CLI's
// cp.go), as pure functions over slash-separated paths: where an archive is
// extracted and how its top-level entry is renamed, given what the source
// and the destination are. Trailing `/` asserts a directory; a trailing `/.`
// means "the contents of" the directory.

/** Go's filepath.Clean for slash paths. */
export function goClean(p: string): string {
  if (p === '') return '.';
  const abs = p.startsWith('/');
  const out: string[] = [];
  for (const c of p.split('/')) {
    if (c === '' || c === '.') continue;
    if (c === '..') {
      if (out.length && out[out.length - 1] !== '..') out.pop();
      else if (!abs) out.push('..');
      continue;
    }
    out.push(c);
  }
  const s = out.join('/');
  return abs ? `/${s}` : s || '.';
}

/** Go's filepath.Base: the last element, trailing slashes ignored; "/" for the root, "." for "". */
export function goBase(p: string): string {
  if (p === '') return '.';
  const t = p.replace(/\/+$/, '');
  if (t === '') return '/';
  return t.slice(t.lastIndexOf('/') + 1);
}

/** Go's filepath.Dir. */
export function goDir(p: string): string {
  const i = p.lastIndexOf('/');
  return goClean(i < 0 ? '.' : p.slice(0, i + 1));
}

export function hasTrailingSeparator(p: string): boolean {
  return p.endsWith('/');
}

export function specifiesCurrentDir(p: string): boolean {
  return goBase(p) === '.';
}

/** The path asserts a directory (trailing `/` or `/.`). */
export function assertsDirectory(p: string): boolean {
  return hasTrailingSeparator(p) || specifiesCurrentDir(p);
}

/** archive.PreserveTrailingDotOrSeparator: re-adds the `/.` or `/` that cleaning removed. */
export function preserveTrailingDotOrSeparator(cleaned: string, original: string): string {
  let s = cleaned;
  if (!specifiesCurrentDir(s) && specifiesCurrentDir(original)) {
    if (!hasTrailingSeparator(s)) s += '/';
    s += '.';
  }
  if (!hasTrailingSeparator(s) && hasTrailingSeparator(original)) s += '/';
  return s;
}

/** archive.SplitPathDirEntry: [dir, base] where base is "." for a `/.` path. */
export function splitPathDirEntry(p: string): [string, string] {
  let cleaned = goClean(p);
  if (specifiesCurrentDir(p)) cleaned += '/.';
  return [goDir(cleaned), goBase(cleaned)];
}

/** archive.GetRebaseName: the resolved path with p's trailing markers, and the name to rebase to ('' for none). */
export function getRebaseName(p: string, resolved: string): [string, string] {
  let r = resolved;
  if (specifiesCurrentDir(p) && !specifiesCurrentDir(r)) r += '/.';
  if (hasTrailingSeparator(p) && !hasTrailingSeparator(r)) r += '/';
  const rebase = goBase(p) !== goBase(r) ? goBase(p) : '';
  return [r, rebase];
}

/** Splits "CONTAINER:PATH"; a local path with a colon must start with `/` or `.`. */
export function splitCpArg(arg: string): [container: string, path: string] {
  if (arg.startsWith('/')) return ['', arg];
  const i = arg.indexOf(':');
  if (i < 0 || arg.startsWith('.')) return ['', arg];
  return [arg.slice(0, i), arg.slice(i + 1)];
}

export interface CopyInfo {
  path: string;
  exists: boolean;
  isDir: boolean;
  /** Name the source's top-level entry is rebased to ('' for none). */
  rebaseName: string;
}

export class CopyRuleError extends Error {}

/**
 * archive.PrepareArchiveCopy: the directory to extract into, and the
 * [old, new] rename of the archive's top-level entry (undefined: none).
 */
export function prepareArchiveCopy(src: CopyInfo, dst: CopyInfo): { dstDir: string; rebase?: [string, string] } {
  const [dstDir, dstBase] = splitPathDirEntry(dst.path);
  let [, srcBase] = splitPathDirEntry(src.path);
  if (src.rebaseName) srcBase = src.rebaseName;
  if (dst.exists && dst.isDir) return { dstDir: dst.path };
  if (dst.exists && src.isDir) throw new CopyRuleError('cannot copy directory');
  if (!dst.exists && !src.isDir && assertsDirectory(dst.path)) throw new CopyRuleError('no such directory');
  return { dstDir, rebase: [srcBase, dstBase] };
}

/** archive.RebaseArchiveEntries on one name: Go's strings.Replace(name, old, new, 1), with "/" meaning "". */
export function rebaseEntryName(name: string, oldBase: string, newBase: string): string {
  const o = oldBase === '/' ? '' : oldBase;
  const i = name.indexOf(o);
  if (i < 0) return name;
  return name.slice(0, i) + newBase + name.slice(i + o.length);
}
