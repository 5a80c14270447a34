// Health checks as Docker runs them: a probe process in the container every
// interval; Status starting → healthy/unhealthy by the retries rule; the last
// five results kept. Probes run with `runc exec` directly: they are short and
// berthd reads their output, so no conmon is needed.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { HealthState } from './types';

export interface HealthConfig {
  Test?: string[] | null;
  Interval?: number;
  Timeout?: number;
  StartPeriod?: number;
  StartInterval?: number;
  Retries?: number;
}

const SECOND_NS = 1e9;
const MAX_OUTPUT = 4096;

/** Docker's merge: fields the container leaves empty come from the image. */
export function mergeHealth(user: HealthConfig | undefined | null, image: HealthConfig | undefined | null): HealthConfig | undefined {
  if (!user && !image) return undefined;
  if (!user) return image ?? undefined;
  if (!image) return user;
  return {
    Test: user.Test && user.Test.length ? user.Test : image.Test ?? null,
    Interval: user.Interval || image.Interval || 0,
    Timeout: user.Timeout || image.Timeout || 0,
    StartPeriod: user.StartPeriod || image.StartPeriod || 0,
    StartInterval: user.StartInterval || image.StartInterval || 0,
    Retries: user.Retries || image.Retries || 0,
  };
}

export function healthEnabled(h: HealthConfig | undefined | null): h is HealthConfig {
  return !!h && !!h.Test && h.Test.length > 0 && h.Test[0] !== 'NONE';
}

export interface ProbeTarget {
  runcPath: string;
  runcRoot: string;
  containerId: string;
  dir: string; // where probe specs go
  processBase: { env: string[]; cwd: string; user: { uid: number; gid: number; additionalGids?: number[] }; capabilities: unknown };
}

export interface ProbeResult { Start: string; End: string; ExitCode: number; Output: string }

function probeArgs(test: string[]): string[] | undefined {
  if (test[0] === 'CMD') return test.slice(1);
  if (test[0] === 'CMD-SHELL') return ['/bin/sh', '-c', test.slice(1).join(' ')];
  return undefined;
}

export function runProbe(t: ProbeTarget, test: string[], timeoutMs: number): Promise<ProbeResult> {
  const start = new Date();
  const args = probeArgs(test);
  if (!args || !args.length) {
    return Promise.resolve({ Start: start.toISOString(), End: new Date().toISOString(), ExitCode: -1, Output: `unknown health check type: ${test[0] ?? ''}` });
  }
  const n = `${Date.now()}-${Math.random().toString(36).slice(2)}`;
  const specFile = path.join(t.dir, `probe-${n}.json`);
  const pidFile = path.join(t.dir, `probe-${n}.pid`);
  fs.writeFileSync(specFile, JSON.stringify({ terminal: false, args, ...t.processBase }));
  return new Promise((resolve) => {
    const child = spawn(t.runcPath, ['--root', t.runcRoot, 'exec', '--pid-file', pidFile, '--process', specFile, t.containerId], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = Buffer.alloc(0);
    const collect = (d: Buffer): void => {
      if (out.length < MAX_OUTPUT) out = Buffer.concat([out, d]).subarray(0, MAX_OUTPUT);
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        const pid = Number(fs.readFileSync(pidFile, 'utf8'));
        if (pid > 0) process.kill(pid, 'SIGKILL');
      } catch { /* already gone */ }
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      fs.rmSync(specFile, { force: true });
      fs.rmSync(pidFile, { force: true });
      const end = new Date().toISOString();
      if (timedOut) {
        resolve({ Start: start.toISOString(), End: end, ExitCode: -1, Output: `Health check exceeded timeout (${Math.round(timeoutMs / 1000)}s)` });
      } else {
        resolve({ Start: start.toISOString(), End: end, ExitCode: code ?? -1, Output: out.toString('utf8') });
      }
    });
    child.on('error', () => undefined);
  });
}

/** Runs probes on a schedule and applies Docker's status rules. */
export class HealthMonitor {
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly startedAt = Date.now();

  constructor(
    private readonly cfg: HealthConfig,
    private readonly target: ProbeTarget,
    private readonly state: HealthState,
    private readonly onChange: (status: string) => void,
  ) {}

  private get interval(): number { return (this.cfg.Interval || 30 * SECOND_NS) / 1e6; }
  private get timeout(): number { return (this.cfg.Timeout || 30 * SECOND_NS) / 1e6; }
  private get startPeriod(): number { return (this.cfg.StartPeriod || 0) / 1e6; }
  private get startInterval(): number { return (this.cfg.StartInterval || 5 * SECOND_NS) / 1e6; }
  private get retries(): number { return this.cfg.Retries || 3; }

  start(): void {
    this.schedule();
  }

  private inStartPeriod(): boolean {
    return Date.now() - this.startedAt < this.startPeriod;
  }

  private schedule(): void {
    if (this.stopped) return;
    // During the start period probes run at the start interval when one is set.
    const delay = this.inStartPeriod() && this.cfg.StartInterval ? this.startInterval : this.interval;
    this.timer = setTimeout(() => void this.probe(), delay);
  }

  private async probe(): Promise<void> {
    if (this.stopped) return;
    const r = await runProbe(this.target, this.cfg.Test ?? [], this.timeout);
    if (this.stopped) return;
    const before = this.state.Status;
    this.state.Log.push(r);
    if (this.state.Log.length > 5) this.state.Log.splice(0, this.state.Log.length - 5);
    if (r.ExitCode === 0) {
      this.state.FailingStreak = 0;
      this.state.Status = 'healthy';
    } else if (!(this.inStartPeriod() && this.state.Status === 'starting')) {
      this.state.FailingStreak++;
      if (this.state.FailingStreak >= this.retries) this.state.Status = 'unhealthy';
    }
    if (this.state.Status !== before) this.onChange(this.state.Status);
    this.schedule();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }
}
