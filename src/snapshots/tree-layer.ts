// A layer straight from a directory (a container's upper dir, for commit):
// the directory is walked once, as createTar would archive it, and every
// entry is both hashed as tar bytes (the diff ID) and written into the new
// layer directory, the way extracting that tar with overlay whiteouts would
// lay it out. No tar is parsed and no blob is stored: a tar of the layer
// directory (ImageService.layerTar) gives the same bytes again, so the diff ID
// stays checkable on save and push.
//
// The source names come from readdir (no "/" or ".."), the destination is a
// fresh directory only we write to, and entries arrive parents first: every
// parent on the way is a directory we made, so nothing here follows a link
// somewhere else. Files are created O_EXCL|O_NOFOLLOW all the same.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { packChunks, setEntryXattrs, treeEntries, type CreateTarOptions, type TarInput } from '../common/archive';
import { invalid } from '../common/errors';
import { native, S_IFCHR } from '../common/native';

const S_IFBLK = 0o060000;
const S_IFIFO = 0o010000;
const { O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW } = fs.constants;
const WH = '.wh.';
const OPAQUE = '.wh..wh..opq';
const META = '.wh..wh.';

/**
 * Clears the way for a new entry. Only a hostile tree gets here: a file
 * literally named ".wh.x" beside x, whose whiteout the later entry replaces,
 * as extraction would.
 */
function fresh(p: string): void {
  try {
    fs.lstatSync(p);
  } catch {
    return;
  }
  fs.rmSync(p, { recursive: true, force: true });
}

/** sha256 of the layer's tar bytes; the builder hashes in a worker while this thread writes. */
export interface LayerHasher {
  update(chunk: Buffer): void;
  /** Hex digest. */
  digest(): Promise<string>;
}

function inlineHasher(): LayerHasher {
  const h = createHash('sha256');
  return { update: (c) => void h.update(c), digest: async () => h.digest('hex') };
}

export interface TreeLayer {
  diffId: string;
  /** Sum of the file sizes (Docker's DiffSize, as extraction counts it). */
  size: number;
  entries: number;
}


function writeAll(fd: number, b: Buffer): void {
  let off = 0;
  while (off < b.length) off += fs.writeSync(fd, b, off, b.length - off);
}

/** Passes a streamed body through while writing each chunk to fd; closes fd at the end. */
async function* teeToFile(body: AsyncIterable<Buffer>, fd: number, done: () => void): AsyncGenerator<Buffer> {
  try {
    for await (const c of body) {
      writeAll(fd, c);
      yield c;
    }
    done();
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Copies the tree at src into the empty directory dest as a layer and returns
 * the digest of createTar(src, opts) (with opts.whiteouts: overlay whiteouts
 * stay 0/0 character devices and opaque directories keep their xattr).
 */
export function copyTreeAsLayer(src: string, dest: string, opts: CreateTarOptions = {}): Promise<TreeLayer> {
  return writeEntriesAsLayer(treeEntries(src, opts), dest, { whiteouts: opts.whiteouts ?? false });
}

/**
 * Lays out tar entries (as packTar takes them) in the empty directory dest as
 * a layer, the way extracting packTar(entries) with overlay whiteouts would,
 * and returns the digest of those tar bytes. Entries come parents first (a
 * missing parent is made as a plain directory, as extraction does); a name
 * that leaves dest, or a parent that is not a directory made here, or a hard
 * link to anything but a file made here is refused: nothing is followed out.
 */
export async function writeEntriesAsLayer(entries: AsyncIterable<TarInput> | Iterable<TarInput>, dest: string, opts: { whiteouts?: boolean; hasher?: LayerHasher } = {}): Promise<TreeLayer> {
  const wo = opts.whiteouts ?? false;
  const hash = opts.hasher ?? inlineHasher();
  const result: TreeLayer = { diffId: '', size: 0, entries: 0 };
  const dirTimes: Array<[string, number]> = [];
  const uid = (e: TarInput): number => e.uid ?? 0;
  const gid = (e: TarInput): number => e.gid ?? 0;
  const mtime = (e: TarInput): number => e.mtime ?? 0;
  /** Directories made (or found made) here, and regular files made here, by relative path. */
  const dirs = new Set<string>(['']);
  const files = new Set<string>();

  const clean = (name: string): string => {
    const n = path.posix.normalize(name.replace(/^(\.?\/)+/, '')).replace(/\/+$/, '');
    if (n === '.' || n === '') return '';
    if (n === '..' || n.startsWith('../') || n.includes('\0')) throw invalid(`invalid layer entry name: ${JSON.stringify(name)}`);
    return n;
  };
  /** Makes sure every directory above rel is one made here (missing ones are made 0755, root-owned). */
  const parentsOf = (rel: string): void => {
    const parent = path.posix.dirname(rel);
    if (parent === '.' || dirs.has(parent)) return;
    let cur = '';
    for (const seg of parent.split('/')) {
      cur = cur ? `${cur}/${seg}` : seg;
      if (dirs.has(cur)) continue;
      const abs = path.join(dest, cur);
      let st: fs.Stats | undefined;
      try {
        st = fs.lstatSync(abs);
      } catch {
        fs.mkdirSync(abs, 0o755);
      }
      if (st && !st.isDirectory()) throw invalid(`invalid layer entry: ${JSON.stringify(rel)} is below a non-directory`);
      dirs.add(cur);
      files.delete(cur);
    }
  };

  /** Lays out one entry in dest; returns the entry to hash (its body teed into the new file). */
  const materialize = (e: TarInput): TarInput => {
    result.entries++;
    const rel = clean(e.name);
    if (rel === '') return e; // the layer's root: nothing to make
    parentsOf(rel);
    const target = path.join(dest, rel);
    if (e.type !== 'dir') {
      dirs.delete(rel);
      files.delete(rel);
    }
    const base = path.posix.basename(rel);
    const mode = (e.mode ?? 0) & 0o7777;
    if (wo && base === OPAQUE) {
      native().lsetxattr(path.dirname(target), 'trusted.overlay.opaque', Buffer.from('y'));
      return e;
    }
    if (wo && rel.split('/', 1)[0]?.startsWith(META)) return e; // AUFS metadata: the extractor skips it too
    if (wo && base.startsWith(WH)) {
      const name = base.slice(WH.length);
      if (base.startsWith(META) || name === '' || name === '.' || name === '..') return e;
      // an overlay whiteout, its times kept so that a tar of the layer gives the same bytes
      const wt = path.join(path.dirname(target), name);
      fresh(wt);
      native().mknod(wt, S_IFCHR, 0, 0);
      fs.lchownSync(wt, uid(e), gid(e));
      fs.lutimesSync(wt, mtime(e), mtime(e));
      return e;
    }
    switch (e.type) {
      case 'dir':
        try {
          fs.mkdirSync(target, 0o700);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
          if (!fs.lstatSync(target).isDirectory()) {
            fresh(target);
            fs.mkdirSync(target, 0o700);
          }
        }
        fs.lchownSync(target, uid(e), gid(e));
        fs.chmodSync(target, mode); // after chown, which clears set-id bits
        setEntryXattrs(target, e.xattrs);
        dirTimes.push([target, mtime(e)]);
        dirs.add(rel);
        files.delete(rel);
        return e;
      case 'file': {
        const create = (): number => fs.openSync(target, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600);
        let fd: number;
        try {
          fd = create();
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
          fresh(target);
          fd = create();
        }
        files.add(rel);
        const finish = (): void => {
          fs.fchownSync(fd, uid(e), gid(e));
          fs.fchmodSync(fd, mode);
          setEntryXattrs(target, e.xattrs);
          fs.futimesSync(fd, mtime(e), mtime(e));
        };
        const body = e.body;
        if (body === undefined || Buffer.isBuffer(body)) {
          try {
            if (body) writeAll(fd, body);
            finish();
          } finally {
            fs.closeSync(fd);
          }
          result.size += body?.length ?? 0;
          return e;
        }
        result.size += e.size ?? 0;
        return { ...e, body: teeToFile(body, fd, finish) };
      }
      case 'link': {
        const to = clean(e.linkname ?? '');
        if (!files.has(to)) throw invalid(`invalid layer entry: hard link ${JSON.stringify(rel)} to ${JSON.stringify(e.linkname ?? '')}, not a file of this layer`);
        fresh(target);
        fs.linkSync(path.join(dest, to), target);
        files.add(rel);
        return e;
      }
      case 'symlink':
        fresh(target);
        fs.symlinkSync(e.linkname ?? '', target);
        fs.lchownSync(target, uid(e), gid(e));
        fs.lutimesSync(target, mtime(e), mtime(e));
        return e;
      case 'char':
      case 'block':
      case 'fifo': {
        const kind = e.type === 'char' ? S_IFCHR : e.type === 'block' ? S_IFBLK : S_IFIFO;
        fresh(target);
        native().mknod(target, kind | mode, e.devmajor ?? 0, e.devminor ?? 0);
        fs.lchownSync(target, uid(e), gid(e));
        fs.chmodSync(target, mode); // not a symlink: we just made it
        fs.lutimesSync(target, mtime(e), mtime(e));
        return e;
      }
    }
  };

  async function* laidOut(): AsyncGenerator<TarInput> {
    for await (const e of entries) yield materialize(e);
  }
  for await (const c of packChunks(laidOut())) hash.update(c);
  // directory times last: creating entries inside changed them
  for (const [p, t] of dirTimes.reverse()) fs.lutimesSync(p, t, t);
  result.diffId = `sha256:${await hash.digest()}`;
  return result;
}
