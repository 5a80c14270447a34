// Engine benchmarks: figures, not pass/fail. Each figure is printed beside a
// floor measured in the same run on the same machine, and a target.
//
//   (a) run --rm busybox true (docker CLI and berth; default network and --network none) vs raw `runc run`
//   (b) berth ps / berth version vs docker ps / docker version against the same berthd
//   (c) berthd RSS idle and with 100 running containers; conmon RSS per container
//   (d) GET /containers/json latency with 200 running containers vs GET /_ping
//   (e) berthd start until /_ping answers: empty and populated data-root vs a bare node server
//   (f) logs of a container that printed 100,000 lines vs cat of its log file
//
// Env: BENCH_RUNS (default 30) runs per run-variant; BENCH_ONLY=a,c to run some sections.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { busyboxTar, Daemon, DOCKER_BIN, ping, run, runSync, sleep, type RunResult } from '../test/harness';
import { fmtMB, fmtMs, median, p90, printTable, type Row } from './stats';

const RUNS = Math.max(1, Number(process.env['BENCH_RUNS'] ?? 30));
const ONLY = (process.env['BENCH_ONLY'] ?? '').split(',').filter(Boolean);
const want = (s: string): boolean => ONLY.length === 0 || ONLY.includes(s);

/** Targets (absolute, or relative to the floor measured in the same run). */
const TARGET = {
  runFloorFactor: 3, // docker CLI run --rm: median ≤ 3 × raw runc run (issue 2)
  berthOverDockerMs: 30, // berth run --rm: docker CLI's median + 30 ms
  cliFactor: 2, // berth ps / version ≤ 2 × docker ps / version
  rssIdleKB: 100 * 1024,
  rss100KB: 100 * 1024, // berthd ≤ 100 MB with 100 running containers
  conmonKB: 3 * 1024, // ≤ 3 MB per container
  listMs: 15, // GET /containers/json, 200 running, median
  startEmptyMs: 200,
  startPopulatedMs: 200,
  logs100kMs: 250,
};

const rows: Row[] = [];

function summary(v: number[]): string {
  return `med ${fmtMs(median(v))} p90 ${fmtMs(p90(v))}`;
}

function rssKB(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  try {
    const m = /^VmRSS:\s+(\d+) kB$/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : NaN;
  } catch {
    return NaN;
  }
}

function comm(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
}

async function section(tag: string, title: string, fn: () => Promise<void>): Promise<void> {
  if (!want(tag)) return;
  console.log(`\n== (${tag}) ${title}`);
  const t0 = performance.now();
  try {
    await fn();
  } catch (e) {
    const msg = (e as Error).message.split('\n').slice(0, 6).join(' | ');
    console.log(`   ERROR: ${msg}`);
    rows.push({ name: `(${tag}) ${title}`, figure: 'error', floor: '-', target: '-', note: msg.slice(0, 80) });
  }
  console.log(`   (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
}

/** Times `n` runs of a command; throws on the first failure (with its output). */
async function timeRuns(what: string, n: number, fn: (i: number) => Promise<RunResult>, warmup = 2): Promise<number[]> {
  for (let i = 0; i < warmup; i++) {
    const r = await fn(-1 - i);
    if (r.code !== 0) throw new Error(`${what} failed (exit ${r.code}): ${r.stderr.trim().slice(0, 300)}`);
  }
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const r = await fn(i);
    if (r.code !== 0) throw new Error(`${what} failed (exit ${r.code}): ${r.stderr.trim().slice(0, 300)}`);
    times.push(r.durationMs);
  }
  console.log(`   ${what.padEnd(44)} ${summary(times)}  min ${fmtMs(Math.min(...times))} max ${fmtMs(Math.max(...times))}`);
  return times;
}

/** Creates and starts `n` containers running `sleep 1000` through the API, `par` at a time. */
async function startFleet(d: Daemon, n: number, prefix: string, par = 4): Promise<number> {
  const t0 = performance.now();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < n) {
      const i = next++;
      const c = await d.api<{ Id: string }>('POST', `/containers/create?name=${prefix}${i}`, {
        Image: 'busybox',
        Cmd: ['sleep', '1000'],
        HostConfig: { NetworkMode: 'none' },
      });
      if (c.status !== 201) throw new Error(`create ${prefix}${i}: ${c.status} ${c.text}`);
      const s = await d.api('POST', `/containers/${c.json.Id}/start`);
      if (s.status !== 204) throw new Error(`start ${prefix}${i}: ${s.status} ${s.text}`);
    }
  };
  await Promise.all(Array.from({ length: par }, worker));
  return performance.now() - t0;
}

/** Time from spawn until a bare node http server answers /_ping on a unix socket (the start-up floor). */
async function bareNodeStart(d: Daemon): Promise<number> {
  const sock = path.join(d.dir, 'bare.sock');
  fs.rmSync(sock, { force: true });
  const t0 = performance.now();
  const child = spawn(
    'nsenter',
    [`--mount=${d.sandbox.mntNs}`, `--net=${d.sandbox.netNs}`, '--', process.execPath, '-e', `require('http').createServer((q,s)=>s.end('OK')).listen(${JSON.stringify(sock)})`],
    { stdio: 'ignore' },
  );
  try {
    for (;;) {
      if (await ping(sock, 1000)) return performance.now() - t0;
      if (performance.now() - t0 > 10_000) throw new Error('bare node server did not answer');
      await sleep(20);
    }
  } finally {
    child.kill('SIGKILL');
    fs.rmSync(sock, { force: true });
  }
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) {
    console.log('bench: needs root (namespaces, mounts, runc); skipping');
    return;
  }
  console.log(`berth benchmarks — ${new Date().toISOString()} — node ${process.version}, ${os.cpus().length} CPUs, runs per variant: ${RUNS}`);
  const d = new Daemon({ logLevel: process.env['BENCH_LOG_LEVEL'] ?? 'info' });
  const startEmpty: number[] = [];
  try {
    // (e, part 1) start on an empty data-root: the first start and two restarts.
    startEmpty.push(await d.start());
    for (let i = 0; i < 2; i++) {
      await d.stop();
      startEmpty.push(await d.start());
    }
    await d.loadBusybox();
    await sleep(1000);
    const rssFresh = rssKB(d.pid);
    const env = d.env;

    await section('a', 'run --rm busybox true', async () => {
      // The floor: runc run of the same rootfs, in the same namespaces, no engine.
      const bundle = path.join(d.dir, 'runc-bench');
      fs.mkdirSync(path.join(bundle, 'rootfs'), { recursive: true });
      const x = runSync('tar', ['-xf', busyboxTar(), '-C', path.join(bundle, 'rootfs')]);
      if (x.code !== 0) throw new Error(`tar -x: ${x.stderr}`);
      const sp = runSync('runc', ['spec', '--bundle', bundle]);
      if (sp.code !== 0) throw new Error(`runc spec: ${sp.stderr}`);
      const cfgPath = path.join(bundle, 'config.json');
      const cfg = JSON.parse(fs.readFileSync(cfgPath, 'utf8')) as { process: { args: string[]; terminal: boolean } };
      cfg.process.args = ['true'];
      cfg.process.terminal = false;
      fs.writeFileSync(cfgPath, JSON.stringify(cfg));
      const ns = [`--mount=${d.sandbox.mntNs}`, `--net=${d.sandbox.netNs}`, '--'];
      const root = path.join(d.dir, 'runc-bench-state');
      const floor = await timeRuns('runc run (floor)', RUNS, (i) => run('nsenter', [...ns, 'runc', '--root', root, 'run', '--bundle', bundle, `rb${i < 0 ? `w${-i}` : i}`]));
      const fm = median(floor);
      const variants: [string, string, string[]][] = [
        ['docker CLI, --network none', DOCKER_BIN, ['run', '--rm', '--network', 'none', 'busybox', 'true']],
        ['docker CLI, default network', DOCKER_BIN, ['run', '--rm', 'busybox', 'true']],
        ['berth, --network none', 'berth', ['run', '--rm', '--network', 'none', 'busybox', 'true']],
        ['berth, default network', 'berth', ['run', '--rm', 'busybox', 'true']],
      ];
      const dockerMedian: Record<string, number> = {};
      for (const [label, bin, args] of variants) {
        const net = label.includes('none') ? 'none' : 'default';
        const limit = bin === 'berth' ? (dockerMedian[net] ?? fm * TARGET.runFloorFactor) + TARGET.berthOverDockerMs : fm * TARGET.runFloorFactor;
        const tdesc = bin === 'berth' ? `≤ docker + ${TARGET.berthOverDockerMs} ms (${fmtMs(limit)})` : `≤ ${TARGET.runFloorFactor}× runc (${fmtMs(limit)})`;
        try {
          const t = await timeRuns(label, RUNS, () => (bin === 'berth' ? d.berth(args) : run(bin, args, { env })));
          if (bin !== 'berth') dockerMedian[net] = median(t);
          rows.push({ name: `(a) run --rm true: ${label}`, figure: summary(t), floor: `runc ${fmtMs(fm)}`, target: tdesc, ok: median(t) <= limit });
        } catch (e) {
          console.log(`   ${label}: ERROR ${(e as Error).message}`);
          rows.push({ name: `(a) run --rm true: ${label}`, figure: 'error', floor: `runc ${fmtMs(fm)}`, target: tdesc, note: (e as Error).message.slice(0, 80) });
        }
      }
      const left = await d.api<unknown[]>('GET', '/containers/json?all=1');
      if (Array.isArray(left.json) && left.json.length > 0) console.log(`   note: ${left.json.length} containers left after the --rm runs`);
    });

    await section('b', 'CLI wall time (ps, version)', async () => {
      const n = Math.max(10, Math.min(RUNS, 20));
      const dps = await timeRuns('docker ps', n, () => run(DOCKER_BIN, ['ps'], { env }));
      const bps = await timeRuns('berth ps', n, () => d.berth(['ps']));
      const dv = await timeRuns('docker version', n, () => run(DOCKER_BIN, ['version'], { env }));
      const bv = await timeRuns('berth version', n, () => d.berth(['version']));
      const nodeFloor = await timeRuns('node -e 0 (node start-up)', n, () => run(process.execPath, ['-e', '0']));
      rows.push({ name: '(b) berth ps', figure: summary(bps), floor: `docker ps ${fmtMs(median(dps))}`, target: `≤ ${TARGET.cliFactor}× docker`, ok: median(bps) <= TARGET.cliFactor * median(dps) });
      rows.push({ name: '(b) berth version', figure: summary(bv), floor: `docker version ${fmtMs(median(dv))}`, target: `≤ ${TARGET.cliFactor}× docker`, ok: median(bv) <= TARGET.cliFactor * median(dv) });
      rows.push({ name: '(b) node start-up (reference)', figure: summary(nodeFloor), floor: '-', target: '-' });
    });

    await section('f', 'logs of 100,000 lines', async () => {
      const c = await d.docker(['run', '-d', '--name', 'lines', '--network', 'none', 'busybox', 'seq', '1', '100000']);
      if (c.code !== 0) throw new Error(`run: ${c.stderr}`);
      const w = await d.docker(['wait', 'lines'], { timeoutMs: 120_000 });
      if (w.code !== 0 || w.stdout.trim() !== '0') throw new Error(`wait: ${w.stdout} ${w.stderr}`);
      const logPath = (await d.docker(['inspect', '--format', '{{.LogPath}}', 'lines'])).stdout.trim();
      const check = await d.docker(['logs', 'lines'], { timeoutMs: 120_000 });
      const count = check.stdout.split('\n').filter(Boolean).length;
      if (count !== 100_000) throw new Error(`docker logs printed ${count} lines, not 100000`);
      const n = 5;
      const cat = logPath && fs.existsSync(logPath) ? await timeRuns('cat <log file> (floor)', n, () => run('cat', [logPath]), 1) : [NaN];
      const dl = await timeRuns('docker logs', n, () => d.docker(['logs', 'lines'], { timeoutMs: 120_000 }), 1);
      const bl = await timeRuns('berth logs', n, () => d.berth(['logs', 'lines'], { timeoutMs: 120_000 }), 1);
      const size = logPath && fs.existsSync(logPath) ? fs.statSync(logPath).size : NaN;
      rows.push({ name: '(f) docker logs, 100k lines', figure: summary(dl), floor: `cat ${fmtMs(median(cat))}`, target: `≤ ${fmtMs(TARGET.logs100kMs)}`, ok: median(dl) <= TARGET.logs100kMs, note: `log file ${(size / 1e6).toFixed(1)} MB` });
      rows.push({ name: '(f) berth logs, 100k lines', figure: summary(bl), floor: `cat ${fmtMs(median(cat))}`, target: `≤ ${fmtMs(TARGET.logs100kMs)}`, ok: median(bl) <= TARGET.logs100kMs });
      await d.docker(['rm', '-f', 'lines']);
    });

    let fleet = 0;
    await section('c', 'memory: berthd idle and with 100 running containers', async () => {
      await sleep(1000);
      const idle = rssKB(d.pid); // after the work of the sections before
      const floorProc = spawn(process.execPath, ['-e', 'setInterval(()=>{},1e6)'], { stdio: 'ignore' });
      await sleep(500);
      const nodeFloor = rssKB(floorProc.pid);
      floorProc.kill('SIGKILL');
      const ms = await startFleet(d, 100, 'fleet');
      fleet = 100;
      console.log(`   started 100 containers (sleep 1000, --network none) in ${(ms / 1000).toFixed(1)} s`);
      await sleep(2000);
      const busy = rssKB(d.pid);
      const conmons = d.pids().filter((p) => comm(p) === 'conmon');
      const conmonRss = conmons.map(rssKB).filter(Number.isFinite);
      const per = conmonRss.reduce((a, b) => a + b, 0) / Math.max(1, conmonRss.length);
      console.log(`   berthd RSS idle: fresh (after start + busybox import) ${fmtMB(rssFresh)}, after the earlier sections ${fmtMB(idle)}; with 100 running ${fmtMB(busy)}; ${conmons.length} conmon processes, avg RSS ${fmtMB(per)}`);
      rows.push({ name: '(c) berthd RSS, idle (fresh)', figure: fmtMB(rssFresh), floor: `bare node ${fmtMB(nodeFloor)}`, target: `≤ ${fmtMB(TARGET.rssIdleKB)}`, ok: rssFresh <= TARGET.rssIdleKB });
      rows.push({ name: '(c) berthd RSS, idle after earlier sections', figure: fmtMB(idle), floor: `bare node ${fmtMB(nodeFloor)}`, target: `≤ ${fmtMB(TARGET.rssIdleKB)}`, ok: idle <= TARGET.rssIdleKB });
      rows.push({ name: '(c) berthd RSS, 100 running', figure: fmtMB(busy), floor: `idle ${fmtMB(idle)}`, target: `≤ ${fmtMB(TARGET.rss100KB)}`, ok: busy <= TARGET.rss100KB });
      rows.push({ name: '(c) conmon RSS per container', figure: fmtMB(per), floor: '-', target: `≤ ${fmtMB(TARGET.conmonKB)}`, ok: per <= TARGET.conmonKB, note: `${conmons.length} conmons` });
      rows.push({ name: '(c) start 100 containers (API, 4 parallel)', figure: `${(ms / 1000).toFixed(1)} s`, floor: '-', target: '-' });
    });

    await section('d', 'GET /containers/json with 200 running containers', async () => {
      if (fleet < 200) {
        await startFleet(d, 200 - fleet, 'fleetb');
        fleet = 200;
      }
      const list = await d.api<unknown[]>('GET', '/containers/json');
      if (!Array.isArray(list.json) || list.json.length < 200) throw new Error(`only ${Array.isArray(list.json) ? list.json.length : '?'} running containers listed`);
      const time = async (p: string, n: number): Promise<number[]> => {
        const t: number[] = [];
        for (let i = 0; i < n + 3; i++) {
          const t0 = performance.now();
          const r = await d.api('GET', p);
          if (r.status !== 200) throw new Error(`GET ${p}: ${r.status}`);
          if (i >= 3) t.push(performance.now() - t0);
        }
        console.log(`   GET ${p.padEnd(40)} ${summary(t)}`);
        return t;
      };
      const pingT = await time('/_ping', 50);
      const l = await time('/containers/json', 50);
      const la = await time('/containers/json?all=1', 50);
      const ps = await timeRuns('docker ps (200 running)', 10, () => run(DOCKER_BIN, ['ps'], { env }), 1);
      rows.push({ name: '(d) GET /containers/json, 200 running', figure: summary(l), floor: `/_ping ${fmtMs(median(pingT))}`, target: `≤ ${fmtMs(TARGET.listMs)}`, ok: median(l) <= TARGET.listMs });
      rows.push({ name: '(d) GET /containers/json?all=1, 200', figure: summary(la), floor: `/_ping ${fmtMs(median(pingT))}`, target: `≤ ${fmtMs(TARGET.listMs)}`, ok: median(la) <= TARGET.listMs });
      rows.push({ name: '(d) docker ps, 200 running', figure: summary(ps), floor: '-', target: '-' });
    });

    await section('e', 'berthd start until /_ping answers', async () => {
      const floor: number[] = [];
      for (let i = 0; i < 3; i++) floor.push(await bareNodeStart(d));
      console.log(`   bare node server: ${summary(floor)}; berthd on an empty data-root: ${startEmpty.map((x) => fmtMs(x)).join(', ')}`);
      rows.push({ name: '(e) start → /_ping, empty data-root', figure: summary(startEmpty), floor: `bare node ${fmtMs(median(floor))}`, target: `≤ ${fmtMs(TARGET.startEmptyMs)}`, ok: median(startEmpty) <= TARGET.startEmptyMs });
      const list = await d.api<unknown[]>('GET', '/containers/json?all=1');
      const n = Array.isArray(list.json) ? list.json.length : 0;
      const populated: number[] = [];
      for (let i = 0; i < 2; i++) {
        await d.stop();
        populated.push(await d.start());
      }
      await d.kill('SIGKILL');
      const afterCrash = await d.start();
      const back = await d.api<{ State: string }[]>('GET', '/containers/json');
      const running = Array.isArray(back.json) ? back.json.length : 0;
      console.log(`   populated (${n} containers): after SIGTERM ${populated.map((x) => fmtMs(x)).join(', ')}; after SIGKILL ${fmtMs(afterCrash)}; ${running} running after restart`);
      rows.push({ name: `(e) start → /_ping, ${n} containers`, figure: summary(populated), floor: `bare node ${fmtMs(median(floor))}`, target: `≤ ${fmtMs(TARGET.startPopulatedMs)}`, ok: median(populated) <= TARGET.startPopulatedMs });
      rows.push({ name: `(e) start → /_ping after SIGKILL, ${n}`, figure: fmtMs(afterCrash), floor: `bare node ${fmtMs(median(floor))}`, target: `≤ ${fmtMs(TARGET.startPopulatedMs)}`, ok: afterCrash <= TARGET.startPopulatedMs });
    });
  } catch (e) {
    console.log(`bench aborted: ${(e as Error).message}\n--- berthd log tail ---\n${d.logTail(40)}`);
    process.exitCode = 1;
  } finally {
    if (d.running) {
      // Removing 200 containers through the API takes a while; the sandbox teardown kills them all anyway.
      await d.kill('SIGKILL').catch(() => undefined);
    }
    d.cleanup();
  }
  console.log('\n== summary (targets are ours: see TARGET in bench/engine.bench.ts)');
  printTable(rows);
}

void main();
