// Thin wrapper over the runc CLI. Every call passes argv arrays; nothing is
// ever interpreted by a shell.
import { execFile } from 'node:child_process';

export interface RuncResult { code: number; stdout: string; stderr: string }

export class Runc {
  constructor(readonly path: string, readonly root: string) {}

  run(args: string[], timeoutMs = 30000): Promise<RuncResult> {
    return new Promise((resolve) => {
      execFile(this.path, ['--root', this.root, ...args], { timeout: timeoutMs, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
        const code = err ? (typeof (err as NodeJS.ErrnoException & { code?: unknown }).code === 'number' ? Number((err as { code: number }).code) : 1) : 0;
        resolve({ code, stdout: String(stdout), stderr: String(stderr) });
      });
    });
  }

  async mustRun(args: string[]): Promise<string> {
    const r = await this.run(args);
    if (r.code !== 0) throw new Error(cleanRuncError(r.stderr) || `runc ${args[0] ?? ''} failed (exit ${r.code})`);
    return r.stdout;
  }

  start(id: string): Promise<string> { return this.mustRun(['start', id]); }
  kill(id: string, signal: string, all = false): Promise<RuncResult> {
    return this.run(all ? ['kill', '--all', id, signal] : ['kill', id, signal]);
  }
  delete(id: string, force = true): Promise<RuncResult> { return this.run(force ? ['delete', '--force', id] : ['delete', id]); }
  pause(id: string): Promise<string> { return this.mustRun(['pause', id]); }
  resume(id: string): Promise<string> { return this.mustRun(['resume', id]); }

  async state(id: string): Promise<{ status: string; pid: number } | undefined> {
    const r = await this.run(['state', id]);
    if (r.code !== 0) return undefined;
    try {
      const s = JSON.parse(r.stdout) as { status?: string; pid?: number };
      return { status: s.status ?? 'unknown', pid: s.pid ?? 0 };
    } catch {
      return undefined;
    }
  }

  async list(): Promise<Array<{ id: string; status: string; pid: number }>> {
    const r = await this.run(['list', '--format', 'json']);
    if (r.code !== 0) return [];
    try {
      const v = JSON.parse(r.stdout || 'null') as Array<{ id: string; status: string; pid: number }> | null;
      return v ?? [];
    } catch {
      return [];
    }
  }

  async pids(id: string): Promise<number[]> {
    const out = await this.mustRun(['ps', '--format', 'json', id]);
    return (JSON.parse(out || '[]') as number[] | null) ?? [];
  }
}

/** runc prints logrus lines; keep the message. */
export function cleanRuncError(stderr: string): string {
  const lines = stderr.trim().split('\n').filter(Boolean);
  const msgs = lines.map((l) => {
    const m = /msg="((?:[^"\\]|\\.)*)"/.exec(l);
    if (m) return m[1]!.replace(/\\"/g, '"').replace(/\\\\/g, '\\');
    try {
      const j = JSON.parse(l) as { msg?: string };
      if (j.msg) return j.msg;
    } catch { /* plain text */ }
    return l;
  });
  return msgs.join('; ');
}
