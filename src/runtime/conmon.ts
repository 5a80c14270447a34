// Starting containers and exec sessions under conmon: one small C monitor per
// process, outliving berthd, holding stdio, the attach socket and the log.
// Hand-off with conmon goes through pipes named by _OCI_* environment variables.
import { spawn } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { cleanRuncError } from './runc';

export interface ConmonCommon {
  conmonPath: string;
  runtimePath: string;
  runtimeRoot: string;
}

export interface ContainerConmonOpts extends ConmonCommon {
  id: string;
  name: string;
  bundle: string;
  pidFile: string;
  conmonPidFile: string;
  logPath: string;
  logSizeMax?: number;
  exitDir: string;
  persistDir: string;
  terminal: boolean;
  stdin: boolean;
  leaveStdinOpen: boolean;
}

export interface SyncMessage { data: number; message?: string }

/** Reads newline-separated JSON messages from a conmon pipe. */
class PipeReader {
  private buf = '';
  private queue: SyncMessage[] = [];
  private waiters: Array<(m: SyncMessage | undefined) => void> = [];
  private ended = false;
  constructor(stream: Readable) {
    stream.setEncoding('utf8');
    stream.on('data', (d: string) => {
      this.buf += d;
      let i: number;
      while ((i = this.buf.indexOf('\n')) >= 0) {
        const line = this.buf.slice(0, i).trim();
        this.buf = this.buf.slice(i + 1);
        if (!line) continue;
        try {
          this.push(JSON.parse(line) as SyncMessage);
        } catch {
          this.push({ data: -1, message: line });
        }
      }
    });
    const end = (): void => {
      if (this.buf.trim()) {
        try { this.push(JSON.parse(this.buf) as SyncMessage); } catch { /* partial */ }
        this.buf = '';
      }
      this.ended = true;
      for (const w of this.waiters.splice(0)) w(undefined);
    };
    stream.on('end', end);
    stream.on('close', end);
    stream.on('error', end);
  }
  private push(m: SyncMessage): void {
    const w = this.waiters.shift();
    if (w) w(m);
    else this.queue.push(m);
  }
  next(): Promise<SyncMessage | undefined> {
    const m = this.queue.shift();
    if (m) return Promise.resolve(m);
    if (this.ended) return Promise.resolve(undefined);
    return new Promise((r) => this.waiters.push(r));
  }
}

function baseArgs(o: ConmonCommon): string[] {
  return ['--api-version', '1', '-r', o.runtimePath, '--runtime-arg', '--root', '--runtime-arg', o.runtimeRoot, '--full-attach'];
}

function runtimeError(msg: string | undefined): Error {
  return new Error(cleanRuncError(msg ?? '') || 'container runtime failed');
}

/** Runs `runc create` under a new conmon; resolves with the container's pid once created (not started). */
export async function conmonCreate(o: ContainerConmonOpts): Promise<number> {
  const args = [
    ...baseArgs(o), '-c', o.id, '-u', o.id, '-n', o.name, '-b', o.bundle, '-p', o.pidFile, '-P', o.conmonPidFile,
    '-l', `k8s-file:${o.logPath}`, '--exit-dir', o.exitDir, '--persist-dir', o.persistDir, '--socket-dir-path', o.persistDir,
    '--log-level', 'error',
  ];
  if (o.logSizeMax && o.logSizeMax > 0) args.push('--log-size-max', String(o.logSizeMax));
  if (o.terminal) args.push('-t');
  if (o.stdin) args.push('-i');
  if (o.leaveStdinOpen) args.push('--leave-stdin-open');
  // TZ=UTC so the k8s-file timestamps conmon writes are in UTC.
  const child = spawn(o.conmonPath, args, {
    stdio: ['ignore', 'ignore', 'pipe', 'pipe'],
    env: { PATH: process.env['PATH'] ?? '/usr/sbin:/usr/bin:/sbin:/bin', TZ: 'UTC', _OCI_SYNCPIPE: '3' },
    detached: true,
  });
  const sync = new PipeReader(child.stdio[3] as Readable);
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
  const spawnError = new Promise<never>((_, rej) => child.once('error', rej));
  const msg = await Promise.race([sync.next(), spawnError]);
  (child.stdio[3] as Readable).destroy();
  child.stderr?.destroy();
  child.unref();
  if (!msg) throw runtimeError(stderr || 'conmon exited without reporting');
  if (msg.data < 0) throw runtimeError(msg.message);
  return msg.data;
}

export interface ExecConmonOpts extends ConmonCommon {
  containerId: string;
  execId: string;
  dir: string; // holds the process spec, pid file, attach socket
  processSpecPath: string;
  terminal: boolean;
  stdin: boolean;
  attach: boolean;
}

export interface ExecHandle {
  /** Resolves once the attach socket exists (only with attach). */
  attachReady: Promise<void>;
  /** Lets the exec'd process run (after attaching). */
  start(): void;
  /** Resolves with the pid, or rejects with the runtime's error. */
  pid: Promise<number>;
  /** Resolves with the exit code. */
  exit: Promise<number>;
}

/** Starts `runc exec` under conmon. With attach, conmon waits on the start pipe until start() so no output is lost. */
export function conmonExec(o: ExecConmonOpts): ExecHandle {
  const args = [
    ...baseArgs(o), '-c', o.containerId, '-u', o.execId, '-b', o.dir, '-p', `${o.dir}/pid`, '-l', 'none',
    '--exit-dir', o.dir, '--persist-dir', o.dir, '--socket-dir-path', o.dir, '--exec', '--exec-process-spec', o.processSpecPath,
    '--log-level', 'error',
  ];
  if (o.terminal) args.push('-t');
  if (o.stdin) args.push('-i');
  if (o.attach) args.push('--exec-attach');
  const env: Record<string, string> = { PATH: process.env['PATH'] ?? '/usr/sbin:/usr/bin', TZ: 'UTC', _OCI_SYNCPIPE: '3', _OCI_STARTPIPE: '4' };
  if (o.attach) env['_OCI_ATTACHPIPE'] = '5';
  const stdio: Array<'ignore' | 'pipe'> = ['ignore', 'ignore', 'ignore', 'pipe', 'pipe'];
  if (o.attach) stdio.push('pipe');
  const child = spawn(o.conmonPath, args, { stdio, env, detached: true });
  child.unref();
  const sync = new PipeReader(child.stdio[3] as Readable);
  const startPipe = child.stdio[4] as Writable;
  startPipe.on('error', () => undefined);
  // First write: conmon may proceed past its cgroup hand-off point.
  startPipe.write('0');
  let attachReady: Promise<void> = Promise.resolve();
  if (o.attach) {
    // stdio has six entries here; the tuple type only knows five.
    const attachPipe = (child.stdio as unknown as Readable[])[5]!;
    const ap = new PipeReader(attachPipe);
    attachReady = ap.next().then((m) => {
      attachPipe.destroy();
      if (!m || m.data < 0) throw runtimeError(m?.message ?? 'exec attach failed');
    });
  }
  const pid = sync.next().then((m) => {
    if (!m) throw runtimeError('conmon exited without reporting');
    if (m.data < 0) throw runtimeError(m.message);
    return m.data;
  });
  const exit = pid.then(async () => {
    const m = await sync.next();
    (child.stdio[3] as Readable).destroy();
    return m ? m.data : -1;
  });
  return {
    attachReady,
    start: () => { startPipe.end('1'); },
    pid,
    exit,
  };
}
