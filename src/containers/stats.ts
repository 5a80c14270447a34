// Container stats from the cgroup files, in Docker's JSON shape. One sampler
// per container serves every subscriber, so N clients cost one read a second.
import * as fs from 'node:fs';
import * as os from 'node:os';

const V2 = fs.existsSync('/sys/fs/cgroup/cgroup.controllers');
const CLK_TCK = 100; // USER_HZ on Linux

function read(p: string): string | undefined {
  try { return fs.readFileSync(p, 'utf8'); } catch { return undefined; }
}
function num(p: string): number {
  const t = read(p);
  if (t === undefined) return 0;
  const v = t.trim();
  return v === 'max' ? Number.MAX_SAFE_INTEGER : Number(v) || 0;
}
function kv(text: string | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  for (const l of (text ?? '').split('\n')) {
    const [k, v] = l.trim().split(/\s+/);
    if (k && v !== undefined) out[k] = Number(v);
  }
  return out;
}

export function systemCpuUsageNs(): number {
  const line = (read('/proc/stat') ?? '').split('\n')[0] ?? '';
  const f = line.trim().split(/\s+/).slice(1, 8).map(Number);
  return f.reduce((a, b) => a + (b || 0), 0) * (1e9 / CLK_TCK);
}

interface CpuStats {
  cpu_usage: { total_usage: number; percpu_usage?: number[]; usage_in_kernelmode: number; usage_in_usermode: number };
  system_cpu_usage: number;
  online_cpus: number;
  throttling_data: { periods: number; throttled_periods: number; throttled_time: number };
}

export interface Sample {
  read: string;
  pids_stats: { current: number; limit?: number };
  blkio_stats: Record<string, unknown>;
  num_procs: number;
  storage_stats: Record<string, never>;
  cpu_stats: CpuStats;
  memory_stats: Record<string, unknown>;
  networks?: Record<string, Record<string, number>>;
}

const emptyCpu = (): CpuStats => ({ cpu_usage: { total_usage: 0, usage_in_kernelmode: 0, usage_in_usermode: 0 }, system_cpu_usage: 0, online_cpus: 0, throttling_data: { periods: 0, throttled_periods: 0, throttled_time: 0 } });

function networks(pid: number): Record<string, Record<string, number>> | undefined {
  if (!pid) return undefined;
  const t = read(`/proc/${pid}/net/dev`);
  if (!t) return undefined;
  const out: Record<string, Record<string, number>> = {};
  for (const l of t.split('\n').slice(2)) {
    const m = /^\s*([^:]+):\s*(.*)$/.exec(l);
    if (!m || m[1] === 'lo') continue;
    const f = (m[2] ?? '').trim().split(/\s+/).map(Number);
    out[m[1]!] = {
      rx_bytes: f[0] ?? 0, rx_packets: f[1] ?? 0, rx_errors: f[2] ?? 0, rx_dropped: f[3] ?? 0,
      tx_bytes: f[8] ?? 0, tx_packets: f[9] ?? 0, tx_errors: f[10] ?? 0, tx_dropped: f[11] ?? 0,
    };
  }
  return Object.keys(out).length ? out : undefined;
}

export function sample(cgroupPath: string, pid: number): Sample {
  const ncpu = os.cpus().length;
  const hostMem = os.totalmem();
  const s: Sample = {
    read: new Date().toISOString(),
    pids_stats: { current: 0 },
    blkio_stats: { io_service_bytes_recursive: [], io_serviced_recursive: null, io_queue_recursive: null, io_service_time_recursive: null, io_wait_time_recursive: null, io_merged_recursive: null, io_time_recursive: null, sectors_recursive: null },
    num_procs: 0,
    storage_stats: {},
    cpu_stats: emptyCpu(),
    memory_stats: {},
  };
  if (V2) {
    const base = `/sys/fs/cgroup${cgroupPath}`;
    const cpu = kv(read(`${base}/cpu.stat`));
    s.cpu_stats = {
      cpu_usage: { total_usage: (cpu['usage_usec'] ?? 0) * 1000, usage_in_kernelmode: (cpu['system_usec'] ?? 0) * 1000, usage_in_usermode: (cpu['user_usec'] ?? 0) * 1000 },
      system_cpu_usage: systemCpuUsageNs(), online_cpus: ncpu,
      throttling_data: { periods: cpu['nr_periods'] ?? 0, throttled_periods: cpu['nr_throttled'] ?? 0, throttled_time: (cpu['throttled_usec'] ?? 0) * 1000 },
    };
    const limit = num(`${base}/memory.max`);
    s.memory_stats = { usage: num(`${base}/memory.current`), stats: kv(read(`${base}/memory.stat`)), limit: limit === 0 || limit > hostMem ? hostMem : limit };
    s.pids_stats = { current: num(`${base}/pids.current`), limit: num(`${base}/pids.max`) };
    const io: Array<{ major: number; minor: number; op: string; value: number }> = [];
    for (const l of (read(`${base}/io.stat`) ?? '').split('\n')) {
      const [dev, ...fields] = l.trim().split(/\s+/);
      if (!dev) continue;
      const [major, minor] = dev.split(':').map(Number);
      const f = Object.fromEntries(fields.map((x) => x.split('=')));
      io.push({ major: major ?? 0, minor: minor ?? 0, op: 'read', value: Number(f['rbytes'] ?? 0) }, { major: major ?? 0, minor: minor ?? 0, op: 'write', value: Number(f['wbytes'] ?? 0) });
    }
    s.blkio_stats['io_service_bytes_recursive'] = io;
  } else {
    const c = (ctrl: string): string => `/sys/fs/cgroup/${ctrl}${cgroupPath}`;
    const percpu = (read(`${c('cpuacct')}/cpuacct.usage_percpu`) ?? '').trim().split(/\s+/).filter(Boolean).map(Number);
    const st = kv(read(`${c('cpuacct')}/cpuacct.stat`));
    const thr = kv(read(`${c('cpu')}/cpu.stat`));
    s.cpu_stats = {
      cpu_usage: { total_usage: num(`${c('cpuacct')}/cpuacct.usage`), percpu_usage: percpu, usage_in_kernelmode: (st['system'] ?? 0) * (1e9 / CLK_TCK), usage_in_usermode: (st['user'] ?? 0) * (1e9 / CLK_TCK) },
      system_cpu_usage: systemCpuUsageNs(), online_cpus: ncpu,
      throttling_data: { periods: thr['nr_periods'] ?? 0, throttled_periods: thr['nr_throttled'] ?? 0, throttled_time: thr['throttled_time'] ?? 0 },
    };
    const limit = num(`${c('memory')}/memory.limit_in_bytes`);
    s.memory_stats = {
      usage: num(`${c('memory')}/memory.usage_in_bytes`),
      max_usage: num(`${c('memory')}/memory.max_usage_in_bytes`),
      stats: kv(read(`${c('memory')}/memory.stat`)),
      failcnt: num(`${c('memory')}/memory.failcnt`),
      limit: limit === 0 || limit > hostMem ? hostMem : limit,
    };
    s.pids_stats = { current: num(`${c('pids')}/pids.current`), limit: num(`${c('pids')}/pids.max`) };
    const io: Array<{ major: number; minor: number; op: string; value: number }> = [];
    for (const l of (read(`${c('blkio')}/blkio.throttle.io_service_bytes_recursive`) ?? '').split('\n')) {
      const [dev, op, v] = l.trim().split(/\s+/);
      if (!dev || !op || v === undefined || !dev.includes(':')) continue;
      const [major, minor] = dev.split(':').map(Number);
      io.push({ major: major ?? 0, minor: minor ?? 0, op: op.toLowerCase(), value: Number(v) });
    }
    s.blkio_stats['io_service_bytes_recursive'] = io;
  }
  const n = networks(pid);
  if (n) s.networks = n;
  return s;
}

type Listener = (cur: Sample, prev: Sample | undefined) => void;

/** One timer per container; started by the first subscriber, stopped by the last. */
export class StatsHub {
  private samplers = new Map<string, { timer: NodeJS.Timeout; listeners: Set<Listener>; prev?: Sample }>();

  subscribe(id: string, cgroupPath: string, pid: () => number, l: Listener): () => void {
    let s = this.samplers.get(id);
    if (!s) {
      const entry: { timer: NodeJS.Timeout; listeners: Set<Listener>; prev?: Sample } = { listeners: new Set(), timer: setInterval(() => {
        const cur = sample(cgroupPath, pid());
        for (const x of entry.listeners) x(cur, entry.prev);
        entry.prev = cur;
      }, 1000) };
      entry.prev = sample(cgroupPath, pid());
      s = entry;
      this.samplers.set(id, s);
    }
    s.listeners.add(l);
    const first = s.prev;
    if (first) setImmediate(() => l(first, undefined));
    return () => {
      const e = this.samplers.get(id);
      if (!e) return;
      e.listeners.delete(l);
      if (!e.listeners.size) {
        clearInterval(e.timer);
        this.samplers.delete(id);
      }
    };
  }
}

export function render(id: string, name: string, cur: Sample | undefined, prev: Sample | undefined): Record<string, unknown> {
  const zero = '0001-01-01T00:00:00Z';
  const c = cur ?? { read: zero, pids_stats: { current: 0 }, blkio_stats: {}, num_procs: 0, storage_stats: {}, cpu_stats: emptyCpu(), memory_stats: {} };
  return {
    ...c,
    preread: prev?.read ?? zero,
    precpu_stats: prev?.cpu_stats ?? emptyCpu(),
    name,
    id,
  };
}
