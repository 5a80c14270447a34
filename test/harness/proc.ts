// Running child processes with captured output and a hard timeout.
import { spawn, spawnSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';

export interface RunResult {
  /** Exit code; 128+N when killed by signal N; -1 when the timeout killed it. */
  code: number;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  durationMs: number;
}

export interface RunOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Written to stdin, which is then closed. Without it stdin is /dev/null. */
  input?: string | Buffer;
  /** Kill (SIGKILL) after this long. Default 60 s. */
  timeoutMs?: number;
}

const signals: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGKILL: 9, SIGPIPE: 13, SIGTERM: 15 };

export function run(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const started = performance.now();
  return new Promise((resolve) => {
    const child = spawn(cmd, [...args], {
      env: opts.env ?? process.env,
      cwd: opts.cwd,
      stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout?.on('data', (b: Buffer) => out.push(b));
    child.stderr?.on('data', (b: Buffer) => err.push(b));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, opts.timeoutMs ?? 60_000);
    if (opts.input !== undefined && child.stdin) {
      child.stdin.on('error', () => undefined);
      child.stdin.end(opts.input);
    }
    const finish = (code: number, extra = ''): void => {
      clearTimeout(timer);
      resolve({
        code: timedOut ? -1 : code,
        stdout: Buffer.concat(out).toString(),
        stderr: Buffer.concat(err).toString() + extra + (timedOut ? `\n[harness: killed after ${opts.timeoutMs ?? 60_000} ms]` : ''),
        timedOut,
        durationMs: performance.now() - started,
      });
    };
    child.on('error', (e) => finish(127, `[harness: spawn ${cmd}: ${e.message}]`));
    child.on('close', (code, signal) => finish(code ?? 128 + (signal ? signals[signal] ?? 0 : 0)));
  });
}

/** Synchronous variant for cleanup paths (process 'exit' handlers cannot await). */
export function runSync(cmd: string, args: readonly string[], opts: { timeoutMs?: number; input?: string; env?: NodeJS.ProcessEnv; cwd?: string } = {}): RunResult {
  const started = Date.now();
  const r = spawnSync(cmd, [...args], {
    encoding: 'utf8',
    timeout: opts.timeoutMs ?? 30_000,
    input: opts.input,
    env: opts.env ?? process.env,
    cwd: opts.cwd,
    stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
  });
  return {
    code: r.status ?? (r.error ? 127 : 128),
    stdout: r.stdout ?? '',
    stderr: (r.stderr ?? '') + (r.error ? `[harness: ${r.error.message}]` : ''),
    timedOut: r.error !== undefined && (r.error as NodeJS.ErrnoException).code === 'ETIMEDOUT',
    durationMs: Date.now() - started,
  };
}

export function describeResult(what: string, r: RunResult): string {
  return `${what} → exit ${r.code}${r.timedOut ? ' (timed out)' : ''}\n--- stdout ---\n${r.stdout.slice(-4000)}\n--- stderr ---\n${r.stderr.slice(-4000)}`;
}

export interface Background {
  readonly pid: number | undefined;
  stdout(): string;
  stderr(): string;
  /** Resolves with the exit code once the process has exited on its own. */
  exited: Promise<number>;
  /** Kills it (SIGTERM, then SIGKILL after 2 s) and resolves once it has exited. */
  stop(): Promise<number>;
}

/** Starts a long-running process (e.g. `docker logs -f`) whose output is collected as it arrives. */
export function startBackground(
  cmd: string,
  args: readonly string[],
  opts: { env?: NodeJS.ProcessEnv; /** 'pipe': stdin stays open (and silent) until the process is stopped. */ stdin?: 'ignore' | 'pipe' } = {},
): Background {
  const child = spawn(cmd, [...args], { env: opts.env ?? process.env, stdio: [opts.stdin ?? 'ignore', 'pipe', 'pipe'] });
  child.stdin?.on('error', () => undefined);
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout?.on('data', (b: Buffer) => out.push(b));
  child.stderr?.on('data', (b: Buffer) => err.push(b));
  const exited = new Promise<number>((resolve) => {
    child.on('close', (code, signal) => resolve(code ?? 128 + (signal ? signals[signal] ?? 0 : 0)));
    child.on('error', () => resolve(127));
  });
  return {
    pid: child.pid,
    stdout: () => Buffer.concat(out).toString(),
    stderr: () => Buffer.concat(err).toString(),
    exited,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 2000);
        const code = await exited;
        clearTimeout(t);
        return code;
      }
      return exited;
    },
  };
}
