// A berthd under test: its own temp data-root, exec-root and socket, inside
// persistent mount and network namespaces (see namespace.ts), so it can be
// SIGKILLed and restarted in the same namespaces. Nothing it does touches
// the host's mounts, interfaces, /var/lib/berth or the default socket.
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, afterEach, before } from 'node:test';
import { busyboxTar } from './busybox';
import { apiRequest, ping, type ApiOptions, type ApiResponse } from './http';
import {
  createSandbox,
  destroySandbox,
  findRuncStates,
  nsenterArgv,
  nsMountsUnder,
  runInNs,
  sandboxPids,
  sweepStaleSandboxes,
  type Sandbox,
} from './namespace';
import { berthBin, berthdArgv, berthdJs, buildDir, DOCKER_BIN, fullPath, repoRoot } from './paths';
import { run, type RunOptions, type RunResult } from './proc';
import { sleep } from './wait';

export interface DaemonOptions {
  /** Extra berthd flags. */
  args?: string[];
  /** Extra environment for berthd. */
  env?: Record<string, string>;
  /** --log-level (default $BERTH_TEST_LOG_LEVEL or "debug"). */
  logLevel?: string;
  /** How long to wait for /_ping after a start (default 30 s). */
  startTimeoutMs?: number;
}

export interface CmdOptions {
  input?: string | Buffer;
  timeoutMs?: number;
  /** Replaces the handle's client environment entirely when given. */
  env?: NodeJS.ProcessEnv;
}

const live = new Set<Daemon>();
let exitHookInstalled = false;
let swept = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const d of live) d.cleanup();
  });
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      for (const d of live) d.cleanup();
      process.exit(128 + (sig === 'SIGINT' ? 2 : sig === 'SIGTERM' ? 15 : 1));
    });
  }
}

/** Environment for client processes with anything that could redirect them elsewhere removed. */
function baseClientEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, PATH: fullPath() };
  for (const k of Object.keys(env)) {
    if (/^DOCKER_/.test(k) || /^BERTH_HOST$/.test(k)) delete env[k];
  }
  return env;
}

export class Daemon {
  readonly opts: DaemonOptions;
  private sbox: Sandbox | undefined;
  private child: ChildProcess | undefined;
  private exitPromise: Promise<number | null> | undefined;
  private cleanedUp = false;
  private starts = 0;

  constructor(opts: DaemonOptions = {}) {
    this.opts = opts;
  }

  private get sb(): Sandbox {
    if (!this.sbox) throw new Error('daemon not started (call start() first)');
    return this.sbox;
  }
  get sandbox(): Sandbox {
    return this.sb;
  }
  get dir(): string {
    return this.sb.dir;
  }
  get sock(): string {
    return path.join(this.dir, 'berth.sock');
  }
  get host(): string {
    return `unix://${this.sock}`;
  }
  get dataRoot(): string {
    return path.join(this.dir, 'data');
  }
  get execRoot(): string {
    return path.join(this.dir, 'exec');
  }
  get pidfile(): string {
    return path.join(this.dir, 'berthd.pid');
  }
  get configFile(): string {
    return path.join(this.dir, 'daemon.json');
  }
  get logFile(): string {
    return path.join(this.dir, 'berthd.log');
  }
  get dockerConfig(): string {
    return path.join(this.dir, 'docker-config');
  }
  /** Client environment: DOCKER_HOST, DOCKER_CONFIG, BERTH_HOST pointing at this daemon. */
  get env(): NodeJS.ProcessEnv {
    return {
      ...baseClientEnv(),
      DOCKER_HOST: this.host,
      DOCKER_CONFIG: this.dockerConfig,
      DOCKER_CLI_HINTS: 'false',
      DOCKER_BUILDKIT: '0',
      BERTH_HOST: this.host,
    };
  }
  /** Pid of the running berthd (the nsenter'd node process), if any. */
  get pid(): number | undefined {
    return this.child && this.child.exitCode === null && this.child.signalCode === null ? this.child.pid : undefined;
  }
  get running(): boolean {
    return this.pid !== undefined;
  }

  /** Creates the sandbox (first call only) and starts berthd; resolves once /_ping answers. Returns ms until ready. */
  async start(): Promise<number> {
    if (this.cleanedUp) throw new Error('daemon handle already cleaned up');
    if (this.running) throw new Error('berthd is already running');
    if (!this.sbox) {
      if (!swept) {
        swept = true;
        sweepStaleSandboxes();
      }
      installExitHook();
      this.sbox = createSandbox();
      live.add(this);
      fs.mkdirSync(this.dockerConfig, { recursive: true });
      // An empty config file of its own, so a host /etc/berth/daemon.json never leaks in.
      fs.writeFileSync(this.configFile, '{}\n');
    }
    if (!fs.existsSync(berthdJs())) throw new Error(`${berthdJs()} is missing: run node scripts/build.mjs`);
    this.starts++;
    const log = fs.openSync(this.logFile, 'a');
    fs.writeSync(log, `\n===== harness: berthd start #${this.starts} at ${new Date().toISOString()} =====\n`);
    const args = [
      ...nsenterArgv(this.sb),
      ...berthdArgv(),
      '-H',
      this.host,
      '--data-root',
      this.dataRoot,
      '--exec-root',
      this.execRoot,
      '--pidfile',
      this.pidfile,
      '--config-file',
      this.configFile,
      '--log-level',
      this.opts.logLevel ?? process.env['BERTH_TEST_LOG_LEVEL'] ?? 'debug',
      ...(this.opts.args ?? []),
    ];
    const began = Date.now();
    const child = spawn(args[0]!, args.slice(1), {
      cwd: repoRoot(),
      env: { ...baseClientEnv(), BERTH_BUILD_DIR: buildDir(), ...this.opts.env },
      stdio: ['ignore', log, log],
    });
    fs.closeSync(log);
    this.child = child;
    this.exitPromise = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        try {
          fs.appendFileSync(this.logFile, `===== harness: berthd exited code=${code} signal=${signal} =====\n`);
        } catch {
          /* sandbox gone */
        }
        resolve(code);
      });
      child.once('error', () => resolve(null));
    });
    const timeout = this.opts.startTimeoutMs ?? 30_000;
    for (;;) {
      if (!this.running) {
        throw new Error(`berthd exited during start-up (start #${this.starts}); log tail:\n${this.logTail(60)}`);
      }
      if (await ping(this.sock, 1000)) return Date.now() - began;
      if (Date.now() - began > timeout) {
        throw new Error(`berthd did not answer /_ping within ${timeout} ms; log tail:\n${this.logTail(60)}`);
      }
      await sleep(20);
    }
  }

  /** Sends a signal to berthd and waits until it has exited. Returns its exit code (null if killed). */
  async kill(signal: NodeJS.Signals = 'SIGKILL', timeoutMs = 20_000): Promise<number | null> {
    const child = this.child;
    if (!child || !this.running) return child?.exitCode ?? null;
    child.kill(signal);
    const timer = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), timeoutMs).unref());
    const res = await Promise.race([this.exitPromise!, timer]);
    if (res === 'timeout') throw new Error(`berthd did not exit within ${timeoutMs} ms of ${signal}`);
    return res;
  }

  /** Graceful stop: SIGTERM, then SIGKILL if it has not exited after timeoutMs. */
  async stop(timeoutMs = 15_000): Promise<number | null> {
    if (!this.running) return this.child?.exitCode ?? null;
    try {
      return await this.kill('SIGTERM', timeoutMs);
    } catch {
      return this.kill('SIGKILL');
    }
  }

  /** Restarts berthd in the same namespaces (stops it gracefully first if it runs). Returns ms until /_ping answered. */
  async restart(): Promise<number> {
    if (this.running) await this.stop();
    return this.start();
  }

  docker(args: readonly string[], opts: CmdOptions = {}): Promise<RunResult> {
    return run(DOCKER_BIN, args, this.runOpts(opts));
  }

  berth(args: readonly string[], opts: CmdOptions = {}): Promise<RunResult> {
    return run(berthBin(), args, this.runOpts(opts));
  }

  private runOpts(opts: CmdOptions): RunOptions {
    const r: RunOptions = { env: opts.env ?? this.env, timeoutMs: opts.timeoutMs ?? 60_000 };
    if (opts.input !== undefined) r.input = opts.input;
    return r;
  }

  api<T = unknown>(method: string, urlPath: string, body?: unknown, opts?: ApiOptions): Promise<ApiResponse<T>> {
    return apiRequest<T>(this.sock, method, urlPath, body, opts);
  }

  /** Makes sure busybox:latest exists (imports the cached rootfs tar through the API). Returns its image ID. */
  async loadBusybox(): Promise<string> {
    const have = await this.api<{ Id: string }>('GET', '/images/busybox:latest/json');
    if (have.status === 200) return have.json.Id;
    const tar = fs.readFileSync(busyboxTar());
    const r = await this.api('POST', '/images/create?fromSrc=-&repo=busybox&tag=latest', tar, {
      headers: { 'Content-Type': 'application/x-tar' },
      timeoutMs: 120_000,
    });
    if (r.status !== 200 || /"error(Detail)?"\s*:/.test(r.text)) {
      throw new Error(`importing busybox failed: HTTP ${r.status}: ${r.text.slice(0, 1000)}`);
    }
    const check = await this.api<{ Id: string }>('GET', '/images/busybox:latest/json');
    if (check.status !== 200) throw new Error(`busybox:latest missing after import: HTTP ${check.status}: ${check.text}`);
    return check.json.Id;
  }

  logTail(lines = 60): string {
    try {
      const text = fs.readFileSync(this.logFile, 'utf8');
      return text.split('\n').slice(-lines - 1).join('\n');
    } catch {
      return '(no berthd log)';
    }
  }

  /** Runs a command inside the daemon's mount and network namespaces. */
  nsRun(cmd: string, args: string[], timeoutMs = 20_000): RunResult {
    return runInNs(this.sb, cmd, args, timeoutMs);
  }

  /** Mount points under the sandbox dir as the daemon's namespace sees them (excluding the sandbox's own bind). */
  mounts(): string[] {
    return nsMountsUnder(this.sb, this.dir).filter((m) => m !== this.dir);
  }

  /** runc container states left under the data-root and exec-root. */
  runcStates(): { root: string; id: string }[] {
    return findRuncStates([this.execRoot, this.dataRoot]);
  }

  /** Pids of all processes in the sandbox (berthd, conmon, containers, ...). */
  pids(): number[] {
    return sandboxPids(this.sb);
  }

  /** Kills everything, unmounts everything, removes the temp dir. Synchronous and idempotent. */
  cleanup(): void {
    if (this.cleanedUp) return;
    this.cleanedUp = true;
    live.delete(this);
    if (this.child && this.running) this.child.kill('SIGKILL');
    if (!this.sbox) return;
    if (process.env['BERTH_TEST_KEEP'] === '1') {
      process.stderr.write(`harness: BERTH_TEST_KEEP=1, leaving ${this.sbox.dir}\n`);
      return;
    }
    const problems = destroySandbox(this.sbox, [this.execRoot, this.dataRoot]);
    for (const p of problems) process.stderr.write(`harness cleanup: ${p}\n`);
  }
}

/** Starts a daemon in fresh namespaces. The caller owns cleanup() (a process-exit hook is the safety net). */
export async function startDaemon(opts: DaemonOptions = {}): Promise<Daemon> {
  const d = new Daemon(opts);
  try {
    await d.start();
  } catch (e) {
    d.cleanup();
    throw e;
  }
  return d;
}

/**
 * Registers node:test hooks in the current scope (file or describe): starts a
 * daemon before the first test (optionally with busybox:latest loaded), cleans
 * it up after the last, and prints the daemon's log tail after a failed test.
 */
export function useDaemon(opts: DaemonOptions & { busybox?: boolean } = {}): Daemon {
  const d = new Daemon(opts);
  before(async () => {
    try {
      await d.start();
      if (opts.busybox !== false) await d.loadBusybox();
    } catch (e) {
      process.stderr.write(`berthd log tail:\n${d.logTail(80)}\n`);
      throw e;
    }
  });
  afterEach((t) => {
    const passed = (t as unknown as { passed?: boolean }).passed;
    if (passed === false) {
      const lines = d.logTail(Number(process.env['BERTH_TEST_LOG_LINES'] ?? 60));
      console.log(`----- berthd log tail after failed test "${t.name}" (${d.logFile}) -----\n${lines}\n-----`);
    }
  });
  after(() => d.cleanup());
  return d;
}
