// cp, commit, diff, export, update: container filesystem and configuration
// commands, with the docker CLI 28's flags, output and messages.
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { hasMode, MODE_DEVICE, MODE_DIR, MODE_IRREGULAR, MODE_SYMLINK, type PathStat } from '../../client/client';
import { createTar, extractTar, packTar, readTar, type TarEntry, type TarInput } from '../../common/archive';
import { counting } from '../bytecount';
import { flagValueError, PROG, StatusError, type Cli, type CommandSpec } from '../cli';
import {
  CopyRuleError, getRebaseName, goBase, goClean, prepareArchiveCopy, preserveTrailingDotOrSeparator, rebaseEntryName,
  splitCpArg, splitPathDirEntry, type CopyInfo,
} from '../cppath';
import { mem, nanoCpus, OptsError, parseRestartPolicy } from '../run-opts';
import { humanSizeWithPrecision } from '../units';

// ---- cp ---------------------------------------------------------------------

/** Renames the entries of a tar stream ([old, new] pairs applied in order, as RebaseArchiveEntries). */
async function* renamed(src: AsyncIterable<TarEntry>, renames: Array<[string, string]>): AsyncGenerator<TarInput> {
  for await (const e of src) {
    const h = e.header;
    if (h.type === 'other') continue; // nothing extractable (the extractor would skip it too)
    let name = h.name;
    let linkname = h.linkname;
    for (const [o, n] of renames) {
      name = rebaseEntryName(name, o, n);
      if (h.type === 'link') linkname = rebaseEntryName(linkname, o, n);
    }
    yield {
      name, type: h.type, mode: h.mode, uid: h.uid, gid: h.gid, mtime: h.mtime, linkname,
      devmajor: h.devmajor, devminor: h.devminor, xattrs: h.xattrs, size: h.size, body: e.body,
    };
  }
}

/** command.ValidateOutputPathFileMode on a Go FileMode. */
function fileModeProblem(mode: number): string | undefined {
  if (hasMode(mode, MODE_DEVICE)) return 'got a device';
  if (hasMode(mode, MODE_IRREGULAR)) return 'got an irregular file';
  return undefined;
}

/** Go-FileMode-like view of a local lstat, for the same checks. */
function localModeProblem(st: fs.Stats): string | undefined {
  if (st.isBlockDevice() || st.isCharacterDevice()) return 'got a device';
  return undefined;
}

function resolveLocalPath(p: string): string {
  return preserveTrailingDotOrSeparator(goClean(path.resolve(p)), p);
}

/** command.ValidateOutputPath. */
function validateOutputPath(p: string): void {
  const dir = path.dirname(goClean(p));
  if (dir !== '' && dir !== '.' && !fs.existsSync(dir)) throw new Error(`invalid output path: directory ${JSON.stringify(dir)} does not exist`);
  let st: fs.Stats;
  try {
    st = fs.statSync(p);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw e;
  }
  if (st.isDirectory() || st.isFile()) return;
  const problem = localModeProblem(st);
  if (problem) throw new Error(`invalid output path: ${JSON.stringify(p)} must be a directory or a regular file: ${problem}`);
}

/** archive.CopyInfoDestinationPath: follows symlinks at the destination; the parent must exist. */
function copyInfoDestinationPath(p: string): CopyInfo {
  let cur = p;
  let st: fs.Stats | undefined;
  let err: NodeJS.ErrnoException | undefined;
  const lstat = (): void => {
    try {
      st = fs.lstatSync(cur);
      err = undefined;
    } catch (e) {
      st = undefined;
      err = e as NodeJS.ErrnoException;
    }
  };
  lstat();
  for (let n = 0; st && st.isSymbolicLink(); n++) {
    if (n > 10) throw new Error(`too many symlinks in ${p}`);
    let target = fs.readlinkSync(cur);
    if (!target.startsWith('/')) target = path.join(splitPathDirEntry(cur)[0], target);
    cur = target;
    lstat();
  }
  if (err || !st) {
    if (err && err.code !== 'ENOENT') throw err;
    const parent = splitPathDirEntry(cur)[0];
    const pst = fs.statSync(parent); // a missing parent is an error, as Docker's
    if (!pst.isDirectory()) throw new Error('not a directory');
    return { path: cur, exists: false, isDir: false, rebaseName: '' };
  }
  return { path: cur, exists: true, isDir: st.isDirectory(), rebaseName: '' };
}

/** archive.ResolveHostSourcePath + CopyInfoSourcePath. */
function copyInfoSourcePath(p: string, followLink: boolean): CopyInfo {
  let resolved: string;
  let rebaseName = '';
  if (followLink) {
    [resolved, rebaseName] = getRebaseName(p, preserveTrailingDotOrSeparator(fs.realpathSync(p), p));
  } else {
    const i = p.lastIndexOf('/');
    const dirPart = p.slice(0, i + 1);
    const base = p.slice(i + 1);
    const rdir = fs.realpathSync(dirPart || '.');
    resolved = rdir === '/' ? `/${base}` : `${rdir}/${base}`;
    if (p.endsWith('/') && goBase(p) !== goBase(resolved)) rebaseName = goBase(p);
  }
  const st = fs.lstatSync(resolved);
  return { path: resolved, exists: true, isDir: st.isDirectory(), rebaseName };
}

function summary(cli: Cli, n: number, dest: string): void {
  cli.err(`Successfully copied ${humanSizeWithPrecision(n, 3)} to ${dest}\n`);
}

/**
 * The docker CLI's live copy progress on a terminal stderr: "Preparing to
 * copy...", then "<header><size>" redrawn every 75 ms; stop() erases it.
 */
function copyProgress(cli: Cli, header: string, counter: { n: number }): () => void {
  if (!cli.errIsTTY) return () => undefined;
  const ESC = '\x1b[';
  cli.err(`${ESC}sPreparing to copy...`);
  cli.err(`${ESC}?25l${ESC}u${ESC}2K${header}${humanSizeWithPrecision(0, 3)}`);
  let last = 0;
  const timer = setInterval(() => {
    if (counter.n === last) return; // nothing new: leave the terminal alone
    last = counter.n;
    cli.err(`${ESC}${header.length + 1}G${ESC}0K${humanSizeWithPrecision(last, 3)}`);
  }, 75);
  return () => {
    clearInterval(timer);
    cli.err(`${ESC}?25h${ESC}u${ESC}2K`);
  };
}

async function statOrUndefined(cli: Cli, container: string, p: string): Promise<PathStat | undefined> {
  try {
    return await cli.client.containerStatPath(container, p);
  } catch {
    return undefined; // Docker ignores stat errors here and lets the copy itself fail
  }
}

async function copyFromContainer(cli: Cli, container: string, srcPathIn: string, dstIn: string, o: { followLink: boolean; quiet: boolean }): Promise<void> {
  let srcPath = srcPathIn;
  let dstPath = dstIn;
  if (dstPath !== '-') dstPath = resolveLocalPath(dstPath);
  validateOutputPath(dstPath);
  let rebaseName = '';
  if (o.followLink) {
    const st = await statOrUndefined(cli, container, srcPath);
    if (st && hasMode(st.mode, MODE_SYMLINK)) {
      let target = st.linkTarget;
      if (!target.startsWith('/')) target = path.posix.join(splitPathDirEntry(srcPath)[0], target);
      [srcPath, rebaseName] = getRebaseName(srcPath, target);
    }
  }
  const { stat, body } = await cli.client.copyFromContainer(container, srcPath);
  if (dstPath === '-') {
    await new Promise<void>((resolve, reject) => {
      body.on('error', reject);
      body.on('end', () => resolve());
      body.pipe(cli.streams.out as NodeJS.WritableStream, { end: false });
    });
    return;
  }
  const srcInfo: CopyInfo = { path: srcPath, exists: true, isDir: hasMode(stat.mode, MODE_DIR), rebaseName };
  const renames: Array<[string, string]> = [];
  if (rebaseName) renames.push([splitPathDirEntry(srcPath)[1], rebaseName]);
  let plan;
  try {
    const dstInfo = copyInfoDestinationPath(dstPath);
    plan = prepareArchiveCopy(srcInfo, dstInfo);
  } catch (e) {
    body.destroy();
    throw e;
  }
  if (plan.rebase) renames.push(plan.rebase);
  const counter = { n: 0 };
  const tar = renames.length ? packTar(renamed(readTar(counting(body, counter)), renames)) : counting(body, counter);
  const stop = o.quiet ? () => undefined : copyProgress(cli, 'Copying from container - ', counter);
  try {
    // As Docker's CopyTo: no chown (NoLchown), whatever the archive says.
    await extractTar(tar, plan.dstDir, { sameOwner: false });
  } finally {
    stop();
  }
  if (!o.quiet) summary(cli, counter.n, dstPath);
}

async function copyToContainer(cli: Cli, container: string, srcIn: string, dstPath: string, o: { followLink: boolean; quiet: boolean; copyUIDGID: boolean }): Promise<void> {
  let srcPath = srcIn;
  if (srcPath !== '-') srcPath = resolveLocalPath(srcPath);
  const dstInfo: CopyInfo = { path: dstPath, exists: false, isDir: false, rebaseName: '' };
  let dst = await statOrUndefined(cli, container, dstPath);
  if (dst) {
    if (hasMode(dst.mode, MODE_SYMLINK)) {
      let target = dst.linkTarget;
      if (!target.startsWith('/')) target = path.posix.join(splitPathDirEntry(dstPath)[0], target);
      dstInfo.path = target;
      dst = await statOrUndefined(cli, container, target);
    }
    if (dst) {
      const problem = fileModeProblem(dst.mode);
      if (problem) throw new Error(`destination "${container}:${dstPath}" must be a directory or a regular file: ${problem}`);
      dstInfo.exists = true;
      dstInfo.isDir = hasMode(dst.mode, MODE_DIR);
    }
  }
  const counter = { n: 0 };
  let content: NodeJS.ReadableStream;
  let target: string;
  if (srcPath === '-') {
    if (!dstInfo.isDir) throw new Error(`destination "${container}:${dstPath}" must be a directory`);
    content = Readable.from(counting(cli.streams.in as AsyncIterable<Buffer>, counter));
    target = dstInfo.path;
  } else {
    const srcInfo = copyInfoSourcePath(srcPath, o.followLink);
    const plan = prepareArchiveCopy(srcInfo, dstInfo);
    // The archive's top-level name after both of Docker's renames (TarResourceRebase, then PrepareArchiveCopy).
    let top = splitPathDirEntry(srcInfo.path)[1];
    if (srcInfo.rebaseName) top = rebaseEntryName(top, top, srcInfo.rebaseName);
    if (plan.rebase) top = rebaseEntryName(top, plan.rebase[0], plan.rebase[1]);
    content = Readable.from(counting(createTar(srcInfo.path, { prefix: top, includeRoot: true }), counter));
    target = plan.dstDir;
  }
  const stop = o.quiet ? () => undefined : copyProgress(cli, 'Copying to container - ', counter);
  try {
    await cli.client.copyToContainer(container, target, content, { copyUIDGID: o.copyUIDGID });
  } finally {
    stop();
  }
  if (!o.quiet) summary(cli, counter.n, `${container}:${dstInfo.path}`);
}

export const cp: CommandSpec = {
  use: `cp [OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n\t${PROG} cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH`,
  short: 'Copy files/folders between a container and the local filesystem',
  aliases: [`${PROG} container cp`, `${PROG} cp`],
  args: { exact: 2 },
  flags: [
    { name: 'archive', short: 'a', type: 'bool', help: 'Archive mode (copy all uid/gid information)' },
    { name: 'follow-link', short: 'L', type: 'bool', help: 'Always follow symbol link in SRC_PATH' },
    { name: 'quiet', short: 'q', type: 'bool', help: 'Suppress progress output during copy. Progress output is automatically suppressed if no terminal is attached' },
  ],
  async run(cli, fl, args) {
    const [source, destination] = args as [string, string];
    if (source === '') throw new Error('source can not be empty');
    if (destination === '') throw new Error('destination can not be empty');
    // Without -q, progress output is on only when stdout is a terminal.
    const quiet = fl.isSet('quiet') ? fl.bool('quiet') : !cli.outIsTTY;
    const [srcContainer, srcPath] = splitCpArg(source);
    const [dstContainer, dstPath] = splitCpArg(destination);
    const o = { followLink: fl.bool('follow-link'), copyUIDGID: fl.bool('archive'), quiet };
    try {
      if (srcContainer && dstContainer) throw new Error('copying between containers is not supported');
      if (srcContainer) return void (await copyFromContainer(cli, srcContainer, srcPath, dstPath, o));
      if (dstContainer) return void (await copyToContainer(cli, dstContainer, srcPath, dstPath, o));
      throw new Error('must specify at least one container source');
    } catch (e) {
      if (e instanceof CopyRuleError) throw new Error(e.message);
      const code = (e as NodeJS.ErrnoException).code;
      // Go's *PathError wording for local file system errors: "lstat /x: no such file or directory".
      if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EACCES') {
        const sys = (e as NodeJS.ErrnoException).syscall ?? 'lstat';
        const p = (e as NodeJS.ErrnoException).path ?? '';
        const text = code === 'ENOENT' ? 'no such file or directory' : code === 'ENOTDIR' ? 'not a directory' : 'permission denied';
        throw new Error(`${sys === 'realpath' ? 'lstat' : sys} ${p}: ${text}`);
      }
      throw e;
    }
  },
};

// ---- commit -------------------------------------------------------------------

export const commit: CommandSpec = {
  use: 'commit [OPTIONS] CONTAINER [REPOSITORY[:TAG]]',
  short: "Create a new image from a container's changes",
  aliases: [`${PROG} container commit`, `${PROG} commit`],
  interspersed: false,
  args: { min: 1, max: 2 },
  flags: [
    { name: 'author', short: 'a', type: 'string', help: 'Author (e.g., "John Hannibal Smith <hannibal@a-team.com>")' },
    { name: 'change', short: 'c', type: 'list', help: 'Apply Dockerfile instruction to the created image' },
    { name: 'message', short: 'm', type: 'string', help: 'Commit message' },
    { name: 'pause', short: 'p', type: 'bool', default: true, help: 'Pause container during commit' },
  ],
  async run(cli, fl, args) {
    const [container, ref] = args as [string, string | undefined];
    let repo: string | undefined;
    let tag: string | undefined;
    if (ref) {
      // The docker client parses the reference itself (ContainerCommit) and refuses digests.
      const { parseNormalizedNamed, familiarName } = await import('../reference');
      let named;
      try {
        named = parseNormalizedNamed(ref);
      } catch (e) {
        throw new Error((e as Error).message);
      }
      if (named.digest !== undefined) throw new Error('refusing to create a tag with a digest reference');
      repo = familiarName(named);
      tag = named.tag ?? 'latest'; // TagNameOnly, as the docker client sends it
    }
    const res = await cli.client.containerCommit(container, {
      repo, tag, comment: fl.string('message'), author: fl.string('author'), changes: fl.list('change'), pause: fl.bool('pause'),
    });
    cli.out(`${res.Id}\n`);
  },
};

// ---- diff -----------------------------------------------------------------------

const KIND = ['C', 'A', 'D'];

export const diff: CommandSpec = {
  use: 'diff CONTAINER',
  short: "Inspect changes to files or directories on a container's filesystem",
  aliases: [`${PROG} container diff`, `${PROG} diff`],
  args: { exact: 1 },
  flags: [],
  async run(cli, _fl, args) {
    const changes = (await cli.client.containerChanges(args[0]!)) ?? [];
    let out = '';
    for (const c of changes) out += `${KIND[c.Kind] ?? '?'} ${c.Path}\n`;
    cli.out(out);
  },
};

// ---- export -----------------------------------------------------------------------

export const exportContainer: CommandSpec = {
  use: 'export [OPTIONS] CONTAINER',
  short: "Export a container's filesystem as a tar archive",
  aliases: [`${PROG} container export`, `${PROG} export`],
  args: { exact: 1 },
  flags: [{ name: 'output', short: 'o', type: 'string', help: 'Write to a file, instead of STDOUT' }],
  async run(cli, fl, args) {
    const output = fl.string('output');
    if (!output && cli.outIsTTY) throw new Error('cowardly refusing to save to a terminal. Use the -o flag or redirect');
    let tmp: string | undefined;
    let file: fs.WriteStream | undefined;
    if (output) {
      // As Docker's atomicwriter: a temp file beside the target, renamed once complete.
      const dir = path.dirname(path.resolve(output));
      try {
        if (!fs.statSync(dir).isDirectory()) throw new Error(`${dir} is not a directory`);
        if (fs.existsSync(output) && !fs.statSync(output).isFile()) throw new Error(`${output} is not a regular file`);
      } catch (e) {
        throw new Error(`failed to export container: ${(e as Error).message}`);
      }
      tmp = path.join(dir, `.tmp-${path.basename(output)}${randomBytes(5).toString('hex')}`);
    }
    const res = await cli.client.containerExport(args[0]!);
    try {
      await new Promise<void>((resolve, reject) => {
        res.body.on('error', reject);
        if (tmp) {
          file = fs.createWriteStream(tmp, { mode: 0o600, flags: 'wx' });
          file.on('error', reject);
          file.on('finish', () => resolve());
          res.body.pipe(file);
        } else {
          res.body.on('end', () => resolve());
          res.body.pipe(cli.streams.out as NodeJS.WritableStream, { end: false });
        }
      });
      if (tmp) fs.renameSync(tmp, output);
    } catch (e) {
      if (tmp) fs.rmSync(tmp, { force: true });
      throw e;
    }
  },
};

// ---- update -------------------------------------------------------------------------

/** strconv.ParseUint(s, 0, 16) with Go's error texts (the flag parser has no unsigned type). */
export function parseUint16(s: string): number {
  const m = /^(?:0[xX]([0-9a-fA-F]+)|0[bB]([01]+)|0[oO]?([0-7]+)|([1-9][0-9]*|0))$/.exec(s);
  if (!m) throw new Error(`strconv.ParseUint: parsing ${JSON.stringify(s)}: invalid syntax`);
  const n = m[1] !== undefined ? parseInt(m[1], 16) : m[2] !== undefined ? parseInt(m[2], 2) : m[3] !== undefined ? parseInt(m[3], 8) : Number(m[4]);
  if (n > 65535) throw new Error(`strconv.ParseUint: parsing ${JSON.stringify(s)}: value out of range`);
  return n;
}

export const update: CommandSpec = {
  use: 'update [OPTIONS] CONTAINER [CONTAINER...]',
  short: 'Update configuration of one or more containers',
  aliases: [`${PROG} container update`, `${PROG} update`],
  args: { min: 1 },
  flags: [
    { name: 'blkio-weight', type: 'string', valueName: 'uint16', help: 'Block IO (relative weight), between 10 and 1000, or 0 to disable (default 0)' },
    { name: 'cpu-period', type: 'int', help: 'Limit CPU CFS (Completely Fair Scheduler) period' },
    { name: 'cpu-quota', type: 'int', help: 'Limit CPU CFS (Completely Fair Scheduler) quota' },
    { name: 'cpu-rt-period', type: 'int', help: 'Limit the CPU real-time period in microseconds' },
    { name: 'cpu-rt-runtime', type: 'int', help: 'Limit the CPU real-time runtime in microseconds' },
    { name: 'cpu-shares', short: 'c', type: 'int', help: 'CPU shares (relative weight)' },
    { name: 'cpus', type: 'string', valueName: 'decimal', help: 'Number of CPUs' },
    { name: 'cpuset-cpus', type: 'string', help: 'CPUs in which to allow execution (0-3, 0,1)' },
    { name: 'cpuset-mems', type: 'string', help: 'MEMs in which to allow execution (0-3, 0,1)' },
    { name: 'kernel-memory', type: 'string', valueName: 'bytes', hidden: true, help: 'Kernel memory limit (deprecated)' },
    { name: 'memory', short: 'm', type: 'string', valueName: 'bytes', help: 'Memory limit' },
    { name: 'memory-reservation', type: 'string', valueName: 'bytes', help: 'Memory soft limit' },
    { name: 'memory-swap', type: 'string', valueName: 'bytes', help: 'Swap limit equal to memory plus swap: -1 to enable unlimited swap' },
    { name: 'pids-limit', type: 'int', help: 'Tune container pids limit (set -1 for unlimited)' },
    { name: 'restart', type: 'string', help: 'Restart policy to apply when a container exits' },
  ],
  async run(cli, fl, args) {
    let bw = 0;
    try {
      bw = parseUint16(fl.string('blkio-weight') || '0');
    } catch (e) {
      throw flagValueError(update, cli.commandPath, `invalid argument "${fl.string('blkio-weight')}" for "--blkio-weight" flag: ${(e as Error).message}`);
    }
    const cpus = fl.string('cpus');
    try {
      nanoCpus(cpus);
    } catch (e) {
      throw flagValueError(update, cli.commandPath, `invalid argument "${cpus}" for "--cpus" flag: ${(e as Error).message}`);
    }
    if (fl.changed.size === 0) throw new Error('you must provide one or more flags when using this command');
    let body: Record<string, unknown>;
    try {
      const swap = fl.string('memory-swap');
      body = {
        BlkioWeight: bw,
        CpusetCpus: fl.string('cpuset-cpus'),
        CpusetMems: fl.string('cpuset-mems'),
        CpuShares: fl.int('cpu-shares'),
        Memory: mem(fl.string('memory'), '-m, --memory'),
        MemoryReservation: mem(fl.string('memory-reservation'), '--memory-reservation'),
        MemorySwap: swap === '-1' ? -1 : mem(swap, '--memory-swap'),
        KernelMemory: mem(fl.string('kernel-memory'), '--kernel-memory'),
        CpuPeriod: fl.int('cpu-period'),
        CpuQuota: fl.int('cpu-quota'),
        CpuRealtimePeriod: fl.int('cpu-rt-period'),
        CpuRealtimeRuntime: fl.int('cpu-rt-runtime'),
        NanoCpus: nanoCpus(fl.string('cpus')),
      };
    } catch (e) {
      // Bad sizes are flag errors for the docker CLI (exit 125 and the usage).
      if (e instanceof OptsError) throw flagValueError(update, cli.commandPath, e.message);
      throw e;
    }
    // A bad restart policy is reported by the command itself (exit 1).
    if (fl.string('restart')) body['RestartPolicy'] = parseRestartPolicy(fl.string('restart'));
    if (fl.int('pids-limit') !== 0) body['PidsLimit'] = fl.int('pids-limit');
    const warns: string[] = [];
    const errs: string[] = [];
    let out = '';
    for (const c of args) {
      try {
        const r = await cli.client.containerUpdate(c, body);
        out += `${c}\n`;
        warns.push(...(r?.Warnings ?? []));
      } catch (e) {
        errs.push((e as Error).message);
      }
    }
    if (warns.length) out += `${warns.join('\n')}\n`;
    cli.out(out);
    if (errs.length) throw new StatusError(1, errs.join('\n'));
  },
};
