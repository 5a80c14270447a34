// Running ip, nft and nsenter: argv arrays only (never a shell), batches fed
// on stdin, absolute paths looked up once.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import { internal } from '../common/errors';

export interface ToolResult { code: number; stdout: string; stderr: string }

const cache = new Map<string, string>();

/** Absolute path of a system tool (the sbin dirs are searched too: berthd may run with a user's PATH). */
export function toolPath(name: string): string {
  const hit = cache.get(name);
  if (hit) return hit;
  const dirs = (process.env['PATH'] ?? '').split(':').filter(Boolean).concat(['/usr/sbin', '/sbin', '/usr/bin', '/bin', '/usr/local/sbin', '/usr/local/bin']);
  for (const d of dirs) {
    const p = `${d}/${name}`;
    try {
      fs.accessSync(p, fs.constants.X_OK);
      cache.set(name, p);
      return p;
    } catch { /* next */ }
  }
  return name;
}

export function runTool(cmd: string, args: string[], input?: string, timeoutMs = 15_000): Promise<ToolResult> {
  return new Promise((resolve) => {
    const child = spawn(toolPath(cmd), args, { stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout?.on('data', (b: Buffer) => out.push(b));
    child.stderr?.on('data', (b: Buffer) => err.push(b));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    if (input !== undefined && child.stdin) {
      child.stdin.on('error', () => undefined);
      child.stdin.end(input);
    }
    let settled = false;
    const finish = (code: number, extra = ''): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ code, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() + extra });
    };
    child.on('error', (e) => finish(127, `${cmd}: ${e.message}`));
    child.on('close', (code, signal) => finish(code ?? (signal ? 128 : 1)));
  });
}

/** Runs and throws an internal error with the tool's stderr when it fails. */
export async function mustRun(what: string, cmd: string, args: string[], input?: string): Promise<string> {
  const r = await runTool(cmd, args, input);
  if (r.code !== 0) throw internal(`${what}: ${cmd} ${args.join(' ')}: ${(r.stderr || r.stdout).trim() || `exit ${r.code}`}`);
  return r.stdout;
}

/** argv that runs cmd inside the network namespace of pid. */
export function inNetns(pid: number, cmd: string, args: string[]): [string, string[]] {
  return ['nsenter', [`--net=/proc/${pid}/ns/net`, '--', toolPath(cmd), ...args]];
}

/** Writes a sysctl ("net/ipv4/ip_forward") of the daemon's own network namespace (/proc/sys/net is per namespace). */
export function setSysctl(key: string, value: string): boolean {
  try {
    fs.writeFileSync(`/proc/sys/${key}`, value);
    return true;
  } catch {
    return false;
  }
}
