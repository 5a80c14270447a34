// Helpers shared by the build-*.test.ts files: context directories on the
// host, `docker build` with the legacy builder, and raw POST /build requests.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Daemon, RunResult } from '../harness';

export type FileSpec = string | Buffer | { data: string | Buffer; mode?: number; mtime?: number } | { symlink: string };

const dirs: string[] = [];
process.on('exit', () => {
  if (process.env['BERTH_TEST_KEEP'] === '1') return;
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

/** A temporary directory removed when the test process exits. */
export function tempDir(prefix = 'bctx-'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  dirs.push(dir);
  return dir;
}

/** Writes a build context directory; returns its path. */
export function context(files: Record<string, FileSpec>): string {
  const dir = tempDir();
  writeFiles(dir, files);
  return dir;
}

export function writeFiles(dir: string, files: Record<string, FileSpec>): void {
  for (const [name, spec] of Object.entries(files)) {
    const p = path.join(dir, name);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    fs.rmSync(p, { force: true });
    if (typeof spec === 'object' && !Buffer.isBuffer(spec) && 'symlink' in spec) {
      fs.symlinkSync(spec.symlink, p);
      continue;
    }
    const data = typeof spec === 'string' || Buffer.isBuffer(spec) ? spec : spec.data;
    fs.writeFileSync(p, data);
    if (typeof spec === 'object' && !Buffer.isBuffer(spec)) {
      if (spec.mode !== undefined) fs.chmodSync(p, spec.mode);
      if (spec.mtime !== undefined) fs.utimesSync(p, spec.mtime, spec.mtime);
    }
  }
}

/** `docker build` (legacy builder) of a directory. */
export function build(d: Daemon, dir: string, args: string[] = [], timeoutMs = 120_000): Promise<RunResult> {
  return d.docker(['build', ...args, dir], { timeoutMs });
}

/** Runs a build that must succeed; returns its output (stdout). */
export async function buildOk(d: Daemon, dir: string, args: string[] = []): Promise<string> {
  const r = await build(d, dir, args);
  assert.equal(r.code, 0, `docker build ${args.join(' ')} failed (${r.code}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/** The image ID a build printed (`Successfully built <id>`). */
export function builtId(out: string): string {
  const m = /Successfully built ([0-9a-f]{12})/.exec(out);
  assert.ok(m, `no "Successfully built" in:\n${out}`);
  return m[1] as string;
}

/** Step numbers whose output says ` ---> Using cache`. */
export function cachedSteps(out: string): number[] {
  const steps: number[] = [];
  let cur = 0;
  for (const line of out.split('\n')) {
    const m = /^Step (\d+)\/\d+ : /.exec(line);
    if (m) cur = Number(m[1]);
    else if (line === ' ---> Using cache') steps.push(cur);
  }
  return steps;
}

/** Step numbers that ran a container. */
export function ranSteps(out: string): number[] {
  const steps: number[] = [];
  let cur = 0;
  for (const line of out.split('\n')) {
    const m = /^Step (\d+)\/\d+ : /.exec(line);
    if (m) cur = Number(m[1]);
    else if (line.startsWith(' ---> Running in ')) steps.push(cur);
  }
  return steps;
}

/** A tar archive of entries, made with the system tar (so it is what a client would send). */
export function tarOf(dir: string, names: string[] = ['.']): Buffer {
  const out = path.join(os.tmpdir(), `bctx-${process.pid}-${Math.random().toString(16).slice(2)}.tar`);
  const r = require('node:child_process').spawnSync('tar', ['-C', dir, '-cf', out, ...names]) as { status: number; stderr: Buffer };
  assert.equal(r.status, 0, r.stderr.toString());
  const data = fs.readFileSync(out);
  fs.rmSync(out, { force: true });
  return data;
}

/** POST /build with a raw body; returns the status and the parsed JSON messages. */
export async function apiBuild(d: Daemon, body: Buffer, query: string): Promise<{ status: number; messages: Array<Record<string, unknown>>; text: string }> {
  const r = await d.api('POST', `/v1.41/build?${query}`, body, { headers: { 'Content-Type': 'application/x-tar' }, timeoutMs: 120_000 });
  const messages = r.status === 200 ? r.text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>) : [];
  return { status: r.status, messages, text: r.text };
}

/** The `stream` text of a message list. */
export function streamText(messages: Array<Record<string, unknown>>): string {
  return messages.map((m) => (typeof m['stream'] === 'string' ? m['stream'] : '')).join('');
}
