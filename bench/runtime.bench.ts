// Runtime benchmarks (issue 3): figures, not pass/fail.
//   (s) berthd CPU while 50 containers stream stats to 50 clients for 10 s,
//       beside the cost of reading the same cgroup files directly
//   (h) health checks of 100 containers at a 1 s interval: berthd CPU, and
//       the delay between a probe's due time and its run
import * as fs from 'node:fs';
import * as http from 'node:http';
import { performance } from 'node:perf_hooks';
import { busyboxTar, Daemon, sleep } from '../test/harness';
import { median, p90, printTable, type Row } from './stats';

const rows: Row[] = [];
const V2 = fs.existsSync('/sys/fs/cgroup/cgroup.controllers');

function cpuTicks(pid: number): number {
  const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]); // utime + stime, in clock ticks (1/100 s)
}

function berthdPid(d: Daemon): number {
  return Number(fs.readFileSync(d.pidfile, 'utf8'));
}

async function fleet(d: Daemon, n: number, prefix: string, extra: Record<string, unknown> = {}): Promise<string[]> {
  const ids: string[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < n) {
      const i = next++;
      const c = await d.api<{ Id: string }>('POST', `/containers/create?name=${prefix}${i}`, { Image: 'busybox', Cmd: ['sleep', '1000'], HostConfig: { NetworkMode: 'none' }, ...extra });
      if (c.status !== 201) throw new Error(`create: ${c.status} ${c.text}`);
      const s = await d.api('POST', `/containers/${c.json.Id}/start`);
      if (s.status !== 204) throw new Error(`start: ${s.status} ${s.text}`);
      ids.push(c.json.Id);
    }
  };
  await Promise.all(Array.from({ length: 4 }, worker));
  return ids;
}

async function statsSection(d: Daemon): Promise<void> {
  const ids = await fleet(d, 50, 'st');
  const pid = berthdPid(d);
  const reqs: http.ClientRequest[] = [];
  let objects = 0;
  for (const id of ids) {
    const req = http.request({ socketPath: d.sock, path: `/containers/${id}/stats?stream=1`, method: 'GET' }, (res) => {
      res.on('data', (b: Buffer) => { objects += b.toString().split('\n').length - 1; });
    });
    req.end();
    reqs.push(req);
  }
  await sleep(2000);
  const t0 = cpuTicks(pid), w0 = performance.now();
  await sleep(10_000);
  const used = (cpuTicks(pid) - t0) * 10, wall = performance.now() - w0;
  for (const r of reqs) r.destroy();
  const pct = (used / wall) * 100;
  // The floor: reading the same cgroup files directly, 50 containers x 10 samples.
  const f0 = process.cpuUsage();
  for (let s = 0; s < 10; s++) {
    for (const id of ids) {
      const base = V2 ? [`/sys/fs/cgroup/berth/${id}`] : ['cpuacct', 'memory', 'pids', 'blkio'].map((c) => `/sys/fs/cgroup/${c}/berth/${id}`);
      for (const b of base) for (const f of fs.readdirSync(b).filter((x) => /usage|stat|current|max|limit/.test(x)).slice(0, 6)) {
        try { fs.readFileSync(`${b}/${f}`); } catch { /* some are write-only */ }
      }
    }
  }
  const fu = process.cpuUsage(f0);
  const floorPct = ((fu.user + fu.system) / 1000 / wall) * 100;
  console.log(`   stats: ${objects} objects to 50 clients; berthd ${pct.toFixed(2)}% of a core; direct reads ${floorPct.toFixed(2)}%`);
  rows.push({ name: 'stats: 50 containers x 50 clients, berthd CPU', figure: `${pct.toFixed(2)} %`, floor: `${floorPct.toFixed(2)} % (reads)`, target: '<= 5 %', ok: pct <= 5 });
  await d.api('POST', '/containers/prune');
  for (const id of ids) await d.api('DELETE', `/containers/${id}?force=1`);
}

async function healthSection(d: Daemon): Promise<void> {
  const ids = await fleet(d, 100, 'hc', { Healthcheck: { Test: ['CMD', 'true'], Interval: 1e9, Timeout: 5e9, Retries: 3 } });
  const pid = berthdPid(d);
  await sleep(3000);
  const t0 = cpuTicks(pid), w0 = performance.now();
  await sleep(10_000);
  const used = (cpuTicks(pid) - t0) * 10, wall = performance.now() - w0;
  const pct = (used / wall) * 100;
  // Delay: gaps between consecutive probe starts beyond the 1 s interval.
  const delays: number[] = [];
  for (const id of ids.slice(0, 20)) {
    const r = await d.api<{ State: { Health?: { Log: Array<{ Start: string; End: string }> } } }>('GET', `/containers/${id}/json`);
    const log = r.json.State.Health?.Log ?? [];
    for (let i = 1; i < log.length; i++) delays.push(Date.parse(log[i]!.Start) - Date.parse(log[i - 1]!.End) - 1000);
  }
  console.log(`   health: berthd ${pct.toFixed(1)}% of a core for 100 probes/s; start delay med ${median(delays).toFixed(0)} ms p90 ${p90(delays).toFixed(0)} ms`);
  rows.push({ name: 'health: 100 containers @1s, berthd CPU', figure: `${pct.toFixed(1)} %`, floor: '-', target: '-' });
  rows.push({ name: 'health: probe start delay after due', figure: `med ${median(delays).toFixed(0)} ms p90 ${p90(delays).toFixed(0)} ms`, floor: '-', target: '-' });
  for (const id of ids) await d.api('DELETE', `/containers/${id}?force=1`);
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) { console.log('runtime bench: needs root; skipping'); return; }
  const d = new Daemon();
  try {
    await d.start();
    await d.loadBusybox();
    void busyboxTar;
    console.log('\n== (s) stats fan-out');
    await statsSection(d).catch((e: unknown) => rows.push({ name: 'stats', figure: 'error', floor: '-', target: '-', note: String(e).slice(0, 80) }));
    console.log('\n== (h) health checks');
    await healthSection(d).catch((e: unknown) => rows.push({ name: 'health', figure: 'error', floor: '-', target: '-', note: String(e).slice(0, 80) }));
  } finally {
    d.cleanup();
  }
  console.log('');
  printTable(rows);
}

void main();
