// HostConfig resource fields → OCI linux.resources and rlimits, with Docker's
// defaults and its warnings for what this kernel cannot do.
import * as fs from 'node:fs';
import { invalid } from '../common/errors';
import type { HostConfig } from './types';

export interface Ulimit { Name: string; Soft: number; Hard: number }

const cgroupV2 = (): boolean => fs.existsSync('/sys/fs/cgroup/cgroup.controllers');

function exists(p: string): boolean {
  try { fs.accessSync(p); return true; } catch { return false; }
}

export interface KernelSupport { blkioWeight: boolean; blkioThrottle: boolean; swap: boolean; oomKillDisable: boolean; cpuset: boolean; pids: boolean }

let support: KernelSupport | undefined;
export function kernelSupport(): KernelSupport {
  if (support) return support;
  if (cgroupV2()) {
    const ctrls = (() => { try { return fs.readFileSync('/sys/fs/cgroup/cgroup.controllers', 'utf8'); } catch { return ''; } })();
    support = { blkioWeight: ctrls.includes('io'), blkioThrottle: ctrls.includes('io'), swap: exists('/sys/fs/cgroup/memory.swap.max') || ctrls.includes('memory'), oomKillDisable: false, cpuset: ctrls.includes('cpuset'), pids: ctrls.includes('pids') };
  } else {
    support = {
      blkioWeight: exists('/sys/fs/cgroup/blkio/blkio.weight') || exists('/sys/fs/cgroup/blkio/blkio.bfq.weight'),
      blkioThrottle: exists('/sys/fs/cgroup/blkio/blkio.throttle.read_bps_device'),
      swap: exists('/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes'),
      oomKillDisable: exists('/sys/fs/cgroup/memory/memory.oom_control'),
      cpuset: exists('/sys/fs/cgroup/cpuset'),
      pids: exists('/sys/fs/cgroup/pids'),
    };
  }
  return support;
}

const rlimitNames: Record<string, string> = {
  core: 'RLIMIT_CORE', cpu: 'RLIMIT_CPU', data: 'RLIMIT_DATA', fsize: 'RLIMIT_FSIZE', locks: 'RLIMIT_LOCKS', memlock: 'RLIMIT_MEMLOCK',
  msgqueue: 'RLIMIT_MSGQUEUE', nice: 'RLIMIT_NICE', nofile: 'RLIMIT_NOFILE', nproc: 'RLIMIT_NPROC', rss: 'RLIMIT_RSS', rtprio: 'RLIMIT_RTPRIO',
  rttime: 'RLIMIT_RTTIME', sigpending: 'RLIMIT_SIGPENDING', stack: 'RLIMIT_STACK', as: 'RLIMIT_AS',
};
const procLimitRows: Record<string, string> = {
  RLIMIT_CPU: 'Max cpu time', RLIMIT_FSIZE: 'Max file size', RLIMIT_DATA: 'Max data size', RLIMIT_STACK: 'Max stack size', RLIMIT_CORE: 'Max core file size',
  RLIMIT_RSS: 'Max resident set', RLIMIT_NPROC: 'Max processes', RLIMIT_NOFILE: 'Max open files', RLIMIT_MEMLOCK: 'Max locked memory',
  RLIMIT_AS: 'Max address space', RLIMIT_LOCKS: 'Max file locks', RLIMIT_SIGPENDING: 'Max pending signals', RLIMIT_MSGQUEUE: 'Max msgqueue size',
  RLIMIT_NICE: 'Max nice priority', RLIMIT_RTPRIO: 'Max realtime priority', RLIMIT_RTTIME: 'Max realtime timeout',
};

/** The hard limit berthd itself runs under (containers cannot be given more without CAP_SYS_RESOURCE). */
export function hostHardLimit(type: string): number {
  const row = procLimitRows[type];
  if (!row) return Number.MAX_SAFE_INTEGER;
  try {
    const line = fs.readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith(row));
    const hard = line?.slice(row.length).trim().split(/\s+/)[1];
    return !hard || hard === 'unlimited' ? Number.MAX_SAFE_INTEGER : Number(hard);
  } catch {
    return Number.MAX_SAFE_INTEGER;
  }
}

export function rlimits(ulimits: Ulimit[] | null | undefined): Array<{ type: string; hard: number; soft: number }> {
  const out: Array<{ type: string; hard: number; soft: number }> = [];
  for (const u of ulimits ?? []) {
    const type = rlimitNames[u.Name];
    if (!type) throw invalid(`invalid ulimit type: ${u.Name}`);
    if (u.Soft > u.Hard && u.Hard !== -1) throw invalid(`ulimit soft limit must be less than or equal to hard limit: ${u.Soft} > ${u.Hard}`);
    const max = hostHardLimit(type);
    const hard = u.Hard < 0 ? max : u.Hard, soft = u.Soft < 0 ? max : u.Soft;
    if (hard > max && max !== Number.MAX_SAFE_INTEGER) {
      throw invalid(`ulimit ${u.Name}=${u.Soft}:${u.Hard} exceeds the daemon's hard limit ${max}: raising it needs CAP_SYS_RESOURCE, which this host does not grant`);
    }
    out.push({ type, hard, soft });
  }
  return out;
}

function parseCpuset(s: string, field: string): void {
  if (!/^(\d+(-\d+)?)(,\d+(-\d+)?)*$/.test(s)) throw invalid(`Invalid value ${s} for ${field}`);
}

/** Validates resource settings like Docker's verifyPlatformContainerResources; returns warnings. */
export function validateResources(hc: Partial<HostConfig>): string[] {
  const w: string[] = [];
  const k = kernelSupport();
  const mem = Number(hc['Memory'] ?? 0), swap = Number(hc['MemorySwap'] ?? 0), res = Number(hc['MemoryReservation'] ?? 0);
  if (mem > 0 && mem < 6 * 1024 * 1024) throw invalid('Minimum memory limit allowed is 6MB');
  if (mem > 0 && swap > 0 && swap < mem) throw invalid('Minimum memoryswap limit should be larger than memory limit, see usage');
  if (mem === 0 && swap > 0) throw invalid('You should always set the Memory limit when using Memoryswap limit, see usage');
  if (mem > 0 && res > 0 && res > mem) throw invalid('Minimum memory limit can not be less than memory reservation limit, see usage');
  if (swap !== 0 && !k.swap) w.push('Your kernel does not support swap limit capabilities or the cgroup is not mounted. Memory limited without swap.');
  if (hc['OomKillDisable'] === true && !k.oomKillDisable) w.push('Your kernel does not support OomKillDisable. OomKillDisable discarded.');
  if (hc['OomKillDisable'] === true && mem === 0) w.push('OOM killer is disabled for the container, but no memory limit is set, this can result in the system running out of resources.');
  const nano = Number(hc['NanoCpus'] ?? 0);
  if (nano < 0) throw invalid('Range of CPUs is from 0.01 to the number of CPUs available');
  if (nano > 0 && (Number(hc['CpuQuota'] ?? 0) > 0 || Number(hc['CpuPeriod'] ?? 0) > 0)) throw invalid('Conflicting options: Nano CPUs and CPU Period cannot both be set');
  const ncpu = require('node:os').cpus().length as number;
  if (nano > ncpu * 1e9) throw invalid(`Range of CPUs is from 0.01 to ${ncpu}.00, as there are only ${ncpu} CPUs available`);
  const period = Number(hc['CpuPeriod'] ?? 0), quota = Number(hc['CpuQuota'] ?? 0);
  if (period !== 0 && (period < 1000 || period > 1000000)) throw invalid('CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)');
  if (quota > 0 && quota < 1000) throw invalid('CPU cfs quota can not be less than 1ms (i.e. 1000)');
  if (typeof hc['CpusetCpus'] === 'string' && hc['CpusetCpus']) parseCpuset(hc['CpusetCpus'], 'cpuset.cpus');
  if (typeof hc['CpusetMems'] === 'string' && hc['CpusetMems']) parseCpuset(hc['CpusetMems'], 'cpuset.mems');
  const bw = Number(hc['BlkioWeight'] ?? 0);
  if (bw > 0 && (bw < 10 || bw > 1000)) throw invalid('Range of blkio weight is from 10 to 1000');
  if (bw > 0 && !k.blkioWeight) w.push('Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded.');
  if (Array.isArray(hc['BlkioWeightDevice']) && (hc['BlkioWeightDevice'] as unknown[]).length && !k.blkioWeight) w.push('Your kernel does not support Block I/O weight_device or the cgroup is not mounted. Weight-device discarded.');
  const pids = Number(hc['PidsLimit'] ?? 0);
  if (pids > 0 && !k.pids) w.push('Your kernel does not support pids limit capabilities or the cgroup is not mounted. PIDs limit discarded.');
  rlimits(hc['Ulimits'] as Ulimit[] | null | undefined);
  return w;
}

interface ThrottleDevice { Path: string; Rate: number }
function deviceNumbers(p: string): { major: number; minor: number } {
  let st: fs.Stats;
  try { st = fs.statSync(p); } catch { throw invalid(`no such device: ${p}`); }
  if (!st.isBlockDevice()) throw invalid(`${p} is not a block device`);
  const rdev = st.rdev;
  return { major: Math.floor(rdev / 256) & 0xfff, minor: (rdev & 0xff) | ((rdev >> 12) & 0xfff00) };
}

/** OCI linux.resources (besides devices) from HostConfig. */
export function ociResources(hc: Partial<HostConfig>): Record<string, unknown> {
  const k = kernelSupport();
  const r: Record<string, unknown> = {};
  const mem = Number(hc['Memory'] ?? 0), swap = Number(hc['MemorySwap'] ?? 0), res = Number(hc['MemoryReservation'] ?? 0);
  const memory: Record<string, unknown> = {};
  if (mem > 0) memory['limit'] = mem;
  if (res > 0) memory['reservation'] = res;
  if (k.swap) {
    if (mem > 0 && swap === 0) memory['swap'] = mem * 2; // Docker's default: as much swap as memory
    else if (swap !== 0) memory['swap'] = swap;
  }
  if (hc['OomKillDisable'] === true && k.oomKillDisable) memory['disableOOMKiller'] = true;
  if (typeof hc['MemorySwappiness'] === 'number' && hc['MemorySwappiness'] >= 0) memory['swappiness'] = hc['MemorySwappiness'];
  if (Object.keys(memory).length) r['memory'] = memory;
  const cpu: Record<string, unknown> = {};
  const nano = Number(hc['NanoCpus'] ?? 0);
  if (nano > 0) { cpu['period'] = 100000; cpu['quota'] = Math.round(nano / 1e9 * 100000); }
  if (Number(hc['CpuPeriod'] ?? 0) > 0) cpu['period'] = Number(hc['CpuPeriod']);
  if (Number(hc['CpuQuota'] ?? 0) !== 0) cpu['quota'] = Number(hc['CpuQuota']);
  if (Number(hc['CpuShares'] ?? 0) > 0) cpu['shares'] = Number(hc['CpuShares']);
  if (typeof hc['CpusetCpus'] === 'string' && hc['CpusetCpus']) cpu['cpus'] = hc['CpusetCpus'];
  if (typeof hc['CpusetMems'] === 'string' && hc['CpusetMems']) cpu['mems'] = hc['CpusetMems'];
  if (Number(hc['CpuRealtimePeriod'] ?? 0) > 0) cpu['realtimePeriod'] = Number(hc['CpuRealtimePeriod']);
  if (Number(hc['CpuRealtimeRuntime'] ?? 0) > 0) cpu['realtimeRuntime'] = Number(hc['CpuRealtimeRuntime']);
  if (Object.keys(cpu).length) r['cpu'] = cpu;
  const pids = Number(hc['PidsLimit'] ?? 0);
  if (pids > 0 && k.pids) r['pids'] = { limit: pids };
  else if (pids < 0 && k.pids) r['pids'] = { limit: -1 };
  const blk: Record<string, unknown> = {};
  if (Number(hc['BlkioWeight'] ?? 0) > 0 && k.blkioWeight) blk['weight'] = Number(hc['BlkioWeight']);
  if (k.blkioThrottle) {
    const map = (key: string): Array<Record<string, number>> | undefined => {
      const list = hc[key] as ThrottleDevice[] | null | undefined;
      if (!Array.isArray(list) || !list.length) return undefined;
      return list.map((d) => ({ ...deviceNumbers(d.Path), rate: d.Rate }));
    };
    const rb = map('BlkioDeviceReadBps'), wb = map('BlkioDeviceWriteBps'), ri = map('BlkioDeviceReadIOps'), wi = map('BlkioDeviceWriteIOps');
    if (rb) blk['throttleReadBpsDevice'] = rb;
    if (wb) blk['throttleWriteBpsDevice'] = wb;
    if (ri) blk['throttleReadIOPSDevice'] = ri;
    if (wi) blk['throttleWriteIOPSDevice'] = wi;
  }
  if (Object.keys(blk).length) r['blockIO'] = blk;
  return r;
}

/** Fields `docker update` may change. */
export const updatableFields = [
  'BlkioWeight', 'CpuPeriod', 'CpuQuota', 'CpuRealtimePeriod', 'CpuRealtimeRuntime', 'CpusetCpus', 'CpusetMems', 'CpuShares', 'NanoCpus',
  'Memory', 'MemoryReservation', 'MemorySwap', 'KernelMemory', 'PidsLimit', 'RestartPolicy',
];
