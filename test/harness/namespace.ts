// Persistent mount + network namespaces for a test daemon, and their teardown.
//
// Layout of a sandbox dir D (e.g. /tmp/bt-Ab12Cd):
//   D is bind-mounted onto itself and made private on the host, so that
//   D/mnt and D/net can hold the namespace files (a mount-namespace file must
//   not be bound inside a mount that propagates into that namespace).
//   `unshare --mount=D/mnt --net=D/net --propagation private` creates both;
//   every daemon start runs `nsenter --mount=D/mnt --net=D/net -- node ...`,
//   so a SIGKILLed daemon restarts in the very same namespaces and finds its
//   mounts and container interfaces where it left them.
//   D/owner.pid names the test process that owns D, so a later run can sweep
//   sandboxes whose owner died without cleaning up.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fullPath, tmpBase } from './paths';
import { runSync } from './proc';
import { TmuxSession } from './tmux';

export interface Sandbox {
  dir: string;
  mntNs: string;
  netNs: string;
}

const PREFIX = 'bt-';

function must(what: string, cmd: string, args: string[]): void {
  const r = runSync(cmd, args, { timeoutMs: 20_000 });
  if (r.code !== 0) throw new Error(`${what}: ${cmd} ${args.join(' ')} → exit ${r.code}: ${r.stderr.trim()}`);
}

export function createSandbox(): Sandbox {
  const dir = fs.mkdtempSync(path.join(tmpBase(), PREFIX));
  fs.writeFileSync(path.join(dir, 'owner.pid'), `${process.pid}\n`);
  const mntNs = path.join(dir, 'mnt');
  const netNs = path.join(dir, 'net');
  try {
    must('bind sandbox dir', 'mount', ['--bind', dir, dir]);
    must('make sandbox private', 'mount', ['--make-private', dir]);
    fs.writeFileSync(mntNs, '');
    fs.writeFileSync(netNs, '');
    must('create namespaces', 'unshare', [`--mount=${mntNs}`, `--net=${netNs}`, '--propagation', 'private', '--', 'ip', 'link', 'set', 'lo', 'up']);
  } catch (e) {
    destroySandbox({ dir, mntNs, netNs });
    throw e;
  }
  return { dir, mntNs, netNs };
}

/** argv prefix that runs a command inside the sandbox's namespaces. */
export function nsenterArgv(sb: Sandbox): string[] {
  return ['nsenter', `--mount=${sb.mntNs}`, `--net=${sb.netNs}`, '--'];
}

export function runInNs(sb: Sandbox, cmd: string, args: string[], timeoutMs = 20_000): ReturnType<typeof runSync> {
  const [nsenter, ...rest] = nsenterArgv(sb);
  return runSync(nsenter!, [...rest, 'env', `PATH=${fullPath()}`, cmd, ...args], { timeoutMs });
}

function nsInode(file: string): number | undefined {
  try {
    return fs.statSync(file).ino;
  } catch {
    return undefined;
  }
}

function isNsMounted(file: string): boolean {
  try {
    return fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').some((l) => l.split(' ')[4] === file);
  } catch {
    return false;
  }
}

interface ProcInfo {
  pid: number;
  ppid: number;
  mnt?: number;
  net?: number;
}

function listProcs(): ProcInfo[] {
  const out: ProcInfo[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const info: ProcInfo = { pid, ppid };
      try {
        info.mnt = fs.statSync(`/proc/${pid}/ns/mnt`).ino;
        info.net = fs.statSync(`/proc/${pid}/ns/net`).ino;
      } catch {
        /* kernel thread or gone */
      }
      out.push(info);
    } catch {
      /* gone */
    }
  }
  return out;
}

/**
 * Pids of every process in the sandbox: those in its mount or network
 * namespace (berthd, conmon, runc, exec sessions, host-network containers)
 * and all their descendants (container processes in their own namespaces).
 */
export function sandboxPids(sb: Sandbox): number[] {
  const mnt = nsInode(sb.mntNs);
  const net = nsInode(sb.netNs);
  const hostMnt = nsInode('/proc/self/ns/mnt');
  const procs = listProcs();
  const children = new Map<number, number[]>();
  for (const p of procs) {
    const list = children.get(p.ppid) ?? [];
    list.push(p.pid);
    children.set(p.ppid, list);
  }
  const found = new Set<number>();
  const stack: number[] = [];
  for (const p of procs) {
    const inMnt = mnt !== undefined && mnt !== hostMnt && p.mnt === mnt;
    const inNet = net !== undefined && p.net === net;
    if ((inMnt || inNet) && p.pid !== process.pid) stack.push(p.pid);
  }
  while (stack.length > 0) {
    const pid = stack.pop()!;
    if (found.has(pid) || pid === process.pid || pid === 1) continue;
    found.add(pid);
    for (const c of children.get(pid) ?? []) stack.push(c);
  }
  return [...found];
}

/** runc state dirs (<root>/<id>/state.json) anywhere under the given dirs. */
export function findRuncStates(dirs: string[], maxDepth = 6): { root: string; id: string }[] {
  const found: { root: string; id: string }[] = [];
  const walk = (dir: string, depth: number): void => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      if (e.isFile() && e.name === 'state.json') {
        try {
          const st = JSON.parse(fs.readFileSync(path.join(dir, e.name), 'utf8')) as Record<string, unknown>;
          if ('init_process_pid' in st) found.push({ root: path.dirname(dir), id: path.basename(dir) });
        } catch {
          /* not runc's */
        }
      } else if (e.isDirectory() && depth < maxDepth && e.name !== 'rootfs' && e.name !== 'merged' && e.name !== 'diff') {
        walk(path.join(dir, e.name), depth + 1);
      }
    }
  };
  for (const d of dirs) walk(d, 0);
  return found;
}

/** Mount points (as seen inside the sandbox's mount namespace) at or under `under`. */
export function nsMountsUnder(sb: Sandbox, under: string): string[] {
  const r = runInNs(sb, 'cat', ['/proc/self/mountinfo']);
  if (r.code !== 0) return [];
  const prefix = under.endsWith('/') ? under : under + '/';
  return r.stdout
    .split('\n')
    .map((l) => l.split(' ')[4])
    .filter((m): m is string => m !== undefined && (m === under || m.startsWith(prefix)))
    .map((m) => m.replace(/\\040/g, ' '));
}

/** Kills everything running in the sandbox: runc containers first, then every process left. */
export function killSandboxProcesses(sb: Sandbox, runcDirs: string[]): void {
  if (fs.existsSync(sb.mntNs) && isNsMounted(sb.mntNs)) {
    for (const { root, id } of findRuncStates(runcDirs)) {
      runInNs(sb, 'runc', ['--root', root, 'delete', '--force', id], 15_000);
    }
  }
  for (let round = 0; round < 20; round++) {
    const pids = sandboxPids(sb);
    if (pids.length === 0) return;
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    runSync('sleep', ['0.1']);
  }
}

/** Tears the sandbox down completely. Synchronous, idempotent, best effort: never throws. */
export function destroySandbox(sb: Sandbox, runcDirs: string[] = []): string[] {
  const problems: string[] = [];
  try {
    killSandboxProcesses(sb, runcDirs);
    if (fs.existsSync(sb.mntNs) && isNsMounted(sb.mntNs)) {
      // Unmount, deepest first, everything the daemon mounted under the sandbox.
      const mounts = nsMountsUnder(sb, sb.dir).filter((m) => m !== sb.dir);
      mounts.sort((a, b) => b.length - a.length);
      for (const m of mounts) {
        const r = runInNs(sb, 'umount', ['-l', m]);
        if (r.code !== 0 && !/not mounted|no mount point/.test(r.stderr)) problems.push(`umount ${m} in ns: ${r.stderr.trim()}`);
      }
    }
    for (const f of [sb.mntNs, sb.netNs]) {
      if (isNsMounted(f)) {
        const r = runSync('umount', [f]);
        if (r.code !== 0) problems.push(`umount ${f}: ${r.stderr.trim()}`);
      }
    }
    // Anything else under the sandbox on the host side (there should be nothing but the self-bind).
    const hostMounts = fs
      .readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .map((l) => l.split(' ')[4])
      .filter((m): m is string => m !== undefined && (m === sb.dir || m.startsWith(sb.dir + '/')))
      .sort((a, b) => b.length - a.length);
    for (const m of hostMounts) {
      const r = runSync('umount', ['-l', m]);
      if (r.code !== 0) problems.push(`umount ${m}: ${r.stderr.trim()}`);
    }
    TmuxSession.killServer(path.join(sb.dir, 'tmux.sock'));
    fs.rmSync(sb.dir, { recursive: true, force: true, maxRetries: 3 });
  } catch (e) {
    problems.push(`destroy ${sb.dir}: ${(e as Error).message}`);
  }
  return problems;
}

/** Destroys sandboxes left by test processes that died without cleaning up. */
export function sweepStaleSandboxes(): string[] {
  const swept: string[] = [];
  let names: string[];
  try {
    names = fs.readdirSync(tmpBase()).filter((n) => n.startsWith(PREFIX));
  } catch {
    return swept;
  }
  for (const n of names) {
    const dir = path.join(tmpBase(), n);
    let owner: number;
    try {
      owner = Number(fs.readFileSync(path.join(dir, 'owner.pid'), 'utf8').trim());
    } catch {
      continue;
    }
    let alive = false;
    try {
      process.kill(owner, 0);
      alive = true;
    } catch (e) {
      alive = (e as NodeJS.ErrnoException).code === 'EPERM';
    }
    if (alive) continue;
    destroySandbox({ dir, mntNs: path.join(dir, 'mnt'), netNs: path.join(dir, 'net') }, [dir]);
    swept.push(dir);
  }
  return swept;
}
