// Builder benchmarks (issue 7): figures beside floors measured in the same run.
//
//   cold     `docker build --no-cache` of a 10-step Dockerfile with a 50 MB COPY
//            floor: the same RUN commands as `berth run --rm` + tar of the context
//   cached   the same build, every step cached (target ≤ 150 ms)
//            floor: the docker CLI sending the same context to a server that only reads it
//   last     a rebuild after changing the file of the last COPY
//
// A real dockerd on /var/run/docker.sock (when there is one) gets the same builds.
// Env: BENCH_RUNS (default 10) runs per figure.
import { randomFillSync } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Daemon, DOCKER_BIN, run, runSync, type RunResult } from '../test/harness';
import { fmtMs, median, p90, printTable, type Row } from './stats';

const RUNS = Math.max(1, Number(process.env['BENCH_RUNS'] ?? 10));
const TARGET = { cachedMs: 150, coldMs: 1500, coldOverFloor: 1.2 };

const RUN_CMDS = ['echo step5 > /app/s5 && ls /app > /app/listing', 'echo "v=$V" > /app/v && sync'];
const DOCKERFILE = [
  'FROM busybox', //                          1
  'ENV APP=/app', //                          2
  'WORKDIR /app', //                          3
  'COPY big.bin /app/big.bin', //             4  (50 MB)
  `RUN ${RUN_CMDS[0]}`, //                    5
  'ARG V=1', //                               6
  `RUN ${RUN_CMDS[1]}`, //                    7
  'LABEL bench=build', //                     8
  'COPY small.txt /app/small.txt', //         9  (the last COPY)
  'CMD ["sh"]', //                            10
].join('\n');

function summary(v: number[]): string {
  return `med ${fmtMs(median(v))} p90 ${fmtMs(p90(v))}`;
}

async function timed(what: string, n: number, fn: (i: number) => Promise<RunResult>): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const r = await fn(i);
    if (r.code !== 0) throw new Error(`${what} failed (exit ${r.code}): ${(r.stderr || r.stdout).trim().slice(-500)}`);
    times.push(r.durationMs);
  }
  console.log(`   ${what.padEnd(52)} ${summary(times)}  min ${fmtMs(Math.min(...times))} max ${fmtMs(Math.max(...times))}`);
  return times;
}

/** The docker CLI's own cost: it tars and sends the context to a server that only reads it. */
async function clientFloor(dir: string, n: number): Promise<number[]> {
  const sock = path.join(os.tmpdir(), `build-floor-${process.pid}.sock`);
  fs.rmSync(sock, { force: true });
  const id = `sha256:${'1'.repeat(64)}`;
  const server = http.createServer((req, res) => {
    if (req.url?.includes('/_ping')) {
      res.writeHead(200, { 'Api-Version': '1.41', Ostype: 'linux', 'Content-Type': 'text/plain' });
      res.end('OK');
      return;
    }
    req.on('data', () => undefined);
    req.on('end', () => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(`{"aux":{"ID":"${id}"}}\n{"stream":"${id}\\n"}\n`);
    });
  });
  await new Promise<void>((r) => server.listen(sock, r));
  try {
    const env = { ...process.env, DOCKER_HOST: `unix://${sock}`, DOCKER_BUILDKIT: '0', DOCKER_CLI_HINTS: 'false' };
    return await timed('client floor: docker CLI sends the context', n, () => run(DOCKER_BIN, ['build', '-q', dir], { env }));
  } finally {
    server.close();
    fs.rmSync(sock, { force: true });
  }
}

function realDockerd(): NodeJS.ProcessEnv | undefined {
  if (!fs.existsSync('/var/run/docker.sock')) return undefined;
  const env = { ...process.env, DOCKER_HOST: 'unix:///var/run/docker.sock', DOCKER_BUILDKIT: '0' };
  const r = runSync(DOCKER_BIN, ['version', '--format', '{{.Server.Version}}'], { env, timeoutMs: 10_000 });
  if (r.code !== 0 || /berth/i.test(r.stdout)) return undefined;
  return env;
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) {
    console.log('bench: needs root; skipping');
    return;
  }
  const rows: Row[] = [];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'build-bench-'));
  fs.writeFileSync(path.join(dir, 'Dockerfile'), `${DOCKERFILE}\n`);
  fs.writeFileSync(path.join(dir, 'big.bin'), randomFillSync(Buffer.allocUnsafe(50 * 1024 * 1024)));
  fs.writeFileSync(path.join(dir, 'small.txt'), 'v0\n');
  const d = new Daemon({ logLevel: 'info' });
  try {
    await d.start();
    await d.loadBusybox();
    const build = (args: string[], env?: NodeJS.ProcessEnv): Promise<RunResult> =>
      d.docker(['build', '-q', ...args, dir], { timeoutMs: 300_000, ...(env ? { env } : {}) });

    console.log(`\n== docker build of a 10-step Dockerfile with a 50 MB COPY (${RUNS} runs each)`);
    await timed('warm-up (first build)', 1, () => build(['-t', 'bench:1']));
    const cold = await timed('cold: build --no-cache', RUNS, () => build(['--no-cache', '-t', 'bench:1']));
    const cached = await timed('cached: unchanged rebuild', RUNS, () => build(['-t', 'bench:1']));
    const last = await timed('last COPY changed: rebuild', RUNS, (i) => {
      fs.writeFileSync(path.join(dir, 'small.txt'), `v${i + 1}-${Date.now()}\n`);
      return build(['-t', 'bench:1']);
    });

    console.log('\n== floors');
    const runs: number[][] = [];
    for (const [i, cmd] of RUN_CMDS.entries()) {
      runs.push(await timed(`berth run --rm busybox sh -c <RUN ${i + 1}>`, RUNS, () => d.berth(['run', '--rm', 'busybox', 'sh', '-c', `mkdir -p /app && V=1 && ${cmd}`])));
    }
    const tarTimes: number[] = [];
    const tarOut = path.join(os.tmpdir(), `build-bench-${process.pid}.tar`);
    for (let i = 0; i < RUNS; i++) {
      const t0 = performance.now();
      const r = runSync('tar', ['-C', dir, '-cf', tarOut, '.'], { timeoutMs: 60_000 });
      tarTimes.push(performance.now() - t0);
      if (r.code !== 0) throw new Error(`tar failed: ${r.stderr}`);
    }
    fs.rmSync(tarOut, { force: true });
    console.log(`   ${'tar of the context (the COPY\'s tar time)'.padEnd(52)} ${summary(tarTimes)}`);
    const client = await clientFloor(dir, RUNS);
    const coldFloor = runs.reduce((n, t) => n + median(t), 0) + median(tarTimes);

    rows.push({
      name: 'cold build (--no-cache), 10 steps', figure: summary(cold), floor: `runs+tar ${fmtMs(coldFloor)}`,
      target: `≤ ${fmtMs(TARGET.coldMs)}, ≤ ${TARGET.coldOverFloor}× floor`,
      ok: median(cold) <= TARGET.coldMs && median(cold) <= TARGET.coldOverFloor * coldFloor,
      note: `${(median(cold) / coldFloor).toFixed(2)}× the floor`,
    });
    rows.push({
      name: 'fully cached rebuild', figure: summary(cached), floor: `client ${fmtMs(median(client))}`,
      target: `≤ ${fmtMs(TARGET.cachedMs)}`, ok: median(cached) <= TARGET.cachedMs,
    });
    rows.push({ name: 'rebuild after the last COPY changed', figure: summary(last), floor: `client ${fmtMs(median(client))}`, target: '-' });

    const real = realDockerd();
    if (real) {
      console.log('\n== a real dockerd on /var/run/docker.sock');
      runSync(DOCKER_BIN, ['pull', 'busybox'], { env: real, timeoutMs: 120_000 });
      const rc = await timed('dockerd cold: build --no-cache', RUNS, () => build(['--no-cache', '-t', 'bench:1'], real));
      const rh = await timed('dockerd cached rebuild', RUNS, () => build(['-t', 'bench:1'], real));
      rows.push({ name: 'dockerd: cold build', figure: summary(rc), floor: '-', target: '-' });
      rows.push({ name: 'dockerd: cached rebuild', figure: summary(rh), floor: '-', target: '-' });
    } else {
      console.log('\n(no real dockerd on /var/run/docker.sock: its figures are not measured)');
    }
  } catch (e) {
    console.log(`bench aborted: ${(e as Error).message}\n--- berthd log tail ---\n${d.logTail(40)}`);
    process.exitCode = 1;
  } finally {
    d.cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  console.log('\n== summary (targets from issue 7)');
  printTable(rows);
}

void main();
